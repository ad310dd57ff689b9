package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/alerts"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/metrics"
	"github.com/skein-cmdb/skein/internal/server"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
	"github.com/skein-cmdb/skein/internal/webhooks"
)

// app is Skein wired together: the store, the services over it and the
// HTTP handler. newApp builds it in that order; Close undoes it in reverse.
type app struct {
	Store  store.Store
	CMDB   *cmdb.Service
	Impact *impact.Analyzer
	// ITSM is the service desk (incidents, problems, changes).
	ITSM    *itsm.Service
	Handler http.Handler
	Logger  *slog.Logger
	// Hooks sends record events to webhooks; stopHooks ends it.
	Hooks     *webhooks.Dispatcher
	stopHooks context.CancelFunc
	hooksDone chan struct{}
}

// openStore opens the store the configuration names.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	switch cfg.Store.Kind {
	case config.StoreNeo4j:
		return neo4jstore.Open(ctx, neo4jstore.Config{
			URI: cfg.Neo4j.URI, User: cfg.Neo4j.User, Password: cfg.Neo4j.Password.Reveal(), Database: cfg.Neo4j.Database,
			QueryTimeout: cfg.Neo4j.QueryTimeout, SchemaTimeout: cfg.Neo4j.SchemaTimeout, MaxConnPool: cfg.Neo4j.MaxConnPool,
		})
	default:
		return embedded.Open(ctx, cfg.Store.DataDir, embedded.Options{})
	}
}

func newApp(ctx context.Context, cfg config.Config, logger *slog.Logger) (*app, error) {
	raw, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", cfg.Store.Kind, err)
	}
	reg := metrics.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		raw.Close()
		return nil, err
	}
	st := metrics.InstrumentStore(raw, m)
	model, err := cmdb.DefaultModel()
	if err != nil {
		raw.Close()
		return nil, err
	}
	svc, err := cmdb.NewService(ctx, st, model)
	if err != nil {
		raw.Close()
		return nil, err
	}
	maxTraversals := cfg.Traversal.MaxConcurrent
	if maxTraversals == 0 {
		maxTraversals = runtime.GOMAXPROCS(0)
	}
	an := impact.New(st, svc.Model, impact.Options{MaxDepth: cfg.Traversal.MaxDepth, NodeBudget: cfg.Traversal.NodeBudget})
	matrix, err := cfg.ITSM.Matrix()
	if err != nil {
		raw.Close()
		return nil, err
	}
	loc, err := time.LoadLocation(cfg.ITSM.TimeZone)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("itsm.time_zone: %w", err)
	}
	sla, err := itsm.NewSLAPolicy(cfg.ITSM.SLATargets, cfg.ITSM.BusinessHours, loc, cfg.ITSM.Holidays...)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("itsm.sla_targets: %w", err)
	}
	rules := map[string]itsm.Rule{}
	for typ, spec := range map[string]string{itsm.ChangeNormal: cfg.ITSM.CABRuleNormal, itsm.ChangeEmergency: cfg.ITSM.CABRuleEmergency} {
		if rules[typ], err = itsm.ParseRule(spec); err != nil {
			raw.Close()
			return nil, fmt.Errorf("itsm.cab_rule_%s: %w", typ, err)
		}
	}
	backoff := make([]time.Duration, 5)
	for i := range backoff {
		backoff[i] = cfg.ITSM.WebhookRetryBase << i
	}
	hooks := webhooks.New(svc, webhooks.Options{Logger: logger, RecordID: graph.RecordGlobalID, Backoff: backoff})
	desk, err := itsm.NewService(svc, st, itsm.Config{Priority: matrix, ReopenWindow: cfg.ITSM.ReopenWindow, SLA: sla,
		CABGroup: cfg.ITSM.CABGroup, ECABGroup: cfg.ITSM.ECABGroup, Rules: rules, Impact: an, AlertCILabels: cfg.ITSM.AlertCILabels,
		Publish: hooks.Publish})
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("itsm.priority_matrix: %w", err)
	}
	tokens := auth.NewTokenCache(st, tokenCacheTTL)
	gql := graph.NewHandler(&graph.Resolver{CMDB: svc, Store: st, Tokens: tokens, Impact: an, ITSM: desk, Hooks: hooks, Version: versionString()}, graph.Options{
		MaxDepth: cfg.GraphQL.MaxDepth, MaxComplexity: cfg.GraphQL.MaxComplexity, Introspection: cfg.GraphQL.Introspection,
		MaxAliases: cfg.GraphQL.MaxAliases, MaxOperations: cfg.GraphQL.MaxOperations,
		MaxSelections: cfg.GraphQL.MaxSelections,
		Logger:        logger, OnError: m.CountGraphQLError, Around: observeOperations(m), MaxTraversals: maxTraversals,
	})
	authn := &auth.Authenticator{Tokens: tokens, AnonymousRead: anonymousRead(cfg)}
	h := server.New(cfg, server.Deps{
		GraphQL: gql, Ready: st.Ping, Logger: logger, Registry: reg, Metrics: m, Authenticate: authn.Request,
		Alerts: alerts.Handler(desk, alerts.IDs{Incident: graph.IncidentGlobalID, CI: graph.CIGlobalID}),
	})
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); hooks.Run(hctx) }()
	return &app{Store: st, CMDB: svc, Impact: an, ITSM: desk, Handler: h, Logger: logger, Hooks: hooks, stopHooks: stop, hooksDone: done}, nil
}

// tokenCacheTTL is how long a token record read for authentication is
// reused: a revocation made by another process takes effect within it.
const tokenCacheTTL = time.Second

// anonymousRead reports whether requests without a token may read: only
// when auth.anonymous_read allows it and the server listens on loopback.
func anonymousRead(cfg config.Config) bool {
	return cfg.Auth.AnonymousRead && server.IsLoopback(cfg.Server.Addr)
}

// Close releases the store.
// Close stops sending webhooks (deliveries under way end; queued events
// are dropped) and closes the store.
func (a *app) Close() error {
	if a.stopHooks != nil {
		a.stopHooks()
		<-a.hooksDone
	}
	return a.Store.Close()
}

// observeOperations records each GraphQL operation's latency by name and
// type.
func observeOperations(m *metrics.Metrics) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		start := time.Now()
		oc := graphql.GetOperationContext(ctx)
		name, typ := oc.OperationName, "unknown"
		if oc.Operation != nil {
			typ = string(oc.Operation.Operation)
			if name == "" {
				name = oc.Operation.Name
			}
		}
		if name == "" {
			name = "anonymous"
		}
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			if resp == nil || !errors.Is(ctx.Err(), context.Canceled) {
				m.ObserveGraphQL(name, typ, time.Since(start))
			}
			return resp
		}
	}
}
