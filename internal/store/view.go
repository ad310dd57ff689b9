package store

import (
	"context"
	"errors"
)

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
// comparing ID(n) with the ID it knew, or, for every number at once, by
// Purges.
type GraphView interface {
	// Purges counts the nodes ever purged from the graph (since the store
	// opened): while it is unchanged from one view to the next, every
	// number names the node it named.
	Purges() uint64
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

// SubgraphReader is implemented by a store whose graph is not in this
// process (Neo4j): it reads, in one transaction and two statements, the
// part of the graph within a few hops of some nodes, with the
// relationships of each node of that part and the attributes of every node
// they lead to. A reader that would otherwise ask for the graph level by
// level (an impact analysis: one round trip per level and direction, and
// per batch of summaries) asks once and walks the answer in memory: the
// reachability is computed where the graph is, the rules stay with the
// reader.
//
// It is optional, like GraphViewer; a store wrapper forwards it, answering
// an error that matches errors.ErrUnsupported when the store it wraps has
// none.
type SubgraphReader interface {
	// ReadSubgraph answers q. More than q.MaxNodes nodes reached is
	// ErrSubgraphTooLarge (the reader then asks level by level, where its
	// own budget applies); bad input is an *InvalidError.
	ReadSubgraph(ctx context.Context, q SubgraphQuery) (Subgraph, error)
}

// ErrSubgraphTooLarge is ReadSubgraph's answer when more nodes than the
// query's MaxNodes are reached.
var ErrSubgraphTooLarge = errors.New("store: the subgraph holds more nodes than asked for")

// SubgraphQuery asks for the CIs within MaxDepth hops of Start along
// Reach (the starts included), each with its relationships along Edges
// (EdgesAtMaxDepth for the CIs reached at MaxDepth), and Fields of every CI
// reached or at the far end of one of those relationships.
type SubgraphQuery struct {
	Start    []ID
	Reach    []EdgeRule
	MaxDepth int
	// Edges are the relationships read of each CI reached below MaxDepth;
	// types named (no wildcard); none reads the CIs only.
	Edges []EdgeRule
	// EdgesAtMaxDepth are those read of each CI reached at MaxDepth: a
	// reader that walks no further than MaxDepth needs fewer of them (an
	// impact analysis: a group's members only), and every relationship
	// read there may lead out of the subgraph, to a CI whose fields are
	// read. Types named; none is allowed.
	EdgesAtMaxDepth []EdgeRule
	// MaxNodes bounds the CIs reached (1 to MaxNodes).
	MaxNodes int
	// Fields are the attributes read of each CI (as NodeFields).
	Fields []string
}

// Check validates q.
func (q SubgraphQuery) Check() error {
	t := Traversal{Start: q.Start, Rules: q.Reach, MaxDepth: q.MaxDepth, MaxNodes: q.MaxNodes}
	if err := t.Check(); err != nil {
		return err
	}
	if err := checkNamedRules("edges", q.Edges); err != nil {
		return err
	}
	if err := checkNamedRules("edgesAtMaxDepth", q.EdgesAtMaxDepth); err != nil {
		return err
	}
	return CheckNodeFields(1, q.Fields) // the fields only: the nodes are the starts, checked above
}

// checkNamedRules validates edge rules that may be none, each with a
// direction and a named type; errors name field.
func checkNamedRules(field string, rules []EdgeRule) error {
	for i, r := range rules {
		switch {
		case r.Dir != Out && r.Dir != In && r.Dir != Both:
			return Invalid(field, "rule %d: direction must be out, in or both", i)
		case !ValidIdentifier(r.Type):
			return Invalid(field, "rule %d: %q is not a relationship type name (a type is required)", i, clip(r.Type, 80))
		}
	}
	return nil
}

// Subgraph is ReadSubgraph's answer.
type Subgraph struct {
	// Nodes are the CIs reached, starts included (Nodes[:Reached]), then
	// the CIs at the far end of their relationships that were not reached;
	// each with its ID, kind, class, version and the query's Fields.
	Nodes   []Node
	Reached int
	// Depth is the distance of each CI reached from the nearest start
	// (0 for a start), by its place in Nodes.
	Depth []int
	// Hops holds the relationships of each CI reached, along the query's
	// Edges (EdgesAtMaxDepth for those at MaxDepth): Hops.Of(i) for
	// Nodes[i], i < Reached.
	Hops Hops
}
