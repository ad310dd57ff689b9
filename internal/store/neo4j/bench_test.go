package neo4j

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/storetest"
)

const benchBatch = 1000

func benchItems(offset, n int) []store.CIUpsert {
	items := make([]store.CIUpsert, n)
	for i := range items {
		id := offset + i
		name := fmt.Sprintf("host%07d", id)
		items[i] = store.CIUpsert{
			Class: "LinuxServer",
			Attributes: store.Attributes{
				"name": name, "dns_domain": "dc1.example.com", "serial_number": fmt.Sprintf("SN%07d", id),
				"environment": "production", "owner": "ops", "support_group": "unix", "status": "live",
				"cpu_count": int64(id%64 + 1), "memory_gb": float64(id%512) + 0.5, "tags": []string{"bulk", "web"},
				"installed_at": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			},
			Keys: []string{"Server|serial_number|SN" + fmt.Sprint(id), "Server|name+dns_domain|" + name + "\x1fdc1.example.com"},
		}
	}
	return items
}

// BenchmarkUpsert measures batch upserts of 1000 CIs (two identity keys and
// eleven attributes each): "create" makes new CIs, "unchanged" reports
// existing ones again (identification, last-seen refresh, no audit).
func BenchmarkUpsert(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	// Warm the server up (query planning, JIT) before measuring.
	for i := 0; i < 10; i++ {
		if _, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(900_000_000+i*benchBatch, benchBatch), Reconcile: reconcile}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("create", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			res, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(n, benchBatch), Reconcile: reconcile})
			if err != nil {
				b.Fatal(err)
			}
			if res[0].Status != store.StatusCreated {
				b.Fatalf("status %s %v", res[0].Status, res[0].Err)
			}
			n += benchBatch
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cis/s")
	})
	// Several writers with disjoint batches at once, as several discovery
	// sources would: Neo4j runs each transaction on one thread.
	for _, writers := range []int{2, 4} {
		b.Run(fmt.Sprintf("create-%dwriters", writers), func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			base := 100_000_000 * writers
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func(off int) {
						defer wg.Done()
						_, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(off, benchBatch), Reconcile: reconcile})
						errs <- err
					}(base + n + w*benchBatch)
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
				n += writers * benchBatch
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cis/s")
		})
	}
	b.Run("unchanged", func(b *testing.B) {
		if _, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(0, benchBatch), Reconcile: reconcile}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			res, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(0, benchBatch), Reconcile: reconcile})
			if err != nil {
				b.Fatal(err)
			}
			if res[0].Status != store.StatusUnchanged {
				b.Fatalf("status %s %v", res[0].Status, res[0].Err)
			}
			n += benchBatch
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cis/s")
	})
}

// BenchmarkExpand measures traversals on a random graph of 20,000 CIs and
// 60,000 relationships of three types: impact-style expansions (depth 4,
// 5,000-node budget, DEPENDS_ON and RUNS_ON inwards) and shortest paths
// (Cypher for one direction, the bidirectional search for mixed rules).
func BenchmarkExpand(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	const n, m = 20000, 60000
	ids := make([]store.ID, 0, n)
	for off := 0; off < n; off += benchBatch {
		res, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(off, benchBatch), Reconcile: reconcile})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.Node.ID)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"DEPENDS_ON", "RUNS_ON", "CONNECTS_TO"}
	seen := map[store.ID]bool{}
	var rels []store.RelationshipInput
	for len(rels) < m {
		in := store.RelationshipInput{Type: types[rng.IntN(len(types))], Source: ids[rng.IntN(n)], Target: ids[rng.IntN(n)]}
		k := store.RelationshipKey{Source: in.Source, Type: in.Type, Target: in.Target}.ID()
		if in.Source == in.Target || seen[k] {
			continue
		}
		seen[k] = true
		rels = append(rels, in)
	}
	for off := 0; off < m; off += 5000 {
		if _, err := s.CreateRelationships(ctx, testActor, rels[off:off+5000], false); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Depth4", func(b *testing.B) {
		rules := []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}, {Type: "RUNS_ON", Dir: store.In}}
		b.ReportAllocs()
		reached, ops := 0, 0
		for b.Loop() {
			res, err := s.Expand(ctx, store.Traversal{Start: []store.ID{ids[rng.IntN(n)]}, Rules: rules, MaxDepth: 4, MaxNodes: 5000})
			if err != nil {
				b.Fatal(err)
			}
			reached += len(res.Nodes)
			ops++
		}
		b.ReportMetric(float64(reached)/float64(ops), "nodes/op")
		b.ReportMetric(float64(reached)/b.Elapsed().Seconds(), "nodes/s")
	})
	b.Run("ShortestPath", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := s.ShortestPath(ctx, ids[rng.IntN(n)], ids[rng.IntN(n)], []store.EdgeRule{{Dir: store.Both}}, 8)
			if err != nil && !isNotFound(err) {
				b.Fatal(err)
			}
		}
	})
	b.Run("ShortestPathMixed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, err := s.ShortestPath(ctx, ids[rng.IntN(n)], ids[rng.IntN(n)],
				[]store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}, {Type: "RUNS_ON", Dir: store.In}, {Type: "CONNECTS_TO", Dir: store.Both}}, 8)
			if err != nil && !isNotFound(err) {
				b.Fatal(err)
			}
		}
	})
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// BenchmarkHubPage: the first page of a hub's relationships (20,000
// dependants), paged in the store against read whole and paged in Go.
func BenchmarkHubPage(b *testing.B) {
	storetest.HubPageBench(b, newTestStore(b), 20_000)
}

// BenchmarkSearch: a free-text search against a name-prefix filter (5,000
// CIs).
func BenchmarkSearch(b *testing.B) {
	storetest.SearchBench(b, newTestStore(b), 5_000)
}

// BenchmarkListQuery: filter expressions, sorts, cursor and offset pages
// (storetest.ListQueryBench) over 20,000 CIs.
func BenchmarkListQuery(b *testing.B) {
	storetest.ListQueryBench(b, newTestStore(b), 20_000)
}
