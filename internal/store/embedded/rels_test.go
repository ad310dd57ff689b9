package embedded

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func TestRelationshipsCRUD(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "r", 3)
	missing := store.ID("00000000-0000-7000-8000-000000000000")
	res, err := s.CreateRelationships(t.Context(), tester, []store.RelationshipInput{
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"port": int64(80)}},
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1]},                                                   // same: unchanged
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"port": int64(443)}}, // updated
		{Type: "NEW_TYPE", Source: ids[1], Target: ids[2]},
		{Type: "DEPENDS_ON", Source: ids[0], Target: missing},
		{Type: "DEPENDS_ON", Source: missing, Target: ids[0]},
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[0]},
		{Type: "bad type", Source: ids[0], Target: ids[1]},
		{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"bad name": "x"}},
	}, false)
	require.NoError(t, err)
	want := []store.Status{store.StatusCreated, store.StatusUnchanged, store.StatusUpdated, store.StatusCreated,
		store.StatusNotFound, store.StatusNotFound, store.StatusInvalid, store.StatusInvalid, store.StatusInvalid}
	for i, w := range want {
		assert.Equal(t, w, res[i].Status, "item %d: %v", i, res[i].Err)
	}
	assert.ErrorContains(t, res[4].Err, "relationships[4].target")
	assert.ErrorContains(t, res[5].Err, "relationships[5].source")
	var inv *store.InvalidError
	require.ErrorAs(t, res[6].Err, &inv)
	assert.Equal(t, "relationships[6].target", inv.Field)
	assert.Equal(t, int64(80), res[1].Relationship.Attributes["port"])
	id01 := store.RelationshipKey{Source: ids[0], Type: "DEPENDS_ON", Target: ids[1]}.ID()
	assert.Equal(t, id01, res[0].Relationship.ID)

	got, err := s.Relationships(t.Context(), []store.ID{id01, "junk", res[3].Relationship.ID})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, store.Attributes{"port": int64(443)}, got[id01].Attributes)
	assert.Equal(t, res[2].Relationship, got[id01])
	assert.Equal(t, store.Attributes{}, got[res[3].Relationship.ID].Attributes)

	of, err := s.RelationshipsOf(t.Context(), ids, store.Both, nil)
	require.NoError(t, err)
	assert.Len(t, of[ids[0]], 1)
	assert.Len(t, of[ids[1]], 2)
	assert.Len(t, of[ids[2]], 1)
	of, err = s.RelationshipsOf(t.Context(), ids[1:2], store.In, []string{"NEW_TYPE"})
	require.NoError(t, err)
	assert.Empty(t, of[ids[1]])
	_, err = s.RelationshipsOf(t.Context(), ids, store.Out, []string{"x y"})
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "types", inv.Field)

	// Atomic: all or nothing.
	_, err = s.CreateRelationships(t.Context(), tester, []store.RelationshipInput{
		{Type: "X", Source: ids[2], Target: ids[0]},
		{Type: "X", Source: ids[2], Target: missing},
	}, true)
	var ie *store.ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 1, ie.Index)
	assert.ErrorIs(t, err, store.ErrNotFound)
	got, err = s.Relationships(t.Context(), []store.ID{store.RelationshipKey{Source: ids[2], Type: "X", Target: ids[0]}.ID()})
	require.NoError(t, err)
	assert.Empty(t, got)

	// History of the relationship.
	h, err := s.History(t.Context(), string(id01), store.PageRequest{})
	require.NoError(t, err)
	require.Equal(t, 2, h.Total)
	assert.Equal(t, []store.FieldChange{{Field: "port", Before: int64(80), After: int64(443)}}, h.Items[0].Changes)
	assert.Equal(t, []store.FieldChange{{Field: "type", After: "DEPENDS_ON"}, {Field: "source", After: string(ids[0])},
		{Field: "target", After: string(ids[1])}, {Field: "port", After: int64(80)}}, h.Items[1].Changes)

	// Delete.
	time.Sleep(time.Millisecond)
	del, err := s.DeleteRelationships(t.Context(), other, []store.ID{id01, id01, "r1.garbage"})
	require.NoError(t, err)
	assert.Equal(t, store.StatusDeleted, del[0].Status)
	assert.Equal(t, int64(443), del[0].Relationship.Attributes["port"])
	assert.Equal(t, store.StatusNotFound, del[1].Status)
	assert.Equal(t, store.StatusInvalid, del[2].Status)
	require.ErrorAs(t, del[2].Err, &inv)
	assert.Equal(t, "ids[2]", inv.Field)
	tr, err := s.Expand(t.Context(), store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: store.Both}}, MaxDepth: 3, MaxNodes: 10})
	require.NoError(t, err)
	assert.Len(t, tr.Nodes, 1, "the index follows the delete")
	h, err = s.History(t.Context(), string(id01), store.PageRequest{})
	require.NoError(t, err)
	assert.Equal(t, 3, h.Total)
	assert.Equal(t, other, h.Items[0].Actor)

	// A deleted relationship can be created again.
	link(t, s, ids, tedge{0, 1, ""})
	tr, err = s.Expand(t.Context(), store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}, MaxDepth: 3, MaxNodes: 10})
	require.NoError(t, err)
	assert.Len(t, tr.Nodes, 2)
}

func TestModelExtensions(t *testing.T) {
	s := newStore(t)
	exts, err := s.ModelExtensions(t.Context())
	require.NoError(t, err)
	assert.Empty(t, exts)
	require.NoError(t, s.SaveModelExtension(t.Context(), tester, store.ModelExtension{Kind: store.KindClass, Name: "Pg", Definition: []byte(`{"a":1}`)}))
	require.NoError(t, s.SaveModelExtension(t.Context(), tester, store.ModelExtension{Kind: store.KindRelationshipType, Name: "Pg", Definition: []byte(`{}`)}))
	err = s.SaveModelExtension(t.Context(), tester, store.ModelExtension{Kind: store.KindClass, Name: "Pg", Definition: []byte(`{}`)})
	assert.ErrorIs(t, err, store.ErrConflict)
	for _, bad := range []store.ModelExtension{
		{Kind: store.KindCI, Name: "X", Definition: []byte("{}")},
		{Kind: store.KindClass, Name: "1x", Definition: []byte("{}")},
		{Kind: store.KindClass, Name: "X"},
	} {
		var inv *store.InvalidError
		assert.ErrorAs(t, s.SaveModelExtension(t.Context(), tester, bad), &inv)
	}
	exts, err = s.ModelExtensions(t.Context())
	require.NoError(t, err)
	require.Len(t, exts, 2)
	assert.Equal(t, store.KindClass, exts[0].Kind)
	assert.Equal(t, `{"a":1}`, string(exts[0].Definition))
	h, err := s.History(t.Context(), "Pg", store.PageRequest{})
	require.NoError(t, err)
	require.Equal(t, 2, h.Total)
	assert.Equal(t, store.KindRelationshipType, h.Items[0].Kind)
	assert.Equal(t, []store.FieldChange{{Field: "definition", After: `{"a":1}`}}, h.Items[1].Changes)
}

// TestRelationshipsOfTypeNotYetIndexed: a relationship whose type the
// graph index does not have yet (its write committed, its patch not
// applied) is still read with its type's name, from the database.
func TestRelationshipsOfTypeNotYetIndexed(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "t", 2)
	_, err := s.CreateRelationships(t.Context(), tester, []store.RelationshipInput{
		{Type: "RUNS_ON", Source: ids[0], Target: ids[1]},
		{Type: "BACKED_UP_BY", Source: ids[0], Target: ids[1]},
	}, false)
	require.NoError(t, err)
	want, err := s.RelationshipsOf(t.Context(), ids[:1], store.Out, nil)
	require.NoError(t, err)
	require.Len(t, want[ids[0]], 2)

	s.g.mu.Lock()
	types := s.g.types
	s.g.types = types[:1] // the index knows no type
	s.g.mu.Unlock()
	t.Cleanup(func() { s.g.mu.Lock(); s.g.types = types; s.g.mu.Unlock() })
	got, err := s.RelationshipsOf(t.Context(), ids[:1], store.Out, nil)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	got, err = s.RelationshipsOf(t.Context(), ids[1:], store.In, []string{"RUNS_ON"})
	require.NoError(t, err)
	require.Len(t, got[ids[1]], 1)
	assert.Equal(t, "RUNS_ON", got[ids[1]][0].Type)
}

// TestEdgesOverCompactedIndex: Edges reads relationships from the
// adjacency index's compacted base, less those deleted since, plus those
// added since, as RelationshipsOf reads them from the database.
func TestEdgesOverCompactedIndex(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "c", 4)
	var in []store.RelationshipInput
	for i := 1; i < 4; i++ {
		in = append(in, store.RelationshipInput{Type: "DEPENDS_ON", Source: ids[0], Target: ids[i]},
			store.RelationshipInput{Type: "RUNS_ON", Source: ids[i], Target: ids[0]})
	}
	_, err := s.CreateRelationships(t.Context(), tester, in, false)
	require.NoError(t, err)
	s.g.compact() // what the writer does past its threshold
	require.Empty(t, s.g.addOut, "every edge is in the base")
	_, err = s.DeleteRelationships(t.Context(), tester, []store.ID{
		store.RelationshipKey{Source: ids[0], Type: "DEPENDS_ON", Target: ids[2]}.ID(),
		store.RelationshipKey{Source: ids[3], Type: "RUNS_ON", Target: ids[0]}.ID(),
	})
	require.NoError(t, err)
	_, err = s.CreateRelationships(t.Context(), tester, []store.RelationshipInput{{Type: "HOSTED_ON", Source: ids[0], Target: ids[3]}}, false)
	require.NoError(t, err)
	require.NotEmpty(t, s.g.removed, "deleted base edges are set apart")

	hops, err := s.Edges(t.Context(), ids[:1], store.Both, nil)
	require.NoError(t, err)
	got := hops.Map(ids[:1])
	rels, err := s.RelationshipsOf(t.Context(), ids[:1], store.Both, nil)
	require.NoError(t, err)
	require.Len(t, got[ids[0]], 5)
	store.SortSteps(got[ids[0]]) // RelationshipsOf's order, with the IDs
	for i, r := range rels[ids[0]] {
		assert.Equal(t, r.ID, got[ids[0]][i].Rel.ID)
		assert.Equal(t, r.Source == ids[0], got[ids[0]][i].Forward)
	}
}
