package embedded

import (
	"context"

	"github.com/skein-cmdb/skein/internal/store"
)

var _ store.GraphViewer = (*Store)(nil)

// ViewGraph serves store.GraphViewer from the adjacency index and the node
// summary cache: a node's number is its slot (its row id), so a reader
// that keeps numbers names nodes without a parse or a lookup, and a hop is
// read from the index as Expand reads it. fn runs under the index's read
// lock, as a traversal does.
func (s *Store) ViewGraph(ctx context.Context, fn func(store.GraphView) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	g := s.g
	g.mu.RLock()
	defer g.mu.RUnlock()
	return fn(view{s: s, g: g})
}

// view is a store.GraphView; its methods run under g.mu, held by ViewGraph.
type view struct {
	s *Store
	g *graph
}

func (v view) Node(id store.ID) (int32, bool) { return v.g.canonical(id) }

func (v view) ID(n int32) store.ID {
	return v.g.id(n)
}

func (v view) Purges() uint64 { return v.g.purges }

func (v view) Bound() int32 { return int32(len(v.g.uids)) }

func (v view) Type(name string) (uint32, bool) {
	t, ok := v.g.typeID[name]
	return t, ok
}

func (v view) TypeName(t uint32) string {
	if int(t) >= len(v.g.types) {
		return ""
	}
	return v.g.types[t]
}

func (v view) Edges(n int32, out bool, fn func(other int32, typ uint32)) {
	if !v.g.has(n) {
		return
	}
	v.g.eachEdge(n, out, fn)
}

// Fields answers from the summary cache; the nodes whose summary is not
// cached, and every node when fields are not all summary attributes, are
// read from the database (under the index's lock, which keeps the answer
// one state: writes wait for the read).
func (v view) Fields(ctx context.Context, kind store.ObjectKind, ns []int32, fields []string, out []store.Node) error {
	if err := store.CheckNodeFields(len(ns), fields); err != nil {
		return err
	}
	var miss []store.ID
	var at map[store.ID][]int // miss's places in ns
	if summaryServes(fields) {
		idx := fieldIndexes(fields)
		for i, n := range ns {
			var from fieldsFrom
			out[i], from = v.g.slotFields(n, kind, fields, idx)
			if from == fromDB {
				miss, at = addMiss(miss, at, v.g.id(n), i)
			}
		}
	} else {
		for i, n := range ns {
			out[i] = store.Node{}
			if id := v.ID(n); id != "" {
				miss, at = addMiss(miss, at, id, i)
			}
		}
	}
	return v.fromDB(ctx, kind, miss, at, fields, func(i int, n store.Node) { out[i] = n })
}

// fromDB reads the fields of the nodes of kind miss names from the
// database, and calls set with each node read and each of its places (at).
func (v view) fromDB(ctx context.Context, kind store.ObjectKind, miss []store.ID, at map[store.ID][]int, fields []string, set func(i int, n store.Node)) error {
	if len(miss) == 0 {
		return nil
	}
	got, err := v.s.nodeFieldsFromDB(ctx, kind, miss, fields, make(map[store.ID]store.Node, len(miss)))
	if err != nil {
		return err
	}
	for id, n := range got {
		for _, i := range at[id] {
			set(i, n)
		}
	}
	return nil
}

// Summaries answers from the summary cache; the nodes whose summary is not
// cached are read from the database (under the index's lock, as Fields).
func (v view) Summaries(ctx context.Context, kind store.ObjectKind, ns []int32, out []store.Summary) error {
	if err := store.CheckNodeFields(len(ns), store.SummaryAttributes); err != nil {
		return err
	}
	var miss []store.ID
	var at map[store.ID][]int // miss's places in ns
	for i, n := range ns {
		if from := v.g.slotSummary(n, kind, &out[i]); from != fromCache {
			out[i] = store.Summary{}
			if from == fromDB {
				miss, at = addMiss(miss, at, v.g.id(n), i)
			}
		}
	}
	return v.fromDB(ctx, kind, miss, at, store.SummaryAttributes, func(i int, n store.Node) { out[i] = store.SummaryOf(n) })
}

// addMiss records that node id, at place i of a Fields call, is read from
// the database.
func addMiss(miss []store.ID, at map[store.ID][]int, id store.ID, i int) ([]store.ID, map[store.ID][]int) {
	if at == nil {
		at = map[store.ID][]int{}
	}
	if _, ok := at[id]; !ok {
		miss = append(miss, id)
	}
	at[id] = append(at[id], i)
	return miss, at
}
