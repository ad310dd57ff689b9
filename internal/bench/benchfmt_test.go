package bench

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"
)

// readBenchfmt parses out with the Go benchmark format's own reader, as
// benchstat does, and returns each result's name and values by unit.
func readBenchfmt(t *testing.T, out string) map[string]map[string]float64 {
	t.Helper()
	got := map[string]map[string]float64{}
	r := benchfmt.NewReader(strings.NewReader(out), "test")
	for r.Scan() {
		switch rec := r.Result().(type) {
		case *benchfmt.Result:
			vals := map[string]float64{}
			for _, v := range rec.Values {
				vals[v.Unit] = v.Value
			}
			got[string(rec.Name.Full())] = vals
		case *benchfmt.SyntaxError:
			t.Fatalf("benchstat cannot read %q: %v", out, rec)
		}
	}
	require.NoError(t, r.Err())
	return got
}

// TestBenchfmtRoundTrip: every figure of a report, written as Markdown,
// comes back under a stable name with its value.
func TestBenchfmtRoundTrip(t *testing.T) {
	rep := &Report{
		CIs: 50484, Relationships: 234799, Go: "go1.26.8", CPU: "cpu",
		Load: []LoadRow{
			{Backend: "embedded", Phase: "identified CI upserts (creates)", Writers: 1, Items: 25242, Duration: 736 * time.Millisecond},
			{Backend: "neo4j", Phase: "relationships (validated creates)", Writers: 4, Items: 234799, Duration: 26102 * time.Millisecond},
		},
		Traversals: []TraversalRow{
			{Label: "core switch", Reached: 42218, Floor: 1100 * time.Microsecond, Embedded: 4200 * time.Microsecond, Neo4j: 836500 * time.Microsecond,
				Neo4jDepthOnly: 402 * time.Millisecond, NaiveDistinct: 268800 * time.Microsecond, NaivePaths: 1290 * time.Millisecond,
				Impacted: 42300, ImpactTruncated: true, EmbeddedImpact: 61 * time.Millisecond, Neo4jImpact: 905 * time.Millisecond,
				EmbeddedRules: 5300 * time.Microsecond, EmbeddedSummary: 27 * time.Millisecond},
			{Label: "vm", Reached: 1, Floor: 100, Embedded: 2 * time.Microsecond, Neo4j: 2800 * time.Microsecond, NaiveDistinct: -time.Minute},
			{Label: "vm", Reached: 1, Floor: 100, Embedded: 3 * time.Microsecond},
		},
		Open: &OpenStats{OpenTime: 167 * time.Millisecond, RSSBytes: 50 << 20},
	}
	var md, out bytes.Buffer
	rep.Markdown(&md)
	assert.Contains(t, md.String(), "| 42300 (cut at the node budget) |", "a cut analysis says so beside its count")
	require.NoError(t, Benchfmt(&md, &out))
	got := readBenchfmt(t, out.String())

	want := map[string]map[string]float64{
		"GraphLoad/backend=embedded/phase=identified_CI_upserts_(creates)/writers=1":    {"sec/op": 0.736, "items/s": 34296},
		"GraphLoad/backend=neo4j/phase=relationships_(validated_creates)/writers=4":     {"sec/op": 26.102, "items/s": 8995},
		"GraphTraversal/start=core_switch/reached=42218/engine=floor":                   {"sec/op": 0.0011},
		"GraphTraversal/start=core_switch/reached=42218/engine=embedded":                {"sec/op": 0.0042},
		"GraphTraversal/start=core_switch/reached=42218/engine=neo4j":                   {"sec/op": 0.8365},
		"GraphTraversal/start=core_switch/reached=42218/engine=neo4j_depth_only":        {"sec/op": 0.402},
		"GraphTraversal/start=core_switch/reached=42218/engine=naive_distinct":          {"sec/op": 0.2688},
		"GraphTraversal/start=core_switch/reached=42218/engine=naive_paths":             {"sec/op": 1.29},
		"GraphTraversal/start=core_switch/reached=42218/engine=embedded_impact":         {"sec/op": 0.061},
		"GraphTraversal/start=core_switch/reached=42218/engine=embedded_impact_rules":   {"sec/op": 0.0053},
		"GraphTraversal/start=core_switch/reached=42218/engine=embedded_impact_summary": {"sec/op": 0.027},
		"GraphTraversal/start=core_switch/reached=42218/engine=neo4j_impact":            {"sec/op": 0.905},
		"GraphTraversal/start=vm/reached=1/engine=embedded":                             {"sec/op": 0.000002},
		"GraphTraversal/start=vm/reached=1/engine=neo4j":                                {"sec/op": 0.0028},
		"GraphTraversal/start=vm/reached=1#2/engine=embedded":                           {"sec/op": 0.000003},
		"GraphOpen/backend=embedded":                                                    {"sec/op": 0.167, "rss-B": 50 << 20},
	}
	require.Len(t, got, len(want), out.String())
	for name, units := range want {
		require.Contains(t, got, name, out.String())
		for unit, v := range units {
			assert.InDelta(t, v, got[name][unit], v*0.01+1e-9, "%s %s", name, unit)
		}
	}
	assert.NotContains(t, got, "GraphTraversal/start=vm/reached=1/engine=naive_paths", "a column that was not measured has no figure")
	assert.NotContains(t, got, "GraphTraversal/start=vm/reached=1/engine=floor", "nor one below the report's resolution")
	assert.NotContains(t, got, "GraphTraversal/start=vm/reached=1/engine=naive_distinct", "nor one that timed out")
}

// TestBenchfmtReadsAPIReports: the tables of skein bench api (plain and
// --overload) come back with every column under its unit; a latency of a
// level where nothing completed is left out, not written as zero.
func TestBenchfmtReadsAPIReports(t *testing.T) {
	var md, out bytes.Buffer
	APIMarkdown(&md, []APIRow{
		{Query: "simple read", Clients: 8, Requests: 58531, Errors: 1, Elapsed: 5 * time.Second, P50: 480 * time.Microsecond, P99: 3 * time.Millisecond},
		{Query: "impact", Clients: 32, Requests: 228, Elapsed: 5 * time.Second, P50: 693200 * time.Microsecond, P99: 1430 * time.Millisecond},
	})
	md.WriteString("\nsome text between the tables\n\n")
	OverloadMarkdown(&md, []OverloadRow{
		{Clients: 512, Elapsed: 5 * time.Second, CheapOK: 31070, CheapShed: 1974, CheapP50: 54400 * time.Microsecond, CheapP99: 185500 * time.Microsecond,
			ExpensiveOK: 40, ExpensiveShed: 3628, ExpensiveP99: 1430 * time.Millisecond, Failed: 2, RSSBytes: 185 << 20},
		{Clients: 1, Elapsed: 5 * time.Second, CheapOK: 1530, CheapP50: 152 * time.Microsecond, CheapP99: 1100 * time.Microsecond, RSSBytes: 99 << 20},
	})
	require.NoError(t, Benchfmt(&md, &out))
	got := readBenchfmt(t, out.String())
	want := map[string]map[string]float64{
		"API/query=simple_read/clients=8": {"req/s": 11706, "p50-sec": 0.00048, "p99-sec": 0.003, "errors": 1},
		"API/query=impact/clients=32":     {"req/s": 45.6, "p50-sec": 0.6932, "p99-sec": 1.43, "errors": 0},
		"APIOverload/clients=512": {"cheap-req/s": 6214, "cheap-p50-sec": 0.0544, "cheap-p99-sec": 0.1855, "cheap-shed": 1974,
			"impact-req/s": 8, "impact-p99-sec": 1.43, "impact-shed": 3628, "failed": 2, "rss-B": 185 << 20},
		"APIOverload/clients=1": {"cheap-req/s": 306, "cheap-p50-sec": 0.000152, "cheap-p99-sec": 0.0011, "impact-req/s": 0, "rss-B": 99 << 20},
	}
	require.Len(t, got, len(want), out.String())
	for name, units := range want {
		require.Contains(t, got, name, out.String())
		for unit, v := range units {
			assert.InDelta(t, v, got[name][unit], v*0.01+0.5, "%s %s", name, unit)
		}
	}
	assert.NotContains(t, got["APIOverload/clients=1"], "impact-p99-sec", "no impact query completed: no latency")
}

// TestBenchfmtRefusesWhatItCannotRead: a report it cannot read is an
// error naming the line, never a smaller comparison.
func TestBenchfmtRefusesWhatItCannotRead(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"empty", "", "no figures found"},
		{"not a report", "# Hello\n\nsome text\n", "no figures found"},
		{"bad load time", "| backend | operation | writers | items | time | items/s |\n|---|---|---:|---:|---:|---:|\n| embedded | x | 1 | 2 | soon | 3 |\n", "line 3: load time"},
		{"short load row", "| backend | operation | writers | items | time | items/s |\n| embedded | x | 1 |\n", "line 2: a load row has 6 cells"},
		{"bad API rate", "| query | clients | requests | errors | requests/s | p50 | p99 |\n| impact | 1 | 2 | 0 | many | 1.0 ms | 2.0 ms |\n", "line 2: req/s \"many\""},
		{"bad overload latency", "| clients | cheap reads/s | cheap p50 | cheap p99 | cheap shed | impact/s | impact p99 | impact shed | failed | server RSS |\n| 1 | 3 | soon | 1.0 ms | 0 | 1 | 2.0 ms | 0 | 0 | 9 MiB |\n", "line 2: cheap-p50-sec \"soon\""},
		{"short API row", "| query | clients | requests | errors | requests/s | p50 | p99 |\n| impact | 1 |\n", "line 2: an API row has 7 cells"},
		{"bad traversal time", "| start CI | reached | floor (CSR BFS) | embedded Expand | Neo4j level-by-level | naive Cypher DISTINCT | naive Cypher depth+path |\n| vm | 1 | fast | – | – | – | – |\n", "line 2: floor time"},
		{"unknown traversal column", "| start CI | reached | floor (CSR BFS) | Neo4j sideways |\n| vm | 1 | 1.0 ms | 2.0 ms |\n", "line 1: unknown traversal column \"Neo4j sideways\""},
		{"short traversal row", "| start CI | reached | floor (CSR BFS) | embedded Expand |\n| vm | 1 | 1.0 ms |\n", "line 2: a traversal row has 4 cells, this one 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Benchfmt(strings.NewReader(tt.in), &bytes.Buffer{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestBenchfmtReadsThePublishedFigures: the 50,000-CI section of
// docs/PERFORMANCE.md, written by an earlier release, converts whole.
func TestBenchfmtReadsThePublishedFigures(t *testing.T) {
	doc, err := readFile("../../docs/PERFORMANCE.md")
	require.NoError(t, err)
	start := strings.Index(doc, "## 50,000 CIs")
	end := strings.Index(doc, "### What it shows")
	require.True(t, start >= 0 && end > start, "the 50,000-CI section of docs/PERFORMANCE.md")
	var out bytes.Buffer
	require.NoError(t, Benchfmt(strings.NewReader(doc[start:end]), &out))
	got := readBenchfmt(t, out.String())
	assert.Contains(t, got, "GraphLoad/backend=embedded/phase=identified_CI_upserts_(creates)/writers=16")
	assert.Contains(t, got, "GraphOpen/backend=embedded")
	n := 0
	for name := range got {
		if strings.HasPrefix(name, "GraphTraversal/") {
			n++
		}
	}
	assert.Greater(t, n, 100, "29 start CIs, 5 engines each")

	// And the API and overload sections.
	start = strings.Index(doc, "## GraphQL API over loopback")
	require.True(t, start >= 0, "the API section of docs/PERFORMANCE.md")
	out.Reset()
	require.NoError(t, Benchfmt(strings.NewReader(doc[start:]), &out))
	got = readBenchfmt(t, out.String())
	assert.Contains(t, got, "API/query=simple_read/clients=32")
	assert.Contains(t, got, "APIOverload/clients=512")
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
