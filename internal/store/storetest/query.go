package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// queryCases pin the filter language (store.Expr through internal/cmdb's
// type checks), sorting, keyset and offset pages.
var queryCases = []testCase{
	{"QueryOperators", testQueryOperators},
	{"QueryErrorsNameTheField", testQueryErrors},
	{"QuerySortsAndPages", testQuerySorts},
	{"QueryPagesStableUnderWrites", testQueryPagesUnderWrites},
	{"QueryPageLimits", testQueryPageLimits},
}

// gadgetClass registers a class with an attribute of every type and
// returns a service that knows it.
func gadgetClass(t *testing.T, st store.Store) *cmdb.Service {
	t.Helper()
	svc := newService(t, st)
	_, err := svc.RegisterClass(t.Context(), api, cmdb.ClassDef{
		Name: "Gadget", Parent: "CI", Identification: [][]string{{"name"}},
		Attributes: []cmdb.AttributeDef{
			{Name: "count", Type: cmdb.TypeInt},
			{Name: "ratio", Type: cmdb.TypeFloat},
			{Name: "active", Type: cmdb.TypeBool},
			{Name: "due", Type: cmdb.TypeTime},
			{Name: "labels", Type: cmdb.TypeList},
			{Name: "mode", Type: cmdb.TypeEnum, Values: []string{"Alpha", "Beta"}},
			{Name: "note", Type: cmdb.TypeString, MaxLength: 4096},
		},
	})
	require.NoError(t, err)
	return svc
}

func gadget(name string, attrs ...any) cmdb.UpsertItem {
	it := app(name, attrs...)
	it.Class = "Gadget"
	return it
}

// Raw filter values as a GraphQL client sends them (JSON numbers keep
// their digits).
func qNum(s string) json.Number { return json.Number(s) }

func qLeaf(field string, op store.Op, v any) store.Expr {
	if op == store.OpIn {
		return store.Expr{Op: op, Field: field, Values: v.([]any)}
	}
	return store.Expr{Op: op, Field: field, Value: v}
}

func qExact(e store.Expr) store.Expr   { e.CaseSensitive = true; return e }
func qAnd(es ...store.Expr) store.Expr { return store.Expr{Op: store.OpAnd, Args: es} }
func qOr(es ...store.Expr) store.Expr  { return store.Expr{Op: store.OpOr, Args: es} }
func qNot(e store.Expr) store.Expr     { return store.Expr{Op: store.OpNot, Args: []store.Expr{e}} }

var longNote = strings.Repeat("é", 1500) + "END"

func gadgets(t *testing.T, svc *cmdb.Service) {
	t.Helper()
	upsertOK(t, svc, agent,
		gadget("g1", "count", 8, "ratio", 0.5, "active", true, "due", "2024-01-01T00:00:00Z", "labels", []any{"PCI", "web"},
			"mode", "Alpha", "note", "Hello World", "owner", "Ops", "tags", []any{"PCI"}),
		gadget("g2", "count", qNum("9223372036854775807"), "ratio", 8.0, "active", false, "due", "2024-01-01T00:00:00.5Z",
			"labels", []any{"web"}, "mode", "beta", "note", "ßtraße Ünïcödé", "owner", "Ops"),
		gadget("g3", "count", qNum("-9223372036854775808"), "ratio", -1e300, "due", "1678-01-01T00:00:00Z", "note", longNote, "owner", "Dev"),
		gadget("x'); DROP TABLE cis; --", "note", "$param `n` }) MATCH (n) DETACH DELETE n //"),
		gadget("Ünïcode-名前", "count", 7),
		app("plain-app"),
	)
}

func testQueryOperators(t *testing.T, st store.Store) {
	svc := gadgetClass(t, st)
	gadgets(t, svc)
	const g4 = "x'); DROP TABLE cis; --"
	const g5 = "Ünïcode-名前"
	all := []string{"g1", "g2", "g3", g4, g5, "plain-app"}
	except := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(all), func(s string) bool { return slices.Contains(drop, s) })
	}
	countGT0 := qLeaf("count", store.OpGt, 0)
	tests := []struct {
		name string
		e    store.Expr
		want []string
	}{
		// Numbers: integers and floats compare with each other, to the
		// ends of the int64 range.
		{"int eq", qLeaf("count", store.OpEq, 8), []string{"g1"}},
		{"int eq float value", qLeaf("count", store.OpEq, 8.0), []string{"g1"}},
		{"int eq fractional float", qLeaf("count", store.OpEq, 8.5), nil},
		{"int gt float", qLeaf("count", store.OpGt, 7.5), []string{"g1", "g2"}},
		{"int lt", qLeaf("count", store.OpLt, 8), []string{"g3", g5}},
		{"int lte", qLeaf("count", store.OpLte, 8), []string{"g1", "g3", g5}},
		{"int gte max int64", qLeaf("count", store.OpGte, qNum("9223372036854775807")), []string{"g2"}},
		{"int lte min int64", qLeaf("count", store.OpLte, qNum("-9223372036854775808")), []string{"g3"}},
		{"int as a string", qLeaf("count", store.OpEq, "8"), []string{"g1"}},
		{"int in", qLeaf("count", store.OpIn, []any{7, 8}), []string{"g1", g5}},
		{"int in, mixed with floats", qLeaf("count", store.OpIn, []any{7, 8.5}), []string{g5}},
		{"float eq int value", qLeaf("ratio", store.OpEq, 8), []string{"g2"}},
		{"float gt", qLeaf("ratio", store.OpGt, 0), []string{"g1", "g2"}},
		{"float lt huge negative", qLeaf("ratio", store.OpLt, -1e299), []string{"g3"}},
		// Booleans, and not over a missing attribute.
		{"bool true", qLeaf("active", store.OpEq, true), []string{"g1"}},
		{"bool false", qLeaf("active", store.OpEq, false), []string{"g2"}},
		{"bool as a string", qLeaf("active", store.OpEq, "false"), []string{"g2"}},
		{"bool in", qLeaf("active", store.OpIn, []any{true, false}), []string{"g1", "g2"}},
		{"not bool true matches the unset", qNot(qLeaf("active", store.OpEq, true)), except("g1")},
		// Times compare as instants (not as text: .5Z sorts before Z).
		{"time gt", qLeaf("due", store.OpGt, "2024-01-01T00:00:00Z"), []string{"g2"}},
		{"time gte", qLeaf("due", store.OpGte, "2024-01-01"), []string{"g1", "g2"}},
		{"time eq fraction", qLeaf("due", store.OpEq, "2024-01-01T01:00:00.5+01:00"), []string{"g2"}},
		{"time lt", qLeaf("due", store.OpLt, "2000-01-01"), []string{"g3"}},
		{"time at the range limit", qLeaf("due", store.OpLte, "1678-01-01T00:00:00Z"), []string{"g3"}},
		{"time in", qLeaf("due", store.OpIn, []any{"1678-01-01", "2024-01-01T00:00:00Z"}), []string{"g1", "g3"}},
		{"created_at lte the end of time", qLeaf(store.FieldCreatedAt, store.OpLte, "2261-12-31"), all},
		{"updated_at after the future", qLeaf(store.FieldUpdatedAt, store.OpGt, "2261-01-01"), nil},
		{"last_seen_at gte the start of time", qLeaf(store.FieldLastSeenAt, store.OpGte, "1678-01-01"), all},
		// Lists: contains is membership, not a substring.
		{"list contains ignores case", qLeaf("labels", store.OpContains, "pci"), []string{"g1"}},
		{"list contains, case-sensitive", qExact(qLeaf("labels", store.OpContains, "pci")), nil},
		{"list contains, case-sensitive, exact", qExact(qLeaf("labels", store.OpContains, "PCI")), []string{"g1"}},
		{"list contains a whole element", qLeaf("labels", store.OpContains, "we"), nil},
		{"list eq", qLeaf("labels", store.OpEq, []any{"PCI", "web"}), []string{"g1"}},
		{"list eq is a set", qLeaf("labels", store.OpEq, []any{"web", "PCI", "web"}), []string{"g1"}},
		{"tags contains", qLeaf("tags", store.OpContains, "pci"), []string{"g1"}},
		// Strings.
		{"string eq ignores case", qLeaf("note", store.OpEq, "hello WORLD"), []string{"g1"}},
		{"string eq, case-sensitive", qExact(qLeaf("note", store.OpEq, "hello world")), nil},
		{"string contains", qLeaf("note", store.OpContains, "o wor"), []string{"g1"}},
		{"string contains beyond ASCII", qLeaf("note", store.OpContains, "ÜNÏ"), []string{"g2"}},
		{"string prefix", qLeaf("note", store.OpPrefix, "HELLO"), []string{"g1"}},
		{"string prefix, case-sensitive", qExact(qLeaf("note", store.OpPrefix, "HELLO")), nil},
		{"string lt", qLeaf("note", store.OpLt, "b"), []string{g4}},
		{"string gt beyond ASCII", qLeaf("note", store.OpGt, "z"), []string{"g2", "g3"}},
		{"empty prefix matches every value", qLeaf("note", store.OpPrefix, ""), []string{"g1", "g2", "g3", g4}},
		{"empty contains matches every value", qLeaf("note", store.OpContains, ""), []string{"g1", "g2", "g3", g4}},
		{"empty eq matches none", qLeaf("note", store.OpEq, ""), nil},
		{"very long string", qLeaf("note", store.OpEq, strings.ToUpper(longNote)), []string{"g3"}},
		{"name prefix beyond ASCII", qLeaf("name", store.OpPrefix, "ÜNÏ"), []string{g5}},
		{"name gte", qLeaf("name", store.OpGte, "x"), []string{g4, g5}},
		{"name in", qLeaf("name", store.OpIn, []any{"G1", "plain-APP"}), []string{"g1", "plain-app"}},
		{"owner in, case-sensitive", qExact(qLeaf("owner", store.OpIn, []any{"ops", "Dev"})), []string{"g3"}},
		{"names that look like injection", qLeaf("name", store.OpEq, g4), []string{g4}},
		{"values that look like injection", qLeaf("note", store.OpContains, "`n` })"), []string{g4}},
		// Enums take canonical values for eq and in.
		{"enum eq", qLeaf("mode", store.OpEq, "alpha"), []string{"g1"}},
		{"enum in", qLeaf("mode", store.OpIn, []any{"ALPHA", "beta"}), []string{"g1", "g2"}},
		{"enum prefix", qLeaf("mode", store.OpPrefix, "b"), []string{"g2"}},
		{"status eq", qLeaf("status", store.OpEq, "LIVE"), all},
		// Node fields.
		{"class eq", qLeaf(store.FieldClass, store.OpEq, "Gadget"), except("plain-app")},
		{"class in", qLeaf(store.FieldClass, store.OpIn, []any{"Application", "Database"}), []string{"plain-app"}},
		// exists.
		{"exists", qLeaf("note", store.OpExists, true), []string{"g1", "g2", "g3", g4}},
		{"exists false", qLeaf("note", store.OpExists, false), []string{g5, "plain-app"}},
		{"exists false on a text column", qLeaf("owner", store.OpExists, false), []string{g4, g5, "plain-app"}},
		// and / or / not.
		{"and", qAnd(countGT0, qLeaf("mode", store.OpEq, "beta")), []string{"g2"}},
		{"or", qOr(qLeaf("mode", store.OpEq, "beta"), qLeaf("labels", store.OpContains, "pci")), []string{"g1", "g2"}},
		{"and of or", qAnd(countGT0, qOr(qLeaf("mode", store.OpEq, "beta"), qLeaf("labels", store.OpContains, "pci"))), []string{"g1", "g2"}},
		{"not of and", qNot(qAnd(countGT0, qOr(qLeaf("mode", store.OpEq, "beta"), qLeaf("labels", store.OpContains, "pci")))), except("g1", "g2")},
		{"not matches nodes without the attribute", qNot(qLeaf("note", store.OpPrefix, "h")), except("g1")},
		{"not not", qNot(qNot(qLeaf("count", store.OpLt, 8))), []string{"g3", g5}},
		{"or with nothing matching", qOr(qLeaf("count", store.OpGt, qNum("9223372036854775807")), qLeaf("note", store.OpEq, "nope")), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := svc.ListCIs(t.Context(), cmdb.Filter{Where: &tt.e}, store.PageRequest{First: 100})
			require.NoError(t, err)
			assert.Equal(t, len(p.Items), p.Total)
			assert.ElementsMatch(t, tt.want, names(p.Items))
		})
	}
	// Where and the fixed filter fields combine with and.
	e := qLeaf("owner", store.OpEq, "ops")
	p, err := svc.ListCIs(t.Context(), cmdb.Filter{Class: "Gadget", Tag: "pci", Where: &e}, store.PageRequest{})
	require.NoError(t, err)
	assert.Equal(t, []string{"g1"}, names(p.Items))
}

func testQueryErrors(t *testing.T, st store.Store) {
	svc := gadgetClass(t, st)
	ok := qLeaf("count", store.OpGt, 1)
	deep := ok
	for range store.MaxExprDepth {
		deep = qNot(deep)
	}
	wide := store.Expr{Op: store.OpOr}
	for range store.MaxExprNodes {
		wide.Args = append(wide.Args, ok)
	}
	many := make([]any, store.MaxExprValues+1)
	for i := range many {
		many[i] = i
	}
	for _, tt := range []struct {
		name  string
		e     store.Expr
		field string
	}{
		{"unknown attribute", qLeaf("nope", store.OpEq, 1), "where.attribute"},
		{"unknown attribute, nested", qAnd(ok, ok, qLeaf("nope", store.OpEq, 1)), "where.and[2].attribute"},
		{"under not and or", qNot(qOr(ok, qLeaf("nope", store.OpEq, 1))), "where.not.or[1].attribute"},
		{"attribute name that is not one", qLeaf("x') OR 1=1 --", store.OpEq, 1), "where.attribute"},
		{"unknown operator", store.Expr{Op: "like", Field: "note", Value: "x"}, "where"},
		{"no operator", store.Expr{Field: "note", Value: "x"}, "where"},
		{"wrong operator for a number", qLeaf("count", store.OpPrefix, "1"), "where.prefix"},
		{"wrong operator for a boolean", qLeaf("active", store.OpLt, true), "where.lt"},
		{"wrong operator for a list", qLeaf("labels", store.OpGt, "a"), "where.gt"},
		{"wrong operator for the class", qLeaf(store.FieldClass, store.OpPrefix, "Gad"), "where.prefix"},
		{"wrong value type", qLeaf("count", store.OpEq, "many"), "where.eq"},
		{"wrong value type in a list", qLeaf("count", store.OpIn, []any{1, "x"}), "where.in[1]"},
		{"not a time", qLeaf("due", store.OpGt, "yesterday"), "where.gt"},
		{"time out of range", qLeaf(store.FieldCreatedAt, store.OpGt, "9999-01-01"), "where.gt"},
		{"not an enum value", qLeaf("mode", store.OpEq, "gamma"), "where.eq"},
		{"unknown class", qLeaf(store.FieldClass, store.OpEq, "Nope"), "where.eq"},
		{"exists takes a boolean", qLeaf("note", store.OpExists, "yes"), "where.exists"},
		{"no value", store.Expr{Op: store.OpEq, Field: "note"}, "where.eq"},
		{"empty in", qLeaf("note", store.OpIn, []any{}), "where.in"},
		{"empty and", store.Expr{Op: store.OpAnd}, "where.and"},
		{"string too long", qLeaf("note", store.OpEq, strings.Repeat("x", store.MaxExprText+1)), "where.eq"},
		{"too deep", qNot(deep), strings.Repeat("where.not", 1) + strings.Repeat(".not", store.MaxExprDepth-1)},
		{"too many nodes", wide, fmt.Sprintf("where.or[%d]", store.MaxExprNodes-1)},
		{"too many values", qLeaf("count", store.OpIn, many), "where.in"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.ListCIs(t.Context(), cmdb.Filter{Where: &tt.e}, store.PageRequest{})
			requireInvalid(t, err, tt.field)
		})
	}
	// The backends check what reaches them, whoever built it.
	for _, tt := range []struct {
		name  string
		e     store.Expr
		field string
	}{
		{"identifier", qLeaf("a b", store.OpEq, "x"), "where.attribute"},
		{"value type", qLeaf("note", store.OpEq, struct{}{}), "where.eq"},
		{"value for the operator", qLeaf("note", store.OpPrefix, int64(1)), "where.prefix"},
		{"mixed in", qLeaf("note", store.OpIn, []any{"a", int64(1)}), "where.in[1]"},
		{"time out of range", qLeaf("due", store.OpEq, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), "where.eq"},
	} {
		t.Run("store/"+tt.name, func(t *testing.T) {
			_, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Where: &tt.e}, store.PageRequest{})
			requireInvalid(t, err, tt.field)
		})
	}
}

// sortedBy is the reference order of s: by the sort key, missing keys last
// in ascending order, then by ID; descending is the exact reverse.
func sortedBy(s store.Sort, cis []store.CI) []store.CI {
	out := slices.Clone(cis)
	slices.SortFunc(out, func(a, b store.CI) int {
		c := compareKeys(s.SortKey(a), s.SortKey(b))
		if c == 0 {
			c = strings.Compare(string(a.ID), string(b.ID))
		}
		if s.Desc {
			return -c
		}
		return c
	})
	return out
}

func compareKeys(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	panic(fmt.Sprintf("sort key %T", a))
}

func ciIDs(cis []store.CI) []store.ID {
	out := make([]store.ID, len(cis))
	for i, c := range cis {
		out[i] = c.ID
	}
	return out
}

// walkPages lists every CI matching f in pages of size, by cursor or by
// offset.
func walkPages(t *testing.T, st store.Store, f store.NodeFilter, size int, byOffset bool) []store.CI {
	t.Helper()
	var out []store.CI
	p := store.PageRequest{First: size}
	for range 1000 {
		page, err := st.ListNodes(t.Context(), f, p)
		require.NoError(t, err)
		require.Len(t, page.Cursors, len(page.Items))
		out = append(out, page.Items...)
		if !page.HasNext {
			return out
		}
		if byOffset {
			p.Offset += size
		} else {
			p.After = page.EndCursor
		}
	}
	t.Fatal("paging does not end")
	return nil
}

var querySorts = []store.Sort{
	{}, {Desc: true}, {Field: store.FieldClass}, {Field: store.FieldClass, Desc: true},
	{Field: "name"}, {Field: "name", Desc: true}, {Field: "owner"}, {Field: "owner", Desc: true},
	{Field: "status"}, {Field: "environment", Desc: true}, {Field: "support_group"},
	{Field: store.FieldCreatedAt}, {Field: store.FieldCreatedAt, Desc: true}, {Field: store.FieldUpdatedAt, Desc: true},
	{Field: store.FieldLastSeenAt},
}

func testQuerySorts(t *testing.T, st store.Store) {
	svc := gadgetClass(t, st)
	gadgets(t, svc)
	// Ties: one batch shares its times; owners and environments repeat or
	// are missing.
	items := make([]cmdb.UpsertItem, 12)
	for i := range items {
		items[i] = gadget(fmt.Sprintf("tie-%02d", i%5)+fmt.Sprintf("-%d", i), "owner", []string{"Ops", "Dev", "ops", ""}[i%4], "environment", []string{"production", "test", ""}[i%3])
	}
	upsertOK(t, svc, builder, items...)
	everything, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 1000})
	require.NoError(t, err)
	for _, s := range querySorts {
		t.Run(fmt.Sprintf("%s desc=%v", s.Field, s.Desc), func(t *testing.T) {
			f := store.NodeFilter{Kind: store.KindCI, Sort: s}
			full, err := st.ListNodes(t.Context(), f, store.PageRequest{First: 1000})
			require.NoError(t, err)
			assert.Equal(t, ciIDs(sortedBy(s, everything.Items)), ciIDs(full.Items), "order")
			assert.Equal(t, ciIDs(full.Items), ciIDs(walkPages(t, st, f, 3, false)), "keyset pages")
			assert.Equal(t, ciIDs(full.Items), ciIDs(walkPages(t, st, f, 3, true)), "offset pages")
			// Each item's cursor resumes right after it.
			for i := 0; i+1 < len(full.Items); i += 5 {
				p, err := st.ListNodes(t.Context(), f, store.PageRequest{First: 1, After: full.Cursors[i]})
				require.NoError(t, err)
				require.Len(t, p.Items, 1)
				assert.Equal(t, full.Items[i+1].ID, p.Items[0].ID)
			}
			// With a filter, a sort still orders the matches only.
			e := qLeaf(store.FieldClass, store.OpEq, "Gadget")
			ff := store.NodeFilter{Kind: store.KindCI, Sort: s, Where: &e}
			fp, err := st.ListNodes(t.Context(), ff, store.PageRequest{First: 1000})
			require.NoError(t, err)
			want := slices.DeleteFunc(slices.Clone(full.Items), func(c store.CI) bool { return c.Class != "Gadget" })
			assert.Equal(t, ciIDs(want), ciIDs(fp.Items))
			assert.Equal(t, ciIDs(want), ciIDs(walkPages(t, st, ff, 4, false)))
		})
	}
	// The service passes a sort on; a field that cannot be sorted by is
	// an error naming orderBy.
	p, err := svc.ListCIs(t.Context(), cmdb.Filter{Sort: store.Sort{Field: "name", Desc: true}}, store.PageRequest{First: 1})
	require.NoError(t, err)
	assert.Equal(t, []string{"Ünïcode-名前"}, names(p.Items))
	_, err = svc.ListCIs(t.Context(), cmdb.Filter{Sort: store.Sort{Field: "note"}}, store.PageRequest{})
	requireInvalid(t, err, "orderBy.field")
}

// testQueryPagesUnderWrites walks a sorted list with ties by cursor while
// CIs are created and deleted: every CI that existed throughout is seen
// once, in order; afterwards keyset and offset pages agree.
func testQueryPagesUnderWrites(t *testing.T, st store.Store) {
	svc := newService(t, st)
	owners := []string{"alpha", "beta", "gamma", ""}
	items := make([]cmdb.UpsertItem, 40)
	for i := range items {
		items[i] = app(fmt.Sprintf("w%02d", i), "owner", owners[i%4])
	}
	survivors := map[store.ID]bool{}
	for _, r := range upsertOK(t, svc, builder, items...) {
		survivors[r.Node.ID] = true
	}
	for _, s := range []store.Sort{{Field: "owner"}, {Field: "owner", Desc: true}, {Field: store.FieldCreatedAt, Desc: true}} {
		t.Run(fmt.Sprintf("%s desc=%v", s.Field, s.Desc), func(t *testing.T) {
			f := store.NodeFilter{Kind: store.KindCI, Sort: s}
			seen := map[store.ID]int{}
			var order []store.CI
			p := store.PageRequest{First: 4}
			for page := 0; ; page++ {
				pg, err := st.ListNodes(t.Context(), f, p)
				require.NoError(t, err)
				for _, c := range pg.Items {
					seen[c.ID]++
					order = append(order, c)
				}
				if !pg.HasNext {
					break
				}
				p.After = pg.EndCursor
				upsertOK(t, svc, builder, app(fmt.Sprintf("new-%s-%v-%02d", s.Field, s.Desc, page), "owner", owners[page%4]))
				for id := range survivors {
					if seen[id] == 0 {
						_, err := st.DeleteNodes(t.Context(), builder, store.KindCI, []store.ID{id})
						require.NoError(t, err)
						delete(survivors, id)
						break
					}
				}
				require.Less(t, page, 100, "paging terminates")
			}
			for id := range survivors {
				assert.Equal(t, 1, seen[id], "CI %s seen once", id)
			}
			for id, n := range seen {
				assert.Equal(t, 1, n, "CI %s repeated", id)
			}
			assert.Equal(t, ciIDs(sortedBy(s, order)), ciIDs(order), "in order")
			assert.Equal(t, ciIDs(walkPages(t, st, f, 7, false)), ciIDs(walkPages(t, st, f, 7, true)), "keyset and offset pages agree")
		})
	}
}

func testQueryPageLimits(t *testing.T, st store.Store) {
	nodes(t, st, "lim", 5)
	byName := store.NodeFilter{Kind: store.KindCI, Sort: store.Sort{Field: "name"}}
	p, err := st.ListNodes(t.Context(), byName, store.PageRequest{First: 2, Offset: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"lim2", "lim3"}, names(p.Items))
	assert.Equal(t, 5, p.Total)
	assert.True(t, p.HasNext)
	// An offset page's cursors continue by keyset.
	p, err = st.ListNodes(t.Context(), byName, store.PageRequest{First: 5, After: p.EndCursor})
	require.NoError(t, err)
	assert.Equal(t, []string{"lim4"}, names(p.Items))
	p, err = st.ListNodes(t.Context(), byName, store.PageRequest{First: 2, Offset: 5})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
	assert.False(t, p.HasNext)
	assert.Equal(t, 5, p.Total)
	_, err = st.ListNodes(t.Context(), byName, store.PageRequest{Offset: store.MaxOffsetWindow - store.DefaultPageSize})
	require.NoError(t, err)

	full, err := st.ListNodes(t.Context(), byName, store.PageRequest{First: 1})
	require.NoError(t, err)
	cursor := full.EndCursor
	idCursor, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 1})
	require.NoError(t, err)
	for _, tt := range []struct {
		name  string
		f     store.NodeFilter
		p     store.PageRequest
		field string
	}{
		{"negative offset", byName, store.PageRequest{Offset: -1}, "offset"},
		{"offset with after", byName, store.PageRequest{Offset: 1, After: cursor}, "offset"},
		{"offset beyond the window", byName, store.PageRequest{First: 10, Offset: store.MaxOffsetWindow - 9}, "offset"},
		{"huge offset", byName, store.PageRequest{Offset: 1 << 62}, "offset"},
		{"page size", byName, store.PageRequest{First: store.MaxPageSize + 1}, "first"},
		{"unknown sort field", store.NodeFilter{Kind: store.KindCI, Sort: store.Sort{Field: "note"}}, store.PageRequest{}, "orderBy.field"},
		{"sort field that looks like injection", store.NodeFilter{Kind: store.KindCI, Sort: store.Sort{Field: "name DESC; --"}}, store.PageRequest{}, "orderBy.field"},
		{"cursor of another order", store.NodeFilter{Kind: store.KindCI, Sort: store.Sort{Field: "name", Desc: true}}, store.PageRequest{After: cursor}, "after"},
		{"cursor of another field", store.NodeFilter{Kind: store.KindCI, Sort: store.Sort{Field: "owner"}}, store.PageRequest{After: cursor}, "after"},
		{"ID cursor in a sorted list", byName, store.PageRequest{After: idCursor.EndCursor}, "after"},
		{"sorted cursor in the ID list", store.NodeFilter{Kind: store.KindCI}, store.PageRequest{After: cursor}, "after"},
		{"cursor of relationships", byName, store.PageRequest{After: store.EncodeRelCursor(true, "RUNS_ON", "x")}, "after"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.ListNodes(t.Context(), tt.f, tt.p)
			requireInvalid(t, err, tt.field)
		})
	}
	// Lists without offset pages refuse an offset.
	_, err = st.Audit(t.Context(), store.AuditFilter{}, store.PageRequest{Offset: 1})
	requireInvalid(t, err, "offset")
}
