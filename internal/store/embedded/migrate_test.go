package embedded

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// undo holds, for each schema version v > 3, the statements that take a
// database at version v back to v-1: the migration tests make an old store
// by writing with today's code and undoing the migrations since. A new
// migration adds its undo here.
var undo = map[int][]string{
	4: {"DROP INDEX audit_ref1", "DROP INDEX audit_ref2", "DROP INDEX audit_time", "DROP INDEX audit_id",
		"ALTER TABLE audit DROP COLUMN ref1", "ALTER TABLE audit DROP COLUMN ref2"},
	5:  {"DROP TABLE identity_conflicts"},
	6:  {"ALTER TABLE tokens DROP COLUMN sources"},
	7:  {"DROP INDEX cis_name_fold", "DROP INDEX cis_owner_fold", "DROP INDEX cis_support_group_fold", "DROP INDEX ci_tags_fold"},
	8:  {"DROP TRIGGER ci_search_insert", "DROP TRIGGER ci_search_update", "DROP TRIGGER ci_search_delete", "DROP TABLE ci_search"},
	9:  {"ALTER TABLE relationships DROP COLUMN version", "ALTER TABLE relationships DROP COLUMN seen_by"},
	10: {"DROP INDEX cis_kind", "ALTER TABLE cis DROP COLUMN kind", "ALTER TABLE cis DROP COLUMN version"},
	11: {"DROP TABLE sequences"},
	12: {"DROP TABLE sync_runs", "DROP TABLE scope_members"},
}

// downgrade takes the closed store in dir back to schema version to.
func downgrade(t *testing.T, dir string, to int) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, dbFile))
	require.NoError(t, err)
	defer db.Close()
	for v := schemaVersion; v > to; v-- {
		qs, ok := undo[v]
		require.True(t, ok, "no undo for schema version %d", v)
		for _, q := range qs {
			_, err := db.Exec(q)
			require.NoError(t, err, q)
		}
	}
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", to))
	require.NoError(t, err)
}

// TestMigrateRelationshipVersions: relationships written at schema 8,
// before versions and sightings, read as version 1 with no sightings, and
// the next report of each records its source and bumps only a change.
func TestMigrateRelationshipVersions(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ids := mkNodes(t, s, "v", 3)
	link(t, s, ids, tedge{0, 1, ""}, tedge{1, 2, "RUNS_ON"})
	require.NoError(t, s.Close())
	downgrade(t, dir, 8)

	s = openAt(t, dir)
	rels, err := s.RelationshipsOf(t.Context(), ids[:1], store.Out, nil)
	require.NoError(t, err)
	require.Len(t, rels[ids[0]], 1)
	r := rels[ids[0]][0]
	assert.Equal(t, int64(1), r.Version)
	assert.Empty(t, r.SeenBy)

	who := store.Actor{Name: "agent:x", Source: "vcenter"}
	res, err := s.CreateRelationships(t.Context(), who, []store.RelationshipInput{{Type: r.Type, Source: r.Source, Target: r.Target}}, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUnchanged, res[0].Status)
	got, err := s.Relationships(t.Context(), []store.ID{r.ID})
	require.NoError(t, err)
	assert.Equal(t, int64(1), got[r.ID].Version)
	assert.Contains(t, got[r.ID].SeenBy, "vcenter")
}

// TestMigrateAuditRefs: a store written at schema 3, whose audit records
// had no related objects, gets them on upgrade: a CI's history then lists
// the relationships it was an end of, deleted ones included.
func TestMigrateAuditRefs(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ids := mkNodes(t, s, "m", 3)
	link(t, s, ids, tedge{0, 1, ""}, tedge{1, 2, "RUNS_ON"})
	unlink(t, s, ids, tedge{1, 2, "RUNS_ON"})
	require.NoError(t, s.Close())

	downgrade(t, dir, 3)

	s = openAt(t, dir)
	for i, want := range []int{2, 4, 3} { // its creation and one, two, one relationships' records
		h, err := s.History(t.Context(), string(ids[i]), store.PageRequest{})
		require.NoError(t, err)
		assert.Equal(t, want, h.Total, "CI %d", i)
	}
	p, err := s.Audit(t.Context(), store.AuditFilter{Objects: []string{string(ids[2])}, Kinds: []store.ObjectKind{store.KindRelationship}}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, p.Items, 2)
	assert.Equal(t, store.ActionDelete, p.Items[0].Action)
	assert.Equal(t, []string{string(ids[1]), string(ids[2])}, p.Items[0].Related)
	assert.Equal(t, []string{string(ids[1]), string(ids[2])}, p.Items[1].Related)
}

// TestMigrateSearch: a store written at schema 7, before free-text search,
// gets the search documents of its CIs on upgrade, and keeps them in step
// with later writes.
func TestMigrateSearch(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ids := mkNodes(t, s, "legacy-", 3)
	require.NoError(t, s.Close())

	downgrade(t, dir, 7)

	s = openAt(t, dir)
	q := store.TextQuery{Kind: store.KindCI, Terms: []store.TextTerm{{Tokens: []string{"legacy"}}}, Limit: 10}
	got, truncated, err := s.SearchNodes(t.Context(), q)
	require.NoError(t, err)
	assert.False(t, truncated)
	assert.ElementsMatch(t, ids, ciIDs(got))
	_, err = s.DeleteNodes(t.Context(), store.Actor{Name: "t", Source: "api"}, store.KindCI, ids[:1])
	require.NoError(t, err)
	got, _, err = s.SearchNodes(t.Context(), q)
	require.NoError(t, err)
	assert.ElementsMatch(t, ids[1:], ciIDs(got))
}

// TestMigrateNodes: a store written at schema 9, before node kinds and
// versions, reads its CIs as nodes of kind ci at version 1, lists them, and
// new CIs are created at version 1 beside them.
func TestMigrateNodes(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ids := mkNodes(t, s, "old-", 3)
	require.NoError(t, s.Close())

	downgrade(t, dir, 9)

	s = openAt(t, dir)
	got, err := s.Nodes(t.Context(), store.KindCI, ids)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for _, c := range got {
		assert.Equal(t, store.KindCI, c.Kind)
		assert.Equal(t, int64(1), c.Version)
	}
	more := mkNodes(t, s, "new-", 2)
	p, err := s.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{})
	require.NoError(t, err)
	assert.Equal(t, 5, p.Total)
	for _, c := range p.Items {
		assert.Equal(t, store.KindCI, c.Kind)
		assert.Equal(t, int64(1), c.Version)
	}
	assert.Contains(t, ciIDs(p.Items), more[0])
}

func ciIDs(cis []store.CI) []store.ID {
	out := make([]store.ID, len(cis))
	for i, c := range cis {
		out[i] = c.ID
	}
	return out
}
