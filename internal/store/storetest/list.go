package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var listCases = []testCase{
	{"ListFilters", testListFilters},
	{"ListPaginationIsStableUnderWrites", testPaginationStable},
	{"ListBadPageRequests", testListBadPages},
	{"ListFiltersIgnoreCase", testListIgnoreCase},
}

func names(cis []store.CI) []string {
	out := make([]string, len(cis))
	for i, c := range cis {
		out[i], _ = c.Attributes["name"].(string)
	}
	return out
}

func testListFilters(t *testing.T, st store.Store) {
	svc := newService(t, st)
	upsertOK(t, svc, agent,
		server("LinuxServer", "name", "lin-1", "serial_number", "L1", "environment", "production", "owner", "ops", "support_group", "unix", "tags", []any{"pci", "web"}, "cpu_count", 8),
		server("LinuxServer", "name", "lin-2", "serial_number", "L2", "environment", "test", "owner", "ops", "status", "retired", "cpu_count", 4),
		server("WindowsServer", "name", "win-1", "serial_number", "W1", "environment", "production", "support_group", "wintel", "tags", []any{"web"}),
		server("Server", "name", "srv-1", "serial_number", "S1", "cpu_count", 8),
		app("lin-app", "owner", "ops", "criticality", 1),
	)
	list := func(f cmdb.Filter) []string {
		t.Helper()
		p, err := svc.ListCIs(t.Context(), f, store.PageRequest{})
		require.NoError(t, err)
		assert.Equal(t, len(p.Items), p.Total)
		return names(p.Items)
	}
	tests := []struct {
		name string
		f    cmdb.Filter
		want []string
	}{
		{"class with subclasses", cmdb.Filter{Class: "Server"}, []string{"lin-1", "lin-2", "win-1", "srv-1"}},
		{"exact class", cmdb.Filter{Class: "Server", ExactClass: true}, []string{"srv-1"}},
		{"subclass", cmdb.Filter{Class: "LinuxServer"}, []string{"lin-1", "lin-2"}},
		{"status", cmdb.Filter{Status: []string{"retired"}}, []string{"lin-2"}},
		{"status any of", cmdb.Filter{Status: []string{"live", "RETIRED"}}, []string{"lin-1", "lin-2", "win-1", "srv-1", "lin-app"}},
		{"environment", cmdb.Filter{Environment: "production"}, []string{"lin-1", "win-1"}},
		{"owner", cmdb.Filter{Owner: "ops"}, []string{"lin-1", "lin-2", "lin-app"}},
		{"support group", cmdb.Filter{SupportGroup: "wintel"}, []string{"win-1"}},
		{"tag", cmdb.Filter{Tag: "web"}, []string{"lin-1", "win-1"}},
		{"tag is exact", cmdb.Filter{Tag: "we"}, nil},
		{"name prefix", cmdb.Filter{NamePrefix: "lin-"}, []string{"lin-1", "lin-2", "lin-app"}},
		{"name prefix ignores case", cmdb.Filter{NamePrefix: "LIN-"}, []string{"lin-1", "lin-2", "lin-app"}},
		{"name prefix, case-sensitive", cmdb.Filter{NamePrefix: "LIN-", CaseSensitive: true}, nil},
		{"name prefix is not a pattern", cmdb.Filter{NamePrefix: "lin%"}, nil},
		{"attribute equality int", cmdb.Filter{Attributes: map[string]any{"cpu_count": 8}}, []string{"lin-1", "srv-1"}},
		{"attribute equality string", cmdb.Filter{Attributes: map[string]any{"serial_number": "W1"}}, []string{"win-1"}},
		{"attribute and class", cmdb.Filter{Class: "LinuxServer", Attributes: map[string]any{"cpu_count": "8"}}, []string{"lin-1"}},
		{"combined", cmdb.Filter{Owner: "ops", Environment: "production", Tag: "pci"}, []string{"lin-1"}},
		{"nothing matches", cmdb.Filter{Owner: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ElementsMatch(t, tt.want, list(tt.f))
		})
	}
	ids := []store.ID{}
	p, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{})
	require.NoError(t, err)
	for _, c := range p.Items[:2] {
		ids = append(ids, c.ID)
	}
	p, err = st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, IDs: ids}, store.PageRequest{})
	require.NoError(t, err)
	assert.Len(t, p.Items, 2)

	for _, bad := range []struct {
		f     cmdb.Filter
		field string
	}{
		{cmdb.Filter{Class: "Sever"}, "filter.class"},
		{cmdb.Filter{Status: []string{"dead"}}, "filter.status[0]"},
		{cmdb.Filter{Environment: "prod-ish"}, "filter.environment"},
		{cmdb.Filter{Attributes: map[string]any{"cpu_count": "many"}}, "filter.attributes.cpu_count"},
		{cmdb.Filter{Attributes: map[string]any{"no_such_attr": "x"}}, "filter.attributes.no_such_attr"},
	} {
		_, err := svc.ListCIs(t.Context(), bad.f, store.PageRequest{})
		requireInvalid(t, err, bad.field)
	}
	_, err = st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"bad name": "x"}}, store.PageRequest{})
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie)
}

// testPaginationStable pages through CIs while others are created and
// deleted: every CI that existed throughout is seen exactly once, in order.
func testPaginationStable(t *testing.T, st store.Store) {
	svc := newService(t, st)
	const n = 53
	items := make([]cmdb.UpsertItem, n)
	for i := range items {
		items[i] = app(fmt.Sprintf("page%02d", i))
	}
	created := upsertOK(t, svc, builder, items...)
	survivors := map[store.ID]bool{}
	for _, r := range created {
		survivors[r.Node.ID] = true
	}
	seen := map[store.ID]int{}
	var order []store.ID
	cursor := ""
	for page := 0; ; page++ {
		p, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 7, After: cursor})
		require.NoError(t, err)
		for _, c := range p.Items {
			seen[c.ID]++
			order = append(order, c.ID)
		}
		if !p.HasNext {
			require.NotEmpty(t, p.Items, "the last page is not empty here")
			break
		}
		require.NotEmpty(t, p.EndCursor)
		cursor = p.EndCursor
		// Writes between pages: new CIs, and a deletion of one not yet seen.
		upsertOK(t, svc, builder, app(fmt.Sprintf("new%02d", page)))
		for id := range survivors {
			if seen[id] == 0 {
				_, err := st.DeleteNodes(t.Context(), builder, store.KindCI, []store.ID{id})
				require.NoError(t, err)
				delete(survivors, id)
				break
			}
		}
		require.Less(t, page, 100, "pagination terminates")
	}
	for id := range survivors {
		assert.Equal(t, 1, seen[id], "CI %s seen once", id)
	}
	for id, c := range seen {
		assert.Equal(t, 1, c, "CI %s repeated", id)
	}
	for i := 1; i < len(order); i++ {
		assert.Less(t, string(order[i-1]), string(order[i]), "ordered by id")
	}
}

func testListBadPages(t *testing.T, st store.Store) {
	nodes(t, st, "bp", 3)
	_, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: -1})
	requireInvalid(t, err, "first")
	_, err = st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: store.MaxPageSize + 1})
	requireInvalid(t, err, "first")
	_, err = st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{After: "not a cursor"})
	requireInvalid(t, err, "after")
	// A well-formed cursor of another list (a relationship page's) is not
	// a position in this one.
	_, err = st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{After: store.EncodeRelCursor(true, "RUNS_ON", "x")})
	requireInvalid(t, err, "after")
	p, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 3})
	require.NoError(t, err)
	assert.Len(t, p.Items, 3)
	assert.False(t, p.HasNext)
	assert.Equal(t, 3, p.Total)
	p, err = st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 3, After: p.EndCursor})
	require.NoError(t, err)
	assert.Empty(t, p.Items)
	assert.False(t, p.HasNext)
}

// testListIgnoreCase: text filters (name, name prefix, owner, support
// group, tag, string attributes) ignore case unless CaseSensitive, as
// identification does; a name lookup matches the whole name.
func testListIgnoreCase(t *testing.T, st store.Store) {
	svc := newService(t, st)
	upsertOK(t, svc, agent,
		server("Hypervisor", "name", "ESX-fra1-01", "serial_number", "C1", "owner", "Tomasz Nowak", "support_group", "SG-Payments", "tags", []any{"PCI", "prod"}, "manufacturer", "VMware"),
		server("Hypervisor", "name", "esx-fra1-02", "serial_number", "C2", "owner", "tomasz nowak", "tags", []any{"pci"}),
		server("LinuxServer", "name", "Séver-01", "serial_number", "C3", "owner", "Zoë Ärger"),
		app("other-esx"),
	)
	tests := []struct {
		name string
		f    cmdb.Filter
		want []string
	}{
		{"name", cmdb.Filter{Name: "esx-FRA1-01"}, []string{"ESX-fra1-01"}},
		{"name is the whole name", cmdb.Filter{Name: "esx"}, nil},
		{"name, case-sensitive", cmdb.Filter{Name: "esx-FRA1-01", CaseSensitive: true}, nil},
		{"name, case-sensitive, exact", cmdb.Filter{Name: "ESX-fra1-01", CaseSensitive: true}, []string{"ESX-fra1-01"}},
		{"name beyond ASCII", cmdb.Filter{Name: "SÉVER-01"}, []string{"Séver-01"}},
		{"name prefix", cmdb.Filter{NamePrefix: "ESX"}, []string{"ESX-fra1-01", "esx-fra1-02"}},
		{"name prefix, case-sensitive", cmdb.Filter{NamePrefix: "ESX", CaseSensitive: true}, []string{"ESX-fra1-01"}},
		{"name prefix beyond ASCII", cmdb.Filter{NamePrefix: "sÉv"}, []string{"Séver-01"}},
		{"owner", cmdb.Filter{Owner: "TOMASZ NOWAK"}, []string{"ESX-fra1-01", "esx-fra1-02"}},
		{"owner, case-sensitive", cmdb.Filter{Owner: "Tomasz Nowak", CaseSensitive: true}, []string{"ESX-fra1-01"}},
		{"owner beyond ASCII", cmdb.Filter{Owner: "zoë ärger"}, []string{"Séver-01"}},
		{"support group", cmdb.Filter{SupportGroup: "sg-payments"}, []string{"ESX-fra1-01"}},
		{"tag", cmdb.Filter{Tag: "Pci"}, []string{"ESX-fra1-01", "esx-fra1-02"}},
		{"tag, case-sensitive", cmdb.Filter{Tag: "PCI", CaseSensitive: true}, []string{"ESX-fra1-01"}},
		{"tag is a whole tag", cmdb.Filter{Tag: "pc"}, nil},
		{"string attribute", cmdb.Filter{Attributes: map[string]any{"manufacturer": "vmware"}}, []string{"ESX-fra1-01"}},
		{"string attribute, case-sensitive", cmdb.Filter{Attributes: map[string]any{"manufacturer": "vmware"}, CaseSensitive: true}, nil},
		{"name and owner", cmdb.Filter{Name: "ESX-FRA1-02", Owner: "Tomasz Nowak"}, []string{"esx-fra1-02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := svc.ListCIs(t.Context(), tt.f, store.PageRequest{})
			require.NoError(t, err)
			assert.Equal(t, len(p.Items), p.Total)
			assert.ElementsMatch(t, tt.want, names(p.Items))
		})
	}
}
