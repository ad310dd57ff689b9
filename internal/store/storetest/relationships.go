package storetest

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var relationshipCases = []testCase{
	{"RelationshipsCreateIsIdempotent", testRelCreate},
	{"RelationshipsItemErrors", testRelItemErrors},
	{"RelationshipsAtomicBatch", testRelAtomic},
	{"RelationshipsOfDirectionsAndTypes", testRelationshipsOf},
	{"RelationshipsDelete", testRelDelete},
	{"RelationshipsRespectModelClasses", testRelModelClasses},
}

func testRelCreate(t *testing.T, st store.Store) {
	svc := newService(t, st)
	ids := nodes(t, st, "n", 2)
	sw := upsertOK(t, svc, builder, server("Switch", "name", "core1", "serial_number", "SW1"))[0].Node.ID
	res, err := svc.CreateRelationships(t.Context(), api, []cmdb.RelationshipItem{
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1]},
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1]}, // same again in the batch
		{Type: "HOSTED_ON", Source: ids[0], Target: ids[1]},  // another type between the same CIs
	}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusCreated, res[0].Status)
	assert.Equal(t, store.StatusUnchanged, res[1].Status)
	assert.Equal(t, store.StatusCreated, res[2].Status)
	rel := res[0].Relationship
	assert.Equal(t, store.RelationshipKey{Source: ids[0], Type: "DEPENDS_ON", Target: ids[1]}.ID(), rel.ID)
	assert.Equal(t, ids[0], rel.Source)
	assert.Equal(t, ids[1], rel.Target)
	assert.False(t, rel.CreatedAt.IsZero())
	assert.NotEqual(t, res[0].Relationship.ID, res[2].Relationship.ID)

	// Attributes: set, then unchanged, then updated.
	conn := []cmdb.RelationshipItem{{Type: "CONNECTS_TO", Source: ids[0], Target: sw, Attributes: map[string]any{"port": "Gi1/0/1"}}}
	res, err = svc.CreateRelationships(t.Context(), api, conn, false)
	require.NoError(t, err)
	require.Equal(t, store.StatusCreated, res[0].Status, "%v", res[0].Err)
	res, err = svc.CreateRelationships(t.Context(), api, conn, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUnchanged, res[0].Status)
	conn[0].Attributes["port"] = "Gi1/0/2"
	res, err = svc.CreateRelationships(t.Context(), api, conn, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUpdated, res[0].Status)
	got, err := st.Relationships(t.Context(), []store.ID{res[0].Relationship.ID, rel.ID, "r1.garbage", "nope"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, store.Attributes{"port": "Gi1/0/2"}, got[res[0].Relationship.ID].Attributes)
	assert.NotNil(t, got[rel.ID].Attributes)
	assert.Empty(t, got[rel.ID].Attributes)
}

func testRelItemErrors(t *testing.T, st store.Store) {
	ids := nodes(t, st, "n", 2)
	missing := store.ID("00000000-0000-7000-8000-00000000dead")
	res, err := st.CreateRelationships(t.Context(), api, []store.RelationshipInput{
		{Type: "DEPENDS_ON", Source: ids[0], Target: missing},
		{Type: "DEPENDS_ON", Source: missing, Target: ids[0]},
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[0]},
		{Type: "BAD TYPE", Source: ids[0], Target: ids[1]},
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"bad key": "x"}},
		{Type: "DEPENDS_ON", Source: ids[1], Target: ids[0]},
	}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusNotFound, res[0].Status)
	assert.ErrorIs(t, res[0].Err, store.ErrNotFound)
	assert.Equal(t, store.StatusNotFound, res[1].Status)
	assert.Equal(t, store.StatusInvalid, res[2].Status)
	requireInvalid(t, res[2].Err, "relationships[2].target")
	assert.Equal(t, store.StatusInvalid, res[3].Status)
	assert.Equal(t, store.StatusInvalid, res[4].Status)
	assert.Equal(t, store.StatusCreated, res[5].Status, "the good item is written")
	_, err = st.CreateRelationships(t.Context(), api, nil, false)
	requireInvalid(t, err, "relationships")
}

func testRelAtomic(t *testing.T, st store.Store) {
	ids := nodes(t, st, "n", 3)
	_, err := st.CreateRelationships(t.Context(), api, []store.RelationshipInput{
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1]},
		{Type: "DEPENDS_ON", Source: ids[1], Target: "00000000-0000-7000-8000-00000000dead"},
	}, true)
	var ie *store.ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 1, ie.Index)
	assert.ErrorIs(t, err, store.ErrNotFound)
	rels, err := st.RelationshipsOf(t.Context(), ids, store.Both, nil)
	require.NoError(t, err)
	for _, rs := range rels {
		assert.Empty(t, rs, "nothing of the failed atomic batch was written")
	}
}

func testRelationshipsOf(t *testing.T, st store.Store) {
	ids := nodes(t, st, "n", 4)
	link(t, st, ids, edge{0, 1, "DEPENDS_ON"}, edge{0, 2, "HOSTED_ON"}, edge{3, 0, "DEPENDS_ON"})
	out, err := st.RelationshipsOf(t.Context(), []store.ID{ids[0]}, store.Out, nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, []store.ID{ids[1], ids[2]}, targets(out[ids[0]]))
	assert.True(t, sort.SliceIsSorted(out[ids[0]], func(i, j int) bool { return out[ids[0]][i].ID < out[ids[0]][j].ID }), "sorted by id")
	in, err := st.RelationshipsOf(t.Context(), []store.ID{ids[0], ids[1]}, store.In, nil)
	require.NoError(t, err)
	assert.Equal(t, []store.ID{ids[3]}, sources(in[ids[0]]))
	assert.Equal(t, []store.ID{ids[0]}, sources(in[ids[1]]))
	both, err := st.RelationshipsOf(t.Context(), []store.ID{ids[0]}, store.Both, []string{"DEPENDS_ON"})
	require.NoError(t, err)
	assert.Len(t, both[ids[0]], 2)
	for _, r := range both[ids[0]] {
		assert.Equal(t, "DEPENDS_ON", r.Type)
	}
	_, err = st.RelationshipsOf(t.Context(), []store.ID{ids[0]}, store.Out, []string{"X) DETACH DELETE n //"})
	var inv *store.InvalidError
	require.ErrorAs(t, err, &inv)
}

func targets(rs []store.Relationship) []store.ID {
	out := make([]store.ID, len(rs))
	for i, r := range rs {
		out[i] = r.Target
	}
	return out
}

func sources(rs []store.Relationship) []store.ID {
	out := make([]store.ID, len(rs))
	for i, r := range rs {
		out[i] = r.Source
	}
	return out
}

func testRelDelete(t *testing.T, st store.Store) {
	ids := nodes(t, st, "n", 3)
	link(t, st, ids, edge{0, 1, ""}, edge{1, 2, ""})
	id01 := store.RelationshipKey{Source: ids[0], Type: "DEPENDS_ON", Target: ids[1]}.ID()
	gone := store.RelationshipKey{Source: ids[2], Type: "DEPENDS_ON", Target: ids[0]}.ID()
	res, err := st.DeleteRelationships(t.Context(), api, []store.ID{id01, gone, "not-an-id"})
	require.NoError(t, err)
	assert.Equal(t, store.StatusDeleted, res[0].Status)
	assert.Equal(t, ids[0], res[0].Relationship.Source)
	assert.Equal(t, store.StatusNotFound, res[1].Status)
	assert.Equal(t, store.StatusInvalid, res[2].Status)
	requireInvalid(t, res[2].Err, "ids[2]")
	got, err := st.Relationships(t.Context(), []store.ID{id01})
	require.NoError(t, err)
	assert.Empty(t, got)
	// The traversal index follows the delete at once.
	tr, err := st.Expand(t.Context(), store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 5, MaxNodes: 10})
	require.NoError(t, err)
	assert.Len(t, tr.Nodes, 1)
}

func testRelModelClasses(t *testing.T, st store.Store) {
	svc := newService(t, st)
	bs := upsertOK(t, svc, builder, cmdb.UpsertItem{Class: "BusinessService", Attributes: map[string]any{"name": "Payments"}})[0].Node.ID
	vm := upsertOK(t, svc, builder, server("VirtualMachine", "name", "vm1", "vm_uuid", "4211-AAAA"))[0].Node.ID
	hv := upsertOK(t, svc, builder, server("Hypervisor", "name", "esx1", "serial_number", "HV1"))[0].Node.ID
	res, err := svc.CreateRelationships(t.Context(), api, []cmdb.RelationshipItem{
		{Type: "RUNS_ON", Source: vm, Target: hv},
		{Type: "RUNS_ON", Source: bs, Target: hv},
		{Type: "RUNS_ONN", Source: vm, Target: hv},
		{Type: "CONNECTS_TO", Source: vm, Target: hv, Attributes: map[string]any{"speed": 10}},
	}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusCreated, res[0].Status, "%v", res[0].Err)
	ie := requireInvalid(t, res[1].Err, "relationships[1].source")
	assert.Contains(t, ie.Reason, "BusinessService")
	assert.Contains(t, ie.Reason, "VirtualMachine", "names the allowed classes")
	ie = requireInvalid(t, res[2].Err, "relationships[2].type")
	assert.Contains(t, ie.Reason, "did you mean RUNS_ON")
	requireInvalid(t, res[3].Err, "relationships[3].attributes.speed")
}
