package storetest

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var traversalCases = []testCase{
	{"TraverseCycleVisitsOnce", testTraverseCycle},
	{"TraverseDiamondVisitsOnce", testTraverseDiamond},
	{"TraverseHub", testTraverseHub},
	{"TraverseMinimumDepthMatchesReference", testTraverseRandomGraphs},
	{"TraversePerTypeDirections", testTraversePerTypeDirections},
	{"TraverseDepthLimit", testTraverseDepthLimit},
	{"TraverseNodeBudget", testTraverseBudget},
	{"TraverseNodeBudgetKeepsTheNearest", testTraverseBudgetNearest},
	{"TraverseManyAlternativePaths", testTraverseMesh},
	{"TraverseBadInput", testTraverseBadInput},
	{"TraverseStaysOnCIs", testTraverseStaysOnCIs},
	{"ShortestPath", testShortestPath},
	{"EdgesAreTheShapeOfRelationshipsOf", testEdgesShape},
}

// checkTraversal verifies a traversal result against the graph it ran on:
// each node once, depth equal to the reference BFS depth, and a valid
// explaining path for each node.
func checkTraversal(t *testing.T, ids []store.ID, edges []edge, tv store.Traversal, res store.TraversalResult) {
	t.Helper()
	index := map[store.ID]int{}
	for i, id := range ids {
		index[id] = i
	}
	var starts []int
	for _, s := range tv.Start {
		if i, ok := index[s]; ok {
			starts = append(starts, i)
		}
	}
	want := referenceBFS(len(ids), edges, starts, tv)
	got := map[store.ID]store.Reached{}
	lastDepth := 0
	for _, r := range res.Nodes {
		_, dup := got[r.ID]
		require.False(t, dup, "node %v reported twice", index[r.ID])
		got[r.ID] = r
		require.GreaterOrEqual(t, r.Depth, lastDepth, "depths are non-decreasing")
		lastDepth = r.Depth
		wd, ok := want[index[r.ID]]
		require.True(t, ok, "node %d is not reachable", index[r.ID])
		require.Equal(t, wd, r.Depth, "node %d: minimum depth", index[r.ID])
	}
	if !res.Truncated {
		require.Len(t, got, len(want), "every reachable node is reported")
	}
	allowed := func(typ string, forward bool) bool {
		for _, rule := range tv.Rules {
			if rule.Type != "" && rule.Type != typ {
				continue
			}
			if rule.Dir == store.Both || (rule.Dir == store.Out) == forward {
				return true
			}
		}
		return false
	}
	for _, r := range res.Nodes {
		if r.Depth == 0 {
			require.Empty(t, r.Via)
			continue
		}
		pred, ok := got[r.Via]
		require.True(t, ok, "predecessor of %d is reported", index[r.ID])
		require.Equal(t, r.Depth-1, pred.Depth, "predecessor of %d is one level up", index[r.ID])
		s := r.Step()
		require.True(t, allowed(s.Rel.Type, s.Forward), "hop %s forward=%v is allowed by the rules", s.Rel.Type, s.Forward)
		require.True(t, hasEdge(edges, index[s.Rel.Source], index[s.Rel.Target], s.Rel.Type), "hop is a real edge")
	}
}

func hasEdge(edges []edge, from, to int, typ string) bool {
	for _, e := range edges {
		et := e.typ
		if et == "" {
			et = "DEPENDS_ON"
		}
		if e.from == from && e.to == to && et == typ {
			return true
		}
	}
	return false
}

// referenceBFS computes true minimum depths by index, ignoring the budget.
func referenceBFS(n int, edges []edge, starts []int, tv store.Traversal) map[int]int {
	adj := make([][]int, n)
	for _, e := range edges {
		et := e.typ
		if et == "" {
			et = "DEPENDS_ON"
		}
		for _, r := range tv.Rules {
			if r.Type != "" && r.Type != et {
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
	for _, i := range starts {
		if _, ok := depth[i]; !ok {
			depth[i] = 0
			frontier = append(frontier, i)
		}
	}
	for d := 1; d <= tv.MaxDepth && len(frontier) > 0; d++ {
		var next []int
		for _, u := range frontier {
			for _, v := range adj[u] {
				if _, seen := depth[v]; !seen {
					depth[v] = d
					next = append(next, v)
				}
			}
		}
		frontier = next
	}
	return depth
}

// expand runs tv, and again as DepthOnly, which must reach the same nodes
// at the same depths, in non-decreasing depth, with the same Truncated
// (a backend may answer it another way: Neo4j in one statement).
func expand(t *testing.T, st store.Store, tv store.Traversal) store.TraversalResult {
	t.Helper()
	res, err := st.Expand(t.Context(), tv)
	require.NoError(t, err)
	only := tv
	only.DepthOnly = true
	short, err := st.Expand(t.Context(), only)
	require.NoError(t, err)
	require.Equal(t, res.Truncated, short.Truncated, "DepthOnly: Truncated")
	require.Equal(t, depths(res), depths(short), "DepthOnly: the same nodes at the same depths")
	for i := 1; i < len(short.Nodes); i++ {
		require.LessOrEqual(t, short.Nodes[i-1].Depth, short.Nodes[i].Depth, "DepthOnly: depths are non-decreasing")
	}
	return res
}

func depths(res store.TraversalResult) map[store.ID]int {
	out := make(map[store.ID]int, len(res.Nodes))
	for _, r := range res.Nodes {
		out[r.ID] = r.Depth
	}
	return out
}

func out(typ string) []store.EdgeRule { return []store.EdgeRule{{Type: typ, Dir: store.Out}} }

func testTraverseCycle(t *testing.T, st store.Store) {
	ids := nodes(t, st, "c", 5)
	edges := []edge{{0, 1, ""}, {1, 2, ""}, {2, 3, ""}, {3, 0, ""}, {3, 4, ""}, {4, 4 - 3, ""}}
	link(t, st, ids, edges...)
	for _, dir := range []store.Direction{store.Out, store.In, store.Both} {
		tv := store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: dir}}, MaxDepth: 10, MaxNodes: 100}
		res := expand(t, st, tv)
		checkTraversal(t, ids, edges, tv, res)
		assert.Len(t, res.Nodes, 5, dir.String())
		assert.False(t, res.Truncated)
	}
}

func testTraverseDiamond(t *testing.T, st store.Store) {
	ids := nodes(t, st, "d", 6)
	// 0 -> {1,2} -> 3 -> 4, and a long way round 0 -> 5 -> 4.
	edges := []edge{{0, 1, ""}, {0, 2, ""}, {1, 3, ""}, {2, 3, ""}, {3, 4, ""}, {0, 5, ""}, {5, 4, ""}}
	link(t, st, ids, edges...)
	tv := store.Traversal{Start: ids[:1], Rules: out(""), MaxDepth: 8, MaxNodes: 100}
	res := expand(t, st, tv)
	checkTraversal(t, ids, edges, tv, res)
	depth := map[store.ID]int{}
	for _, r := range res.Nodes {
		depth[r.ID] = r.Depth
	}
	assert.Equal(t, 2, depth[ids[3]], "the diamond's bottom is reached once, at depth 2")
	assert.Equal(t, 2, depth[ids[4]], "via the short way round")
	// Several starts: each start is depth 0 even when reachable from another.
	tv = store.Traversal{Start: []store.ID{ids[0], ids[3], ids[0], "unknown-id"}, Rules: out(""), MaxDepth: 8, MaxNodes: 100}
	res = expand(t, st, tv)
	checkTraversal(t, ids, edges, tv, res)
	require.GreaterOrEqual(t, len(res.Nodes), 2)
	assert.Equal(t, ids[0], res.Nodes[0].ID)
	assert.Equal(t, ids[3], res.Nodes[1].ID)
	assert.Equal(t, 0, res.Nodes[1].Depth)
}

func testTraverseHub(t *testing.T, st store.Store) {
	const spokes = 300
	ids := nodes(t, st, "h", spokes+3)
	hub := spokes
	var edges []edge
	for i := 0; i < spokes; i++ {
		edges = append(edges, edge{i, hub, "CONNECTS_TO"}) // every server plugs into the core switch
	}
	edges = append(edges, edge{hub, spokes + 1, "DEPENDS_ON"}, edge{spokes + 2, 0, "DEPENDS_ON"})
	link(t, st, ids, edges...)
	// Who is impacted when the hub fails: everything that connects to it,
	// and what depends on those.
	tv := store.Traversal{Start: []store.ID{ids[hub]}, Rules: []store.EdgeRule{{Type: "CONNECTS_TO", Dir: store.In}, {Type: "DEPENDS_ON", Dir: store.In}}, MaxDepth: 4, MaxNodes: 10000}
	res := expand(t, st, tv)
	checkTraversal(t, ids, edges, tv, res)
	assert.Len(t, res.Nodes, spokes+2)
	// From a spoke, through the hub, to every other spoke in two hops.
	tv = store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Type: "CONNECTS_TO", Dir: store.Both}}, MaxDepth: 2, MaxNodes: 10000}
	res = expand(t, st, tv)
	checkTraversal(t, ids, edges, tv, res)
	assert.Len(t, res.Nodes, spokes+1)
}

func testTraverseRandomGraphs(t *testing.T, st store.Store) {
	const n, m = 150, 450
	ids := nodes(t, st, "r", n)
	rng := rand.New(rand.NewPCG(7, 11))
	types := []string{"DEPENDS_ON", "RUNS_ON", "HOSTED_ON"}
	seen := map[[3]int]bool{}
	var edges []edge
	for len(edges) < m {
		a, b, ty := rng.IntN(n), rng.IntN(n), rng.IntN(len(types))
		if a == b || seen[[3]int{a, b, ty}] {
			continue
		}
		seen[[3]int{a, b, ty}] = true
		edges = append(edges, edge{a, b, types[ty]})
	}
	link(t, st, ids, edges...)
	ruleSets := [][]store.EdgeRule{
		{{Dir: store.Out}},
		{{Dir: store.In}},
		{{Type: "DEPENDS_ON", Dir: store.In}, {Type: "RUNS_ON", Dir: store.Out}},
		{{Type: "HOSTED_ON", Dir: store.Both}},
	}
	for trial := 0; trial < 8; trial++ {
		starts := []store.ID{ids[rng.IntN(n)]}
		if trial%2 == 1 {
			starts = append(starts, ids[rng.IntN(n)], ids[rng.IntN(n)])
		}
		tv := store.Traversal{Start: starts, Rules: ruleSets[trial%len(ruleSets)], MaxDepth: 1 + trial, MaxNodes: n}
		checkTraversal(t, ids, edges, tv, expand(t, st, tv))
	}
}

func testTraversePerTypeDirections(t *testing.T, st store.Store) {
	// app DEPENDS_ON db; vm RUNS_ON host; app RUNS_ON vm; cluster <- MEMBER_OF host
	ids := nodes(t, st, "p", 5)
	const appI, dbI, vmI, hostI, clusterI = 0, 1, 2, 3, 4
	edges := []edge{{appI, dbI, "DEPENDS_ON"}, {vmI, hostI, "RUNS_ON"}, {appI, vmI, "RUNS_ON"}, {hostI, clusterI, "MEMBER_OF"}}
	link(t, st, ids, edges...)
	// Impact of the host failing: follow RUNS_ON and DEPENDS_ON backwards
	// (towards sources) and MEMBER_OF forwards (towards the group).
	tv := store.Traversal{Start: []store.ID{ids[hostI]}, Rules: []store.EdgeRule{
		{Type: "RUNS_ON", Dir: store.In}, {Type: "DEPENDS_ON", Dir: store.In}, {Type: "MEMBER_OF", Dir: store.Out},
	}, MaxDepth: 5, MaxNodes: 100}
	res := expand(t, st, tv)
	checkTraversal(t, ids, edges, tv, res)
	got := map[store.ID]bool{}
	for _, r := range res.Nodes {
		got[r.ID] = true
	}
	assert.True(t, got[ids[vmI]] && got[ids[appI]] && got[ids[clusterI]])
	assert.False(t, got[ids[dbI]], "the database is not impacted by the host")
}

func testTraverseDepthLimit(t *testing.T, st store.Store) {
	ids := nodes(t, st, "l", 10)
	var edges []edge
	for i := 0; i < 9; i++ {
		edges = append(edges, edge{i, i + 1, ""})
	}
	link(t, st, ids, edges...)
	for _, depth := range []int{1, 3, 9, 20} {
		tv := store.Traversal{Start: ids[:1], Rules: out("DEPENDS_ON"), MaxDepth: depth, MaxNodes: 100}
		res := expand(t, st, tv)
		checkTraversal(t, ids, edges, tv, res)
		assert.Len(t, res.Nodes, 1+min(depth, 9), "depth %d", depth)
		assert.False(t, res.Truncated)
	}
}

func testTraverseBudget(t *testing.T, st store.Store) {
	ids := nodes(t, st, "b", 41)
	var edges []edge
	for i := 1; i <= 40; i++ {
		edges = append(edges, edge{0, i, ""})
	}
	link(t, st, ids, edges...)
	tv := store.Traversal{Start: ids[:1], Rules: out(""), MaxDepth: 3, MaxNodes: 10}
	res := expand(t, st, tv)
	checkTraversal(t, ids, edges, tv, res)
	assert.True(t, res.Truncated)
	assert.Len(t, res.Nodes, 11, "the start and exactly the budget")
	tv.MaxNodes = 40
	res = expand(t, st, tv)
	assert.False(t, res.Truncated, "a budget that is exactly enough does not truncate")
	assert.Len(t, res.Nodes, 41)
}

// testTraverseStaysOnCIs: a traversal walks CIs only; two CIs owned by
// the same person are not connected through that person.
func testTraverseStaysOnCIs(t *testing.T, st store.Store) {
	svc := newService(t, st)
	people, _, cis := kindEstate(t, st, svc)
	var in []store.RelationshipInput
	for _, ci := range cis {
		in = append(in, store.RelationshipInput{Type: "OWNED_BY", Source: ci, Target: people[0]})
	}
	res, err := st.CreateRelationships(t.Context(), builder, in, true)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	for _, rules := range [][]store.EdgeRule{
		{{Dir: store.Both}},
		{{Type: "OWNED_BY", Dir: store.Out}, {Type: "OWNED_BY", Dir: store.In}},
		{{Type: "OWNED_BY", Dir: store.Out}, {Type: "DEPENDS_ON", Dir: store.In}},
	} {
		tv := store.Traversal{Start: cis[:1], Rules: rules, MaxDepth: 4, MaxNodes: 100}
		got := expand(t, st, tv)
		assert.Equal(t, map[store.ID]int{cis[0]: 0}, depths(got), "rules %v", rules)
		_, err := st.ShortestPath(t.Context(), cis[0], cis[1], rules, 4)
		assert.ErrorIs(t, err, store.ErrNotFound, "no path through a person, rules %v", rules)
	}
	for _, tt := range []struct {
		start []store.ID
		want  map[store.ID]int
	}{
		{people[:1], map[store.ID]int{}},
		{[]store.ID{people[0], cis[0]}, map[store.ID]int{cis[0]: 0}},
	} {
		got := expand(t, st, store.Traversal{Start: tt.start, Rules: []store.EdgeRule{{Dir: store.Both}}, MaxDepth: 2, MaxNodes: 100})
		assert.Equal(t, tt.want, depths(got), "a start of another kind is not a CI: ignored")
	}
}

// testTraverseBudgetKeepsTheNearest: a budget keeps every node of each
// depth before the last one it reaches, whichever way the store answers.
func testTraverseBudgetNearest(t *testing.T, st store.Store) {
	// The start, 6 nodes at depth 1, each with 6 at depth 2, each of
	// those with one at depth 3: 6 + 36 + 36 nodes.
	ids := nodes(t, st, "n", 1+6+36+36)
	var edges []edge
	for i := 0; i < 6; i++ {
		edges = append(edges, edge{1 + i, 0, ""})
		for j := 0; j < 6; j++ {
			d2 := 7 + 6*i + j
			edges = append(edges, edge{d2, 1 + i, ""}, edge{d2 + 36, d2, ""})
		}
	}
	link(t, st, ids, edges...)
	for _, budget := range []int{1, 5, 6, 7, 20, 42, 43, 77} {
		for _, depthOnly := range []bool{false, true} {
			tv := store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: store.In}}, MaxDepth: 5, MaxNodes: budget, DepthOnly: depthOnly}
			res, err := st.Expand(t.Context(), tv)
			require.NoError(t, err)
			require.Len(t, res.Nodes, 1+budget, "budget %d", budget)
			assert.True(t, res.Truncated, "budget %d", budget)
			perDepth := map[int]int{}
			for _, r := range res.Nodes {
				perDepth[r.Depth]++
			}
			want := map[int]int{0: 1}
			left := budget
			for d, n := range []int{6, 36, 36} {
				if left > 0 {
					want[d+1] = min(n, left)
				}
				left -= n
			}
			assert.Equal(t, want, perDepth, "budget %d, depth only %v: the nearest nodes", budget, depthOnly)
		}
	}
}

// testTraverseMesh: layers of CIs, each depending on every CI of the next
// layer, so that the number of paths multiplies with each layer (12^7, 35
// million, from the first CI to the last layer): a traversal that
// enumerated paths would not finish; one that visits each CI once answers
// at once, with the right depths, both ways, in both directions.
func testTraverseMesh(t *testing.T, st store.Store) {
	const layers, width = 8, 12
	ids := nodes(t, st, "m", 1+(layers-1)*width)
	var edges []edge
	prev := []int{0}
	for l := 1; l < layers; l++ {
		var cur []int
		for i := 0; i < width; i++ {
			cur = append(cur, 1+(l-1)*width+i)
		}
		for _, a := range prev {
			for _, b := range cur {
				edges = append(edges, edge{a, b, "DEPENDS_ON"})
			}
		}
		prev = cur
	}
	link(t, st, ids, edges...)
	for _, tv := range []store.Traversal{
		{Start: ids[:1], Rules: out("DEPENDS_ON"), MaxDepth: store.MaxDepth, MaxNodes: 1000},
		{Start: ids[len(ids)-1:], Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}}, MaxDepth: store.MaxDepth, MaxNodes: 1000},
		{Start: ids[1:2], Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Both}}, MaxDepth: store.MaxDepth, MaxNodes: 1000},
	} {
		res := expand(t, st, tv)
		checkTraversal(t, ids, edges, tv, res)
		assert.False(t, res.Truncated)
	}
	res := expand(t, st, store.Traversal{Start: ids[:1], Rules: out("DEPENDS_ON"), MaxDepth: store.MaxDepth, MaxNodes: 1000})
	assert.Len(t, res.Nodes, len(ids), "every CI once")
	assert.Equal(t, layers-1, res.Nodes[len(res.Nodes)-1].Depth)
	path, err := st.ShortestPath(t.Context(), ids[0], ids[len(ids)-1], []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Both}}, store.MaxDepth)
	require.NoError(t, err)
	assert.Len(t, path, layers-1)
}

func testTraverseBadInput(t *testing.T, st store.Store) {
	ids := nodes(t, st, "x", 1)
	ok := store.Traversal{Start: ids, Rules: out(""), MaxDepth: 2, MaxNodes: 10}
	tests := []struct {
		name  string
		edit  func(*store.Traversal)
		field string
	}{
		{"no start", func(tv *store.Traversal) { tv.Start = nil }, "start"},
		{"depth zero", func(tv *store.Traversal) { tv.MaxDepth = 0 }, "maxDepth"},
		{"depth too deep", func(tv *store.Traversal) { tv.MaxDepth = store.MaxDepth + 1 }, "maxDepth"},
		{"no budget", func(tv *store.Traversal) { tv.MaxNodes = 0 }, "maxNodes"},
		{"no rules", func(tv *store.Traversal) { tv.Rules = nil }, "rules"},
		{"bad direction", func(tv *store.Traversal) { tv.Rules = []store.EdgeRule{{Dir: 9}} }, "rules"},
		{"injected type", func(tv *store.Traversal) { tv.Rules = out("X]-() DETACH DELETE n //") }, "rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tv := ok
			tt.edit(&tv)
			_, err := st.Expand(t.Context(), tv)
			requireInvalid(t, err, tt.field)
		})
	}
	res := expand(t, st, store.Traversal{Start: []store.ID{"no-such-ci"}, Rules: out(""), MaxDepth: 2, MaxNodes: 10})
	assert.Empty(t, res.Nodes, "unknown starts are ignored")
}

func testShortestPath(t *testing.T, st store.Store) {
	ids := nodes(t, st, "s", 7)
	// 0->1->2->3->4 and a shortcut 0->5->4; 6 is isolated; 4 RUNS_ON 2.
	edges := []edge{{0, 1, ""}, {1, 2, ""}, {2, 3, ""}, {3, 4, ""}, {0, 5, ""}, {5, 4, ""}, {4, 2, "RUNS_ON"}}
	link(t, st, ids, edges...)
	path, err := st.ShortestPath(t.Context(), ids[0], ids[4], out("DEPENDS_ON"), 10)
	require.NoError(t, err)
	require.Len(t, path, 2)
	checkPath(t, ids[0], ids[4], path)
	assert.Equal(t, ids[5], path[0].Rel.Target)

	path, err = st.ShortestPath(t.Context(), ids[4], ids[0], []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}}, 10)
	require.NoError(t, err)
	require.Len(t, path, 2)
	checkPath(t, ids[4], ids[0], path)
	assert.False(t, path[0].Forward)

	// Mixed rules: 0 -DEPENDS_ON-> 1 -DEPENDS_ON-> 2 <-RUNS_ON- 4
	path, err = st.ShortestPath(t.Context(), ids[1], ids[4], []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}, {Type: "RUNS_ON", Dir: store.In}}, 10)
	require.NoError(t, err)
	require.Len(t, path, 2)
	checkPath(t, ids[1], ids[4], path)

	path, err = st.ShortestPath(t.Context(), ids[3], ids[3], out(""), 3)
	require.NoError(t, err)
	assert.Empty(t, path)

	_, err = st.ShortestPath(t.Context(), ids[0], ids[6], []store.EdgeRule{{Dir: store.Both}}, 10)
	assert.ErrorIs(t, err, store.ErrNotFound, "no path")
	_, err = st.ShortestPath(t.Context(), ids[4], ids[0], out("DEPENDS_ON"), 10)
	assert.ErrorIs(t, err, store.ErrNotFound, "direction is respected")
	_, err = st.ShortestPath(t.Context(), ids[0], ids[3], out("DEPENDS_ON"), 2)
	assert.ErrorIs(t, err, store.ErrNotFound, "too far for maxDepth")
	_, err = st.ShortestPath(t.Context(), ids[0], "no-such-ci", out(""), 3)
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.ShortestPath(t.Context(), ids[0], ids[4], out(""), 0)
	requireInvalid(t, err, "maxDepth")
	_, err = st.ShortestPath(t.Context(), ids[0], ids[4], nil, 3)
	requireInvalid(t, err, "rules")
}

func checkPath(t *testing.T, from, to store.ID, path []store.Step) {
	t.Helper()
	at := from
	for i, s := range path {
		if s.Forward {
			require.Equal(t, at, s.Rel.Source, "step %d", i)
			at = s.Rel.Target
		} else {
			require.Equal(t, at, s.Rel.Target, "step %d", i)
			at = s.Rel.Source
		}
		if s.Rel.ID != "" {
			require.Equal(t, s.Rel.Key().ID(), s.Rel.ID, "step %d", i)
		}
	}
	require.Equal(t, to, at)
}

// testEdgesShape: Edges gives what RelationshipsOf gives, without the
// relationships' properties, in the same order, for every direction and
// type filter, after relationships are deleted and created again; and it
// refuses what RelationshipsOf refuses.
func testEdgesShape(t *testing.T, st store.Store) {
	ids := nodes(t, st, "e", 12)
	rng := rand.New(rand.NewPCG(3, 5))
	types := []string{"DEPENDS_ON", "RUNS_ON", "HOSTED_ON"}
	seen := map[[3]int]bool{}
	var edges []edge
	for len(edges) < 40 {
		a, b, ty := rng.IntN(len(ids)), rng.IntN(len(ids)), rng.IntN(len(types))
		if a == b || seen[[3]int{a, b, ty}] {
			continue
		}
		seen[[3]int{a, b, ty}] = true
		edges = append(edges, edge{a, b, types[ty]})
	}
	link(t, st, ids, edges...)
	// Delete some (the embedded index keeps deletions apart from its base)
	// and create one of them again.
	var del []store.ID
	for _, e := range edges[:6] {
		del = append(del, store.RelationshipKey{Source: ids[e.from], Type: e.typ, Target: ids[e.to]}.ID())
	}
	_, err := st.DeleteRelationships(t.Context(), builder, del)
	require.NoError(t, err)
	link(t, st, ids, edges[0])

	ask := append(slices.Clone(ids[:8]), ids[0], "00000000-0000-7000-8000-000000000000")
	for _, dir := range []store.Direction{store.Out, store.In, store.Both} {
		for _, ts := range [][]string{nil, {"RUNS_ON"}, {"DEPENDS_ON", "HOSTED_ON"}, {"NOT_A_TYPE_HERE"}} {
			rels, err := st.RelationshipsOf(t.Context(), ask, dir, ts)
			require.NoError(t, err)
			hops, err := st.Edges(t.Context(), ask, dir, ts)
			require.NoError(t, err)
			require.Equal(t, len(ask), hops.Nodes(), "one entry per node asked for, duplicates and unknown ones included")
			// A node asked for twice has its hops at each place.
			first, again := hops.Steps(0, ask[0]), hops.Steps(8, ask[8])
			store.SortSteps(first)
			store.SortSteps(again)
			require.Equal(t, first, again, "dir %v, types %v", dir, ts)
			got := hops.Map(ask)
			for id, steps := range got {
				for _, s := range steps {
					assert.Empty(t, s.Rel.ID, "%s: Edges leaves IDs to Key().ID()", id)
				}
				store.SortSteps(steps) // in no particular order; RelationshipsOf's is by ID
			}
			want := map[store.ID][]store.Step{}
			for id, rs := range rels {
				for _, r := range rs {
					want[id] = append(want[id], store.Step{
						Rel:     store.Relationship{ID: r.ID, Type: r.Type, Source: r.Source, Target: r.Target},
						Forward: r.Source == id,
					})
				}
			}
			assert.Equal(t, want, got, "dir %v, types %v", dir, ts)
		}
	}
	for _, bad := range []struct {
		dir   store.Direction
		types []string
		field string
	}{{store.Direction(9), nil, "dir"}, {store.Out, []string{"X) DETACH DELETE n //"}, "types"}} {
		_, err := st.Edges(t.Context(), ids[:1], bad.dir, bad.types)
		var inv *store.InvalidError
		require.ErrorAs(t, err, &inv)
		assert.Equal(t, bad.field, inv.Field)
	}
	_, err = st.Edges(t.Context(), make([]store.ID, store.MaxBatch+1), store.Out, nil)
	require.ErrorAs(t, err, new(*store.InvalidError))
}
