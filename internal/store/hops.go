package store

// Hops is what Traverser.Edges answers: the relationships of each node
// asked for, in flat parallel lists, without their properties. Node i's
// hops are at the indexes Start[i] to Start[i+1] (excluded) of Type, Other
// and Forward: the relationship's type, the node at its other end, and
// whether node i is its source. A node asked for twice has its hops at
// each of its places; an unknown node has none.
//
// It is flat on purpose: a hub's tens of thousands of relationships cost
// four slices, not a Step (about 150 bytes), a map entry and a slice per
// node, and its reader (impact analysis) turns each hop into its own
// compact form at once. Steps gives the steps of one node for readers
// that want them.
type Hops struct {
	Start   []int32
	Type    []string
	Other   []ID
	Forward []bool
}

// NewHops returns an empty answer with room for n hops, to be filled one
// node at a time with Add and End.
func NewHops(nodes, n int) Hops {
	return Hops{Start: make([]int32, 1, nodes+1), Type: make([]string, 0, n), Other: make([]ID, 0, n), Forward: make([]bool, 0, n)}
}

// Add appends a hop of the node being filled.
func (h *Hops) Add(typ string, other ID, forward bool) {
	h.Type = append(h.Type, typ)
	h.Other = append(h.Other, other)
	h.Forward = append(h.Forward, forward)
}

// End ends the node being filled: the hops added since the last End are
// its own.
func (h *Hops) End() { h.Start = append(h.Start, int32(len(h.Other))) }

// Nodes returns the number of nodes the answer is for.
func (h Hops) Nodes() int { return max(0, len(h.Start)-1) }

// Of returns the range of node i's hops: lo to hi, excluded.
func (h Hops) Of(i int) (lo, hi int) { return int(h.Start[i]), int(h.Start[i+1]) }

// Steps returns node i's hops as steps, id being node i's ID: Rel's Type,
// Source and Target (no ID: Rel.Key().ID() is it), Forward when the node
// is the source. Nil when it has none.
func (h Hops) Steps(i int, id ID) []Step {
	lo, hi := h.Of(i)
	if lo == hi {
		return nil
	}
	out := make([]Step, 0, hi-lo)
	for k := lo; k < hi; k++ {
		out = append(out, Step{Rel: h.Rel(k, id), Forward: h.Forward[k]})
	}
	return out
}

// Rel returns hop k as a relationship (Type, Source and Target only), id
// being the node whose hop it is.
func (h Hops) Rel(k int, id ID) Relationship {
	if h.Forward[k] {
		return Relationship{Type: h.Type[k], Source: id, Target: h.Other[k]}
	}
	return Relationship{Type: h.Type[k], Source: h.Other[k], Target: id}
}

// Map returns the hops by node ID as steps (Steps), nodes being the IDs
// asked for; nodes with none are absent. For tests and readers of a few
// nodes.
func (h Hops) Map(nodes []ID) map[ID][]Step {
	out := make(map[ID][]Step, len(nodes))
	for i, id := range nodes {
		if _, done := out[id]; done || i >= h.Nodes() {
			continue
		}
		if s := h.Steps(i, id); s != nil {
			out[id] = s
		}
	}
	return out
}
