package neo4j

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// frontierChunk bounds the list parameter of one expansion statement.
const frontierChunk = 5000

const (
	// qExpandOut and qExpandIn expand one breadth-first level: every
	// relationship of the wanted types leaving (entering) a frontier CI,
	// anchored through the unique CI id. No variable-length pattern: cost is
	// linear in the relationships touched.
	// One row per distinct neighbour of the frontier, with one (the
	// smallest) predecessor and type: a hub's level is returned as the CIs
	// it reaches, not as every edge into them.
	// The rows come as three parallel lists, a thousand elements to a
	// record (listRecords): a record costs several microseconds to send
	// and read, a list element a fraction.
	qExpandOut = `UNWIND $frontier AS fid
MATCH (n:CI {id: fid})-[r{TYPES}]->(m:CI)
WITH m.id AS mid, min([fid, type(r)]) AS via
WITH collect(via[0]) AS l1, collect(via[1]) AS l2, collect(mid) AS l3` + listRecords
	qExpandIn = `UNWIND $frontier AS fid
MATCH (n:CI {id: fid})<-[r{TYPES}]-(m:CI)
WITH m.id AS mid, min([fid, type(r)]) AS via
WITH collect(via[0]) AS l1, collect(via[1]) AS l2, collect(mid) AS l3` + listRecords
	qExisting = `UNWIND $ids AS id
MATCH (c:CI {id: id})
RETURN id`
)

// edgeSet is the relationship types a traversal may follow in one
// direction: all of them, some, or none.
type edgeSet struct {
	all   bool
	types []string
}

func (e edgeSet) empty() bool { return !e.all && len(e.types) == 0 }

func (e edgeSet) equal(o edgeSet) bool {
	return e.all == o.all && (e.all || slices.Equal(e.types, o.types))
}

// pattern is the type part of a relationship pattern for this set.
func (e edgeSet) pattern() (string, error) {
	if e.all {
		return "", nil
	}
	return typeExpr(e.types)
}

// edgeSets splits edge rules into what may be followed forwards (the
// current CI is the source) and backwards (it is the target).
type edgeSets struct{ out, in edgeSet }

func splitRules(rules []store.EdgeRule) edgeSets {
	var s edgeSets
	add := func(e *edgeSet, typ string) {
		if typ == "" {
			e.all, e.types = true, nil
		} else if !e.all && !slices.Contains(e.types, typ) {
			e.types = append(e.types, typ)
		}
	}
	for _, r := range rules {
		if r.Dir == store.Out || r.Dir == store.Both {
			add(&s.out, r.Type)
		}
		if r.Dir == store.In || r.Dir == store.Both {
			add(&s.in, r.Type)
		}
	}
	slices.Sort(s.out.types)
	slices.Sort(s.in.types)
	return s
}

// reverse is the rule set that walks the same edges from the other end.
func (s edgeSets) reverse() edgeSets { return edgeSets{out: s.in, in: s.out} }

// hop is one relationship found while expanding a frontier CI.
type hop struct {
	from, to store.ID
	step     store.Step
}

// expander runs level expansions for one edge set.
type expander struct {
	outQ, inQ string // "" when the direction is not followed
}

func newExpander(s edgeSets) (*expander, error) {
	e := &expander{}
	if !s.out.empty() {
		p, err := s.out.pattern()
		if err != nil {
			return nil, err
		}
		e.outQ = strings.Replace(qExpandOut, "{TYPES}", p, 1)
	}
	if !s.in.empty() {
		p, err := s.in.pattern()
		if err != nil {
			return nil, err
		}
		e.inQ = strings.Replace(qExpandIn, "{TYPES}", p, 1)
	}
	return e, nil
}

// level passes every hop out of the frontier to visit, which returns true
// to stop early (the rest of the result is discarded).
func (e *expander) level(ctx context.Context, tx neo4j.ManagedTransaction, frontier []store.ID, visit func(hop) bool) (bool, error) {
	for _, dir := range []struct {
		q       string
		forward bool
	}{{e.outQ, true}, {e.inQ, false}} {
		if dir.q == "" {
			continue
		}
		for start := 0; start < len(frontier); start += frontierChunk {
			chunk := frontier[start:min(start+frontierChunk, len(frontier))]
			ids := make([]string, len(chunk))
			for i, id := range chunk {
				ids[i] = string(id)
			}
			recs, err := collect(ctx, tx, dir.q, map[string]any{"frontier": ids})
			if err != nil {
				return false, err
			}
			for _, rec := range recs {
				froms, types, tos, err := parallelLists(rec.Values)
				if err != nil {
					return false, err
				}
				for i := range froms {
					from, typ, to := store.ID(asString(froms[i])), asString(types[i]), store.ID(asString(tos[i]))
					k := store.RelationshipKey{Source: from, Type: typ, Target: to}
					if !dir.forward {
						k.Source, k.Target = to, from
					}
					h := hop{from: from, to: to, step: store.Step{
						Rel:     store.Relationship{Type: typ, Source: k.Source, Target: k.Target},
						Forward: dir.forward,
					}}
					if visit(h) {
						return true, nil
					}
				}
			}
		}
	}
	return false, nil
}

// existing returns the ids (deduplicated, in input order) of CIs that exist.
func existing(ctx context.Context, tx neo4j.ManagedTransaction, ids []store.ID) ([]store.ID, error) {
	var uniq []store.ID
	seen := map[store.ID]bool{}
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	found := map[store.ID]bool{}
	for start := 0; start < len(uniq); start += frontierChunk {
		chunk := uniq[start:min(start+frontierChunk, len(uniq))]
		strs := make([]string, len(chunk))
		for i, id := range chunk {
			strs[i] = string(id)
		}
		recs, err := collect(ctx, tx, qExisting, map[string]any{"ids": strs})
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			found[store.ID(asString(rec.Values[0]))] = true
		}
	}
	out := uniq[:0]
	for _, id := range uniq {
		if found[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

// Expand runs a bounded breadth-first expansion, one query per level and
// direction, keeping the visited set, depths, predecessors and the node
// budget here. See store.Traverser.
func (s *Store) Expand(ctx context.Context, t store.Traversal) (store.TraversalResult, error) {
	if err := t.Check(); err != nil {
		return store.TraversalResult{}, err
	}
	sets := splitRules(t.Rules)
	if t.DepthOnly && oneStart(t.Start) {
		one, err := newReachStatement(sets, t.MaxDepth)
		if err != nil {
			return store.TraversalResult{}, err
		}
		return one.run(ctx, s, t.Start[0], t.MaxNodes)
	}
	exp, err := newExpander(sets)
	if err != nil {
		return store.TraversalResult{}, err
	}
	out, err := s.read(ctx, "expand", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		starts, err := existing(ctx, tx, t.Start)
		if err != nil {
			return nil, err
		}
		var res store.TraversalResult
		seen := make(map[store.ID]bool, len(starts))
		for _, id := range starts {
			seen[id] = true
			res.Nodes = append(res.Nodes, store.Reached{ID: id})
		}
		frontier := starts
		reached := 0
		for depth := 1; depth <= t.MaxDepth && len(frontier) > 0; depth++ {
			var next []store.ID
			stopped, err := exp.level(ctx, tx, frontier, func(h hop) bool {
				if seen[h.to] {
					return false
				}
				if reached == t.MaxNodes {
					res.Truncated = true
					return true
				}
				seen[h.to] = true
				reached++
				res.Nodes = append(res.Nodes, store.Reached{ID: h.to, Depth: depth, Via: h.from, Type: h.step.Rel.Type, Forward: h.step.Forward})
				next = append(next, h.to)
				return false
			})
			if err != nil {
				return nil, err
			}
			if stopped {
				break
			}
			frontier = next
		}
		if res.Nodes == nil {
			res.Nodes = []store.Reached{}
		}
		return res, nil
	})
	if err != nil {
		return store.TraversalResult{}, err
	}
	return out.(store.TraversalResult), nil
}

// qShortest finds one shortest path with Cypher's shortestPath() (a
// bidirectional breadth-first search inside the database) through CIs only,
// as every traversal walks (the predicate is checked during the search). {PATTERN} is a
// fixed-direction pattern built from checked types and the depth bound.
const qShortest = `MATCH (a:CI {id: $from}), (b:CI {id: $to})
MATCH p = shortestPath((a){PATTERN}(b))
WHERE all(n IN nodes(p) WHERE n:CI)
RETURN [r IN relationships(p) | [startNode(r).id, type(r), endNode(r).id]]`

// ShortestPath returns the hops of one shortest path from one CI to another
// following rules, at most maxDepth hops long. See store.Traverser.
//
// When every rule follows the same direction (or the forward and backward
// type sets are identical, i.e. an undirected search), Cypher's
// shortestPath() answers in one statement. Rules that mix directions per
// type (say DEPENDS_ON outwards but RUNS_ON inwards) cannot be written as
// one fixed-direction pattern, and a quantified path pattern with a
// per-relationship direction predicate is not guaranteed to be planned as a
// breadth-first search; so that case runs a bidirectional breadth-first
// search from here instead: one query per level, always growing the smaller
// frontier (the forward one with the rules, the backward one with the rules
// reversed), and stopping at the first level where the two searches meet.
// Before that level no node was within reach of both sides, so every
// meeting found in it closes a path of the minimum length; cost is bounded
// by the edges around the two smaller balls, not the whole graph.
func (s *Store) ShortestPath(ctx context.Context, from, to store.ID, rules []store.EdgeRule, maxDepth int) ([]store.Step, error) {
	if err := store.CheckRules(rules); err != nil {
		return nil, err
	}
	if maxDepth < 1 || maxDepth > store.MaxDepth {
		return nil, store.Invalid("maxDepth", "must be between 1 and %d, got %d", store.MaxDepth, maxDepth)
	}
	sets := splitRules(rules)
	var pattern string
	var exp *expander
	var err error
	switch {
	case sets.in.empty():
		pattern, err = shortestPattern(sets.out, maxDepth, "-", "->")
	case sets.out.empty():
		pattern, err = shortestPattern(sets.in, maxDepth, "<-", "-")
	case sets.out.equal(sets.in):
		pattern, err = shortestPattern(sets.out, maxDepth, "-", "-")
	default:
		exp, err = newExpander(sets)
	}
	if err != nil {
		return nil, err
	}
	out, err := s.read(ctx, "shortest path", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		found, err := existing(ctx, tx, []store.ID{from, to})
		if err != nil {
			return nil, err
		}
		if !slices.Contains(found, from) {
			return nil, &appError{fmt.Errorf("from: CI %q: %w", clip(string(from)), store.ErrNotFound)}
		}
		if !slices.Contains(found, to) {
			return nil, &appError{fmt.Errorf("to: CI %q: %w", clip(string(to)), store.ErrNotFound)}
		}
		if from == to {
			return []store.Step{}, nil
		}
		if exp != nil {
			return bidirectionalBFS(ctx, tx, exp, sets, from, to, maxDepth)
		}
		q := strings.Replace(qShortest, "{PATTERN}", pattern, 1)
		recs, err := collect(ctx, tx, q, map[string]any{"from": string(from), "to": string(to)})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, errNoPath(from, to, maxDepth)
		}
		hops, _ := recs[0].Values[0].([]any)
		steps := make([]store.Step, 0, len(hops))
		cur := from
		for _, h := range hops {
			v, _ := h.([]any)
			if len(v) != 3 {
				return nil, &appError{fmt.Errorf("neo4j: shortest path: unexpected hop")}
			}
			src, typ, dst := store.ID(asString(v[0])), asString(v[1]), store.ID(asString(v[2]))
			k := store.RelationshipKey{Source: src, Type: typ, Target: dst}
			st := store.Step{Rel: store.Relationship{ID: k.ID(), Type: typ, Source: src, Target: dst}, Forward: src == cur}
			if st.Forward {
				cur = dst
			} else {
				cur = src
			}
			steps = append(steps, st)
		}
		return steps, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.Step), nil
}

func errNoPath(from, to store.ID, maxDepth int) error {
	return &appError{fmt.Errorf("no path from CI %q to CI %q within %d hops: %w", clip(string(from)), clip(string(to)), maxDepth, store.ErrNotFound)}
}

// shortestPattern is the relationship pattern of qShortest: left and right
// give the direction, the types are checked, the bound is a number. With
// every type allowed, IDENTIFIES relationships may be matched, but identity
// key nodes have a single relationship, so they can never be inside a path
// between two CIs.
func shortestPattern(e edgeSet, maxDepth int, left, right string) (string, error) {
	p, err := e.pattern()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s[%s*1..%d]%s", left, p, maxDepth, right), nil
}

// bidirectionalBFS finds a shortest path level by level from both ends (see
// ShortestPath).
func bidirectionalBFS(ctx context.Context, tx neo4j.ManagedTransaction, fwdExp *expander, sets edgeSets, from, to store.ID, maxDepth int) ([]store.Step, error) {
	bwdExp, err := newExpander(sets.reverse())
	if err != nil {
		return nil, err
	}
	type link struct {
		other store.ID // predecessor (forward side) or successor (backward side)
		step  store.Step
	}
	fwd := map[store.ID]link{from: {}}
	bwd := map[store.ID]link{to: {}}
	ff, bf := []store.ID{from}, []store.ID{to}
	df, db := 0, 0
	var meet store.ID
	for df+db < maxDepth && len(ff) > 0 && len(bf) > 0 && meet == "" {
		if len(ff) <= len(bf) {
			var next []store.ID
			_, err := fwdExp.level(ctx, tx, ff, func(h hop) bool {
				if _, ok := fwd[h.to]; ok {
					return false
				}
				fwd[h.to] = link{other: h.from, step: h.step}
				if _, ok := bwd[h.to]; ok {
					meet = h.to
					return true
				}
				next = append(next, h.to)
				return false
			})
			if err != nil {
				return nil, err
			}
			ff, df = next, df+1
		} else {
			var next []store.ID
			_, err := bwdExp.level(ctx, tx, bf, func(h hop) bool {
				if _, ok := bwd[h.to]; ok {
					return false
				}
				// The search walked the edge from h.from back to h.to; the
				// path walks it from h.to to h.from.
				st := h.step
				st.Forward = !st.Forward
				bwd[h.to] = link{other: h.from, step: st}
				if _, ok := fwd[h.to]; ok {
					meet = h.to
					return true
				}
				next = append(next, h.to)
				return false
			})
			if err != nil {
				return nil, err
			}
			bf, db = next, db+1
		}
	}
	if meet == "" {
		return nil, errNoPath(from, to, maxDepth)
	}
	var head []store.Step
	for n := meet; n != from; n = fwd[n].other {
		head = append(head, fwd[n].step)
	}
	slices.Reverse(head)
	for n := meet; n != to; n = bwd[n].other {
		head = append(head, bwd[n].step)
	}
	return head, nil
}
