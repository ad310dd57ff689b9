package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// kindCases: the backend contract is over nodes of any kind. Every read
// and write names its kind (or AnyKind), and a kind never leaks into
// another's answers, even where names are shared.
var kindCases = []testCase{
	{"ReadsByKind", testReadsByKind},
	{"ListsByKind", testListsByKind},
	{"SearchByKind", testSearchByKind},
	{"DeleteByKind", testDeleteByKind},
	{"VersionsOfPeople", testVersionsOfPeople},
	{"NodeFieldsArePartsOfNodes", testNodeFields},
}

// kindEstate writes two people, one group and two CIs; a person and a CI
// share the name "web-01", and a group and a CI the name "payments".
func kindEstate(t *testing.T, st store.Store, svc *cmdb.Service) (people, groups, cis []store.ID) {
	t.Helper()
	people = []store.ID{
		upsertNode(t, st, svc, "person", "Person", store.Attributes{"user_name": "amartin", "name": "web-01", "email": "alice.martin@example.com"}, "Person|user_name|amartin"),
		upsertNode(t, st, svc, "person", "Person", store.Attributes{"user_name": "bkowalski", "name": "Bruno Kowalski"}, "Person|user_name|bkowalski"),
	}
	groups = []store.ID{
		upsertNode(t, st, svc, "group", "Group", store.Attributes{"name": "payments"}, "Group|name|payments"),
	}
	res := upsertOK(t, svc, api, app("web-01"), app("payments"))
	cis = []store.ID{res[0].Node.ID, res[1].Node.ID}
	return people, groups, cis
}

func testReadsByKind(t *testing.T, st store.Store) {
	svc := newService(t, st)
	people, groups, cis := kindEstate(t, st, svc)
	all := slices.Concat(people, groups, cis)
	for _, tt := range []struct {
		kind store.ObjectKind
		want []store.ID
	}{
		{store.KindCI, cis},
		{"person", people},
		{"group", groups},
		{store.AnyKind, all},
		{"incident", nil},
	} {
		got, err := st.Nodes(t.Context(), tt.kind, all)
		require.NoError(t, err)
		assert.ElementsMatch(t, tt.want, mapKeys(got), "kind %q", tt.kind)
		for id, n := range got {
			if tt.kind != store.AnyKind {
				assert.Equal(t, tt.kind, n.Kind, "node %s", id)
			}
		}
	}
}

func testListsByKind(t *testing.T, st store.Store) {
	svc := newService(t, st)
	people, groups, cis := kindEstate(t, st, svc)
	list := func(f store.NodeFilter, p store.PageRequest) store.Page[store.Node] {
		t.Helper()
		page, err := st.ListNodes(t.Context(), f, p)
		require.NoError(t, err)
		return page
	}
	ids := func(p store.Page[store.Node]) []store.ID {
		out := make([]store.ID, len(p.Items))
		for i, n := range p.Items {
			out[i] = n.ID
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    store.NodeFilter
		want []store.ID
	}{
		{"every person", store.NodeFilter{Kind: "person"}, people},
		{"every group", store.NodeFilter{Kind: "group"}, groups},
		{"every CI", store.NodeFilter{Kind: store.KindCI}, cis},
		{"every node", store.NodeFilter{}, slices.Concat(people, groups, cis)},
		{"a name among CIs", store.NodeFilter{Kind: store.KindCI, Name: "web-01"}, cis[:1]},
		{"the same name among people", store.NodeFilter{Kind: "person", Name: "WEB-01"}, people[:1]},
		{"the name in every kind", store.NodeFilter{Name: "web-01"}, []store.ID{people[0], cis[0]}},
		{"a group's name among CIs", store.NodeFilter{Kind: store.KindCI, Name: "payments"}, cis[1:]},
		{"a class of another kind", store.NodeFilter{Kind: store.KindCI, Classes: []string{"Person"}}, nil},
		{"an attribute of people", store.NodeFilter{Kind: "person", Attributes: store.Attributes{"email": "alice.martin@example.com"}}, people[:1]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := list(tt.f, store.PageRequest{})
			assert.ElementsMatch(t, tt.want, ids(p))
			assert.Equal(t, len(tt.want), p.Total)
		})
	}
	// Both page styles over one kind, in a declared order.
	byName := store.NodeFilter{Kind: "person", Sort: store.Sort{Field: "name", Desc: true}}
	first := list(byName, store.PageRequest{First: 1})
	require.Len(t, first.Items, 1)
	assert.Equal(t, "web-01", first.Items[0].Attributes["name"])
	assert.True(t, first.HasNext)
	assert.Equal(t, 2, first.Total)
	second := list(byName, store.PageRequest{First: 1, After: first.EndCursor})
	assert.Equal(t, people[1:], ids(second))
	assert.False(t, second.HasNext)
	assert.Equal(t, people[1:], ids(list(byName, store.PageRequest{First: 5, Offset: 1})))
	// A kind that is no identifier is refused on the field, not answered
	// with an empty list (Neo4j writes the kind's label into the query).
	for _, bad := range []store.ObjectKind{"per son", "Person`) DETACH DELETE c //"} {
		_, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: bad}, store.PageRequest{First: 5})
		var inv *store.InvalidError
		require.ErrorAs(t, err, &inv, "kind %q", bad)
		assert.Equal(t, "kind", inv.Field)
	}
}

func testSearchByKind(t *testing.T, st store.Store) {
	ts, ok := st.(store.TextSearcher)
	require.True(t, ok, "every backend searches text")
	svc := newService(t, st)
	people, groups, cis := kindEstate(t, st, svc)
	for _, tt := range []struct {
		text string
		kind store.ObjectKind
		want []store.ID
	}{
		{"web", store.KindCI, cis[:1]},
		{"web", "person", people[:1]},
		{"web", store.AnyKind, []store.ID{people[0], cis[0]}},
		{"payments", "group", groups},
		{"payments", store.KindCI, cis[1:]},
		{"kowalski", store.KindCI, nil},
		{"kowalski", "person", people[1:]},
		{"alice.martin", "person", people[:1]},
	} {
		terms, err := store.ParseTextQuery(tt.text)
		require.NoError(t, err)
		got, truncated, err := ts.SearchNodes(t.Context(), store.TextQuery{Kind: tt.kind, Terms: terms, Limit: 10})
		require.NoError(t, err)
		assert.False(t, truncated)
		found := make([]store.ID, len(got))
		for i, n := range got {
			found[i] = n.ID
		}
		assert.ElementsMatch(t, tt.want, found, "%q in kind %q", tt.text, tt.kind)
	}
}

// testDeleteByKind: a delete names its kind; an ID of a node of another
// kind is not found and loses nothing; a deleted node's audit record has
// its kind, and its relationships go with it, audited.
func testDeleteByKind(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	people, groups, cis := kindEstate(t, st, svc)
	rels, err := svc.CreateRelationships(ctx, api, []cmdb.RelationshipItem{
		{Type: "MEMBER_OF_GROUP", Source: people[0], Target: groups[0]},
		{Type: "OWNED_BY", Source: cis[0], Target: people[0]},
	}, true)
	require.NoError(t, err)

	res, err := st.DeleteNodes(ctx, api, store.KindCI, []store.ID{people[0], groups[0]})
	require.NoError(t, err)
	for i, r := range res {
		assert.Equal(t, store.StatusNotFound, r.Status, "item %d", i)
		assert.ErrorIs(t, r.Err, store.ErrNotFound)
		assert.ErrorContains(t, r.Err, "no CI has this ID")
	}
	got, err := st.Nodes(ctx, store.AnyKind, slices.Concat(people, groups, cis))
	require.NoError(t, err)
	assert.Len(t, got, 5, "a delete of another kind loses nothing")

	res, err = st.DeleteNodes(ctx, api, "person", []store.ID{people[0], cis[0], people[0]})
	require.NoError(t, err)
	assert.Equal(t, []store.Status{store.StatusDeleted, store.StatusNotFound, store.StatusNotFound},
		[]store.Status{res[0].Status, res[1].Status, res[2].Status})
	assert.ErrorContains(t, res[1].Err, "no person has this ID")
	assert.Equal(t, store.ObjectKind("person"), res[0].Node.Kind)
	got, err = st.Nodes(ctx, store.AnyKind, slices.Concat(people, groups, cis))
	require.NoError(t, err)
	assert.NotContains(t, got, people[0])
	assert.Len(t, got, 4)
	left, err := st.Relationships(ctx, []store.ID{rels[0].Relationship.ID, rels[1].Relationship.ID})
	require.NoError(t, err)
	assert.Empty(t, left, "the person's relationships went with it")

	audit, err := st.Audit(ctx, store.AuditFilter{Objects: []string{string(people[0])}}, store.PageRequest{First: 10})
	require.NoError(t, err)
	var kinds []store.ObjectKind
	for _, r := range audit.Items {
		if r.Action == store.ActionDelete {
			kinds = append(kinds, r.Kind)
		}
	}
	assert.ElementsMatch(t, []store.ObjectKind{"person", store.KindRelationship, store.KindRelationship}, kinds,
		"one delete record for the person and one per relationship")

	res, err = st.DeleteNodes(ctx, api, store.AnyKind, []store.ID{groups[0], "01900000-0000-7000-8000-000000000000"})
	require.NoError(t, err)
	assert.Equal(t, store.StatusDeleted, res[0].Status)
	assert.Equal(t, store.ObjectKind("group"), res[0].Node.Kind)
	assert.ErrorContains(t, res[1].Err, "no node has this ID")
}

// testVersionsOfPeople: versions and expected versions work for every kind
// alike; an update by ID of a node of another kind is not found.
func testVersionsOfPeople(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	people, _, cis := kindEstate(t, st, svc)
	update := func(kind store.ObjectKind, id store.ID, expected int64, title string) store.UpsertResult {
		t.Helper()
		res, err := st.UpsertNodes(ctx, api, store.UpsertBatch{Kind: kind, Reconcile: svc.Model().Reconcile, Items: []store.NodeUpsert{{
			ID: id, Class: "Person", Attributes: store.Attributes{"title": title}, ExpectedVersion: expected,
		}}})
		require.NoError(t, err)
		require.Len(t, res, 1)
		return res[0]
	}
	r := update("person", people[0], 1, "SRE")
	require.NoError(t, r.Err)
	assert.Equal(t, store.StatusUpdated, r.Status)
	assert.Equal(t, int64(2), r.Node.Version)

	r = update("person", people[0], 1, "Manager")
	assert.Equal(t, store.StatusConflict, r.Status)
	var ve *store.VersionConflictError
	require.ErrorAs(t, r.Err, &ve)
	assert.Equal(t, store.ObjectKind("person"), ve.Kind)
	assert.Equal(t, int64(2), ve.Current)
	assert.ErrorContains(t, r.Err, "person "+string(people[0])+" is at version 2, not 1")

	r = update("person", cis[0], 0, "Manager")
	assert.Equal(t, store.StatusNotFound, r.Status, "a CI is not a person")
	got, err := st.Nodes(ctx, store.AnyKind, []store.ID{people[0], cis[0]})
	require.NoError(t, err)
	assert.Equal(t, "SRE", got[people[0]].Attributes["title"], "the conflict changed nothing")
	assert.Equal(t, int64(2), got[people[0]].Version)
	assert.NotContains(t, got[cis[0]].Attributes, "title")
	assert.Equal(t, int64(1), got[cis[0]].Version)
}

// testNodeFields: NodeFields gives exactly the named attributes of Nodes'
// answer (every value type, times included), with ID, kind, class and
// version, for the kind asked; bad arguments are refused by name.
func testNodeFields(t *testing.T, st store.Store) {
	svc := timedClass(t, st)
	people, groups, cis := kindEstate(t, st, svc)
	res := upsertOK(t, svc, api,
		app("billing", "criticality", 1, "tags", []any{"pci", "eu"}, "owner", "amartin", "description", `a "quoted", \\escaped {value}`),
		cmdb.UpsertItem{Class: "Certificate", Attributes: map[string]any{"name": "cert-1", "expires_on": "2027-03-01T10:00:00.5Z", "owner": "payments"}})
	_, err := svc.UpdateNode(t.Context(), api, cmdb.KindCI, res[0].Node.ID, map[string]any{"status": "maintenance"}, 0)
	require.NoError(t, err)
	// A node deleted, one whose owner was cleared and environment set: the
	// answers follow the writes.
	gone := upsertOK(t, svc, api, app("gone-soon"))[0].Node.ID
	_, err = st.DeleteNodes(t.Context(), api, store.KindCI, []store.ID{gone})
	require.NoError(t, err)
	_, err = svc.UpdateNode(t.Context(), api, cmdb.KindCI, res[1].Node.ID, map[string]any{"owner": nil, "environment": "production"}, 0)
	require.NoError(t, err)
	cis = append(cis, res[0].Node.ID, res[1].Node.ID)
	// Unknown, deleted and non-canonical ids name no node.
	all := slices.Concat(people, groups, cis, []store.ID{"00000000-0000-7000-8000-000000000000", gone, store.ID(strings.ToUpper(string(cis[0])))})
	fieldSets := [][]string{
		{"name", "criticality", "tags", "expires_on", "owner", "status", "user_name", "no_such_attribute"},
		store.SummaryAttributes, // all of them: a backend may answer these from memory
		{"status", "name", "status"},
	}
	for _, fields := range fieldSets {
		for _, kind := range []store.ObjectKind{store.KindCI, "person", store.AnyKind, "incident"} {
			full, err := st.Nodes(t.Context(), kind, all)
			require.NoError(t, err)
			got, err := st.NodeFields(t.Context(), kind, all, fields)
			require.NoError(t, err)
			want := map[store.ID]store.Node{}
			for id, n := range full {
				part := store.Node{ID: n.ID, Kind: n.Kind, Class: n.Class, Version: n.Version, Attributes: store.Attributes{}}
				for _, f := range fields {
					if v, ok := n.Attributes[f]; ok {
						part.Attributes[f] = v
					}
				}
				want[id] = part
			}
			assert.Equal(t, want, got, "kind %q, fields %q", kind, fields)
		}
	}
	bare, err := st.NodeFields(t.Context(), store.AnyKind, all, nil)
	require.NoError(t, err)
	require.Len(t, bare, len(all)-3, "every node but the unknown, deleted and non-canonical ids")
	for id, n := range bare {
		assert.Empty(t, n.Attributes, "no fields asked: no attributes (%s)", id)
		assert.NotEmpty(t, n.Class, id)
		assert.NotEmpty(t, n.Kind, id)
	}
	got, err := st.NodeFields(t.Context(), store.KindCI, []store.ID{res[0].Node.ID}, []string{"status"})
	require.NoError(t, err)
	assert.Equal(t, "maintenance", got[res[0].Node.ID].Attributes["status"])
	assert.EqualValues(t, 2, got[res[0].Node.ID].Version)

	for _, bad := range []struct {
		ids    []store.ID
		fields []string
		field  string
	}{
		{cis, []string{"name", "x) RETURN 1 //"}, "fields[1]"},
		{cis, []string{"id"}, "fields[0]"},
		{make([]store.ID, store.MaxBatch+1), []string{"name"}, "ids"},
		{cis, slices.Repeat([]string{"name"}, store.MaxNodeFields+1), "fields"},
	} {
		_, err := st.NodeFields(t.Context(), store.KindCI, bad.ids, bad.fields)
		var inv *store.InvalidError
		require.ErrorAs(t, err, &inv, "%v", bad.fields)
		assert.Equal(t, bad.field, inv.Field)
	}
}
