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
	// edges reads, for each of hs, its relationships in direction dir
	// whose type is in types (every type when empty), the far ends
	// numbered as handles.
	edges(ctx context.Context, hs []handle, dir store.Direction, types []string) (hopList, error)
	// fields reads the named attributes of hs: out[i] is hs[i]'s CI (ID,
	// kind, class, version and those attributes), or the zero CI when it
	// is not, or no longer, a CI.
	fields(ctx context.Context, hs []handle, fields []string) ([]store.CI, error)
}

// hopList is what reader.edges answers: store.Hops with each far end as a
// handle. CI i's hops are at start[i] to start[i+1] (excluded).
type hopList struct {
	start []int32
	typ   []string
	other []handle
	fwd   []bool
}

// nodes returns the number of CIs the list is for.
func (l hopList) nodes() int { return max(0, len(l.start)-1) }

// of returns the range of CI i's hops.
func (l hopList) of(i int) (lo, hi int) { return int(l.start[i]), int(l.start[i+1]) }

// storeReader reads through the store's calls.
type storeReader struct{ an *analysis }

func (r storeReader) edges(ctx context.Context, hs []handle, dir store.Direction, types []string) (hopList, error) {
	e, err := r.an.a.g.Edges(ctx, r.an.idsOf(hs), dir, types)
	if err != nil {
		return hopList{}, err
	}
	other := make([]handle, len(e.Other))
	for k, id := range e.Other {
		other[k] = r.an.intern(id)
	}
	return hopList{start: e.Start, typ: e.Type, other: other, fwd: e.Forward}, nil
}

func (r storeReader) fields(ctx context.Context, hs []handle, fields []string) ([]store.CI, error) {
	out := make([]store.CI, len(hs))
	for lo := 0; lo < len(hs); lo += store.MaxBatch {
		chunk := hs[lo:min(lo+store.MaxBatch, len(hs))]
		got, err := r.an.a.g.NodeFields(ctx, store.KindCI, r.an.idsOf(chunk), fields)
		if err != nil {
			return nil, err
		}
		for j, h := range chunk {
			out[lo+j] = got[r.an.ids[h]]
		}
	}
	return out, nil
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

// reset empties the map for nodes numbered below bound.
func (m *slotMap) reset(bound int32) {
	m.grow(bound)
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
	return &viewReader{an: an, v: v, m: slotMaps.Get().(*slotMap)}
}

func (r *viewReader) release() {
	slotMaps.Put(r.m)
	r.m = nil
}

// view runs fn over a view in which every handle has its node number.
func (r *viewReader) view(ctx context.Context, fn func(gv store.GraphView) error) error {
	return r.v.ViewGraph(ctx, func(gv store.GraphView) error {
		bound := gv.Bound()
		if len(r.slots) == 0 {
			r.m.reset(bound)
		} else {
			r.m.grow(bound)
		}
		for h := len(r.slots); h < len(r.an.ids); h++ {
			n, ok := gv.Node(r.an.ids[h])
			if !ok {
				r.slots = append(r.slots, -1)
				continue
			}
			if r.m.stamp[n] == r.m.epoch {
				return errViewChanged // cannot happen: a CI numbered twice
			}
			r.m.stamp[n], r.m.h[n] = r.m.epoch, handle(h)
			r.slots = append(r.slots, n)
		}
		return fn(gv)
	})
}

// intern returns the handle of node n, numbering it if it is new; false
// when the handle n had names another node now.
func (r *viewReader) intern(gv store.GraphView, n int32) (handle, bool) {
	id := gv.ID(n)
	if r.m.stamp[n] == r.m.epoch {
		h := r.m.h[n]
		return h, r.an.ids[h] == id
	}
	h := handle(len(r.an.ids))
	r.an.ids = append(r.an.ids, id)
	r.an.st = append(r.an.st, node{})
	r.slots = append(r.slots, n)
	r.m.stamp[n], r.m.h[n] = r.m.epoch, h
	return h, true
}

func (r *viewReader) edges(ctx context.Context, hs []handle, dir store.Direction, types []string) (hopList, error) {
	var out hopList
	err := r.view(ctx, func(gv store.GraphView) error {
		var want []bool // by type number; nil: every type
		if len(types) > 0 {
			for _, t := range types {
				if n, ok := gv.Type(t); ok {
					if int(n) >= len(want) {
						want = append(want, make([]bool, int(n)+1-len(want))...)
					}
					want[n] = true
				}
			}
			if want == nil {
				want = []bool{} // no such type: no hop
			}
		}
		out.start = make([]int32, 1, len(hs)+1)
		changed := false
		for _, h := range hs {
			if n := r.slots[h]; n >= 0 && r.an.ids[h] == gv.ID(n) {
				for _, fwd := range [2]bool{true, false} {
					if fwd && dir == store.In || !fwd && dir == store.Out {
						continue
					}
					gv.Edges(n, fwd, func(o int32, t uint32) {
						if want != nil && (int(t) >= len(want) || !want[t]) {
							return
						}
						oh, ok := r.intern(gv, o)
						changed = changed || !ok
						out.typ = append(out.typ, gv.TypeName(t))
						out.other = append(out.other, oh)
						out.fwd = append(out.fwd, fwd)
					})
				}
			} else if n >= 0 {
				changed = true
			}
			out.start = append(out.start, int32(len(out.other)))
		}
		if changed {
			return errViewChanged
		}
		return nil
	})
	return out, err
}

func (r *viewReader) fields(ctx context.Context, hs []handle, fields []string) ([]store.CI, error) {
	out := make([]store.CI, len(hs))
	ns := make([]int32, 0, min(len(hs), store.MaxBatch))
	for lo := 0; lo < len(hs); lo += store.MaxBatch {
		chunk := hs[lo:min(lo+store.MaxBatch, len(hs))]
		err := r.view(ctx, func(gv store.GraphView) error {
			ns = ns[:0]
			for _, h := range chunk {
				ns = append(ns, r.slots[h])
			}
			got := out[lo : lo+len(chunk)]
			if err := gv.Fields(ctx, store.KindCI, ns, fields, got); err != nil {
				return err
			}
			for j, h := range chunk {
				if got[j].ID != "" && got[j].ID != r.an.ids[h] {
					return errViewChanged
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readerFor returns the reader an analysis over a's graph uses: views when
// the store serves them, its calls otherwise; done releases it.
func (a *Analyzer) readerFor(ctx context.Context, an *analysis, views bool) (rd reader, done func(), err error) {
	v, ok := a.g.(store.GraphViewer)
	if views && ok {
		err := v.ViewGraph(ctx, func(store.GraphView) error { return nil })
		switch {
		case err == nil:
			vr := newViewReader(an, v)
			return vr, vr.release, nil
		case !errors.Is(err, errors.ErrUnsupported):
			return nil, nil, fmt.Errorf("impact: %w", err)
		}
	}
	return storeReader{an}, func() {}, nil
}
