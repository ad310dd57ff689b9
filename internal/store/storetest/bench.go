package storetest

import (
	"fmt"
	"testing"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// HubPageBench measures reading the first page (100) of the relationships
// of a hub that n CIs depend on, two ways side by side on the same store:
// RelationshipPages, and RelationshipsOf followed by paging in Go (how
// CI.relationships was served before RelationshipPages existed, kept as
// the baseline). Backends call it from a Benchmark function.
func HubPageBench(b *testing.B, st store.Store, n int) {
	ctx := b.Context()
	m, err := cmdb.DefaultModel()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := cmdb.NewService(ctx, st, m)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]store.ID, 0, n+1)
	for len(ids) < n+1 {
		items := make([]cmdb.UpsertItem, min(1000, n+1-len(ids)))
		for i := range items {
			items[i] = app(fmt.Sprintf("hubbench%07d", len(ids)+i))
		}
		res, err := svc.Upsert(ctx, builder, items, false)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			ids = append(ids, r.CI.ID)
		}
	}
	hub := ids[0]
	for start := 1; start <= n; start += 1000 {
		var in []store.RelationshipInput
		for _, id := range ids[start:min(start+1000, n+1)] {
			in = append(in, store.RelationshipInput{Type: "DEPENDS_ON", Source: id, Target: hub})
		}
		if _, err := st.CreateRelationships(ctx, builder, in, false); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("RelationshipsOf+page", func(b *testing.B) {
		for b.Loop() {
			rels, err := st.RelationshipsOf(ctx, []store.ID{hub}, store.In, nil)
			if err != nil || len(rels[hub]) != n {
				b.Fatalf("%d relationships, %v", len(rels[hub]), err)
			}
			_ = rels[hub][:100]
		}
	})
	b.Run("RelationshipPages", func(b *testing.B) {
		req := []store.RelationshipPageRequest{{CI: hub, Dir: store.In, Page: store.PageRequest{First: 100}}}
		for b.Loop() {
			pages, err := st.RelationshipPages(ctx, req)
			if err != nil || len(pages[0].Items) != 100 || pages[0].Total != n {
				b.Fatalf("%+v, %v", pages, err)
			}
		}
	})
}

// SearchBench measures a free-text search over n CIs, side by side with a
// name-prefix filter on the same store as the baseline: "svc-0042*" matches
// ten CIs by name in both (names svc-00420..svc-00429), and the search also
// has to rank them and cut their highlights. A third run searches a word
// every tenth CI's description holds (n/10 candidates, capped at
// store.MaxSearchCandidates). Backends call it from a Benchmark function.
func SearchBench(b *testing.B, st store.Store, n int) {
	ctx := b.Context()
	m, err := cmdb.DefaultModel()
	if err != nil {
		b.Fatal(err)
	}
	svc, err := cmdb.NewService(ctx, st, m)
	if err != nil {
		b.Fatal(err)
	}
	for start := 0; start < n; start += 1000 {
		items := make([]cmdb.UpsertItem, min(1000, n-start))
		for i := range items {
			k := start + i
			desc := fmt.Sprintf("Service number %d of the bench estate.", k)
			if k%10 == 0 {
				desc += " Handles payments."
			}
			items[i] = app(fmt.Sprintf("svc-%05d", k), "description", desc)
		}
		if _, err := svc.Upsert(ctx, builder, items, false); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("ListCIs/namePrefix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := svc.ListCIs(ctx, cmdb.Filter{NamePrefix: "svc-0042"}, store.PageRequest{First: 20})
			if err != nil || len(p.Items) != 10 {
				b.Fatalf("%d CIs, %v", len(p.Items), err)
			}
		}
	})
	b.Run("Search/prefix", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := svc.Search(ctx, "svc-0042*", cmdb.SearchFilter{}, store.PageRequest{First: 20})
			if err != nil || len(res.Items) != 10 {
				b.Fatalf("%d CIs, %v", len(res.Items), err)
			}
		}
	})
	b.Run("Search/commonWord", func(b *testing.B) {
		b.ReportAllocs()
		want := min(n/10, store.MaxSearchCandidates)
		for b.Loop() {
			res, err := svc.Search(ctx, "payments", cmdb.SearchFilter{}, store.PageRequest{First: 20})
			if err != nil || res.Total != want {
				b.Fatalf("%d CIs, %v", res.Total, err)
			}
		}
		b.ReportMetric(float64(want), "candidates/op")
	})
}
