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
	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// Resolver holds the services the resolvers call. Build it in cmd/.
type Resolver struct {
	CMDB   *cmdb.Service
	Store  store.Store
	Impact *impact.Analyzer
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
	setComplexity(&cfg.Complexity)
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
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(operationLimit{max: o.MaxOperations}) // after APQ, which may fill in the query
	srv.Use(shapeLimit{maxDepth: o.MaxDepth, maxAliases: o.MaxAliases, maxFields: o.MaxComplexity})
	srv.Use(extension.FixedComplexityLimit(o.MaxComplexity))
	if o.Around != nil {
		srv.AroundOperations(o.Around)
	}
	srv.AroundRootFields(authorize)
	srv.AroundFields(authorizeNested)
	srv.SetErrorPresenter(presentError(o.Logger, o.OnError))
	srv.SetRecoverFunc(recoverPanic(o.Logger))
	return LoaderMiddleware(r.Store, o.LoaderWait, withTraversalGate(srv))
}

// setComplexity makes lists cost what they return: a connection of `first`
// items costs `first` times each item.
func setComplexity(c *generated.ComplexityRoot) {
	c.Query.Cis = func(child int, _ *model.CIFilter, first *int, _ *string) int { return pageCost(child, first, 50) }
	c.CI.Relationships = func(child int, _ *model.Direction, _ []string, first *int, _ *string) int {
		return pageCost(child, first, 100)
	}
	c.CI.History = func(child int, first *int, _ *string) int { return pageCost(child, first, 50) }
	c.CI.Dependencies = func(child int, _ *int, _ []string) int { return 1 + 100*child }
	c.CI.Dependents = func(child int, _ *int, _ []string) int { return 1 + 100*child }
	c.Query.ImpactAnalysis = func(child int, _ []string, _ *int, _ *model.ImpactEffect) int { return 1 + 100*child }
}
