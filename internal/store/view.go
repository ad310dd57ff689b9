package store

import "context"

// GraphViewer is implemented by a store that keeps the graph's shape and
// its nodes' summaries in memory (the embedded store) for readers that
// walk many nodes one level at a time (impact analysis). Through
// Traverser.Edges such a reader names every node by its ID, and the store
// parses and looks up each ID it is given and formats each it answers;
// through a view it names nodes by the store's own numbers, and a hop costs
// what reading the index costs.
//
// It is optional: a reader checks for it and uses the store's calls
// otherwise (Neo4j, whose shape is not in this process). A store wrapper
// forwards it, answering an error that matches errors.ErrUnsupported when
// the store it wraps has none; readers treat that error as the absence of
// the interface.
type GraphViewer interface {
	// ViewGraph calls fn with a view of the committed graph: one committed
	// state for the duration of fn, during which writes wait (so fn
	// should read what it needs and return, as one Edges call would).
	// fn must not call the store. It returns fn's error, or the store's
	// (closed, ctx done) without calling fn.
	ViewGraph(ctx context.Context, fn func(GraphView) error) error
}

// GraphView is one committed state of the graph (GraphViewer), its nodes
// named by numbers. A node keeps its number for its life, so a reader may
// keep numbers from one view to the next; a number may name another node
// after the first is purged, which a reader that keeps numbers detects by
// comparing ID(n) with the ID it knew.
type GraphView interface {
	// Node returns the number of the node id names (in its canonical
	// form, as the store answers it).
	Node(id ID) (int32, bool)
	// ID returns the ID of node n, "" for a number no node holds.
	ID(n int32) ID
	// Bound is one more than the largest node number of this view.
	Bound() int32
	// Type returns the number of a relationship type; false for a type
	// no relationship ever had.
	Type(name string) (uint32, bool)
	// TypeName returns the name of relationship type t.
	TypeName(t uint32) string
	// Edges calls fn for each relationship of node n, outgoing (out) or
	// incoming, with the number of the node at its other end and its type,
	// in no particular order.
	Edges(n int32, out bool, fn func(other int32, typ uint32))
	// Fields sets out[i] to what NodeReader.NodeFields answers for node
	// ns[i] (ID, kind, class, version and the named attributes), or to the
	// zero Node when ns[i] holds no node of kind (any kind for AnyKind).
	// out is as long as ns.
	Fields(ctx context.Context, kind ObjectKind, ns []int32, fields []string, out []Node) error
	// Summaries sets out[i] to the summary of node ns[i] (what
	// SummaryOf answers for its SummaryAttributes), or to the zero
	// Summary when ns[i] holds no node of kind (any kind for AnyKind).
	// out is as long as ns.
	Summaries(ctx context.Context, kind ObjectKind, ns []int32, out []Summary) error
}
