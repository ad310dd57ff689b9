package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var versionCases = []testCase{
	{"VersionCountsChanges", testVersionCountsChanges},
	{"ExpectedVersionConflict", testExpectedVersionConflict},
	{"ExpectedVersionAtomicBatchWritesNothing", testExpectedVersionAtomic},
	{"ExpectedVersionRaceOneWins", testExpectedVersionRace},
}

// testVersionCountsChanges: a CI is created at version 1 as a node of kind
// ci; every write that changes it adds one; a sighting (an unchanged
// report) does not, nor does a report a source of lower precedence loses.
func testVersionCountsChanges(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	r := upsertOK(t, svc, agent, app("vers", "owner", "ops"))[0]
	require.Equal(t, store.StatusCreated, r.Status)
	assert.Equal(t, store.KindCI, r.Node.Kind)
	assert.Equal(t, int64(1), r.Node.Version)
	id := r.Node.ID

	steps := []struct {
		name   string
		write  func() store.UpsertResult
		status store.Status
		want   int64
	}{
		{"the same report again", func() store.UpsertResult { return upsertOK(t, svc, agent, app("vers", "owner", "ops"))[0] }, store.StatusUnchanged, 1},
		{"a changed report", func() store.UpsertResult { return upsertOK(t, svc, agent, app("vers", "owner", "dba"))[0] }, store.StatusUpdated, 2},
		{"a sighting by another source", func() store.UpsertResult { return upsertOK(t, svc, api, app("vers"))[0] }, store.StatusUnchanged, 2},
		{"an edit", func() store.UpsertResult {
			res, err := svc.UpdateCI(ctx, api, id, map[string]any{"owner": "web"})
			require.NoError(t, err)
			return res
		}, store.StatusUpdated, 3},
		{"an edit changing nothing", func() store.UpsertResult {
			res, err := svc.UpdateCI(ctx, api, id, map[string]any{"owner": "web"})
			require.NoError(t, err)
			return res
		}, store.StatusUnchanged, 3},
	}
	for _, s := range steps {
		res := s.write()
		assert.Equal(t, s.status, res.Status, s.name)
		assert.Equal(t, s.want, res.Node.Version, "%s: the result's version", s.name)
		got, err := st.Nodes(ctx, store.KindCI, []store.ID{id})
		require.NoError(t, err)
		assert.Equal(t, s.want, got[id].Version, "%s: the stored version", s.name)
		assert.Equal(t, store.KindCI, got[id].Kind, s.name)
	}
	// Two items of one batch changing the CI are two writes.
	res, err := svc.Upsert(ctx, api, []cmdb.UpsertItem{app("vers", "owner", "a"), app("vers", "owner", "b")}, true)
	require.NoError(t, err)
	assert.Equal(t, []int64{4, 5}, []int64{res[0].Node.Version, res[1].Node.Version})
	p, err := st.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI, IDs: []store.ID{id}}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.Equal(t, int64(5), p.Items[0].Version, "lists read the version too")
}

// testExpectedVersionConflict: an update expecting another version than
// the stored one fails with a conflict naming the current version and
// changes nothing; expecting the stored one succeeds.
func testExpectedVersionConflict(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	id := upsertOK(t, svc, agent, app("cond", "owner", "ops"))[0].Node.ID
	_, err := svc.UpdateCI(ctx, api, id, map[string]any{"owner": "dba"}) // now version 2
	require.NoError(t, err)

	_, err = svc.UpdateCIAtVersion(ctx, api, id, map[string]any{"owner": "web"}, 1)
	require.ErrorIs(t, err, store.ErrConflict)
	var ve *store.VersionConflictError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, int64(2), ve.Current)
	assert.Equal(t, int64(1), ve.Expected)
	assert.Contains(t, err.Error(), fmt.Sprintf("CI %s is at version 2, not 1", id))
	got, err := st.Nodes(ctx, store.KindCI, []store.ID{id})
	require.NoError(t, err)
	assert.Equal(t, "dba", got[id].Attributes["owner"], "nothing written")
	assert.Equal(t, int64(2), got[id].Version)

	res, err := svc.UpdateCIAtVersion(ctx, api, id, map[string]any{"owner": "web"}, 2)
	require.NoError(t, err)
	assert.Equal(t, int64(3), res.Node.Version)
	assert.Equal(t, "web", res.Node.Attributes["owner"])

	// A report by keys expecting a version: a conflict when nothing is
	// stored yet, or when the CI it identifies is at another version.
	m := svc.Model()
	condKey := res.Node.Keys[0] // "<family>|<rule>|cond"
	for _, c := range []struct {
		name     string
		expected int64
		want     string
	}{
		{"new", 1, "no CI is stored yet, not version 1"},
		{"cond", 9, fmt.Sprintf("CI %s is at version 3, not 9", id)},
	} {
		u := store.CIUpsert{Class: "Application", Attributes: store.Attributes{"name": c.name}, Keys: []string{strings.Replace(condKey, "cond", c.name, 1)}, ExpectedVersion: c.expected}
		rs, err := st.UpsertNodes(ctx, agent, store.UpsertBatch{Items: []store.CIUpsert{u}, Reconcile: m.Reconcile})
		require.NoError(t, err)
		assert.Equal(t, store.StatusConflict, rs[0].Status, c.name)
		require.ErrorIs(t, rs[0].Err, store.ErrConflict, c.name)
		assert.Contains(t, rs[0].Err.Error(), c.want)
	}
	assert.Equal(t, 1, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}), "no CI created")
	// A negative version is invalid input.
	_, err = svc.UpdateCIAtVersion(ctx, api, id, map[string]any{"owner": "x"}, -1)
	requireInvalid(t, err, "expectedVersion")
}

// testExpectedVersionAtomic: in an atomic batch, one item expecting a
// stale version makes the whole batch write nothing; without Atomic only
// that item fails.
func testExpectedVersionAtomic(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	res := upsertOK(t, svc, agent, app("at-a", "owner", "ops"), app("at-b", "owner", "ops"))
	a, b := res[0].Node, res[1].Node
	m := svc.Model()
	items := []store.CIUpsert{
		{ID: a.ID, Class: a.Class, Attributes: store.Attributes{"owner": "new"}, ExpectedVersion: 1},
		{ID: b.ID, Class: b.Class, Attributes: store.Attributes{"owner": "new"}, ExpectedVersion: 7},
	}
	_, err := st.UpsertNodes(ctx, api, store.UpsertBatch{Items: items, Reconcile: m.Reconcile, Atomic: true})
	var ie *store.ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 1, ie.Index)
	require.ErrorIs(t, err, store.ErrConflict)
	assert.Contains(t, err.Error(), fmt.Sprintf("CI %s is at version 1, not 7", b.ID))
	got, err := st.Nodes(ctx, store.KindCI, []store.ID{a.ID, b.ID})
	require.NoError(t, err)
	for _, c := range got {
		assert.Equal(t, "ops", c.Attributes["owner"], "CI %s: nothing written", c.ID)
		assert.Equal(t, int64(1), c.Version)
	}
	h, err := st.History(ctx, string(a.ID), store.PageRequest{})
	require.NoError(t, err)
	assert.Equal(t, 1, h.Total, "no audit record but the creation")

	rs, err := st.UpsertNodes(ctx, api, store.UpsertBatch{Items: items, Reconcile: m.Reconcile})
	require.NoError(t, err)
	assert.Equal(t, store.StatusUpdated, rs[0].Status)
	assert.Equal(t, int64(2), rs[0].Node.Version)
	assert.Equal(t, store.StatusConflict, rs[1].Status)
}

// testExpectedVersionRace: of concurrent updates of one CI expecting the
// same version, exactly one succeeds; the others are conflicts naming the
// version it made, and the CI holds the winner's value.
func testExpectedVersionRace(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	id := upsertOK(t, svc, agent, app("race", "owner", "ops"))[0].Node.ID
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.UpdateCIAtVersion(ctx, api, id, map[string]any{"owner": fmt.Sprint("writer-", i)}, 1)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two updates expecting version 1 succeeded: %d and %d", winner, i)
			winner = i
			continue
		}
		var ve *store.VersionConflictError
		require.True(t, errors.As(err, &ve), "writer %d: %v", i, err)
		assert.Equal(t, int64(2), ve.Current, "writer %d", i)
	}
	require.NotEqual(t, -1, winner, "no update succeeded")
	got, err := st.Nodes(ctx, store.KindCI, []store.ID{id})
	require.NoError(t, err)
	assert.Equal(t, int64(2), got[id].Version)
	assert.Equal(t, fmt.Sprint("writer-", winner), got[id].Attributes["owner"])
}
