package impact

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Node is one CI reached by Dependencies or Dependents.
type Node struct {
	// CI is the summary of the CI reached: its ID, kind, class, version
	// and SummaryFields attributes (read it by ID for the rest).
	CI store.Summary
	// Depth is the number of hops from the root (the minimum).
	Depth int
	// Path is one shortest chain of hops from the root to CI, set by
	// Reach.Paths.
	Path []store.Step
}

// Reach is the outcome of Dependencies and Dependents.
type Reach struct {
	// Root is the CI asked about.
	Root store.CI
	// Nodes are the CIs reached, each once, sorted by depth, then name,
	// then id (in no set order with ReachOptions.Unordered).
	Nodes []Node
	// MaxDepth is the depth the traversal used.
	MaxDepth int
	// Truncated reports that the node budget stopped the traversal.
	Truncated bool

	paths *pathFinder
}

// Paths sets the Path of every node, once (concurrent callers wait for
// the first). The traversal asks the store for depths only (a hub's
// dependents on Neo4j are then one statement), so paths cost a read of
// the reached CIs' relationships, one call per depth, which only a
// reader that shows them pays; where the store reported how it reached a
// CI (the embedded store always does), nothing is read.
//
// A node whose predecessors were all deleted since the traversal makes it
// an error wrapping ErrChanged.
func (r *Reach) Paths(ctx context.Context) error {
	if r.paths == nil {
		return nil // nothing reached
	}
	r.paths.once.Do(func() {
		r.paths.index()
		r.paths.err = r.paths.find(ctx)
		if r.paths.err == nil {
			for i := range r.Nodes {
				r.Nodes[i].Path = pathTo(r.paths.preds, r.Nodes[i].CI.ID)
			}
		}
	})
	return r.paths.err
}

// ErrChanged reports that the graph changed under an answer being
// completed: asking again gives a consistent one. It wraps
// store.ErrConflict (the API's CONFLICT).
var ErrChanged error = changedError{}

type changedError struct{}

func (changedError) Error() string {
	return "the graph changed while the answer was read; ask again"
}

func (changedError) Unwrap() error { return store.ErrConflict }

// pathFinder finds the predecessors the traversal did not report.
type pathFinder struct {
	once  sync.Once
	err   error
	g     Graph
	rules []store.EdgeRule
	// reached is what the traversal answered; index turns it into depth
	// and preds when paths are first asked for (a hub's tens of thousands
	// of map entries are not built for an answer that shows no path).
	reached []store.Reached
	depth   map[store.ID]int  // every CI reached, the root at 0
	preds   map[store.ID]pred // known predecessors, completed by find
}

// index builds depth and preds from the traversal's answer.
func (pf *pathFinder) index() {
	pf.depth = make(map[store.ID]int, len(pf.reached))
	pf.preds = make(map[store.ID]pred, len(pf.reached))
	for _, n := range pf.reached {
		pf.depth[n.ID] = n.Depth
		if n.Depth > 0 && n.Via != "" {
			pf.preds[n.ID] = pred{depth: n.Depth, via: n.Via, step: hopOf(n.Step())}
		}
	}
	pf.reached = nil
}

// before reports whether reaching a CI from via over step comes before old
// in the order that picks one path of equal length: by predecessor, then
// relationship type, then relationship ID (derived only on a tie).
func before(via store.ID, step hop, old pred) bool {
	if c := cmp.Or(cmp.Compare(via, old.via), cmp.Compare(step.typ, old.step.typ)); c != 0 {
		return c < 0
	}
	return step.relID() < old.step.relID()
}

// find reads, depth by depth, the relationships of the CIs with no known
// predecessor the way back towards the root (the rules reversed), and
// keeps for each the smallest (predecessor, type, relationship) one level
// up, so that the answer does not depend on the order the store lists
// relationships in.
func (pf *pathFinder) find(ctx context.Context) error {
	byDepth := map[int][]store.ID{}
	maxDepth := 0
	for id, d := range pf.depth {
		if _, ok := pf.preds[id]; !ok && d > 0 {
			byDepth[d] = append(byDepth[d], id)
			maxDepth = max(maxDepth, d)
		}
	}
	back := backRules(pf.rules)
	for d := 1; d <= maxDepth; d++ {
		ids := byDepth[d]
		slices.Sort(ids)
		for chunk := range slices.Chunk(ids, store.MaxBatch) {
			for _, side := range back {
				edges, err := pf.g.Edges(ctx, chunk, side.dir, side.types)
				if err != nil {
					return fmt.Errorf("impact: paths: %w", err)
				}
				for j, id := range chunk {
					lo, hi := edges.Of(j)
					for k := lo; k < hi; k++ {
						via := edges.Other[k]
						if vd, ok := pf.depth[via]; !ok || vd != d-1 {
							continue
						}
						step := hopAlong(edges.Rel(k, id), !edges.Forward[k])
						if old, ok := pf.preds[id]; !ok || before(via, step, old) {
							pf.preds[id] = pred{depth: d, via: via, step: step}
						}
					}
				}
			}
		}
		for _, id := range ids {
			if _, ok := pf.preds[id]; !ok {
				return fmt.Errorf("CI %q lost its path from the start: %w", clipID(id), ErrChanged)
			}
		}
	}
	return nil
}

// backSide is the relationships to read from a reached CI towards the
// CI it was reached from: a direction and its types (nil: every type).
type backSide struct {
	dir   store.Direction
	types []string
}

// backRules reverses traversal rules: a CI reached along an incoming
// DEPENDS_ON leads back along its outgoing DEPENDS_ON.
func backRules(rules []store.EdgeRule) []backSide {
	var sides []backSide
	for _, dir := range []store.Direction{store.Out, store.In} {
		side, all, follows := backSide{dir: dir}, false, false
		for _, r := range rules {
			if r.Dir != store.Both && r.Dir != reverse(dir) {
				continue
			}
			follows = true
			if r.Type == "" {
				all = true
			} else if !slices.Contains(side.types, r.Type) {
				side.types = append(side.types, r.Type)
			}
		}
		if all {
			side.types = nil // every type
		}
		if follows {
			sides = append(sides, side)
		}
	}
	return sides
}

// Follow says which way Dependencies and Dependents follow relationships.
type Follow int

const (
	// FollowImpact follows each relationship type the way failure travels
	// along it (the model's impact rule, as Analyze does): what needs a CI
	// is what its failure reaches (the app that DEPENDS_ON a db, the cluster
	// a node is a MEMBER_OF); what a CI needs is what reaches it by failing.
	// Types whose impact propagates none are not followed.
	FollowImpact Follow = iota
	// FollowRelationships follows the relationships as stored: what a CI
	// needs from source to target, what needs it from target to source,
	// whatever the type's impact rule.
	FollowRelationships
)

// ReachOptions are the choices of Dependencies and Dependents.
type ReachOptions struct {
	// Follow says which way relationships are followed (FollowImpact by
	// default).
	Follow Follow
	// Paths says the caller will read every node's Path: the traversal
	// then reports how it reached each CI (level by level on Neo4j), and
	// Reach.Paths reads nothing more. Without it the traversal reports
	// depths only (one statement on Neo4j) and Reach.Paths reads the
	// relationships back when asked.
	Paths bool
	// Unordered leaves Reach.Nodes in no set order, sparing the sort of
	// every CI reached, for a caller that counts or pages them (PageNodes
	// orders by itself) but does not list them in order. Every other part
	// of the answer is the same.
	Unordered bool
}

// Dependencies returns what the CI id needs, transitively: the CIs whose
// failure reaches it (follow FollowImpact: the db an app DEPENDS_ON, the
// members of a cluster) or the CIs reached from it from source to target
// (FollowRelationships), over the given types, up to depth hops (1 to
// Options.MaxDepth). No types means every type of the model.
//
// Bad input is an *store.InvalidError on "ciId", "depth" or "types[i]"
// (an unknown type, which the error lists the valid ones for, or one that
// carries no impact when following impact). A CI that does not exist is an
// error wrapping store.ErrNotFound.
func (a *Analyzer) Dependencies(ctx context.Context, id store.ID, depth int, types []string, opts ReachOptions) (*Reach, error) {
	if err := checkRead(ctx); err != nil {
		return nil, err
	}
	return a.reach(ctx, id, depth, types, false, opts)
}

// Dependents returns what needs the CI id, transitively: the CIs its
// failure reaches (FollowImpact) or the CIs reached from it from target to
// source (FollowRelationships). Arguments and errors are those of
// Dependencies.
func (a *Analyzer) Dependents(ctx context.Context, id store.ID, depth int, types []string, opts ReachOptions) (*Reach, error) {
	if err := checkRead(ctx); err != nil {
		return nil, err
	}
	return a.reach(ctx, id, depth, types, true, opts)
}

func (a *Analyzer) reach(ctx context.Context, id store.ID, depth int, types []string, dependents bool, opts ReachOptions) (*Reach, error) {
	if id == "" {
		return nil, store.Invalid("ciId", "is required")
	}
	if err := a.CheckDepth("depth", depth); err != nil {
		return nil, err
	}
	m := a.model()
	if m == nil {
		return nil, errors.New("impact: no class model")
	}
	var rules []store.EdgeRule
	var err error
	switch opts.Follow {
	case FollowRelationships:
		dir := store.Out
		if dependents {
			dir = store.In
		}
		rules, err = typeRules(m, types, dir)
	case FollowImpact:
		rules, err = impactTypeRules(m, types, dependents)
	default:
		err = store.Invalid("follow", "must be IMPACT or RELATIONSHIP")
	}
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		// A model where nothing carries impact: nothing is reached.
		root, err := a.loadCIs(ctx, []store.ID{id})
		if err != nil {
			return nil, err
		}
		ci, ok := root[id]
		if !ok {
			return nil, fmt.Errorf("CI %q: %w", clipID(id), store.ErrNotFound)
		}
		return &Reach{Root: ci, MaxDepth: depth, Nodes: []Node{}}, nil
	}
	bounded, cancel := a.withTimeout(ctx)
	defer cancel()
	out, err := a.expandFrom(bounded, id, depth, rules, opts)
	return out, a.failed(ctx, bounded, err)
}

// FailureRules are the rules along which failure travels from a CI to
// what depends on it: each relationship type that carries impact,
// followed In (target_to_source) or Out (source_to_target). A traversal
// along them reaches what an impact analysis reaches (groups and their
// members aside); the benchmarks time one beside the analysis.
func FailureRules(m *cmdb.Model) []store.EdgeRule {
	rules, _ := impactTypeRules(m, nil, true) // no types named: nothing to refuse
	return rules
}

// impactTypeRules returns, for each named type (every type that carries
// impact when types is empty), the rule that follows it the way failure
// travels (dependents) or against it (dependencies), or an
// *store.InvalidError on "types[i]".
func impactTypeRules(m *cmdb.Model, types []string, dependents bool) ([]store.EdgeRule, error) {
	if len(types) > 256 {
		return nil, store.Invalid("types", "at most 256 relationship types, got %d", len(types))
	}
	var rts []*cmdb.RelType
	if len(types) == 0 {
		rts = m.RelTypes()
	}
	for i, t := range types {
		field := fmt.Sprintf("types[%d]", i)
		rt, err := m.LookupRelType(field, t)
		if err != nil {
			return nil, err
		}
		if rt.Def.Impact.Propagates != cmdb.TargetToSource && rt.Def.Impact.Propagates != cmdb.SourceToTarget {
			return nil, store.Invalid(field, "%s carries no impact (propagates none); ask with follow: RELATIONSHIP to traverse it", rt.Def.Name)
		}
		rts = append(rts, rt)
	}
	var rules []store.EdgeRule
	seen := map[string]bool{}
	for _, rt := range rts {
		var dir store.Direction
		switch rt.Def.Impact.Propagates {
		case cmdb.TargetToSource:
			dir = store.In
		case cmdb.SourceToTarget:
			dir = store.Out
		default:
			continue
		}
		if !dependents {
			dir = reverse(dir)
		}
		if !seen[rt.Def.Name] {
			seen[rt.Def.Name] = true
			rules = append(rules, store.EdgeRule{Type: rt.Def.Name, Dir: dir})
		}
	}
	return rules, nil
}

func (a *Analyzer) expandFrom(ctx context.Context, id store.ID, depth int, rules []store.EdgeRule, opts ReachOptions) (*Reach, error) {
	res, sums, err := a.reachFrom(ctx, id, depth, rules, opts)
	if err != nil {
		return nil, err
	}
	if len(res.Nodes) == 0 || res.Nodes[0].ID != id {
		return nil, fmt.Errorf("CI %q: %w", clipID(id), store.ErrNotFound)
	}
	pf := &pathFinder{g: a.g, rules: rules, reached: res.Nodes}
	ids := make([]store.ID, len(res.Nodes))
	for i, n := range res.Nodes {
		ids[i] = n.ID
	}
	// The root is read whole; the CIs reached, which a hub has by tens of
	// thousands, as summaries (their order needs the name): a reader
	// showing them reads them whole by ID.
	roots, err := a.loadCIs(ctx, ids[:1])
	if err != nil {
		return nil, err
	}
	root, ok := roots[id]
	if !ok {
		return nil, fmt.Errorf("CI %q: %w", clipID(id), store.ErrNotFound)
	}
	out := &Reach{Root: root, MaxDepth: depth, Truncated: res.Truncated, Nodes: make([]Node, len(res.Nodes)-1), paths: pf}
	if sums != nil {
		for i := range out.Nodes {
			out.Nodes[i] = Node{CI: sums[i+1], Depth: res.Nodes[i+1].Depth}
		}
	} else {
		err = a.summaries(ctx, ids[1:], func(i int, s *store.Summary) { out.Nodes[i] = Node{CI: *s, Depth: res.Nodes[i+1].Depth} })
	}
	if err != nil {
		return nil, err
	}
	// Drop the CIs deleted since the traversal.
	out.Nodes = slices.DeleteFunc(out.Nodes, func(n Node) bool { return n.CI.ID == "" })
	if !opts.Unordered {
		permute(out.Nodes, byDepthNameID(len(out.Nodes), func(i int) (int, string, store.ID) {
			return out.Nodes[i].Depth, out.Nodes[i].CI.Name, out.Nodes[i].CI.ID
		}))
	}
	return out, nil
}

// reachFrom is the traversal of expandFrom: the CIs reached, the root
// first, by depth. On a store that reads subgraphs and serves no views
// (Neo4j), a traversal that needs no paths is one subgraph read of the CIs
// and their summaries (sums, by the place of each in the answer), instead
// of a traversal and a summaries call per batch of them; more CIs within
// reach than the node budget, and it is the store's traversal, which keeps
// the nearest and says it was truncated.
func (a *Analyzer) reachFrom(ctx context.Context, id store.ID, depth int, rules []store.EdgeRule, opts ReachOptions) (store.TraversalResult, []store.Summary, error) {
	_, views := a.g.(store.GraphViewer)
	if sr, ok := a.g.(store.SubgraphReader); ok && !views && !opts.Paths {
		sub, err := sr.ReadSubgraph(ctx, store.SubgraphQuery{Start: []store.ID{id}, Reach: rules, MaxDepth: depth,
			MaxNodes: min(a.opts.NodeBudget+1, store.MaxNodes), Fields: SummaryFields})
		switch {
		case err == nil:
			res, sums := reachOf(sub)
			return res, sums, nil
		case !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, store.ErrSubgraphTooLarge):
			return store.TraversalResult{}, nil, fmt.Errorf("impact: expand: %w", err)
		}
	}
	res, err := a.g.Expand(ctx, store.Traversal{Start: []store.ID{id}, Rules: rules, MaxDepth: depth, MaxNodes: a.opts.NodeBudget, DepthOnly: !opts.Paths})
	if err != nil {
		return store.TraversalResult{}, nil, fmt.Errorf("impact: expand: %w", err)
	}
	return res, nil, nil
}

// reachOf is a subgraph's CIs as a traversal's answer, by depth, and
// their summaries in the same order.
func reachOf(sub store.Subgraph) (store.TraversalResult, []store.Summary) {
	order := make([]int, sub.Reached)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(sub.Depth[x], sub.Depth[y]) })
	res := store.TraversalResult{Nodes: make([]store.Reached, len(order))}
	sums := make([]store.Summary, len(order))
	for k, i := range order {
		res.Nodes[k] = store.Reached{ID: sub.Nodes[i].ID, Depth: sub.Depth[i]}
		sums[k] = store.SummaryOf(sub.Nodes[i])
	}
	return res, sums
}

// Path is how two CIs are connected.
type Path struct {
	// CIs are the CIs along the path, from the first to the last
	// (len(Steps)+1 of them).
	CIs []store.CI
	// Steps are the hops; Step.Forward tells whether each went from the
	// relationship's source to its target or against it.
	Steps []store.Step
}

// ShortestPath returns one shortest connection from one CI to another over
// relationships of the given types (every type of the model when none),
// followed in either direction: "how are these two CIs connected?" asks
// for any chain, whichever way each relationship points. It is at most
// maxDepth hops long (1 to Options.MaxDepth); from == to gives a path of
// one CI and no steps.
//
// Bad input is an *store.InvalidError on "from", "to", "maxDepth" or
// "types[i]". A CI that does not exist is a *MissingCIError on "from" or
// "to"; no path within maxDepth is an error wrapping store.ErrNotFound.
// Both wrap store.ErrNotFound.
func (a *Analyzer) ShortestPath(ctx context.Context, from, to store.ID, maxDepth int, types []string) (*Path, error) {
	if err := checkRead(ctx); err != nil {
		return nil, err
	}
	if from == "" {
		return nil, store.Invalid("from", "is required")
	}
	if to == "" {
		return nil, store.Invalid("to", "is required")
	}
	if err := a.CheckDepth("maxDepth", maxDepth); err != nil {
		return nil, err
	}
	depth := maxDepth
	m := a.model()
	if m == nil {
		return nil, errors.New("impact: no class model")
	}
	rules, err := typeRules(m, types, store.Both)
	if err != nil {
		return nil, err
	}
	bounded, cancel := a.withTimeout(ctx)
	defer cancel()
	p, err := a.path(bounded, from, to, depth, rules)
	return p, a.failed(ctx, bounded, err)
}

func (a *Analyzer) path(ctx context.Context, from, to store.ID, depth int, rules []store.EdgeRule) (*Path, error) {
	steps, err := a.g.ShortestPath(ctx, from, to, rules, depth)
	if errors.Is(err, store.ErrNotFound) {
		// No path, or no such CI: only the unhappy path pays to tell.
		cis, lerr := a.loadCIs(ctx, []store.ID{from, to})
		if lerr != nil {
			return nil, lerr
		}
		for _, end := range []struct {
			field string
			id    store.ID
		}{{"from", from}, {"to", to}} {
			if _, ok := cis[end.id]; !ok {
				return nil, &MissingCIError{Field: end.field, ID: end.id}
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("impact: shortest path: %w", err)
	}
	ids := []store.ID{from}
	for i := range steps {
		steps[i] = hopOf(steps[i]).step()
		next := steps[i].Rel.Target
		if !steps[i].Forward {
			next = steps[i].Rel.Source
		}
		ids = append(ids, next)
	}
	cis, err := a.loadCIs(ctx, ids)
	if err != nil {
		return nil, err
	}
	p := &Path{Steps: steps, CIs: make([]store.CI, len(ids))}
	for i, id := range ids {
		ci, ok := cis[id]
		if !ok {
			return nil, fmt.Errorf("CI %q (deleted meanwhile): %w", clipID(id), store.ErrNotFound)
		}
		p.CIs[i] = ci
	}
	return p, nil
}

// MissingCIError reports that a CI named by an argument (Field, such as
// "from") does not exist. It wraps store.ErrNotFound.
type MissingCIError struct {
	Field string
	ID    store.ID
}

func (e *MissingCIError) Error() string {
	return fmt.Sprintf("%s: no CI has the id %q", e.Field, clipID(e.ID))
}

// Unwrap returns store.ErrNotFound.
func (e *MissingCIError) Unwrap() error { return store.ErrNotFound }

func clipID(id store.ID) string {
	if len(id) > 80 {
		return string(id[:80]) + "..."
	}
	return string(id)
}
