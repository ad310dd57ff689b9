package graph

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/skein-cmdb/skein/graph/generated"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/health"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/webhooks"
)

// Resolver holds the services the resolvers call. Build it in cmd/.
type Resolver struct {
	CMDB   *cmdb.Service
	Store  store.Store
	Impact *impact.Analyzer
	// ITSM opens, changes and advances incidents and the other records.
	ITSM *itsm.Service
	// Webhooks keeps the outbound webhooks and sends them record events.
	Hooks *webhooks.Dispatcher
	// Health computes the CMDB health figures (cmdbHealth).
	Health *health.Checker
	// Tokens keeps API token records; nil means Store. Give it the
	// authenticator's cache, so that revocations take effect at once.
	Tokens  store.TokenStore
	Version string

	traversals          chan struct{} // slots for traversal queries; set by NewHandler
	traversalWait       time.Duration
	traversalWaiters    atomic.Int64 // queries waiting for a slot
	maxTraversalWaiters int64
}

// Options configures the GraphQL handler.
type Options struct {
	MaxDepth      int  // deepest selection nesting accepted
	MaxComplexity int  // highest complexity accepted
	MaxAliases    int  // most aliased fields per operation (DefaultMaxAliases if 0)
	MaxOperations int  // most operations per document (DefaultMaxOperations if 0)
	MaxSelections int  // most selections written in a document (DefaultMaxSelections if 0)
	Introspection bool // allow __schema / __type
	Logger        *slog.Logger
	// OnError is told the code of every error returned (for metrics); may
	// be nil.
	OnError func(code string)
	// Around wraps every operation (for metrics and logs); may be nil.
	Around graphql.OperationMiddleware
	// LoaderWait is how long loaders gather keys (DefaultLoaderWait if 0).
	LoaderWait time.Duration
	// MaxTraversals bounds the traversal queries (impact, dependencies,
	// dependents, paths) running at once; 0 means unbounded.
	MaxTraversals int
	// TraversalWait is how long a traversal query waits for a slot before
	// it is refused with OVERLOADED (default one second).
	TraversalWait time.Duration
	// MaxTraversalWaiters bounds the traversal queries waiting for a slot;
	// more are refused at once (default 16 × MaxTraversals).
	MaxTraversalWaiters int
}

// NewHandler returns the /graphql HTTP handler: POST and GET, limits,
// error presentation, and per-request loaders.
func NewHandler(r *Resolver, o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OnError == nil {
		o.OnError = func(string) {}
	}
	if o.MaxAliases <= 0 {
		o.MaxAliases = DefaultMaxAliases
	}
	if o.MaxOperations <= 0 {
		o.MaxOperations = DefaultMaxOperations
	}
	if o.MaxSelections <= 0 {
		o.MaxSelections = DefaultMaxSelections
	}
	if o.MaxTraversals > 0 {
		r.traversals = make(chan struct{}, o.MaxTraversals)
		r.traversalWait = o.TraversalWait
		if r.traversalWait <= 0 {
			r.traversalWait = time.Second
		}
		r.maxTraversalWaiters = int64(o.MaxTraversalWaiters)
		if r.maxTraversalWaiters <= 0 {
			r.maxTraversalWaiters = 16 * int64(o.MaxTraversals)
		}
	}
	cfg := generated.Config{Resolvers: r}
	cfg.Schema = withoutDefer(generated.NewExecutableSchema(cfg).Schema())
	srv := handler.New(generated.NewExecutableSchema(cfg))
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if o.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspectionOff{})
	}
	srv.Use(requireToken{})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	// After APQ, which may fill in the query; before parsing and validation.
	srv.Use(documentLimit{maxOperations: o.MaxOperations, maxSelections: o.MaxSelections})
	srv.Use(shapeLimit{maxDepth: o.MaxDepth, maxAliases: o.MaxAliases, maxFields: o.MaxComplexity})
	srv.Use(complexityLimit{max: o.MaxComplexity}) // after shapeLimit, which bounds its walk
	if o.Around != nil {
		srv.AroundOperations(o.Around)
	}
	srv.AroundRootFields(authorize)
	srv.AroundFields(authorizeNested)
	srv.SetErrorPresenter(presentError(o.Logger, o.OnError))
	srv.SetRecoverFunc(recoverPanic(o.Logger))
	return attachIdentity(checkTransport(withHints(LoaderMiddleware(r.Store, o.LoaderWait, withTraversalGate(srv)))))
}

// attachIdentity gives a request that arrives without an identity (no
// authentication middleware in front) the anonymous one, so that the
// services it calls never take it for the process itself (auth.Check).
func attachIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(auth.Attached(req.Context())))
	})
}

// withoutDefer returns schema without the @defer directive, which
// gqlparser declares in every schema. Skein does not deliver results
// incrementally (gqlgen answered deferred fields with null and "hasNext":
// true, then nothing), so a query using @defer fails validation as an
// unknown directive, and introspection does not advertise it.
func withoutDefer(schema *ast.Schema) *ast.Schema {
	out := *schema
	out.Directives = make(map[string]*ast.DirectiveDefinition, len(schema.Directives))
	for name, d := range schema.Directives {
		if name != "defer" {
			out.Directives[name] = d
		}
	}
	return &out
}
