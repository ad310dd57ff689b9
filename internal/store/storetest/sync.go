package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var syncCases = []testCase{
	{"SyncBookkeeping", testSyncBookkeeping},
	{"ForgetNodeSightings", testForgetNodeSightings},
	{"ForgetRelationshipSightings", testForgetRelationshipSightings},
	{"ScopedSync", testScopedSync},
	{"ScopedSyncNeverRemovesForAnIncompleteRun", testScopedSyncIncomplete},
}

// testSyncBookkeeping: runs are stored and read back whole; a scope's
// members keep the latest run that marked them, are listed in order from
// a point, and are forgotten only while no later run marked them.
func testSyncBookkeeping(t *testing.T, st store.Store) {
	ctx := t.Context()
	_, err := st.LoadRun(ctx, 42)
	require.ErrorIs(t, err, store.ErrNotFound)
	at := time.Date(2026, 12, 3, 10, 0, 0, 123456789, time.UTC)
	r := store.SyncRun{Number: 42, Source: "host", Actor: "agent:web", State: store.RunOpen, StartedAt: at}
	require.NoError(t, st.SaveRun(ctx, r))
	got, err := st.LoadRun(ctx, 42)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	r.State, r.EndedAt, r.Outcome = store.RunCompleted, at.Add(time.Minute), []byte(`[{"name":"host:a"}]`)
	require.NoError(t, st.SaveRun(ctx, r))
	got, err = st.LoadRun(ctx, 42)
	require.NoError(t, err)
	assert.Equal(t, r.State, got.State)
	assert.True(t, r.EndedAt.Equal(got.EndedAt))
	assert.JSONEq(t, string(r.Outcome), string(got.Outcome))

	a := store.ScopeRef{Source: "host", Name: "host:a"}
	b := store.ScopeRef{Source: "host", Name: "host:b"}
	other := store.ScopeRef{Source: "ansible", Name: "host:a"} // same name, another source
	require.NoError(t, st.MarkScope(ctx, a, 5, []string{"m3", "m1", "m2"}))
	require.NoError(t, st.MarkScope(ctx, a, 7, []string{"m2"}))
	require.NoError(t, st.MarkScope(ctx, a, 6, []string{"m2", "m4"})) // older than m2's 7: kept at 7
	require.NoError(t, st.MarkScope(ctx, b, 9, []string{"m1"}))
	require.NoError(t, st.MarkScope(ctx, other, 9, []string{"x"}))
	ms, err := st.ScopeMembers(ctx, a, "", 10)
	require.NoError(t, err)
	assert.Equal(t, []store.ScopeMember{{Member: "m1", Run: 5}, {Member: "m2", Run: 7}, {Member: "m3", Run: 5}, {Member: "m4", Run: 6}}, ms)
	ms, err = st.ScopeMembers(ctx, a, "m2", 1)
	require.NoError(t, err)
	assert.Equal(t, []store.ScopeMember{{Member: "m3", Run: 5}}, ms)

	require.NoError(t, st.ForgetScope(ctx, a, []string{"m1", "m2", "m4", "absent"}, 7)) // m2 was marked by run 7: stays
	ms, err = st.ScopeMembers(ctx, a, "", 10)
	require.NoError(t, err)
	assert.Equal(t, []store.ScopeMember{{Member: "m2", Run: 7}, {Member: "m3", Run: 5}}, ms)
	ms, err = st.ScopeMembers(ctx, b, "", 10)
	require.NoError(t, err)
	assert.Equal(t, []store.ScopeMember{{Member: "m1", Run: 9}}, ms, "another scope is untouched")
	ms, err = st.ScopeMembers(ctx, other, "", 10)
	require.NoError(t, err)
	assert.Equal(t, []store.ScopeMember{{Member: "x", Run: 9}}, ms, "another source's scope of the same name is untouched")

	for _, bad := range []struct {
		name  string
		err   error
		field string
	}{
		{"no scope name", st.MarkScope(ctx, store.ScopeRef{Source: "host"}, 1, []string{"m"}), "scope"},
		{"no source", st.MarkScope(ctx, store.ScopeRef{Name: "s"}, 1, []string{"m"}), "source"},
		{"too many", st.ForgetScope(ctx, a, make([]string, store.MaxBatch+1), 1), "members"},
		{"limit 0", func() error { _, err := st.ScopeMembers(ctx, a, "", 0); return err }(), "limit"},
	} {
		var ie *store.InvalidError
		require.ErrorAs(t, bad.err, &ie, bad.name)
		assert.Equal(t, bad.field, ie.Field, bad.name)
	}
}

// testForgetNodeSightings: a write with Forget drops the source's
// sighting when it is older than Before, and nothing else: not the
// attributes, not the version, not another source's sighting, and no
// audit record; a sighting not older than Before stays, unwritten.
func testForgetNodeSightings(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	created := upsertOK(t, svc, agent, app("forget-me", "version", "1"))[0].Node
	upsertOK(t, svc, store.Actor{Name: "h", Source: "host"}, app("forget-me"))
	keep := func(cur *store.Node, in store.NodeUpsert, _ string) (store.Decision, error) {
		return store.Decision{Class: cur.Class, Attributes: cur.Attributes, Sources: cur.Sources, Keys: cur.Keys}, nil
	}
	forget := func(before time.Time) store.UpsertResult {
		t.Helper()
		res, err := st.UpsertNodes(ctx, agent, store.UpsertBatch{Items: []store.NodeUpsert{{ID: created.ID}}, Reconcile: keep,
			Forget: &store.Forget{Source: "ansible", Before: before}})
		require.NoError(t, err)
		require.NoError(t, res[0].Err)
		return res[0]
	}
	res := forget(created.CreatedAt) // not older than before: stays
	assert.Contains(t, res.Node.SeenBy, "ansible")
	got, err := st.Nodes(ctx, store.KindCI, []store.ID{created.ID})
	require.NoError(t, err)
	assert.Contains(t, got[created.ID].SeenBy, "ansible")

	res = forget(time.Now().Add(time.Second))
	assert.Equal(t, store.StatusUnchanged, res.Status)
	got, err = st.Nodes(ctx, store.KindCI, []store.ID{created.ID})
	require.NoError(t, err)
	n := got[created.ID]
	assert.NotContains(t, n.SeenBy, "ansible")
	assert.Contains(t, n.SeenBy, "host", "another source's sighting stays")
	assert.True(t, n.LastSeenAt.Equal(n.SeenBy["host"]), "last seen is the remaining sighting")
	assert.Equal(t, "1", n.Attributes["version"])
	assert.Equal(t, "ansible", n.Sources["version"], "provenance stays")
	assert.Equal(t, created.Version, n.Version, "losing a sighting is not a change")
	assert.Len(t, history(t, st, string(created.ID)), 1, "no audit record for a sighting")

	_, err = st.UpsertNodes(ctx, agent, store.UpsertBatch{Items: []store.NodeUpsert{{Keys: []string{"k"}}}, Reconcile: keep,
		Forget: &store.Forget{Source: "ansible", Before: time.Now()}})
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie, "a forgetting write names nodes by ID")
	assert.Equal(t, "items[0]", ie.Field)
}

// testForgetRelationshipSightings: ForgetRelationships drops one
// source's sighting; a relationship another source (a person, "api")
// still reports stays, its version unchanged; one no source reports any
// more is removed with an audit record naming its ends and attributes.
func testForgetRelationshipSightings(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "fr", 3)
	only, err := st.CreateRelationships(ctx, agent, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"description": "tcp 5432"}}}, true)
	require.NoError(t, err)
	shared, err := st.CreateRelationships(ctx, agent, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[2]}}, true)
	require.NoError(t, err)
	_, err = st.CreateRelationships(ctx, api, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[2]}}, true)
	require.NoError(t, err)
	onlyID, sharedID := only[0].Relationship.ID, shared[0].Relationship.ID
	missing := store.RelationshipKey{Source: ids[1], Type: "DEPENDS_ON", Target: ids[2]}.ID()

	early := store.Forget{Source: "ansible", Before: only[0].Relationship.CreatedAt}
	res, err := st.ForgetRelationships(ctx, agent, []store.ID{onlyID}, early)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUnchanged, res[0].Status, "a sighting not older than Before stays")

	f := store.Forget{Source: "ansible", Before: time.Now().Add(time.Second)}
	res, err = st.ForgetRelationships(ctx, agent, []store.ID{onlyID, sharedID, missing, "not-an-id", onlyID}, f)
	require.NoError(t, err)
	require.Len(t, res, 5)
	assert.Equal(t, store.StatusDeleted, res[0].Status)
	assert.Equal(t, store.StatusUpdated, res[1].Status)
	assert.Equal(t, store.StatusNotFound, res[2].Status)
	assert.ErrorIs(t, res[2].Err, store.ErrNotFound)
	assert.Equal(t, store.StatusInvalid, res[3].Status)
	assert.Equal(t, store.StatusNotFound, res[4].Status, "removed by the same call")

	got, err := st.Relationships(ctx, []store.ID{onlyID, sharedID})
	require.NoError(t, err)
	assert.NotContains(t, got, onlyID)
	kept := got[sharedID]
	assert.Equal(t, []string{"api"}, slices.Sorted(maps.Keys(kept.SeenBy)))
	assert.Equal(t, int64(1), kept.Version)
	h := history(t, st, string(onlyID))
	require.Len(t, h, 2, "created, then removed")
	assert.Equal(t, store.ActionDelete, h[0].Action)
	assert.Equal(t, agent, h[0].Actor)
	assert.Contains(t, h[0].Changes, store.FieldChange{Field: "description", Before: "tcp 5432"})
	assert.Contains(t, h[0].Changes, store.FieldChange{Field: "source", Before: string(ids[0])})
	assert.Len(t, history(t, st, string(sharedID)), 1, "no audit record for a lost sighting")
	hops, err := st.Edges(ctx, []store.ID{ids[0]}, store.Out, nil)
	require.NoError(t, err)
	assert.Len(t, hops.Steps(0, ids[0]), 1, "traversals no longer see the removed relationship")
}

// syncHost is a graph batch of one server with the named interfaces, each
// CONTAINED by it.
func syncHost(host string, ifaces ...string) cmdb.GraphBatch {
	b := cmdb.GraphBatch{Items: []cmdb.GraphItem{{Ref: "server", UpsertItem: cmdb.UpsertItem{Class: "LinuxServer",
		Attributes: map[string]any{"name": host, "serial_number": "SN-" + host}}}}}
	for _, nic := range ifaces {
		b.Items = append(b.Items, cmdb.GraphItem{Ref: nic, UpsertItem: cmdb.UpsertItem{Class: "Application",
			Attributes: map[string]any{"name": host + "-" + nic}}})
		b.Relationships = append(b.Relationships, cmdb.GraphRelationship{Type: "DEPENDS_ON",
			From: cmdb.EdgeEndpoint{Ref: nic}, To: cmdb.EdgeEndpoint{Ref: "server"}})
	}
	return b
}

// ciNamed returns the CI with the given name.
func ciNamed(t *testing.T, st store.Store, name string) store.Node {
	t.Helper()
	page, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Name: name}, store.PageRequest{First: 2})
	require.NoError(t, err)
	require.Len(t, page.Items, 1, name)
	return page.Items[0]
}

// testScopedSync: a run completes its scopes: what the source reported in
// a scope before and not in this run loses its sighting (a CI no
// discovery source reports any more is marked stale; a relationship no
// source reports any more is retired), and nothing another source
// reported, nothing outside the scope, and nothing a later run reported
// is touched; completing again answers the same; a batch that is a run of
// its own is synchronised when written.
func testScopedSync(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	host := store.Actor{Name: "agent:h", Source: "host"}
	scope := func(run int64) cmdb.BatchScope { return cmdb.BatchScope{Name: "host:a", Run: run} }
	write := func(b cmdb.GraphBatch, sc cmdb.BatchScope) cmdb.ScopeOutcome {
		t.Helper()
		res, o, err := svc.UpsertScoped(ctx, host, b, sc)
		require.NoError(t, err)
		for i, it := range res.Items {
			require.NoError(t, it.Err, "item %d", i)
		}
		for i, e := range res.Edges {
			require.NoError(t, e.Err, "relationship %d", i)
		}
		return o
	}
	// Run 1: a with three applications; b in another scope.
	r1, err := svc.StartRun(ctx, host)
	require.NoError(t, err)
	write(syncHost("a", "eth0", "eth1", "eth2"), scope(r1.Run))
	write(syncHost("b", "eth0"), cmdb.BatchScope{Name: "host:b", Run: r1.Run})
	done, err := svc.CompleteRun(ctx, host, r1.Run, []string{"host:a", "host:b"})
	require.NoError(t, err)
	assert.Equal(t, store.RunCompleted, done.State)
	require.Len(t, done.Scopes, 2)
	assert.True(t, done.Scopes[0].Applied)
	assert.Zero(t, done.Scopes[0].ForgottenCIs, "a first run removes nothing")

	// Another source reports a-eth1 and its relationship; a person adds
	// nothing.
	upsertOK(t, svc, agent, app("a-eth1"))
	server := ciNamed(t, st, "a").ID
	eth1 := ciNamed(t, st, "a-eth1").ID
	_, err = st.CreateRelationships(ctx, agent, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: eth1, Target: server}}, true)
	require.NoError(t, err)

	// Run 2 reports a with eth0 only, in two batches of the scope.
	r2, err := svc.StartRun(ctx, host)
	require.NoError(t, err)
	require.Greater(t, r2.Run, r1.Run)
	o := write(syncHost("a", "eth0"), scope(r2.Run))
	assert.False(t, o.Applied, "applied when the run completes")
	write(syncHost("a"), scope(r2.Run))
	for _, n := range []string{"a-eth1", "a-eth2"} {
		assert.Contains(t, ciNamed(t, st, n).SeenBy, "host", "%s: nothing removed before the run completes", n)
	}
	done, err = svc.CompleteRun(ctx, host, r2.Run, []string{"host:a"})
	require.NoError(t, err)
	require.Len(t, done.Scopes, 1)
	s := done.Scopes[0]
	assert.True(t, s.Applied, "%+v", s)
	assert.Equal(t, 2, s.ForgottenCIs, "eth1 and eth2")
	assert.Equal(t, 1, s.StaleCIs, "eth2: no discovery source reports it any more")
	assert.Equal(t, 1, s.RetiredRelationships, "eth2 DEPENDS_ON a")
	assert.Equal(t, 1, s.ForgottenRelationships, "eth1 DEPENDS_ON a, which ansible reports")

	eth2 := ciNamed(t, st, "a-eth2")
	assert.NotContains(t, eth2.SeenBy, "host")
	assert.Contains(t, eth2.Attributes, cmdb.AttrStaleSince, "marked stale")
	assert.NotEqual(t, cmdb.Retired, eth2.Attributes["status"], "retiring is the staleness policy's")
	e1 := ciNamed(t, st, "a-eth1")
	assert.NotContains(t, e1.SeenBy, "host")
	assert.Contains(t, e1.SeenBy, "ansible", "another source's sighting stays")
	assert.NotContains(t, e1.Attributes, cmdb.AttrStaleSince)
	for _, n := range []string{"a", "a-eth0", "b", "b-eth0"} {
		assert.Contains(t, ciNamed(t, st, n).SeenBy, "host", n)
	}
	rels, err := st.RelationshipsOf(ctx, []store.ID{server}, store.In, []string{"DEPENDS_ON"})
	require.NoError(t, err)
	var from []string
	for _, r := range rels[server] {
		from = append(from, string(r.Source))
	}
	assert.ElementsMatch(t, []string{string(ciNamed(t, st, "a-eth0").ID), string(eth1)}, from, "eth2's relationship retired, eth1's kept")
	h := history(t, st, string(store.RelationshipKey{Source: eth2.ID, Type: "DEPENDS_ON", Target: server}.ID()))
	require.NotEmpty(t, h)
	assert.Equal(t, store.ActionDelete, h[0].Action, "the retirement is audited")
	assert.Equal(t, host.Name, h[0].Actor.Name)

	again, err := svc.CompleteRun(ctx, host, r2.Run, []string{"host:a"})
	require.NoError(t, err)
	assert.Equal(t, done.Scopes, again.Scopes, "completing again answers what it did")
	_, _, err = svc.UpsertScoped(ctx, host, syncHost("a"), scope(r2.Run))
	require.ErrorIs(t, err, store.ErrConflict, "a completed run takes no batch")

	// A scoped batch without a run is a run of its own.
	o = write(syncHost("b"), cmdb.BatchScope{Name: "host:b"})
	assert.True(t, o.Applied, "%+v", o)
	assert.Equal(t, 1, o.ForgottenCIs)
	assert.Equal(t, 1, o.RetiredRelationships)
	assert.NotContains(t, ciNamed(t, st, "b-eth0").SeenBy, "host")

	// The staleness policy retires a CI no discovery source reports, after
	// its class's period counted from its last sighting.
	policy := cmdb.StalePolicy{After: time.Hour, Retire: true}
	_, err = svc.SweepStale(ctx, cmdb.StaleActor, policy, time.Now().Add(30*time.Minute))
	require.NoError(t, err)
	assert.NotEqual(t, cmdb.Retired, ciNamed(t, st, "a-eth2").Attributes["status"], "within its period")
	_, err = svc.SweepStale(ctx, cmdb.StaleActor, policy, time.Now().Add(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, cmdb.Retired, ciNamed(t, st, "a-eth2").Attributes["status"], "past its period")

	// Errors name the field as the client wrote it.
	for _, c := range []struct {
		err   error
		field string
		is    error
	}{
		{func() error {
			_, _, err := svc.UpsertScoped(ctx, host, syncHost("a"), cmdb.BatchScope{Name: ""})
			return err
		}(), "scope.name", nil},
		{func() error { _, _, err := svc.UpsertScoped(ctx, host, syncHost("a"), scope(9999)); return err }(), "run", store.ErrNotFound},
		{func() error {
			_, _, err := svc.UpsertScoped(ctx, store.Actor{Name: "n", Source: "nmap"}, syncHost("a"), scope(r2.Run))
			return err
		}(), "run", nil},
		{func() error { _, err := svc.StartRun(ctx, api); return err }(), "source", nil},
		{func() error { _, err := svc.CompleteRun(ctx, host, r2.Run, []string{"x", "x"}); return err }(), "scopes[1]", nil},
	} {
		require.Error(t, c.err)
		if c.is != nil {
			assert.ErrorIs(t, c.err, c.is)
		}
		field, _ := store.FieldOf(c.err)
		assert.Equal(t, c.field, field, c.err.Error())
	}
}

// testScopedSyncIncomplete: a run that is never completed, or is
// abandoned, removes nothing; nor does a completed run from a scope of
// which part could not be written.
func testScopedSyncIncomplete(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	host := store.Actor{Name: "agent:h", Source: "host"}
	r1, err := svc.StartRun(ctx, host)
	require.NoError(t, err)
	_, _, err = svc.UpsertScoped(ctx, host, syncHost("c", "eth0", "eth1"), cmdb.BatchScope{Name: "host:c", Run: r1.Run})
	require.NoError(t, err)
	_, err = svc.CompleteRun(ctx, host, r1.Run, []string{"host:c"})
	require.NoError(t, err)

	r2, err := svc.StartRun(ctx, host) // stops halfway: never completed
	require.NoError(t, err)
	_, _, err = svc.UpsertScoped(ctx, host, syncHost("c"), cmdb.BatchScope{Name: "host:c", Run: r2.Run})
	require.NoError(t, err)
	r3, err := svc.StartRun(ctx, host) // abandoned
	require.NoError(t, err)
	_, _, err = svc.UpsertScoped(ctx, host, syncHost("c"), cmdb.BatchScope{Name: "host:c", Run: r3.Run})
	require.NoError(t, err)
	ab, err := svc.AbandonRun(ctx, host, r3.Run)
	require.NoError(t, err)
	assert.Equal(t, store.RunAbandoned, ab.State)
	_, err = svc.CompleteRun(ctx, host, r3.Run, []string{"host:c"})
	require.ErrorIs(t, err, store.ErrConflict, "an abandoned run cannot complete")

	r4, err := svc.StartRun(ctx, host) // completed, but part of the scope failed
	require.NoError(t, err)
	bad := syncHost("c")
	bad.Items = append(bad.Items, cmdb.GraphItem{UpsertItem: cmdb.UpsertItem{Class: "NoSuchClass", Attributes: map[string]any{"name": "x"}}})
	res, _, err := svc.UpsertScoped(ctx, host, bad, cmdb.BatchScope{Name: "host:c", Run: r4.Run})
	require.NoError(t, err)
	require.Equal(t, store.StatusInvalid, res.Items[1].Status)
	done, err := svc.CompleteRun(ctx, host, r4.Run, []string{"host:c"})
	require.NoError(t, err)
	assert.False(t, done.Scopes[0].Applied)
	assert.Contains(t, done.Scopes[0].Reason, "could not be written")

	for _, n := range []string{"c-eth0", "c-eth1"} {
		ci := ciNamed(t, st, n)
		assert.Contains(t, ci.SeenBy, "host", "%s keeps its sighting", n)
		assert.NotContains(t, ci.Attributes, cmdb.AttrStaleSince)
	}
	rels, err := st.RelationshipsOf(ctx, []store.ID{ciNamed(t, st, "c").ID}, store.In, []string{"DEPENDS_ON"})
	require.NoError(t, err)
	assert.Len(t, rels[ciNamed(t, st, "c").ID], 2, "no relationship retired")

	// The next complete run removes them.
	r5, err := svc.StartRun(ctx, host)
	require.NoError(t, err)
	_, _, err = svc.UpsertScoped(ctx, host, syncHost("c"), cmdb.BatchScope{Name: "host:c", Run: r5.Run})
	require.NoError(t, err)
	done, err = svc.CompleteRun(ctx, host, r5.Run, []string{"host:c"})
	require.NoError(t, err)
	assert.True(t, done.Scopes[0].Applied, fmt.Sprintf("%+v", done.Scopes[0]))
	assert.Equal(t, 2, done.Scopes[0].RetiredRelationships)
	assert.Equal(t, 2, done.Scopes[0].StaleCIs)

	// A completion cut short (the process stopped while closing the run)
	// is finished by completing again, by the run's source only.
	r6, err := svc.StartRun(ctx, host)
	require.NoError(t, err)
	_, _, err = svc.UpsertScoped(ctx, host, syncHost("c"), cmdb.BatchScope{Name: "host:c", Run: r6.Run})
	require.NoError(t, err)
	stored, err := st.LoadRun(ctx, r6.Run)
	require.NoError(t, err)
	stored.State = store.RunClosing
	require.NoError(t, st.SaveRun(ctx, stored))
	_, _, err = svc.UpsertScoped(ctx, host, syncHost("c"), cmdb.BatchScope{Name: "host:c", Run: r6.Run})
	require.ErrorIs(t, err, store.ErrConflict, "a closing run takes no batch")
	_, err = svc.CompleteRun(ctx, store.Actor{Name: "n", Source: "nmap"}, r6.Run, []string{"host:c"})
	require.Error(t, err, "another source cannot finish it")
	done, err = svc.CompleteRun(ctx, host, r6.Run, []string{"host:c"})
	require.NoError(t, err)
	assert.Equal(t, store.RunCompleted, done.State)
	assert.True(t, done.Scopes[0].Applied)
}
