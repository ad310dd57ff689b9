package neo4j

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

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

// BenchmarkUpsertParts splits what creating identified CIs costs Neo4j:
// batches of 1,000 new CIs (benchItems: two identity keys each) planned as
// UpsertNodes plans them (outside the timer), then written in one
// transaction each by the store's own statements with parts left out:
// "nodes" creates the CI nodes only (qCreateNodes, no keys), "+audit" adds
// their audit records (qAudit), "+keys" claims their identity keys first
// and links them (qClaimKeys, qCreateNodes with keys), "+keys+audit" writes
// all of it, as an identified create does; "upsert" is UpsertNodes itself
// (planning and key-owner reads included). What a part costs is the
// difference between two rows: what a change of the data model (fewer
// nodes per identified CI) would save. "nodes+keyprops+audit" measures
// that change for creates: no IdentityKey nodes, each key a property of
// its CI under a uniqueness constraint of its own (one per identification
// rule), looked up before the CIs are created (keyPropsPart). It is not the
// store's design: a constraint cannot lock a key no CI holds yet, so
// concurrent writers of one new CI would fail and start over where they
// now wait for each other (ADR 2). Run with:
// go test ./internal/store/neo4j -run '^$' -bench UpsertParts (NEO4J_URI set)
func BenchmarkUpsertParts(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	off := 0
	next := func() int { off += benchBatch; return off }
	// Warm the server up (query planning, JIT) before measuring.
	for range 5 {
		if _, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(next(), benchBatch), Reconcile: reconcile}); err != nil {
			b.Fatal(err)
		}
	}
	parts := []struct {
		name                  string
		keys, audit, keyProps bool
	}{{"nodes", false, false, false}, {"nodes+audit", false, true, false}, {"nodes+keys", true, false, false},
		{"nodes+keys+audit", true, true, false}, {"nodes+keyprops+audit", false, true, true}}
	kp := newKeyPropsPart(b, s)
	for _, p := range parts {
		b.Run(p.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				b.StopTimer()
				creates, keys, audit := plannedCreates(b, next(), p.keys || p.keyProps)
				b.StartTimer()
				_, err := s.write(ctx, "bench", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
					if p.keyProps {
						if err := kp.create(ctx, tx, creates); err != nil {
							return nil, err
						}
						return nil, audit.flush(ctx, tx)
					}
					if p.keys {
						if _, err := collect(ctx, tx, qClaimKeys, map[string]any{"keys": keys}); err != nil {
							return nil, err
						}
					}
					if _, err := run(ctx, tx, creates.q, map[string]any{"rows": creates.rows}); err != nil {
						return nil, err
					}
					if p.audit {
						return nil, audit.flush(ctx, tx)
					}
					return nil, nil
				})
				if err != nil {
					b.Fatal(err)
				}
				n += benchBatch
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cis/s")
		})
	}
	b.Run("upsert", func(b *testing.B) {
		n := 0
		for b.Loop() {
			if _, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: benchItems(next(), benchBatch), Reconcile: reconcile}); err != nil {
				b.Fatal(err)
			}
			n += benchBatch
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "cis/s")
	})
}

// keyPropsPart is BenchmarkUpsertParts' "nodes+keyprops+audit": the
// identity keys of benchItems (a serial number and a name with its domain)
// as two properties of the CI, each under a uniqueness constraint, which
// the benchmark creates and drops.
type keyPropsPart struct {
	create func(ctx context.Context, tx neo4j.ManagedTransaction, c creates) error
}

func newKeyPropsPart(b *testing.B, s *Store) keyPropsPart {
	b.Helper()
	ctx := context.Background()
	schema := func(qs ...string) {
		for _, q := range qs {
			if _, err := neo4j.ExecuteQuery(ctx, s.driver, q, nil, neo4j.EagerResultTransformer); err != nil {
				b.Fatal(err)
			}
		}
	}
	schema("CREATE CONSTRAINT bench_key_serial IF NOT EXISTS FOR (n:Node) REQUIRE n._key_serial IS UNIQUE",
		"CREATE CONSTRAINT bench_key_name IF NOT EXISTS FOR (n:Node) REQUIRE n._key_name IS UNIQUE",
		"CALL db.awaitIndexes(300)")
	b.Cleanup(func() {
		schema("DROP CONSTRAINT bench_key_serial IF EXISTS", "DROP CONSTRAINT bench_key_name IF EXISTS")
	})
	label, err := labelExpr(store.KindCI)
	if err != nil {
		b.Fatal(err)
	}
	// The owners of the keys (none: every CI is new), then the CIs with
	// their keys, as an identified create would read and write them.
	const qOwners = `CALL {
  UNWIND $serials AS key MATCH (c:Node {_key_serial: key}) RETURN key, c.id AS id
  UNION ALL
  UNWIND $names AS key MATCH (c:Node {_key_name: key}) RETURN key, c.id AS id
}
RETURN key, id`
	qCreate := "UNWIND $rows AS row CREATE (c:Node:" + label + ") SET c = row.props, c._key_serial = row.serial, c._key_name = row.name"
	return keyPropsPart{create: func(ctx context.Context, tx neo4j.ManagedTransaction, c creates) error {
		rows := make([]any, len(c.rows))
		var serials, names []string
		for i, r := range c.rows {
			row := r.(map[string]any)
			var serial, name string
			for _, k := range row["keys"].([]string) {
				if strings.HasPrefix(k, "Server|serial_number|") {
					serial = k
				} else {
					name = k
				}
			}
			if serial == "" || name == "" {
				return fmt.Errorf("keys %v: want a serial number and a name", row["keys"])
			}
			serials, names = append(serials, serial), append(names, name)
			rows[i] = map[string]any{"props": row["props"], "serial": serial, "name": name}
		}
		slices.Sort(serials)
		slices.Sort(names)
		recs, err := collect(ctx, tx, qOwners, map[string]any{"serials": serials, "names": names})
		if err != nil {
			return err
		}
		if len(recs) != 0 {
			return fmt.Errorf("%d keys already owned in a batch of new CIs", len(recs))
		}
		_, err = run(ctx, tx, qCreate, map[string]any{"rows": rows})
		return err
	}}
}

// plannedCreates plans a batch of new CIs from offset off as UpsertNodes
// would and returns the statement creating them (qCreateNodes, with their
// keys or none), the batch's keys sorted (for qClaimKeys) and its audit
// records.
func plannedCreates(b *testing.B, off int, withKeys bool) (creates, []string, *auditLog) {
	b.Helper()
	plan, err := store.PlanUpsert(testActor, store.UpsertBatch{Items: benchItems(off, benchBatch), Reconcile: reconcile})
	if err != nil {
		b.Fatal(err)
	}
	tx := &planOnly{now: time.Now().UTC()}
	if _, err := plan.Upsert(context.Background(), tx); err != nil {
		b.Fatal(err)
	}
	stmts, err := createStatements(tx.cs.Created)
	if err != nil {
		b.Fatal(err)
	}
	if len(stmts) != 1 {
		b.Fatalf("%d create statements for one kind", len(stmts))
	}
	var keys []string
	for i, c := range tx.cs.Created {
		if withKeys {
			keys = append(keys, c.Keys...)
		} else {
			stmts[0].rows[i].(map[string]any)["keys"] = []string{}
		}
	}
	slices.Sort(keys)
	audit := &auditLog{actor: testActor, now: tx.now}
	for _, r := range tx.cs.Audit {
		if err := audit.addRecord(r); err != nil {
			b.Fatal(err)
		}
	}
	return stmts[0], keys, audit
}

// planOnly is a store.WriteTx that writes nothing: no key has an owner, no
// node is stored, and the change set is kept.
type planOnly struct {
	now time.Time
	cs  store.ChangeSet
}

func (p *planOnly) Now() time.Time { return p.now }

func (p *planOnly) KeyOwners(_ context.Context, keys []string) ([]store.ID, error) {
	return make([]store.ID, len(keys)), nil
}

func (p *planOnly) LoadNodes(context.Context, []store.ID) ([]store.Node, error) { return nil, nil }

func (p *planOnly) Apply(_ context.Context, cs store.ChangeSet) error {
	p.cs = cs
	return nil
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
