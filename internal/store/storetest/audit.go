package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var auditCases = []testCase{
	{"AuditEveryCIWrite", testAuditCIWrites},
	{"AuditRelationshipWrites", testAuditRelWrites},
	{"AuditHistoryPagination", testAuditPagination},
	{"ModelExtensionsPersist", testModelExtensions},
	{"AuditQueryFilters", testAuditQueryFilters},
	{"AuditRelationshipInBothEndsHistory", testAuditRelBothEnds},
	{"AuditDeletedCIStaysQueryable", testAuditDeletedCI},
}

func history(t *testing.T, st store.Store, object string) []store.AuditRecord {
	t.Helper()
	p, err := st.History(t.Context(), object, store.PageRequest{First: store.MaxPageSize})
	require.NoError(t, err)
	assert.Equal(t, len(p.Items), p.Total)
	return p.Items
}

func testAuditCIWrites(t *testing.T, st store.Store) {
	svc := newService(t, st)
	r := upsertOK(t, svc, agent, app("audited", "version", "1"))[0]
	id := string(r.Node.ID)
	h := history(t, st, id)
	require.Len(t, h, 1)
	assert.Equal(t, store.ActionCreate, h[0].Action)
	assert.Equal(t, store.KindCI, h[0].Kind)
	assert.Equal(t, id, h[0].Object)
	assert.Equal(t, agent, h[0].Actor)
	assert.True(t, h[0].Time.Equal(r.Node.CreatedAt), "the record has the write's time")
	assert.Contains(t, h[0].Changes, store.FieldChange{Field: "version", After: "1"})
	assert.Contains(t, h[0].Changes, store.FieldChange{Field: "class", After: "Application"})

	upsertOK(t, svc, agent, app("audited", "version", "1")) // unchanged: a sighting, not a change
	assert.Len(t, history(t, st, id), 1)

	upsertOK(t, svc, agent, app("audited", "version", "2"))
	_, err := svc.UpdateCI(t.Context(), api, r.Node.ID, map[string]any{"owner": "team-x"})
	require.NoError(t, err)
	_, err = st.DeleteNodes(t.Context(), api, store.KindCI, []store.ID{r.Node.ID})
	require.NoError(t, err)
	h = history(t, st, id)
	require.Len(t, h, 4)
	assert.Equal(t, []store.Action{store.ActionDelete, store.ActionUpdate, store.ActionUpdate, store.ActionCreate},
		[]store.Action{h[0].Action, h[1].Action, h[2].Action, h[3].Action}, "newest first")
	assert.Equal(t, []store.FieldChange{{Field: "owner", After: "team-x"}}, h[1].Changes)
	assert.Equal(t, api, h[1].Actor)
	assert.Equal(t, []store.FieldChange{{Field: "version", Before: "1", After: "2"}}, h[2].Changes)
	assert.Equal(t, agent, h[2].Actor)
	for i := 1; i < len(h); i++ {
		assert.False(t, h[i].Time.After(h[i-1].Time), "newest first")
		assert.NotEqual(t, h[i].ID, h[i-1].ID)
	}
	assert.Empty(t, history(t, st, "no-such-object"))
}

func testAuditRelWrites(t *testing.T, st store.Store) {
	svc := newService(t, st)
	ids := nodes(t, st, "a", 2)
	sw := upsertOK(t, svc, builder, server("Switch", "name", "sw", "serial_number", "SW"))[0].Node.ID
	items := []cmdb.RelationshipItem{{Type: "CONNECTS_TO", Source: ids[0], Target: sw, Attributes: map[string]any{"port": "1"}}}
	res, err := svc.CreateRelationships(t.Context(), api, items, false)
	require.NoError(t, err)
	relID := string(res[0].Relationship.ID)
	_, err = svc.CreateRelationships(t.Context(), api, items, false) // unchanged
	require.NoError(t, err)
	items[0].Attributes["port"] = "2"
	_, err = svc.CreateRelationships(t.Context(), agent, items, false)
	require.NoError(t, err)
	_, err = st.DeleteRelationships(t.Context(), api, []store.ID{store.ID(relID)})
	require.NoError(t, err)
	h := history(t, st, relID)
	require.Len(t, h, 3)
	assert.Equal(t, store.ActionDelete, h[0].Action)
	assert.Equal(t, store.ActionUpdate, h[1].Action)
	assert.Equal(t, agent, h[1].Actor)
	assert.Equal(t, []store.FieldChange{{Field: "port", Before: "1", After: "2"}}, h[1].Changes)
	assert.Equal(t, store.ActionCreate, h[2].Action)
	assert.Equal(t, store.KindRelationship, h[2].Kind)
	assert.Contains(t, h[2].Changes, store.FieldChange{Field: "type", After: "CONNECTS_TO"})
	assert.Contains(t, h[2].Changes, store.FieldChange{Field: "source", After: string(ids[0])})
	assert.Contains(t, h[2].Changes, store.FieldChange{Field: "target", After: string(sw)})
	assert.Contains(t, h[2].Changes, store.FieldChange{Field: "port", After: "1"})
}

func testAuditPagination(t *testing.T, st store.Store) {
	svc := newService(t, st)
	var id store.ID
	for v := 0; v < 12; v++ {
		id = upsertOK(t, svc, agent, app("paged", "version", string(rune('a'+v))))[0].Node.ID
	}
	var all []store.AuditRecord
	cursor := ""
	for {
		p, err := st.History(t.Context(), string(id), store.PageRequest{First: 5, After: cursor})
		require.NoError(t, err)
		assert.Equal(t, 12, p.Total)
		all = append(all, p.Items...)
		if !p.HasNext {
			break
		}
		cursor = p.EndCursor
	}
	require.Len(t, all, 12)
	// Every record has its own cursor: resuming after the third gives the
	// fourth onwards.
	p, err := st.History(t.Context(), string(id), store.PageRequest{First: 5})
	require.NoError(t, err)
	require.Len(t, p.Cursors, 5)
	assert.Equal(t, p.EndCursor, p.Cursors[4])
	rest, err := st.History(t.Context(), string(id), store.PageRequest{First: 3, After: p.Cursors[2]})
	require.NoError(t, err)
	require.Len(t, rest.Items, 3)
	assert.Equal(t, all[3].ID, rest.Items[0].ID)
	assert.Equal(t, all[5].ID, rest.Items[2].ID)
	assert.Equal(t, store.ActionCreate, all[11].Action)
	assert.Equal(t, []store.FieldChange{{Field: "version", Before: "k", After: "l"}}, all[0].Changes)
	_, err = st.History(t.Context(), string(id), store.PageRequest{After: "garbage"})
	requireInvalid(t, err, "after")
}

func testModelExtensions(t *testing.T, st store.Store) {
	svc := newService(t, st)
	_, err := svc.RegisterClass(t.Context(), api, cmdb.ClassDef{
		Name: "PostgresCluster", Parent: "Cluster", Description: "A Patroni-managed PostgreSQL cluster",
		Attributes: []cmdb.AttributeDef{{Name: "patroni_scope", Type: cmdb.TypeString}},
	})
	require.NoError(t, err)
	_, err = svc.RegisterRelationshipType(t.Context(), api, cmdb.RelTypeDef{
		Name: "REPLICATES_TO", Sources: []string{"DatabaseInstance"}, Targets: []string{"DatabaseInstance"},
		Impact: cmdb.Impact{Propagates: cmdb.PropagatesNone, Effect: cmdb.EffectDegrades},
	})
	require.NoError(t, err)
	// A new service over the same store (a restart, or another Skein
	// process) sees both.
	svc2 := newService(t, st)
	c, ok := svc2.Model().Class("PostgresCluster")
	require.True(t, ok)
	assert.True(t, svc2.Model().IsA("PostgresCluster", "Cluster"))
	_, ok = c.Attribute("min_members_up")
	assert.True(t, ok, "inherits attributes")
	_, ok = svc2.Model().RelType("REPLICATES_TO")
	require.True(t, ok)
	r := upsertOK(t, svc2, api, cmdb.UpsertItem{Class: "PostgresCluster", Attributes: map[string]any{"name": "pg-main", "patroni_scope": "main"}})[0]
	assert.Equal(t, "PostgresCluster", r.Node.Class)
	// Another process registered a class this one has not loaded yet: an
	// upsert naming it reloads the model.
	_, err = svc2.RegisterClass(t.Context(), api, cmdb.ClassDef{Name: "MessageQueue", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)
	r = upsertOK(t, svc, api, cmdb.UpsertItem{Class: "MessageQueue", Attributes: map[string]any{"name": "mq1"}})[0]
	assert.Equal(t, "MessageQueue", r.Node.Class)

	_, err = svc.RegisterClass(t.Context(), api, cmdb.ClassDef{Name: "PostgresCluster", Parent: "CI", Identification: [][]string{{"name"}}})
	assert.ErrorIs(t, err, store.ErrConflict)
	_, err = svc.RegisterClass(t.Context(), api, cmdb.ClassDef{Name: "Thing", Parent: "NoSuch"})
	requireInvalid(t, err, "input.parent")

	exts, err := st.ModelExtensions(t.Context())
	require.NoError(t, err)
	require.Len(t, exts, 3)
	assert.Equal(t, "PostgresCluster", exts[0].Name, "oldest first")
	assert.Equal(t, store.KindRelationshipType, exts[1].Kind)
	h := history(t, st, "PostgresCluster")
	require.Len(t, h, 1)
	assert.Equal(t, store.KindClass, h[0].Kind)
	assert.Equal(t, api, h[0].Actor)

	err = st.SaveModelExtension(t.Context(), api, store.ModelExtension{Kind: store.KindClass, Name: "MessageQueue", Definition: []byte(`{}`)})
	assert.ErrorIs(t, err, store.ErrConflict)
	err = st.SaveModelExtension(t.Context(), api, store.ModelExtension{Kind: "widget", Name: "X", Definition: []byte(`{}`)})
	var ie *store.InvalidError
	assert.ErrorAs(t, err, &ie)
}

// audit runs an audit query and requires it to succeed.
func audit(t *testing.T, st store.Store, f store.AuditFilter, p store.PageRequest) store.Page[store.AuditRecord] {
	t.Helper()
	page, err := st.Audit(t.Context(), f, p)
	require.NoError(t, err)
	require.Len(t, page.Cursors, len(page.Items))
	return page
}

func actions(recs []store.AuditRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Kind) + " " + string(r.Action) + " " + r.Actor.Name
	}
	return out
}

func testAuditQueryFilters(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	start := time.Now().UTC().Add(-time.Second)
	a := upsertOK(t, svc, agent, app("q-a"))[0].Node.ID
	b := upsertOK(t, svc, api, app("q-b"))[0].Node.ID
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond) // the records below are strictly later
	rel, err := svc.CreateRelationships(ctx, api, []cmdb.RelationshipItem{{Type: "DEPENDS_ON", Source: a, Target: b}}, true)
	require.NoError(t, err)
	_, err = svc.UpdateCI(ctx, api, a, map[string]any{"owner": "ops"})
	require.NoError(t, err)
	_, err = svc.RegisterClass(ctx, api, cmdb.ClassDef{Name: "AuditedThing", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)

	all := audit(t, st, store.AuditFilter{}, store.PageRequest{First: store.MaxPageSize})
	assert.Equal(t, 5, all.Total)
	assert.Equal(t, []string{"class create alice", "ci update alice", "relationship create alice", "ci create alice", "ci create agent:web"}, actions(all.Items), "newest first")
	for i := 1; i < len(all.Items); i++ {
		assert.False(t, all.Items[i].Time.After(all.Items[i-1].Time))
	}

	for _, c := range []struct {
		name string
		f    store.AuditFilter
		want []string
	}{
		{"kind", store.AuditFilter{Kinds: []store.ObjectKind{store.KindCI}}, []string{"ci update alice", "ci create alice", "ci create agent:web"}},
		{"kinds", store.AuditFilter{Kinds: []store.ObjectKind{store.KindClass, store.KindRelationship}}, []string{"class create alice", "relationship create alice"}},
		{"actor", store.AuditFilter{Actor: "agent:web"}, []string{"ci create agent:web"}},
		{"source", store.AuditFilter{Source: "ansible"}, []string{"ci create agent:web"}},
		{"object", store.AuditFilter{Objects: []string{string(b)}}, []string{"relationship create alice", "ci create alice"}},
		{"objects", store.AuditFilter{Objects: []string{"AuditedThing", string(rel[0].Relationship.ID)}}, []string{"class create alice", "relationship create alice"}},
		{"since", store.AuditFilter{Since: mid}, []string{"class create alice", "ci update alice", "relationship create alice"}},
		{"until", store.AuditFilter{Since: start, Until: mid}, []string{"ci create alice", "ci create agent:web"}},
		{"all of them", store.AuditFilter{Objects: []string{string(a)}, Kinds: []store.ObjectKind{store.KindCI}, Actor: "alice", Source: "api", Since: mid}, []string{"ci update alice"}},
		{"none", store.AuditFilter{Actor: "nobody"}, []string{}},
		{"by record id", store.AuditFilter{ID: all.Items[2].ID}, []string{"relationship create alice"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := audit(t, st, c.f, store.PageRequest{})
			assert.Equal(t, c.want, actions(p.Items))
			assert.Equal(t, len(c.want), p.Total)
		})
	}

	// Pages: two at a time, resumable from any record's cursor.
	var paged []store.AuditRecord
	cursor := ""
	for {
		p := audit(t, st, store.AuditFilter{}, store.PageRequest{First: 2, After: cursor})
		assert.Equal(t, 5, p.Total)
		paged = append(paged, p.Items...)
		if !p.HasNext {
			break
		}
		cursor = p.EndCursor
	}
	assert.Equal(t, all.Items, paged)
	p := audit(t, st, store.AuditFilter{Kinds: []store.ObjectKind{store.KindCI}}, store.PageRequest{First: 1, After: all.Cursors[1]})
	assert.Equal(t, []string{"ci create alice"}, actions(p.Items), "resumes after a record the filter matches")

	_, err = st.Audit(ctx, store.AuditFilter{}, store.PageRequest{After: "garbage"})
	requireInvalid(t, err, "after")
	_, err = st.Audit(ctx, store.AuditFilter{Since: mid, Until: start}, store.PageRequest{})
	requireInvalid(t, err, "filter.until")
}

// testAuditRelBothEnds: a relationship's creation, change and deletion are
// in the history of both CIs it joins.
func testAuditRelBothEnds(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "ends", 3)
	items := []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"description": "x"}}}
	res, err := st.CreateRelationships(ctx, api, items, true)
	require.NoError(t, err)
	relID := string(res[0].Relationship.ID)
	items[0].Attributes["description"] = "y"
	_, err = st.CreateRelationships(ctx, api, items, true)
	require.NoError(t, err)
	_, err = st.DeleteRelationships(ctx, api, []store.ID{store.ID(relID)})
	require.NoError(t, err)
	for _, end := range ids[:2] {
		h := history(t, st, string(end))
		require.Len(t, h, 4, "create, update and delete of the relationship, then the CI's creation")
		assert.Equal(t, []string{"relationship delete alice", "relationship update alice", "relationship create alice", "ci create storetest"}, actions(h))
		assert.Equal(t, relID, h[0].Object)
		assert.ElementsMatch(t, []string{string(ids[0]), string(ids[1])}, h[0].Related)
	}
	assert.Len(t, history(t, st, string(ids[2])), 1, "a CI the relationship does not join")
	assert.Len(t, history(t, st, relID), 3)
}

// testAuditDeletedCI: a deleted CI's history, its relationships' included,
// stays reachable by its ID.
func testAuditDeletedCI(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "gone", 2)
	link(t, st, ids, edge{0, 1, ""})
	_, err := st.DeleteNodes(ctx, api, store.KindCI, []store.ID{ids[1]})
	require.NoError(t, err)
	p := audit(t, st, store.AuditFilter{Objects: []string{string(ids[1])}}, store.PageRequest{})
	assert.Equal(t, []string{"ci delete alice", "relationship delete alice", "relationship create storetest", "ci create storetest"}, actions(p.Items))
	// The surviving end sees the relationship go too.
	assert.Equal(t, []string{"relationship delete alice", "relationship create storetest", "ci create storetest"}, actions(history(t, st, string(ids[0]))))
}
