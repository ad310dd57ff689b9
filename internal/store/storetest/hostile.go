package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var hostileCases = []testCase{
	{"InjectionIsPlainData", testInjection},
	{"BadStoreInput", testBadStoreInput},
}

// injections are strings that would change a Cypher or SQL statement if
// spliced into it.
var injections = []string{
	`x' OR '1'='1`,
	`x"}) MATCH (n) DETACH DELETE n //`,
	`'}) WITH 1 AS x MATCH (n) DETACH DELETE n RETURN 1 //`,
	`'; DROP TABLE cis; --`,
	`" ; DELETE FROM identity_keys; --`,
	`$name`,
	"`CI`",
	`\' \" \\`,
	`%s %d %v`,
	`json_extract(attrs, '$.name')`,
	`1; CALL dbms.killQueries([]) //`,
}

func testInjection(t *testing.T, st store.Store) {
	svc := newService(t, st)
	var items []cmdb.UpsertItem
	for i, s := range injections {
		items = append(items, cmdb.UpsertItem{Class: "Application", Attributes: map[string]any{
			"name": fmt.Sprintf("inj%02d %s", i, s), "owner": s, "description": s, "tags": []any{s}, "vendor": s,
		}})
	}
	res := upsertOK(t, svc, agent, items...)
	total := len(injections)
	assert.Equal(t, total, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
	// Stored verbatim.
	ids := make([]store.ID, len(res))
	for i, r := range res {
		ids[i] = r.Node.ID
	}
	got, err := st.Nodes(t.Context(), store.KindCI, ids)
	require.NoError(t, err)
	for i, s := range injections {
		ci := got[ids[i]]
		assert.Equal(t, s, ci.Attributes["owner"])
		assert.Equal(t, []string{s}, ci.Attributes["tags"])
	}
	// Through every filter, each string matches exactly its own CI.
	for i, s := range injections {
		for name, f := range map[string]store.NodeFilter{
			"owner":      {Owner: s},
			"tag":        {Tag: s},
			"nameprefix": {NamePrefix: fmt.Sprintf("inj%02d %s", i, s)},
			"name":       {Name: fmt.Sprintf("inj%02d %s", i, s)},
			"exact name": {Name: fmt.Sprintf("inj%02d %s", i, s), CaseSensitive: true},
			"exact tag":  {Tag: s, CaseSensitive: true},
			"attribute":  {Attributes: store.Attributes{"vendor": s}},
			"group":      {SupportGroup: s},
		} {
			p, err := st.ListNodes(t.Context(), f, store.PageRequest{})
			require.NoError(t, err, "%s %q", name, s)
			if name == "group" {
				assert.Empty(t, p.Items, "%s %q", name, s)
				continue
			}
			require.Len(t, p.Items, 1, "%s %q", name, s)
			assert.Equal(t, ids[i], p.Items[0].ID)
		}
	}
	// As ids, object names and types, classes and attribute names.
	for _, s := range injections {
		m, err := st.Nodes(t.Context(), store.KindCI, []store.ID{store.ID(s)})
		require.NoError(t, err)
		assert.Empty(t, m)
		h, err := st.History(t.Context(), s, store.PageRequest{})
		require.NoError(t, err)
		assert.Empty(t, h.Items, "no object has an injection string for a name")
		rels, err := st.Relationships(t.Context(), []store.ID{store.ID(s)})
		require.NoError(t, err)
		assert.Empty(t, rels)
		del, err := st.DeleteNodes(t.Context(), api, store.KindCI, []store.ID{store.ID(s)})
		require.NoError(t, err)
		assert.Equal(t, store.StatusNotFound, del[0].Status)
		_, err = st.ShortestPath(t.Context(), ids[0], store.ID(s), out(""), 3)
		assert.ErrorIs(t, err, store.ErrNotFound)
		tr, err := st.Expand(t.Context(), store.Traversal{Start: []store.ID{store.ID(s)}, Rules: out(""), MaxDepth: 2, MaxNodes: 5})
		require.NoError(t, err)
		assert.Empty(t, tr.Nodes)

		_, err = svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{{Class: s, Attributes: map[string]any{"name": "x"}}}, true)
		requireInvalid(t, err, "items[0].class")
		_, err = svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{{Class: "Application", Attributes: map[string]any{"name": "x", s: "v"}}}, true)
		var ie *store.InvalidError
		require.ErrorAs(t, err, &ie)
		rr, err := st.CreateRelationships(t.Context(), api, []store.RelationshipInput{{Type: s, Source: ids[0], Target: ids[1]}}, false)
		require.NoError(t, err)
		assert.Equal(t, store.StatusInvalid, rr[0].Status)
		rr, err = st.CreateRelationships(t.Context(), api, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{s: "v"}}}, false)
		require.NoError(t, err)
		assert.Equal(t, store.StatusInvalid, rr[0].Status)
		_, err = st.Expand(t.Context(), store.Traversal{Start: ids[:1], Rules: out(s), MaxDepth: 2, MaxNodes: 5})
		require.ErrorAs(t, err, &ie)
		p, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Classes: []string{s}}, store.PageRequest{})
		if err == nil {
			assert.Empty(t, p.Items, "an unknown class matches nothing")
		} else {
			require.ErrorAs(t, err, &ie)
		}
		_, err = svc.RegisterClass(t.Context(), api, cmdb.ClassDef{Name: s, Parent: "CI", Identification: [][]string{{"name"}}})
		require.ErrorAs(t, err, &ie)
	}
	// Nothing was executed: every CI is still there, unchanged.
	assert.Equal(t, total, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
	got, err = st.Nodes(t.Context(), store.KindCI, ids)
	require.NoError(t, err)
	assert.Len(t, got, total)
}

func testBadStoreInput(t *testing.T, st store.Store) {
	m, err := cmdb.DefaultModel()
	require.NoError(t, err)
	item := func(class string, attrs store.Attributes, keys ...string) store.CIUpsert {
		return store.CIUpsert{Class: class, Attributes: attrs, Keys: keys}
	}
	good := item("Application", store.Attributes{"name": "ok"}, "Application|name|ok")
	_, err = st.UpsertNodes(t.Context(), api, store.UpsertBatch{Items: nil, Reconcile: m.Reconcile})
	requireInvalid(t, err, "items")
	big := make([]store.CIUpsert, store.MaxBatch+1)
	for i := range big {
		big[i] = good
	}
	_, err = st.UpsertNodes(t.Context(), api, store.UpsertBatch{Items: big, Reconcile: m.Reconcile})
	requireInvalid(t, err, "items")
	_, err = st.UpsertNodes(t.Context(), api, store.UpsertBatch{Items: []store.CIUpsert{good}})
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie, "a batch without a reconcile function")

	res, err := st.UpsertNodes(t.Context(), api, store.UpsertBatch{Reconcile: m.Reconcile, Items: []store.CIUpsert{
		item("Bad Class", store.Attributes{"name": "x"}, "k1"),
		item("Application", store.Attributes{"name": "x"}),
		item("Application", store.Attributes{"name": "x", "bad-name": "y"}, "Application|name|x"),
		item("Application", store.Attributes{"name": "x", "id": "y"}, "Application|name|x"),
		good,
	}})
	require.NoError(t, err)
	for i := 0; i < 4; i++ {
		assert.Equal(t, store.StatusInvalid, res[i].Status, "item %d", i)
		require.ErrorAs(t, res[i].Err, &ie, "item %d", i)
		assert.Contains(t, ie.Field, fmt.Sprintf("items[%d]", i))
	}
	assert.Equal(t, store.StatusCreated, res[4].Status)
	_, err = st.DeleteNodes(t.Context(), api, store.KindCI, make([]store.ID, store.MaxBatch+1))
	requireInvalid(t, err, "ids")
	_, err = st.DeleteRelationships(t.Context(), api, nil)
	requireInvalid(t, err, "ids")
	_, err = st.Nodes(t.Context(), store.KindCI, make([]store.ID, store.MaxBatch+1))
	requireInvalid(t, err, "ids")
	assert.Equal(t, 1, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}
