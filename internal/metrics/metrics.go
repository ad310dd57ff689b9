package metrics

import (
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "skein"

// Label value caps. Values beyond them are counted under Other.
const (
	// MaxOperationNames is how many distinct GraphQL operation names get
	// their own series.
	MaxOperationNames = 200
	// MaxErrorCodes is how many distinct GraphQL error codes get their own
	// series.
	MaxErrorCodes = 50
	// Other is the label value that stands for every value beyond a cap or
	// not recognised.
	Other = "other"
	// Anonymous is the operation label of an operation without a name.
	Anonymous = "anonymous"
)

// Metrics records Skein's metrics. Its methods are safe for concurrent use,
// and are no-ops on a nil *Metrics, so instrumentation can be left out of
// tests and tools.
type Metrics struct {
	graphqlRequests    *prometheus.CounterVec
	graphqlDuration    *prometheus.HistogramVec
	graphqlErrors      *prometheus.CounterVec
	httpRequests       *prometheus.CounterVec
	httpDuration       *prometheus.HistogramVec
	storeDuration      *prometheus.HistogramVec
	traversalNodes     prometheus.Histogram
	traversalTruncated prometheus.Counter

	operations *capped
	codes      *capped
}

// latencyBuckets spans a cached embedded-store read (sub-millisecond) to a
// request that hits its timeout (30s).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New creates Skein's collectors and registers them on reg, typically a
// *prometheus.Registry owned by the caller. It fails if any is already
// registered there.
//
// The metrics are:
//
//	skein_graphql_requests_total{operation,type}             counter
//	skein_graphql_request_duration_seconds{operation,type}   histogram
//	skein_graphql_errors_total{code}                         counter
//	skein_http_requests_total{route,method,status}           counter
//	skein_http_request_duration_seconds{route,method}        histogram
//	skein_store_call_duration_seconds{method,result}         histogram
//	skein_traversal_nodes_reached                            histogram
//	skein_traversal_truncated_total                          counter
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		graphqlRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "requests_total",
			Help: "GraphQL operations executed, by operation name and type (query, mutation, subscription).",
		}, []string{"operation", "type"}),
		graphqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "request_duration_seconds",
			Help:    "Time to execute a GraphQL operation, by operation name and type.",
			Buckets: latencyBuckets,
		}, []string{"operation", "type"}),
		graphqlErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "graphql", Name: "errors_total",
			Help: "GraphQL errors returned to clients, by extensions.code (NOT_FOUND, INVALID, ...).",
		}, []string{"code"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "store", Name: "call_duration_seconds",
			Help:    "Time of a Store method call, by method and result (ok, not_found, conflict, too_large, invalid, unavailable, canceled, timeout, error).",
			Buckets: latencyBuckets,
		}, []string{"method", "result"}),
		traversalNodes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "traversal", Name: "nodes_reached",
			Help:    "CIs reached by a traversal beyond its start set.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 11), // 1 .. ~1M
		}),
		traversalTruncated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "traversal", Name: "truncated_total",
			Help: "Traversals stopped early by their node budget.",
		}),
		operations: newCapped(MaxOperationNames),
		codes:      newCapped(MaxErrorCodes),
	}
	for _, c := range []prometheus.Collector{
		m.graphqlRequests, m.graphqlDuration, m.graphqlErrors,
		m.httpRequests, m.httpDuration,
		m.storeDuration, m.traversalNodes, m.traversalTruncated,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// NewRegistry returns a registry with the Go runtime and process collectors
// (go_*, process_*) already registered, ready for New and for /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// GraphQL names are /[_A-Za-z][_0-9A-Za-z]*/; longer than 64 is not a name
// anyone chose for a dashboard.
var (
	graphqlName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)
	errorCode   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)
)

// ObserveGraphQL records one executed GraphQL operation: its name (""
// for an anonymous operation), its type ("query", "mutation" or
// "subscription") and how long it took. Names beyond MaxOperationNames
// distinct ones, and names that are not GraphQL names, count as Other.
func (m *Metrics) ObserveGraphQL(operation, opType string, d time.Duration) {
	if m == nil {
		return
	}
	op := Anonymous
	switch {
	case operation == "":
	case graphqlName.MatchString(operation):
		op = m.operations.value(operation)
	default:
		op = Other
	}
	switch opType {
	case "query", "mutation", "subscription":
	default:
		opType = Other
	}
	m.graphqlRequests.WithLabelValues(op, opType).Inc()
	m.graphqlDuration.WithLabelValues(op, opType).Observe(d.Seconds())
}

// CountGraphQLError records one error returned to a client, by its
// extensions.code (such as NOT_FOUND or GRAPHQL_VALIDATION_FAILED; "" counts
// as INTERNAL). Codes beyond MaxErrorCodes distinct ones count as Other.
func (m *Metrics) CountGraphQLError(code string) {
	if m == nil {
		return
	}
	switch {
	case code == "":
		code = "INTERNAL"
	case errorCode.MatchString(code):
		code = m.codes.value(code)
	default:
		code = Other
	}
	m.graphqlErrors.WithLabelValues(code).Inc()
}

// ObserveHTTP records one answered HTTP request. route is the router's
// pattern (such as "/graphql" or "/assets/*"), never the raw path, so that
// the number of series stays bounded; "" counts as "unmatched".
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = "unmatched"
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
	default:
		method = Other
	}
	st := Other
	if status >= 100 && status <= 599 {
		st = strconv.Itoa(status)
	}
	m.httpRequests.WithLabelValues(route, method, st).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// observeStore records one Store call; see InstrumentStore.
func (m *Metrics) observeStore(method string, start time.Time, err error) {
	m.storeDuration.WithLabelValues(method, result(err)).Observe(time.Since(start).Seconds())
}

// observeTraversal records the size of one traversal.
func (m *Metrics) observeTraversal(reached int, truncated bool) {
	m.traversalNodes.Observe(float64(reached))
	if truncated {
		m.traversalTruncated.Inc()
	}
}

// capped admits the first max distinct label values and maps the rest to
// Other.
type capped struct {
	mu   sync.RWMutex
	max  int
	seen map[string]struct{}
}

func newCapped(max int) *capped { return &capped{max: max, seen: make(map[string]struct{})} }

func (c *capped) value(v string) string {
	c.mu.RLock()
	_, ok := c.seen[v]
	c.mu.RUnlock()
	if ok {
		return v
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[v]; ok {
		return v
	}
	if len(c.seen) >= c.max {
		return Other
	}
	c.seen[v] = struct{}{}
	return v
}
