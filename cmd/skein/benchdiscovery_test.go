package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/neo4jtest"
)

// benchBackends returns the arguments that select the backends of a
// discovery benchmark: the embedded store alone, and the embedded store
// then the test Neo4j, emptied by --reset (skipped locally without
// NEO4J_URI, a failure in CI).
func benchBackends() map[string]func(t *testing.T) []string {
	return map[string]func(t *testing.T) []string{
		"embedded": func(*testing.T) []string { return []string{"--no-neo4j"} },
		"neo4j": func(t *testing.T) []string {
			env := neo4jtest.Require(t)
			args := []string{"--neo4j-uri", env.URI, "--neo4j-user", env.User, "--neo4j-password", env.Password, "--reset"}
			if env.Database != "" {
				args = append(args, "--neo4j-database", env.Database)
			}
			return args
		},
	}
}

// runBench runs `skein bench` with args on the backend named (see
// benchBackends) and returns its report and the backends it measured.
func runBench(t *testing.T, name string, backend func(*testing.T) []string, args ...string) (string, []string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(append([]string{"bench"}, args...), backend(t)...)
	require.NoError(t, run(t.Context(), args, &stdout, &stderr), stderr.String())
	if name == "neo4j" {
		return stdout.String(), []string{"embedded", "neo4j"}
	}
	return stdout.String(), []string{"embedded"}
}

// TestBenchUpsert runs `skein bench upsert` on a small estate: every phase
// has its row for each backend measured, each store holds what was sent
// and no duplicate (the command fails otherwise), and --out has the
// report printed.
func TestBenchUpsert(t *testing.T) {
	for name, backend := range benchBackends() {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "upsert.md")
			rep, backends := runBench(t, name, backend, "upsert", "--cis", "400", "--batch", "40", "--writers", "4", "--out", out)
			for _, b := range backends {
				// 400 CIs: 100 hosts of 4 CIs, half with 1 writer, half with 4;
				// then 24 new hosts, each reported twice.
				for _, row := range []string{
					"| " + b + " | first load (creates) | 1 | 5 | 200 | 200 |",
					"| " + b + " | first load (creates) | 4 | 5 | 200 | 200 |",
					"| " + b + " | same batches again (unchanged) | 1 | 5 | 200 | 200 |",
					"| " + b + " | same batches again (unchanged) | 4 | 5 | 200 | 200 |",
					"| " + b + " | same batches, scoped, in a completed run | 1 | 5 | 200 | 200 |",
					"| " + b + " | same batches, scoped, in a completed run | 4 | 5 | 200 | 200 |",
					"| " + b + " | overlapping writers (each host reported twice) | 4 | 6 | 192 | 192 |",
				} {
					assert.Contains(t, rep, row)
				}
				assert.Contains(t, rep, "- "+b+" afterwards: 496 CIs and 496 relationships (496 and 496 distinct ones sent); duplicates: 0 CIs, 0 relationships; the overlapping writers' CIs were answered ")
				assert.Equal(t, 7, strings.Count(rep, "\n| "+b+" |"), "one row a phase")
				m := regexp.MustCompile("- " + b + ` afterwards: .* answered (\d+) created, (\d+) unchanged, (\d+) updated;`).FindStringSubmatch(rep)
				require.Len(t, m, 4, rep)
				created, _ := strconv.Atoi(m[1])
				unchanged, _ := strconv.Atoi(m[2])
				updated, _ := strconv.Atoi(m[3])
				assert.Equal(t, 96, created, "each CI of the 24 new hosts created once")
				assert.Equal(t, 96, unchanged+updated, "and found the other time")
			}
			written, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.Equal(t, rep, string(written))
		})
	}
}

// TestBenchImport runs `skein bench import` on a small estate: one stream
// and four, each backend, every line created, no duplicate.
func TestBenchImport(t *testing.T) {
	for name, backend := range benchBackends() {
		t.Run(name, func(t *testing.T) {
			rep, backends := runBench(t, name, backend, "import", "--cis", "400", "--writers", "4", "--chunk", "25")
			for _, b := range backends {
				// 400 CIs: 200 hosts, a server and an instance each, and a
				// relationship between them: 600 lines, half a phase.
				assert.Contains(t, rep, "| "+b+" | 1 | 300 | 200 | 100 |")
				assert.Contains(t, rep, "| "+b+" | 4 | 300 | 200 | 100 |")
				assert.Contains(t, rep, "- "+b+" afterwards: 400 CIs and 200 relationships (400 and 200 defined by the lines); duplicates: 0 CIs, 0 relationships.")
				assert.Equal(t, 2, strings.Count(rep, "\n| "+b+" |"), "one row a phase")
			}
		})
	}
}

// TestBenchDiscoveryFlags: bad flags are refused before anything runs,
// every problem named at once.
func TestBenchDiscoveryFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"upsert too small", []string{"bench", "upsert", "--cis", "10", "--writers", "0", "--no-neo4j"},
			[]string{"--cis must be between 100 and 5000000, got 10", "--writers must be between 1 and 256, got 0"}},
		{"upsert batch", []string{"bench", "upsert", "--batch", "2000", "--no-neo4j"}, []string{"--batch must be between 4 and 1000 CIs, got 2000"}},
		{"import chunk", []string{"bench", "import", "--chunk", "0", "--writers", "300", "--no-neo4j"},
			[]string{"--chunk must be between 1 and 5000 lines, got 0", "--writers must be between 1 and 256, got 300"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, &stdout, &stderr)
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, stdout.String())
		})
	}
}

// TestBenchRefusesNonEmptyNeo4j: without --reset, a Neo4j database that
// holds CIs is refused before anything is measured.
func TestBenchRefusesNonEmptyNeo4j(t *testing.T) {
	args := benchBackends()["neo4j"](t)
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(t.Context(), append([]string{"bench", "import", "--cis", "100", "--writers", "2"}, args...), &stdout, &stderr), stderr.String())
	noReset := slices.DeleteFunc(slices.Clone(args), func(a string) bool { return a == "--reset" })
	stdout.Reset()
	err := run(t.Context(), append([]string{"bench", "upsert", "--cis", "100"}, noReset...), &stdout, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pass --reset")
	assert.Empty(t, stdout.String())
}
