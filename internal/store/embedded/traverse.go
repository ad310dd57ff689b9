package embedded

import (
	"context"
	"fmt"

	"github.com/skein-cmdb/skein/internal/store"
)

// ruleMask is a set of edge rules compiled against the interned types:
// out[t] / in[t] allow following type t forwards / backwards.
type ruleMask struct {
	out, in     []bool
	doOut, doIn bool
}

// compileRules compiles rules; the caller holds g.mu for reading.
func (g *graph) compileRules(rules []store.EdgeRule) ruleMask {
	m := ruleMask{out: make([]bool, len(g.types)), in: make([]bool, len(g.types))}
	set := func(dst []bool, typ string) bool {
		if typ == "" {
			for i := 1; i < len(dst); i++ {
				dst[i] = true
			}
			return true
		}
		id, ok := g.typeID[typ]
		if ok {
			dst[id] = true
		}
		return ok
	}
	for _, r := range rules {
		if r.Dir == store.Out || r.Dir == store.Both {
			m.doOut = set(m.out, r.Type) || m.doOut
		}
		if r.Dir == store.In || r.Dir == store.Both {
			m.doIn = set(m.in, r.Type) || m.doIn
		}
	}
	return m
}

// hit is one node reached by a breadth-first search.
type hit struct {
	node   int32
	parent int32 // index of the predecessor's hit; -1 for a start node
	typ    uint32
	depth  int32
	fwd    bool
}

// bfs is the state of one breadth-first search over the index.
type bfs struct {
	g        *graph
	m        ruleMask
	vis      *visitSet
	notCI    []uint64 // the graph's notCI, nil when every node is a CI
	hits     []hit
	count    int // non-start nodes reached
	maxNodes int
	target   int32 // stop when reached; -1 for none

	truncated bool
	found     int // index of target's hit, or -1
}

// reach records v reached from hits[from]; it reports whether the search
// must stop (budget exhausted or target found).
func (b *bfs) reach(v int32, from int, typ uint32, fwd bool) bool {
	if b.vis.stamp[v] == b.vis.epoch {
		return false
	}
	if b.notCI != nil && hasBit(b.notCI, v) {
		return false // traversals walk CIs only
	}
	if b.count == b.maxNodes {
		b.truncated = true
		return true
	}
	b.vis.stamp[v] = b.vis.epoch
	b.hits = append(b.hits, hit{node: v, parent: int32(from), typ: typ, depth: b.hits[from].depth + 1, fwd: fwd})
	b.count++
	if v == b.target {
		b.found = len(b.hits) - 1
		return true
	}
	return false
}

// run searches level by level from the start hits already in b.hits, up to
// maxDepth hops; the caller holds g.mu for reading.
func (b *bfs) run(ctx context.Context, maxDepth int) error {
	g := b.g
	base := g.base
	mOut, mIn := b.m.out, b.m.in
	checkRemoved := len(g.removed) > 0
	for qi := 0; qi < len(b.hits); qi++ {
		h := b.hits[qi]
		if int(h.depth) >= maxDepth {
			break // hits are in non-decreasing depth
		}
		if qi&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		u := h.node
		dirty := g.isDirty(u)
		if b.m.doOut {
			for _, e := range base.outOf(u) {
				if int(e.typ) >= len(mOut) || !mOut[e.typ] {
					continue
				}
				if dirty && checkRemoved {
					if _, gone := g.removed[edge{src: u, dst: e.nbr, typ: e.typ}]; gone {
						continue
					}
				}
				if b.reach(e.nbr, qi, e.typ, true) {
					return nil
				}
			}
			if dirty {
				for _, e := range g.addOut.of(u) {
					if int(e.typ) < len(mOut) && mOut[e.typ] && b.reach(e.nbr, qi, e.typ, true) {
						return nil
					}
				}
			}
		}
		if b.m.doIn {
			for _, e := range base.inOf(u) {
				if int(e.typ) >= len(mIn) || !mIn[e.typ] {
					continue
				}
				if dirty && checkRemoved {
					if _, gone := g.removed[edge{src: e.nbr, dst: u, typ: e.typ}]; gone {
						continue
					}
				}
				if b.reach(e.nbr, qi, e.typ, false) {
					return nil
				}
			}
			if dirty {
				for _, e := range g.addIn.of(u) {
					if int(e.typ) < len(mIn) && mIn[e.typ] && b.reach(e.nbr, qi, e.typ, false) {
						return nil
					}
				}
			}
		}
	}
	return nil
}

// resolved is a hit with the names it needs, copied under the lock so that
// the result can be built after it is released.
type resolved struct {
	id     store.ID
	parent int32
	typ    uint32
	depth  int32
	fwd    bool
}

// Expand runs a bounded breadth-first expansion on the adjacency index.
func (s *Store) Expand(ctx context.Context, t store.Traversal) (store.TraversalResult, error) {
	if err := t.Check(); err != nil {
		return store.TraversalResult{}, err
	}
	if err := s.usable(ctx); err != nil {
		return store.TraversalResult{}, err
	}
	g := s.g
	g.mu.RLock()
	b := &bfs{g: g, m: g.compileRules(t.Rules), notCI: g.notCI, maxNodes: t.MaxNodes, target: -1, found: -1}
	b.vis = g.getVisits(len(g.uids))
	b.hits = make([]hit, 0, min(t.MaxNodes+len(t.Start), 64)) // grows with the traversal; most are small
	for _, id := range t.Start {
		u, ok := parseUID(string(id))
		if !ok {
			continue
		}
		slot, ok := g.byUID[u]
		if !ok || b.vis.stamp[slot] == b.vis.epoch || !g.isCI(slot) {
			continue
		}
		b.vis.stamp[slot] = b.vis.epoch
		b.hits = append(b.hits, hit{node: slot, parent: -1})
	}
	err := b.run(ctx, t.MaxDepth)
	res, types := g.resolveHits(b.hits)
	g.mu.RUnlock()
	g.visits.Put(b.vis)
	if err != nil {
		return store.TraversalResult{}, dbErr("expand", err)
	}
	return store.TraversalResult{Nodes: materialize(res, types), Truncated: b.truncated}, nil
}

// materialize turns resolved hits into Reached nodes. Node IDs are the
// index's own strings, so a traversal allocates little beyond its result.
// Each names its hop by type and direction (store.Reached.Step derives
// the rest).
func materialize(res []resolved, types []string) []store.Reached {
	nodes := make([]store.Reached, len(res))
	for i, r := range res {
		n := &nodes[i]
		n.ID = r.id
		n.Depth = int(r.depth)
		if r.parent < 0 {
			continue
		}
		n.Via = nodes[r.parent].ID
		n.Type, n.Forward = types[r.typ], r.fwd
	}
	return nodes
}

// resolveHits copies the uids of the hits; the caller holds g.mu.
func (g *graph) resolveHits(hits []hit) ([]resolved, []string) {
	res := make([]resolved, len(hits))
	for i, h := range hits {
		res[i] = resolved{id: g.id(h.node), parent: h.parent, typ: h.typ, depth: h.depth, fwd: h.fwd}
	}
	return res, g.types
}

// ShortestPath returns the hops of one shortest path from one CI to another.
func (s *Store) ShortestPath(ctx context.Context, from, to store.ID, rules []store.EdgeRule, maxDepth int) ([]store.Step, error) {
	if err := store.CheckRules(rules); err != nil {
		return nil, err
	}
	if maxDepth < 1 || maxDepth > store.MaxDepth {
		return nil, store.Invalid("maxDepth", "must be between 1 and %d, got %d", store.MaxDepth, maxDepth)
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	g := s.g
	g.mu.RLock()
	src, okFrom := g.lookup(from)
	dst, okTo := g.lookup(to)
	okFrom, okTo = okFrom && g.isCI(src), okTo && g.isCI(dst)
	if !okFrom || !okTo {
		g.mu.RUnlock()
		if !okFrom {
			return nil, fmt.Errorf("from: CI %q: %w", from, store.ErrNotFound)
		}
		return nil, fmt.Errorf("to: CI %q: %w", to, store.ErrNotFound)
	}
	if src == dst {
		g.mu.RUnlock()
		return []store.Step{}, nil
	}
	b := &bfs{g: g, m: g.compileRules(rules), notCI: g.notCI, maxNodes: -1, target: dst, found: -1}
	b.vis = g.getVisits(len(g.uids))
	b.vis.stamp[src] = b.vis.epoch
	b.hits = append(b.hits, hit{node: src, parent: -1})
	err := b.run(ctx, maxDepth)
	var path []resolved
	var types []string
	if err == nil && b.found >= 0 {
		var chain []hit
		for i := int32(b.found); i >= 0; i = b.hits[i].parent {
			chain = append(chain, b.hits[i])
		}
		// chain runs target → source; resolve it source → target.
		for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
			chain[i], chain[j] = chain[j], chain[i]
		}
		for i := range chain { // parents by position in the chain
			chain[i].parent = int32(i - 1)
		}
		path, types = g.resolveHits(chain)
	}
	g.mu.RUnlock()
	g.visits.Put(b.vis)
	if err != nil {
		return nil, dbErr("shortest path", err)
	}
	if path == nil {
		return nil, fmt.Errorf("no path from CI %q to CI %q within %d hops: %w", from, to, maxDepth, store.ErrNotFound)
	}
	nodes := materialize(path, types)
	steps := make([]store.Step, len(nodes)-1)
	for i, n := range nodes[1:] {
		steps[i] = n.Step()
	}
	return steps, nil
}

// canonical returns the node slot of id when id is the node's ID as the
// store answers it (lookup also accepts other spellings of its uid, which
// readers answering by ID must not: NodeFields, graph views); the caller
// holds g.mu.
func (g *graph) canonical(id store.ID) (int32, bool) {
	slot, ok := g.lookup(id)
	if !ok || g.id(slot) != id {
		return 0, false
	}
	return slot, true
}

// lookup returns the node slot of a CI id; the caller holds g.mu.
func (g *graph) lookup(id store.ID) (int32, bool) {
	u, ok := parseUID(string(id))
	if !ok {
		return 0, false
	}
	slot, ok := g.byUID[u]
	return slot, ok
}

// Edges reads the adjacency index, not the database: no SQL and nothing
// to decode, which is what makes it cheaper than RelationshipsOf (the
// index is patched right after each commit, as for Expand). See
// store.Traverser.
func (s *Store) Edges(ctx context.Context, nodes []store.ID, dir store.Direction, types []string) (store.Hops, error) {
	if err := store.CheckEdgesOf("nodes", len(nodes), dir, types); err != nil {
		return store.Hops{}, err
	}
	if err := s.usable(ctx); err != nil {
		return store.Hops{}, err
	}
	g := s.g
	g.mu.RLock()
	defer g.mu.RUnlock()
	var want []bool // by type id; nil: every type
	if len(types) > 0 {
		want = make([]bool, len(g.types))
		for _, t := range types {
			if id, ok := g.typeID[t]; ok {
				want[id] = true
			}
		}
	}
	keep := func(typ uint32) bool { return want == nil || int(typ) < len(want) && want[typ] }
	dirs := [2]bool{dir != store.In, dir != store.Out} // outgoing, incoming
	// Slots first, and the hops counted, so that the answer is four
	// allocations.
	slots := make([]int32, len(nodes))
	n := 0
	for i, id := range nodes {
		slots[i] = -1
		slot, ok := g.lookup(id)
		if !ok {
			continue
		}
		slots[i] = slot
		for d, fwd := range [2]bool{true, false} {
			if dirs[d] {
				g.eachEdge(slot, fwd, func(_ int32, typ uint32) {
					if keep(typ) {
						n++
					}
				})
			}
		}
	}
	h := store.NewHops(len(nodes), n)
	for _, slot := range slots {
		if slot >= 0 {
			for d, fwd := range [2]bool{true, false} {
				if dirs[d] {
					g.eachEdge(slot, fwd, func(nbr int32, typ uint32) {
						if keep(typ) {
							h.Add(g.types[typ], g.id(nbr), fwd)
						}
					})
				}
			}
		}
		h.End()
	}
	return h, nil
}
