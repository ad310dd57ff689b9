package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/skein-cmdb/skein/internal/auth"
)

// CodeUnauthenticated answers API requests whose credentials are missing
// (where they are required) or not valid.
const CodeUnauthenticated = "UNAUTHENTICATED"

type authFailureKey struct{}

// authenticate resolves each request's credentials with fn before the rate
// limiter, so that the limiter can key an authenticated request by its
// token. A failure is remembered in the context and answered by
// requireAuth on the API routes only: the Playground page and the probes
// stay open.
func authenticate(fn func(*http.Request) (context.Context, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if exempt(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, err := fn(r)
			if err != nil {
				ctx = context.WithValue(r.Context(), authFailureKey{}, err)
			} else if who, ok := r.Context().Value(callerKey{}).(*caller); ok {
				who.tokenID = auth.FromContext(ctx).TokenID // the public part only
			}
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// requireAuth answers an API request whose authentication failed: 401
// UNAUTHENTICATED with a WWW-Authenticate challenge, or 503 UNAVAILABLE
// when the token could not be checked (the store is down).
func requireAuth(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err, _ := r.Context().Value(authFailureKey{}).(error)
			switch {
			case err == nil:
				next.ServeHTTP(w, r)
			case errors.Is(err, auth.ErrUnauthenticated):
				w.Header().Set("WWW-Authenticate", `Bearer realm="skein"`)
				writeError(w, r, CodeUnauthenticated, err.Error(), nil)
			default:
				logger.LogAttrs(r.Context(), slog.LevelWarn, "authentication unavailable", slog.Any("err", err),
					slog.String("request_id", middleware.GetReqID(r.Context())))
				w.Header().Set("Retry-After", "1")
				writeError(w, r, "UNAVAILABLE",
					"API tokens cannot be checked right now (the store is unavailable); retry later", nil)
			}
		})
	}
}

// clientKey is the rate limiter's default key: the token of an
// authenticated request (so a token has one budget wherever it is used
// from, and clients behind one NAT do not share theirs), else RemoteIP.
func clientKey(r *http.Request) string {
	if id := auth.FromContext(r.Context()); id.Authenticated() {
		return "token:" + id.TokenID
	}
	return RemoteIP(r)
}
