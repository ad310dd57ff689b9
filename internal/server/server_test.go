package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/metrics"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// logBuffer collects JSON log lines; safe for the server's goroutines.
type logBuffer struct{ testenv.LogBuffer }

// lines returns the log records whose msg is msg.
func (b *logBuffer) lines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		if rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

type fixture struct {
	handler http.Handler
	logs    *logBuffer
	reg     *prometheus.Registry
	ready   error // what Deps.Ready returns
	gqlSeen *http.Request
}

// newFixture builds the real router with a GraphQL handler that echoes
// {"data":{"__typename":"Query"}} and reads the body as a real one would.
func newFixture(t testing.TB, modify ...func(*config.Config, *Deps)) *fixture {
	t.Helper()
	f := &fixture{logs: &logBuffer{}, reg: prometheus.NewRegistry()}
	m, err := metrics.New(f.reg)
	require.NoError(t, err)
	cfg := config.Default()
	d := Deps{
		GraphQL: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.gqlSeen = r
			if r.Method == http.MethodPost {
				if _, err := io.ReadAll(r.Body); err != nil {
					http.Error(w, "could not read body", http.StatusBadRequest)
					return
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"data":{"__typename":"Query"}}`)
		}),
		Ready:    func(context.Context) error { return f.ready },
		Logger:   slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: f.reg,
		Metrics:  m,
	}
	for _, fn := range modify {
		fn(&cfg, &d)
	}
	f.handler = New(cfg, d)
	return f
}

func (f *fixture) do(t testing.TB, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// gqlErr decodes the first error of a GraphQL-shaped error body.
func gqlErr(t testing.TB, w *httptest.ResponseRecorder) gqlError {
	t.Helper()
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	var body struct{ Errors []gqlError }
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	require.Len(t, body.Errors, 1)
	return body.Errors[0]
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		method   string
		path     string
		body     string
		status   int
		ctype    string
		contains string
	}{
		{"health", "GET", "/healthz", "", 200, "text/plain; charset=utf-8", "ok"},
		{"ready", "GET", "/readyz", "", 200, "application/json; charset=utf-8", `{"status":"ready"}`},
		{"graphql post", "POST", "/graphql", `{"query":"{ __typename }"}`, 200, "application/json", `"__typename":"Query"`},
		{"graphql get", "GET", "/graphql?query={__typename}", "", 200, "application/json", `"__typename":"Query"`},
		{"graphql put", "PUT", "/graphql", "", 405, "application/json; charset=utf-8", `"code":"METHOD_NOT_ALLOWED"`},
		{"playground", "GET", "/", "", 200, "text/html; charset=utf-8", "Skein Playground"},
		{"playground head", "HEAD", "/", "", 200, "text/html; charset=utf-8", ""},
		{"old playground path", "GET", "/playground", "", 301, "text/html; charset=utf-8", ""},
		{"unknown path", "GET", "/nope", "", 404, "application/json; charset=utf-8", `"code":"NOT_FOUND"`},
		{"no directory listing", "GET", "/assets/", "", 404, "application/json; charset=utf-8", `"code":"NOT_FOUND"`},
		// Registered last: it sees the requests above.
		{"metrics", "GET", "/metrics", "", 200, "text/plain; version=0.0.4; charset=utf-8; escaping=underscores", `skein_http_requests_total{method="POST",route="/graphql",status="200"} 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(t, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Equal(t, tt.ctype, w.Header().Get("Content-Type"))
			assert.Contains(t, w.Body.String(), tt.contains)
			assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
			assert.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))
			assert.NotEmpty(t, w.Header().Get("Content-Security-Policy"))
			assert.NotEmpty(t, w.Header().Get(RequestIDHeader))
		})
	}
}

func TestNilDeps(t *testing.T) {
	h := New(config.Default(), Deps{})
	for path, status := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 404, "/graphql": 503} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		assert.Equal(t, status, w.Code, path)
	}
}

func TestPlaygroundEmbedded(t *testing.T) {
	// Whichever state the embedded bundle is in, / answers 200 with HTML
	// and the Playground's CSP, never a 500.
	f := newFixture(t)
	w := f.do(t, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, playgroundCSP, w.Header().Get("Content-Security-Policy"))
	assert.Equal(t, "no-cache", w.Header().Get("Cache-Control"))
	assert.Contains(t, w.Body.String(), "<title>Skein Playground</title>")

	if _, err := fs.Stat(bundle(), "index.html"); err != nil {
		t.Log("Playground bundle not built (make playground): checked the placeholder page only")
		return
	}
	// Every script is served, with the same CSP, cached for good (the names
	// carry content hashes), and compressed on request.
	assets, err := fs.Glob(bundle(), "assets/*.js")
	require.NoError(t, err)
	require.NotEmpty(t, assets)
	for i, a := range assets {
		r := httptest.NewRequest("GET", "/"+a, nil)
		if i == 0 { // compressing megabytes of Monaco under -race is slow: once is enough
			r.Header.Set("Accept-Encoding", "gzip")
		}
		w := f.do(t, r)
		assert.Equal(t, 200, w.Code, a)
		assert.Equal(t, "text/javascript; charset=utf-8", w.Header().Get("Content-Type"), a)
		if i == 0 {
			assert.Equal(t, "gzip", w.Header().Get("Content-Encoding"), a)
		}
		assert.Equal(t, "public, max-age=31536000, immutable", w.Header().Get("Cache-Control"), a)
		assert.Equal(t, playgroundCSP, w.Header().Get("Content-Security-Policy"), a)
	}
	// No script or style comes from anywhere but this origin.
	page := w.Body.String()
	assert.NotContains(t, page, "http://")
	assert.NotContains(t, page, "https://")
	assert.NotContains(t, playgroundCSP, "http")
}

func TestPlaygroundNotBuilt(t *testing.T) {
	pg := newPlayground(fstest.MapFS{"README.md": {Data: []byte("placeholder")}}, slog.New(slog.DiscardHandler))
	w := httptest.NewRecorder()
	pg.index(w, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	assert.Contains(t, w.Body.String(), "Playground not built: run <code>make playground</code>")

	w = httptest.NewRecorder()
	pg.assets(w, httptest.NewRequest("GET", "/assets/index.js", nil))
	assert.Equal(t, 404, w.Code)
	assert.Contains(t, w.Body.String(), "make playground")
}

func TestPlaygroundBuilt(t *testing.T) {
	root := fstest.MapFS{
		"index.html":         {Data: []byte(`<title>Skein Playground</title><script type="module" src="./assets/app-1234.js"></script>`)},
		"assets/app-1234.js": {Data: []byte(`console.log("hi")`)},
		"README.md":          {Data: []byte("not served")},
	}
	pg := newPlayground(root, slog.New(slog.DiscardHandler))
	w := httptest.NewRecorder()
	pg.index(w, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, 200, w.Code)
	assert.Contains(t, w.Body.String(), "app-1234.js")

	w = httptest.NewRecorder()
	pg.assets(w, httptest.NewRequest("GET", "/assets/app-1234.js", nil))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, `console.log("hi")`, w.Body.String())
}

func TestRequestID(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"generated when absent", "", false},
		{"kept when well-formed", "edge-proxy/abc-123", true},
		{"replaced when too long", strings.Repeat("x", 200), false},
		{"replaced when it has spaces", "a b", false},
		{"replaced when it has control characters", "a\x1bb", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/graphql", strings.NewReader(`{}`))
			if tt.incoming != "" {
				r.Header.Set(RequestIDHeader, tt.incoming)
			}
			w := f.do(t, r)
			id := w.Header().Get(RequestIDHeader)
			require.NotEmpty(t, id)
			assert.True(t, validRequestID.MatchString(id))
			if tt.keep {
				assert.Equal(t, tt.incoming, id)
			} else {
				assert.NotEqual(t, tt.incoming, id)
				assert.False(t, seen[id], "ids are unique")
				seen[id] = true
			}
			// The handler and the access log see the same id.
			assert.Equal(t, id, middleware.GetReqID(f.gqlSeen.Context()))
			logs := f.logs.lines(t, "http request")
			assert.Equal(t, id, logs[len(logs)-1]["request_id"])
		})
	}
}

func TestAccessLog(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("POST", "/graphql?token=query-secret", strings.NewReader(`{"query":"body-secret"}`))
	r.Header.Set("Authorization", "Bearer header-secret")
	f.do(t, r)
	f.do(t, httptest.NewRequest("GET", "/healthz", nil))

	logs := f.logs.lines(t, "http request")
	require.Len(t, logs, 2)
	rec := logs[0]
	assert.Equal(t, "INFO", rec["level"])
	assert.Equal(t, "POST", rec["method"])
	assert.Equal(t, "/graphql", rec["path"])
	assert.Equal(t, "/graphql", rec["route"])
	assert.Equal(t, 200.0, rec["status"])
	assert.Equal(t, float64(len(`{"data":{"__typename":"Query"}}`)), rec["bytes"])
	assert.Contains(t, rec, "duration")
	assert.NotEmpty(t, rec["request_id"])
	assert.Equal(t, "DEBUG", logs[1]["level"], "successful probes log at debug")
	for _, secret := range []string{"query-secret", "body-secret", "header-secret", "Authorization"} {
		assert.NotContains(t, f.logs.String(), secret)
	}
}

func TestBodyLimit(t *testing.T) {
	const limit = 64
	f := newFixture(t, func(c *config.Config, _ *Deps) { c.Server.MaxBodyBytes = limit })
	big := strings.Repeat("x", limit+1)

	tests := []struct {
		name    string
		req     func() *http.Request
		status  int
		handled bool
	}{
		{
			name:   "announced too large: refused before the handler",
			req:    func() *http.Request { return httptest.NewRequest("POST", "/graphql", strings.NewReader(big)) },
			status: 413,
		},
		{
			name: "streamed too large: the handler's read fails, the client gets 413",
			req: func() *http.Request {
				r := httptest.NewRequest("POST", "/graphql", io.NopCloser(strings.NewReader(big)))
				r.ContentLength = -1 // chunked: the size is only found by reading
				return r
			},
			status:  413,
			handled: true,
		},
		{
			name:    "at the limit",
			req:     func() *http.Request { return httptest.NewRequest("POST", "/graphql", strings.NewReader(big[:limit])) },
			status:  200,
			handled: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.gqlSeen = nil
			w := f.do(t, tt.req())
			assert.Equal(t, tt.status, w.Code, w.Body.String())
			assert.Equal(t, tt.handled, f.gqlSeen != nil)
			if tt.status != 413 {
				return
			}
			e := gqlErr(t, w)
			assert.Equal(t, "PAYLOAD_TOO_LARGE", e.Extensions["code"])
			assert.Equal(t, float64(limit), e.Extensions["limit_bytes"])
			assert.Contains(t, e.Message, "the limit is 64 bytes")
			assert.NotContains(t, w.Body.String(), "could not read body", "the handler's answer is replaced")
			assert.Equal(t, "close", w.Header().Get("Connection"))
		})
	}
}

func TestBodyLimitOverTheWire(t *testing.T) {
	f := newFixture(t, func(c *config.Config, _ *Deps) { c.Server.MaxBodyBytes = 1024 })
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	// An io.Reader of unknown length makes the client send chunked.
	resp, err := http.Post(srv.URL+"/graphql", "application/json", io.MultiReader(strings.NewReader(strings.Repeat(" ", 4096))))
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, 413, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `"limit_bytes":1024`)
}

func TestPanicRecovery(t *testing.T) {
	f := newFixture(t, func(_ *config.Config, d *Deps) {
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "999") // must not leak into the 500
			panic("boom: secret internal detail")
		})
	})
	w := f.do(t, httptest.NewRequest("POST", "/graphql", strings.NewReader("{}")))
	assert.Equal(t, 500, w.Code)
	e := gqlErr(t, w)
	assert.Equal(t, "internal error", e.Message)
	assert.Equal(t, "INTERNAL", e.Extensions["code"])
	assert.Equal(t, w.Header().Get(RequestIDHeader), e.Extensions["request_id"])
	assert.NotContains(t, w.Body.String(), "boom")
	assert.NotEqual(t, "999", w.Header().Get("Content-Length"))

	panics := f.logs.lines(t, "panic serving request")
	require.Len(t, panics, 1)
	assert.Equal(t, "boom: secret internal detail", panics[0]["panic"])
	assert.Contains(t, panics[0]["stack"], "server_test.go", "the stack is logged")
	reqs := f.logs.lines(t, "http request")
	assert.Equal(t, 500.0, reqs[len(reqs)-1]["status"])
	assert.Equal(t, "ERROR", reqs[len(reqs)-1]["level"])
}

// TestPanicAfterResponseStartedIsA500: the handler's answer is held until
// it returns (see timeout), so a handler that panics half way through its
// body sends nothing of it: the client gets the recoverer's whole 500, never
// a truncated body that looks complete.
func TestPanicAfterResponseStartedIsA500(t *testing.T) {
	f := newFixture(t, func(_ *config.Config, d *Deps) {
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, `{"data":`)
			_ = http.NewResponseController(w).Flush()
			panic("half way")
		})
	})
	srv := httptest.NewServer(f.handler)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 500, resp.StatusCode)
	assert.Contains(t, string(body), `"code":"INTERNAL"`)
	assert.NotContains(t, string(body), `{"data":`)
	assert.Len(t, f.logs.lines(t, "panic serving request"), 1)
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		reason string
	}{
		{"store unavailable", fmt.Errorf("neo4j: dial bolt://10.1.2.3:7687: %w", store.ErrUnavailable), "store unavailable"},
		{"check timed out", fmt.Errorf("ping: %w", context.DeadlineExceeded), "readiness check timed out"},
		{"anything else", errors.New("migration 12 pending on /var/lib/skein"), "not ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.ready = tt.err
			w := f.do(t, httptest.NewRequest("GET", "/readyz", nil))
			assert.Equal(t, 503, w.Code)
			assert.JSONEq(t, `{"status":"unavailable","reason":"`+tt.reason+`"}`, w.Body.String())
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			// The details go to the log, not to the prober.
			notReady := f.logs.lines(t, "not ready")
			require.Len(t, notReady, 1)
			assert.Equal(t, tt.err.Error(), notReady[0]["err"])
		})
	}
}

func TestRequestTimeout(t *testing.T) {
	f := newFixture(t, func(c *config.Config, d *Deps) {
		c.Server.RequestTimeout = 1 // nanosecond: already over when the handler starts
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // a well-behaved handler stops with its context
		})
	})
	w := f.do(t, httptest.NewRequest("POST", "/graphql", strings.NewReader("{}")))
	assert.Equal(t, 504, w.Code)
	e := gqlErr(t, w)
	assert.Equal(t, "TIMEOUT", e.Extensions["code"])
	assert.Contains(t, e.Message, "server.request_timeout")
}

// TestRequestTimeoutWhenTheHandlerIgnoresItsContext: work that does not
// watch its context (parsing and validating a GraphQL document) still gets
// the documented 504 at server.request_timeout, not a connection cut at the
// write deadline; what the handler writes later is discarded.
func TestRequestTimeoutWhenTheHandlerIgnoresItsContext(t *testing.T) {
	release := make(chan struct{})
	finished := make(chan struct{})
	f := newFixture(t, func(c *config.Config, d *Deps) {
		c.Server.RequestTimeout = 50 * time.Millisecond
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer close(finished)
			select { // busy, deaf to r.Context()
			case <-release:
			case <-time.After(2 * time.Second):
			}
			w.Header().Set("X-Late", "1")
			_, _ = w.Write([]byte(`{"data":{"late":true}}`))
		})
	})
	w := f.do(t, httptest.NewRequest("POST", "/graphql", strings.NewReader("{}")))
	close(release)
	<-finished
	assert.Equal(t, 504, w.Code)
	e := gqlErr(t, w)
	assert.Equal(t, "TIMEOUT", e.Extensions["code"])
	assert.Contains(t, e.Message, "server.request_timeout")
	assert.NotContains(t, w.Body.String(), "late")
	assert.Empty(t, w.Header().Get("X-Late"))
	reqs := f.logs.lines(t, "http request")
	require.NotEmpty(t, reqs)
	assert.Equal(t, 504.0, reqs[len(reqs)-1]["status"])
	assert.Equal(t, "/graphql", reqs[len(reqs)-1]["route"], "the route is logged though the handler still runs")

	// A handler that answers in time is answered as it wrote, headers,
	// status and body.
	f = newFixture(t, func(c *config.Config, d *Deps) {
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Mine", "1")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"data":{}}`))
		})
	})
	w = f.do(t, httptest.NewRequest("POST", "/graphql", strings.NewReader("{}")))
	assert.Equal(t, http.StatusAccepted, w.Code)
	reqs = f.logs.lines(t, "http request")
	assert.Equal(t, "/graphql", reqs[len(reqs)-1]["route"])
	assert.Equal(t, "1", w.Header().Get("X-Mine"))
	assert.Equal(t, `{"data":{}}`, w.Body.String())
}

// TestRequestTimeoutPanicReachesRecoverer: a panic in a handler still
// becomes the recoverer's logged 500.
func TestRequestTimeoutPanicReachesRecoverer(t *testing.T) {
	f := newFixture(t, func(c *config.Config, d *Deps) {
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	})
	w := f.do(t, httptest.NewRequest("POST", "/graphql", strings.NewReader("{}")))
	assert.Equal(t, 500, w.Code)
	assert.Equal(t, "INTERNAL", gqlErr(t, w).Extensions["code"])
	assert.Len(t, f.logs.lines(t, "panic serving request"), 1)
}

func TestHTTPMetrics(t *testing.T) {
	f := newFixture(t)
	f.do(t, httptest.NewRequest("POST", "/graphql", strings.NewReader("{}")))
	f.do(t, httptest.NewRequest("GET", "/no/such/path/1", nil))
	f.do(t, httptest.NewRequest("GET", "/no/such/path/2", nil))
	want := `
# HELP skein_http_requests_total HTTP requests answered, by route pattern, method and status code.
# TYPE skein_http_requests_total counter
skein_http_requests_total{method="GET",route="unmatched",status="404"} 2
skein_http_requests_total{method="POST",route="/graphql",status="200"} 1
`
	assert.NoError(t, testutil.GatherAndCompare(f.reg, strings.NewReader(want), "skein_http_requests_total"))
}
