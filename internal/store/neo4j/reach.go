package neo4j

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/skein-cmdb/skein/internal/store"
)

// reachStatement answers a depth-only traversal from one start in one
// statement: a quantified path pattern whose only use of the path is its
// length, grouped by the node reached,
//
//	MATCH p = (s:CI {id: $id})((a)<-[r:T1|T2]-(b:CI)){0,8}(x)
//	RETURN x.id, min(length(p))
//
// which Neo4j 5 plans as a pruning breadth-first expand (the
// VarLengthExpand(Pruning,BFS) operator): every node is visited once, at
// its minimum depth, and the depth comes with it. Rules that follow some
// types outwards and others inwards (impact's MEMBER_OF against
// DEPENDS_ON) become one undirected step with a per-relationship direction
// check, which the planner keeps in the same operator; the inner (b:CI)
// keeps the walk on CIs, as the level-by-level queries do.
//
// Measured on the 50,000-CI estate of skein bench graph (ADR 0004,
// revisited; docs/PERFORMANCE.md): from the DNS hub (41,158 CIs reached)
// 167 ms against 534 ms level by level and 412 ms for the plain Cypher
// RETURN DISTINCT query. TestReachStatementPlans keeps the plan honest: it
// fails if a Neo4j version stops planning these statements as a pruning
// expand.
type reachStatement struct {
	query  string
	params map[string]any
}

// qReach is the statement: the start is the walk of length 0 (the lower
// bound 0), so that "nothing reached" (the start alone) and "no such start"
// (no record) differ; at most $limit nodes, the start included, come back,
// one record per depth with the ids as a list: a Bolt record costs several
// microseconds to send and read, a list element a fraction of that (from
// the DNS hub, 41,158 CIs: 400 ms as one record per CI, 140 ms as one per
// depth). {STEP} is a quantified step built from checked type names,
// {DEPTH} the checked depth bound (a quantifier cannot be a parameter).
// An earlier form read the start in a first part of a UNION ALL and the
// walk from depth 1 in a second: one seek of the start more, 10-40 µs of a
// small traversal's 0.4-0.6 ms.
const qReach = `MATCH p = (s:CI {id: $id}){STEP}{0,{DEPTH}}(x)
WITH x.id AS id, min(length(p)) AS depth
LIMIT $limit
RETURN depth, collect(id) AS ids
ORDER BY depth`

func newReachStatement(s edgeSets, depth int) (*reachStatement, error) {
	if depth < 1 || depth > store.MaxDepth {
		return nil, store.Invalid("maxDepth", "must be between 1 and %d, got %d", store.MaxDepth, depth)
	}
	step, params, err := reachStep(s)
	if err != nil {
		return nil, err
	}
	q := strings.Replace(qReach, "{STEP}", step, 1)
	q = strings.Replace(q, "{DEPTH}", fmt.Sprint(depth), 1)
	return &reachStatement{query: q, params: params}, nil
}

// reachStep is the quantified step for the rules: one direction, the same
// types both ways (undirected), or different types each way.
func reachStep(s edgeSets) (string, map[string]any, error) {
	out, err := s.out.pattern()
	if err != nil {
		return "", nil, err
	}
	in, err := s.in.pattern()
	if err != nil {
		return "", nil, err
	}
	switch {
	case s.in.empty():
		return "((a)-[r" + out + "]->(b:CI))", nil, nil
	case s.out.empty():
		return "((a)<-[r" + in + "]-(b:CI))", nil, nil
	case s.out.equal(s.in):
		return "((a)-[r" + out + "]-(b:CI))", nil, nil
	}
	var union edgeSet
	if !s.out.all && !s.in.all {
		union.types = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(s.out.types), s.in.types...))))
	} else {
		union.all = true
	}
	both, err := union.pattern()
	if err != nil {
		return "", nil, err
	}
	params := map[string]any{}
	cond := func(e edgeSet, end, param string) string {
		if e.all {
			return "startNode(r) = " + end
		}
		params[param] = e.types
		return "(startNode(r) = " + end + " AND type(r) IN $" + param + ")"
	}
	where := cond(s.out, "a", "out") + " OR " + cond(s.in, "b", "in")
	return "((a)-[r" + both + "]-(b:CI) WHERE " + where + ")", params, nil
}

// run answers the traversal from start with at most budget nodes reached,
// the nearest ones, in one statement (Store.readOne).
func (rs *reachStatement) run(ctx context.Context, s *Store, start store.ID, budget int) (store.TraversalResult, error) {
	params := make(map[string]any, len(rs.params)+2)
	for k, v := range rs.params {
		params[k] = v
	}
	params["id"] = string(start)
	params["limit"] = budget + 2 // the start, the budget, and one to tell a cut
	recs, err := s.readOne(ctx, "expand", rs.query, params)
	if err != nil {
		return store.TraversalResult{}, err
	}
	out := store.TraversalResult{Nodes: []store.Reached{}}
	if len(recs) == 0 {
		// No such start (one that exists is at least the walk of length
		// 0): nothing is reached (store.Traverser ignores unknown starts).
		return out, nil
	}
	withStart := false
	for _, rec := range recs {
		depth, _ := rec.Values[0].(int64)
		ids, _ := rec.Values[1].([]any)
		withStart = withStart || depth == 0
		for _, id := range ids {
			out.Nodes = append(out.Nodes, store.Reached{ID: store.ID(asString(id)), Depth: int(depth)})
		}
	}
	if !withStart {
		// LIMIT cut the start, which a breadth-first plan never does (it
		// is the first node the expand meets): it is still the start.
		out.Nodes = append([]store.Reached{{ID: start, Depth: 0}}, out.Nodes...)
	}
	// Records come in depth order (ORDER BY); a plan that did not keep
	// it would still give depths in order.
	byDepth := func(x, y store.Reached) int { return cmp.Compare(x.Depth, y.Depth) }
	if !slices.IsSortedFunc(out.Nodes, byDepth) {
		slices.SortStableFunc(out.Nodes, byDepth)
	}
	if len(out.Nodes)-1 > budget {
		// The expand is breadth-first, so LIMIT kept the nearest nodes:
		// all of every depth but the last, and some of the last.
		// TraverseNodeBudgetKeepsTheNearest checks it on both backends.
		out.Nodes, out.Truncated = out.Nodes[:budget+1], true
	}
	return out, nil
}

// oneStart reports whether ids name one start (repeated or not).
func oneStart(ids []store.ID) bool {
	for _, id := range ids[1:] {
		if id != ids[0] {
			return false
		}
	}
	return len(ids) > 0
}
