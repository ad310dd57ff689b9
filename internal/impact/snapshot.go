package impact

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/skein-cmdb/skein/internal/store"
)

// snapshot is a store.GraphViewer over a subgraph a store read in one call
// (store.SubgraphReader, Neo4j): the CIs within the analysis's depth of
// its starts along the types that carry an effect, each with its
// relationships along those types and its groups' members, and the
// attributes the analysis reads. The analysis walks it through the view
// reader as it walks the embedded store's index, so that a Neo4j analysis
// costs two statements instead of a round trip per level, side and batch
// (ADR 30).
//
// Every CI whose relationships the analysis reads is within its depth of a
// start along those types, so the snapshot holds them all: the analysis
// reads the relationships that carry an effect of a CI only when it
// reached the CI below its depth (a label's depth is never below the CI's
// distance from the starts), and those of a group to its members when a
// member went down, which puts the group within the depth. So the CIs
// reached at the depth are read with their members only, and the CIs at
// the far end of what is read are those members (TestSubgraphAndCallsAgree
// compares every answer with the calls'). Should a reader ask for the
// relationships of a CI the snapshot holds without any, the view says so
// (errViewChanged) and the analysis runs again through the store's calls.
type snapshot struct {
	nodes   []store.Node
	reached int32
	of      map[store.ID]int32
	fields  []string // the attributes read of every node
	types   []string
	typeID  map[string]uint32
	// The relationships of node n < reached are start[n]:start[n+1] of
	// other, typ and fwd.
	start []int32
	other []int32
	typ   []uint32
	fwd   []bool
	// missed is set when a reader asked for what the snapshot does not
	// hold.
	missed bool
}

// readSnapshot reads the subgraph of an analysis from starts through r;
// errors.ErrUnsupported when r reads no subgraphs, store.ErrSubgraphTooLarge
// when more CIs than the node budget are within reach (the analysis then
// reads level by level, within its budget).
func (a *Analyzer) readSnapshot(ctx context.Context, r store.SubgraphReader, rules *impactRules, starts []store.ID, depth int) (*snapshot, error) {
	q := store.SubgraphQuery{Start: starts, MaxDepth: depth, Fields: rules.groupFields,
		MaxNodes: min(a.opts.NodeBudget+len(starts), store.MaxNodes)}
	for _, sd := range rules.sides {
		for _, t := range sd.types {
			q.Reach = append(q.Reach, store.EdgeRule{Type: t, Dir: sd.dir})
		}
	}
	for _, sd := range rules.groupSides {
		for _, t := range sd.types {
			q.EdgesAtMaxDepth = append(q.EdgesAtMaxDepth, store.EdgeRule{Type: t, Dir: sd.dir})
		}
	}
	q.Edges = append(slices.Clone(q.Reach), q.EdgesAtMaxDepth...)
	if len(q.Reach) == 0 {
		return nil, errors.ErrUnsupported // nothing carries an effect: no subgraph to read
	}
	sub, err := r.ReadSubgraph(ctx, q)
	if err != nil {
		return nil, err
	}
	return newSnapshot(sub, q.Fields)
}

// newSnapshot indexes sub, whose nodes hold fields.
func newSnapshot(sub store.Subgraph, fields []string) (*snapshot, error) {
	if sub.Reached > len(sub.Nodes) || len(sub.Hops.Start) != sub.Reached+1 {
		return nil, fmt.Errorf("impact: a subgraph of %d nodes, %d reached, with hops for %d", len(sub.Nodes), sub.Reached, len(sub.Hops.Start)-1)
	}
	s := &snapshot{nodes: sub.Nodes, reached: int32(sub.Reached), of: make(map[store.ID]int32, len(sub.Nodes)),
		fields: fields, typeID: map[string]uint32{},
		start: make([]int32, sub.Reached+1), other: make([]int32, 0, len(sub.Hops.Other)),
		typ: make([]uint32, 0, len(sub.Hops.Other)), fwd: make([]bool, 0, len(sub.Hops.Other))}
	for i, n := range sub.Nodes {
		s.of[n.ID] = int32(i)
	}
	for i := range sub.Reached {
		lo, hi := sub.Hops.Of(i)
		for k := lo; k < hi; k++ {
			o, ok := s.of[sub.Hops.Other[k]]
			if !ok {
				continue // not a CI: the store's calls would drop it too
			}
			t, ok := s.typeID[sub.Hops.Type[k]]
			if !ok {
				t = uint32(len(s.types))
				s.types = append(s.types, sub.Hops.Type[k])
				s.typeID[sub.Hops.Type[k]] = t
			}
			s.other, s.typ, s.fwd = append(s.other, o), append(s.typ, t), append(s.fwd, sub.Hops.Forward[k])
		}
		s.start[i+1] = int32(len(s.other))
	}
	return s, nil
}

// ViewGraph calls fn with the snapshot; errViewChanged when fn asked for
// what the snapshot does not hold.
func (s *snapshot) ViewGraph(ctx context.Context, fn func(store.GraphView) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	if s.missed {
		return errViewChanged
	}
	return nil
}

func (s *snapshot) Node(id store.ID) (int32, bool) {
	n, ok := s.of[id]
	return n, ok
}

func (s *snapshot) ID(n int32) store.ID {
	if n < 0 || int(n) >= len(s.nodes) {
		return ""
	}
	return s.nodes[n].ID
}

// Purges is 0: a snapshot never changes.
func (s *snapshot) Purges() uint64 { return 0 }

func (s *snapshot) Bound() int32 { return int32(len(s.nodes)) }

func (s *snapshot) Type(name string) (uint32, bool) {
	t, ok := s.typeID[name]
	return t, ok
}

func (s *snapshot) TypeName(t uint32) string {
	if int(t) >= len(s.types) {
		return ""
	}
	return s.types[t]
}

func (s *snapshot) Edges(n int32, out bool, fn func(other int32, typ uint32)) {
	if n < 0 || n >= s.reached {
		s.missed = s.missed || int(n) < len(s.nodes) && n >= 0
		return
	}
	for k := s.start[n]; k < s.start[n+1]; k++ {
		if s.fwd[k] == out {
			fn(s.other[k], s.typ[k])
		}
	}
}

func (s *snapshot) Fields(_ context.Context, kind store.ObjectKind, ns []int32, fields []string, out []store.Node) error {
	for _, f := range fields {
		if !slices.Contains(s.fields, f) {
			s.missed = true
		}
	}
	for i, n := range ns {
		out[i] = store.Node{}
		if s.ofKind(n, kind) {
			out[i] = s.nodes[n]
		}
	}
	return nil
}

func (s *snapshot) Summaries(_ context.Context, kind store.ObjectKind, ns []int32, out []store.Summary) error {
	for i, n := range ns {
		out[i] = store.Summary{}
		if s.ofKind(n, kind) {
			out[i] = store.SummaryOf(s.nodes[n])
		}
	}
	return nil
}

// ofKind reports whether n is a node of the snapshot of kind (any kind for
// store.AnyKind).
func (s *snapshot) ofKind(n int32, kind store.ObjectKind) bool {
	return n >= 0 && int(n) < len(s.nodes) && (kind == store.AnyKind || s.nodes[n].Kind == kind)
}
