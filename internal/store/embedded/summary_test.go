package embedded

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestSummaryCacheMatchesDatabase: NodeFields naming summary attributes,
// answered from the cache, equals the database's answer for every value
// type a summary attribute may hold (those the cache cannot hold are read
// from the database), after creates, updates and deletes, and after the
// store is reopened and the cache rebuilt.
func TestSummaryCacheMatchesDatabase(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	when := time.Date(2026, 12, 3, 10, 0, 0, 500, time.UTC)
	items := []store.CIUpsert{
		item("Server", []string{"k|plain"}, "name", "web-01", "status", "live", "environment", "prod", "owner", "ops", "support_group", "sre", "criticality", int64(1), "other", "x"),
		item("Server", []string{"k|same"}, "name", "web-02", "status", "live", "environment", "prod", "owner", "ops", "criticality", int64(1)),
		item("Server", []string{"k|empty"}, "name", "", "status", ""),
		item("Server", []string{"k|bare"}),
		item("Server", []string{"k|odd-name"}, "name", int64(42), "status", "live"),
		item("Server", []string{"k|list"}, "name", "multi", "owner", []string{"ops", "dba"}),
		item("Server", []string{"k|time"}, "name", "timed", "criticality", when),
		item("Server", []string{"k|float"}, "name", "f", "criticality", 2.5, "status", true),
	}
	res := upsertOK(t, s, items...)
	ids := make([]store.ID, len(res))
	for i, r := range res {
		ids[i] = r.Node.ID
	}
	check := func(s *Store, when string) {
		t.Helper()
		for _, fields := range [][]string{store.SummaryAttributes, {"owner", "name"}, {"criticality"}} {
			got, err := s.NodeFields(t.Context(), store.AnyKind, ids, fields)
			require.NoError(t, err)
			want, err := s.nodeFieldsFromDB(t.Context(), store.AnyKind, ids, fields, map[store.ID]store.Node{})
			require.NoError(t, err)
			assert.Equal(t, want, got, "%s, fields %q", when, fields)
		}
		checkViewSummaries(t, s, ids, when)
		s.g.mu.RLock()
		defer s.g.mu.RUnlock()
		for i, id := range ids {
			slot, ok := s.g.byUID[mustUID(t, id)]
			if !ok {
				continue
			}
			odd := i == 4 || i == 5 || i == 6 // a name not a string, a list, a time
			assert.Equal(t, odd, hasBit(s.g.uncached, slot), "%s: item %d read from the database", when, i)
		}
	}
	check(s, "after creates")

	upsertOK(t, s,
		item("Server", []string{"k|plain"}, "name", "web-01b", "owner", nil, "criticality", int64(3)),
		item("Server", []string{"k|list"}, "owner", "ops"), // now cacheable
		item("Server", []string{"k|bare"}, "name", "named"),
	)
	_, err := s.DeleteNodes(t.Context(), tester, store.KindCI, []store.ID{ids[1]})
	require.NoError(t, err)
	check2 := func(s *Store, when string) {
		t.Helper()
		got, err := s.NodeFields(t.Context(), store.AnyKind, ids, store.SummaryAttributes)
		require.NoError(t, err)
		want, err := s.nodeFieldsFromDB(t.Context(), store.AnyKind, ids, store.SummaryAttributes, map[store.ID]store.Node{})
		require.NoError(t, err)
		assert.Equal(t, want, got, when)
		assert.NotContains(t, got, ids[1], "%s: a deleted node is gone", when)
		assert.Equal(t, "web-01b", got[ids[0]].Attributes["name"], when)
		assert.NotContains(t, got[ids[0]].Attributes, "owner", when)
		assert.Equal(t, int64(2), got[ids[0]].Version, when)
		assert.Equal(t, "ops", got[ids[5]].Attributes["owner"], when)
		s.g.mu.RLock()
		defer s.g.mu.RUnlock()
		assert.False(t, hasBit(s.g.uncached, s.g.byUID[mustUID(t, ids[5])]), "%s: a list no more, item 5 is cached", when)
	}
	check2(s, "after updates")
	checkViewSummaries(t, s, ids, "after updates")
	require.NoError(t, s.Close())
	reopened := openAt(t, dir)
	check2(reopened, "reopened")
	checkViewSummaries(t, reopened, ids, "reopened")
}

// checkViewSummaries: a view's Summaries of the nodes of ids (and of a
// number no node holds) equal store.SummaryOf of the database's answer,
// cached or not, and are zero for a kind the nodes are not of.
func checkViewSummaries(t *testing.T, s *Store, ids []store.ID, when string) {
	t.Helper()
	want, err := s.nodeFieldsFromDB(t.Context(), store.AnyKind, ids, store.SummaryAttributes, map[store.ID]store.Node{})
	require.NoError(t, err)
	err = s.ViewGraph(t.Context(), func(gv store.GraphView) error {
		var ns []int32
		var at []store.ID
		for _, id := range ids {
			if n, ok := gv.Node(id); ok {
				ns, at = append(ns, n), append(at, id)
			}
		}
		ns, at = append(ns, gv.Bound()+5), append(at, "")
		for _, kind := range []store.ObjectKind{store.KindCI, store.AnyKind, store.ObjectKind("person")} {
			got := make([]store.Summary, len(ns))
			require.NoError(t, gv.Summaries(t.Context(), kind, ns, got))
			for i, id := range at {
				if n, ok := want[id]; ok && kind != store.ObjectKind("person") {
					assert.Equal(t, store.SummaryOf(n), got[i], "%s, kind %s, node %s", when, kind, id)
				} else {
					assert.Zero(t, got[i], "%s, kind %s, node %q", when, kind, id)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func mustUID(t *testing.T, id store.ID) [16]byte {
	t.Helper()
	u, ok := parseUID(string(id))
	require.True(t, ok, id)
	return u
}

// TestSummaryAttributesFitTheSlot: the cache's slot is sized for
// store.SummaryAttributes, name first.
func TestSummaryAttributesFitTheSlot(t *testing.T) {
	require.Len(t, store.SummaryAttributes, nSummary)
	assert.Equal(t, "name", store.SummaryAttributes[0])
	assert.True(t, summaryServes(store.SummaryAttributes))
	assert.False(t, summaryServes([]string{"name", "tags"}))
}

// TestSummaryNamesCompact: names live in one array of text. Renaming
// nodes over and over leaves dead bytes that a compaction reclaims, every
// slot still answers its current name, and a name handed out earlier keeps
// its value; a name that stops being cacheable (not a string) or a node
// forgotten gives its bytes up too.
func TestSummaryNamesCompact(t *testing.T) {
	g := newGraph()
	sum := func(name any) nodeSum {
		s := nodeSum{kind: store.KindCI, class: "Server", version: 1, present: 1}
		s.vals[0] = name
		return s
	}
	nameOf := func(slot int32) string {
		var out store.Summary
		require.Equal(t, fromCache, g.slotSummary(slot, store.KindCI, &out), "slot %d", slot)
		return out.Name
	}
	const slots = 64
	for i := range int32(slots) {
		g.addNode(i, [16]byte{1, byte(i)}, true)
		g.setSum(i, sum(fmt.Sprintf("host-%d", i)))
	}
	held := nameOf(7)
	unchanged := g.sums[9].name
	g.setSum(9, sum("host-9")) // the same name again: the same bytes
	assert.Equal(t, unchanged, g.sums[9].name)
	assert.Zero(t, g.names.dead)

	long := strings.Repeat("x", 4096)
	arrays := map[*byte]bool{}
	for round := range 600 { // 600 × 64 renames of 4 KiB: compactions happen
		for i := range int32(slots) {
			g.setSum(i, sum(fmt.Sprintf("%s-%d-%d", long, round, i)))
		}
		arrays[unsafe.SliceData(g.names.b)] = true
	}
	assert.Equal(t, "host-7", held, "a name handed out before the renames")
	for i := range int32(slots) {
		assert.Equal(t, fmt.Sprintf("%s-%d-%d", long, 599, i), nameOf(i))
	}
	live := 0
	for i := range g.sums {
		live += int(g.sums[i].name.n)
	}
	assert.Equal(t, live, len(g.names.b)-g.names.dead, "dead bytes are counted exactly")
	assert.Less(t, len(g.names.b), 3*live+minNameCompact, "compactions keep the array near its live names")
	assert.Greater(t, len(arrays), 2, "the array was compacted (and grown) more than once")

	g.setSum(3, sum(int64(42))) // not a string: read from the database
	assert.Equal(t, nameRef{}, g.sums[3].name)
	g.clearSum(4)
	live = 0
	for i := range g.sums {
		live += int(g.sums[i].name.n)
	}
	assert.Equal(t, live, len(g.names.b)-g.names.dead, "an uncached and a forgotten name are dead")
}
