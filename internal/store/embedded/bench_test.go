package embedded

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/storetest"
)

var benchSeq atomic.Int64

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// meter reports throughput per wall second and per CPU second (the latter
// is steadier on a shared machine).
type meter struct {
	wall time.Time
	cpu  time.Duration
}

func startMeter() meter { return meter{wall: time.Now(), cpu: cpuTime()} }

func (m meter) report(b *testing.B, n int, unit string) {
	b.ReportMetric(float64(n)/time.Since(m.wall).Seconds(), unit+"/s")
	b.ReportMetric(float64(n)/(cpuTime()-m.cpu).Seconds(), unit+"/cpu-s")
}

// benchItems makes n new CIs with 3 identity keys and typical attributes.
func benchItems(n int) []store.CIUpsert {
	items := make([]store.CIUpsert, n)
	for i := range items {
		k := benchSeq.Add(1)
		name := fmt.Sprintf("host%08d", k)
		items[i] = store.CIUpsert{
			Class: "LinuxServer",
			Attributes: store.Attributes{
				"name": name, "dns_domain": "dc1.example.com", "serial_number": fmt.Sprintf("SN%010d", k),
				"status": "live", "environment": "production", "owner": "ops", "support_group": "unix",
				"cpu_count": int64(k%64 + 1), "memory_mb": int64(16384), "os_version": "6.1.0-13",
				"tags": []string{"bench", "web"},
			},
			Keys: []string{
				"Server|serial_number|SN" + strconv.FormatInt(k, 10),
				"Server|name+dns_domain|" + name + "\x1fdc1.example.com",
				"Server|mac|" + strconv.FormatInt(k, 16),
			},
		}
	}
	return items
}

func benchOpen(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := Open(b.Context(), b.TempDir(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkUpsert measures batched identified upserts (batches of 1000
// items with 3 identity keys each): creates, unchanged re-reports,
// updates, and 8 concurrent writers of 125-item batches sharing commits.
func BenchmarkUpsert(b *testing.B) {
	const batch = 1000
	for _, mode := range []string{"FULL", "NORMAL"} {
		s := benchOpen(b, Options{Synchronous: mode})
		actor := store.Actor{Name: "bench", Source: "ansible"}
		run := func(b *testing.B, items []store.CIUpsert, want store.Status) {
			res, err := s.UpsertNodes(b.Context(), actor, store.UpsertBatch{Items: items, Reconcile: reconcile})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Status != want {
					b.Fatalf("status %s, want %s: %v", r.Status, want, r.Err)
				}
			}
		}
		b.Run("create/sync="+mode, func(b *testing.B) {
			b.ReportAllocs()
			batches := make([][]store.CIUpsert, b.N)
			for i := range batches {
				batches[i] = benchItems(batch)
			}
			b.ResetTimer()
			m := startMeter()
			for i := 0; i < b.N; i++ {
				run(b, batches[i], store.StatusCreated)
			}
			m.report(b, b.N*batch, "cis")
		})
		existing := benchItems(batch)
		run(b, existing, store.StatusCreated)
		b.Run("unchanged/sync="+mode, func(b *testing.B) {
			b.ReportAllocs()
			m := startMeter()
			for i := 0; i < b.N; i++ {
				run(b, existing, store.StatusUnchanged)
			}
			m.report(b, b.N*batch, "cis")
		})
		b.Run("update/sync="+mode, func(b *testing.B) {
			b.ReportAllocs()
			m := startMeter()
			for i := 0; i < b.N; i++ {
				benchSeq.Add(1)
				for _, it := range existing {
					it.Attributes["os_version"] = fmt.Sprint("v", benchSeq.Load())
				}
				run(b, existing, store.StatusUpdated)
			}
			m.report(b, b.N*batch, "cis")
		})
		b.Run("create-8-writers/sync="+mode, func(b *testing.B) {
			const writers, small = 8, 125
			b.ReportAllocs()
			batches := make([][]store.CIUpsert, b.N*writers)
			for i := range batches {
				batches[i] = benchItems(small)
			}
			b.ResetTimer()
			m := startMeter()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := w; i < len(batches); i += writers {
						run(b, batches[i], store.StatusCreated)
					}
				}(w)
			}
			wg.Wait()
			m.report(b, len(batches)*small, "cis")
		})
	}
}

// benchGraph is a random graph for the traversal benchmarks: nodes CIs
// with outDegree random out-edges each over 4 types.
type benchGraph struct {
	s     *Store
	ids   []store.ID
	edges []tedge
}

func benchSize(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func newBenchGraph(b *testing.B) *benchGraph {
	n := benchSize("SKEIN_BENCH_NODES", 50_000)
	deg := benchSize("SKEIN_BENCH_DEGREE", 5)
	s := benchOpen(b, Options{Synchronous: "NORMAL"})
	start := time.Now()
	ids := make([]store.ID, 0, n)
	for len(ids) < n {
		items := benchItems(min(1000, n-len(ids)))
		res, err := s.UpsertNodes(b.Context(), store.Actor{Source: "bench"}, store.UpsertBatch{Items: items, Reconcile: reconcile})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.Node.ID)
		}
	}
	created := time.Since(start)
	rng := rand.New(rand.NewPCG(42, 42))
	types := []string{"DEPENDS_ON", "RUNS_ON", "HOSTED_ON", "CONNECTS_TO"}
	seen := make(map[[3]int32]bool, n*deg)
	edges := make([]tedge, 0, n*deg)
	for len(edges) < n*deg {
		a, c, ty := rng.IntN(n), rng.IntN(n), rng.IntN(len(types))
		if a == c || seen[[3]int32{int32(a), int32(c), int32(ty)}] {
			continue
		}
		seen[[3]int32{int32(a), int32(c), int32(ty)}] = true
		edges = append(edges, tedge{a, c, types[ty]})
	}
	start = time.Now()
	for i := 0; i < len(edges); i += 1000 {
		in := make([]store.RelationshipInput, 0, 1000)
		for _, e := range edges[i:min(len(edges), i+1000)] {
			in = append(in, store.RelationshipInput{Type: e.typ, Source: ids[e.from], Target: ids[e.to]})
		}
		if _, err := s.CreateRelationships(b.Context(), store.Actor{Source: "bench"}, in, false); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("graph: %d CIs in %v (%.0f/s), %d relationships in %v (%.0f/s)", n, created.Round(time.Millisecond), float64(n)/created.Seconds(),
		len(edges), time.Since(start).Round(time.Millisecond), float64(len(edges))/time.Since(start).Seconds())
	return &benchGraph{s: s, ids: ids, edges: edges}
}

// BenchmarkExpand measures Expand on the adjacency index against a plain
// CSR breadth-first search over the same graph (ints only, no result
// materialisation): "full" follows out-edges of every type as far as they
// go, "impact" is a bounded 3-hop query in both directions.
func BenchmarkExpand(b *testing.B) {
	bg := newBenchGraph(b)
	n := len(bg.ids)
	// Plain CSR of the same graph, by index.
	plainOff := make([]int32, n+1)
	for _, e := range bg.edges {
		plainOff[e.from+1]++
	}
	for i := 1; i <= n; i++ {
		plainOff[i] += plainOff[i-1]
	}
	plainAdj := make([]int32, len(bg.edges))
	pos := append([]int32(nil), plainOff[:n]...)
	for _, e := range bg.edges {
		plainAdj[pos[e.from]] = int32(e.to)
		pos[e.from]++
	}
	starts := make([]int, 64)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range starts {
		starts[i] = rng.IntN(n)
	}
	for _, tc := range []struct {
		name     string
		rules    []store.EdgeRule
		depth    int
		maxNodes int
	}{
		{"full", []store.EdgeRule{{Dir: store.Out}}, store.MaxDepth, store.MaxNodes},
		{"impact", []store.EdgeRule{{Dir: store.Both}}, 3, 1000},
	} {
		var reached int
		b.Run(tc.name+"/store", func(b *testing.B) {
			b.ReportAllocs()
			reached = 0
			for i := 0; i < b.N; i++ {
				res, err := bg.s.Expand(b.Context(), store.Traversal{Start: []store.ID{bg.ids[starts[i%len(starts)]]}, Rules: tc.rules, MaxDepth: tc.depth, MaxNodes: tc.maxNodes})
				if err != nil {
					b.Fatal(err)
				}
				reached += len(res.Nodes)
			}
			b.ReportMetric(float64(reached)/float64(b.N), "nodes/op")
			b.ReportMetric(float64(reached)/b.Elapsed().Seconds(), "nodes/s")
		})
		if tc.name != "full" {
			continue
		}
		// The index's breadth-first search alone, without building the
		// result (ids and relationship ids as strings).
		b.Run(tc.name+"/store-bfs-only", func(b *testing.B) {
			b.ReportAllocs()
			reached = 0
			g := bg.s.g
			for i := 0; i < b.N; i++ {
				g.mu.RLock()
				slot, _ := g.lookup(bg.ids[starts[i%len(starts)]])
				bs := &bfs{g: g, m: g.compileRules(tc.rules), maxNodes: tc.maxNodes, target: -1, found: -1}
				bs.vis = g.getVisits(len(g.uids))
				bs.vis.stamp[slot] = bs.vis.epoch
				bs.hits = append(make([]hit, 0, g.nodes), hit{node: slot, parent: -1})
				if err := bs.run(b.Context(), tc.depth); err != nil {
					b.Fatal(err)
				}
				g.mu.RUnlock()
				g.visits.Put(bs.vis)
				reached += len(bs.hits)
			}
			b.ReportMetric(float64(reached)/float64(b.N), "nodes/op")
			b.ReportMetric(float64(reached)/b.Elapsed().Seconds(), "nodes/s")
		})
		// A plain CSR search that also builds the same result from ids kept
		// as strings: the work Expand does, without the store around it.
		b.Run(tc.name+"/plain-csr-with-result", func(b *testing.B) {
			b.ReportAllocs()
			seen := make([]uint32, n)
			typeOf := make([]string, len(bg.edges))
			for i, e := range bg.edges {
				typeOf[i] = e.typ
			}
			edgeAt := make([]int32, len(bg.edges)) // CSR position -> edge index
			pos := append([]int32(nil), plainOff[:n]...)
			for i, e := range bg.edges {
				edgeAt[pos[e.from]] = int32(i)
				pos[e.from]++
			}
			reached = 0
			for i := 0; i < b.N; i++ {
				epoch := uint32(i + 1)
				s := int32(starts[i%len(starts)])
				seen[s] = epoch
				out := []store.Reached{{ID: bg.ids[s]}}
				queue := []int32{s}
				for qi := 0; qi < len(queue); qi++ {
					u := queue[qi]
					if out[qi].Depth >= tc.depth {
						break
					}
					for p := plainOff[u]; p < plainOff[u+1]; p++ {
						v := plainAdj[p]
						if seen[v] == epoch {
							continue
						}
						seen[v] = epoch
						queue = append(queue, v)
						typ := typeOf[edgeAt[p]]
						out = append(out, store.Reached{ID: bg.ids[v], Depth: out[qi].Depth + 1, Via: bg.ids[u], Type: typ, Forward: true})
					}
				}
				reached += len(out)
			}
			b.ReportMetric(float64(reached)/float64(b.N), "nodes/op")
			b.ReportMetric(float64(reached)/b.Elapsed().Seconds(), "nodes/s")
		})
		b.Run(tc.name+"/plain-csr", func(b *testing.B) {
			b.ReportAllocs()
			seen := make([]uint32, n)
			parent := make([]int32, n)
			queue := make([]int32, 0, n)
			reached = 0
			for i := 0; i < b.N; i++ {
				epoch := uint32(i + 1)
				s := int32(starts[i%len(starts)])
				queue = append(queue[:0], s)
				seen[s] = epoch
				depth := []int32{0}
				for qi := 0; qi < len(queue); qi++ {
					u := queue[qi]
					if depth[qi] >= int32(tc.depth) {
						break
					}
					for _, v := range plainAdj[plainOff[u]:plainOff[u+1]] {
						if seen[v] != epoch {
							seen[v] = epoch
							parent[v] = u
							queue = append(queue, v)
							depth = append(depth, depth[qi]+1)
						}
					}
				}
				reached += len(queue)
			}
			b.ReportMetric(float64(reached)/float64(b.N), "nodes/op")
			b.ReportMetric(float64(reached)/b.Elapsed().Seconds(), "nodes/s")
		})
	}
}

// BenchmarkOpenLarge (set SKEIN_BENCH_LARGE=1; run with -benchtime 1x)
// fills a store with SKEIN_BENCH_NODES CIs (default 1,000,000) and five
// times as many relationships straight through SQL, reopens it and reports
// the time to open (index build included), the resident memory after open
// and after a full traversal, and the heap.
func BenchmarkOpenLarge(b *testing.B) {
	if os.Getenv("SKEIN_BENCH_LARGE") == "" {
		b.Skip("set SKEIN_BENCH_LARGE=1")
	}
	n := benchSize("SKEIN_BENCH_NODES", 1_000_000)
	dir := b.TempDir()
	s, err := Open(b.Context(), dir, Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	c := s.w.conn // the writer goroutine is idle
	for _, q := range []string{
		"BEGIN",
		`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM seq WHERE i < ?1)
		INSERT INTO cis(id, uid, class, name, status, environment, owner, support_group, attrs, keys, sources, seen_by, created_at, updated_at, last_seen_at)
		SELECT i, printf('%08x-0000-7000-8000-%012x', i, i), 'LinuxServer', printf('host%d', i), 'live', 'production', 'ops', 'unix',
			printf('{"environment":"production","name":"host%d","owner":"ops","status":"live","support_group":"unix","cpu_count":%d}', i, i % 64),
			printf('["Server|name|host%d"]', i), '{"name":"bench"}', '{"bench":1}', 1, 1, 1 FROM seq`,
		`INSERT INTO identity_keys(key, ci) SELECT printf('Server|name|host%d', id), id FROM cis`,
		`INSERT INTO rel_types(id, name) VALUES (1, 'DEPENDS_ON'), (2, 'RUNS_ON'), (3, 'HOSTED_ON'), (4, 'CONNECTS_TO')`,
		`WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM seq WHERE i < ?1 * 5)
		INSERT OR IGNORE INTO relationships(src, type, dst, attrs, created_at, updated_at)
		SELECT abs(random()) % ?1 + 1, abs(random()) % 4 + 1, abs(random()) % ?1 + 1, '{}', 1, 1 FROM seq`,
		"DELETE FROM relationships WHERE src = dst",
		"COMMIT",
	} {
		if _, err := c.ExecContext(b.Context(), q, n); err != nil {
			b.Fatal(err)
		}
	}
	var rels int
	if err := c.QueryRowContext(b.Context(), "SELECT count(*) FROM relationships").Scan(&rels); err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d CIs, %d relationships in %v", n, rels, time.Since(start).Round(time.Second))
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	b.ResetTimer()
	start = time.Now()
	s, err = Open(b.Context(), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	opened := time.Since(start)
	rssOpen := rssMiB()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	start = time.Now()
	res, err := s.Expand(b.Context(), store.Traversal{Start: []store.ID{store.ID(fmt.Sprintf("%08x-0000-7000-8000-%012x", 1, 1))},
		Rules: []store.EdgeRule{{Dir: store.Both}}, MaxDepth: store.MaxDepth, MaxNodes: store.MaxNodes})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("open %v (index of %d nodes, %d edges); rss %d MiB, heap in use %d MiB; expand of %d nodes %v; rss after %d MiB",
		opened.Round(time.Millisecond), s.g.nodes, s.g.nedges, rssOpen, ms.HeapInuse>>20, len(res.Nodes), time.Since(start).Round(time.Millisecond), rssMiB())
	b.ReportMetric(opened.Seconds(), "open-s")
	b.ReportMetric(float64(rssOpen), "rss-MiB")
}

// rssMiB is the process's resident set size.
func rssMiB() int {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb >> 10
		}
	}
	return 0
}

// BenchmarkHubPage: the first page of a hub's relationships, paged in the
// store against read whole and paged in Go (SKEIN_BENCH_HUB dependants,
// default 20,000).
func BenchmarkHubPage(b *testing.B) {
	storetest.HubPageBench(b, benchOpen(b, Options{Synchronous: "NORMAL"}), benchSize("SKEIN_BENCH_HUB", 20_000))
}

// BenchmarkListNamePrefix pages through CIs with a name prefix that most
// of them share (SKEIN_BENCH_NODES CIs, default 200,000; 85% match), the
// filter applied through the name index and sorted (baseline), or while
// walking the uid index (what ListCIs chooses for such a filter). One op
// is one page of 100 taken at a random point of the walk.
func BenchmarkListNamePrefix(b *testing.B) {
	n := benchSize("SKEIN_BENCH_NODES", 200_000)
	s := benchOpen(b, Options{Synchronous: "NORMAL"})
	for start := 0; start < n; start += 1000 {
		items := benchItems(min(1000, n-start))
		for i := range items {
			prefix := "bulk-"
			if (start+i)%7 == 0 {
				prefix = "other-"
			}
			items[i].Attributes["name"] = fmt.Sprintf("%s%08d", prefix, start+i)
		}
		if _, err := s.UpsertNodes(b.Context(), store.Actor{Source: "bench"}, store.UpsertBatch{Items: items, Reconcile: reconcile}); err != nil {
			b.Fatal(err)
		}
	}
	f := store.NodeFilter{Kind: store.KindCI, NamePrefix: "bulk-"}
	// Cursors spread over the walk, from a pass of large pages.
	var cursors []string
	p := store.PageRequest{First: 1000}
	for {
		page, err := s.listCIs(b.Context(), f, p, routeUID)
		if err != nil {
			b.Fatal(err)
		}
		cursors = append(cursors, page.EndCursor)
		if !page.HasNext {
			break
		}
		p.After = page.EndCursor
	}
	for _, r := range []struct {
		name  string
		route listRoute
	}{{"name-index", routeIndex}, {"uid-walk", routeUID}} {
		// The default ignores case (through the folded-name index or
		// skein_fold1 on the walk); case-sensitive is the plain column.
		for _, c := range []struct {
			name  string
			exact bool
		}{{"ignore-case", false}, {"case-sensitive", true}} {
			f := f
			f.CaseSensitive = c.exact
			b.Run(r.name+"/"+c.name, func(b *testing.B) {
				i := 0
				for b.Loop() {
					page, err := s.listCIs(b.Context(), f, store.PageRequest{First: 100, After: cursors[i%len(cursors)]}, r.route)
					if err != nil || (len(page.Items) == 0 && page.HasNext) {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkSearch: a free-text search against a name-prefix filter
// (SKEIN_BENCH_SEARCH CIs, default 5,000).
func BenchmarkSearch(b *testing.B) {
	storetest.SearchBench(b, benchOpen(b, Options{Synchronous: "NORMAL"}), benchSize("SKEIN_BENCH_SEARCH", 5_000))
}

// BenchmarkRecordConflicts records a batch of 1000 identity conflicts (500
// pairs, each reported twice), as a discovery batch full of conflicts
// does.
func BenchmarkRecordConflicts(b *testing.B) {
	s := benchOpen(b, Options{Synchronous: "NORMAL"})
	cs := make([]store.IdentityConflict, 0, 1000)
	for i := range 500 {
		p := store.ConflictPair(store.NewID(), store.NewID())
		cs = append(cs, store.IdentityConflict{CIs: p, Class: "Server", Source: "bench"}, store.IdentityConflict{CIs: p, Class: "Server", Source: "bench", Count: i})
	}
	b.ResetTimer()
	for b.Loop() {
		if err := s.RecordConflicts(b.Context(), cs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListQuery: filter expressions, sorts, cursor and offset pages
// (storetest.ListQueryBench) over SKEIN_BENCH_NODES CIs (default 100,000).
func BenchmarkListQuery(b *testing.B) {
	storetest.ListQueryBench(b, benchOpen(b, Options{Synchronous: "NORMAL"}), benchSize("SKEIN_BENCH_NODES", 100_000))
}
