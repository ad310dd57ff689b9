package agent

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func loadYAML(t *testing.T, text string) (Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return decodeFile(p)
}

// fieldKeys returns the keys of the *FieldErrors err joins.
func fieldKeys(err error) []string {
	var out []string
	var multi interface{ Unwrap() []error }
	if errors.As(err, &multi) {
		for _, e := range multi.Unwrap() {
			out = append(out, fieldKeys(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		out = append(out, fe.Key)
	}
	return out
}

func TestLoadConfig(t *testing.T) {
	cfg, err := loadYAML(t, `
server: https://skein.example.com
token: abc
interval: 15m
sources:
  - type: ansible
    dir: /var/lib/facts
    proposed_classes: true
  - type: nmap
    name: nmap-dmz
    report: /tmp/scan.xml
    domain: dmz.example.com
    min_os_accuracy: 85
  - type: nmap_scan
    targets: [10.0.0.0/24, gw.example.com]
    ports: "22,80,443"
    service_info: true
  - type: kubernetes
    cluster: prod
    paths: [k8s/]
  - type: kubernetes_live
    kubeconfig: /etc/kube.conf
    context: prod
    cluster: prod
    namespaces: [shop]
  - type: host
    fqdn: web01.example.com
`)
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "https://skein.example.com", cfg.Server)
	assert.Equal(t, "abc", cfg.Token.Reveal())
	assert.Equal(t, 15*time.Minute, cfg.Interval)
	assert.Equal(t, DefaultTimeout, cfg.Timeout)
	assert.Equal(t, DefaultMaxRetryTime, cfg.MaxRetryTime)
	assert.Equal(t, []SourceConfig{
		{Type: TypeAnsible, Dir: "/var/lib/facts", ProposedClasses: true},
		{Type: TypeNmap, Name: "nmap-dmz", Report: "/tmp/scan.xml", Domain: "dmz.example.com", MinOSAccuracy: 85},
		{Type: TypeNmapScan, Targets: []string{"10.0.0.0/24", "gw.example.com"}, Ports: "22,80,443", ServiceInfo: true},
		{Type: TypeKubernetes, Cluster: "prod", Paths: []string{"k8s/"}},
		{Type: TypeKubernetesLive, Kubeconfig: "/etc/kube.conf", Context: "prod", Cluster: "prod", Namespaces: []string{"shop"}},
		{Type: TypeHost, FQDN: "web01.example.com"},
	}, cfg.Sources)
}

func TestExampleConfigLoads(t *testing.T) {
	t.Setenv(TokenEnv, "from-env") // the example names a token_file this machine lacks
	_, file, _, _ := runtime.Caller(0)
	cfg, err := LoadConfig(filepath.Join(filepath.Dir(file), "..", "..", "cmd", "skein-agent", "agent.example.yaml"), ForPush)
	require.NoError(t, err)
	assert.NotEmpty(t, cfg.Sources)
}

func TestConfigToken(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("from-file\n"), 0o600))
	for _, tc := range []struct {
		name, yaml, env string
		want            string
		errKeys         []string
	}{
		{name: "in the file", yaml: "token: in-file", want: "in-file"},
		{name: "token_file, trimmed", yaml: "token_file: " + tokenFile, want: "from-file"},
		{name: "the environment wins", yaml: "token_file: " + tokenFile, env: "from-env", want: "from-env"},
		{name: "the environment wins over token", yaml: "token: in-file", env: "from-env", want: "from-env"},
		{name: "both in the file", yaml: "token: x\ntoken_file: " + tokenFile, errKeys: []string{"token_file"}},
		{name: "unreadable token_file", yaml: "token_file: " + filepath.Join(dir, "none"), errKeys: []string{"token_file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(TokenEnv, tc.env)
			cfg, err := loadYAML(t, "server: http://localhost:8080\n"+tc.yaml+"\nsources: [{type: host}]\n")
			if tc.errKeys != nil {
				assert.Equal(t, tc.errKeys, fieldKeys(err), "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, cfg.Token.Reveal())
			assert.NoError(t, cfg.Validate())
		})
	}
}

func TestConfigErrors(t *testing.T) {
	const head = "server: http://localhost:8080\ntoken: t\n"
	for _, tc := range []struct {
		name, yaml string
		keys       []string // of LoadConfig's and Validate's errors, in order
	}{
		{name: "no sources", yaml: head, keys: []string{"sources"}},
		{name: "no server, no token", yaml: "sources: [{type: host}]", keys: []string{"server", "token"}},
		{name: "bad server", yaml: "server: skein.example.com\ntoken: t\nsources: [{type: host}]", keys: []string{"server"}},
		{name: "credentials in the URL", yaml: "server: https://u:p@skein\ntoken: t\nsources: [{type: host}]", keys: []string{"server"}},
		{name: "unknown top-level key", yaml: head + "intervall: 5m\nsources: [{type: host}]", keys: []string{"intervall"}},
		{name: "bad durations", yaml: head + "interval: often\ntimeout: 0\nsources: [{type: host}]", keys: []string{"interval", "timeout"}},
		{name: "interval in nanoseconds", yaml: head + "interval: 300\nsources: [{type: host}]", keys: []string{"interval"}},
		{name: "sub-second interval", yaml: head + "interval: 10ms\nsources: [{type: host}]", keys: []string{"interval"}},
		{name: "unknown type", yaml: head + "sources: [{type: host}, {type: snmp}]", keys: []string{"sources[1].type"}},
		{name: "missing type", yaml: head + "sources: [{dir: /x}]", keys: []string{"sources[0].type"}},
		{name: "missing required options", yaml: head + `sources:
  - {type: host}
  - {type: ansible}
  - {type: nmap}
  - {type: nmap_scan}
  - {type: kubernetes}
  - {type: kubernetes_live}
`, keys: []string{"sources[1].dir", "sources[2].report", "sources[3].targets", "sources[4].cluster", "sources[4].paths", "sources[5].cluster"}},
		{name: "an option of another type", yaml: head + "sources: [{type: ansible, dir: /x, report: /y.xml}]", keys: []string{"sources[0].report"}},
		{name: "wrong value types", yaml: head + "sources: [{type: nmap, report: /r.xml, min_os_accuracy: high}, {type: host, proposed_classes: maybe}]",
			keys: []string{"sources[0].min_os_accuracy", "sources[1].proposed_classes"}},
		{name: "accuracy out of range", yaml: head + "sources: [{type: nmap, report: /r.xml, min_os_accuracy: 120}]", keys: []string{"sources[0].min_os_accuracy"}},
		{name: "bad names", yaml: head + "sources: [{type: host, name: my host}, {type: host, name: API}]", keys: []string{"sources[0].name", "sources[1].name"}},
		{name: "an nmap flag as target", yaml: head + "sources: [{type: nmap_scan, targets: [--script=evil]}]", keys: []string{"sources[0].targets[0]"}},
		{name: "sources not a list", yaml: head + "sources: {type: host}", keys: []string{"sources", "sources"}}, // undecodable, so none
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(TokenEnv, "")
			cfg, err := loadYAML(t, tc.yaml)
			keys := fieldKeys(err)
			keys = append(keys, fieldKeys(cfg.Validate())...)
			assert.Equal(t, tc.keys, keys, "load: %v\nvalidate: %v", err, cfg.Validate())
		})
	}
}

func TestLoadConfigReportsEverything(t *testing.T) {
	t.Setenv(TokenEnv, "")
	p := filepath.Join(t.TempDir(), "agent.yaml")
	require.NoError(t, os.WriteFile(p, []byte("server: localhost\ntimeout: soon\nsources: [{type: ansible}, {type: nmpa}, {type: host, report: x}]\n"), 0o600))
	_, err := LoadConfig(p, ForPush)
	assert.Equal(t, []string{"timeout", "sources[2].report", "server", "token", "sources[0].dir", "sources[1].type"}, fieldKeys(err), "%v", err)
	_, err = LoadConfig(p, ForDryRun)
	assert.Equal(t, []string{"timeout", "sources[2].report", "sources[0].dir", "sources[1].type"}, fieldKeys(err), "%v", err)
	_, err = LoadConfig(filepath.Join(t.TempDir(), "none.yaml"), ForPush)
	var fe *FieldError
	assert.False(t, errors.As(err, &fe), "an unreadable file is no field error: %v", err)
}

func TestDryRunNeedsNoServer(t *testing.T) {
	t.Setenv(TokenEnv, "")
	cfg, err := loadYAML(t, "sources: [{type: host}]")
	require.NoError(t, err)
	assert.Error(t, cfg.Validate())
	assert.NoError(t, cfg.ValidateSources())
	_, err = New(cfg, RunnerOptions{DryRun: os.Stdout})
	assert.NoError(t, err)
}

func TestExpandPaths(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.yaml", "b.yml", "c.json", "notes.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), nil, 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o700))
	got, err := expandPaths([]string{dir, filepath.Join(dir, "*.txt"), filepath.Join(dir, "a.yaml")})
	require.NoError(t, err)
	assert.Equal(t, []string{
		filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yml"), filepath.Join(dir, "c.json"),
		filepath.Join(dir, "notes.txt"), filepath.Join(dir, "a.yaml"),
	}, got)
	_, err = expandPaths([]string{filepath.Join(dir, "*.none")})
	assert.ErrorContains(t, err, "matches no file")
	_, err = expandPaths([]string{filepath.Join(dir, "gone")})
	assert.Error(t, err)
}

// TestDryRunNeedsNoTokenFile: a configuration whose token file is
// readable only on the agent's host (absent here) still dry-runs; a push
// refuses it, naming token_file.
func TestDryRunNeedsNoTokenFile(t *testing.T) {
	t.Setenv(TokenEnv, "")
	p := filepath.Join(t.TempDir(), "agent.yaml")
	require.NoError(t, os.WriteFile(p, []byte("server: https://skein.example.com\ntoken_file: /nonexistent/token\nsources: [{type: host}]\n"), 0o600))
	_, err := LoadConfig(p, ForDryRun)
	require.NoError(t, err)
	_, err = LoadConfig(p, ForPush)
	assert.Contains(t, fieldKeys(err), "token_file")
}
