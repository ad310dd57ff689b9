package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/alerts"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/batches"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/health"
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
	// stopChecks ends the periodic checks (SLA breaches, stale CIs);
	// checksDone is closed once they have all ended.
	stopChecks context.CancelFunc
	checksDone chan struct{}
	// Health computes the CMDB health figures; healthGauges exports them
	// (nil when health.refresh_interval is 0). stopHealth ends the
	// refreshes (runHealthRefresh); healthDone is closed once they have.
	Health       *health.Checker
	healthGauges *metrics.CMDBHealth
	healthMu     sync.Mutex // one refresh at a time: the last to start sets the gauges last
	stopHealth   context.CancelFunc
	healthDone   chan struct{}
}

// appOptions are what tests change in the wiring.
type appOptions struct {
	// now is the clock the service desk reads SLAs at, and CMDB health
	// staleness (time.Now when nil).
	now func() time.Time
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
	return newAppWith(ctx, cfg, logger, appOptions{})
}

// newAppWith is newApp with the test hooks of opts.
func newAppWith(ctx context.Context, cfg config.Config, logger *slog.Logger, opts appOptions) (*app, error) {
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
		Publish: hooks.Publish, Now: opts.now})
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("itsm.priority_matrix: %w", err)
	}
	byClass, err := cfg.Discovery.ByClass()
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("discovery.stale_after_by_class: %w", err) // Validate refused it already
	}
	policy := cmdb.StalePolicy{After: cfg.Discovery.StaleAfter, ByClass: byClass, Retire: cfg.Discovery.StaleAction == config.StaleRetire}
	checker := health.New(svc, st, health.Options{Stale: policy, Now: opts.now})
	var gauges *metrics.CMDBHealth
	if cfg.Health.RefreshInterval > 0 {
		if gauges, err = metrics.NewCMDBHealth(reg); err != nil {
			raw.Close()
			return nil, err
		}
	}
	tokens := auth.NewTokenCache(st, tokenCacheTTL)
	gql := graph.NewHandler(&graph.Resolver{CMDB: svc, Store: st, Tokens: tokens, Impact: an, ITSM: desk, Hooks: hooks, Health: checker, Version: versionString()}, graph.Options{
		MaxDepth: cfg.GraphQL.MaxDepth, MaxComplexity: cfg.GraphQL.MaxComplexity, Introspection: cfg.GraphQL.Introspection,
		MaxAliases: cfg.GraphQL.MaxAliases, MaxOperations: cfg.GraphQL.MaxOperations,
		MaxSelections: cfg.GraphQL.MaxSelections,
		Logger:        logger, OnError: m.CountGraphQLError, Around: observeOperations(m), MaxTraversals: maxTraversals,
	})
	authn := &auth.Authenticator{Tokens: tokens, AnonymousRead: anonymousRead(cfg)}
	h := server.New(cfg, server.Deps{
		GraphQL: gql, Ready: st.Ping, Logger: logger, Registry: reg, Metrics: m, Authenticate: authn.Request,
		Alerts:  alerts.Handler(desk, alerts.IDs{Incident: graph.IncidentGlobalID, CI: graph.CIGlobalID}),
		Batches: batches.Handler(svc, graph.Refs()),
		Runs:    batches.RunsHandler(svc),
		Import:  batches.ImportHandler(svc, graph.Refs(), cfg.Server.RequestTimeout),
	})
	hctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); hooks.Run(hctx) }()
	a := &app{Store: st, CMDB: svc, Impact: an, Handler: h, Logger: logger, Hooks: hooks, stopHooks: stop, hooksDone: done, ITSM: desk,
		Health: checker, healthGauges: gauges}
	var checks []periodic
	if every := cfg.ITSM.BreachCheckInterval; every > 0 {
		checks = append(checks, breachCheck(desk, every))
	}
	if every := cfg.Discovery.StaleCheckInterval; every > 0 {
		checks = append(checks, periodic{name: "discovery: staleness check", every: every, run: func(ctx context.Context) ([]any, error) {
			sw, err := svc.SweepStale(ctx, cmdb.StaleActor, policy, time.Now())
			if sw == (cmdb.StaleSweep{}) && err == nil {
				return nil, nil
			}
			return []any{"marked", sw.Marked, "retired", sw.Retired, "cleared", sw.Cleared}, err
		}})
	}
	if len(checks) > 0 {
		cctx, stopChecks := context.WithCancel(context.WithoutCancel(ctx))
		checksDone := make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range checks {
			wg.Go(func() { c.loop(cctx, logger) })
		}
		go func() { wg.Wait(); close(checksDone) }()
		a.stopChecks, a.checksDone = stopChecks, checksDone
	}
	if every := cfg.Health.RefreshInterval; every > 0 {
		hctx, stopHealth := context.WithCancel(context.WithoutCancel(ctx))
		healthDone := make(chan struct{})
		go func() { defer close(healthDone); a.runHealthRefresh(hctx, every) }()
		a.stopHealth, a.healthDone = stopHealth, healthDone
	}
	return a, nil
}

// breachCheck looks for SLA breaches (itsm.Service.SweepBreaches).
func breachCheck(desk *itsm.Service, every time.Duration) periodic {
	return periodic{name: "sla: breach check", every: every, run: func(ctx context.Context) ([]any, error) {
		n, err := desk.SweepBreaches(ctx, itsm.BreachActor)
		if n == 0 && err == nil {
			return nil, nil
		}
		return []any{"breaches_sent", n}, err
	}}
}

// periodic is a check skein serve runs every so often.
type periodic struct {
	name  string
	every time.Duration
	// run runs the check once; what it returns is logged (nothing when
	// both are nil).
	run func(ctx context.Context) ([]any, error)
}

// loop runs the check every interval until ctx ends. A check that fails,
// or panics, is logged and the next one runs as planned.
func (p periodic) loop(ctx context.Context, logger *slog.Logger) {
	t := time.NewTicker(p.every)
	defer t.Stop()
	check := func() {
		defer func() {
			if r := recover(); r != nil {
				logger.Error(p.name+" panicked", "panic", r)
			}
		}()
		attrs, err := p.run(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error(p.name+" failed", append(attrs, "err", err)...)
		case len(attrs) > 0:
			logger.Info(p.name, attrs...)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			check()
		}
	}
}

// runHealthRefresh computes the CMDB health figures for the metrics at
// once, then every interval until ctx ends: a scrape reads the last
// figures, never a scan of every CI. A refresh that fails, or panics, is
// logged and counted, and the next one runs as planned.
func (a *app) runHealthRefresh(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := a.refreshHealth(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Error("health: refresh failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refreshHealth computes the CMDB health figures, as the process, and
// sets the metrics to them.
func (a *app) refreshHealth(ctx context.Context) (err error) {
	a.healthMu.Lock()
	defer a.healthMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("health refresh panicked: %v", r)
		}
		if err != nil {
			a.healthGauges.Failed()
		}
	}()
	start := time.Now()
	r, err := a.Health.Report(ctx, "", 1)
	if err != nil {
		return err
	}
	f := metrics.HealthFigures{DuplicatePairs: r.Duplicates.Total, DuplicatesCapped: r.Duplicates.Capped,
		IdentityConflicts: r.Conflicts.Total, At: r.At, RefreshDuration: time.Since(start)}
	for _, c := range r.Classes {
		f.Classes = append(f.Classes, metrics.ClassHealth{Class: c.Class, CIs: c.CIs, Completeness: c.Completeness(),
			Incomplete: c.Incomplete.Total, Orphans: c.Orphans.Total, Stale: c.Stale.Total})
	}
	a.healthGauges.Set(f)
	return nil
}

// tokenCacheTTL is how long a token record read for authentication is
// reused: a revocation made by another process takes effect within it.
const tokenCacheTTL = time.Second

// anonymousRead reports whether requests without a token may read: only
// when auth.anonymous_read allows it and the server listens on loopback.
func anonymousRead(cfg config.Config) bool {
	return cfg.Auth.AnonymousRead && server.IsLoopback(cfg.Server.Addr)
}

// Close stops the periodic checks and the CMDB health refreshes (waiting
// for one under way), stops sending webhooks (deliveries under way end; queued events are dropped)
// and closes the store.
func (a *app) Close() error {
	if a.stopHealth != nil {
		a.stopHealth()
		<-a.healthDone
	}
	if a.stopChecks != nil {
		a.stopChecks()
		<-a.checksDone
	}
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
