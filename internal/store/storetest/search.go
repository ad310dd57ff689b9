package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var searchCases = []testCase{
	{"SearchRanksByAttributeWeight", testSearchRanking},
	{"SearchPrefixAndPhrase", testSearchPrefixPhrase},
	{"SearchSeesWritesAtOnce", testSearchSeesWrites},
	{"SearchHostileInput", testSearchHostile},
	{"SearchPagesAreStable", testSearchPaging},
	{"SearchFilters", testSearchFilters},
	{"SearchRegisteredClass", testSearchRegisteredClass},
}

// A registered class's searchable attributes are searched with their
// weights; its other attributes are not.
func testSearchRegisteredClass(t *testing.T, st store.Store) {
	svc := newService(t, st)
	_, err := svc.RegisterClass(t.Context(), api, cmdb.ClassDef{
		Name: "Printer", Parent: "CI", Identification: [][]string{{"asset_tag"}},
		Attributes: []cmdb.AttributeDef{
			{Name: "asset_tag", Type: cmdb.TypeString, Searchable: true, SearchWeight: 10},
			{Name: "location_note", Type: cmdb.TypeString},
		},
	})
	require.NoError(t, err)
	upsertOK(t, svc, api,
		cmdb.UpsertItem{Class: "Printer", Attributes: map[string]any{"name": "printer-a", "asset_tag": "AT-99", "location_note": "hidden words"}},
		app("at 99 app"),
	)
	res, err := svc.Search(t.Context(), "at-99", cmdb.SearchFilter{}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, res.Items, 2)
	assert.Equal(t, "printer-a", res.Items[0].CI.Attributes["name"])
	assert.Equal(t, float64(20), res.Items[0].Score)
	assert.Equal(t, float64(8), res.Items[1].Score)
	assert.Empty(t, search(t, svc, "hidden", cmdb.SearchFilter{}))
	for _, c := range []struct {
		def   cmdb.AttributeDef
		field string
	}{
		{cmdb.AttributeDef{Name: "n", Type: cmdb.TypeInt, Searchable: true}, "input.attributes[0].searchable"},
		{cmdb.AttributeDef{Name: "n", Type: cmdb.TypeString, SearchWeight: 2}, "input.attributes[0].search_weight"},
		{cmdb.AttributeDef{Name: "n", Type: cmdb.TypeString, Searchable: true, SearchWeight: 11}, "input.attributes[0].search_weight"},
	} {
		_, err := svc.RegisterClass(t.Context(), api, cmdb.ClassDef{Name: "Bad", Parent: "CI", Identification: [][]string{{"name"}}, Attributes: []cmdb.AttributeDef{c.def}})
		requireInvalid(t, err, c.field)
	}
}

// search runs a search and returns the names of the hits in rank order.
func search(t *testing.T, svc *cmdb.Service, text string, f cmdb.SearchFilter) []string {
	t.Helper()
	res, err := svc.Search(t.Context(), text, f, store.PageRequest{First: 100})
	require.NoError(t, err, "search %q", text)
	names := make([]string, len(res.Items))
	for i, h := range res.Items {
		names[i], _ = h.CI.Attributes["name"].(string)
	}
	return names
}

func testSearchRanking(t *testing.T, st store.Store) {
	svc := newService(t, st)
	upsertOK(t, svc, api,
		app("ledger", "description", "Talks to the payments gateway."),
		app("payments-api", "description", "Front door."),
		app("billing", "tags", []any{"payments"}),
		app("unrelated", "description", "Nothing to see."),
	)
	res, err := svc.Search(t.Context(), "payments", cmdb.SearchFilter{}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, res.Items, 3)
	// name (weight 4) > tags (2) > description (1), each a whole-word match.
	got := []string{}
	for _, h := range res.Items {
		got = append(got, fmt.Sprintf("%s=%v", h.CI.Attributes["name"], h.Score))
	}
	assert.Equal(t, []string{"payments-api=8", "billing=4", "ledger=2"}, got)
	assert.Equal(t, 3, res.Total)
	assert.False(t, res.Truncated)
	assert.Equal(t, []cmdb.Highlight{{Attribute: "name", Fragments: []cmdb.Fragment{{Text: "payments", Match: true}, {Text: "-api"}}}}, res.Items[0].Highlights)
	assert.Equal(t, []cmdb.Highlight{{Attribute: "description", Fragments: []cmdb.Fragment{
		{Text: "Talks to the "}, {Text: "payments", Match: true}, {Text: " gateway."}}}}, res.Items[2].Highlights)
	// A whole word outranks a prefix in the same attribute.
	upsertOK(t, svc, api, app("pay"))
	assert.Equal(t, []string{"pay", "payments-api", "billing", "ledger"}, search(t, svc, "pay*", cmdb.SearchFilter{}))
}

func testSearchPrefixAndPhraseItems(t *testing.T, svc *cmdb.Service) {
	t.Helper()
	upsertOK(t, svc, api,
		app("ledger", "description", "Talks to the Payments Gateway over TLS."),
		app("gateway", "description", "Payments are not its business."),
		cmdb.UpsertItem{Class: "Server", Attributes: map[string]any{"name": "db-01", "ip_address": "10.1.2.3", "serial_number": "sn-4711"}},
		cmdb.UpsertItem{Class: "Server", Attributes: map[string]any{"name": "db-02", "ip_address": "10.1.2.30", "serial_number": "sn-4712"}},
		app("Ünïcode Café", "description", "ÉLAN vital"),
	)
}

func testSearchPrefixPhrase(t *testing.T, st store.Store) {
	svc := newService(t, st)
	testSearchPrefixAndPhraseItems(t, svc)
	for _, c := range []struct {
		text string
		want []string
	}{
		{"gateway", []string{"gateway", "ledger"}},
		{"GATE*", []string{"gateway", "ledger"}},
		{`"payments gateway"`, []string{"ledger"}},
		{`"gateway payments"`, nil},
		{`"payments gate"*`, []string{"ledger"}},
		{"payments tls", []string{"ledger"}},
		{"10.1.2.3", []string{"db-01"}},
		{"10.1.2.3*", []string{"db-01", "db-02"}},
		{"10.1.2.30", []string{"db-02"}},
		{"SN4711", []string{"db-01"}}, // serials are stored normalised
		{"db-0*", []string{"db-01", "db-02"}},
		{"café", []string{"Ünïcode Café"}},
		{"CAFÉ élan", []string{"Ünïcode Café"}},
		{"cafe", nil},
		{"ledger gateway", []string{"ledger"}},
		{"nosuchword", nil},
	} {
		got := search(t, svc, c.text, cmdb.SearchFilter{})
		if c.want == nil {
			c.want = []string{}
		}
		assert.Equal(t, c.want, got, "search %q", c.text)
	}
}

func testSearchSeesWrites(t *testing.T, st store.Store) {
	svc := newService(t, st)
	res := upsertOK(t, svc, api, app("alpha-service", "description", "first words"))
	id := res[0].Node.ID
	assert.Equal(t, []string{"alpha-service"}, search(t, svc, "first", cmdb.SearchFilter{}))
	_, err := svc.UpdateCI(t.Context(), api, id, map[string]any{"description": "second words"})
	require.NoError(t, err)
	assert.Empty(t, search(t, svc, "first", cmdb.SearchFilter{}))
	assert.Equal(t, []string{"alpha-service"}, search(t, svc, "second", cmdb.SearchFilter{}))
	_, err = svc.UpdateCI(t.Context(), api, id, map[string]any{"description": nil})
	require.NoError(t, err)
	assert.Empty(t, search(t, svc, "second", cmdb.SearchFilter{}))
	_, err = svc.RetireCIs(t.Context(), api, []store.ID{id})
	require.NoError(t, err)
	assert.Equal(t, []string{"alpha-service"}, search(t, svc, "alpha", cmdb.SearchFilter{}), "a retired CI is still a CI")
	_, err = svc.PurgeCIs(t.Context(), api, []store.ID{id}, false)
	require.NoError(t, err)
	assert.Empty(t, search(t, svc, "alpha", cmdb.SearchFilter{}))
}

// hostileQueries are strings that mean something to FTS5, Lucene, SQL or
// Cypher.
var hostileQueries = []string{
	`a AND b`, `a OR b`, `NOT a`, `a NEAR b`, `NEAR(a b, 2)`, `body:a`, `name:x*`, `a^4`, `a~2`, `a~`,
	`[a TO z]`, `{a TO z}`, `(a`, `a)`, `"a`, `a"`, `""a""`, `\`, `\\"`, `a\*`, `*a`, `?a`, `a?`, `/re.*/`,
	`+a -b`, `a && b || c`, `!a`, `a:b:c`, `'a'`, `a'); DROP TABLE cis; --`, `$query`, `a*b*c*`,
	"a\x00b", "ünïcødé 日本語 ١٢٣", `-`, `*`, `**`, `"*"`, `" "`, `.`, `...`, `:`, `^`, `~`, `{}`, `()`,
	"\u200b", "\t\n", `AND`, `OR`, `NOT`, `NEAR`,
}

func testSearchHostile(t *testing.T, st store.Store) {
	svc := newService(t, st)
	upsertOK(t, svc, api, app(`body:a (NEAR) "x" OR y*`, "description", `\ AND " * ^~`))
	for _, q := range hostileQueries {
		res, err := svc.Search(t.Context(), q, cmdb.SearchFilter{}, store.PageRequest{})
		if err != nil {
			requireInvalid(t, err, "text")
			continue
		}
		assert.LessOrEqual(t, len(res.Items), 1, "search %q", q)
	}
	for _, q := range []string{"", " ", `-`, `*`, `"*"`, `...`, `()`, "\u200b", `"" ""`} {
		_, err := svc.Search(t.Context(), q, cmdb.SearchFilter{}, store.PageRequest{})
		requireInvalid(t, err, "text")
	}
	// Limits.
	_, err := svc.Search(t.Context(), strings.Repeat("a", store.MaxSearchText+1), cmdb.SearchFilter{}, store.PageRequest{})
	requireInvalid(t, err, "text")
	_, err = svc.Search(t.Context(), strings.Repeat("a ", store.MaxSearchTerms+1), cmdb.SearchFilter{}, store.PageRequest{})
	requireInvalid(t, err, "text")
	_, err = svc.Search(t.Context(), "a", cmdb.SearchFilter{}, store.PageRequest{After: "nonsense"})
	requireInvalid(t, err, "after")
	_, err = svc.Search(t.Context(), "a", cmdb.SearchFilter{}, store.PageRequest{After: store.EncodeCursor("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")})
	requireInvalid(t, err, "after")
	// The operators are words: the CI is found by them.
	assert.Equal(t, []string{`body:a (NEAR) "x" OR y*`}, search(t, svc, `body:a near OR`, cmdb.SearchFilter{}))
	assert.Equal(t, []string{`body:a (NEAR) "x" OR y*`}, search(t, svc, `"AND"`, cmdb.SearchFilter{}))
}

func testSearchPaging(t *testing.T, st store.Store) {
	svc := newService(t, st)
	var items []cmdb.UpsertItem
	for i := range 25 {
		items = append(items, app(fmt.Sprintf("node %02d", i)))
	}
	for i := range 5 {
		items = append(items, app(fmt.Sprintf("other %02d", i), "description", "a node too"))
	}
	upsertOK(t, svc, api, items...)
	all, err := svc.Search(t.Context(), "node", cmdb.SearchFilter{}, store.PageRequest{First: 100})
	require.NoError(t, err)
	require.Len(t, all.Items, 30)
	var paged []store.ID
	after := ""
	for range 10 {
		p, err := svc.Search(t.Context(), "node", cmdb.SearchFilter{}, store.PageRequest{First: 7, After: after})
		require.NoError(t, err)
		assert.Equal(t, 30, p.Total)
		require.Len(t, p.Cursors, len(p.Items))
		for _, h := range p.Items {
			paged = append(paged, h.CI.ID)
		}
		if !p.HasNext {
			break
		}
		after = p.EndCursor
	}
	want := make([]store.ID, len(all.Items))
	for i, h := range all.Items {
		want[i] = h.CI.ID
		if i > 0 {
			prev := all.Items[i-1]
			// Ranked by score, ties by ID.
			assert.True(t, prev.Score > h.Score || prev.Score == h.Score && prev.CI.ID < h.CI.ID, "order at %d", i)
		}
	}
	assert.Equal(t, want, paged)
	for _, h := range all.Items[25:] {
		assert.Contains(t, h.CI.Attributes["name"], "other")
	}
}

func testSearchFilters(t *testing.T, st store.Store) {
	svc := newService(t, st)
	upsertOK(t, svc, api,
		app("orders app"),
		app("orders old", "status", "retired"),
		cmdb.UpsertItem{Class: "LinuxServer", Attributes: map[string]any{"name": "orders-host", "serial_number": "ABC1"}},
		cmdb.UpsertItem{Class: "Server", Attributes: map[string]any{"name": "orders-box", "serial_number": "ABC2"}},
	)
	assert.Equal(t, []string{"orders-box", "orders-host"}, sorted(search(t, svc, "orders", cmdb.SearchFilter{Class: "Server"})))
	assert.Equal(t, []string{"orders-host"}, search(t, svc, "orders", cmdb.SearchFilter{Class: "LinuxServer"}))
	assert.Equal(t, []string{"orders old"}, search(t, svc, "orders", cmdb.SearchFilter{Status: []string{"retired"}}))
	// The store filters before it cuts the candidates: with room for one,
	// the one is of the class asked for.
	terms, err := store.ParseTextQuery("orders")
	require.NoError(t, err)
	for _, class := range []string{"LinuxServer", "Application"} {
		cis, _, err := st.(store.TextSearcher).SearchNodes(t.Context(), store.TextQuery{Kind: store.KindCI, Terms: terms, Limit: 1, Classes: []string{class}})
		require.NoError(t, err)
		require.Len(t, cis, 1, class)
		assert.Equal(t, class, cis[0].Class)
	}
	cis, _, err := st.(store.TextSearcher).SearchNodes(t.Context(), store.TextQuery{Kind: store.KindCI, Terms: terms, Limit: 1, Status: []string{"retired"}})
	require.NoError(t, err)
	require.Len(t, cis, 1)
	assert.Equal(t, "orders old", cis[0].Attributes["name"])
	// Words found in different values of one list attribute both count.
	upsertOK(t, svc, api, cmdb.UpsertItem{Class: "Application", Attributes: map[string]any{"name": "tagged-app", "tags": []any{"zulufoo", "yankeebar"}}})
	assert.Equal(t, []string{"tagged-app"}, search(t, svc, "zulufoo yankeebar", cmdb.SearchFilter{}))
	_, err = svc.Search(t.Context(), "orders", cmdb.SearchFilter{Class: "Nope"}, store.PageRequest{})
	requireInvalid(t, err, "filter.class")
	_, err = svc.Search(t.Context(), "orders", cmdb.SearchFilter{Status: []string{"gone"}}, store.PageRequest{})
	requireInvalid(t, err, "filter.status[0]")
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
