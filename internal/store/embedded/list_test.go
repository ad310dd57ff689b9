package embedded

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func TestListCIsFilters(t *testing.T) {
	s := newStore(t)
	when := time.Date(2031, 5, 6, 7, 8, 9, 10, time.UTC)
	res := upsertOK(t, s,
		item("LinuxServer", []string{"1"}, "name", "lin-1", "environment", "production", "owner", "ops", "support_group", "unix", "tags", []string{"pci", "web"}, "cpu", int64(8), "status", "live"),
		item("LinuxServer", []string{"2"}, "name", "lin-2", "environment", "test", "owner", "ops", "status", "retired", "cpu", 4.0),
		item("WindowsServer", []string{"3"}, "name", "win-1", "environment", "production", "support_group", "wintel", "tags", []string{"web"}, "status", "live", "cpu", "8"),
		item("Server", []string{"4"}, "name", "srv-1", "cpu", 8.0, "up", true, "boot", when, "l", []string{"a", "b"}),
		item("App", []string{"5"}, "name", "lin\xffx", "owner", 7.5, "tags", []string{"we"}),
		item("App", []string{"6"}, "name", "Lin-3", "note", "x' OR '1'='1"),
	)
	id := func(i int) store.ID { return res[i].Node.ID }
	tests := []struct {
		name string
		f    store.NodeFilter
		want []int
	}{
		{"all", store.NodeFilter{Kind: store.KindCI}, []int{0, 1, 2, 3, 4, 5}},
		{"classes", store.NodeFilter{Kind: store.KindCI, Classes: []string{"LinuxServer", "Server"}}, []int{0, 1, 3}},
		{"ids", store.NodeFilter{Kind: store.KindCI, IDs: []store.ID{id(2), id(4), "nope"}}, []int{2, 4}},
		{"status", store.NodeFilter{Kind: store.KindCI, Status: []string{"retired", "none"}}, []int{1}},
		{"environment", store.NodeFilter{Kind: store.KindCI, Environment: "production"}, []int{0, 2}},
		{"owner only matches strings", store.NodeFilter{Kind: store.KindCI, Owner: "ops"}, []int{0, 1}},
		{"support group", store.NodeFilter{Kind: store.KindCI, SupportGroup: "wintel"}, []int{2}},
		{"tag", store.NodeFilter{Kind: store.KindCI, Tag: "web"}, []int{0, 2}},
		{"tag is exact", store.NodeFilter{Kind: store.KindCI, Tag: "w"}, nil},
		{"name prefix", store.NodeFilter{Kind: store.KindCI, NamePrefix: "lin-", CaseSensitive: true}, []int{0, 1}},
		{"name prefix ignores case", store.NodeFilter{Kind: store.KindCI, NamePrefix: "LIN-"}, []int{0, 1, 5}},
		{"name prefix, case-sensitive", store.NodeFilter{Kind: store.KindCI, NamePrefix: "Lin", CaseSensitive: true}, []int{5}},
		{"name prefix with high byte", store.NodeFilter{Kind: store.KindCI, NamePrefix: "lin\xff", CaseSensitive: true}, []int{4}},
		{"name prefix is not a pattern", store.NodeFilter{Kind: store.KindCI, NamePrefix: "lin%"}, nil},
		{"int equals int and float", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"cpu": int64(8)}}, []int{0, 3}},
		{"float equals int", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"cpu": 4.0}}, []int{1}},
		{"string is not a number", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"cpu": "8"}}, []int{2}},
		{"bool", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"up": true}}, []int{3}},
		{"bool false", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"up": false}}, nil},
		{"time", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"boot": when.In(time.FixedZone("y", -7200))}}, []int{3}},
		{"list", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"l": []string{"a", "b"}}}, []int{3}},
		{"list order matters", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"l": []string{"b", "a"}}}, nil},
		{"injection is data", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"note": "x' OR '1'='1"}}, []int{5}},
		{"combined", store.NodeFilter{Kind: store.KindCI, Owner: "ops", Environment: "production", Tag: "pci", Classes: []string{"LinuxServer"}}, []int{0}},
		{"seen before", store.NodeFilter{Kind: store.KindCI, SeenBefore: res[0].Node.LastSeenAt.Add(time.Nanosecond)}, []int{0, 1, 2, 3, 4, 5}},
		{"seen before, none", store.NodeFilter{Kind: store.KindCI, SeenBefore: res[0].Node.LastSeenAt}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.ListNodes(t.Context(), tt.f, store.PageRequest{})
			require.NoError(t, err)
			var want, got []store.ID
			for _, i := range tt.want {
				want = append(want, id(i))
			}
			for _, c := range p.Items {
				got = append(got, c.ID)
			}
			assert.ElementsMatch(t, want, got)
			assert.Equal(t, len(want), p.Total)
		})
	}
	for _, bad := range []struct {
		f     store.NodeFilter
		p     store.PageRequest
		field string
	}{
		{store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"bad name": "x"}}, store.PageRequest{}, "filter.attributes"},
		{store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"x": 3}}, store.PageRequest{}, "filter.attributes.x"},
		{store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: -1}, "first"},
		{store.NodeFilter{Kind: store.KindCI}, store.PageRequest{After: "junk"}, "after"},
	} {
		_, err := s.ListNodes(t.Context(), bad.f, bad.p)
		var inv *store.InvalidError
		require.ErrorAs(t, err, &inv)
		assert.Equal(t, bad.field, inv.Field)
	}
}

// TestListCIsPaginationUnderWrites pages through CIs while others are
// created and deleted: the CIs present throughout are each seen once, in
// ID order.
func TestListCIsPaginationUnderWrites(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "pg", 95)
	survivors := map[store.ID]bool{}
	for _, id := range ids {
		survivors[id] = true
	}
	seen := map[store.ID]int{}
	var order []store.ID
	cursor := ""
	for page := 0; ; page++ {
		p, err := s.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Classes: []string{"Node"}}, store.PageRequest{First: 10, After: cursor})
		require.NoError(t, err)
		for _, c := range p.Items {
			seen[c.ID]++
			order = append(order, c.ID)
		}
		if !p.HasNext {
			break
		}
		cursor = p.EndCursor
		mkNodes(t, s, fmt.Sprintf("new%d-", page), 2)
		for id := range survivors {
			if seen[id] == 0 {
				_, err := s.DeleteNodes(t.Context(), tester, store.KindCI, []store.ID{id})
				require.NoError(t, err)
				delete(survivors, id)
				break
			}
		}
		require.Less(t, page, 50)
	}
	for id := range survivors {
		assert.Equal(t, 1, seen[id])
	}
	checkKeyTables(t, s)
	for i := 1; i < len(order); i++ {
		assert.Less(t, order[i-1], order[i])
	}
}

func TestHistoryPagination(t *testing.T) {
	s := newStore(t)
	var id store.ID
	for v := 0; v < 23; v++ {
		id = upsertOK(t, s, item("App", []string{"h"}, "v", int64(v)))[0].Node.ID
	}
	var all []store.AuditRecord
	cursor := ""
	for {
		p, err := s.History(t.Context(), string(id), store.PageRequest{First: 4, After: cursor})
		require.NoError(t, err)
		assert.Equal(t, 23, p.Total)
		all = append(all, p.Items...)
		if !p.HasNext {
			break
		}
		cursor = p.EndCursor
	}
	require.Len(t, all, 23)
	for i, r := range all {
		assert.Equal(t, id, store.ID(r.Object))
		assert.Equal(t, store.KindCI, r.Kind)
		if i > 0 {
			assert.False(t, r.Time.After(all[i-1].Time))
			assert.Less(t, r.ID, all[i-1].ID)
		}
	}
	assert.Equal(t, store.ActionCreate, all[22].Action)
	assert.Equal(t, []store.FieldChange{{Field: "v", Before: int64(21), After: int64(22)}}, all[0].Changes)
	_, err := s.History(t.Context(), string(id), store.PageRequest{After: store.EncodeCursor("no-slash")})
	var inv *store.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "after", inv.Field)
	p, err := s.History(t.Context(), "nothing", store.PageRequest{})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
	assert.Empty(t, p.EndCursor)
}

func TestReopenKeepsDataAndIndex(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	ids := mkNodes(t, s, "ro", 5)
	link(t, s, ids, tedge{0, 1, ""}, tedge{1, 2, "RUNS_ON"}, tedge{2, 3, ""}, tedge{4, 0, ""})
	_, err := s.DeleteNodes(t.Context(), tester, store.KindCI, ids[3:4])
	require.NoError(t, err)
	require.NoError(t, s.SaveModelExtension(t.Context(), tester, store.ModelExtension{Kind: store.KindClass, Name: "K", Definition: []byte("{}")}))
	before, err := s.Nodes(t.Context(), store.KindCI, ids)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close twice is fine")
	_, err = s.Nodes(t.Context(), store.KindCI, ids)
	assert.ErrorIs(t, err, store.ErrUnavailable)
	_, err = upsert(t, s, tester, false, item("X", []string{"x"}))
	assert.ErrorIs(t, err, store.ErrUnavailable)
	assert.ErrorIs(t, s.Ping(t.Context()), store.ErrUnavailable)

	s = openAt(t, dir)
	require.NoError(t, s.Ping(t.Context()))
	after, err := s.Nodes(t.Context(), store.KindCI, ids)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	tr, err := s.Expand(t.Context(), store.Traversal{Start: ids[4:5], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 5, MaxNodes: 10})
	require.NoError(t, err)
	var got []store.ID
	for _, n := range tr.Nodes {
		got = append(got, n.ID)
	}
	assert.Equal(t, []store.ID{ids[4], ids[0], ids[1], ids[2]}, got)
	assert.Equal(t, "RUNS_ON", tr.Nodes[3].Type)
	exts, err := s.ModelExtensions(t.Context())
	require.NoError(t, err)
	assert.Len(t, exts, 1)
	// New writes after the reopen: new rows do not collide with old ones.
	more := mkNodes(t, s, "ro2-", 2)
	link(t, s, append(ids, more...), tedge{2, 5, ""})
	tr, err = s.Expand(t.Context(), store.Traversal{Start: ids[4:5], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 5, MaxNodes: 10})
	require.NoError(t, err)
	assert.Len(t, tr.Nodes, 5)
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	openAt(t, dir)
	_, err := Open(t.Context(), dir, Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, store.ErrUnavailable)
	assert.Contains(t, err.Error(), "in use")
	_, err = Open(t.Context(), filepath.Join(dir, "sub?x"), Options{})
	assert.Error(t, err)
	_, err = Open(t.Context(), t.TempDir(), Options{Synchronous: "OFF"})
	assert.Error(t, err)
	// A file where the directory should be.
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	_, err = Open(t.Context(), f, Options{})
	assert.Error(t, err)
}

// TestListCIsRoutesAgree: filters matching most CIs are applied while
// walking the uid index, selective ones through their own index; both
// give every match once, in uid order, page after page.
func TestListCIsRoutesAgree(t *testing.T) {
	assert.True(t, byUID(1500, 7, 2000), "a filter matching most CIs walks the uid index")
	assert.False(t, byUID(5, 7, 2000), "a selective filter uses its index")
	assert.False(t, byUID(300, 100, 2000))

	s := newStore(t)
	var items []store.CIUpsert
	for i := range 2000 {
		name := fmt.Sprintf("bulk-%04d", i)
		if i%97 == 0 {
			name = fmt.Sprintf("rare-%04d", i)
		}
		env := []string{"production", "test"}[i%2]
		tags := []string{"t" + strconv.Itoa(i%3)}
		items = append(items, item("App", []string{"k" + strconv.Itoa(i)}, "name", name, "environment", env, "owner", "team-"+strconv.Itoa(i%5), "tags", tags))
	}
	for start := 0; start < len(items); start += 500 {
		upsertOK(t, s, items[start:start+500]...)
	}
	all := walkCIs(t, s, store.NodeFilter{Kind: store.KindCI}, 1000)
	require.Len(t, all, 2000)
	filters := []struct {
		name  string
		f     store.NodeFilter
		match func(store.CI) bool
	}{
		{"broad name prefix", store.NodeFilter{Kind: store.KindCI, NamePrefix: "bulk-"}, func(c store.CI) bool { return strings.HasPrefix(c.Attributes["name"].(string), "bulk-") }},
		{"rare name prefix", store.NodeFilter{Kind: store.KindCI, NamePrefix: "rare-"}, func(c store.CI) bool { return strings.HasPrefix(c.Attributes["name"].(string), "rare-") }},
		{"environment", store.NodeFilter{Kind: store.KindCI, Environment: "test"}, func(c store.CI) bool { return c.Attributes["environment"] == "test" }},
		{"tag and owner", store.NodeFilter{Kind: store.KindCI, Tag: "t1", Owner: "team-2"}, func(c store.CI) bool {
			return c.Attributes["owner"] == "team-2" && slices.Contains(c.Attributes["tags"].([]string), "t1")
		}},
	}
	for _, tt := range filters {
		var want []store.ID
		for _, c := range all {
			if tt.match(c) {
				want = append(want, c.ID)
			}
		}
		for _, size := range []int{7, 100} {
			got := walkCIs(t, s, tt.f, size)
			ids := make([]store.ID, len(got))
			for i, c := range got {
				ids[i] = c.ID
			}
			assert.Equal(t, want, ids, "%s, pages of %d", tt.name, size)
		}
	}
}

// walkCIs pages through every CI matching f.
func walkCIs(t *testing.T, s *Store, f store.NodeFilter, size int) []store.CI {
	t.Helper()
	var out []store.CI
	p := store.PageRequest{First: size}
	for {
		page, err := s.ListNodes(t.Context(), f, p)
		require.NoError(t, err)
		out = append(out, page.Items...)
		if !page.HasNext {
			require.Len(t, out, page.Total)
			return out
		}
		p.After = page.EndCursor
	}
}

// TestCorruptRowIsNotUnavailable: stored data that does not decode is an
// error that names the CI, not "store unavailable; try again later", which
// retrying could never mend.
func TestCorruptRowIsNotUnavailable(t *testing.T) {
	dir := t.TempDir()
	s := openAt(t, dir)
	res := upsertOK(t, s, item("App", []string{"c1"}, "name", "corrupted"))
	id := res[0].Node.ID
	require.NoError(t, s.write(t.Context(), func(w *wtx, _ *patch) error {
		_, err := w.conn.ExecContext(t.Context(), "UPDATE cis SET attrs = '{\"name\": ' WHERE uid = ?", string(id))
		return err
	}))
	_, err := s.Nodes(t.Context(), store.KindCI, []store.ID{id})
	require.Error(t, err)
	assert.NotErrorIs(t, err, store.ErrUnavailable)
	assert.Contains(t, err.Error(), "does not decode")
	assert.Contains(t, err.Error(), string(id), "the message names the CI")
	_, err = s.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{})
	assert.NotErrorIs(t, err, store.ErrUnavailable)

	// Reopened, the store opens (its node summaries skip the row) and a
	// summary read says what is wrong instead of answering from memory.
	require.NoError(t, s.Close())
	s = openAt(t, dir)
	_, err = s.NodeFields(t.Context(), store.KindCI, []store.ID{id}, store.SummaryAttributes)
	require.Error(t, err)
	assert.Contains(t, err.Error(), string(id), "the message names the CI")
	other := upsertOK(t, s, item("App", []string{"c2"}, "name", "fine"))[0].Node.ID
	got, err := s.NodeFields(t.Context(), store.KindCI, []store.ID{other}, store.SummaryAttributes)
	require.NoError(t, err)
	assert.Equal(t, "fine", got[other].Attributes["name"])
}
