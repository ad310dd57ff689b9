package cmdb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestUpsertNodesOfKinds: people and groups go through the same upsert as
// CIs: validated against their class, identified by their keys (user
// name and e-mail ignoring case), never duplicated, and refused with a
// field path naming what the client wrote.
func TestUpsertNodesOfKinds(t *testing.T) {
	svc := newTestService(t)
	ctx := t.Context()
	hr := store.Actor{Name: "hr-sync", Source: "ldap"}
	res, err := svc.UpsertNodes(ctx, hr, KindPerson, []UpsertItem{{Attributes: map[string]any{"user_name": "amartin", "name": "Alice Martin", "email": "Alice.Martin@Example.com"}}}, true)
	require.NoError(t, err)
	require.Equal(t, store.StatusCreated, res[0].Status)
	alice := res[0].Node
	assert.Equal(t, store.ObjectKind(KindPerson), alice.Kind)
	assert.Equal(t, "Person", alice.Class, "the kind's root class when none is named")
	assert.Equal(t, true, alice.Attributes["active"], "the default applies")
	assert.Equal(t, "alice.martin@example.com", alice.Attributes["email"])

	tests := []struct {
		name   string
		kind   string
		item   UpsertItem
		status store.Status
		field  string // of the error, for a failed item
		same   bool   // identified as alice
	}{
		{"same user name, other case", KindPerson, UpsertItem{Attributes: map[string]any{"user_name": "AMartin", "name": "Alice Martin", "title": "SRE"}}, store.StatusUpdated, "", true},
		{"renamed login, same e-mail", KindPerson, UpsertItem{Attributes: map[string]any{"user_name": "alice.m", "name": "Alice Martin", "email": "ALICE.MARTIN@example.com"}}, store.StatusUpdated, "", true},
		{"unchanged", KindPerson, UpsertItem{Attributes: map[string]any{"user_name": "alice.m", "name": "Alice Martin"}}, store.StatusUnchanged, "", true},
		{"new person", KindPerson, UpsertItem{Attributes: map[string]any{"user_name": "bob", "name": "Bob"}}, store.StatusCreated, "", false},
		{"missing user name", KindPerson, UpsertItem{Attributes: map[string]any{"name": "Nobody"}}, store.StatusInvalid, "items[0].attributes.user_name", false},
		{"bad e-mail", KindPerson, UpsertItem{Attributes: map[string]any{"user_name": "c", "name": "C", "email": "not-an-address"}}, store.StatusInvalid, "items[0].attributes.email", false},
		{"unknown attribute", KindPerson, UpsertItem{Attributes: map[string]any{"user_name": "c", "name": "C", "serial_number": "x"}}, store.StatusInvalid, "items[0].attributes.serial_number", false},
		{"a CI class for a person", KindPerson, UpsertItem{Class: "Server", Attributes: map[string]any{"user_name": "c", "name": "C"}}, store.StatusInvalid, "items[0].class", false},
		{"bad group type", KindGroup, UpsertItem{Attributes: map[string]any{"name": "ops", "type": "party"}}, store.StatusInvalid, "items[0].attributes.type", false},
		{"group", KindGroup, UpsertItem{Attributes: map[string]any{"name": "Ops", "type": "support"}}, store.StatusCreated, "", false},
		{"a person's identity for a group", KindGroup, UpsertItem{Class: "Person", Attributes: map[string]any{"user_name": "amartin", "name": "x"}}, store.StatusInvalid, "items[0].class", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := svc.UpsertNodes(ctx, hr, tt.kind, []UpsertItem{tt.item}, false)
			require.NoError(t, err)
			assert.Equal(t, tt.status, res[0].Status, "%v", res[0].Err)
			if tt.field != "" {
				f, ok := store.FieldOf(res[0].Err)
				require.True(t, ok, "%v", res[0].Err)
				assert.Equal(t, tt.field, f)
				return
			}
			assert.Equal(t, tt.same, res[0].Node.ID == alice.ID)
			assert.Equal(t, store.ObjectKind(tt.kind), res[0].Node.Kind)
		})
	}
	_, err = svc.UpsertNodes(ctx, hr, "request", []UpsertItem{{Attributes: map[string]any{"number": "REQ1"}}}, false)
	f, _ := store.FieldOf(err)
	assert.Equal(t, "kind", f, "a kind the model does not declare: %v", err)
	_, err = svc.UpsertNodes(ctx, hr, "incident", []UpsertItem{{Attributes: map[string]any{"number": "INC0010001", "short_description": "x"}}}, false)
	f, _ = store.FieldOf(err)
	assert.Equal(t, "kind", f, "incidents are not upserted: their workflow owns them: %v", err)
	_, err = svc.UpdateNode(ctx, hr, "incident", "x", map[string]any{"state": "closed"}, 0)
	f, _ = store.FieldOf(err)
	assert.Equal(t, "kind", f, "nor updated around their workflow: %v", err)

	page, err := svc.ListNodes(ctx, KindPerson, Filter{}, store.PageRequest{})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Total, "alice and bob, once each")
	cis, err := svc.ListCIs(ctx, Filter{}, store.PageRequest{})
	require.NoError(t, err)
	assert.Zero(t, cis.Total, "people are not CIs")
}

// TestUpdateAndListNodes: an update by ID with an expected version, list
// filters and sorting on a person's attributes, and text search by kind.
func TestUpdateAndListNodes(t *testing.T) {
	svc := newTestService(t)
	ctx := t.Context()
	api := store.Actor{Name: "t", Source: "api"}
	res, err := svc.UpsertNodes(ctx, api, KindPerson, []UpsertItem{
		{Attributes: map[string]any{"user_name": "amartin", "name": "Alice Martin", "department": "Platform"}},
		{Attributes: map[string]any{"user_name": "bdupont", "name": "Bruno Dupont", "department": "Finance"}},
		{Attributes: map[string]any{"user_name": "cchen", "name": "Chen Chen", "department": "Platform", "active": false}},
	}, true)
	require.NoError(t, err)
	alice := res[0].Node

	up, err := svc.UpdateNode(ctx, api, KindPerson, alice.ID, map[string]any{"title": "SRE lead"}, alice.Version)
	require.NoError(t, err)
	assert.Equal(t, alice.Version+1, up.Node.Version)
	_, err = svc.UpdateNode(ctx, api, KindPerson, alice.ID, map[string]any{"title": "CTO"}, alice.Version)
	var ve *store.VersionConflictError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, up.Node.Version, ve.Current)
	_, err = svc.UpdateNode(ctx, api, KindGroup, alice.ID, map[string]any{"name": "x"}, 0)
	assert.ErrorIs(t, err, store.ErrNotFound, "a person is no group")
	_, err = svc.UpdateNode(ctx, api, KindPerson, alice.ID, map[string]any{"user_name": nil}, 0)
	f, _ := store.FieldOf(err)
	assert.Equal(t, "attributes.user_name", f, "%v", err)

	tests := []struct {
		name  string
		f     Filter
		want  []string // user names, in order
		field string
	}{
		{"attribute, ignoring case", Filter{Attributes: map[string]any{"department": "platform"}}, []string{"amartin", "cchen"}, ""},
		{"where on a bool", Filter{Where: &store.Expr{Op: store.OpEq, Field: "active", Value: false}}, []string{"cchen"}, ""},
		{"sorted by name, descending", Filter{Sort: store.Sort{Field: "name", Desc: true}}, []string{"cchen", "bdupont", "amartin"}, ""},
		{"a CI attribute", Filter{Where: &store.Expr{Op: store.OpEq, Field: "cpu_count", Value: 4}}, nil, "where.attribute"},
		{"status, which people lack", Filter{Status: []string{"live"}}, nil, "filter.status"},
		{"a CI class", Filter{Class: "Server"}, nil, "filter.class"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := svc.ListNodes(ctx, KindPerson, tt.f, store.PageRequest{})
			if tt.field != "" {
				f, ok := store.FieldOf(err)
				require.True(t, ok, "%v", err)
				assert.Equal(t, tt.field, f)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, n := range page.Items {
				got = append(got, n.Attributes["user_name"].(string))
			}
			assert.Equal(t, tt.want, got)
		})
	}

	hits, err := svc.SearchNodes(ctx, KindPerson, "dupont", SearchFilter{}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, hits.Items, 1)
	assert.Equal(t, "bdupont", hits.Items[0].CI.Attributes["user_name"])
	hits, err = svc.Search(ctx, "dupont", SearchFilter{}, store.PageRequest{})
	require.NoError(t, err)
	assert.Empty(t, hits.Items, "CI search finds no person")

	set, err := svc.SetActive(ctx, api, KindPerson, []store.ID{alice.ID, "00000000-0000-0000-0000-000000000000"}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUpdated, set[0].Status)
	assert.Equal(t, false, set[0].Node.Attributes["active"])
	assert.Equal(t, "SRE lead", set[0].Node.Attributes["title"], "deactivating keeps everything else")
	assert.Equal(t, store.StatusNotFound, set[1].Status)
}
