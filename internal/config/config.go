package config

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Config is Skein's whole configuration. The zero value is not useful: start
// from Default or Load.
type Config struct {
	Server    Server
	GraphQL   GraphQL
	Auth      Auth
	Store     Store
	Neo4j     Neo4j
	Traversal Traversal
	ITSM      ITSM
	Discovery Discovery
	Health    Health
	Log       Log
	// Demo loads the bundled demo estate into an empty store at start-up, so
	// a first `skein serve --demo` has something to explore.
	Demo bool
}

// Server configures the HTTP server.
type Server struct {
	// Addr is the host:port to listen on.
	Addr string
	// ReadHeaderTimeout bounds reading a request's headers (slow-loris
	// protection).
	ReadHeaderTimeout time.Duration
	// RequestTimeout bounds one request: its context is cancelled after it,
	// and the connection's read and write deadlines are derived from it.
	RequestTimeout time.Duration
	// ShutdownTimeout bounds the graceful shutdown: in-flight requests get
	// this long to finish before their connections are closed.
	ShutdownTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration
	// MaxBodyBytes bounds a request body; a larger one is answered 413.
	MaxBodyBytes int64
	// RateLimit is the average number of requests per second one client
	// (its IP address, or its /64 for IPv6) may make; beyond it and
	// RateBurst, requests are answered 429. 0 turns rate limiting off.
	RateLimit float64
	// RateBurst is how many requests a client may make at once above
	// RateLimit (the size of its token bucket).
	RateBurst int
	// MaxInFlight bounds the /graphql requests served at once; beyond it
	// requests are answered 503 at once (load shedding). 0 turns it off.
	MaxInFlight int
	// CORSAllowedOrigins lists the origins ("https://app.example.com", or
	// with one wildcard such as "https://*.example.com", or "*") whose
	// pages may call the API from a browser. Empty allows no cross-origin
	// access.
	CORSAllowedOrigins []string
}

// GraphQL configures the GraphQL API.
type GraphQL struct {
	// MaxDepth bounds the nesting depth of a query's selection sets.
	MaxDepth int
	// MaxComplexity bounds a query's computed complexity.
	MaxComplexity int
	// MaxAliases bounds the aliased fields of an operation, counted across
	// the fragments it spreads.
	MaxAliases int
	// MaxOperations bounds the operation definitions of one document.
	MaxOperations int
	// MaxSelections bounds the selections written in one document (fields,
	// fragment spreads, inline fragments), and how often fields may repeat.
	MaxSelections int
	// Introspection enables schema introspection (the Playground needs it).
	Introspection bool
}

// Auth configures authentication.
type Auth struct {
	// AnonymousRead lets requests without an API token read while the
	// server listens on a loopback address (127.0.0.0/8, ::1, localhost)
	// only; on any other address, or when false, such requests are refused
	// with 401. Requests without a token never write.
	AnonymousRead bool
}

// Store kinds.
const (
	StoreEmbedded = "embedded"
	StoreNeo4j    = "neo4j"
)

// Store selects and configures the storage backend.
type Store struct {
	// Kind is StoreEmbedded or StoreNeo4j.
	Kind string
	// DataDir is the embedded store's directory (created if missing).
	DataDir string
}

// Neo4j configures the Neo4j backend, used when Store.Kind is StoreNeo4j.
type Neo4j struct {
	// URI is the Bolt URI, such as neo4j://db.example:7687 or
	// neo4j+s://xxxx.databases.neo4j.io.
	URI string
	// User is the user name; empty connects without authentication.
	User string
	// Password is User's password. It is a Secret: printing or logging it
	// shows only whether it is set.
	Password Secret
	// Database is the database name; empty means the server's default.
	Database string
	// QueryTimeout bounds every store call and is the server-side timeout
	// of each transaction.
	QueryTimeout time.Duration
	// SchemaTimeout bounds the wait for indexes to come online at start.
	SchemaTimeout time.Duration
	// MaxConnPool bounds the driver's connection pool.
	MaxConnPool int
}

// Traversal bounds impact and dependency traversals.
type Traversal struct {
	// MaxDepth is the largest number of hops a traversal may take.
	MaxDepth int
	// NodeBudget is the largest number of nodes a traversal may reach beyond
	// its start set; a traversal that exceeds it is reported truncated.
	NodeBudget int
	// MaxConcurrent bounds the traversal queries running at once, so that
	// expensive queries shed under load while cheap reads keep answering;
	// 0 means the number of CPUs.
	MaxConcurrent int
}

// ITSM configures the service desk's records.
type ITSM struct {
	// PriorityMatrix maps impact and urgency to priority: three rows
	// (impact 1, 2, 3) of three digits (urgency 1, 2, 3), comma-separated:
	// "123,234,345" is ITIL's default.
	PriorityMatrix string
	// ReopenWindow is how long after its resolution an incident may be
	// reopened.
	ReopenWindow time.Duration
	// SLATargets are the response and resolution targets of priorities
	// 1..5 (itsm.ParseSLATargets' format).
	SLATargets string
	// BusinessHours is the business calendar ("mon-fri 08:00-18:00").
	BusinessHours string
	// TimeZone is the IANA time zone of BusinessHours.
	TimeZone string
	// Holidays are dates (YYYY-MM-DD) without business hours.
	Holidays []string
	// CABGroup and ECABGroup name the groups whose members approve normal
	// and emergency changes.
	CABGroup, ECABGroup string
	// CABRuleNormal and CABRuleEmergency are how approvals combine (all,
	// any or quorum:N).
	CABRuleNormal, CABRuleEmergency string
	// AlertCILabels are the alert labels that name a CI, in order.
	AlertCILabels []string
	// WebhookRetryBase is the first wait before a webhook delivery is
	// tried again; each next wait doubles (five retries).
	WebhookRetryBase time.Duration
	// BreachCheckInterval is how often the service looks for incidents
	// whose SLA targets have passed, to send incident.breached; 0 never.
	BreachCheckInterval time.Duration
}

// Matrix returns PriorityMatrix as nine priorities, row by row, or an
// error saying what is wrong with it.
func (i ITSM) Matrix() ([3][3]int, error) {
	var m [3][3]int
	rows := strings.Split(strings.TrimSpace(i.PriorityMatrix), ",")
	if len(rows) != 3 {
		return m, fmt.Errorf("must be three rows of three digits, comma-separated (e.g. 123,234,345), got %q", i.PriorityMatrix)
	}
	for r, row := range rows {
		row = strings.TrimSpace(row)
		if len(row) != 3 {
			return m, fmt.Errorf("row %d (impact %d): must be three digits 1 to 5, got %q", r+1, r+1, row)
		}
		for u, c := range row {
			if c < '1' || c > '5' {
				return m, fmt.Errorf("row %d (impact %d): must be three digits 1 to 5, got %q", r+1, r+1, row)
			}
			m[r][u] = int(c - '0')
		}
	}
	return m, nil
}

// Discovery configures what Skein does with what discovery sources report.
type Discovery struct {
	// StaleAfter is how long a CI may go without any discovery source
	// reporting it before it is stale.
	StaleAfter time.Duration
	// StaleAfterByClass overrides StaleAfter for classes and their
	// subclasses: "Class=duration" entries.
	StaleAfterByClass []string
	// StaleAction is what the check does with a stale CI: mark (set its
	// stale_since) or retire (mark and retire it).
	StaleAction string
	// StaleCheckInterval is how often the check runs; 0 never.
	StaleCheckInterval time.Duration
}

// Stale actions.
const (
	StaleMark   = "mark"
	StaleRetire = "retire"
)

// ByClass returns StaleAfterByClass as a map, or an error naming the
// first bad entry.
func (d Discovery) ByClass() (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	for _, e := range d.StaleAfterByClass {
		class, dur, ok := strings.Cut(strings.TrimSpace(e), "=")
		if !ok || strings.TrimSpace(class) == "" {
			return nil, fmt.Errorf("%q: each entry is Class=duration (e.g. KubernetesWorkload=24h)", e)
		}
		v, err := time.ParseDuration(strings.TrimSpace(dur))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: the duration must be positive (e.g. 24h, 720h)", e)
		}
		out[strings.TrimSpace(class)] = v
	}
	return out, nil
}

// Log levels and formats.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Log configures the process's structured log.
// Health configures the CMDB health figures (internal/health).
type Health struct {
	// RefreshInterval is how often serve recomputes the figures for the
	// skein_cmdb_* metrics; 0 never.
	RefreshInterval time.Duration
}

// Log configures the process's structured log.
type Log struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is FormatText (logfmt-like, for people) or FormatJSON (one JSON
	// object per line, for log collectors).
	Format string
}

// SlogLevel returns Level as an slog.Level (info when Level is invalid,
// which Validate reports).
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return slog.LevelInfo
	}
	return lv
}

// NewLogger returns a logger writing to w at l's level and in l's format.
func (l Log) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: l.SlogLevel()}
	if strings.EqualFold(l.Format, FormatJSON) {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Secret is a configuration value that must never be printed: its String,
// GoString, LogValue and MarshalText methods return "[redacted]" when it is
// set (and "" when it is empty, so an operator still sees whether it is).
// Reveal returns the value itself.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value, for handing to the client that needs it.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString is String, so %#v does not print the secret either.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue makes slog print String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText makes encoders (JSON, YAML) write String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// String lists every key with its effective value, one "key: value" per
// line in the order of docs/CONFIGURATION.md, secrets redacted.
func (c Config) String() string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.key)
		b.WriteString(": ")
		b.WriteString(f.format(&c))
		b.WriteByte('\n')
	}
	return b.String()
}

// GoString is String, so %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print the configuration as nested groups (server.addr
// as group "server", attribute "addr"), secrets redacted.
func (c Config) LogValue() slog.Value {
	var (
		groups []slog.Attr
		cur    []slog.Attr
		name   string
	)
	flush := func() {
		if name != "" {
			groups = append(groups, slog.Attr{Key: name, Value: slog.GroupValue(cur...)})
		}
	}
	for _, f := range fields {
		section, leaf, ok := strings.Cut(f.key, ".")
		if !ok {
			flush()
			name, cur = "", nil
			groups = append(groups, slog.String(f.key, f.format(&c)))
			continue
		}
		if section != name {
			flush()
			name, cur = section, nil
		}
		cur = append(cur, slog.String(leaf, f.format(&c)))
	}
	flush()
	return slog.GroupValue(groups...)
}
