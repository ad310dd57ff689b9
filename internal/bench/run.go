package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

// DependentTypes are the relationship types the side-by-side traversal
// follows backwards ("what depends on this, transitively"): every type
// whose failure travels from target to source in the default model.
var DependentTypes = []string{"DEPENDS_ON", "RUNS_ON", "HOSTED_ON", "CONNECTS_TO", "PROVIDED_BY", "LOCATED_IN", "BACKED_UP_BY"}

// Config says what to measure.
type Config struct {
	CIs       int
	Seed      uint64
	BatchSize int // CIs per upsert batch (default 1000)
	Writers   int // concurrent writers for the parallel load (default 16)
	Depth     int // traversal depth (default 8)
	// DataDir holds the embedded store; empty means a temporary directory
	// removed afterwards.
	DataDir string
	// Neo4j is the server to measure; nil measures the embedded store only.
	Neo4j *neo4jstore.Config
	// Reset empties the Neo4j database first; without it a non-empty
	// database is an error.
	Reset bool
	// NaiveTimeout bounds each naive Cypher query (default 60s).
	NaiveTimeout time.Duration
	// ImpactTimeout bounds each impact analysis (default
	// impact.DefaultTimeout, what the API allows one); an analysis that
	// runs out is reported as a timeout, as the API would answer.
	ImpactTimeout time.Duration
	// OpenProbe measures opening the embedded store at dir, ideally in a
	// fresh process; nil measures in this process.
	OpenProbe func(ctx context.Context, dir string) (OpenStats, error)
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// OpenStats is the cost of opening the embedded store.
type OpenStats struct {
	OpenTime time.Duration `json:"open_ns"`
	RSSBytes int64         `json:"rss_bytes"`
}

// Report holds every figure of one run.
type Report struct {
	CIs, Relationships int
	Go, CPU            string
	Neo4jVersion       string
	Load               []LoadRow
	Traversals         []TraversalRow
	Open               *OpenStats
}

// LoadRow is the throughput of one load phase.
type LoadRow struct {
	Backend, Phase string
	Writers, Items int
	Duration       time.Duration
}

// Rate returns items per second.
func (l LoadRow) Rate() float64 { return float64(l.Items) / l.Duration.Seconds() }

// TraversalRow times one start CI across every engine.
type TraversalRow struct {
	Label   string
	Reached int
	// Times by column; a negative duration means the query timed out, zero
	// that the column was not measured.
	Floor, Embedded, Neo4j, Neo4jDepthOnly, NaiveDistinct, NaivePaths time.Duration
	// EmbeddedRules times the embedded store's Expand along the impact
	// rules (impact.FailureRules, every type that carries impact, the way
	// it travels): the store-level traversal that reaches what an impact
	// analysis reaches, its groups' members aside.
	EmbeddedRules time.Duration
	// EmbeddedImpact and Neo4jImpact time an impact analysis from the
	// start CI (assumed down, to the same depth) as a CAB's summary asks
	// it: the analysis unordered, then the first page of 50 impacted CIs
	// (impactAnalysis with counts, roll-ups and impactedPage(first: 50)).
	// EmbeddedSummary times it asked for counts and roll-ups only
	// (impact.Request.SummaryOnly: impactAnalysis without impacted,
	// impactedPage or countsByDepth).
	EmbeddedImpact, Neo4jImpact, EmbeddedSummary time.Duration
	// Impacted is how many CIs that analysis reports (beyond the start);
	// ImpactTruncated that the node budget (store.MaxNodes) stopped it, so
	// that more are impacted. The table says so beside the count.
	Impacted        int
	ImpactTruncated bool
	Mismatch        string
}

func (c *Config) defaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Writers <= 0 {
		c.Writers = 16
	}
	if c.Depth <= 0 {
		c.Depth = 8
	}
	if c.ImpactTimeout <= 0 {
		c.ImpactTimeout = impact.DefaultTimeout
	}
	if c.NaiveTimeout <= 0 {
		c.NaiveTimeout = time.Minute
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Run generates the estate, loads it and measures.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	logf := func(format string, args ...any) { fmt.Fprintf(cfg.Log, "bench: "+format+"\n", args...) }
	est := Generate(cfg.CIs, cfg.Seed)
	rep := &Report{CIs: len(est.CIs), Relationships: len(est.Edges), Go: runtime.Version(), CPU: cpuModel()}
	logf("estate: %d CIs, %d relationships (%.2f per CI)", len(est.CIs), len(est.Edges), float64(len(est.Edges))/float64(len(est.CIs)))
	model, err := cmdb.DefaultModel()
	if err != nil {
		return nil, err
	}

	dir := cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "skein-bench-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	emb, err := embedded.Open(ctx, dir, embedded.Options{})
	if err != nil {
		return nil, err
	}
	embIDs, rows, err := load(ctx, "embedded", emb, model, est, cfg, logf)
	if err != nil {
		emb.Close()
		return nil, err
	}
	rep.Load = append(rep.Load, rows...)
	defer emb.Close()

	var neo *neo4jstore.Store
	var neoIDs []store.ID
	var drv neo4j.DriverWithContext
	if cfg.Neo4j != nil {
		if neo, err = neo4jstore.Open(ctx, *cfg.Neo4j); err != nil {
			return nil, err
		}
		defer neo.Close()
		if err := emptyOrReset(ctx, neo, cfg.Reset); err != nil {
			return nil, err
		}
		if neoIDs, rows, err = load(ctx, "neo4j", neo, model, est, cfg, logf); err != nil {
			return nil, err
		}
		rep.Load = append(rep.Load, rows...)
		if drv, err = neo4j.NewDriverWithContext(cfg.Neo4j.URI, neo4j.BasicAuth(cfg.Neo4j.User, cfg.Neo4j.Password, "")); err != nil {
			return nil, err
		}
		defer drv.Close(ctx)
		rep.Neo4jVersion = serverVersion(ctx, drv, cfg.Neo4j.Database)
		if rows, err = plainWrites(ctx, drv, cfg, est, logf); err != nil {
			return nil, err
		}
		rep.Load = append(rep.Load, rows...)
	}

	floor := NewCSR(len(est.CIs), est.Edges)
	rules := make([]store.EdgeRule, len(DependentTypes))
	for i, t := range DependentTypes {
		rules[i] = store.EdgeRule{Type: t, Dir: store.In}
	}
	failureRules := impact.FailureRules(model)
	starts := append(append([]Named(nil), est.Hubs...), est.Typical...)
	for _, s := range starts {
		row := TraversalRow{Label: s.Label}
		row.Reached = floor.BFS(s.Index, rules, cfg.Depth)
		wantDepths := floor.DepthCounts()
		row.Floor, _ = timeIt(func() error { floor.BFS(s.Index, rules, cfg.Depth); return nil })
		// expansion returns a run of st's Expand from id and a check of
		// what the last run reached against the floor.
		expansion := func(st store.Store, id store.ID, depthOnly bool) (run func() error, check func()) {
			var res store.TraversalResult
			return func() error {
					var err error
					res, err = st.Expand(ctx, store.Traversal{Start: []store.ID{id}, Rules: rules, MaxDepth: cfg.Depth, MaxNodes: store.MaxNodes, DepthOnly: depthOnly})
					return err
				}, func() {
					if problem := checkReached(res, wantDepths); problem != "" {
						row.Mismatch += " " + problem + ";"
					}
				}
		}
		expand := func(st store.Store, id store.ID, depthOnly bool) (time.Duration, error) {
			run, check := expansion(st, id, depthOnly)
			d, err := timeIt(run)
			if err != nil {
				return 0, fmt.Errorf("expand: %w", err)
			}
			check()
			return d, nil
		}
		if row.Embedded, err = expand(emb, embIDs[s.Index], false); err != nil {
			return nil, fmt.Errorf("embedded %s: %w", s.Label, err)
		}
		if row.EmbeddedRules, err = timeIt(func() error {
			_, err := emb.Expand(ctx, store.Traversal{Start: []store.ID{embIDs[s.Index]}, Rules: failureRules, MaxDepth: cfg.Depth, MaxNodes: store.MaxNodes})
			return err
		}); err != nil {
			return nil, fmt.Errorf("embedded %s, expand along the impact rules: %w", s.Label, err)
		}
		var embCounts, sumCounts impactCounts
		if row.EmbeddedImpact, embCounts, err = analyze(ctx, emb, model, embIDs[s.Index], cfg.Depth, cfg.ImpactTimeout, false); err != nil {
			return nil, fmt.Errorf("embedded %s, impact: %w", s.Label, err)
		}
		if row.EmbeddedSummary, sumCounts, err = analyze(ctx, emb, model, embIDs[s.Index], cfg.Depth, cfg.ImpactTimeout, true); err != nil {
			return nil, fmt.Errorf("embedded %s, impact summary: %w", s.Label, err)
		}
		if sumCounts != embCounts && row.EmbeddedSummary > 0 && row.EmbeddedImpact > 0 {
			row.Mismatch += fmt.Sprintf(" impact (down, at risk, reduced, degraded, truncated) %v summary only, %v listed;", sumCounts, embCounts)
		}
		row.Impacted, row.ImpactTruncated = embCounts.total(), embCounts.truncated
		if row.EmbeddedImpact < 0 {
			row.Impacted = -1 // not known
		}
		if neo != nil {
			if row.Neo4j, err = expand(neo, neoIDs[s.Index], false); err != nil {
				return nil, fmt.Errorf("neo4j %s: %w", s.Label, err)
			}
			// The depth-only traversal and the naive DISTINCT query (the
			// bound of issue 11) are timed alternating, so that the machine's
			// drift weighs on both alike.
			depthOnly, checkDepthOnly := expansion(neo, neoIDs[s.Index], true)
			if row.Neo4jDepthOnly, row.NaiveDistinct, err = naivePair(ctx, drv, cfg, naiveDistinct(cfg.Depth), neoIDs[s.Index], row.Reached, &row.Mismatch, depthOnly); err != nil {
				return nil, fmt.Errorf("neo4j %s, depth only: %w", s.Label, err)
			}
			checkDepthOnly()
			var neoCounts impactCounts
			if row.Neo4jImpact, neoCounts, err = analyze(ctx, neo, model, neoIDs[s.Index], cfg.Depth, cfg.ImpactTimeout, false); err != nil {
				return nil, fmt.Errorf("neo4j %s, impact: %w", s.Label, err)
			}
			if neoCounts != embCounts && row.Neo4jImpact > 0 && row.EmbeddedImpact > 0 {
				row.Mismatch += fmt.Sprintf(" impact (down, at risk, reduced, degraded, truncated) %v on Neo4j, %v embedded;", neoCounts, embCounts)
			}
			if row.NaivePaths, err = naive(ctx, drv, cfg, naivePaths(cfg.Depth), neoIDs[s.Index], row.Reached, &row.Mismatch); err != nil {
				return nil, fmt.Errorf("neo4j %s: %w", s.Label, err)
			}
		}
		logf("traversal %-14s reached %7d  floor %v  embedded %v  neo4j %v  neo4j-depth-only %v  naive-distinct %v  naive-paths %v  impact (%d CIs) embedded rules %v summary %v page %v  neo4j %v",
			s.Label, row.Reached, row.Floor, row.Embedded, row.Neo4j, row.Neo4jDepthOnly, row.NaiveDistinct, row.NaivePaths, row.Impacted, row.EmbeddedRules, row.EmbeddedSummary, row.EmbeddedImpact, row.Neo4jImpact)
		rep.Traversals = append(rep.Traversals, row)
	}

	if err := emb.Close(); err != nil {
		return nil, err
	}
	probe := cfg.OpenProbe
	if probe == nil {
		probe = OpenInProcess
	}
	st, err := probe(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("open probe: %w", err)
	}
	rep.Open = &st
	logf("embedded open: %v, resident %d MiB", st.OpenTime, st.RSSBytes>>20)
	return rep, nil
}

// emptyOrReset empties the Neo4j database with reset, and otherwise
// refuses one that holds CIs: a benchmark never deletes data unasked.
func emptyOrReset(ctx context.Context, neo *neo4jstore.Store, reset bool) error {
	if reset {
		if err := neo.Reset(ctx); err != nil {
			return fmt.Errorf("reset Neo4j: %w", err)
		}
		return nil
	}
	p, err := neo.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 1})
	if err != nil {
		return err
	}
	if p.Total > 0 {
		return fmt.Errorf("the Neo4j database holds %d CIs; benchmark an empty database or pass --reset", p.Total)
	}
	return nil
}

// PrepareNeo4j makes sure the Neo4j database of cfg is empty before a
// benchmark writes to it: with reset it deletes everything in it,
// otherwise a database holding CIs is an error.
func PrepareNeo4j(ctx context.Context, cfg neo4jstore.Config, reset bool) error {
	neo, err := neo4jstore.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open Neo4j: %w", err)
	}
	if err := emptyOrReset(ctx, neo, reset); err != nil {
		neo.Close()
		return err
	}
	return neo.Close()
}

// load upserts the estate's CIs (first half with one writer, second half
// with cfg.Writers) and then its relationships, returning each CI's ID by
// estate index.
func load(ctx context.Context, backend string, st store.Store, model *cmdb.Model, est *Estate, cfg Config, logf func(string, ...any)) ([]store.ID, []LoadRow, error) {
	svc, err := cmdb.NewService(ctx, st, model)
	if err != nil {
		return nil, nil, err
	}
	actor := store.Actor{Name: "bench", Source: "import"}
	ids := make([]store.ID, len(est.CIs))
	half := len(est.CIs) / 2
	var rows []LoadRow
	for _, phase := range []struct {
		from, to, writers int
	}{{0, half, 1}, {half, len(est.CIs), cfg.Writers}} {
		start := time.Now()
		err := parallel(phase.from, phase.to, cfg.BatchSize, phase.writers, func(lo, hi int) error {
			res, err := svc.Upsert(ctx, actor, est.CIs[lo:hi], false)
			if err != nil {
				return err
			}
			for i, r := range res {
				if r.Status != store.StatusCreated {
					return fmt.Errorf("CI %d: %s: %v", lo+i, r.Status, r.Err)
				}
				ids[lo+i] = r.Node.ID
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%s upsert: %w", backend, err)
		}
		row := LoadRow{Backend: backend, Phase: "identified CI upserts (creates)", Writers: phase.writers, Items: phase.to - phase.from, Duration: time.Since(start)}
		logf("%s: %d CIs with %d writer(s) in %v: %.0f CIs/s", backend, row.Items, row.Writers, row.Duration.Round(time.Millisecond), row.Rate())
		rows = append(rows, row)
	}
	// Re-upserting unchanged CIs: what a discovery agent does all day.
	n := min(len(est.CIs), 20*cfg.BatchSize)
	start := time.Now()
	err = parallel(0, n, cfg.BatchSize, cfg.Writers, func(lo, hi int) error {
		res, err := svc.Upsert(ctx, actor, est.CIs[lo:hi], false)
		if err != nil {
			return err
		}
		for i, r := range res {
			if r.Status != store.StatusUnchanged {
				return fmt.Errorf("CI %d re-upserted: %s: %v", lo+i, r.Status, r.Err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s re-upsert: %w", backend, err)
	}
	row := LoadRow{Backend: backend, Phase: "identified CI upserts (unchanged)", Writers: cfg.Writers, Items: n, Duration: time.Since(start)}
	logf("%s: re-upserted %d unchanged CIs with %d writers: %.0f CIs/s", backend, n, cfg.Writers, row.Rate())
	rows = append(rows, row)

	start = time.Now()
	const relBatch = 5000
	err = parallel(0, len(est.Edges), relBatch, 4, func(lo, hi int) error {
		in := make([]cmdb.RelationshipItem, 0, hi-lo)
		for _, e := range est.Edges[lo:hi] {
			in = append(in, cmdb.RelationshipItem{Type: e.Type, Source: ids[e.From], Target: ids[e.To]})
		}
		res, err := svc.CreateRelationships(ctx, actor, in, false)
		if err != nil {
			return err
		}
		for i, r := range res {
			if r.Status != store.StatusCreated {
				return fmt.Errorf("relationship %d: %s: %v", lo+i, r.Status, r.Err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s relationships: %w", backend, err)
	}
	row = LoadRow{Backend: backend, Phase: "relationships (validated creates)", Writers: 4, Items: len(est.Edges), Duration: time.Since(start)}
	logf("%s: %d relationships in %v: %.0f/s", backend, row.Items, row.Duration.Round(time.Millisecond), row.Rate())
	rows = append(rows, row)
	return ids, rows, nil
}

// checkReached compares a traversal's answer with the floor's: as many
// nodes at each depth (want, by depth, the start at 0), each reported
// once, each after its predecessor (when reported), which is one level
// nearer. It returns
// what is wrong, or "".
func checkReached(res store.TraversalResult, want []int) string {
	depthOf := make(map[store.ID]int, len(res.Nodes))
	var got []int
	for _, n := range res.Nodes {
		if _, dup := depthOf[n.ID]; dup {
			return fmt.Sprintf("store reported %s twice", n.ID)
		}
		if n.Depth > 0 && n.Via != "" { // a depth-only answer may leave Via out
			if d, ok := depthOf[n.Via]; !ok || d != n.Depth-1 {
				return fmt.Sprintf("store reached %s at depth %d through %s, not reported one level nearer", n.ID, n.Depth, n.Via)
			}
		}
		depthOf[n.ID] = n.Depth
		for len(got) <= n.Depth {
			got = append(got, 0)
		}
		got[n.Depth]++
	}
	if !slices.Equal(got, want) {
		return fmt.Sprintf("store reached %v by depth, the floor %v", got, want)
	}
	return ""
}

// parallel splits [from, to) into batches and runs fn on them with the
// given number of workers, stopping at the first error.
func parallel(from, to, batch, workers int, fn func(lo, hi int) error) error {
	next := make(chan [2]int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	stop := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				if err := fn(r[0], r[1]); err != nil {
					once.Do(func() { first = err; close(stop) })
					return
				}
			}
		}()
	}
loop:
	for lo := from; lo < to; lo += batch {
		select {
		case next <- [2]int{lo, min(lo+batch, to)}:
		case <-stop:
			break loop
		}
	}
	close(next)
	wg.Wait()
	return first
}

// impactCounts is an analysis's counts by effect (down, at risk,
// redundancy reduced, degraded) and whether the node budget cut it.
type impactCounts struct {
	byEffect  [4]int
	truncated bool
}

func (c impactCounts) total() int {
	return c.byEffect[0] + c.byEffect[1] + c.byEffect[2] + c.byEffect[3]
}

// analyze times an impact analysis from id as the API runs one for a
// query that selects counts, roll-ups and the first page of impacted CIs
// (not the whole ordered list), or counts and roll-ups only (summary),
// and returns its counts so that backends can be compared.
func analyze(ctx context.Context, st store.Store, model *cmdb.Model, id store.ID, depth int, limit time.Duration, summary bool) (time.Duration, impactCounts, error) {
	an := impact.New(st, func() *cmdb.Model { return model }, impact.Options{NodeBudget: store.MaxNodes, Timeout: limit})
	var counts impactCounts
	d, err := timeIt(func() error {
		res, err := an.Analyze(ctx, impact.Request{CIs: []store.ID{id}, MaxDepth: depth, Unordered: true, SummaryOnly: summary})
		if err != nil {
			return err
		}
		if !summary {
			if _, err := impact.Page(res.Impacted, impact.Order{Field: impact.ByDepth}, "", 50); err != nil {
				return err
			}
		}
		counts = impactCounts{[4]int{res.Down, res.AtRisk, res.RedundancyReduced, res.Degraded}, res.Truncated}
		return nil
	})
	var out *impact.TimeLimitError
	if errors.As(err, &out) {
		// What a client would get too: the table says so, and the run
		// goes on (at 1M CIs, Neo4j's analyses from the hubs do not
		// finish within the analyzer's minute).
		return -out.Limit, impactCounts{}, nil
	}
	return d, counts, err
}

// timeIt returns the median duration of fn over repeated runs (a warm-up
// run first, then until a second has passed or ten runs, and a fast fn
// until 200 ms have passed, at most 200 runs: ten runs of a query under a
// millisecond differ by more than two forms of it do), or the single
// run's duration when one run is slow; or fn's first error. It collects
// the heap first, so that no measurement pays for the garbage of the one
// before (a hub's impact analysis at 1M CIs leaves gigabytes, which made
// the next start's Expand up to five times slower).
func timeIt(fn func() error) (time.Duration, error) {
	d, err := timeRuns(fn)
	if err != nil {
		return 0, err
	}
	return d[0], nil
}

// timePair times a and b as timeIt times one, their runs alternating (a,
// b, a, b, …), and returns both medians: for two figures whose ratio is
// the question, a drift of the machine's speed during the measurement
// weighs on both alike.
func timePair(a, b func() error) (time.Duration, time.Duration, error) {
	d, err := timeRuns(a, b)
	if err != nil {
		return 0, 0, err
	}
	return d[0], d[1], nil
}

// timeRuns times each of fns as timeIt says, their runs in turn (a round
// runs each once), with the time budgets of timeIt for each: the median
// of each, or every first run when one of them is slow.
func timeRuns(fns ...func() error) ([]time.Duration, error) {
	runtime.GC()
	first := make([]time.Duration, len(fns))
	slow := false
	for i, fn := range fns {
		t0 := time.Now()
		if err := fn(); err != nil {
			return nil, err
		}
		first[i] = time.Since(t0)
		slow = slow || first[i] > 2*time.Second
	}
	if slow {
		return first, nil
	}
	n := time.Duration(len(fns))
	samples := make([][]time.Duration, len(fns))
	var total time.Duration
	for rounds := 0; rounds < 10 && (total < n*time.Second || rounds < 3) || rounds < 200 && total < n*200*time.Millisecond; rounds++ {
		for i, fn := range fns {
			t := time.Now()
			if err := fn(); err != nil {
				return nil, err
			}
			d := time.Since(t)
			samples[i] = append(samples[i], d)
			total += d
		}
	}
	out := make([]time.Duration, len(fns))
	for i := range samples {
		slices.Sort(samples[i])
		out[i] = samples[i][len(samples[i])/2]
	}
	return out, nil
}

func typeAlternation() string { return strings.Join(DependentTypes, "|") }

// The naive queries: what a newcomer to Cypher writes. Relationship types
// come from the constant list above, never from input.
func naiveDistinct(depth int) string {
	return fmt.Sprintf("MATCH (s:CI {id: $id})<-[:%s*1..%d]-(x:CI) RETURN DISTINCT x.id AS id", typeAlternation(), depth)
}

func naivePaths(depth int) string {
	return fmt.Sprintf("MATCH p = (s:CI {id: $id})<-[:%s*1..%d]-(x:CI) WITH x, p ORDER BY length(p) "+
		"WITH x, head(collect(p)) AS p RETURN x.id AS id, length(p) AS depth, [n IN nodes(p) | n.id] AS path", typeAlternation(), depth)
}

// naive times a naive query; a timeout is reported as a negative
// duration, any other failure as an error.
func naive(ctx context.Context, drv neo4j.DriverWithContext, cfg Config, query string, id store.ID, want int, mismatch *string) (time.Duration, error) {
	_, d, err := naivePair(ctx, drv, cfg, query, id, want, mismatch, nil)
	return d, err
}

// naivePair times a naive query as naive does and, unless other is nil,
// other beside it, their runs alternating (timePair); when the naive query
// times out, other is timed alone.
func naivePair(ctx context.Context, drv neo4j.DriverWithContext, cfg Config, query string, id store.ID, want int, mismatch *string, other func() error) (time.Duration, time.Duration, error) {
	// Sent the way the store sends its one-statement reads (ExecuteQuery,
	// readers routing, no bookmarks): a session and managed transaction
	// cost about 50 µs more a query here, which would flatter the store
	// on small traversals.
	run := func() (int, error) {
		qctx, cancel := context.WithTimeout(ctx, cfg.NaiveTimeout)
		defer cancel()
		res, err := neo4j.ExecuteQuery(qctx, drv, query, map[string]any{"id": string(id)}, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase(cfg.Neo4j.Database), neo4j.ExecuteQueryWithReadersRouting(), neo4j.ExecuteQueryWithoutBookmarkManager(),
			neo4j.ExecuteQueryWithTransactionConfig(neo4j.WithTxTimeout(cfg.NaiveTimeout)))
		if err != nil {
			return 0, err
		}
		return len(res.Records), nil
	}
	var got int
	var qerr error // the naive query's, as against other's
	query1 := func() error {
		got, qerr = run()
		return qerr
	}
	var do, d time.Duration
	var err error
	if other == nil {
		d, err = timeIt(query1)
	} else if do, d, err = timePair(other, query1); err != nil && qerr == nil {
		return 0, 0, err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTxTimeout(err):
		if other != nil {
			if do, err = timeIt(other); err != nil {
				return 0, 0, err
			}
		}
		return do, -cfg.NaiveTimeout, nil
	case err != nil:
		return 0, 0, fmt.Errorf("naive query: %w", err)
	}
	if got != want {
		*mismatch += fmt.Sprintf(" naive reached %d;", got)
	}
	return do, d, nil
}

// isTxTimeout reports Neo4j's own transaction timeout.
func isTxTimeout(err error) bool {
	var ne *neo4j.Neo4jError
	return errors.As(err, &ne) && strings.Contains(ne.Code, "TransactionTimedOut")
}

func serverVersion(ctx context.Context, drv neo4j.DriverWithContext, db string) string {
	res, err := neo4j.ExecuteQuery(ctx, drv, "CALL dbms.components() YIELD name, versions, edition RETURN name + ' ' + versions[0] + ' ' + edition AS v",
		nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(db))
	if err != nil || len(res.Records) == 0 {
		return "unknown"
	}
	v, _ := res.Records[0].Get("v")
	s, _ := v.(string)
	return s
}

// OpenInProcess opens the embedded store at dir in this process and
// reports the time and this process's resident memory afterwards.
func OpenInProcess(ctx context.Context, dir string) (OpenStats, error) {
	runtime.GC()
	t := time.Now()
	s, err := embedded.Open(ctx, dir, embedded.Options{})
	if err != nil {
		return OpenStats{}, err
	}
	d := time.Since(t)
	// Touch the traversal index so it is resident, as it is in service.
	if _, err := s.Expand(ctx, store.Traversal{Start: []store.ID{"none"}, Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 1, MaxNodes: 1}); err != nil {
		s.Close()
		return OpenStats{}, err
	}
	runtime.GC()
	rss := ResidentBytes()
	runtime.KeepAlive(s)
	return OpenStats{OpenTime: d, RSSBytes: rss}, s.Close()
}

// ResidentBytes returns this process's resident memory in bytes (Linux), or -1.
func ResidentBytes() int64 { return procStatus("VmRSS:") }

// procStatus returns the memory figure of /proc/self/status named by key
// (such as "VmRSS:"), in bytes, or -1.
func procStatus(key string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb << 10
		}
	}
	return -1
}

// Machine describes where a benchmark ran: the Go version and the
// processor, with the number of CPUs.
func Machine() string { return runtime.Version() + ", " + cpuModel() }

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "model name"); ok {
			return fmt.Sprintf("%s × %d", strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(rest), ":")), runtime.NumCPU())
		}
	}
	return runtime.GOARCH
}

// Markdown writes the report as tables.
func (r *Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "Estate: %d CIs, %d relationships (%.2f per CI). %s, %s", r.CIs, r.Relationships, float64(r.Relationships)/float64(r.CIs), r.Go, r.CPU)
	if r.Neo4jVersion != "" {
		fmt.Fprintf(w, ", %s", r.Neo4jVersion)
	}
	fmt.Fprintf(w, ".\n\n")
	fmt.Fprintf(w, "| backend | operation | writers | items | time | items/s |\n|---|---|---:|---:|---:|---:|\n")
	for _, l := range r.Load {
		fmt.Fprintf(w, "| %s | %s | %d | %d | %s | %.0f |\n", l.Backend, l.Phase, l.Writers, l.Items, l.Duration.Round(time.Millisecond), l.Rate())
	}
	fmt.Fprintf(w, "\nTraversal: everything that depends on the start CI, transitively (%s, incoming, depth 8); median time per query, and its ratio to the floor.\n\n", strings.Join(DependentTypes, ", "))
	fmt.Fprintf(w, "| start CI | reached | floor (CSR BFS) | embedded Expand | Neo4j level-by-level | Neo4j one statement, depth only | naive Cypher DISTINCT | naive Cypher depth+path | impacted | embedded Expand, impact rules | embedded impact, summary only | embedded impact, summary + page | Neo4j impact, summary + page |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	rows := append([]TraversalRow(nil), r.Traversals...)
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Reached > rows[j].Reached })
	for _, t := range rows {
		impacted := fmt.Sprint(t.Impacted)
		if t.Impacted < 0 {
			impacted = "–"
		}
		if t.ImpactTruncated {
			impacted += " (cut at the node budget)"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t.Label, t.Reached, dur(t.Floor),
			ratio(t.Embedded, t.Floor), ratio(t.Neo4j, t.Floor), ratio(t.Neo4jDepthOnly, t.Floor), ratio(t.NaiveDistinct, t.Floor), ratio(t.NaivePaths, t.Floor),
			impacted, dur(t.EmbeddedRules), ratioTo(t.EmbeddedSummary, t.EmbeddedRules, "rules"),
			ratioTo(t.EmbeddedImpact, t.Embedded, "Expand"), ratioTo(t.Neo4jImpact, t.NaiveDistinct, "DISTINCT"))
	}
	var mism []string
	for _, t := range rows {
		if t.Mismatch != "" {
			mism = append(mism, t.Label+":"+t.Mismatch)
		}
	}
	if len(mism) > 0 {
		fmt.Fprintf(w, "\nDisagreements with the floor: %s\n", strings.Join(mism, " "))
	}
	if r.Open != nil {
		fmt.Fprintf(w, "\nEmbedded store reopened in a fresh process: open (schema check, adjacency index build) %s, resident memory afterwards %d MiB.\n",
			r.Open.OpenTime.Round(time.Millisecond), r.Open.RSSBytes>>20)
	}
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "–"
	case d < 0:
		return fmt.Sprintf("timeout (> %s)", (-d).Round(time.Second))
	case d < time.Millisecond:
		return fmt.Sprintf("%.3f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// ratioTo writes d with its ratio to another column's time (named).
func ratioTo(d, base time.Duration, name string) string {
	if d <= 0 || base <= 0 {
		return dur(d)
	}
	return fmt.Sprintf("%s (%.1f× %s)", dur(d), float64(d)/float64(base), name)
}

func ratio(d, floor time.Duration) string {
	if d <= 0 || floor <= 0 {
		return dur(d)
	}
	return fmt.Sprintf("%s (%.1f×)", dur(d), float64(d)/float64(floor))
}

// LoadEstate loads an estate into st through cmdb.Service (as the API
// would) and returns each CI's ID by estate index.
func LoadEstate(ctx context.Context, st store.Store, est *Estate) ([]store.ID, error) {
	model, err := cmdb.DefaultModel()
	if err != nil {
		return nil, err
	}
	ids, _, err := load(ctx, "load", st, model, est, Config{BatchSize: 1000, Writers: 4}, func(string, ...any) {})
	return ids, err
}
