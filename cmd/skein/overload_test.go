package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
)

// blockingStore holds every traversal until released (Expand, and Edges,
// which impact analysis walks the graph with): a real store with a gate,
// to make "a traversal is running" deterministic.
type blockingStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
}

func (b *blockingStore) gate() {
	select {
	case b.entered <- struct{}{}:
	default: // the tests wait for the first entry only
	}
	<-b.release
}

func (b *blockingStore) Expand(ctx context.Context, t store.Traversal) (store.TraversalResult, error) {
	b.gate()
	return b.Store.Expand(ctx, t)
}

func (b *blockingStore) Edges(ctx context.Context, nodes []store.ID, dir store.Direction, types []string) (store.Hops, error) {
	b.gate()
	return b.Store.Edges(ctx, nodes, dir, types)
}

// TestTraversalBudget: while traversal.max_concurrent traversal queries
// run, another one is refused with OVERLOADED (naming the setting, with a
// retry hint) instead of piling up, and cheap reads keep answering.
func TestTraversalBudget(t *testing.T) {
	srv, st, ids := traversalServer(t, graph.Options{MaxTraversals: 1, TraversalWait: 10 * time.Millisecond})
	vars := map[string]any{"ids": []any{ids[0]}}
	const impactQ = `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { downCount } }`

	firstCh := goGQL(srv.URL, impactQ, vars)
	within(t, st.entered, "the first traversal holds the only slot")

	second := gql(t, srv.URL, impactQ, vars)
	require.NotEmpty(t, second.Errors, second.raw)
	assert.Equal(t, "OVERLOADED", second.Errors[0].Extensions["code"])
	assert.Equal(t, 1.0, second.Errors[0].Extensions["retryAfter"])
	assert.Contains(t, second.Errors[0].Message, "traversal.max_concurrent")
	assert.Equal(t, "1", second.header.Get("Retry-After"), "the HTTP answer carries the retry hint too")

	r := gql(t, srv.URL, `query($id: ID!) { ci(id: $id) { name } }`, map[string]any{"id": ids[0]})
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, "esx", get(r.Data, "ci", "name"), "cheap reads keep answering")
	assert.Empty(t, r.header.Get("Retry-After"), "only refusals carry a retry hint")

	close(st.release)
	first := within(t, firstCh, "the first traversal")
	assert.Empty(t, first.Errors, first.raw)
	third := gql(t, srv.URL, impactQ, vars)
	assert.Empty(t, third.Errors, "the slot is free again: %s", third.raw)
}

// traversalServer serves the GraphQL handler with options o over a real
// embedded store whose traversals wait at a gate, holding one hypervisor.
func traversalServer(t *testing.T, o graph.Options) (*httptest.Server, *blockingStore, []string) {
	t.Helper()
	ctx := t.Context()
	raw, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	st := &blockingStore{Store: raw, entered: make(chan struct{}, 16), release: make(chan struct{})}
	m, err := cmdb.DefaultModel()
	require.NoError(t, err)
	svc, err := cmdb.NewService(ctx, st, m)
	require.NoError(t, err)
	o.MaxDepth, o.MaxComplexity = 15, 5000
	h := graph.NewHandler(&graph.Resolver{CMDB: svc, Store: st, Impact: impact.New(st, svc.Model, impact.Options{}), Version: "test"}, o)
	srv := httptest.NewServer(asAdmin(h))
	t.Cleanup(srv.Close)
	return srv, st, upsertIDs(t, srv.URL, item("Hypervisor", map[string]any{"name": "esx", "serial_number": "E1"}))
}

// asAdmin serves h as if every request carried an admin token, for tests
// of the GraphQL handler without the HTTP layer that authenticates.
func asAdmin(h http.Handler) http.Handler {
	id := auth.Identity{TokenID: "test", Name: "test", Role: auth.Admin}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
	})
}

// TestTraversalWaitersBounded: with one slot taken and room for one
// waiter, of two more traversal queries one waits and the other is refused
// at once (while the slot is still held), so waiting traversals cannot
// fill the server's in-flight budget; the waiter then runs.
func TestTraversalWaitersBounded(t *testing.T) {
	srv, st, ids := traversalServer(t, graph.Options{MaxTraversals: 1, TraversalWait: time.Minute, MaxTraversalWaiters: 1})
	vars := map[string]any{"ids": []any{ids[0]}}
	const impactQ = `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { downCount } }`

	answers := make(chan gqlResponse, 3)
	forward := func(ch <-chan gqlResponse) { go func() { answers <- <-ch }() }
	forward(goGQL(srv.URL, impactQ, vars))
	within(t, st.entered, "the first traversal holds the only slot")
	for range 2 {
		forward(goGQL(srv.URL, impactQ, vars))
	}
	refused := within(t, answers, "a refusal while the slot is held")
	require.NotEmpty(t, refused.Errors, refused.raw)
	assert.Equal(t, "OVERLOADED", refused.Errors[0].Extensions["code"])
	close(st.release)
	for range 2 {
		r := within(t, answers, "the holder and the waiter")
		assert.Empty(t, r.Errors, "the holder and the waiter run: %s", r.raw)
	}
}
