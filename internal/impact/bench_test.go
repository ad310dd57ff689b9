package impact_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/bench"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// loadEstate loads a generated estate through cmdb.Service (as
// internal/bench does) and returns the store IDs by estate index.
func loadEstate(tb testing.TB, st store.Store, e *bench.Estate) (*cmdb.Service, []store.ID) {
	tb.Helper()
	ctx := context.Background()
	m, err := cmdb.DefaultModel()
	require.NoError(tb, err)
	svc, err := cmdb.NewService(ctx, st, m)
	require.NoError(tb, err)
	ids := make([]store.ID, len(e.CIs))
	for lo := 0; lo < len(e.CIs); lo += 1000 {
		hi := min(lo+1000, len(e.CIs))
		res, err := svc.Upsert(ctx, actor, e.CIs[lo:hi], false)
		require.NoError(tb, err)
		for i, r := range res {
			require.Equal(tb, store.StatusCreated, r.Status, "CI %d: %v", lo+i, r.Err)
			ids[lo+i] = r.Node.ID
		}
	}
	for chunk := range slices.Chunk(e.Edges, 5000) {
		in := make([]cmdb.RelationshipItem, len(chunk))
		for i, ed := range chunk {
			in[i] = cmdb.RelationshipItem{Type: ed.Type, Source: ids[ed.From], Target: ids[ed.To]}
		}
		res, err := svc.CreateRelationships(ctx, actor, in, false)
		require.NoError(tb, err)
		for _, r := range res {
			require.Equal(tb, store.StatusCreated, r.Status, "%v", r.Err)
		}
	}
	return svc, ids
}

// BenchmarkAnalyze runs impact analyses on a generated estate of 20,000
// CIs: from a hub most of the estate depends on, from a hypervisor, from
// a database instance and from a VM (what skein bench api times as "impact
// from a VM": few CIs depend on it, but its instances' load balancers
// spread reduced redundancy to thousands), on each backend (Neo4j with
// NEO4J_URI set),
// each beside the store's traversal from the same CI (the "/traversal"
// runs: the floor an analysis adds its rules, summaries and roll-ups to).
// Run with: go test ./internal/impact -run '^$' -bench Analyze
func BenchmarkAnalyze(b *testing.B) {
	e := bench.Generate(20000, 1)
	var hv, dbi, vm bench.Named
	for _, n := range e.Typical {
		switch {
		case n.Label == "hypervisor" && hv.Label == "":
			hv = n
		case n.Label == "db instance" && dbi.Label == "":
			dbi = n
		case n.Label == "vm" && vm.Label == "":
			vm = n
		}
	}
	starts := []bench.Named{e.Hubs[0], hv, dbi, vm}
	run := func(b *testing.B, st store.Store) {
		svc, ids := loadEstate(b, st, e)
		a := impact.New(st, svc.Model, impact.Options{NodeBudget: store.MaxNodes})
		rules := impact.FailureRules(svc.Model())
		for _, s := range starts {
			// The baseline: the store's own traversal the way failure
			// travels, to the same depth, reading nothing but the shape.
			b.Run(s.Label+"/traversal", func(b *testing.B) {
				t := store.Traversal{Start: []store.ID{ids[s.Index]}, Rules: rules, MaxDepth: 8, MaxNodes: store.MaxNodes}
				var res store.TraversalResult
				for b.Loop() {
					var err error
					res, err = st.Expand(b.Context(), t)
					require.NoError(b, err)
				}
				b.ReportMetric(float64(len(res.Nodes)), "cis/op")
			})
			// What dependents answers from the same CI (a depth-only
			// traversal and its CIs' summaries), and with every path, as a
			// query selecting ReachedCI.path reads them.
			for _, paths := range []bool{false, true} {
				name := s.Label + "/dependents"
				if paths {
					name += "+paths"
				}
				b.Run(name, func(b *testing.B) {
					var reach *impact.Reach
					for b.Loop() {
						var err error
						reach, err = a.Dependents(b.Context(), ids[s.Index], 8, nil, impact.ReachOptions{})
						require.NoError(b, err)
						if paths {
							require.NoError(b, reach.Paths(b.Context()))
						}
					}
					b.ReportMetric(float64(len(reach.Nodes)), "cis/op")
				})
			}
			// The analysis listing the CIs in order, unordered (what a query
			// paging them asks), and its summary only (counts, roll-ups and
			// business services: what a query that lists no impacted CI
			// asks, issue 11's bound against "/traversal").
			for _, shape := range []struct {
				name string
				req  impact.Request
			}{{"", impact.Request{}}, {"/unordered", impact.Request{Unordered: true}}, {"/summary", impact.Request{SummaryOnly: true}}} {
				b.Run(s.Label+shape.name, func(b *testing.B) {
					req := shape.req
					req.CIs, req.MaxDepth = []store.ID{ids[s.Index]}, 8 // the depth of earlier runs
					var res *impact.Result
					b.ReportAllocs()
					for b.Loop() {
						var err error
						res, err = a.Analyze(b.Context(), req)
						require.NoError(b, err)
					}
					b.ReportMetric(float64(res.Count()), "cis/op")
					b.ReportMetric(float64(res.Down), "down/op")
					b.ReportMetric(float64(len(res.BusinessServices)), "services/op")
				})
			}
		}
	}
	b.Run("embedded", func(b *testing.B) {
		st, err := openEmbedded(context.Background())
		require.NoError(b, err)
		run(b, st)
	})
	b.Run("neo4j", func(b *testing.B) {
		st, err := openNeo4j(b)
		require.NoError(b, err)
		run(b, st)
	})
}

// ExampleAnalyzer_Analyze shows the shape of a result.
func ExampleAnalyzer_Analyze() {
	ctx := context.Background()
	st, err := openEmbedded(ctx)
	if err != nil {
		panic(err)
	}
	f, err := build(ctx, st)
	if err != nil {
		panic(err)
	}
	a := impact.New(st, f.svc.Model, impact.Options{})
	res, err := a.Analyze(ctx, impact.Request{CIs: []store.ID{f.ids["hv1"]}, MaxDepth: 8})
	if err != nil {
		panic(err)
	}
	for _, im := range res.Impacted {
		fmt.Printf("%d %-8s %s\n", im.Depth, im.Effect, im.CI.Name)
	}
	for _, o := range res.Owners {
		fmt.Printf("owner %s: %d\n", o.Name, o.CIs)
	}
	// Output:
	// 1 down     vm1
	// 1 down     vm2
	// 2 degraded bs-archive
	// 2 down     bs-report
	// 2 down     shop-1
	// 3 down     shop
	// 4 down     bs-shop
	// owner infra-team: 2
	// owner shop-team: 2
	// owner biz-team: 1
}
