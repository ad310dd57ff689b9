package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// isolate clears every SKEIN_* variable for the test and runs it in an
// empty directory, so the developer's environment and a skein.yaml in the
// package directory cannot leak in.
func isolate(t *testing.T) string {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvPrefix) {
			t.Setenv(k, "") // restored after the test
			require.NoError(t, os.Unsetenv(k))
		}
	}
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

// serveFlags returns the standard flags parsed from args.
func serveFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	RegisterServeFlags(fs)
	require.NoError(t, fs.Parse(args))
	return fs
}

// problems returns the FieldErrors of err, keyed by Key.
func problems(t *testing.T, err error) map[string]*FieldError {
	t.Helper()
	require.Error(t, err)
	out := map[string]*FieldError{}
	for _, e := range fieldErrors(err) {
		var fe *FieldError
		require.True(t, errors.As(e, &fe), "not a *FieldError: %v", e)
		out[fe.Key] = fe
	}
	return out
}

func keysOf(m map[string]*FieldError) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	assert.Equal(t, "127.0.0.1:8080", c.Server.Addr)
	assert.Equal(t, 30*time.Second, c.Server.RequestTimeout)
	assert.Equal(t, int64(1<<20), c.Server.MaxBodyBytes)
	assert.Equal(t, 15, c.GraphQL.MaxDepth)
	assert.Equal(t, 5000, c.GraphQL.MaxComplexity)
	assert.True(t, c.GraphQL.Introspection)
	assert.Equal(t, StoreEmbedded, c.Store.Kind)
	assert.Equal(t, "./skein-data", c.Store.DataDir)
	assert.Equal(t, 16, c.Traversal.MaxDepth)
	assert.Equal(t, "info", c.Log.Level)
	assert.Equal(t, FormatText, c.Log.Format)
	assert.False(t, c.Demo)
}

func TestLoadPrecedence(t *testing.T) {
	const file = `
server:
  addr: "127.0.0.1:9001"
  request_timeout: 45s
  max_body_bytes: 4MiB
store:
  kind: neo4j
neo4j:
  uri: neo4j://file:7687
  password: from-file
log:
  level: warn
`
	tests := []struct {
		name string
		file string // "" for no file
		env  map[string]string
		args []string
		want func(*Config) // applied to Default() to build the expectation
	}{
		{
			name: "defaults",
			want: func(*Config) {},
		},
		{
			name: "file over defaults",
			file: file,
			want: func(c *Config) {
				c.Server.Addr, c.Server.RequestTimeout, c.Server.MaxBodyBytes = "127.0.0.1:9001", 45*time.Second, 4<<20
				c.Store.Kind, c.Neo4j.URI, c.Neo4j.Password = StoreNeo4j, "neo4j://file:7687", "from-file"
				c.Log.Level = "warn"
			},
		},
		{
			name: "environment over file",
			file: file,
			env: map[string]string{
				"SKEIN_SERVER_ADDR":            "127.0.0.1:9002",
				"SKEIN_SERVER_REQUEST_TIMEOUT": "50s",
				"SKEIN_NEO4J_PASSWORD":         "from-env",
				"SKEIN_GRAPHQL_INTROSPECTION":  "false",
				"SKEIN_TRAVERSAL_NODE_BUDGET":  "500",
			},
			want: func(c *Config) {
				c.Server.Addr, c.Server.RequestTimeout, c.Server.MaxBodyBytes = "127.0.0.1:9002", 50*time.Second, 4<<20
				c.Store.Kind, c.Neo4j.URI, c.Neo4j.Password = StoreNeo4j, "neo4j://file:7687", "from-env"
				c.Log.Level = "warn"
				c.GraphQL.Introspection = false
				c.Traversal.NodeBudget = 500
			},
		},
		{
			name: "flags over environment",
			file: file,
			env: map[string]string{
				"SKEIN_SERVER_ADDR":            "127.0.0.1:9002",
				"SKEIN_SERVER_REQUEST_TIMEOUT": "50s",
				"SKEIN_NEO4J_PASSWORD":         "from-env",
			},
			args: []string{"--addr", "127.0.0.1:9003", "--neo4j-password", "from-flag", "--log-format", "json", "--demo"},
			want: func(c *Config) {
				c.Server.Addr, c.Server.RequestTimeout, c.Server.MaxBodyBytes = "127.0.0.1:9003", 50*time.Second, 4<<20
				c.Store.Kind, c.Neo4j.URI, c.Neo4j.Password = StoreNeo4j, "neo4j://file:7687", "from-flag"
				c.Log.Level, c.Log.Format = "warn", FormatJSON
				c.Demo = true
			},
		},
		{
			name: "flags left unset do not override with their defaults",
			file: file,
			env:  map[string]string{"SKEIN_LOG_FORMAT": "json"},
			args: []string{},
			want: func(c *Config) {
				c.Server.Addr, c.Server.RequestTimeout, c.Server.MaxBodyBytes = "127.0.0.1:9001", 45*time.Second, 4<<20
				c.Store.Kind, c.Neo4j.URI, c.Neo4j.Password = StoreNeo4j, "neo4j://file:7687", "from-file"
				c.Log.Level, c.Log.Format = "warn", FormatJSON
			},
		},
		{
			name: "nested keys from the environment alone",
			env: map[string]string{
				"SKEIN_STORE_KIND":            "neo4j",
				"SKEIN_NEO4J_URI":             "neo4j+s://db.example:7687",
				"SKEIN_NEO4J_MAX_CONN_POOL":   "7",
				"SKEIN_SERVER_MAX_BODY_BYTES": "2048",
			},
			want: func(c *Config) {
				c.Store.Kind, c.Neo4j.URI, c.Neo4j.MaxConnPool = StoreNeo4j, "neo4j+s://db.example:7687", 7
				c.Server.MaxBodyBytes = 2048
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			if tt.file != "" {
				writeFile(t, filepath.Join(dir, DefaultFile), tt.file)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var fs *pflag.FlagSet
			if tt.args != nil {
				fs = serveFlags(t, tt.args...)
			}
			got, err := Load(fs)
			require.NoError(t, err)
			want := Default()
			tt.want(&want)
			assert.Equal(t, want, got)
		})
	}
}

func TestLoadConfigFile(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) *pflag.FlagSet
		wantErr string // "" for success
		addr    string
	}{
		{
			name:  "default file absent is fine",
			setup: func(*testing.T, string) *pflag.FlagSet { return nil },
			addr:  "127.0.0.1:8080",
		},
		{
			name: "default file in the working directory is read",
			setup: func(t *testing.T, dir string) *pflag.FlagSet {
				writeFile(t, filepath.Join(dir, DefaultFile), "server: {addr: ':7001'}\n")
				return nil
			},
			addr: ":7001",
		},
		{
			name: "SKEIN_CONFIG names the file",
			setup: func(t *testing.T, dir string) *pflag.FlagSet {
				t.Setenv(FileEnv, writeFile(t, filepath.Join(dir, "other.yml"), "server: {addr: ':7002'}\n"))
				return nil
			},
			addr: ":7002",
		},
		{
			name: "--config wins over SKEIN_CONFIG",
			setup: func(t *testing.T, dir string) *pflag.FlagSet {
				t.Setenv(FileEnv, writeFile(t, filepath.Join(dir, "env.yaml"), "server: {addr: ':7002'}\n"))
				return serveFlags(t, "--config", writeFile(t, filepath.Join(dir, "flag.yaml"), "server: {addr: ':7003'}\n"))
			},
			addr: ":7003",
		},
		{
			name: "missing file named by --config is an error",
			setup: func(t *testing.T, dir string) *pflag.FlagSet {
				return serveFlags(t, "--config", filepath.Join(dir, "nope.yaml"))
			},
			wantErr: "nope.yaml",
		},
		{
			name: "missing file named by SKEIN_CONFIG is an error",
			setup: func(t *testing.T, dir string) *pflag.FlagSet {
				t.Setenv(FileEnv, filepath.Join(dir, "gone.yaml"))
				return nil
			},
			wantErr: "gone.yaml",
		},
		{
			name: "malformed YAML is an error naming the file",
			setup: func(t *testing.T, dir string) *pflag.FlagSet {
				writeFile(t, filepath.Join(dir, DefaultFile), "server: [unclosed\n")
				return nil
			},
			wantErr: DefaultFile,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := isolate(t)
			c, err := Load(tt.setup(t, dir))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Equal(t, Config{}, c)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.addr, c.Server.Addr)
		})
	}
}

func TestLoadListsEveryProblemWithItsSource(t *testing.T) {
	dir := isolate(t)
	writeFile(t, filepath.Join(dir, DefaultFile), `
server:
  addr: "no port here"
  request_timeout: 30          # no unit
  max_body_bytes: lots
graphql:
  max_depth: 0
sever:                         # typo
  addr: ":1"
store:
  kind: postgres
log:
  level: loud
`)
	t.Setenv("SKEIN_TRAVERSAL_MAX_DEPTH", "99")
	t.Setenv("SKEIN_GRAPHQL_INTROSPECTION", "maybe")

	_, err := Load(serveFlags(t, "--log-format", "xml"))
	got := problems(t, err)

	assert.Equal(t, []string{
		"graphql.introspection", "graphql.max_depth", "log.format", "log.level",
		"server.addr", "server.max_body_bytes", "server.request_timeout",
		"sever.addr", "store.kind", "traversal.max_depth",
	}, keysOf(got))
	assert.Equal(t, "SKEIN_GRAPHQL_INTROSPECTION", got["graphql.introspection"].Source)
	assert.Equal(t, "SKEIN_TRAVERSAL_MAX_DEPTH", got["traversal.max_depth"].Source)
	assert.Equal(t, "--log-format", got["log.format"].Source)
	assert.Equal(t, DefaultFile, got["server.request_timeout"].Source)
	assert.Contains(t, got["server.request_timeout"].Message, "unit")
	assert.Contains(t, got["sever.addr"].Message, "unknown key")
	assert.Equal(t, `store.kind: must be embedded or neo4j, got "postgres" (from skein.yaml)`, got["store.kind"].Error())
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string // keys with a problem, sorted
	}{
		{"defaults", func(*Config) {}, nil},
		{"neo4j without uri", func(c *Config) { c.Store.Kind = StoreNeo4j }, []string{"neo4j.uri"}},
		{"neo4j with uri", func(c *Config) { c.Store.Kind, c.Neo4j.URI = StoreNeo4j, "bolt://localhost:7687" }, nil},
		{"neo4j uri with bad scheme", func(c *Config) { c.Store.Kind, c.Neo4j.URI = StoreNeo4j, "http://localhost:7474" }, []string{"neo4j.uri"}},
		{"neo4j uri with credentials", func(c *Config) { c.Store.Kind, c.Neo4j.URI = StoreNeo4j, "neo4j://u:p@db:7687" }, []string{"neo4j.uri"}},
		{"unknown store kind", func(c *Config) { c.Store.Kind = "mysql" }, []string{"store.kind"}},
		{"embedded without data dir", func(c *Config) { c.Store.DataDir = " " }, []string{"store.data_dir"}},
		{"port zero is allowed", func(c *Config) { c.Server.Addr = "127.0.0.1:0" }, nil},
		{"all interfaces", func(c *Config) { c.Server.Addr = ":8080" }, nil},
		{"ipv6", func(c *Config) { c.Server.Addr = "[::1]:8080" }, nil},
		{"port out of range", func(c *Config) { c.Server.Addr = "localhost:70000" }, []string{"server.addr"}},
		{"no port", func(c *Config) { c.Server.Addr = "localhost" }, []string{"server.addr"}},
		{"traversal depth beyond the store's limit", func(c *Config) { c.Traversal.MaxDepth = 33 }, []string{"traversal.max_depth"}},
		{"itsm settings", func(c *Config) {
			c.ITSM.PriorityMatrix, c.ITSM.Holidays, c.ITSM.CABRuleNormal = "123,234", []string{"Christmas"}, "most"
			c.ITSM.WebhookRetryBase, c.ITSM.AlertCILabels = 0, nil
			c.ITSM.BreachCheckInterval = 10 * time.Millisecond
		}, []string{"itsm.alert_ci_labels", "itsm.breach_check_interval", "itsm.cab_rule_normal", "itsm.holidays", "itsm.priority_matrix", "itsm.webhook_retry_base"}},
		{"breach checks disabled", func(c *Config) { c.ITSM.BreachCheckInterval = 0 }, nil},
		{"breach checks too rare", func(c *Config) { c.ITSM.BreachCheckInterval = 48 * time.Hour }, []string{"itsm.breach_check_interval"}},
		{"breach checks negative", func(c *Config) { c.ITSM.BreachCheckInterval = -time.Minute }, []string{"itsm.breach_check_interval"}},
		{"health settings", func(c *Config) { c.Health.RefreshInterval = time.Minute }, nil},
		{"health metrics off", func(c *Config) { c.Health.RefreshInterval = 0 }, nil},
		{"stale threshold negative", func(c *Config) { c.Discovery.StaleAfter = -time.Hour }, []string{"discovery.stale_after"}},
		{"stale action unknown", func(c *Config) { c.Discovery.StaleAction = "delete" }, []string{"discovery.stale_action"}},
		{"stale classes malformed", func(c *Config) { c.Discovery.StaleAfterByClass = []string{"Switch"} }, []string{"discovery.stale_after_by_class"}},
		{"health refresh too frequent", func(c *Config) { c.Health.RefreshInterval = time.Millisecond }, []string{"health.refresh_interval"}},
		{"health refresh too rare", func(c *Config) { c.Health.RefreshInterval = 48 * time.Hour }, []string{"health.refresh_interval"}},
		{"itsm holidays and a time zone", func(c *Config) { c.ITSM.Holidays, c.ITSM.TimeZone = []string{"2026-12-25"}, "Europe/Paris" }, nil},
		{"unknown time zone", func(c *Config) { c.ITSM.TimeZone = "Mars/Olympus" }, []string{"itsm.time_zone"}},
		{
			name: "several problems at once",
			modify: func(c *Config) {
				c.Store.Kind = StoreNeo4j
				c.Server.MaxBodyBytes = 0
				c.Server.RequestTimeout = -time.Second
				c.Server.Addr = "nope"
				c.GraphQL.MaxComplexity = 0
				c.Neo4j.MaxConnPool = -1
				c.Traversal.NodeBudget = 0
				c.Log.Level = "verbose"
				c.Log.Format = "xml"
			},
			want: []string{
				"graphql.max_complexity", "log.format", "log.level", "neo4j.max_conn_pool", "neo4j.uri",
				"server.addr", "server.max_body_bytes", "server.request_timeout", "traversal.node_budget",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, keysOf(problems(t, err)))
		})
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	const pw = "hunter2-very-secret"
	c := Default()
	c.Store.Kind, c.Neo4j.URI, c.Neo4j.Password = StoreNeo4j, "neo4j://db:7687", pw

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c, "neo4j", c.Neo4j, "pw", c.Neo4j.Password)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("config", "config", c, "neo4j", c.Neo4j)
	marshalled, err := json.Marshal(c)
	require.NoError(t, err)

	renderings := map[string]string{
		"String":       c.String(),
		"%v":           fmt.Sprintf("%v", c),
		"%+v":          fmt.Sprintf("%+v", c),
		"%#v":          fmt.Sprintf("%#v", c),
		"%v neo4j":     fmt.Sprintf("%v", c.Neo4j),
		"%+v neo4j":    fmt.Sprintf("%+v", c.Neo4j),
		"%#v neo4j":    fmt.Sprintf("%#v", c.Neo4j),
		"%s secret":    fmt.Sprintf("<%s>", c.Neo4j.Password),
		"%q secret":    fmt.Sprintf("%q", c.Neo4j.Password),
		"slog text":    text.String(),
		"slog json":    js.String(),
		"json.Marshal": string(marshalled),
	}
	for name, s := range renderings {
		assert.NotContains(t, s, pw, name)
		assert.Contains(t, s, "[redacted]", name)
	}
	assert.Contains(t, c.String(), "neo4j.password: [redacted]\n")
	assert.Contains(t, text.String(), "config.neo4j.password=[redacted]")
	assert.Equal(t, pw, c.Neo4j.Password.Reveal())

	// An unset secret shows as empty, so operators can tell it is unset.
	assert.Contains(t, Default().String(), "neo4j.password: \n")
}

func TestSecretNeverInErrors(t *testing.T) {
	isolate(t)
	t.Setenv("SKEIN_NEO4J_PASSWORD", "hunter2")
	t.Setenv("SKEIN_STORE_KIND", "neo4j")
	t.Setenv("SKEIN_NEO4J_URI", "neo4j://neo4j:hunter2@db:7687")
	_, err := Load(nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), "neo4j.uri: must not carry credentials")
}

func TestRegisterServeFlags(t *testing.T) {
	fs := serveFlags(t)
	for name, def := range map[string]string{
		"config": "", "addr": "127.0.0.1:8080", "data-dir": "./skein-data", "store": "embedded",
		"neo4j-uri": "", "neo4j-user": "neo4j", "neo4j-password": "", "neo4j-database": "",
		"log-level": "info", "log-format": "text", "demo": "false",
	} {
		f := fs.Lookup(name)
		if assert.NotNil(t, f, "--%s", name) {
			assert.Equal(t, def, f.DefValue, "--%s default", name)
		}
	}
	assert.Contains(t, fs.Lookup("neo4j-password").Usage, "SKEIN_NEO4J_PASSWORD")
}

func TestDecoders(t *testing.T) {
	sizes := []struct {
		in   any
		want int64
		ok   bool
	}{
		{1048576, 1 << 20, true}, {"1048576", 1 << 20, true}, {"1MiB", 1 << 20, true}, {"1 MiB", 1 << 20, true},
		{"512KiB", 512 << 10, true}, {"2MB", 2_000_000, true}, {"1M", 1 << 20, true}, {"10B", 10, true},
		{"1.5MiB", 0, false}, {"lots", 0, false}, {"99999999999GiB", 0, false}, {true, 0, false},
	}
	for _, s := range sizes {
		got, err := parseSize(s.in)
		if s.ok && assert.NoError(t, err, "%v", s.in) {
			assert.Equal(t, s.want, got, "%v", s.in)
		} else if !s.ok {
			assert.Error(t, err, "%v", s.in)
		}
	}
	durations := []struct {
		in   any
		want time.Duration
		ok   bool
	}{
		{"30s", 30 * time.Second, true}, {"1m30s", 90 * time.Second, true}, {"0", 0, true}, {0, 0, true},
		{30 * time.Second, 30 * time.Second, true}, {"30", 0, false}, {30, 0, false}, {"soon", 0, false},
	}
	for _, d := range durations {
		got, err := parseDuration(d.in)
		if d.ok && assert.NoError(t, err, "%v", d.in) {
			assert.Equal(t, d.want, got, "%v", d.in)
		} else if !d.ok {
			assert.Error(t, err, "%v", d.in)
		}
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l := Log{Level: "warn", Format: FormatJSON}.NewLogger(&buf)
	l.Info("hidden")
	l.Warn("shown")
	assert.NotContains(t, buf.String(), "hidden")
	assert.Contains(t, buf.String(), `"msg":"shown"`)
}

// TestDocumentationListsEveryKey keeps docs/CONFIGURATION.md in step with
// the fields table: every key, its default, environment variable and flag.
func TestDocumentationListsEveryKey(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIGURATION.md"))
	require.NoError(t, err)
	def := Default()
	for _, f := range fields {
		row := ""
		for line := range strings.Lines(string(doc)) {
			if strings.HasPrefix(line, "| `"+f.key+"` |") {
				row = line
			}
		}
		if assert.NotEmpty(t, row, "no table row for %s", f.key) {
			cells := strings.Split(row, "|")
			if d := f.format(&def); d != "" {
				assert.True(t, strings.HasPrefix(strings.TrimSpace(cells[2]), "`"+d+"`"),
					"%s: documented default %q, actual %q", f.key, cells[2], d)
			}
		}
		assert.Contains(t, string(doc), "`"+f.key+"`", "key")
		assert.Contains(t, string(doc), "`"+EnvVar(f.key)+"`", "environment variable")
		if f.flag != "" {
			assert.Contains(t, string(doc), "`--"+f.flag+"`", "flag")
		}
	}
}
