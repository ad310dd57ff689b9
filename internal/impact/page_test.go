package impact_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// pageList is n impacted CIs with repeated depths, names, effects,
// classes and criticalities (some unset), so that every order has ties.
func pageList(n int) []impact.Impacted {
	rng := rand.New(rand.NewPCG(7, 9))
	classes := []string{"Application", "Database", "VirtualMachine"}
	list := make([]impact.Impacted, n)
	for i := range list {
		attrs := store.Attributes{"name": fmt.Sprintf("ci-%02d", rng.IntN(n/2))}
		if rng.IntN(3) > 0 {
			attrs["criticality"] = int64(1 + rng.IntN(4))
		}
		list[i] = impact.Impacted{
			CI:     store.SummaryOf(store.CI{ID: store.ID(fmt.Sprintf("id-%03d", i)), Class: classes[rng.IntN(len(classes))], Attributes: attrs}),
			Depth:  1 + rng.IntN(4),
			Effect: impact.Effect(1 + rng.IntN(4)),
		}
	}
	return list
}

// reference sorts list in order o, written apart from Page's keys.
func reference(list []impact.Impacted, o impact.Order) []store.ID {
	crit := func(im impact.Impacted) int64 {
		if c, ok := im.CI.Attr("criticality").(int64); ok {
			return c
		}
		return 1 << 62
	}
	name := func(im impact.Impacted) string { return im.CI.Attr("name").(string) }
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, func(x, y impact.Impacted) int {
		var c int
		switch o.Field {
		case impact.ByName:
			c = cmp.Compare(name(x), name(y))
		case impact.ByEffect:
			c = cmp.Compare(x.Effect, y.Effect)
		case impact.ByClass:
			c = cmp.Compare(x.CI.Class, y.CI.Class)
		case impact.ByCriticality:
			c = cmp.Compare(crit(x), crit(y))
		}
		c = cmp.Or(c, cmp.Compare(x.Depth, y.Depth), cmp.Compare(name(x), name(y)), cmp.Compare(x.CI.ID, y.CI.ID))
		if o.Desc {
			return -c
		}
		return c
	})
	ids := make([]store.ID, len(sorted))
	for i, im := range sorted {
		ids[i] = im.CI.ID
	}
	return ids
}

// TestPageWalksEveryOrder: paging by cursor through impacted CIs gives
// each once, in the order asked, for every order and direction and for
// pages of one, of a few, and of more than there are (Page selects each
// page from the CIs after the cursor, it does not sort them all).
func TestPageWalksEveryOrder(t *testing.T) {
	list := pageList(300)
	for _, field := range []impact.OrderField{impact.ByDepth, impact.ByName, impact.ByEffect, impact.ByClass, impact.ByCriticality} {
		for _, desc := range []bool{false, true} {
			for _, size := range []int{1, 7, 64, 1000} {
				o := impact.Order{Field: field, Desc: desc}
				t.Run(fmt.Sprintf("%s desc=%v first=%d", field, desc, size), func(t *testing.T) {
					var got []store.ID
					after := ""
					for range len(list) {
						page, err := impact.Page(list, o, after, size)
						require.NoError(t, err)
						assert.Equal(t, len(list), page.Total)
						require.Len(t, page.Cursors, len(page.Items))
						assert.LessOrEqual(t, len(page.Items), size)
						for _, im := range page.Items {
							got = append(got, im.CI.ID)
						}
						if !page.HasNext {
							break
						}
						require.Len(t, page.Items, size, "a page before the last is full")
						after = page.Cursors[len(page.Cursors)-1]
					}
					assert.Equal(t, reference(list, o), got)
				})
			}
		}
	}
}

// TestPageCursorSurvivesChanges: a cursor holds a position in the order,
// not an index, so a page asked of a re-run analysis that lost or gained
// CIs continues after the cursor's CI without repeating or skipping those
// that stayed.
func TestPageCursorSurvivesChanges(t *testing.T) {
	list := pageList(30)
	o := impact.Order{Field: impact.ByName}
	want := reference(list, o)
	first, err := impact.Page(list, o, "", 10)
	require.NoError(t, err)
	after := first.Cursors[9]
	// The analysis runs again: the CI the cursor names and an earlier one
	// are gone.
	var again []impact.Impacted
	for _, im := range list {
		if im.CI.ID != want[9] && im.CI.ID != want[2] {
			again = append(again, im)
		}
	}
	next, err := impact.Page(again, o, after, 10)
	require.NoError(t, err)
	var got []store.ID
	for _, im := range next.Items {
		got = append(got, im.CI.ID)
	}
	assert.Equal(t, want[10:20], got)
}

// TestPageBadArguments: sizes out of range, unknown orders and cursors
// that are not this order's are refused on the argument that carries them.
func TestPageBadArguments(t *testing.T) {
	list := pageList(10)
	byName, err := impact.Page(list, impact.Order{Field: impact.ByName}, "", 2)
	require.NoError(t, err)
	for _, tt := range []struct {
		name  string
		o     impact.Order
		after string
		first int
		field string
	}{
		{"first zero", impact.Order{Field: impact.ByDepth}, "", 0, "first"},
		{"first too large", impact.Order{Field: impact.ByDepth}, "", store.MaxPageSize + 1, "first"},
		{"unknown order", impact.Order{Field: "cost"}, "", 5, "orderBy"},
		{"not a cursor", impact.Order{Field: impact.ByDepth}, "not base64!", 5, "after"},
		{"cursor of another order", impact.Order{Field: impact.ByDepth}, byName.Cursors[1], 5, "after"},
		{"cursor of the other direction", impact.Order{Field: impact.ByName, Desc: true}, byName.Cursors[1], 5, "after"},
		{"huge cursor", impact.Order{Field: impact.ByDepth}, string(make([]byte, 10_000)), 5, "after"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := impact.Page(list, tt.o, tt.after, tt.first)
			var inv *store.InvalidError
			require.ErrorAs(t, err, &inv)
			assert.Equal(t, tt.field, inv.Field)
		})
	}
}

// TestCountsByDepth counts by depth, nearest first.
func TestCountsByDepth(t *testing.T) {
	list := pageList(50)
	counts := impact.CountsByDepth(list)
	want := map[int]int{}
	for _, im := range list {
		want[im.Depth]++
	}
	got := map[int]int{}
	for i, c := range counts {
		got[c.Depth] = c.CIs
		if i > 0 {
			assert.Less(t, counts[i-1].Depth, c.Depth)
		}
	}
	assert.Equal(t, want, got)
}
