package bench

import (
	"github.com/skein-cmdb/skein/internal/store"
)

// CSR is the floor: a plain, immutable compressed-sparse-row adjacency of
// an estate in both directions, with a breadth-first search that records
// what a store's traversal must record (depth, predecessor, edge). Nothing
// can traverse the same graph much faster, so each store is reported as a
// ratio to it.
type CSR struct {
	types             []string
	outStart, inStart []int32
	outTo, inTo       []int32
	outType, inType   []uint8
	outEdge, inEdge   []int32
	// scratch, reused between searches
	depth []int32
	pred  []int32
	via   []int32
	gen   []uint32
	epoch uint32
}

// NewCSR builds the floor's adjacency for n nodes.
func NewCSR(n int, edges []Edge) *CSR {
	c := &CSR{}
	typeID := map[string]uint8{}
	for _, e := range edges {
		if _, ok := typeID[e.Type]; !ok {
			typeID[e.Type] = uint8(len(c.types))
			c.types = append(c.types, e.Type)
		}
	}
	build := func(key func(Edge) (int32, int32)) (start, to []int32, typ []uint8, eid []int32) {
		start = make([]int32, n+1)
		for _, e := range edges {
			a, _ := key(e)
			start[a+1]++
		}
		for i := 0; i < n; i++ {
			start[i+1] += start[i]
		}
		to = make([]int32, len(edges))
		typ = make([]uint8, len(edges))
		eid = make([]int32, len(edges))
		fill := append([]int32(nil), start[:n]...)
		for i, e := range edges {
			a, b := key(e)
			p := fill[a]
			fill[a]++
			to[p], typ[p], eid[p] = b, typeID[e.Type], int32(i)
		}
		return
	}
	c.outStart, c.outTo, c.outType, c.outEdge = build(func(e Edge) (int32, int32) { return e.From, e.To })
	c.inStart, c.inTo, c.inType, c.inEdge = build(func(e Edge) (int32, int32) { return e.To, e.From })
	c.depth = make([]int32, n)
	c.pred = make([]int32, n)
	c.via = make([]int32, n)
	c.gen = make([]uint32, n)
	return c
}

// BFS expands from start following rules up to maxDepth and returns how
// many nodes it reached beyond the start. It is not safe for concurrent
// use.
func (c *CSR) BFS(start int32, rules []store.EdgeRule, maxDepth int) int {
	var outOK, inOK [256]bool
	for _, r := range rules {
		for t, name := range c.types {
			if r.Type != "" && r.Type != name {
				continue
			}
			if r.Dir == store.Out || r.Dir == store.Both {
				outOK[t] = true
			}
			if r.Dir == store.In || r.Dir == store.Both {
				inOK[t] = true
			}
		}
	}
	c.epoch++
	ep := c.epoch
	c.gen[start] = ep
	c.depth[start] = 0
	c.pred[start] = -1
	frontier := []int32{start}
	reached := 0
	for d := int32(1); d <= int32(maxDepth) && len(frontier) > 0; d++ {
		var next []int32
		for _, u := range frontier {
			for p := c.outStart[u]; p < c.outStart[u+1]; p++ {
				if v := c.outTo[p]; outOK[c.outType[p]] && c.gen[v] != ep {
					c.gen[v], c.depth[v], c.pred[v], c.via[v] = ep, d, u, c.outEdge[p]
					next = append(next, v)
				}
			}
			for p := c.inStart[u]; p < c.inStart[u+1]; p++ {
				if v := c.inTo[p]; inOK[c.inType[p]] && c.gen[v] != ep {
					c.gen[v], c.depth[v], c.pred[v], c.via[v] = ep, d, u, c.inEdge[p]
					next = append(next, v)
				}
			}
		}
		reached += len(next)
		frontier = next
	}
	return reached
}

// DepthCounts returns how many nodes the last BFS reached at each depth
// (index 0 is the start), for checking a store's traversal level by level.
func (c *CSR) DepthCounts() []int {
	var out []int
	for v, g := range c.gen {
		if g != c.epoch {
			continue
		}
		d := int(c.depth[v])
		for len(out) <= d {
			out = append(out, 0)
		}
		out[d]++
	}
	return out
}
