package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var relPageCases = []testCase{
	{"RelationshipPagesWalkAHub", testRelPagesWalk},
	{"RelationshipPagesStableAcrossWrites", testRelPagesStable},
	{"RelationshipPagesBatchAndErrors", testRelPagesBatch},
}

// hub builds CI 0 with 9 outgoing relationships (6 DEPENDS_ON, 3
// HOSTED_ON) and 14 incoming ones (11 DEPENDS_ON, 3 HOSTED_ON).
func hub(t *testing.T, st store.Store) []store.ID {
	ids := nodes(t, st, "hub", 24)
	var edges []edge
	for i := 1; i <= 9; i++ {
		edges = append(edges, edge{0, i, map[bool]string{true: "HOSTED_ON", false: "DEPENDS_ON"}[i%3 == 0]})
	}
	for i := 10; i <= 23; i++ {
		edges = append(edges, edge{i, 0, map[bool]string{true: "HOSTED_ON", false: "DEPENDS_ON"}[i%5 == 0]})
	}
	link(t, st, ids, edges...)
	return ids
}

// walk pages through one request's relationships and checks every page.
func walk(t *testing.T, st store.Store, req store.RelationshipPageRequest) []store.Relationship {
	t.Helper()
	var all []store.Relationship
	total := -1
	fromStart := req.Page.After == ""
	for n := 0; ; n++ {
		require.Less(t, n, 1000, "paging ends")
		pages, err := st.RelationshipPages(t.Context(), []store.RelationshipPageRequest{req})
		require.NoError(t, err)
		require.Len(t, pages, 1)
		p := pages[0]
		size, _ := req.Page.PageSize()
		require.LessOrEqual(t, len(p.Items), size)
		require.Len(t, p.Cursors, len(p.Items))
		if total < 0 {
			total = p.Total
		}
		assert.Equal(t, total, p.Total, "the total does not change from page to page")
		all = append(all, p.Items...)
		if !p.HasNext {
			if fromStart {
				assert.Len(t, all, total, "the pages hold Total relationships")
			}
			return all
		}
		require.NotEmpty(t, p.Items)
		require.Equal(t, p.Cursors[len(p.Cursors)-1], p.EndCursor)
		req.Page.After = p.EndCursor
	}
}

func relIDs(rs []store.Relationship) []store.ID {
	out := make([]store.ID, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testRelPagesWalk(t *testing.T, st store.Store) {
	ids := hub(t, st)
	for _, dir := range []store.Direction{store.Out, store.In, store.Both} {
		for _, types := range [][]string{nil, {"DEPENDS_ON"}, {"HOSTED_ON", "DEPENDS_ON"}, {"RUNS_ON"}} {
			want, err := st.RelationshipsOf(t.Context(), []store.ID{ids[0]}, dir, types)
			require.NoError(t, err)
			for _, size := range []int{1, 4, 7, 100} {
				name := fmt.Sprintf("%s %v first %d", dir, types, size)
				got := walk(t, st, store.RelationshipPageRequest{Node: ids[0], Dir: dir, Types: types, Page: store.PageRequest{First: size}})
				assert.ElementsMatch(t, relIDs(want[ids[0]]), relIDs(got), name)
				if dir == store.Both {
					seenIn := false
					for _, r := range got {
						if r.Target == ids[0] {
							seenIn = true
						} else {
							assert.False(t, seenIn, "%s: outgoing relationships come first", name)
						}
					}
				}
				for i := 1; i < len(got); i++ {
					if got[i].Source == got[i-1].Source && got[i].Target == got[i-1].Target {
						assert.NotEqual(t, got[i].Type, got[i-1].Type, "%s: no repeats", name)
					}
				}
			}
		}
	}
	// Per-item cursors resume right after their item.
	pages, err := st.RelationshipPages(t.Context(), []store.RelationshipPageRequest{{Node: ids[0], Dir: store.Both, Page: store.PageRequest{First: 10}}})
	require.NoError(t, err)
	first := pages[0]
	require.Len(t, first.Items, 10)
	assert.Equal(t, 23, first.Total)
	assert.True(t, first.HasNext)
	again, err := st.RelationshipPages(t.Context(), []store.RelationshipPageRequest{{Node: ids[0], Dir: store.Both, Page: store.PageRequest{First: 5, After: first.Cursors[2]}}})
	require.NoError(t, err)
	assert.Equal(t, relIDs(first.Items[3:8]), relIDs(again[0].Items))
	// Attributes and times come with the page.
	assert.NotNil(t, first.Items[0].Attributes)
	assert.False(t, first.Items[0].CreatedAt.IsZero())
}

func testRelPagesStable(t *testing.T, st store.Store) {
	ids := hub(t, st)
	req := store.RelationshipPageRequest{Node: ids[0], Dir: store.Both, Page: store.PageRequest{First: 4}}
	before := walk(t, st, req)
	pages, err := st.RelationshipPages(t.Context(), []store.RelationshipPageRequest{req})
	require.NoError(t, err)
	seen := map[store.ID]int{}
	for _, r := range pages[0].Items {
		seen[r.ID]++
	}
	// Writes between pages: new relationships in both directions and of
	// both types; one relationship not yet seen is deleted.
	extra := nodes(t, st, "late", 4)
	all := append(append([]store.ID{}, ids...), extra...)
	link(t, st, all, edge{0, 24, "DEPENDS_ON"}, edge{25, 0, "DEPENDS_ON"}, edge{0, 26, "HOSTED_ON"}, edge{27, 0, "HOSTED_ON"})
	var gone store.ID
	for _, r := range before {
		if seen[r.ID] == 0 {
			gone = r.ID
		}
	}
	res, err := st.DeleteRelationships(t.Context(), api, []store.ID{gone})
	require.NoError(t, err)
	require.Equal(t, store.StatusDeleted, res[0].Status)
	req.Page.After = pages[0].EndCursor
	for _, r := range walk(t, st, req) {
		seen[r.ID]++
	}
	for _, r := range before {
		if r.ID == gone {
			continue
		}
		assert.Equal(t, 1, seen[r.ID], "a relationship that existed throughout is seen exactly once: %s", r.ID)
	}
	assert.Zero(t, seen[gone], "the deleted relationship is not returned")
	for id, n := range seen {
		assert.Equal(t, 1, n, "no repeats: %s", id)
	}
}

func testRelPagesBatch(t *testing.T, st store.Store) {
	ids := hub(t, st)
	missing := store.ID("00000000-0000-7000-8000-00000000dead")
	pages, err := st.RelationshipPages(t.Context(), []store.RelationshipPageRequest{
		{Node: ids[0], Dir: store.Out, Page: store.PageRequest{First: 100}},
		{Node: missing, Dir: store.Both},
		{Node: ids[0], Dir: store.In, Types: []string{"HOSTED_ON"}, Page: store.PageRequest{First: 2}},
		{Node: ids[5], Dir: store.Both},
	})
	require.NoError(t, err)
	require.Len(t, pages, 4)
	assert.Len(t, pages[0].Items, 9)
	assert.Equal(t, 9, pages[0].Total)
	assert.False(t, pages[0].HasNext)
	assert.Empty(t, pages[1].Items, "an unknown CI has an empty page")
	assert.Zero(t, pages[1].Total)
	assert.Len(t, pages[2].Items, 2)
	assert.Equal(t, 3, pages[2].Total)
	assert.True(t, pages[2].HasNext)
	for _, r := range pages[2].Items {
		assert.Equal(t, "HOSTED_ON", r.Type)
		assert.Equal(t, ids[0], r.Target)
	}
	assert.Equal(t, 1, pages[3].Total)

	pages, err = st.RelationshipPages(t.Context(), nil)
	require.NoError(t, err)
	assert.Empty(t, pages)

	in, err := st.RelationshipPages(t.Context(), []store.RelationshipPageRequest{{Node: ids[0], Dir: store.In, Page: store.PageRequest{First: 1}}})
	require.NoError(t, err)
	bad := []struct {
		req   store.RelationshipPageRequest
		field string
	}{
		{store.RelationshipPageRequest{Node: ids[0], Dir: store.Out, Page: store.PageRequest{After: "garbage"}}, "reqs[0].after"},
		{store.RelationshipPageRequest{Node: ids[0], Dir: store.Out, Page: store.PageRequest{After: store.EncodeCursor("x")}}, "reqs[0].after"},
		{store.RelationshipPageRequest{Node: ids[0], Dir: store.Out, Page: store.PageRequest{After: in[0].EndCursor}}, "reqs[0].after"},
		{store.RelationshipPageRequest{Node: ids[0], Dir: store.Out, Types: []string{"X]-() DETACH DELETE n //"}}, "reqs[0].types"},
		{store.RelationshipPageRequest{Node: ids[0], Dir: store.Direction(9)}, "reqs[0].dir"},
		{store.RelationshipPageRequest{Node: ids[0], Dir: store.Out, Page: store.PageRequest{First: store.MaxPageSize + 1}}, "reqs[0].first"},
	}
	for _, b := range bad {
		_, err := st.RelationshipPages(t.Context(), []store.RelationshipPageRequest{b.req})
		requireInvalid(t, err, b.field)
	}
	after, err := st.RelationshipsOf(t.Context(), []store.ID{ids[0]}, store.Both, nil)
	require.NoError(t, err)
	assert.Len(t, after[ids[0]], 23, "nothing was changed by the bad requests")
}
