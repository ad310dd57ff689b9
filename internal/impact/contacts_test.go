package impact_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestResolveContacts: the owners and support groups of an impact analysis
// resolve to the people and groups the CMDB linked from the CIs'
// attributes, with two store reads however many CIs are impacted; a name
// that resolves to nobody stays a name with its count.
func TestResolveContacts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		_, err := f.svc.UpsertNodes(ctx, actor, cmdb.KindPerson, []cmdb.UpsertItem{{Attributes: map[string]any{
			"user_name": "contacts-kim", "name": "Kim Miller", "email": "kim.miller@example.com", "mobile": "+1 555 0100"}}}, true)
		require.NoError(t, err)
		_, err = f.svc.UpsertNodes(ctx, actor, cmdb.KindGroup, []cmdb.UpsertItem{
			{Attributes: map[string]any{"name": "contacts-sg", "phone": "+1 555 0199"}}, {Attributes: map[string]any{"name": "Contacts Team"}}}, true)
		require.NoError(t, err)
		items := []cmdb.UpsertItem{{Class: "Application", Attributes: map[string]any{"name": "contacts-db"}}}
		owners := []string{"CONTACTS-KIM", "kim.miller@example.com", "contacts team", "contacts-ghost", "contacts-kim"}
		for i, o := range owners {
			items = append(items, cmdb.UpsertItem{Class: "Application", Attributes: map[string]any{
				"name": "contacts-app-" + string(rune('a'+i)), "owner": o, "support_group": "Contacts-SG"}})
		}
		res, err := f.svc.Upsert(ctx, actor, items, true)
		require.NoError(t, err)
		var rels []cmdb.RelationshipItem
		for _, r := range res[1:] {
			rels = append(rels, cmdb.RelationshipItem{Type: "DEPENDS_ON", Source: r.Node.ID, Target: res[0].Node.ID})
		}
		_, err = f.svc.CreateRelationships(ctx, actor, rels, true)
		require.NoError(t, err)

		g := &countingGraph{Graph: f.st}
		a := impact.New(g, f.svc.Model, impact.Options{})
		out, err := a.Analyze(ctx, impact.Request{CIs: []store.ID{res[0].Node.ID}, MaxDepth: 2, Assume: impact.Down})
		require.NoError(t, err)
		g.relsOf.Store(0)
		g.cis.Store(0)
		require.NoError(t, a.ResolveContacts(ctx, out))
		assert.Equal(t, int32(1), g.relsOf.Load(), "one RelationshipsOf for every impacted CI")
		assert.Equal(t, int32(1), g.cis.Load(), "one Nodes for every person and group")

		type contact struct {
			name string
			n    int
			node string // user name or group name, "" for none
		}
		view := func(list []impact.Contact) []contact {
			var out []contact
			for _, c := range list {
				v := contact{c.Name, c.CIs, ""}
				if c.Node != nil {
					v.node, _ = c.Node.Attributes["user_name"].(string)
					if v.node == "" {
						v.node, _ = c.Node.Attributes["name"].(string)
					}
				}
				out = append(out, v)
			}
			return out
		}
		assert.Equal(t, []contact{
			{"CONTACTS-KIM", 1, "contacts-kim"}, {"contacts team", 1, "Contacts Team"}, {"contacts-ghost", 1, ""},
			{"contacts-kim", 1, "contacts-kim"}, {"kim.miller@example.com", 1, "contacts-kim"},
		}, view(out.Owners), "by user name, e-mail or group name, ignoring case; the names as written")
		assert.Equal(t, []contact{{"Contacts-SG", 5, "contacts-sg"}}, view(out.SupportGroups))
		require.NotNil(t, out.Owners[0].Node)
		assert.Equal(t, "+1 555 0100", out.Owners[0].Node.Attributes["mobile"], "the person's contact attributes")

		// A summary-only result counts the names but keeps no CI whose
		// edges resolve them: an error, not contacts silently unresolved.
		summary, err := a.Analyze(ctx, impact.Request{CIs: []store.ID{res[0].Node.ID}, MaxDepth: 2, Assume: impact.Down, SummaryOnly: true})
		require.NoError(t, err)
		assert.Equal(t, view(out.Owners)[0].n, view(summary.Owners)[0].n)
		assert.Error(t, a.ResolveContacts(ctx, summary))
	})
}
