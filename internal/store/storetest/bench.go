package storetest

import (
	"fmt"
	"slices"
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
			ids = append(ids, r.Node.ID)
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
		req := []store.RelationshipPageRequest{{Node: hub, Dir: store.In, Page: store.PageRequest{First: 100}}}
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

// ListQueryBench pages through CIs matching a filter expression, in ID
// order and sorted (by name, which is not the ID order here, or by
// creation time), by cursor and by offset, over n Linux servers.
// Filters: "columns", environment = production and not tagged "old"
// (about 30% of the CIs, through indexed copies), and "json-attr", the
// same and cpu_count >= 17 (an attribute without an index). One op is one
// page of 100 with its Total, at a point of the list spread over it.
// Backends call it from a Benchmark function.
func ListQueryBench(b *testing.B, st store.Store, n int) {
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
			tags := []any{"web"}
			if k%10 == 0 {
				tags = []any{"old"}
			}
			items[i] = server("LinuxServer", "name", fmt.Sprintf("h%08x", uint32(k)*2654435761), // not in ID order
				"serial_number", fmt.Sprintf("SN%09d", k), "environment", []string{"production", "test", "staging"}[k%3],
				"cpu_count", k%64+1, "owner", "ops", "tags", tags)
		}
		if _, err := svc.Upsert(ctx, builder, items, false); err != nil {
			b.Fatal(err)
		}
	}
	columns := []store.Expr{
		{Op: store.OpEq, Field: "environment", Value: "production", CaseSensitive: true},
		{Op: store.OpNot, Args: []store.Expr{{Op: store.OpContains, Field: "tags", Value: "old"}}},
	}
	filters := map[string]*store.Expr{
		"columns":   {Op: store.OpAnd, Args: columns},
		"json-attr": {Op: store.OpAnd, Args: append(slices.Clone(columns), store.Expr{Op: store.OpGte, Field: "cpu_count", Value: int64(17)})},
	}
	for _, c := range []struct {
		name   string
		filter string
		sort   store.Sort
		// maxOffset > 0 pages by offset, below it; else by cursor.
		maxOffset int
	}{
		{"columns/id-order/cursor", "columns", store.Sort{}, 0},
		{"columns/name-order/cursor", "columns", store.Sort{Field: "name"}, 0},
		{"columns/name-desc/cursor", "columns", store.Sort{Field: "name", Desc: true}, 0},
		{"columns/name-order/offset-first-10-pages", "columns", store.Sort{Field: "name"}, 1000},
		{"columns/name-order/offset-up-to-10000", "columns", store.Sort{Field: "name"}, store.MaxOffsetWindow},
		{"columns/created-order/cursor", "columns", store.Sort{Field: store.FieldCreatedAt}, 0},
		{"json-attr/id-order/cursor", "json-attr", store.Sort{}, 0},
		{"json-attr/name-order/cursor", "json-attr", store.Sort{Field: "name"}, 0},
	} {
		f := store.NodeFilter{Kind: store.KindCI, Where: filters[c.filter], Sort: c.sort}
		// Cursors spread over the list, from a pass of large pages.
		var cursors []string
		p := store.PageRequest{First: 1000}
		total := 0
		for {
			page, err := st.ListNodes(ctx, f, p)
			if err != nil {
				b.Fatal(err)
			}
			total = page.Total
			cursors = append(cursors, page.EndCursor)
			if !page.HasNext {
				break
			}
			p.After = page.EndCursor
		}
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				p := store.PageRequest{First: 100, After: cursors[i%len(cursors)]}
				if c.maxOffset > 0 {
					p = store.PageRequest{First: 100, Offset: (i * 97) % max(1, min(total, c.maxOffset)-100)}
				}
				page, err := st.ListNodes(ctx, f, p)
				if err != nil || page.Total != total {
					b.Fatal(err, page.Total, total)
				}
				i++
			}
		})
	}
}
