package bench

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Benchfmt converts the Markdown report of `skein bench graph` (as written
// by Report.Markdown) or of `skein bench api` (APIMarkdown, and
// OverloadMarkdown with --overload), by this release or an earlier one,
// into the Go benchmark format, one line per figure or table row, so that
// benchstat (golang.org/x/perf/cmd/benchstat) can set two releases side by
// side:
//
//	BenchmarkGraphLoad/backend=embedded/phase=identified_CI_upserts_(creates)/writers=1 1 736000000 ns/op 34315 items/s
//	BenchmarkGraphTraversal/start=core_switch/reached=42218/engine=embedded 1 4200000 ns/op
//	BenchmarkGraphOpen/backend=embedded 1 167000000 ns/op 52428800 rss-B
//	BenchmarkAPI/query=simple_read/clients=8 1 11702 req/s 0.00048 p50-sec 0.003 p99-sec 0 errors
//	BenchmarkAPIOverload/clients=128 1 4233 cheap-req/s 0.0142 cheap-p50-sec ... 140509184 rss-B
//
// Names hold what identifies a figure in any run on the same estate
// (backend, phase, writers, start CI and the count it reaches), never a
// measured value, so the same figure of two runs has the same name. Rows it
// cannot read are an error naming the line: a silently smaller comparison
// would hide a regression.
func Benchfmt(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	table := ""
	n := 0
	starts := map[string]int{} // traversal rows by start and reach, to tell equal ones apart
	var engines []string       // the traversal table's columns after the first two
	for line := 0; sc.Scan(); {
		line++
		text := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(text, "|") {
			if m := openRe.FindStringSubmatch(text); m != nil {
				d, err := time.ParseDuration(m[1])
				if err != nil {
					return fmt.Errorf("line %d: open time %q: %w", line, m[1], err)
				}
				mib, _ := strconv.ParseInt(m[2], 10, 64)
				fmt.Fprintf(w, "BenchmarkGraphOpen/backend=embedded 1 %d ns/op %d rss-B\n", d.Nanoseconds(), mib<<20)
				n++
			}
			table = ""
			continue
		}
		cells := splitRow(text)
		switch {
		case len(cells) > 0 && cells[0] == "backend":
			table = "load"
			continue
		case len(cells) > 0 && cells[0] == "start CI":
			table = "traversal"
			var err error
			if engines, err = traversalHeader(cells); err != nil {
				return fmt.Errorf("line %d: %w", line, err)
			}
			continue
		case len(cells) > 0 && cells[0] == "query":
			table = "api"
			continue
		case len(cells) > 1 && cells[0] == "clients" && cells[1] == "cheap reads/s":
			table = "overload"
			continue
		case len(cells) > 0 && strings.HasPrefix(cells[0], "---"):
			continue
		}
		var err error
		switch table {
		case "load":
			err = loadLine(w, cells)
		case "traversal":
			err = traversalLine(w, cells, engines, starts)
		case "api":
			err = apiLine(w, cells)
		case "overload":
			err = overloadLine(w, cells)
		default:
			continue // another table (targets): not a measurement
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no figures found: not a report of skein bench graph or skein bench api")
	}
	return nil
}

var (
	openRe = regexp.MustCompile(`open \(schema check, adjacency index build\) ([0-9.]+[a-zµ]+), resident memory afterwards ([0-9]+) MiB`)
	// durRe reads a duration as Report.Markdown writes one: "4.2 ms",
	// "0.841 ms", "1.29 s", optionally followed by its ratio.
	durRe = regexp.MustCompile(`^([0-9.]+) (ms|s)\b`)
)

// traversalEngines names the traversal table's columns in benchmark
// names. Reports of earlier releases lack some: columns are read by
// header, so that two releases' reports compare.
var traversalEngines = map[string]string{
	"floor (CSR BFS)":                 "floor",
	"embedded Expand":                 "embedded",
	"Neo4j level-by-level":            "neo4j",
	"Neo4j one statement, depth only": "neo4j_depth_only",
	"naive Cypher DISTINCT":           "naive_distinct",
	"naive Cypher depth+path":         "naive_paths",
	"embedded Expand, impact rules":   "embedded_impact_rules",
	"embedded impact, summary only":   "embedded_impact_summary",
	"embedded impact, summary + page": "embedded_impact",
	"Neo4j impact, summary + page":    "neo4j_impact",
	"impacted":                        "", // a count of CIs, not a time
}

func traversalHeader(cells []string) ([]string, error) {
	if len(cells) < 3 || cells[1] != "reached" {
		return nil, fmt.Errorf("a traversal header starts with start CI and reached: %q", cells)
	}
	out := make([]string, len(cells)-2)
	for i, c := range cells[2:] {
		e, ok := traversalEngines[c]
		if !ok {
			return nil, fmt.Errorf("unknown traversal column %q", c)
		}
		out[i] = e
	}
	return out, nil
}

func splitRow(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "|"), "|")
	cells := strings.Split(s, "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

func loadLine(w io.Writer, c []string) error {
	if len(c) != 6 {
		return fmt.Errorf("a load row has 6 cells, this one %d", len(c))
	}
	d, err := time.ParseDuration(c[4])
	if err != nil {
		return fmt.Errorf("load time %q: %w", c[4], err)
	}
	rate, err := strconv.ParseFloat(c[5], 64)
	if err != nil {
		return fmt.Errorf("load rate %q: %w", c[5], err)
	}
	fmt.Fprintf(w, "BenchmarkGraphLoad/backend=%s/phase=%s/writers=%s 1 %d ns/op %.0f items/s\n", name(c[0]), name(c[1]), name(c[2]), d.Nanoseconds(), rate)
	return nil
}

func traversalLine(w io.Writer, c []string, engines []string, starts map[string]int) error {
	if len(c) != 2+len(engines) {
		return fmt.Errorf("a traversal row has %d cells, this one %d", 2+len(engines), len(c))
	}
	// Two start CIs of one kind may reach as many CIs; the report lists
	// them in an order the seed fixes, so the second is "#2" in every run.
	start := "start=" + name(c[0]) + "/reached=" + name(c[1])
	starts[start]++
	if k := starts[start]; k > 1 {
		start += fmt.Sprintf("#%d", k)
	}
	for i, engine := range engines {
		cell := c[2+i]
		if engine == "" || cell == "–" || strings.HasPrefix(cell, "timeout") {
			continue // not measured, or no figure to compare
		}
		m := durRe.FindStringSubmatch(cell)
		if m == nil {
			return fmt.Errorf("%s time %q", engine, cell)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return fmt.Errorf("%s time %q: %w", engine, cell, err)
		}
		ns := v * 1e6
		if m[2] == "s" {
			ns = v * 1e9
		}
		if ns == 0 {
			continue // below the report's resolution ("0.000 ms"): nothing to compare
		}
		fmt.Fprintf(w, "BenchmarkGraphTraversal/%s/engine=%s 1 %.0f ns/op\n", start, engine, ns)
	}
	return nil
}

// apiLine converts a row of APIMarkdown: | query | clients | requests |
// errors | requests/s | p50 | p99 |.
func apiLine(w io.Writer, c []string) error {
	if len(c) != 7 {
		return fmt.Errorf("an API row has 7 cells, this one %d", len(c))
	}
	return rowLine(w, "BenchmarkAPI/query="+name(c[0])+"/clients="+name(c[1]), c, []column{
		{4, "req/s", false}, {5, "p50-sec", true}, {6, "p99-sec", true}, {3, "errors", false},
	})
}

// overloadLine converts a row of OverloadMarkdown: | clients | cheap
// reads/s | cheap p50 | cheap p99 | cheap shed | impact/s | impact p99 |
// impact shed | failed | server RSS |.
func overloadLine(w io.Writer, c []string) error {
	if len(c) != 10 {
		return fmt.Errorf("an overload row has 10 cells, this one %d", len(c))
	}
	return rowLine(w, "BenchmarkAPIOverload/clients="+name(c[0]), c, []column{
		{1, "cheap-req/s", false}, {2, "cheap-p50-sec", true}, {3, "cheap-p99-sec", true}, {4, "cheap-shed", false},
		{5, "impact-req/s", false}, {6, "impact-p99-sec", true}, {7, "impact-shed", false}, {8, "failed", false},
		{9, "rss-B", false},
	})
}

// column is one numeric cell of a row and the unit it is written in; a
// duration is read as dur writes one and written in seconds, a size in
// MiB ("185 MiB") is written in bytes.
type column struct {
	col      int
	unit     string
	duration bool
}

// rowLine writes one benchmark line for a table row: its columns as
// values with their units. A latency shown as "–" (nothing completed) is
// left out rather than written as zero.
func rowLine(w io.Writer, bench string, c []string, cols []column) error {
	var b strings.Builder
	b.WriteString(bench + " 1")
	for _, col := range cols {
		cell := c[col.col]
		var v float64
		var err error
		switch {
		case col.duration && cell == "–":
			continue
		case col.duration:
			m := durRe.FindStringSubmatch(cell)
			if m == nil {
				return fmt.Errorf("%s %q: not a duration", col.unit, cell)
			}
			v, err = strconv.ParseFloat(m[1], 64)
			if m[2] == "ms" {
				v /= 1e3
			}
		case strings.HasSuffix(cell, " MiB"):
			v, err = strconv.ParseFloat(strings.TrimSuffix(cell, " MiB"), 64)
			v *= 1 << 20
		default:
			v, err = strconv.ParseFloat(cell, 64)
		}
		if err != nil {
			return fmt.Errorf("%s %q: %w", col.unit, cell, err)
		}
		fmt.Fprintf(&b, " %g %s", v, col.unit)
	}
	fmt.Fprintln(w, b.String())
	return nil
}

// name makes a cell a benchmark name part: no spaces, no slashes (which
// separate parts), no '=' (which separates key and value).
func name(s string) string {
	return strings.NewReplacer(" ", "_", "/", "-", "=", "-").Replace(s)
}
