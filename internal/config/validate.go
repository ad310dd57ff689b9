package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// FieldError is one problem with one configuration key.
type FieldError struct {
	// Key is the dotted key, such as "server.addr".
	Key string
	// Message says what is wrong and what is accepted. It never quotes a
	// secret.
	Message string
	// Source is where the bad value came from when Load knows it: a flag
	// ("--addr"), an environment variable or a file path; "" for a default.
	Source string
}

func (e *FieldError) Error() string {
	if e.Source == "" {
		return e.Key + ": " + e.Message
	}
	return e.Key + ": " + e.Message + " (from " + e.Source + ")"
}

// Validate checks c and returns every problem at once: nil, or *FieldError
// values joined with errors.Join (unwrap with errors.As, or range over the
// Unwrap() []error of the result).
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Message: fmt.Sprintf(format, args...)})
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			add(key, "must be a positive duration, got %s", d)
		}
	}
	atLeastOne := func(key string, n int64) {
		if n < 1 {
			add(key, "must be at least 1, got %d", n)
		}
	}

	if err := checkAddr(c.Server.Addr); err != nil {
		add("server.addr", "%v", err)
	}
	positive("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	positive("server.request_timeout", c.Server.RequestTimeout)
	positive("server.shutdown_timeout", c.Server.ShutdownTimeout)
	positive("server.idle_timeout", c.Server.IdleTimeout)
	atLeastOne("server.max_body_bytes", c.Server.MaxBodyBytes)
	if c.Server.RateLimit < 0 {
		add("server.rate_limit", "must be 0 (off) or a positive number of requests per second, got %g", c.Server.RateLimit)
	}
	if c.Server.RateLimit > 0 {
		atLeastOne("server.rate_burst", int64(c.Server.RateBurst))
	}
	if c.Server.MaxInFlight < 0 {
		add("server.max_in_flight", "must be 0 (off) or positive, got %d", c.Server.MaxInFlight)
	}
	for _, o := range c.Server.CORSAllowedOrigins {
		if err := checkOrigin(o); err != nil {
			add("server.cors_allowed_origins", "%v", err)
		}
	}

	atLeastOne("graphql.max_depth", int64(c.GraphQL.MaxDepth))
	atLeastOne("graphql.max_complexity", int64(c.GraphQL.MaxComplexity))
	atLeastOne("graphql.max_aliases", int64(c.GraphQL.MaxAliases))
	atLeastOne("graphql.max_operations", int64(c.GraphQL.MaxOperations))
	atLeastOne("graphql.max_selections", int64(c.GraphQL.MaxSelections))

	switch c.Store.Kind {
	case StoreEmbedded:
		if strings.TrimSpace(c.Store.DataDir) == "" {
			add("store.data_dir", "is required when store.kind is embedded")
		}
	case StoreNeo4j:
		if c.Neo4j.URI == "" {
			add("neo4j.uri", "is required when store.kind is neo4j")
		}
	default:
		add("store.kind", "must be %s or %s, got %q", StoreEmbedded, StoreNeo4j, c.Store.Kind)
	}
	if c.Neo4j.URI != "" {
		if err := checkNeo4jURI(c.Neo4j.URI); err != nil {
			add("neo4j.uri", "%v", err)
		}
	}
	positive("neo4j.query_timeout", c.Neo4j.QueryTimeout)
	positive("neo4j.schema_timeout", c.Neo4j.SchemaTimeout)
	atLeastOne("neo4j.max_conn_pool", int64(c.Neo4j.MaxConnPool))

	if d := c.Traversal.MaxDepth; d < 1 || d > store.MaxDepth {
		add("traversal.max_depth", "must be between 1 and %d, got %d", store.MaxDepth, d)
	}
	if n := c.Traversal.NodeBudget; n < 1 || n > store.MaxNodes {
		add("traversal.node_budget", "must be between 1 and %d, got %d", store.MaxNodes, n)
	}
	if n := c.Traversal.MaxConcurrent; n < 0 || n > 10000 {
		add("traversal.max_concurrent", "must be between 0 (the number of CPUs) and 10000, got %d", n)
	}

	if _, err := c.ITSM.Matrix(); err != nil {
		add("itsm.priority_matrix", "%v", err)
	}
	positive("itsm.reopen_window", c.ITSM.ReopenWindow)
	if loc, err := time.LoadLocation(c.ITSM.TimeZone); err != nil || c.ITSM.TimeZone == "" {
		add("itsm.time_zone", "must be an IANA time zone such as UTC or Europe/Paris, got %q", c.ITSM.TimeZone)
	} else if _, err := itsm.NewSLAPolicy(c.ITSM.SLATargets, c.ITSM.BusinessHours, loc, c.ITSM.Holidays...); err != nil {
		key := "itsm.sla_targets"
		switch {
		case strings.HasPrefix(err.Error(), "business hours"):
			key = "itsm.business_hours"
		case strings.HasPrefix(err.Error(), "holidays"):
			key = "itsm.holidays"
		}
		add(key, "%v", err)
	}

	for key, rule := range map[string]string{"itsm.cab_rule_normal": c.ITSM.CABRuleNormal, "itsm.cab_rule_emergency": c.ITSM.CABRuleEmergency} {
		if _, err := itsm.ParseRule(rule); err != nil {
			add(key, "%v", err)
		}
	}
	if b := c.ITSM.WebhookRetryBase; b < time.Millisecond || b > time.Hour {
		add("itsm.webhook_retry_base", "must be between 1ms and 1h, got %v", b)
	}
	if b := c.ITSM.BreachCheckInterval; b != 0 && (b < time.Second || b > 24*time.Hour) {
		add("itsm.breach_check_interval", "must be 0 (no breach checks) or between 1s and 24h, got %v", b)
	}
	if n := len(c.ITSM.AlertCILabels); n == 0 || n > 16 {
		add("itsm.alert_ci_labels", "must name 1 to 16 labels, got %d", n)
	}
	if strings.TrimSpace(c.ITSM.CABGroup) == "" {
		add("itsm.cab_group", "must name a group")
	}

	positive("discovery.stale_after", c.Discovery.StaleAfter)
	if _, err := c.Discovery.ByClass(); err != nil {
		add("discovery.stale_after_by_class", "%v", err)
	}
	if a := c.Discovery.StaleAction; a != StaleMark && a != StaleRetire {
		add("discovery.stale_action", "must be mark or retire, got %q", a)
	}
	if b := c.Discovery.StaleCheckInterval; b != 0 && (b < time.Second || b > 24*time.Hour) {
		add("discovery.stale_check_interval", "must be 0 (no staleness checks) or between 1s and 24h, got %v", b)
	}
	if r := c.Health.RefreshInterval; r != 0 && (r < time.Second || r > 24*time.Hour) {
		add("health.refresh_interval", "must be 0 (no health metrics) or between 1s and 24h, got %v", r)
	}

	if !slices.Contains(logLevels, strings.ToLower(c.Log.Level)) {
		add("log.level", "must be one of %s, got %q", strings.Join(logLevels, ", "), c.Log.Level)
	}
	if f := strings.ToLower(c.Log.Format); f != FormatText && f != FormatJSON {
		add("log.format", "must be %s or %s, got %q", FormatText, FormatJSON, c.Log.Format)
	}
	return errors.Join(errs...)
}

var logLevels = []string{"debug", "info", "warn", "error"}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port (such as 127.0.0.1:8080 or :8080), got %q", addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("invalid host %q", host)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	return nil
}

// checkOrigin accepts what a browser sends in Origin (scheme://host[:port],
// no path, no trailing slash), optionally with one "*" wildcard, or "*".
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	if strings.Count(o, "*") > 1 {
		return fmt.Errorf("may hold at most one *, got %q", o)
	}
	u, err := url.Parse(strings.Replace(o, "*", "wildcard", 1))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("must be an origin such as https://app.example.com (scheme and host, no path or trailing slash), got %q", o)
	}
	return nil
}

var neo4jSchemes = []string{"neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc"}

func checkNeo4jURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		// The URI may carry credentials: do not quote it.
		return fmt.Errorf("must be a URI such as neo4j://localhost:7687")
	}
	if !slices.Contains(neo4jSchemes, u.Scheme) {
		return fmt.Errorf("scheme must be one of %s, got %q", strings.Join(neo4jSchemes, ", "), u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("must not carry credentials: set neo4j.user and neo4j.password instead")
	}
	return nil
}

// fieldErrors flattens a Validate error into its parts.
func fieldErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
