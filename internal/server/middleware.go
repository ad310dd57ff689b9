package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/skein-cmdb/skein/internal/metrics"
)

// RequestIDHeader carries the request id, in requests (from a proxy that
// already assigned one) and in every response.
const RequestIDHeader = "X-Request-Id"

// validRequestID accepts ids a proxy or client may send: short, printable,
// no spaces, so that they are safe to log and to echo.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:/+=-]{1,128}$`)

// requestID adopts a well-formed incoming X-Request-Id or makes a random one,
// hands it to chi's middleware.RequestID (so middleware.GetReqID works
// everywhere below) and echoes it in the response. chi's own ids would embed
// the host name, which has no business in a response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			id = rand.Text()
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		middleware.RequestID(next).ServeHTTP(w, r)
	})
}

// Content-Security-Policies. API responses get the strictest one; the
// Playground's pages (see playground.go) get playgroundCSP: scripts, styles,
// fonts and workers from this origin only (no CDN), inline styles because
// the Monaco editor injects <style> elements, data: fonts because GraphiQL's
// stylesheet inlines its fonts.
const (
	apiCSP        = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
	playgroundCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"font-src 'self' data:; img-src 'self' data:; connect-src 'self'; worker-src 'self'; " +
		"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", apiCSP)
		next.ServeHTTP(w, r)
	})
}

// probes are logged at debug level when they succeed: a load balancer
// polling them every second would drown the log.
var probes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// caller is filled in by authenticate for observe's log line.
type caller struct{ tokenID string }

type callerKey struct{}

// observe writes one access log line per request (method, path, route,
// status, bytes, duration, request id, and the public ID of the request's
// API token; never bodies, query strings or headers, which may carry
// credentials) and records the request in m.
func observe(logger *slog.Logger, m *metrics.Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			who := &caller{}
			r = r.WithContext(context.WithValue(r.Context(), callerKey{}, who))
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				// A panic that recoverer re-raised (http.ErrAbortHandler)
				// still gets its log line.
				d := time.Since(start)
				status := ww.Status()
				if status == 0 {
					status = http.StatusOK // nothing written: net/http sends 200
				}
				route := ""
				if rc := chi.RouteContext(r.Context()); rc != nil {
					route = rc.RoutePattern()
				}
				m.ObserveHTTP(route, r.Method, status, d)
				level := slog.LevelInfo
				switch {
				case status >= 500:
					level = slog.LevelError
				case status < 400 && probes[r.URL.Path]:
					level = slog.LevelDebug
				}
				attrs := []slog.Attr{
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Int("bytes", ww.BytesWritten()),
					slog.Duration("duration", d),
					slog.String("request_id", middleware.GetReqID(r.Context())),
				}
				if who.tokenID != "" {
					attrs = append(attrs, slog.String("token", who.tokenID))
				}
				logger.LogAttrs(r.Context(), level, "http request", attrs...)
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// recoverer turns a panic into a logged stack and a JSON 500 without
// details. If the response had already started it aborts the connection
// instead, so the client cannot mistake a truncated body for a whole one.
func recoverer(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			defer func() {
				rec := recover()
				if rec == nil {
					return
				}
				if rec == http.ErrAbortHandler {
					panic(rec)
				}
				stack := debug.Stack()
				if hp, ok := rec.(handlerPanic); ok {
					rec, stack = hp.value, hp.stack
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("panic", fmt.Sprint(rec)),
					slog.String("stack", string(stack)),
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("request_id", middleware.GetReqID(r.Context())),
				)
				if ww.Status() != 0 {
					panic(http.ErrAbortHandler)
				}
				writeError(ww, r, "INTERNAL", "internal error", nil)
			}()
			next.ServeHTTP(ww, r)
		})
	}
}

// limitBody bounds request bodies to max bytes with http.MaxBytesReader. A
// body announced larger is refused before the handler runs; a body found
// larger while the handler reads it replaces whatever the handler answers
// (typically a 400 about a read error) with the same 413, which names the
// limit.
func limitBody(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > max {
				tooLarge(w, r, max)
				return
			}
			if r.Body == nil || r.Body == http.NoBody {
				next.ServeHTTP(w, r)
				return
			}
			lw := &limitWriter{ResponseWriter: w, r: r, max: max}
			r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, max), exceeded: &lw.exceeded}
			next.ServeHTTP(lw, r)
			if lw.exceeded.Load() && !lw.started {
				lw.answer()
			}
		})
	}
}

func tooLarge(w http.ResponseWriter, r *http.Request, max int64) {
	// The rest of the body is not read: close the connection after this
	// answer rather than drain it.
	w.Header().Set("Connection", "close")
	writeError(w, r, "PAYLOAD_TOO_LARGE",
		fmt.Sprintf("request body too large: the limit is %d bytes (server.max_body_bytes)", max),
		map[string]any{"limit_bytes": max})
}

// limitedBody notes when the handler hits the body limit.
type limitedBody struct {
	io.ReadCloser
	exceeded *atomic.Bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
		b.exceeded.Store(true)
	}
	return n, err
}

// limitWriter replaces the handler's answer with a 413 once the body limit
// was hit, and discards what the handler writes after that.
type limitWriter struct {
	http.ResponseWriter
	r        *http.Request
	max      int64
	exceeded atomic.Bool
	started  bool // the response (ours or the handler's) has begun
	replaced bool // ours: discard the handler's writes
}

func (w *limitWriter) answer() {
	w.started, w.replaced = true, true
	tooLarge(w.ResponseWriter, w.r, w.max)
}

func (w *limitWriter) WriteHeader(code int) {
	switch {
	case w.started:
		if !w.replaced {
			w.ResponseWriter.WriteHeader(code) // 1xx and superfluous calls, as net/http handles them
		}
	case w.exceeded.Load():
		w.answer()
	default:
		if code >= 200 {
			w.started = true
		}
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Flush, Hijack and Unwrap keep streaming and upgrades working through the
// wrapper.
func (w *limitWriter) Flush() {
	if !w.replaced {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

func (w *limitWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *limitWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// timeout gives each request a context that ends after d, and answers a
// JSON 504 TIMEOUT at d whatever the handler is doing. Handlers (and the
// store calls they make) stop when the context ends; but some work does not
// watch a context (gqlgen parses and validates a document without one), so
// the handler runs in its own goroutine and writes into a buffer: if it
// finishes in time its answer is sent as written, otherwise the client gets
// the 504 at d and what the handler writes later is discarded. The
// handler's goroutine keeps its max_in_flight slot until it returns.
func timeout(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			// chi reuses a request's routing context once the request is
			// answered; the handler, which may outlive the answer, routes on
			// a copy of its own, handed back when it finishes in time.
			route := chi.RouteContext(r.Context())
			var inner *chi.Context
			if route != nil {
				inner = route.Clone()
				ctx = context.WithValue(ctx, chi.RouteCtxKey, inner)
			}
			bw := &bufferedWriter{header: w.Header().Clone()}
			done := make(chan any, 1)
			go func() {
				defer func() {
					p := recover()
					if p != nil && p != http.ErrAbortHandler {
						p = handlerPanic{value: p, stack: debug.Stack()} // for the recoverer's log
					}
					done <- p
				}()
				next.ServeHTTP(bw, r.WithContext(ctx))
			}()
			select {
			case p := <-done:
				if route != nil {
					route.RoutePatterns = append(route.RoutePatterns[:0], inner.RoutePatterns...)
				}
				if p != nil {
					panic(p) // to the recoverer, on the request's goroutine
				}
				bw.flushTo(w)
				if bw.status == 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
					timedOut(w, r, d)
				}
			case <-ctx.Done():
				bw.abandon()
				if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return // the client went away: nobody to answer, and no timeout to count
				}
				if route != nil && route.Routes != nil { // for the access log and metrics
					if p := route.Routes.Find(chi.NewRouteContext(), r.Method, r.URL.Path); p != "" {
						route.RoutePatterns = append(route.RoutePatterns[:0], p)
					}
				}
				timedOut(w, r, d)
			}
		})
	}
}

// handlerPanic carries a panic from the handler's goroutine to the
// recoverer, with the stack where it happened.
type handlerPanic struct {
	value any
	stack []byte
}

func timedOut(w http.ResponseWriter, r *http.Request, d time.Duration) {
	writeError(w, r, "TIMEOUT",
		fmt.Sprintf("request took longer than %s (server.request_timeout)", d), nil)
}

// bufferedWriter holds a handler's answer until timeout sends it on, or
// discards it once the request has timed out.
type bufferedWriter struct {
	mu        sync.Mutex
	header    http.Header
	status    int
	body      bytes.Buffer
	abandoned bool
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.status == 0 && code >= 200 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.abandoned {
		return 0, http.ErrHandlerTimeout
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// Flush does nothing: the answer is sent whole when the handler returns.
func (b *bufferedWriter) Flush() {}

func (b *bufferedWriter) abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.abandoned = true
}

// flushTo sends the handler's answer, if it wrote one, to w.
func (b *bufferedWriter) flushTo(w http.ResponseWriter) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.status == 0 {
		return
	}
	dst := w.Header()
	for k := range dst {
		if _, ok := b.header[k]; !ok {
			delete(dst, k)
		}
	}
	for k, v := range b.header {
		dst[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
