package graph

import (
	"context"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/skein-cmdb/skein/internal/auth"
)

// responseHints are what the GraphQL layer asks of the HTTP answer it
// cannot write itself: gqlgen's transports choose the status and headers,
// but some errors have HTTP semantics (a 401 with its challenge, a
// Retry-After). withHints applies them when the answer starts.
type responseHints struct {
	mu     sync.Mutex
	status int
	header http.Header
}

type hintsKey struct{}

// hint records a status (0 keeps the transport's) and headers for the
// answer to the request of ctx; outside withHints it does nothing.
func hint(ctx context.Context, status int, header ...string) {
	h, _ := ctx.Value(hintsKey{}).(*responseHints)
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if status != 0 {
		h.status = status
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.header.Set(header[i], header[i+1])
	}
}

// withHints serves next with room for hints in the request's context, and
// applies them to the answer's status and headers.
func withHints(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := &responseHints{header: http.Header{}}
		next.ServeHTTP(&hintedWriter{ResponseWriter: w, hints: h}, r.WithContext(context.WithValue(r.Context(), hintsKey{}, h)))
	})
}

type hintedWriter struct {
	http.ResponseWriter
	hints   *responseHints
	started bool
}

func (w *hintedWriter) WriteHeader(code int) {
	if !w.started && code >= 200 {
		w.started = true
		w.hints.mu.Lock()
		for k, v := range w.hints.header {
			w.Header()[k] = v
		}
		if w.hints.status != 0 {
			code = w.hints.status
		}
		w.hints.mu.Unlock()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hintedWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *hintedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requireToken refuses, before anything runs, an operation sent without a
// token whose root fields include one that needs a token: the whole
// operation, with 401 and a WWW-Authenticate challenge, as for a request
// with a bad token. (authorize still guards each root field.)
type requireToken struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = requireToken{}

func (requireToken) ExtensionName() string                   { return "RequireToken" }
func (requireToken) Validate(graphql.ExecutableSchema) error { return nil }
func (requireToken) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || auth.FromContext(ctx).Role != auth.Anonymous {
		return nil
	}
	name := needsToken(oc.Operation.SelectionSet, map[string]bool{})
	if name == "" {
		return nil
	}
	hint(ctx, http.StatusUnauthorized, "WWW-Authenticate", `Bearer realm="skein"`)
	err := gqlerror.Errorf("%s", auth.Forbidden(auth.Anonymous, name).Error())
	err.Extensions = map[string]any{"code": CodeUnauthenticated}
	return err
}

// needsToken returns the first root field of set ("Type.field") that
// anonymous callers may not use, or "".
func needsToken(set ast.SelectionSet, visiting map[string]bool) string {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.ObjectDefinition == nil || len(s.Name) > 1 && s.Name[:2] == "__" {
				continue
			}
			if name := s.ObjectDefinition.Name + "." + s.Name; !allowedField(auth.Anonymous, name) {
				return name
			}
		case *ast.InlineFragment:
			if name := needsToken(s.SelectionSet, visiting); name != "" {
				return name
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue
			}
			visiting[s.Name] = true
			if name := needsToken(s.Definition.SelectionSet, visiting); name != "" {
				return name
			}
		}
	}
	return ""
}
