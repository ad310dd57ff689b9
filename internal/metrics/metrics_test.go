package metrics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func newMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	require.NoError(t, err)
	return m, reg
}

func TestNewRefusesARegistryTwice(t *testing.T) {
	_, reg := newMetrics(t)
	_, err := New(reg)
	assert.Error(t, err)
}

func TestNewRegistryHasRuntimeCollectors(t *testing.T) {
	reg := NewRegistry()
	_, err := New(reg)
	require.NoError(t, err)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	assert.Contains(t, names, "go_goroutines")
}

func TestObserveGraphQL(t *testing.T) {
	m, reg := newMetrics(t)
	m.ObserveGraphQL("ImpactOfChange", "query", 20*time.Millisecond)
	m.ObserveGraphQL("ImpactOfChange", "query", 30*time.Millisecond)
	m.ObserveGraphQL("", "mutation", time.Millisecond)
	m.ObserveGraphQL("not a name!", "query", time.Millisecond)
	m.ObserveGraphQL("X", "bogus", time.Millisecond)

	want := `
# HELP skein_graphql_requests_total GraphQL operations executed, by operation name and type (query, mutation, subscription).
# TYPE skein_graphql_requests_total counter
skein_graphql_requests_total{operation="ImpactOfChange",type="query"} 2
skein_graphql_requests_total{operation="X",type="other"} 1
skein_graphql_requests_total{operation="anonymous",type="mutation"} 1
skein_graphql_requests_total{operation="other",type="query"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "skein_graphql_requests_total"))
	assert.Equal(t, 4, testutil.CollectAndCount(m.graphqlDuration))
}

func TestOperationNamesAreCapped(t *testing.T) {
	m, _ := newMetrics(t)
	for i := range MaxOperationNames + 50 {
		m.ObserveGraphQL(fmt.Sprintf("Op%d", i), "query", time.Millisecond)
	}
	m.ObserveGraphQL("Op0", "query", time.Millisecond) // admitted before the cap: still its own
	assert.Equal(t, MaxOperationNames+1, testutil.CollectAndCount(m.graphqlRequests))
	assert.Equal(t, 50.0, testutil.ToFloat64(m.graphqlRequests.WithLabelValues(Other, "query")))
	assert.Equal(t, 2.0, testutil.ToFloat64(m.graphqlRequests.WithLabelValues("Op0", "query")))
}

func TestCountGraphQLError(t *testing.T) {
	m, reg := newMetrics(t)
	m.CountGraphQLError("NOT_FOUND")
	m.CountGraphQLError("NOT_FOUND")
	m.CountGraphQLError("GRAPHQL_VALIDATION_FAILED")
	m.CountGraphQLError("")
	m.CountGraphQLError("lower case; not a code")
	want := `
# HELP skein_graphql_errors_total GraphQL errors returned to clients, by extensions.code (NOT_FOUND, INVALID, ...).
# TYPE skein_graphql_errors_total counter
skein_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"} 1
skein_graphql_errors_total{code="INTERNAL"} 1
skein_graphql_errors_total{code="NOT_FOUND"} 2
skein_graphql_errors_total{code="other"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "skein_graphql_errors_total"))
}

func TestObserveHTTP(t *testing.T) {
	m, reg := newMetrics(t)
	m.ObserveHTTP("/graphql", "POST", 200, time.Millisecond)
	m.ObserveHTTP("/graphql", "POST", 413, time.Millisecond)
	m.ObserveHTTP("", "GET", 404, time.Millisecond)
	m.ObserveHTTP("/healthz", "BREW", 200, time.Millisecond)
	want := `
# HELP skein_http_requests_total HTTP requests answered, by route pattern, method and status code.
# TYPE skein_http_requests_total counter
skein_http_requests_total{method="GET",route="unmatched",status="404"} 1
skein_http_requests_total{method="POST",route="/graphql",status="200"} 1
skein_http_requests_total{method="POST",route="/graphql",status="413"} 1
skein_http_requests_total{method="other",route="/healthz",status="200"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "skein_http_requests_total"))
	assert.Equal(t, 3, testutil.CollectAndCount(m.httpDuration))
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.ObserveGraphQL("Q", "query", time.Second)
	m.CountGraphQLError("X")
	m.ObserveHTTP("/", "GET", 200, time.Second)
	s := &fakeStore{}
	assert.Same(t, store.Store(s), InstrumentStore(s, nil))
}

// fakeStore answers every method with zero values and err; Expand answers
// expand.
type fakeStore struct {
	err    error
	expand store.TraversalResult
	calls  []string
}

func (f *fakeStore) called(name string) error { f.calls = append(f.calls, name); return f.err }

func (f *fakeStore) Nodes(context.Context, store.ObjectKind, []store.ID) (map[store.ID]store.Node, error) {
	return nil, f.called("Nodes")
}
func (f *fakeStore) ListNodes(context.Context, store.NodeFilter, store.PageRequest) (store.Page[store.CI], error) {
	return store.Page[store.CI]{}, f.called("ListNodes")
}
func (f *fakeStore) UpsertNodes(context.Context, store.Actor, store.UpsertBatch) ([]store.UpsertResult, error) {
	return nil, f.called("UpsertNodes")
}
func (f *fakeStore) UpsertGraph(context.Context, store.Actor, store.UpsertBatch) (store.GraphResult, error) {
	return store.GraphResult{}, f.called("UpsertGraph")
}
func (f *fakeStore) DeleteNodes(context.Context, store.Actor, store.ObjectKind, []store.ID) ([]store.UpsertResult, error) {
	return nil, f.called("DeleteNodes")
}
func (f *fakeStore) CreateRelationships(context.Context, store.Actor, []store.RelationshipInput, bool) ([]store.RelationshipResult, error) {
	return nil, f.called("CreateRelationships")
}
func (f *fakeStore) DeleteRelationships(context.Context, store.Actor, []store.ID) ([]store.RelationshipResult, error) {
	return nil, f.called("DeleteRelationships")
}
func (f *fakeStore) Relationships(context.Context, []store.ID) (map[store.ID]store.Relationship, error) {
	return nil, f.called("Relationships")
}
func (f *fakeStore) RelationshipsOf(context.Context, []store.ID, store.Direction, []string) (map[store.ID][]store.Relationship, error) {
	return nil, f.called("RelationshipsOf")
}
func (f *fakeStore) RelationshipPages(context.Context, []store.RelationshipPageRequest) ([]store.Page[store.Relationship], error) {
	return nil, f.called("RelationshipPages")
}
func (f *fakeStore) NodeFields(context.Context, store.ObjectKind, []store.ID, []string) (map[store.ID]store.Node, error) {
	return nil, f.called("NodeFields")
}
func (f *fakeStore) Edges(context.Context, []store.ID, store.Direction, []string) (store.Hops, error) {
	return store.Hops{}, f.called("Edges")
}
func (f *fakeStore) Expand(context.Context, store.Traversal) (store.TraversalResult, error) {
	return f.expand, f.called("Expand")
}
func (f *fakeStore) ShortestPath(context.Context, store.ID, store.ID, []store.EdgeRule, int) ([]store.Step, error) {
	return nil, f.called("ShortestPath")
}
func (f *fakeStore) History(context.Context, string, store.PageRequest) (store.Page[store.AuditRecord], error) {
	return store.Page[store.AuditRecord]{}, f.called("History")
}
func (f *fakeStore) Audit(context.Context, store.AuditFilter, store.PageRequest) (store.Page[store.AuditRecord], error) {
	return store.Page[store.AuditRecord]{}, f.called("Audit")
}
func (f *fakeStore) RecordConflicts(context.Context, []store.IdentityConflict) error {
	return f.called("RecordConflicts")
}
func (f *fakeStore) Conflicts(context.Context, store.PageRequest) (store.Page[store.IdentityConflict], error) {
	return store.Page[store.IdentityConflict]{}, f.called("Conflicts")
}
func (f *fakeStore) ResolveConflicts(context.Context, []store.ID) error {
	return f.called("ResolveConflicts")
}
func (f *fakeStore) ModelExtensions(context.Context) ([]store.ModelExtension, error) {
	return nil, f.called("ModelExtensions")
}
func (f *fakeStore) SaveModelExtension(context.Context, store.Actor, store.ModelExtension) error {
	return f.called("SaveModelExtension")
}
func (f *fakeStore) RetireModelExtension(context.Context, store.Actor, store.ObjectKind, string) error {
	return f.called("RetireModelExtension")
}
func (f *fakeStore) CreateToken(context.Context, store.Actor, store.APIToken) error {
	return f.called("CreateToken")
}
func (f *fakeStore) Token(context.Context, string) (store.APIToken, error) {
	return store.APIToken{}, f.called("Token")
}
func (f *fakeStore) Tokens(context.Context) ([]store.APIToken, error) { return nil, f.called("Tokens") }
func (f *fakeStore) RevokeToken(context.Context, store.Actor, string) (store.APIToken, error) {
	return store.APIToken{}, f.called("RevokeToken")
}
func (f *fakeStore) NextSequence(context.Context, string, int) (int64, error) {
	return 0, f.called("NextSequence")
}
func (f *fakeStore) ForgetRelationships(context.Context, store.Actor, []store.ID, store.Forget) ([]store.RelationshipResult, error) {
	return nil, f.called("ForgetRelationships")
}
func (f *fakeStore) SaveRun(context.Context, store.SyncRun) error { return f.called("SaveRun") }
func (f *fakeStore) LoadRun(context.Context, int64) (store.SyncRun, error) {
	return store.SyncRun{}, f.called("LoadRun")
}
func (f *fakeStore) MarkScope(context.Context, store.ScopeRef, int64, []string) error {
	return f.called("MarkScope")
}
func (f *fakeStore) ScopeMembers(context.Context, store.ScopeRef, string, int) ([]store.ScopeMember, error) {
	return nil, f.called("ScopeMembers")
}
func (f *fakeStore) ForgetScope(context.Context, store.ScopeRef, []string, int64) error {
	return f.called("ForgetScope")
}
func (f *fakeStore) Ping(context.Context) error { return f.called("Ping") }
func (f *fakeStore) Close() error               { return f.called("Close") }

var _ store.Store = (*fakeStore)(nil)

// callEveryMethod calls each method of store.Store on s, with zero
// arguments (and a live context), found by reflection so that a method
// added to the interface is covered without touching this test.
func callEveryMethod(t *testing.T, s store.Store) []string {
	t.Helper()
	iface := reflect.TypeFor[store.Store]()
	v := reflect.ValueOf(s)
	var names []string
	for i := range iface.NumMethod() {
		name := iface.Method(i).Name
		fn := v.MethodByName(name)
		args := make([]reflect.Value, fn.Type().NumIn())
		for j := range args {
			at := fn.Type().In(j)
			if at == reflect.TypeFor[context.Context]() {
				args[j] = reflect.ValueOf(t.Context())
			} else {
				args[j] = reflect.Zero(at)
			}
		}
		fn.Call(args)
		names = append(names, name)
	}
	return names
}

func TestInstrumentStoreTimesEveryMethod(t *testing.T) {
	m, reg := newMetrics(t)
	inner := &fakeStore{}
	s := InstrumentStore(inner, m)

	names := callEveryMethod(t, s)
	require.Len(t, names, 35, "store.Store changed: check the decorator")
	assert.Equal(t, names, inner.calls, "every call is forwarded, once")
	for _, name := range names {
		assert.Equal(t, uint64(1), observations(t, reg, "skein_store_call_duration_seconds",
			map[string]string{"method": name, "result": "ok"}), name)
	}
	assert.Equal(t, len(names), testutil.CollectAndCount(m.storeDuration))
	u, ok := s.(interface{ Unwrap() store.Store })
	require.True(t, ok)
	assert.Same(t, store.Store(inner), u.Unwrap())
}

// observations returns how many observations the histogram name holds
// under exactly the given labels.
func observations(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}

func TestInstrumentStoreResults(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{fmt.Errorf("ci 7: %w", store.ErrNotFound), "not_found"},
		{fmt.Errorf("key taken: %w", store.ErrConflict), "conflict"},
		{fmt.Errorf("neo4j: %w: more than 50000 CIs", store.ErrSubgraphTooLarge), "too_large"},
		{&store.ItemError{Index: 3, Err: store.Invalid("name", "required")}, "invalid"},
		{fmt.Errorf("dial: %w", store.ErrUnavailable), "unavailable"},
		{context.Canceled, "canceled"},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), "timeout"},
		{errors.New("boom"), "error"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			m, reg := newMetrics(t)
			s := InstrumentStore(&fakeStore{err: tt.err}, m)
			err := s.Ping(t.Context())
			assert.Equal(t, tt.err, err, "errors pass through untouched")
			assert.Equal(t, uint64(1), observations(t, reg, "skein_store_call_duration_seconds",
				map[string]string{"method": "Ping", "result": tt.want}))
		})
	}
}

func TestInstrumentStoreRecordsTraversalSizes(t *testing.T) {
	m, reg := newMetrics(t)
	reached := func(n int, truncated bool) store.TraversalResult {
		r := store.TraversalResult{Nodes: []store.Reached{{ID: "start"}}, Truncated: truncated}
		for i := range n {
			r.Nodes = append(r.Nodes, store.Reached{ID: store.ID(fmt.Sprint(i)), Depth: 1 + i%3})
		}
		return r
	}
	for _, r := range []store.TraversalResult{reached(0, false), reached(3, false), reached(100, true)} {
		got, err := InstrumentStore(&fakeStore{expand: r}, m).Expand(t.Context(), store.Traversal{})
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
	// A failed traversal has no size.
	_, err := InstrumentStore(&fakeStore{err: store.ErrUnavailable, expand: reached(5, false)}, m).
		Expand(t.Context(), store.Traversal{})
	require.Error(t, err)

	want := `
# HELP skein_traversal_truncated_total Traversals stopped early by their node budget.
# TYPE skein_traversal_truncated_total counter
skein_traversal_truncated_total 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "skein_traversal_truncated_total"))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "skein_traversal_nodes_reached" {
			h := mf.GetMetric()[0].GetHistogram()
			assert.Equal(t, uint64(3), h.GetSampleCount())
			assert.Equal(t, 103.0, h.GetSampleSum(), "start nodes are not counted")
			return
		}
	}
	t.Fatal("skein_traversal_nodes_reached not gathered")
}

// TestLint checks names, help and units against Prometheus' conventions.
func TestLint(t *testing.T) {
	m, reg := newMetrics(t)
	m.ObserveGraphQL("Q", "query", time.Millisecond)
	m.CountGraphQLError("NOT_FOUND")
	m.ObserveHTTP("/graphql", "POST", 200, time.Millisecond)
	_, err := InstrumentStore(&fakeStore{}, m).Expand(t.Context(), store.Traversal{})
	require.NoError(t, err)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}
