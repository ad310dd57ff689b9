package impact

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/skein-cmdb/skein/internal/store"
)

// reader is where an analysis reads the graph: the relationships of the
// CIs it meets and their summaries. Two serve it: storeReader through the
// store's calls (Edges, NodeFields), which name every CI by its ID, and
// viewReader through a store.GraphView, which names CIs by the store's
// numbers; the analysis above them is one, so both stores give one
// answer by one set of rules.
type reader interface {
	// hops calls add for each relationship of each of hs along each of
	// sides, CI by CI (every hop of hs[0], side after side, then hs[1]'s):
	// j is the CI's index in hs, s the side's in sides, t the index of the
	// relationship's type in the side's types, and to the CI at its other
	// end. A relationship followed In has the CI as its target, Out as its
	// source.
	hops(ctx context.Context, hs []handle, sides []side, add func(j, s, t int, to handle)) error
	// fields calls set with the named attributes of each of hs that is a
	// CI (ID, kind, class, version and those attributes); j is its index
	// in hs. A handle that is not, or no longer, a CI is left out.
	fields(ctx context.Context, hs []handle, fields []string, set func(j int, ci store.CI)) error
	// summaries calls set with the summary of each of hs that is a CI; j
	// is its index in hs, and s is set's to copy, not to keep. A handle
	// that is not, or no longer, a CI is left out.
	summaries(ctx context.Context, hs []handle, set func(j int, s *store.Summary)) error
}

// storeReader reads through the store's calls: one Edges call per side
// and one NodeFields call per batch of store.MaxBatch CIs.
type storeReader struct{ an *analysis }

func (r storeReader) hops(ctx context.Context, hs []handle, sides []side, add func(j, s, t int, to handle)) error {
	edges := make([]store.Hops, len(sides))
	index := make([]map[string]int, len(sides)) // type index by name, by side
	for s, sd := range sides {
		index[s] = make(map[string]int, len(sd.types))
		for t, typ := range sd.types {
			index[s][typ] = t
		}
	}
	for lo := 0; lo < len(hs); lo += store.MaxBatch {
		ids := r.an.idsOf(hs[lo:min(lo+store.MaxBatch, len(hs))])
		for s, sd := range sides {
			var err error
			if edges[s], err = r.an.a.g.Edges(ctx, ids, sd.dir, sd.types); err != nil {
				return err
			}
		}
		for j := range ids {
			for s := range sides {
				e := &edges[s]
				from, to := e.Of(j)
				for k := from; k < to; k++ {
					add(lo+j, s, index[s][e.Type[k]], r.an.intern(e.Other[k]))
				}
			}
		}
	}
	return nil
}

func (r storeReader) fields(ctx context.Context, hs []handle, fields []string, set func(j int, ci store.CI)) error {
	return fieldsByCalls(ctx, r.an.a.g, r.an.idsOf(hs), fields, set)
}

func (r storeReader) summaries(ctx context.Context, hs []handle, set func(j int, s *store.Summary)) error {
	return fieldsByCalls(ctx, r.an.a.g, r.an.idsOf(hs), SummaryFields, func(j int, ci store.CI) {
		s := store.SummaryOf(ci)
		set(j, &s)
	})
}

// fieldsByCalls calls set with the named attributes of each of ids that is
// a CI, and its index in ids: one NodeFields call a batch.
func fieldsByCalls(ctx context.Context, g Graph, ids []store.ID, fields []string, set func(i int, ci store.CI)) error {
	for lo := 0; lo < len(ids); lo += store.MaxBatch {
		chunk := ids[lo:min(lo+store.MaxBatch, len(ids))]
		got, err := g.NodeFields(ctx, store.KindCI, chunk, fields)
		if err != nil {
			return err
		}
		for j, id := range chunk {
			if ci, ok := got[id]; ok {
				set(lo+j, ci)
			}
		}
	}
	return nil
}

// errViewChanged reports that a node number a viewReader kept names
// another node now (the first was purged and its number reused while the
// analysis ran): the analysis starts again through the store's calls.
var errViewChanged = errors.New("impact: a node of the graph view changed while the analysis ran")

// viewReader reads through views of the store (store.GraphViewer), one a
// call, as the store's own calls would take one: the analysis keeps each
// CI's node number beside its handle, and a hop's far end is numbered by a
// slice indexed by node number instead of a map keyed by a 36-byte ID.
type viewReader struct {
	an *analysis
	v  store.GraphViewer
	// slots are the node numbers by handle (-1: none); handles at and past
	// len(slots) were numbered by ID (the starts) and are looked up at the
	// next view.
	slots []int32
	m     *slotMap
	// purges is GraphView.Purges at the last view, and recheck says
	// whether it changed from one view to a later one (viewed: there was
	// one) while this reader ran: only then may a number kept name another
	// node, and intern compares IDs on every hop from then on (a number
	// reused between two views may be met only views later).
	purges  uint64
	viewed  bool
	recheck bool
}

// slotMap numbers node numbers as handles: h[n] is node n's handle when
// stamp[n] is the map's epoch, so that it is reset by one increment and
// kept in a pool between analyses.
type slotMap struct {
	stamp []uint32
	h     []handle
	epoch uint32
}

// slotMaps pools the slot maps of analyses: at a million nodes one is 8 MB.
var slotMaps = sync.Pool{New: func() any { return &slotMap{} }}

// reset empties the map.
func (m *slotMap) reset() {
	m.epoch++
	if m.epoch == 0 {
		clear(m.stamp)
		m.epoch = 1
	}
}

// grow makes room for node numbers below bound.
func (m *slotMap) grow(bound int32) {
	if int(bound) <= len(m.stamp) {
		return
	}
	n := int(bound) + int(bound)/8
	stamp := make([]uint32, n)
	copy(stamp, m.stamp)
	hs := make([]handle, n)
	copy(hs, m.h)
	m.stamp, m.h = stamp, hs
}

// newViewReader returns a reader over v for an; release returns its slot
// map to the pool.
func newViewReader(an *analysis, v store.GraphViewer) *viewReader {
	m := slotMaps.Get().(*slotMap)
	m.reset()
	return &viewReader{an: an, v: v, m: m}
}

func (r *viewReader) release() {
	slotMaps.Put(r.m)
	r.m = nil
}

// view runs fn over a view in which every handle has its node number.
func (r *viewReader) view(ctx context.Context, fn func(gv store.GraphView) error) error {
	return r.v.ViewGraph(ctx, func(gv store.GraphView) error {
		p := gv.Purges()
		r.recheck = r.recheck || (r.viewed && p != r.purges)
		r.purges, r.viewed = p, true
		r.m.grow(gv.Bound())
		for h := len(r.slots); h < len(r.an.ids); h++ {
			n, ok := gv.Node(r.an.ids[h])
			if !ok {
				r.slots = push(r.slots, -1)
				continue
			}
			if r.m.stamp[n] == r.m.epoch {
				return errViewChanged // cannot happen: a CI numbered twice
			}
			r.m.stamp[n], r.m.h[n] = r.m.epoch, handle(h)
			r.slots = push(r.slots, n)
		}
		return fn(gv)
	})
}

// intern returns the handle of node n, numbering it if it is new; false
// when the handle n had names another node now (which only a purge since
// the last view can make so).
func (r *viewReader) intern(gv store.GraphView, n int32) (handle, bool) {
	if r.m.stamp[n] == r.m.epoch {
		h := r.m.h[n]
		return h, !r.recheck || r.an.ids[h] == gv.ID(n)
	}
	h := r.an.add(gv.ID(n))
	r.slots = push(r.slots, n)
	r.m.stamp[n], r.m.h[n] = r.m.epoch, h
	return h, true
}

// hops reads a view a batch of store.MaxBatch CIs, as storeReader calls
// Edges, so that writes wait no longer than for one of its calls.
func (r *viewReader) hops(ctx context.Context, hs []handle, sides []side, add func(j, s, t int, to handle)) error {
	for lo := 0; lo < len(hs); lo += store.MaxBatch {
		chunk := hs[lo:min(lo+store.MaxBatch, len(hs))]
		err := r.view(ctx, func(gv store.GraphView) error {
			// index[s][n] is 1 + the index in sides[s].types of the type
			// numbered n; 0 for a type the side does not follow.
			index := make([][]int, len(sides))
			for s, sd := range sides {
				for t, typ := range sd.types {
					if n, ok := gv.Type(typ); ok {
						if int(n) >= len(index[s]) {
							index[s] = append(index[s], make([]int, int(n)+1-len(index[s]))...)
						}
						index[s][n] = t + 1
					}
				}
			}
			// One visitor for every CI and side (a closure made per call
			// would be allocated per call: Edges is an interface method).
			var (
				changed bool
				j, s    int
				want    []int
			)
			visit := func(o int32, typ uint32) {
				if int(typ) >= len(want) || want[typ] == 0 {
					return
				}
				to, ok := r.intern(gv, o)
				changed = changed || !ok
				add(lo+j, s, want[typ]-1, to)
			}
			for j = range chunk {
				h := chunk[j]
				n := r.slots[h]
				if n < 0 {
					continue
				}
				if r.an.ids[h] != gv.ID(n) {
					return errViewChanged
				}
				for s = range sides {
					want = index[s]
					gv.Edges(n, sides[s].dir == store.Out, visit)
				}
				if changed {
					return errViewChanged
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *viewReader) fields(ctx context.Context, hs []handle, fields []string, set func(j int, ci store.CI)) error {
	return readByView(ctx, r, hs, &ciBatches, func(gv store.GraphView, ns []int32, out []store.CI) error {
		return gv.Fields(ctx, store.KindCI, ns, fields, out)
	}, func(ci *store.CI) store.ID { return ci.ID }, func(j int, ci *store.CI) { set(j, *ci) })
}

func (r *viewReader) summaries(ctx context.Context, hs []handle, set func(j int, s *store.Summary)) error {
	return readByView(ctx, r, hs, &summaryBatches, func(gv store.GraphView, ns []int32, out []store.Summary) error {
		return gv.Summaries(ctx, store.KindCI, ns, out)
	}, func(s *store.Summary) store.ID { return s.ID }, set)
}

// batch is what readByView reads a batch into: node numbers and their
// answers. Pooled (a batch of summaries is 170 KB, and an analysis reads
// several), each pool holding one T.
type batch[T any] struct {
	ns  []int32
	out []T
}

var (
	summaryBatches = sync.Pool{New: func() any { return new(batch[store.Summary]) }}
	ciBatches      = sync.Pool{New: func() any { return new(batch[store.CI]) }}
)

// readByView reads what read answers (a T for each node number) for hs,
// one view a batch of store.MaxBatch, and calls set with each of them that
// idOf names (a CI) and its index in hs; its buffers come from pool, a
// pool of *batch[T].
func readByView[T any](ctx context.Context, r *viewReader, hs []handle, pool *sync.Pool, read func(gv store.GraphView, ns []int32, out []T) error, idOf func(*T) store.ID, set func(j int, v *T)) error {
	if len(hs) == 0 {
		return nil
	}
	b := pool.Get().(*batch[T])
	n := min(len(hs), store.MaxBatch)
	if len(b.out) < n {
		b.ns, b.out = make([]int32, 0, n), make([]T, n)
	}
	defer func() {
		clear(b.out[:n]) // what was used: it keeps no node's strings alive
		pool.Put(b)
	}()
	ns, out := b.ns, b.out
	for lo := 0; lo < len(hs); lo += store.MaxBatch {
		chunk := hs[lo:min(lo+store.MaxBatch, len(hs))]
		err := r.view(ctx, func(gv store.GraphView) error {
			ns = ns[:0]
			for _, h := range chunk {
				ns = append(ns, r.slots[h])
			}
			got := out[:len(chunk)]
			if err := read(gv, ns, got); err != nil {
				return err
			}
			for j, h := range chunk {
				switch id := idOf(&got[j]); id {
				case "":
				case r.an.ids[h]:
					set(lo+j, &got[j])
				default:
					return errViewChanged
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readerFor returns the reader an analysis from starts over a's graph
// uses: views when the store serves them, a subgraph read in one call when
// the store reads them and it is within the node budget, the store's calls
// otherwise (views false: the calls only); done releases it.
func (a *Analyzer) readerFor(ctx context.Context, an *analysis, starts []store.ID, views bool) (rd reader, done func(), err error) {
	if !views {
		return storeReader{an}, func() {}, nil
	}
	if v, ok := a.g.(store.GraphViewer); ok {
		err := v.ViewGraph(ctx, func(store.GraphView) error { return nil })
		switch {
		case err == nil:
			vr := newViewReader(an, v)
			return vr, vr.release, nil
		case !errors.Is(err, errors.ErrUnsupported):
			return nil, nil, fmt.Errorf("impact: %w", err)
		}
	}
	if sr, ok := a.g.(store.SubgraphReader); ok {
		snap, err := a.readSnapshot(ctx, sr, &an.r, starts, an.maxDepth)
		switch {
		case err == nil:
			vr := newViewReader(an, snap)
			return vr, vr.release, nil
		case !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, store.ErrSubgraphTooLarge):
			return nil, nil, fmt.Errorf("impact: %w", err)
		}
	}
	return storeReader{an}, func() {}, nil
}
