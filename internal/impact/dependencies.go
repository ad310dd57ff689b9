package impact

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/skein-cmdb/skein/internal/store"
)

// Node is one CI reached by Dependencies or Dependents.
type Node struct {
	CI store.CI
	// Depth is the number of hops from the root (the minimum).
	Depth int
	// Path is one shortest chain of hops from the root to CI.
	Path []store.Step
}

// Reach is the outcome of Dependencies and Dependents.
type Reach struct {
	// Root is the CI asked about.
	Root store.CI
	// Nodes are the CIs reached, each once, sorted by depth, then name,
	// then id.
	Nodes []Node
	// MaxDepth is the depth the traversal used.
	MaxDepth int
	// Truncated reports that the node budget stopped the traversal.
	Truncated bool
}

// Dependencies returns what the CI id needs, transitively: the CIs reached
// by following its relationships of the given types from source to target
// (app DEPENDS_ON db, vm RUNS_ON host), up to maxDepth hops (0 means
// Options.DefaultDepth). No types means every type of the model.
//
// Bad input is an *store.InvalidError on "ciId", "maxDepth" or "types[i]"
// (an unknown type; the error lists the valid ones). A CI that does not
// exist is an error wrapping store.ErrNotFound.
func (a *Analyzer) Dependencies(ctx context.Context, id store.ID, maxDepth int, types []string) (*Reach, error) {
	return a.reach(ctx, id, maxDepth, types, store.Out)
}

// Dependents returns what needs the CI id, transitively: the CIs reached by
// following its relationships of the given types from target to source.
// Arguments and errors are those of Dependencies.
func (a *Analyzer) Dependents(ctx context.Context, id store.ID, maxDepth int, types []string) (*Reach, error) {
	return a.reach(ctx, id, maxDepth, types, store.In)
}

func (a *Analyzer) reach(ctx context.Context, id store.ID, maxDepth int, types []string, dir store.Direction) (*Reach, error) {
	if id == "" {
		return nil, store.Invalid("ciId", "is required")
	}
	depth, err := a.checkDepth(maxDepth)
	if err != nil {
		return nil, err
	}
	m := a.model()
	if m == nil {
		return nil, errors.New("impact: no class model")
	}
	rules, err := typeRules(m, types, dir)
	if err != nil {
		return nil, err
	}
	bounded, cancel := a.withTimeout(ctx)
	defer cancel()
	out, err := a.expandFrom(bounded, id, depth, rules)
	return out, a.failed(ctx, bounded, err)
}

func (a *Analyzer) expandFrom(ctx context.Context, id store.ID, depth int, rules []store.EdgeRule) (*Reach, error) {
	res, err := a.g.Expand(ctx, store.Traversal{Start: []store.ID{id}, Rules: rules, MaxDepth: depth, MaxNodes: a.opts.NodeBudget})
	if err != nil {
		return nil, fmt.Errorf("impact: expand: %w", err)
	}
	if len(res.Nodes) == 0 || res.Nodes[0].ID != id {
		return nil, fmt.Errorf("CI %q: %w", clipID(id), store.ErrNotFound)
	}
	preds := make(map[store.ID]pred, len(res.Nodes))
	ids := make([]store.ID, len(res.Nodes))
	for i, n := range res.Nodes {
		ids[i] = n.ID
		if n.Depth > 0 {
			preds[n.ID] = pred{depth: n.Depth, via: n.Via, step: cleanStep(n.Step)}
		}
	}
	cis, err := a.loadCIs(ctx, ids)
	if err != nil {
		return nil, err
	}
	root, ok := cis[id]
	if !ok {
		return nil, fmt.Errorf("CI %q: %w", clipID(id), store.ErrNotFound)
	}
	out := &Reach{Root: root, MaxDepth: depth, Truncated: res.Truncated, Nodes: make([]Node, 0, len(res.Nodes)-1)}
	for _, n := range res.Nodes[1:] {
		if ci, ok := cis[n.ID]; ok {
			out.Nodes = append(out.Nodes, Node{CI: ci, Depth: n.Depth, Path: pathTo(preds, n.ID)})
		}
	}
	slices.SortFunc(out.Nodes, func(x, y Node) int {
		return cmp.Or(cmp.Compare(x.Depth, y.Depth), cmp.Compare(ciName(x.CI), ciName(y.CI)), cmp.Compare(x.CI.ID, y.CI.ID))
	})
	return out, nil
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
// maxDepth hops long (0 means Options.DefaultDepth); from == to gives a path
// of one CI and no steps.
//
// Bad input is an *store.InvalidError on "from", "to", "maxDepth" or
// "types[i]". A CI that does not exist, or no path within maxDepth, is an
// error wrapping store.ErrNotFound.
func (a *Analyzer) ShortestPath(ctx context.Context, from, to store.ID, maxDepth int, types []string) (*Path, error) {
	if from == "" {
		return nil, store.Invalid("from", "is required")
	}
	if to == "" {
		return nil, store.Invalid("to", "is required")
	}
	depth, err := a.checkDepth(maxDepth)
	if err != nil {
		return nil, err
	}
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
	if err != nil {
		return nil, fmt.Errorf("impact: shortest path: %w", err)
	}
	ids := []store.ID{from}
	for i := range steps {
		steps[i] = cleanStep(steps[i])
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

func clipID(id store.ID) string {
	if len(id) > 80 {
		return string(id[:80]) + "..."
	}
	return string(id)
}
