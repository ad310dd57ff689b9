package cmdb

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// BenchmarkUpsertLinks measures CI creates in batches of 1,000 whose owner
// and support_group name people and groups (the cost of keeping their
// edges), on the embedded store, without and with a synced directory of
// 2,000 people and 100 groups.
func BenchmarkUpsertLinks(b *testing.B) {
	for _, people := range []int{0, 2000} {
		b.Run(fmt.Sprintf("people=%d", people), func(b *testing.B) {
			svc := newTestService(b)
			ctx := b.Context()
			api := store.Actor{Name: "bench", Source: "api"}
			if people > 0 {
				var ps, gs []UpsertItem
				for i := range people {
					ps = append(ps, UpsertItem{Attributes: map[string]any{"user_name": fmt.Sprintf("user%04d", i), "name": fmt.Sprintf("User %d", i)}})
				}
				for i := range 100 {
					gs = append(gs, UpsertItem{Attributes: map[string]any{"name": fmt.Sprintf("sg-%02d", i)}})
				}
				_, err := svc.UpsertNodes(ctx, api, KindPerson, ps, true)
				require.NoError(b, err)
				_, err = svc.UpsertNodes(ctx, api, KindGroup, gs, true)
				require.NoError(b, err)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				items := make([]UpsertItem, 1000)
				for i := range items {
					n++
					items[i] = UpsertItem{Class: "Application", Attributes: map[string]any{"name": fmt.Sprintf("app-%07d", n),
						"owner": fmt.Sprintf("user%04d", n%2500), "support_group": fmt.Sprintf("sg-%02d", n%120)}}
				}
				if _, err := svc.Upsert(ctx, api, items, false); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "cis/s")
		})
	}
}
