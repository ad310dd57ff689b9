package itsm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestLinkedRecordsBeyondOneFilter: a CI with more linked records than one
// ID filter takes (the chunk lowered to 3 here, store.MaxBatch in
// service) lists them page after page exactly as one query would, on both
// backends: same order, same total, same pages, with a filter too.
func TestLinkedRecordsBeyondOneFilter(t *testing.T) {
	for name, open := range breachBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			m, err := cmdb.DefaultModel()
			require.NoError(t, err)
			c, err := cmdb.NewService(ctx, st, m)
			require.NoError(t, err)
			svc, err := NewService(c, st, Config{})
			require.NoError(t, err)
			actor := store.Actor{Name: "agent", Source: "api"}
			res, err := c.Upsert(ctx, actor, []cmdb.UpsertItem{{Class: "Server", Attributes: map[string]any{"name": "many-incidents", "serial_number": "MANY1"}}}, true)
			require.NoError(t, err)
			ci := res[0].Node.ID
			for i := range 8 {
				n, err := svc.CreateIncident(ctx, actor, RecordInput{Attributes: map[string]any{"short_description": "incident"},
					Links: Links{AffectedCIs: &[]store.ID{ci}}})
				require.NoError(t, err)
				if i%3 == 0 {
					_, err = svc.ActOnIncident(ctx, actor, n.ID, 0, ActionCancel, nil)
					require.NoError(t, err)
				}
			}
			walk := func(chunk int, openOnly bool) (numbers []string, totals []int) {
				svc.chunk = chunk
				p := store.PageRequest{First: 2}
				for {
					page, err := svc.IncidentsOf(ctx, ci, openOnly, p)
					require.NoError(t, err)
					for _, n := range page.Items {
						numbers = append(numbers, n.Attributes["number"].(string))
					}
					totals = append(totals, page.Total)
					if !page.HasNext {
						return numbers, totals
					}
					require.NotEmpty(t, page.Cursors)
					p.After = page.Cursors[len(page.Cursors)-1]
				}
			}
			for _, openOnly := range []bool{false, true} {
				one, oneTotals := walk(0, openOnly)
				many, manyTotals := walk(3, openOnly)
				assert.Equal(t, one, many, "openOnly %v: the same records in the same order", openOnly)
				assert.Equal(t, oneTotals, manyTotals, "openOnly %v: the same totals", openOnly)
				want := map[bool]int{false: 8, true: 5}[openOnly]
				assert.Len(t, one, want)
				assert.Equal(t, want, oneTotals[0])
			}
		})
	}
}
