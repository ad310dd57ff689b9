package embedded

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// refDepths is a reference breadth-first search by node index.
func refDepths(n int, edges []tedge, starts []int, rules []store.EdgeRule, maxDepth int) map[int]int {
	adj := make([][]int, n)
	for _, e := range edges {
		for _, r := range rules {
			if r.Type != "" && r.Type != e.typeName() {
				continue
			}
			if r.Dir == store.Out || r.Dir == store.Both {
				adj[e.from] = append(adj[e.from], e.to)
			}
			if r.Dir == store.In || r.Dir == store.Both {
				adj[e.to] = append(adj[e.to], e.from)
			}
		}
	}
	depth := map[int]int{}
	var frontier []int
	for _, s := range starts {
		if _, ok := depth[s]; !ok {
			depth[s] = 0
			frontier = append(frontier, s)
		}
	}
	for d := 1; d <= maxDepth && len(frontier) > 0; d++ {
		var next []int
		for _, u := range frontier {
			for _, v := range adj[u] {
				if _, ok := depth[v]; !ok {
					depth[v] = d
					next = append(next, v)
				}
			}
		}
		frontier = next
	}
	return depth
}

// checkExpand runs tv and checks the result against the reference: each
// node once, at its minimum depth, in non-decreasing depth, with a valid
// explaining hop over a real, allowed edge.
func checkExpand(t *testing.T, s *Store, ids []store.ID, edges []tedge, tv store.Traversal) store.TraversalResult {
	t.Helper()
	res, err := s.Expand(t.Context(), tv)
	require.NoError(t, err)
	index := map[store.ID]int{}
	for i, id := range ids {
		index[id] = i
	}
	var starts []int
	for _, id := range tv.Start {
		if i, ok := index[id]; ok {
			starts = append(starts, i)
		}
	}
	want := refDepths(len(ids), edges, starts, tv.Rules, tv.MaxDepth)
	real := map[string]bool{}
	for _, e := range edges {
		real[fmt.Sprint(e.from, e.typeName(), e.to)] = true
	}
	got := map[store.ID]store.Reached{}
	last := 0
	for _, r := range res.Nodes {
		require.NotContains(t, got, r.ID, "reported once")
		got[r.ID] = r
		require.GreaterOrEqual(t, r.Depth, last)
		last = r.Depth
		wd, ok := want[index[r.ID]]
		require.True(t, ok, "node %d reachable", index[r.ID])
		require.Equal(t, wd, r.Depth, "node %d depth", index[r.ID])
		if r.Depth == 0 {
			require.Empty(t, r.Via)
			continue
		}
		via, ok := got[r.Via]
		require.True(t, ok)
		require.Equal(t, r.Depth-1, via.Depth)
		rel := r.Step().Rel
		require.True(t, real[fmt.Sprint(index[rel.Source], rel.Type, index[rel.Target])], "hop over a real edge")
		allowed := false
		for _, rule := range tv.Rules {
			if (rule.Type == "" || rule.Type == rel.Type) && (rule.Dir == store.Both || (rule.Dir == store.Out) == r.Forward) {
				allowed = true
			}
		}
		require.True(t, allowed, "hop allowed by the rules")
	}
	nonStart := len(want) - len(starts)
	if res.Truncated {
		require.Equal(t, tv.MaxNodes, len(res.Nodes)-len(starts))
		require.Greater(t, nonStart, tv.MaxNodes)
	} else {
		require.Len(t, got, len(want), "every reachable node reported")
	}
	return res
}

func TestExpandShapes(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "x", 320)
	cycle := []tedge{{0, 1, ""}, {1, 2, ""}, {2, 3, ""}, {3, 0, ""}, {3, 4, "RUNS_ON"}, {4, 1, ""}}
	diamond := []tedge{{10, 11, ""}, {10, 12, ""}, {11, 13, ""}, {12, 13, ""}, {13, 14, ""}, {10, 15, ""}, {15, 14, ""}}
	var hub []tedge
	for i := 20; i < 320; i++ {
		hub = append(hub, tedge{i, 19, "CONNECTS_TO"})
	}
	all := append(append(append([]tedge{}, cycle...), diamond...), hub...)
	link(t, s, ids, all...)
	both := []store.EdgeRule{{Dir: store.Both}}
	tests := []struct {
		name  string
		tv    store.Traversal
		nodes int
	}{
		{"cycle out", store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 10, MaxNodes: 100}, 5},
		{"cycle in", store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: store.In}}, MaxDepth: 10, MaxNodes: 100}, 5},
		{"cycle one type", store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}, MaxDepth: 10, MaxNodes: 100}, 4},
		{"diamond", store.Traversal{Start: ids[10:11], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 10, MaxNodes: 100}, 6},
		{"diamond multi start", store.Traversal{Start: []store.ID{ids[13], ids[10], ids[13], "nope"}, Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 10, MaxNodes: 100}, 6},
		{"hub in", store.Traversal{Start: ids[19:20], Rules: []store.EdgeRule{{Type: "CONNECTS_TO", Dir: store.In}}, MaxDepth: 2, MaxNodes: 1000}, 301},
		{"hub spoke both", store.Traversal{Start: ids[20:21], Rules: both, MaxDepth: 2, MaxNodes: 1000}, 301},
		{"depth limit", store.Traversal{Start: ids[10:11], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 1, MaxNodes: 100}, 4},
		{"budget truncates", store.Traversal{Start: ids[19:20], Rules: both, MaxDepth: 3, MaxNodes: 50}, 51},
		{"exact budget", store.Traversal{Start: ids[19:20], Rules: both, MaxDepth: 3, MaxNodes: 300}, 301},
		{"unknown type", store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Type: "NOPE", Dir: store.Both}}, MaxDepth: 3, MaxNodes: 5}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := checkExpand(t, s, ids, all, tt.tv)
			assert.Len(t, res.Nodes, tt.nodes)
			assert.Equal(t, tt.name == "budget truncates", res.Truncated)
		})
	}
	res := checkExpand(t, s, ids, all, tests[4].tv)
	assert.Equal(t, []store.ID{ids[13], ids[10]}, []store.ID{res.Nodes[0].ID, res.Nodes[1].ID}, "starts first, in input order")

	_, err := s.Expand(t.Context(), store.Traversal{Start: ids[:1], Rules: both, MaxDepth: 0, MaxNodes: 5})
	var inv *store.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "maxDepth", inv.Field)
}

func TestShortestPath(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "p", 7)
	link(t, s, ids, tedge{0, 1, ""}, tedge{1, 2, ""}, tedge{2, 3, ""}, tedge{3, 4, ""}, tedge{0, 5, ""}, tedge{5, 4, ""}, tedge{4, 2, "RUNS_ON"})
	out := []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}
	tests := []struct {
		name     string
		from, to store.ID
		rules    []store.EdgeRule
		depth    int
		hops     int // -1: not found
	}{
		{"shortcut", ids[0], ids[4], out, 10, 2},
		{"backwards", ids[4], ids[0], []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}}, 10, 2},
		{"mixed", ids[1], ids[4], []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}, {Type: "RUNS_ON", Dir: store.In}}, 10, 2},
		{"same node", ids[3], ids[3], out, 1, 0},
		{"isolated", ids[0], ids[6], []store.EdgeRule{{Dir: store.Both}}, 10, -1},
		{"direction respected", ids[4], ids[0], out, 10, -1},
		{"too deep", ids[0], ids[3], out, 2, -1},
		{"unknown", ids[0], "nope", out, 3, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, err := s.ShortestPath(t.Context(), tt.from, tt.to, tt.rules, tt.depth)
			if tt.hops < 0 {
				assert.ErrorIs(t, err, store.ErrNotFound)
				return
			}
			require.NoError(t, err)
			require.Len(t, path, tt.hops)
			at := tt.from
			for _, st := range path {
				if st.Forward {
					require.Equal(t, at, st.Rel.Source)
					at = st.Rel.Target
				} else {
					require.Equal(t, at, st.Rel.Target)
					at = st.Rel.Source
				}
			}
			require.Equal(t, tt.to, at)
		})
	}
	_, err := s.ShortestPath(t.Context(), ids[0], ids[1], out, 0)
	var inv *store.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "maxDepth", inv.Field)
}

// TestIndexFollowsWrites applies random edge and node changes with a tiny
// compaction threshold, and checks traversals against the reference after
// each round and after a reopen.
func TestIndexFollowsWrites(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	s.g.minCompact = 8 // set before any write: the writer reads it after our first send
	const n = 60
	ids := mkNodes(t, s, "i", n)
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"A", "B", "C"}
	live := map[tedge]bool{}
	deleted := map[int]bool{}
	edges := func() []tedge {
		var out []tedge
		for e := range live {
			out = append(out, e)
		}
		return out
	}
	check := func(s *Store) {
		for trial := 0; trial < 6; trial++ {
			start := rng.IntN(n)
			for deleted[start] {
				start = rng.IntN(n)
			}
			rules := [][]store.EdgeRule{{{Dir: store.Out}}, {{Dir: store.Both}}, {{Type: "A", Dir: store.In}, {Type: "B", Dir: store.Out}}}[trial%3]
			checkExpand(t, s, ids, edges(), store.Traversal{Start: []store.ID{ids[start]}, Rules: rules, MaxDepth: 1 + trial, MaxNodes: n})
		}
	}
	for round := 0; round < 25; round++ {
		var add, del []tedge
		for k := 0; k < 20; k++ {
			a, b := rng.IntN(n), rng.IntN(n)
			e := tedge{a, b, types[rng.IntN(3)]}
			if a == b || deleted[a] || deleted[b] || slicesContains(add, e) || slicesContains(del, e) {
				continue
			}
			if live[e] {
				del = append(del, e)
			} else {
				add = append(add, e)
			}
		}
		link(t, s, ids, add...)
		unlink(t, s, ids, del...)
		for _, e := range add {
			live[e] = true
		}
		for _, e := range del {
			delete(live, e)
		}
		if round%5 == 4 { // delete a node with its edges
			v := rng.IntN(n)
			if !deleted[v] {
				_, err := s.DeleteNodes(t.Context(), tester, store.KindCI, []store.ID{ids[v]})
				require.NoError(t, err)
				deleted[v] = true
				for e := range live {
					if e.from == v || e.to == v {
						delete(live, e)
					}
				}
			}
		}
		check(s)
	}
	assert.Positive(t, s.g.compactions)
	require.NoError(t, s.Close())
	s = openAt(t, dir)
	check(s)
	assert.Equal(t, len(live), s.g.nedges)
	assert.Equal(t, n-len(deleted), s.g.nodes)
}

func slicesContains(s []tedge, e tedge) bool {
	for _, x := range s {
		if x == e {
			return true
		}
	}
	return false
}

// TestExpandSeesCommittedStates: a writer adds and removes two edges
// together, in one call; concurrent traversals see both or neither.
func TestExpandSeesCommittedStates(t *testing.T) {
	s := newStore(t)
	s.g.minCompact = 4
	ids := mkNodes(t, s, "c", 4)
	link(t, s, ids, tedge{0, 1, ""})
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 40; i++ {
			link(t, s, ids, tedge{0, 2, ""}, tedge{0, 3, ""})
			unlink(t, s, ids, tedge{0, 2, ""}, tedge{0, 3, ""})
		}
		stop.Store(true)
	}()
	var seen [2]int
	for !stop.Load() {
		res, err := s.Expand(t.Context(), store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 1, MaxNodes: 10})
		require.NoError(t, err)
		switch len(res.Nodes) {
		case 2:
			seen[0]++
		case 4:
			seen[1]++
		default:
			t.Fatalf("saw a half-applied write: %d nodes", len(res.Nodes))
		}
	}
	wg.Wait()
	t.Logf("states seen: without %d, with %d", seen[0], seen[1])
}

func TestMaterialize(t *testing.T) {
	a, _ := parseUID("01a20c26-5822-77be-9df1-f8d22be447d0")
	b, _ := parseUID("01a20c26-5822-7813-9004-681fc337ef33")
	types := []string{"", "DEPENDS_ON", "X"}
	nodes := materialize([]resolved{{id: store.ID(formatUID(a)), parent: -1}, {id: store.ID(formatUID(b)), parent: 0, typ: 1, depth: 1, fwd: true}, {id: store.ID(formatUID(b)), parent: 0, typ: 2, depth: 1}}, types)
	require.Len(t, nodes, 3)
	assert.Equal(t, store.ID(formatUID(a)), nodes[0].ID)
	assert.Equal(t, store.Reached{ID: store.ID(formatUID(b)), Depth: 1, Via: nodes[0].ID, Type: "DEPENDS_ON", Forward: true}, nodes[1])
	assert.Equal(t, store.Step{Forward: true, Rel: store.Relationship{Type: "DEPENDS_ON", Source: nodes[0].ID, Target: nodes[1].ID}}, nodes[1].Step())
	assert.Equal(t, store.RelationshipKey{Source: nodes[1].ID, Type: "X", Target: nodes[0].ID}, nodes[2].Step().Rel.Key())
	assert.False(t, nodes[2].Forward)
}
