package neo4j

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestReadSubgraph: the CIs within reach (starts included, nothing past the
// depth), each with its relationships along the edge rules only (in their
// direction), the far ends that were not reached with their fields, the
// budget, bad input, and a plan that is a pruning breadth-first expand.
func TestReadSubgraph(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	// e -> d -> c -> b <- a (DEPENDS_ON), b RUNS_ON h, x -> a (CONNECTS_TO)
	ids := graph(t, s, []string{"a", "b", "c", "d", "e", "h", "x"}, "a>b", "c>b", "d>c", "e>d", "b>h:RUNS_ON", "x>a:CONNECTS_TO")
	name := names(ids)
	q := store.SubgraphQuery{
		Start: []store.ID{ids["b"]}, Reach: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}}, MaxDepth: 2,
		Edges:    []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}, {Type: "RUNS_ON", Dir: store.Out}},
		MaxNodes: 10, Fields: []string{"name"},
	}
	sub, err := s.ReadSubgraph(ctx, q)
	require.NoError(t, err)
	var reached, far []string
	depths := map[string]int{}
	for i, n := range sub.Nodes {
		assert.Equal(t, name[n.ID], n.Attributes["name"], "fields of %s", name[n.ID])
		assert.Equal(t, store.KindCI, n.Kind)
		if i < sub.Reached {
			reached = append(reached, name[n.ID])
			depths[name[n.ID]] = sub.Depth[i]
		} else {
			far = append(far, name[n.ID])
		}
	}
	slices.Sort(reached)
	slices.Sort(far)
	assert.Equal(t, []string{"a", "b", "c", "d"}, reached, "within 2 hops, the start included")
	assert.Equal(t, []string{"h"}, far, "far ends not reached")
	assert.Equal(t, map[string]int{"b": 0, "a": 1, "c": 1, "d": 2}, depths)
	hops := map[string][]string{}
	for i := range sub.Reached {
		lo, hi := sub.Hops.Of(i)
		for k := lo; k < hi; k++ {
			dir := "<-"
			if sub.Hops.Forward[k] {
				dir = "->"
			}
			hops[name[sub.Nodes[i].ID]] = append(hops[name[sub.Nodes[i].ID]], dir+sub.Hops.Type[k]+" "+name[sub.Hops.Other[k]])
		}
	}
	for _, l := range hops {
		slices.Sort(l)
	}
	assert.Equal(t, map[string][]string{
		"b": {"->RUNS_ON h", "<-DEPENDS_ON a", "<-DEPENDS_ON c"},
		"c": {"<-DEPENDS_ON d"},
	}, hops, "a's outgoing DEPENDS_ON and incoming CONNECTS_TO are not along the edge rules; d, at the depth, has no EdgesAtMaxDepth")
	atDepth := q
	atDepth.EdgesAtMaxDepth = []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}}
	sub, err = s.ReadSubgraph(ctx, atDepth)
	require.NoError(t, err)
	require.Equal(t, 4, sub.Reached)
	require.Len(t, sub.Nodes, 6, "e, beyond the depth, is a far end now")
	for i := range sub.Reached {
		if lo, hi := sub.Hops.Of(i); name[sub.Nodes[i].ID] == "d" {
			require.Equal(t, 1, hi-lo)
			assert.Equal(t, "e", name[sub.Hops.Other[lo]])
			assert.False(t, sub.Hops.Forward[lo])
		}
	}
	var farNames []any
	for _, n := range sub.Nodes[sub.Reached:] {
		farNames = append(farNames, n.Attributes["name"])
	}
	assert.ElementsMatch(t, []any{"e", "h"}, farNames)

	nodesOnly := q
	nodesOnly.Edges = nil
	sub, err = s.ReadSubgraph(ctx, nodesOnly)
	require.NoError(t, err)
	assert.Equal(t, 4, sub.Reached)
	assert.Len(t, sub.Nodes, 4, "no relationships read, no far ends")
	assert.Empty(t, sub.Hops.Other)

	small := q
	small.MaxNodes = 3
	_, err = s.ReadSubgraph(ctx, small)
	assert.True(t, errors.Is(err, store.ErrSubgraphTooLarge), "%v", err)
	small.MaxNodes = 4
	_, err = s.ReadSubgraph(ctx, small)
	assert.NoError(t, err, "exactly the budget")

	for _, bad := range []struct {
		field string
		edit  func(q *store.SubgraphQuery)
	}{
		{"maxDepth", func(q *store.SubgraphQuery) { q.MaxDepth = 0 }},
		{"start", func(q *store.SubgraphQuery) { q.Start = nil }},
		{"edges", func(q *store.SubgraphQuery) { q.Edges = []store.EdgeRule{{Dir: store.In}} }},
		{"edges", func(q *store.SubgraphQuery) {
			q.Edges = []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Direction(9)}}
		}},
		{"edgesAtMaxDepth", func(q *store.SubgraphQuery) {
			q.EdgesAtMaxDepth = []store.EdgeRule{{Type: "MEMBER OF", Dir: store.In}}
		}},
		{"fields[0]", func(q *store.SubgraphQuery) { q.Fields = []string{"x y"} }},
		{"maxNodes", func(q *store.SubgraphQuery) { q.MaxNodes = store.MaxNodes + 1 }},
	} {
		b := q
		bad.edit(&b)
		_, err := s.ReadSubgraph(ctx, b)
		var inv *store.InvalidError
		require.ErrorAs(t, err, &inv, bad.field)
		assert.Equal(t, bad.field, inv.Field)
	}

	// The plan of the reach (the driver mis-reads the children of the
	// RollUpApply operator that the pattern comprehensions add: it names
	// one child twice).
	query, params, err := subgraphStatement(q)
	require.NoError(t, err)
	reach, _, ok := strings.Cut(query, "\nWITH collect(")
	require.True(t, ok, query)
	query = reach + "\nRETURN x.id, depth"
	ops := planOperators(t, s, query, params)
	pruning := false
	for _, op := range ops {
		pruning = pruning || strings.HasPrefix(op, "VarLengthExpand(Pruning")
	}
	assert.True(t, pruning, "a pruning breadth-first expand: %v\n%s", ops, query)
}
