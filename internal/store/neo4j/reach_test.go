package neo4j

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// planOperators returns the operators of query's plan (EXPLAIN: nothing
// runs), depth first.
func planOperators(t *testing.T, s *Store, query string, params map[string]any) []string {
	t.Helper()
	ctx := context.Background()
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer sess.Close(ctx)
	res, err := sess.Run(ctx, "EXPLAIN "+query, params)
	require.NoError(t, err)
	sum, err := res.Consume(ctx)
	require.NoError(t, err)
	var ops []string
	var walk func(p neo4j.Plan)
	walk = func(p neo4j.Plan) {
		ops = append(ops, p.Operator())
		for _, c := range p.Children() {
			walk(c)
		}
	}
	walk(sum.Plan())
	return ops
}

// TestReachStatementPlans: every shape of the one-statement traversal is
// planned as a pruning breadth-first expand (each node visited once, its
// depth a by-product). A Neo4j version that plans them otherwise would
// enumerate paths and aggregate them, exponentially on a graph with hubs.
//
// The plan is asked of a store holding a small graph: on an empty one the
// planner's estimates are all zero and it may pick anything (it once
// planned a label scan of both ends and an expand between them), which
// costs nothing there and says nothing of a real estate.
func TestReachStatementPlans(t *testing.T) {
	s := newTestStore(t)
	var names []string
	var edges []string
	for i := 0; i < 200; i++ {
		names = append(names, fmt.Sprintf("n%d", i))
		if i > 0 {
			edges = append(edges, fmt.Sprintf("n%d>n%d", i, i/2))
			if j := (i * 7) % i; j != i/2 {
				edges = append(edges, fmt.Sprintf("n%d>n%d:RUNS_ON", i, j))
			}
		}
	}
	graph(t, s, names, edges...)
	for _, tt := range []struct {
		name  string
		rules []store.EdgeRule
	}{
		{"inwards", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}, {Type: "RUNS_ON", Dir: store.In}}},
		{"outwards, every type", []store.EdgeRule{{Dir: store.Out}}},
		{"both ways, same types", []store.EdgeRule{{Type: "CONNECTS_TO", Dir: store.Both}}},
		{"mixed directions", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}, {Type: "MEMBER_OF", Dir: store.Out}}},
		{"every type out, some in", []store.EdgeRule{{Dir: store.Out}, {Type: "RUNS_ON", Dir: store.In}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := newReachStatement(splitRules(tt.rules), store.MaxDepth)
			require.NoError(t, err)
			params := map[string]any{"id": "x", "limit": 10}
			for k, v := range rs.params {
				params[k] = v
			}
			ops := planOperators(t, s, rs.query, params)
			pruning := false
			for _, op := range ops {
				pruning = pruning || strings.HasPrefix(op, "VarLengthExpand(Pruning")
			}
			assert.True(t, pruning, "a pruning breadth-first expand: %v\n%s", ops, rs.query)
		})
	}
}
