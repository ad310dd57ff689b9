package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var mergeCases = []testCase{
	{"IdentityConflictsAreRecorded", testConflictsRecorded},
	{"IdentityConflictsRecordedInBatches", testConflictsBatch},
	{"MergeCIsJoinsTwoPartialIdentities", testMergeCIs},
	{"MergeCIsRefusesBadInput", testMergeCIsRefuses},
}

// partialIdentities creates one server known by name and domain and one
// known by serial number, then reports it with both: a conflict.
func partialIdentities(t *testing.T, svc *cmdb.Service) (byName, bySerial store.ID, full cmdb.UpsertItem) {
	t.Helper()
	byName = upsertOK(t, svc, agent, server("LinuxServer", "name", "db01", "dns_domain", "example.com", "owner", "dba"))[0].Node.ID
	bySerial = upsertOK(t, svc, api, server("Server", "name", "db01-asset", "serial_number", "SN-42", "cpu_count", 16))[0].Node.ID
	full = server("LinuxServer", "name", "db01", "dns_domain", "example.com", "serial_number", "SN-42", "memory_mb", 65536)
	return byName, bySerial, full
}

func testConflictsRecorded(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	byName, bySerial, full := partialIdentities(t, svc)
	for round := 1; round <= 2; round++ {
		res, err := svc.Upsert(ctx, agent, []cmdb.UpsertItem{full}, false)
		require.NoError(t, err)
		assert.Equal(t, store.StatusConflict, res[0].Status)
		var ce *store.ConflictError
		require.True(t, errors.As(res[0].Err, &ce), "a *ConflictError: %v", res[0].Err)
		assert.ElementsMatch(t, []store.ID{byName, bySerial}, ce.CIs, "names both CIs")
		assert.ErrorIs(t, res[0].Err, store.ErrConflict)
		for i, id := range ce.CIs {
			want := map[store.ID][]string{byName: {"name+dns_domain"}, bySerial: {"serial_number"}}[id]
			assert.Equal(t, want, ce.Rules[i], "the rule that matched CI %s", id)
		}
		p, err := svc.IdentityConflicts(ctx, store.PageRequest{})
		require.NoError(t, err)
		require.Len(t, p.Items, 1, "one conflict, however often it is hit")
		assert.Equal(t, 1, p.Total)
		c := p.Items[0]
		assert.Equal(t, store.ConflictPair(byName, bySerial), c.CIs)
		assert.Equal(t, round, c.Count)
		assert.Equal(t, "LinuxServer", c.Class)
		assert.Equal(t, "ansible", c.Source)
		assert.False(t, c.LastSeen.Before(c.FirstSeen))
	}
	// An atomic batch that fails on the conflict records it too.
	_, err := svc.Upsert(ctx, agent, []cmdb.UpsertItem{full}, true)
	require.ErrorIs(t, err, store.ErrConflict)
	p, err := svc.IdentityConflicts(ctx, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.Equal(t, 3, p.Items[0].Count)
	// Purging one of the CIs closes it.
	_, err = svc.PurgeCIs(ctx, api, []store.ID{bySerial}, false)
	require.NoError(t, err)
	p, err = svc.IdentityConflicts(ctx, store.PageRequest{})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
	assert.Equal(t, 0, p.Total)
}

func testMergeCIs(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	byName, bySerial, full := partialIdentities(t, svc)
	apps := nodes(t, st, "merge-app", 2)
	// The duplicate's relationships: one the survivor lacks, one it has
	// already (with other attributes), and one between the two.
	link(t, st, []store.ID{apps[0], apps[1], byName, bySerial},
		edge{0, 3, "RUNS_ON"}, edge{1, 2, "RUNS_ON"}, edge{1, 3, "RUNS_ON"}, edge{2, 3, "BACKED_UP_BY"})
	res, err := svc.Upsert(ctx, agent, []cmdb.UpsertItem{full}, false)
	require.NoError(t, err)
	require.Equal(t, store.StatusConflict, res[0].Status)

	m, err := svc.MergeCIs(ctx, api, byName, bySerial)
	require.NoError(t, err)
	assert.Equal(t, 1, m.MovedRelationships)
	sv, dup := m.Survivor, m.Duplicate
	assert.Equal(t, byName, sv.ID)
	assert.Equal(t, "LinuxServer", sv.Class, "the more specific class")
	assert.Equal(t, "db01", sv.Attributes["name"], "the survivor's values win")
	assert.Equal(t, "dba", sv.Attributes["owner"])
	assert.Equal(t, "SN42", sv.Attributes["serial_number"], "the duplicate fills the gaps (in canonical form)")
	assert.Equal(t, int64(16), sv.Attributes["cpu_count"])
	assert.Contains(t, sv.Keys, "Server|serial_number|SN42", "the duplicate's keys moved")
	assert.Equal(t, "retired", dup.Attributes["status"])
	assert.Equal(t, "db01-asset", dup.Attributes["name"], "the duplicate keeps its data")
	assert.NotContains(t, dup.Keys, "Server|serial_number|SN42")

	// Relationships moved, the duplicate points at the survivor.
	of, err := st.RelationshipsOf(ctx, []store.ID{bySerial, byName}, store.Both, nil)
	require.NoError(t, err)
	require.Len(t, of[bySerial], 1)
	assert.Equal(t, store.RelationshipKey{Source: bySerial, Type: "DUPLICATE_OF", Target: byName}, of[bySerial][0].Key())
	var keys []store.RelationshipKey
	for _, r := range of[byName] {
		keys = append(keys, r.Key())
	}
	assert.ElementsMatch(t, []store.RelationshipKey{
		{Source: apps[0], Type: "RUNS_ON", Target: byName},
		{Source: apps[1], Type: "RUNS_ON", Target: byName},
		{Source: bySerial, Type: "DUPLICATE_OF", Target: byName},
	}, keys)

	// The conflict is closed, and the full report now identifies the survivor.
	p, err := svc.IdentityConflicts(ctx, store.PageRequest{})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
	res = upsertOK(t, svc, agent, full)
	assert.Equal(t, byName, res[0].Node.ID)
	assert.Equal(t, store.StatusUpdated, res[0].Status)
	assert.Equal(t, int64(65536), res[0].Node.Attributes["memory_mb"])
	res = upsertOK(t, svc, agent, server("Server", "name", "other-name", "serial_number", "sn 42"))
	assert.Equal(t, byName, res[0].Node.ID, "the serial alone identifies the survivor")

	// The merge is audited, and the survivor's history holds the duplicate's.
	h, err := svc.History(ctx, byName, store.PageRequest{First: store.MaxPageSize})
	require.NoError(t, err)
	var merged, dupCreate bool
	for _, r := range h.Items {
		if r.Object == string(byName) && r.Actor == api && containsChange(r.Changes, "merged_from", string(bySerial)) {
			merged = true
		}
		if r.Object == string(bySerial) && r.Action == store.ActionCreate {
			dupCreate = true
		}
	}
	assert.True(t, merged, "the survivor's update names the duplicate")
	assert.True(t, dupCreate, "the duplicate's creation is in the survivor's history")
	var marked bool
	for _, r := range history(t, st, string(bySerial)) {
		marked = marked || (r.Object == string(bySerial) && containsChange(r.Changes, "duplicate_of", string(byName)))
	}
	assert.True(t, marked, "the duplicate's own history says what it duplicates")
}

func containsChange(cs []store.FieldChange, field string, after any) bool {
	for _, c := range cs {
		if c.Field == field && c.After == after {
			return true
		}
	}
	return false
}

func testMergeCIsRefuses(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	byName, bySerial, _ := partialIdentities(t, svc)
	win := upsertOK(t, svc, api, server("WindowsServer", "name", "w01", "serial_number", "W-1"))[0].Node.ID
	missing := store.ID("00000000-0000-7000-8000-000000000009")

	_, err := svc.MergeCIs(ctx, api, byName, byName)
	requireInvalid(t, err, "duplicate")
	_, err = svc.MergeCIs(ctx, api, missing, bySerial)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = svc.MergeCIs(ctx, api, byName, missing)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = svc.MergeCIs(ctx, api, byName, win)
	requireInvalid(t, err, "duplicate")
	_, err = svc.MergeCIs(ctx, api, byName, bySerial)
	require.NoError(t, err)
	again, err := svc.MergeCIs(ctx, api, byName, bySerial)
	require.NoError(t, err, "merging again into the same survivor finishes the merge")
	assert.Equal(t, 0, again.MovedRelationships)
	_, err = svc.MergeCIs(ctx, api, win, bySerial)
	requireInvalid(t, err, "duplicate")
	_, err = svc.MergeCIs(ctx, api, bySerial, win)
	requireInvalid(t, err, "survivor")
	got, err := st.Nodes(ctx, store.KindCI, []store.ID{win})
	require.NoError(t, err)
	assert.Equal(t, "live", got[win].Attributes["status"], "a refused merge changes nothing")
}

// testConflictsBatch: one RecordConflicts call with a pair twice counts
// both reports and keeps the last one's class and source, as two calls
// would; a malformed pair fails the batch and records nothing.
func testConflictsBatch(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "cb", 3)
	p01, p12 := store.ConflictPair(ids[0], ids[1]), store.ConflictPair(ids[1], ids[2])
	require.NoError(t, st.RecordConflicts(ctx, []store.IdentityConflict{
		{CIs: p01, Class: "Server", Source: "vmware"},
		{CIs: p12, Class: "Server", Source: "ansible", Count: 2},
		{CIs: p01, Class: "LinuxServer", Source: "ansible", Count: 3},
	}))
	bad := []store.IdentityConflict{{CIs: p01, Class: "Server", Source: "x"}, {CIs: [2]store.ID{p01[1], p01[0]}, Class: "Server", Source: "x"}}
	var ie *store.InvalidError
	require.ErrorAs(t, st.RecordConflicts(ctx, bad), &ie)
	page, err := st.Conflicts(ctx, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	got := map[[2]store.ID]store.IdentityConflict{}
	for _, c := range page.Items {
		got[c.CIs] = c
	}
	assert.Equal(t, 4, got[p01].Count, "1 + 3, and nothing from the refused batch")
	assert.Equal(t, "LinuxServer", got[p01].Class)
	assert.Equal(t, "ansible", got[p01].Source)
	assert.Equal(t, 2, got[p12].Count)
	assert.False(t, got[p01].FirstSeen.After(got[p01].LastSeen))
}
