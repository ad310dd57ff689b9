package graph

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/skein-cmdb/skein/internal/apierr"
)

// errTraversalsBusy refuses a traversal query while traversal.max_concurrent
// others run: expensive queries shed under load, cheap reads keep going.
var errTraversalsBusy = apierr.Overload("too many traversal queries are running (traversal.max_concurrent); retry in a moment")

// traversal reserves a slot for an expensive traversal field (impact,
// dependencies, dependents, paths); call the returned func when it is done.
//
// Slots are counted per request, not per field: the traversal fields of one
// request run one at a time under a single slot, which the request keeps
// until its last traversal field is done. A request asking for dependencies,
// dependents and a path at once therefore never competes with itself for
// slots (with two slots it used to refuse its own third field under load),
// and it costs the server one traversal's worth of concurrency, as one
// client's question should.
func (r *Resolver) traversal(ctx context.Context) (func(), error) {
	g, ok := ctx.Value(traversalGateKey{}).(*traversalGate)
	if !ok {
		return r.traversalSlot(ctx)
	}
	return g.enter(ctx, r.traversalSlot)
}

// traversalSlot reserves one of the server's traversal slots, waiting at
// most traversalWait. At most maxTraversalWaiters requests wait at once;
// more are refused at once, so that waiting traversals cannot fill
// server.max_in_flight and crowd cheap reads out.
func (r *Resolver) traversalSlot(ctx context.Context) (func(), error) {
	if r.traversals == nil {
		return func() {}, nil
	}
	release := func() { <-r.traversals }
	select {
	case r.traversals <- struct{}{}:
		return release, nil
	default:
	}
	if r.traversalWaiters.Add(1) > r.maxTraversalWaiters {
		r.traversalWaiters.Add(-1)
		return nil, errTraversalsBusy
	}
	defer r.traversalWaiters.Add(-1)
	t := time.NewTimer(r.traversalWait)
	defer t.Stop()
	select {
	case r.traversals <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, errTraversalsBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// traversalGate is one request's share of the traversal slots: its
// traversal fields take turns, and the first one in takes the server slot
// that the others then reuse.
type traversalGate struct {
	turn    chan struct{} // capacity 1: the field whose turn it is
	mu      sync.Mutex
	pending int    // fields that hold or wait for the turn
	release func() // the server slot, while the request holds one
}

type traversalGateKey struct{}

// withTraversalGate gives every request its own traversal gate.
func withTraversalGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		g := &traversalGate{turn: make(chan struct{}, 1)}
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), traversalGateKey{}, g)))
	})
}

// enter waits for the request's turn, then for a server slot unless the
// request already holds one. The returned func ends the turn, and gives
// the slot back when no other field of the request is waiting.
func (g *traversalGate) enter(ctx context.Context, slot func(context.Context) (func(), error)) (func(), error) {
	g.mu.Lock()
	g.pending++
	g.mu.Unlock()
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		g.leave()
		return nil, ctx.Err()
	}
	g.mu.Lock()
	held := g.release != nil
	g.mu.Unlock()
	if !held {
		release, err := slot(ctx)
		if err != nil {
			g.leave()
			<-g.turn
			return nil, err
		}
		g.mu.Lock()
		g.release = release
		g.mu.Unlock()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			g.leave()
			<-g.turn
		})
	}, nil
}

// leave counts a field out; the last one gives the server slot back.
func (g *traversalGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pending--
	if g.pending == 0 && g.release != nil {
		g.release()
		g.release = nil
	}
}
