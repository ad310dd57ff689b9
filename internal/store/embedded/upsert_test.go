package embedded

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func countAll(t *testing.T, s *Store) int {
	t.Helper()
	p, err := s.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 1})
	require.NoError(t, err)
	return p.Total
}

// keyOwner returns the CI owning key, "" if none.
func keyOwner(t *testing.T, s *Store, key string) store.ID {
	t.Helper()
	var uid string
	err := s.rdb.QueryRowContext(t.Context(), "SELECT c.uid FROM identity_keys k JOIN cis c ON c.id = k.ci WHERE k.key = ?", key).Scan(&uid)
	if err != nil {
		return ""
	}
	return store.ID(uid)
}

func TestUpsertKeysAndSeen(t *testing.T) {
	s := newStore(t)
	r0 := upsertOK(t, s, item("Server", []string{"sn|1", "name|old"}, "name", "old"))[0]
	// Re-identified by the serial, with a new name key: the old one is
	// released, the new one claimed.
	time.Sleep(time.Millisecond)
	r1, err := upsert(t, s, other, false, item("Server", []string{"sn|1", "name|new"}, "name", "old"))
	require.NoError(t, err)
	assert.Equal(t, store.StatusUnchanged, r1[0].Status, "a key change alone is not an attribute change")
	assert.Equal(t, []string{"sn|1", "name|new"}, r1[0].Node.Keys)
	assert.Equal(t, r0.Node.ID, keyOwner(t, s, "name|new"))
	assert.Equal(t, store.ID(""), keyOwner(t, s, "name|old"))
	checkKeyTables(t, s)
	ci := r1[0].Node
	assert.Len(t, ci.SeenBy, 2)
	assert.True(t, ci.SeenBy["agent"].After(ci.SeenBy["test"]))
	assert.Equal(t, ci.SeenBy["agent"], ci.LastSeenAt)
	assert.Equal(t, ci.CreatedAt, ci.UpdatedAt, "a sighting is not an update")
	// The released key identifies another CI now.
	r2 := upsertOK(t, s, item("Server", []string{"name|old"}, "name", "other"))[0]
	assert.NotEqual(t, ci.ID, r2.Node.ID)
	// No audit record for the unchanged sighting.
	h, err := s.History(t.Context(), string(ci.ID), store.PageRequest{})
	require.NoError(t, err)
	assert.Equal(t, 1, h.Total)
}

func TestUpsertSameCIInBatchAndAttributeTypes(t *testing.T) {
	s := newStore(t)
	when := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	res := upsertOK(t, s,
		item("App", []string{"app|pay"}, "name", "pay", "v", "1"),
		item("App", []string{"app|pay"}, "v", "2", "n", int64(-7), "f", 3.0, "b", false, "t", when, "l", []string{}),
		item("App", []string{"app|pay"}, "v", "2"),
		item("App", []string{"app|pay"}, "v", nil),
	)
	assert.Equal(t, []store.Status{store.StatusCreated, store.StatusUpdated, store.StatusUnchanged, store.StatusUpdated},
		[]store.Status{res[0].Status, res[1].Status, res[2].Status, res[3].Status})
	assert.Equal(t, "1", res[0].Node.Attributes["v"], "an earlier result is not changed by later items")
	got, err := s.Nodes(t.Context(), store.KindCI, []store.ID{res[0].Node.ID})
	require.NoError(t, err)
	ci := got[res[0].Node.ID]
	assert.Equal(t, res[3].Node, ci)
	assert.Equal(t, store.Attributes{"name": "pay", "n": int64(-7), "f": 3.0, "b": false, "t": when.UTC(), "l": []string{}}, ci.Attributes)
	h, err := s.History(t.Context(), string(ci.ID), store.PageRequest{})
	require.NoError(t, err)
	require.Equal(t, 3, h.Total)
	assert.Equal(t, []store.FieldChange{{Field: "v", Before: "2"}}, h.Items[0].Changes)
	assert.Contains(t, h.Items[1].Changes, store.FieldChange{Field: "t", After: when.UTC()})
	assert.Contains(t, h.Items[1].Changes, store.FieldChange{Field: "f", After: 3.0})
	assert.Equal(t, tester, h.Items[0].Actor)
	assert.True(t, h.Items[0].Time.Equal(ci.UpdatedAt))
}

func TestUpsertConcurrentSameKeys(t *testing.T) {
	s := newStore(t)
	const writers, n = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				var items []store.CIUpsert
				for i := 0; i < n; i++ {
					k := (i + w*7) % n
					// Every writer reports the same CIs, by different subsets of their keys.
					keys := []string{fmt.Sprintf("name|%d", k)}
					if w%2 == 0 {
						keys = append(keys, fmt.Sprintf("sn|%d", k))
					}
					items = append(items, item("Server", keys, "name", fmt.Sprint(k), "writer", int64(w)))
				}
				res, err := upsert(t, s, store.Actor{Name: fmt.Sprint(w), Source: "s"}, false, items...)
				if err != nil {
					errs <- err
					return
				}
				for _, r := range res {
					if r.Err != nil && r.Status != store.StatusConflict {
						errs <- r.Err
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, n, countAll(t, s), "one CI per set of keys")
	checkKeyTables(t, s)
}

// checkKeyTables checks that identity_keys and ci_tags hold exactly the
// keys and tags listed in the CIs.
func checkKeyTables(t *testing.T, s *Store) {
	t.Helper()
	var bad int
	require.NoError(t, s.rdb.QueryRowContext(t.Context(), `SELECT
		(SELECT count(*) FROM identity_keys k WHERE NOT EXISTS (SELECT 1 FROM cis c, json_each(c.keys) j WHERE c.id = k.ci AND j.value = k.key)) +
		(SELECT count(*) FROM cis c, json_each(c.keys) j WHERE NOT EXISTS (SELECT 1 FROM identity_keys k WHERE k.key = j.value AND k.ci = c.id)) +
		(SELECT count(*) FROM ci_tags g WHERE NOT EXISTS (SELECT 1 FROM cis c, json_each(c.attrs, '$.tags') j WHERE c.id = g.ci AND j.value = g.tag)) +
		(SELECT count(*) FROM cis c, json_each(c.attrs, '$.tags') j WHERE NOT EXISTS (SELECT 1 FROM ci_tags g WHERE g.tag = j.value AND g.ci = c.id))`).Scan(&bad))
	assert.Zero(t, bad, "identity_keys and ci_tags match the CIs")
}

func TestDeleteCIsCascadeAndAudit(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "d", 3)
	link(t, s, ids, tedge{0, 1, ""}, tedge{1, 2, "RUNS_ON"}, tedge{2, 0, ""})
	res, err := s.DeleteNodes(t.Context(), other, store.KindCI, []store.ID{ids[1], "missing", ids[1]})
	require.NoError(t, err)
	assert.Equal(t, []store.Status{store.StatusDeleted, store.StatusNotFound, store.StatusNotFound},
		[]store.Status{res[0].Status, res[1].Status, res[2].Status})
	assert.Equal(t, "d1", res[0].Node.Attributes["name"])
	assert.ErrorIs(t, res[1].Err, store.ErrNotFound)

	got, err := s.Nodes(t.Context(), store.KindCI, ids)
	require.NoError(t, err)
	assert.Len(t, got, 2)
	var n int
	require.NoError(t, s.rdb.QueryRowContext(t.Context(), "SELECT count(*) FROM relationships").Scan(&n))
	assert.Equal(t, 1, n)
	assert.Equal(t, store.ID(""), keyOwner(t, s, "node|d1"))
	checkKeyTables(t, s)

	h, err := s.History(t.Context(), string(ids[1]), store.PageRequest{})
	require.NoError(t, err)
	require.Equal(t, 6, h.Total, "its creation and deletion, and those of its two relationships")
	assert.Equal(t, store.ActionDelete, h.Items[0].Action)
	assert.Equal(t, other, h.Items[0].Actor)
	assert.Equal(t, []store.FieldChange{{Field: "class", Before: "Node"}, {Field: "name", Before: "d1"}}, h.Items[0].Changes)
	for _, rel := range []store.RelationshipKey{{Source: ids[0], Type: "DEPENDS_ON", Target: ids[1]}, {Source: ids[1], Type: "RUNS_ON", Target: ids[2]}} {
		h, err := s.History(t.Context(), string(rel.ID()), store.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, 2, h.Total)
		assert.Equal(t, store.ActionDelete, h.Items[0].Action)
		assert.Equal(t, []store.FieldChange{{Field: "type", Before: rel.Type}, {Field: "source", Before: string(rel.Source)}, {Field: "target", Before: string(rel.Target)}}, h.Items[0].Changes)
	}
	// The index forgot the CI and its edges.
	tr, err := s.Expand(t.Context(), store.Traversal{Start: ids, Rules: []store.EdgeRule{{Dir: store.Both}}, MaxDepth: 3, MaxNodes: 10})
	require.NoError(t, err)
	assert.Len(t, tr.Nodes, 2)
	_, err = s.DeleteNodes(t.Context(), tester, store.KindCI, nil)
	var inv *store.InvalidError
	require.ErrorAs(t, err, &inv)
}
