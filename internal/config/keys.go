package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// field declares one configuration key: its default, its standard flag (if
// any), a one-line description, and where it lives in Config. Every source
// (defaults, file, environment, flags) goes through this table, so a key
// cannot exist in one place and be missing from another.
type field struct {
	key   string
	def   any // of the type ref points to
	flag  string
	usage string
	ref   func(*Config) any // a pointer into the Config
}

// fields lists every key, in the order of docs/CONFIGURATION.md.
var fields = []field{
	{key: "server.addr", def: "127.0.0.1:8080", flag: "addr",
		usage: "host:port to listen on",
		ref:   func(c *Config) any { return &c.Server.Addr }},
	{key: "server.read_header_timeout", def: 10 * time.Second,
		usage: "time allowed to read a request's headers",
		ref:   func(c *Config) any { return &c.Server.ReadHeaderTimeout }},
	{key: "server.request_timeout", def: 30 * time.Second,
		usage: "time allowed for one request, after which its context is cancelled",
		ref:   func(c *Config) any { return &c.Server.RequestTimeout }},
	{key: "server.shutdown_timeout", def: 15 * time.Second,
		usage: "time in-flight requests get to finish on shutdown",
		ref:   func(c *Config) any { return &c.Server.ShutdownTimeout }},
	{key: "server.idle_timeout", def: 2 * time.Minute,
		usage: "keep-alive connections idle this long are closed",
		ref:   func(c *Config) any { return &c.Server.IdleTimeout }},
	{key: "server.max_body_bytes", def: int64(1 << 20),
		usage: "largest accepted request body (bytes, or a size such as 4MiB)",
		ref:   func(c *Config) any { return &c.Server.MaxBodyBytes }},
	{key: "server.rate_limit", def: 100.0,
		usage: "requests per second each client may make on average (0 turns rate limiting off)",
		ref:   func(c *Config) any { return &c.Server.RateLimit }},
	{key: "server.rate_burst", def: 200,
		usage: "requests a client may make at once above server.rate_limit",
		ref:   func(c *Config) any { return &c.Server.RateBurst }},
	{key: "server.max_in_flight", def: 256,
		usage: "GraphQL requests served at once; more are refused with 503 (0 turns shedding off)",
		ref:   func(c *Config) any { return &c.Server.MaxInFlight }},
	{key: "server.cors_allowed_origins", def: []string{},
		usage: "origins (scheme://host[:port]) whose pages may call the API; empty allows none",
		ref:   func(c *Config) any { return &c.Server.CORSAllowedOrigins }},

	{key: "graphql.max_depth", def: 15,
		usage: "largest selection depth of a GraphQL operation",
		ref:   func(c *Config) any { return &c.GraphQL.MaxDepth }},
	{key: "graphql.max_complexity", def: 5000,
		usage: "largest computed complexity of a GraphQL operation",
		ref:   func(c *Config) any { return &c.GraphQL.MaxComplexity }},
	{key: "graphql.max_aliases", def: 30,
		usage: "largest number of aliased fields in a GraphQL operation, fragments included",
		ref:   func(c *Config) any { return &c.GraphQL.MaxAliases }},
	{key: "graphql.max_operations", def: 10,
		usage: "largest number of operations in one GraphQL document",
		ref:   func(c *Config) any { return &c.GraphQL.MaxOperations }},
	{key: "graphql.max_selections", def: 2000,
		usage: "largest number of selections (fields, fragment spreads, inline fragments) written in one GraphQL document",
		ref:   func(c *Config) any { return &c.GraphQL.MaxSelections }},
	{key: "graphql.introspection", def: true,
		usage: "allow schema introspection (the Playground needs it)",
		ref:   func(c *Config) any { return &c.GraphQL.Introspection }},

	{key: "auth.anonymous_read", def: true,
		usage: "let requests without an API token read (never write) while the server listens on a loopback address only; off refuses them",
		ref:   func(c *Config) any { return &c.Auth.AnonymousRead }},

	{key: "store.kind", def: StoreEmbedded, flag: "store",
		usage: "storage backend: embedded or neo4j",
		ref:   func(c *Config) any { return &c.Store.Kind }},
	{key: "store.data_dir", def: "./skein-data", flag: "data-dir",
		usage: "directory of the embedded store",
		ref:   func(c *Config) any { return &c.Store.DataDir }},

	{key: "neo4j.uri", def: "", flag: "neo4j-uri",
		usage: "Neo4j Bolt URI (neo4j://, neo4j+s://, bolt://, ...)",
		ref:   func(c *Config) any { return &c.Neo4j.URI }},
	{key: "neo4j.user", def: "neo4j", flag: "neo4j-user",
		usage: "Neo4j user; empty connects without authentication",
		ref:   func(c *Config) any { return &c.Neo4j.User }},
	{key: "neo4j.password", def: Secret(""), flag: "neo4j-password",
		usage: "Neo4j password (secret: prefer SKEIN_NEO4J_PASSWORD to the flag)",
		ref:   func(c *Config) any { return &c.Neo4j.Password }},
	{key: "neo4j.database", def: "", flag: "neo4j-database",
		usage: "Neo4j database; empty means the server's default",
		ref:   func(c *Config) any { return &c.Neo4j.Database }},
	{key: "neo4j.query_timeout", def: 30 * time.Second,
		usage: "bound on every Neo4j call and transaction",
		ref:   func(c *Config) any { return &c.Neo4j.QueryTimeout }},
	{key: "neo4j.schema_timeout", def: 5 * time.Minute,
		usage: "wait for Neo4j indexes to come online at start",
		ref:   func(c *Config) any { return &c.Neo4j.SchemaTimeout }},
	{key: "neo4j.max_conn_pool", def: 100,
		usage: "largest Neo4j driver connection pool",
		ref:   func(c *Config) any { return &c.Neo4j.MaxConnPool }},

	{key: "traversal.max_depth", def: 16,
		usage: "largest number of hops of an impact or dependency traversal",
		ref:   func(c *Config) any { return &c.Traversal.MaxDepth }},
	{key: "traversal.node_budget", def: 10000,
		usage: "largest number of CIs a traversal may reach before it is truncated",
		ref:   func(c *Config) any { return &c.Traversal.NodeBudget }},
	{key: "traversal.max_concurrent", def: 0,
		usage: "traversal queries (impact, dependencies, dependents, paths) that may run at once, 0 for the number of CPUs; more wait briefly, then are refused with OVERLOADED",
		ref:   func(c *Config) any { return &c.Traversal.MaxConcurrent }},

	{key: "itsm.priority_matrix", def: "123,234,345",
		usage: "incident priority by impact (rows 1-3) and urgency (digits 1-3), priorities 1 (critical) to 5 (planning)",
		ref:   func(c *Config) any { return &c.ITSM.PriorityMatrix }},
	{key: "itsm.reopen_window", def: 7 * 24 * time.Hour,
		usage: "how long after its resolution an incident may be reopened",
		ref:   func(c *Config) any { return &c.ITSM.ReopenWindow }},
	{key: "itsm.sla_targets", def: "15m/4h/24x7,30m/8h/24x7,4h/24h/business,8h/48h/business,24h/120h/business",
		usage: "response/resolution/calendar of priorities 1 to 5, comma-separated (calendars: 24x7, business)",
		ref:   func(c *Config) any { return &c.ITSM.SLATargets }},
	{key: "itsm.business_hours", def: "mon-fri 08:00-18:00",
		usage: "working days and hours of the business calendar SLA targets count in",
		ref:   func(c *Config) any { return &c.ITSM.BusinessHours }},
	{key: "itsm.time_zone", def: "UTC",
		usage: "IANA time zone of itsm.business_hours (e.g. Europe/Paris)",
		ref:   func(c *Config) any { return &c.ITSM.TimeZone }},
	{key: "itsm.holidays", def: []string{},
		usage: "dates (YYYY-MM-DD) without business hours: SLA clocks in business hours do not count them",
		ref:   func(c *Config) any { return &c.ITSM.Holidays }},
	{key: "itsm.alert_ci_labels", def: []string{"instance", "service"},
		usage: "alert labels that name the CI an Alertmanager alert is about, tried in order",
		ref:   func(c *Config) any { return &c.ITSM.AlertCILabels }},
	{key: "itsm.webhook_retry_base", def: time.Second,
		usage: "first wait before a failed webhook delivery is tried again; each next wait doubles, five retries",
		ref:   func(c *Config) any { return &c.ITSM.WebhookRetryBase }},
	{key: "itsm.breach_check_interval", def: time.Minute,
		usage: "how often incidents are checked for SLA targets that have passed, each breach sent once as incident.breached; 0 disables the check",
		ref:   func(c *Config) any { return &c.ITSM.BreachCheckInterval }},
	{key: "itsm.cab_group", def: "CAB",
		usage: "name of the group whose active members approve normal changes (with the owners of their CIs)",
		ref:   func(c *Config) any { return &c.ITSM.CABGroup }},
	{key: "itsm.ecab_group", def: "ECAB",
		usage: "name of the group that approves emergency changes (the CAB group when it does not exist)",
		ref:   func(c *Config) any { return &c.ITSM.ECABGroup }},
	{key: "itsm.cab_rule_normal", def: "all",
		usage: "how the approvals of a normal change combine: all, any or quorum:N",
		ref:   func(c *Config) any { return &c.ITSM.CABRuleNormal }},
	{key: "itsm.cab_rule_emergency", def: "any",
		usage: "how the approvals of an emergency change combine: all, any or quorum:N",
		ref:   func(c *Config) any { return &c.ITSM.CABRuleEmergency }},

	{key: "discovery.stale_after", def: 30 * 24 * time.Hour,
		usage: "how long a CI may go without any discovery source reporting it before it is stale",
		ref:   func(c *Config) any { return &c.Discovery.StaleAfter }},
	{key: "discovery.stale_after_by_class", def: []string{},
		usage: "Class=duration entries overriding discovery.stale_after for a class and its subclasses (e.g. KubernetesWorkload=24h)",
		ref:   func(c *Config) any { return &c.Discovery.StaleAfterByClass }},
	{key: "discovery.stale_action", def: StaleMark,
		usage: "what the staleness check does with a stale CI: mark (set stale_since) or retire (mark and retire it)",
		ref:   func(c *Config) any { return &c.Discovery.StaleAction }},
	{key: "discovery.stale_check_interval", def: time.Hour,
		usage: "how often skein serve looks for stale CIs; 0 disables the check",
		ref:   func(c *Config) any { return &c.Discovery.StaleCheckInterval }},
	{key: "health.refresh_interval", def: 5 * time.Minute,
		usage: "how often serve recomputes the CMDB health figures for the skein_cmdb_* metrics; 0 disables the metrics",
		ref:   func(c *Config) any { return &c.Health.RefreshInterval }},

	{key: "log.level", def: "info", flag: "log-level",
		usage: "log level: debug, info, warn or error",
		ref:   func(c *Config) any { return &c.Log.Level }},
	{key: "log.format", def: FormatText, flag: "log-format",
		usage: "log format: text or json",
		ref:   func(c *Config) any { return &c.Log.Format }},

	{key: "demo", def: false, flag: "demo",
		usage: "load the bundled demo estate into an empty store at start-up",
		ref:   func(c *Config) any { return &c.Demo }},
}

// EnvPrefix prefixes every environment variable that sets a key.
const EnvPrefix = "SKEIN_"

// EnvVar returns the environment variable that sets key: SKEIN_ followed by
// the key in upper case with dots replaced by underscores
// (server.max_body_bytes is SKEIN_SERVER_MAX_BODY_BYTES).
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func lookupField(key string) (field, bool) {
	for _, f := range fields {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// set decodes raw (from a file, the environment, a flag or a default) into
// the field's place in c.
func (f field) set(c *Config, raw any) error {
	var err error
	switch p := f.ref(c).(type) {
	case *string:
		*p, err = toString(raw)
	case *Secret:
		var s string
		s, err = toString(raw)
		*p = Secret(s)
	case *bool:
		*p, err = toBool(raw)
	case *int:
		*p, err = toInt(raw)
	case *int64:
		*p, err = parseSize(raw)
	case *float64:
		*p, err = toFloat(raw)
	case *[]string:
		*p, err = toStringList(raw)
	case *time.Duration:
		*p, err = parseDuration(raw)
	default:
		panic(fmt.Sprintf("config: field %s has unsupported type %T", f.key, p))
	}
	return err
}

// format renders the field's value in c for String and LogValue.
func (f field) format(c *Config) string {
	switch p := f.ref(c).(type) {
	case *Secret:
		return p.String()
	case *time.Duration:
		return p.String()
	case *int64:
		return strconv.FormatInt(*p, 10)
	case *float64:
		return strconv.FormatFloat(*p, 'g', -1, 64)
	case *[]string:
		return strings.Join(*p, ",")
	default:
		return fmt.Sprint(derefAny(p))
	}
}

func derefAny(p any) any {
	switch p := p.(type) {
	case *string:
		return *p
	case *bool:
		return *p
	case *int:
		return *p
	}
	return p
}

// The decoders below accept what viper hands over: typed defaults, YAML
// scalars (string, int, uint64, float64, bool) and strings from the
// environment and from flags.

func toString(raw any) (string, error) {
	switch v := raw.(type) {
	case string:
		return v, nil
	case Secret:
		return string(v), nil
	case int, int64, uint64, float64, bool:
		return fmt.Sprint(v), nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("want a string, got %T", raw)
}

func toBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b, nil
		}
	}
	return false, fmt.Errorf("want true or false, got %q", fmt.Sprint(raw))
}

func toInt(raw any) (int, error) {
	switch v := raw.(type) {
	case int:
		return v, nil
	case int64:
		if v >= math.MinInt && v <= math.MaxInt {
			return int(v), nil
		}
	case uint64:
		if v <= math.MaxInt {
			return int(v), nil
		}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int(v), nil
		}
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("want an integer, got %q", fmt.Sprint(raw))
}

func toFloat(raw any) (float64, error) {
	var (
		f  float64
		ok bool
	)
	switch v := raw.(type) {
	case float64:
		f, ok = v, true
	case int:
		f, ok = float64(v), true
	case int64:
		f, ok = float64(v), true
	case uint64:
		f, ok = float64(v), true
	case string:
		if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			f, ok = n, true
		}
	}
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a number, got %q", fmt.Sprint(raw))
	}
	return f, nil
}

// toStringList accepts a YAML list of strings, or one string of
// comma-separated items (from the environment: SKEIN_X=a,b). Items are
// trimmed and empty ones dropped.
func toStringList(raw any) ([]string, error) {
	var items []string
	switch v := raw.(type) {
	case nil:
	case []string:
		items = v
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of strings, got an item %q", fmt.Sprint(e))
			}
			items = append(items, s)
		}
	case string:
		items = strings.Split(v, ",")
	default:
		return nil, fmt.Errorf("want a list of strings, got %q", fmt.Sprint(raw))
	}
	out := []string{}
	for _, s := range items {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// parseDuration accepts Go durations ("30s", "1m30s"). A bare number is
// refused rather than read as nanoseconds, a classic configuration trap.
func parseDuration(raw any) (time.Duration, error) {
	switch v := raw.(type) {
	case time.Duration:
		return v, nil
	case string:
		s := strings.TrimSpace(v)
		if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
			return 0, fmt.Errorf("want a duration with a unit such as \"30s\", got %q", v)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("want a duration such as \"30s\" or \"2m\", got %q", v)
		}
		return d, nil
	case int, int64, float64, uint64:
		if fmt.Sprint(v) == "0" {
			return 0, nil
		}
		return 0, fmt.Errorf("want a duration with a unit such as \"30s\", got %v", v)
	}
	return 0, fmt.Errorf("want a duration such as \"30s\", got %v", raw)
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first, so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

// parseSize accepts a byte count as an integer or with a unit: 1048576,
// "1MiB", "512KiB", "2MB" (decimal), "1M" (binary).
func parseSize(raw any) (int64, error) {
	s, ok := raw.(string)
	if !ok {
		n, err := toInt(raw)
		return int64(n), err
	}
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || (n != 0 && mult > math.MaxInt64/n) {
		return 0, fmt.Errorf("want a size such as 1048576 or \"1MiB\", got %q", s)
	}
	return n * mult, nil
}
