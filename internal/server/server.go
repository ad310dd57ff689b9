package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/metrics"
	"github.com/skein-cmdb/skein/internal/store"
)

// Deps are what the router serves. Every field may be nil: a nil GraphQL
// answers 503, a nil Ready is always ready, a nil Logger discards, a nil
// Registry leaves /metrics out and a nil Metrics records nothing.
type Deps struct {
	// GraphQL serves the API at /graphql, for GET and POST.
	GraphQL http.Handler
	// Ready reports whether the service can answer requests (typically the
	// store's Ping); /readyz answers 503 while it returns an error.
	Ready func(context.Context) error
	// Logger receives the access log and the reports of panics.
	Logger *slog.Logger
	// Registry is exposed at /metrics.
	Registry *prometheus.Registry
	// Metrics records HTTP requests by route and status.
	Metrics *metrics.Metrics
	// ClientKey names the client a request is rate limited as
	// (server.rate_limit); nil means the request's API token, or RemoteIP
	// for a request without one.
	ClientKey func(*http.Request) string
	// Authenticate checks a request's credentials and returns its context
	// carrying the caller's identity (auth.Authenticator.Request). An error
	// wrapping auth.ErrUnauthenticated is answered 401 UNAUTHENTICATED on
	// the API routes, any other 503 UNAVAILABLE. Nil lets every request
	// through as anonymous.
	Authenticate func(*http.Request) (context.Context, error)
	// Alerts serves Prometheus Alertmanager's webhook at POST
	// /api/v1/alerts/alertmanager (internal/alerts); nil leaves it out.
	Alerts http.Handler
	// Batches serves discovery batches at POST /api/v1/batches
	// (internal/batches); nil leaves it out.
	Batches http.Handler
	// Runs serves discovery runs under /api/v1/runs (internal/batches,
	// scoped sync); nil leaves them out.
	Runs http.Handler
	// Import serves the streaming import at POST ImportPath
	// (internal/batches): it bounds each chunk of its stream itself, so
	// server.max_body_bytes and server.request_timeout do not apply to it
	// as a whole. Nil leaves it out.
	Import http.Handler
}

// ImportPath is the streaming import's endpoint.
const ImportPath = "/api/v1/import"

// exceptStream applies mw to every request but the streaming import's,
// which bounds each chunk of its stream itself (a whole import takes as
// long and as many bytes as its input).
func exceptStream(mw func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		wrapped := mw(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == ImportPath && r.Method == http.MethodPost {
				next.ServeHTTP(w, r)
				return
			}
			wrapped.ServeHTTP(w, r)
		})
	}
}

// readyTimeout bounds one readiness check, so a hung backend makes /readyz
// answer 503 rather than hang the probe.
const readyTimeout = 5 * time.Second

// New returns the router with every route and middleware, configured by
// cfg.Server.
func New(cfg config.Config, d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	r := chi.NewRouter()
	r.Use(
		requestID,
		securityHeaders,
		observe(d.Logger, d.Metrics),
		recoverer(d.Logger),
	)
	// CORS before the rate limit, so that a 429 to an allowed origin
	// carries CORS headers and the page can read its Retry-After.
	if c := corsHandler(cfg.Server.CORSAllowedOrigins); c != nil {
		r.Use(c)
	}
	r.Use(
		exceptStream(limitBody(cfg.Server.MaxBodyBytes)),
		exceptStream(timeout(cfg.Server.RequestTimeout)), // before authentication, which reads the store
	)
	if d.Authenticate != nil {
		r.Use(authenticate(d.Authenticate))
	} else {
		// Every request carries an identity, so that no service takes it
		// for the process itself (auth.Check).
		r.Use(func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				next.ServeHTTP(w, req.WithContext(auth.Attached(req.Context())))
			})
		})
	}
	if cfg.Server.RateLimit > 0 {
		if d.ClientKey == nil {
			d.ClientKey = clientKey
		}
		r.Use(newRateLimiter(cfg.Server.RateLimit, cfg.Server.RateBurst, d.ClientKey).middleware)
	}
	r.Use(middleware.GetHead) // HEAD is answered wherever GET is
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, "NOT_FOUND", "no such endpoint: "+r.URL.Path, nil)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, "METHOD_NOT_ALLOWED", r.Method+" is not allowed on "+r.URL.Path, nil)
	})

	gql := d.GraphQL
	if gql == nil {
		gql = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, r, "UNAVAILABLE", "the GraphQL API is not configured", nil)
		})
	}
	var guards []func(http.Handler) http.Handler
	if cfg.Server.MaxInFlight > 0 {
		guards = append(guards, shed(cfg.Server.MaxInFlight, shedWait, nil)) // one set of slots for GET and POST
	}
	guards = append(guards, requireAuth(d.Logger), refuseBatches)
	api := r.With(guards...)
	api.Get("/graphql", gql.ServeHTTP)
	api.Post("/graphql", gql.ServeHTTP)
	if d.Alerts != nil {
		api.Post("/api/v1/alerts/alertmanager", d.Alerts.ServeHTTP)
	}
	if d.Batches != nil {
		api.Post("/api/v1/batches", d.Batches.ServeHTTP)
	}
	if d.Import != nil {
		api.Post(ImportPath, d.Import.ServeHTTP)
	}
	if d.Runs != nil {
		api.Mount("/api/v1/runs", d.Runs)
	}

	r.Get("/healthz", healthz)
	r.Get("/readyz", readyz(d.Ready, d.Logger))
	if d.Registry != nil {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{
			ErrorLog:      promLogger{d.Logger},
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}

	pg := newPlayground(bundle(), d.Logger)
	r.Get("/", pg.index)
	r.Get("/playground", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/", http.StatusMovedPermanently)
	})
	r.With(middleware.Compress(5)).Get("/assets/*", pg.assets)
	return r
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 {"status":"ready"} or 503 {"status":"unavailable",
// "reason":...}. The reason is one of a few fixed phrases; the error itself
// may hold addresses or driver messages, so it goes to the log only.
func readyz(ready func(context.Context) error, logger *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		var err error
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			err = ready(ctx)
			cancel()
		}
		if err == nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		reason := "not ready"
		switch {
		case errors.Is(err, store.ErrUnavailable):
			reason = "store unavailable"
		case errors.Is(err, context.DeadlineExceeded):
			reason = "readiness check timed out"
		}
		logger.LogAttrs(r.Context(), slog.LevelWarn, "not ready",
			slog.String("reason", reason), slog.Any("err", err),
			slog.String("request_id", middleware.GetReqID(r.Context())))
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": reason})
	}
}

// gqlError is one error in the GraphQL response shape.
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// writeError answers status with {"errors":[{"message", "extensions":{"code",
// "request_id", ...extra}}]}.
func writeError(w http.ResponseWriter, r *http.Request, code, message string, extra map[string]any) {
	status := apierr.Status(apierr.Code(code)) // one status per code, for every API
	ext := map[string]any{"code": code}
	if id := middleware.GetReqID(r.Context()); id != "" {
		ext["request_id"] = id
	}
	for k, v := range extra {
		ext[k] = v
	}
	writeJSON(w, status, map[string]any{"errors": []gqlError{{Message: message, Extensions: ext}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only fixed shapes are written here
		status, body = http.StatusInternalServerError, []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	h := w.Header()
	// A handler that failed (or panicked) may have set headers describing
	// the body it meant to send.
	for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Disposition", "Content-Range", "ETag", "Last-Modified"} {
		h.Del(k)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// promLogger routes promhttp's gathering errors to slog.
type promLogger struct{ l *slog.Logger }

func (p promLogger) Println(v ...any) {
	p.l.Warn("metrics: gathering failed", "err", fmt.Sprint(v...))
}
