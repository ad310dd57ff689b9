package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestContext returns the context that withTraversalGate gives one
// request.
func requestContext(t *testing.T) context.Context {
	t.Helper()
	var ctx context.Context
	withTraversalGate(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/graphql", nil))
	require.NotNil(t, ctx)
	return ctx
}

// TestTraversalSlotsPerRequest: the traversal fields of one request share
// one slot and take turns, so a request never refuses its own fields; other
// requests still wait and are refused while the slots are taken.
func TestTraversalSlotsPerRequest(t *testing.T) {
	r := &Resolver{traversals: make(chan struct{}, 1), traversalWait: 5 * time.Millisecond, maxTraversalWaiters: 16}
	req := requestContext(t)

	first, err := r.traversal(req)
	require.NoError(t, err)

	// A second field of the same request waits for its turn, however long
	// the first one takes: it is not refused after traversalWait.
	second := make(chan error, 1)
	var releaseSecond func()
	go func() {
		var err error
		releaseSecond, err = r.traversal(req)
		second <- err
	}()
	// Wait until the second field is in the gate, so that what follows
	// tests waiting, not a goroutine that has not started yet.
	g := req.Value(traversalGateKey{}).(*traversalGate)
	require.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.pending == 2
	}, 5*time.Second, time.Millisecond, "the second field enters the gate")
	// Another request finds the only slot taken and is refused.
	_, err = r.traversal(requestContext(t))
	require.ErrorIs(t, err, errTraversalsBusy)
	select {
	case err := <-second:
		t.Fatalf("the second field of the request returned (err %v) while the first held the turn", err)
	case <-time.After(50 * time.Millisecond): // ten times traversalWait
	}
	first()
	require.NoError(t, <-second, "the request's second field runs under its slot")

	// The request still holds the slot: others are refused until its last
	// field is done.
	_, err = r.traversal(requestContext(t))
	require.ErrorIs(t, err, errTraversalsBusy)
	releaseSecond()
	releaseSecond() // idempotent
	other, err := r.traversal(requestContext(t))
	require.NoError(t, err, "the slot is free once the request's fields are done")
	other()
	assert.Empty(t, r.traversals, "every slot is given back")
}
