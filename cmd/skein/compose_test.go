package main

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/config"
)

// No Docker engine runs the tests, so docker-compose.yml and the Dockerfile
// are checked statically: the compose file with the Compose specification's
// own loader (schema validation, interpolation, normalisation), the
// Dockerfile by reading its instructions.

// loadCompose loads docker-compose.yml from the repository root with env as
// the only environment (not the test process's: `make test` exports a
// NEO4J_PASSWORD of its own).
func loadCompose(t *testing.T, root string, env map[string]string) *types.Project {
	t.Helper()
	var vars []string
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(vars),
	)
	require.NoError(t, err)
	p, err := opts.LoadProject(context.Background())
	require.NoError(t, err, "docker-compose.yml does not load")
	return p
}

func TestComposeFile(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, root, nil)
	require.ElementsMatch(t, []string{"neo4j", "skein"}, p.ServiceNames())
	neo4j, skein := p.Services["neo4j"], p.Services["skein"]

	t.Run("neo4j", func(t *testing.T) {
		assert.Regexp(t, `^neo4j:5\.26(\.\d+)?-community(-[a-z0-9]+)?$`, neo4j.Image,
			"Neo4j 5.26 (the LTS line the store is tested against), Community edition")
		assert.Contains(t, publishedTargets(neo4j), uint32(7687), "Bolt published")
		assert.Contains(t, publishedTargets(neo4j), uint32(7474), "HTTP (Neo4j Browser) published")
		hc := requireHealthCheck(t, neo4j)
		assert.Regexp(t, `cypher-shell|:7474`, strings.Join(hc.Test, " "), "checks Bolt (cypher-shell) or HTTP")
		assert.True(t, mountsNamedVolume(p, neo4j, "/data"), "/data on a named volume: %v", neo4j.Volumes)
		user, password, ok := strings.Cut(envValue(t, neo4j, "NEO4J_AUTH"), "/")
		require.True(t, ok, "NEO4J_AUTH is user/password")
		assert.Equal(t, "neo4j", user)
		assert.GreaterOrEqual(t, len(password), 8, "Neo4j 5 refuses passwords under 8 characters")
	})

	t.Run("skein", func(t *testing.T) {
		require.NotNil(t, skein.Build, "skein is built from this repository")
		assert.Equal(t, root, filepath.Clean(skein.Build.Context))
		dockerfile := skein.Build.Dockerfile
		if !filepath.IsAbs(dockerfile) {
			dockerfile = filepath.Join(skein.Build.Context, dockerfile)
		}
		assert.Equal(t, filepath.Join(root, "Dockerfile"), dockerfile)

		assert.Contains(t, publishedTargets(skein), uint32(8080))
		hc := requireHealthCheck(t, skein)
		assert.Contains(t, strings.Join(hc.Test, " "), "/healthz")

		dep, ok := skein.DependsOn["neo4j"]
		require.True(t, ok, "skein depends on neo4j")
		assert.Equal(t, types.ServiceConditionHealthy, dep.Condition)
		assert.NotEmpty(t, skein.Restart, "a restart policy")
	})

	t.Run("skein environment", func(t *testing.T) {
		keys := configKeys(t)
		known := map[string]bool{}
		for _, k := range keys {
			known[config.EnvVar(k)] = true
		}
		for name := range skein.Environment {
			if strings.HasPrefix(name, config.EnvPrefix) {
				assert.True(t, known[name], "%s is not a configuration key (docs/CONFIGURATION.md lists them)", name)
			}
		}

		// The variables, read by the real loader, make a valid configuration
		// pointing at the neo4j service with its credentials.
		for _, k := range keys {
			t.Setenv(config.EnvVar(k), "") // empty counts as unset
		}
		for name, v := range skein.Environment {
			if strings.HasPrefix(name, config.EnvPrefix) && v != nil {
				t.Setenv(name, *v)
			}
		}
		t.Chdir(t.TempDir()) // no skein.yaml
		cfg, err := config.Load(nil)
		require.NoError(t, err)
		assert.Equal(t, config.StoreNeo4j, cfg.Store.Kind)
		u, err := url.Parse(cfg.Neo4j.URI)
		require.NoError(t, err)
		assert.Equal(t, "neo4j", u.Hostname(), "the compose service name")
		assert.Equal(t, "7687", u.Port())
		user, password, _ := strings.Cut(envValue(t, neo4j, "NEO4J_AUTH"), "/")
		assert.Equal(t, user, cfg.Neo4j.User)
		assert.Equal(t, password, cfg.Neo4j.Password.Reveal(), "skein uses the password Neo4j is given")
		_, port, _ := strings.Cut(cfg.Server.Addr, ":")
		assert.Equal(t, "8080", port, "the port published and health-checked")
		assert.NotContains(t, []string{"localhost", "127.0.0.1", "[::1]"}, strings.Split(cfg.Server.Addr, ":")[0],
			"listens beyond the container's loopback")
	})
}

// TestComposePassword checks that NEO4J_PASSWORD reaches both services.
func TestComposePassword(t *testing.T) {
	p := loadCompose(t, repoRoot(t), map[string]string{"NEO4J_PASSWORD": "not-the-default-1"})
	assert.Equal(t, "neo4j/not-the-default-1", envValue(t, p.Services["neo4j"], "NEO4J_AUTH"))
	assert.Equal(t, "not-the-default-1", envValue(t, p.Services["skein"], "SKEIN_NEO4J_PASSWORD"))
}

func TestComposeDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	require.GreaterOrEqual(t, len(stages), 2, "a multi-stage build")

	var playground, gobuild string // stage names
	for _, s := range stages {
		run := strings.Join(s.args("RUN"), "\n")
		if strings.Contains(run, "npm run build") {
			playground = s.name
			assert.Contains(t, run, "npm ci", "installs from the lockfile")
			assert.Contains(t, strings.Join(s.args("WORKDIR"), " ")+" "+strings.Join(s.args("COPY"), " "), "web/playground")
		}
		if strings.Contains(run, "go build") {
			gobuild = s.name
			assert.Contains(t, run, "CGO_ENABLED=0", "a static binary")
			assert.Contains(t, run, "./cmd/skein")
			assert.True(t, copiesFrom(s, playground, "internal/server/playground/dist"),
				"the Go stage embeds the Playground built by the node stage")
		}
	}
	require.NotEmpty(t, playground, "a stage builds the Playground")
	require.NotEmpty(t, gobuild, "a stage builds skein")

	final := stages[len(stages)-1]
	assert.True(t, copiesFrom(final, gobuild, "skein"), "the final stage takes the binary from the Go stage")
	user := final.last("USER")
	assert.NotEmpty(t, user, "runs as a non-root user")
	assert.NotContains(t, []string{"root", "0", "0:0"}, user)
	assert.Contains(t, final.args("EXPOSE"), "8080")
	assert.Contains(t, strings.Join(final.args("VOLUME"), " "), "/data")
	assert.Contains(t, final.last("HEALTHCHECK"), "/healthz")
	cmd := final.last("ENTRYPOINT") + " " + final.last("CMD")
	assert.Contains(t, cmd, "skein")
	assert.Contains(t, cmd, `"serve"`)
	env := strings.Join(final.args("ENV"), " ")
	assert.Contains(t, env, "SKEIN_SERVER_ADDR=0.0.0.0:8080", "listens beyond the container's loopback")
	assert.Contains(t, env, "SKEIN_STORE_DATA_DIR=/data", "keeps the embedded store on the volume")
}

// dockerStage is one FROM ... [AS name] block of a Dockerfile.
type dockerStage struct {
	name  string
	instr [][2]string // instruction (upper case), arguments
}

func (s dockerStage) args(instruction string) []string {
	var out []string
	for _, in := range s.instr {
		if in[0] == instruction {
			out = append(out, in[1])
		}
	}
	return out
}

func (s dockerStage) last(instruction string) string {
	a := s.args(instruction)
	if len(a) == 0 {
		return ""
	}
	return a[len(a)-1]
}

// copiesFrom reports whether s has COPY --from=stage with a source path
// containing path.
func copiesFrom(s dockerStage, stage, path string) bool {
	if stage == "" {
		return false
	}
	return slices.ContainsFunc(s.args("COPY"), func(a string) bool {
		return strings.Contains(a, "--from="+stage+" ") && strings.Contains(a, path)
	})
}

var fromRE = regexp.MustCompile(`(?i)^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$`)

// parseDockerfile splits a Dockerfile into stages of instructions: comments
// dropped, continuation lines joined. Enough for the files we write; heredocs
// are not supported.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	var (
		stages  []dockerStage
		pending string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && pending == "") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		instr, args, _ := strings.Cut(line, " ")
		instr, args = strings.ToUpper(instr), strings.Join(strings.Fields(args), " ")
		if instr == "FROM" {
			m := fromRE.FindStringSubmatch(args)
			require.NotNil(t, m, "FROM %s", args)
			stages = append(stages, dockerStage{name: m[2]})
			continue
		}
		require.NotEmpty(t, stages, "%s before FROM", instr)
		cur := &stages[len(stages)-1]
		cur.instr = append(cur.instr, [2]string{instr, args})
	}
	require.NoError(t, sc.Err())
	return stages
}

// configKeys lists every configuration key, from Config.String, which
// prints one "key: value" line per key.
func configKeys(t *testing.T) []string {
	t.Helper()
	var keys []string
	for line := range strings.Lines(config.Default().String()) {
		k, _, ok := strings.Cut(line, ": ")
		require.True(t, ok, "unexpected line %q in Config.String", line)
		keys = append(keys, k)
	}
	require.Contains(t, keys, "store.kind")
	return keys
}

func publishedTargets(s types.ServiceConfig) []uint32 {
	var out []uint32
	for _, p := range s.Ports {
		if p.Published != "" {
			out = append(out, p.Target)
		}
	}
	return out
}

func requireHealthCheck(t *testing.T, s types.ServiceConfig) *types.HealthCheckConfig {
	t.Helper()
	hc := s.HealthCheck
	require.NotNil(t, hc, "%s has a health check", s.Name)
	require.False(t, hc.Disable, "%s health check disabled", s.Name)
	require.NotEmpty(t, hc.Test, "%s health check has a test", s.Name)
	require.Contains(t, []string{"CMD", "CMD-SHELL"}, hc.Test[0])
	return hc
}

func mountsNamedVolume(p *types.Project, s types.ServiceConfig, target string) bool {
	return slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		_, declared := p.Volumes[v.Source]
		return v.Type == types.VolumeTypeVolume && v.Target == target && declared
	})
}

func envValue(t *testing.T, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := s.Environment[name]
	require.True(t, ok && v != nil, "%s sets %s", s.Name, name)
	return *v
}

// repoRoot is the repository root: the nearest directory above the test's
// working directory with a go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the working directory")
		dir = parent
	}
}
