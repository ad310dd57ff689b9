package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var retireCases = []testCase{
	{"RetireKeepsTheCI", testRetireKeeps},
	{"PurgeRefusesWhatOtherKindsReference", testPurgeReferenced},
	{"EdgesJoinNodesOfAnyKind", testEdgesAcrossKinds},
	{"IdentifyPeopleUnderRaces", testParallelPeople},
}

// testRetireKeeps: retiring sets the status and keeps the rest: attributes,
// relationships, history, identity (a source reporting the server again
// finds the retired record, which stays retired); retiring twice changes
// nothing; an unknown CI is not_found.
func testRetireKeeps(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	srv := upsertOK(t, svc, agent, server("LinuxServer", "name", "old-box", "serial_number", "RET-1", "os_name", "Linux"))[0].Node
	user := upsertOK(t, svc, api, app("old-app"))[0].Node
	link(t, st, []store.ID{user.ID, srv.ID}, edge{0, 1, "DEPENDS_ON"})

	res, err := svc.RetireCIs(ctx, api, []store.ID{srv.ID, "01900000-0000-7000-8000-000000000000"})
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.Equal(t, store.StatusUpdated, res[0].Status)
	assert.Equal(t, "retired", res[0].Node.Attributes["status"])
	assert.Equal(t, "Linux", res[0].Node.Attributes["os_name"], "attributes are kept")
	assert.Equal(t, []store.FieldChange{{Field: "status", Before: "live", After: "retired"}}, res[0].Changes)
	assert.Equal(t, store.StatusNotFound, res[1].Status)
	require.ErrorIs(t, res[1].Err, store.ErrNotFound)

	rels, err := st.RelationshipsOf(ctx, []store.ID{srv.ID}, store.In, nil)
	require.NoError(t, err)
	assert.Len(t, rels[srv.ID], 1, "its relationships are kept")
	h := history(t, st, string(srv.ID))
	require.NotEmpty(t, h)
	assert.Equal(t, store.ActionUpdate, h[0].Action, "retiring is audited")
	assert.Equal(t, api, h[0].Actor)

	again := upsertOK(t, svc, agent, server("LinuxServer", "name", "old-box", "serial_number", "RET-1", "os_name", "Linux"))[0]
	assert.Equal(t, srv.ID, again.Node.ID, "its identity is kept: rediscovery finds the retired record")
	assert.Equal(t, "retired", again.Node.Attributes["status"], "and it stays retired")
	assert.Equal(t, 2, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))

	res, err = svc.RetireCIs(ctx, api, []store.ID{srv.ID})
	require.NoError(t, err)
	assert.Equal(t, store.StatusUnchanged, res[0].Status, "retiring twice changes nothing")

	// Retiring wins over the precedence of the source that set the status.
	up := upsertOK(t, svc, api, app("pinned", "status", "maintenance"))[0].Node
	res, err = svc.RetireCIs(ctx, agent, []store.ID{up.ID})
	require.NoError(t, err)
	assert.Equal(t, "retired", res[0].Node.Attributes["status"], "a deliberate retirement is not a report")
}

// testPurgeReferenced: a purge deletes for good; one of a CI that a node of
// another kind points at is a conflict naming it, unless forced, and loses
// nothing; relationships with other CIs do not hold a purge back.
func testPurgeReferenced(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	_, err := svc.RegisterRelationshipType(ctx, api, cmdb.RelTypeDef{Name: "WATCHES", Sources: []string{"Person"}, Targets: []string{"CI"},
		Impact: cmdb.Impact{Propagates: cmdb.PropagatesNone}})
	require.NoError(t, err)
	person := upsertNode(t, st, svc, "person", "Person", store.Attributes{"user_name": "amartin", "name": "Alice Martin"}, "Person|user_name|amartin")
	ids := nodes(t, st, "purge", 3)
	link(t, st, ids, edge{0, 1, ""})
	_, err = svc.CreateRelationships(ctx, api, []cmdb.RelationshipItem{{Type: "WATCHES", Source: person, Target: ids[1]}}, true)
	require.NoError(t, err)

	res, err := svc.PurgeCIs(ctx, api, []store.ID{ids[1], ids[2]}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusConflict, res[0].Status)
	require.ErrorIs(t, res[0].Err, store.ErrConflict)
	var re *cmdb.ReferencedError
	require.ErrorAs(t, res[0].Err, &re)
	assert.Equal(t, []string{"WATCHES from person " + string(person)}, re.By)
	field, _ := store.FieldOf(res[0].Err)
	assert.Equal(t, "ids[0]", field)
	assert.Equal(t, store.StatusDeleted, res[1].Status, "nothing of another kind points at ids[2]")
	got, err := st.Nodes(ctx, store.KindCI, ids)
	require.NoError(t, err)
	assert.Contains(t, got, ids[1], "a refused purge loses nothing")
	assert.NotContains(t, got, ids[2])

	res, err = svc.PurgeCIs(ctx, api, []store.ID{ids[1], ids[1]}, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusDeleted, res[0].Status, "force purges it")
	assert.Equal(t, store.StatusNotFound, res[1].Status)
	rels, err := st.RelationshipsOf(ctx, []store.ID{ids[0]}, store.Out, nil)
	require.NoError(t, err)
	assert.Empty(t, rels[ids[0]], "with its relationships")
	h := history(t, st, string(ids[1]))
	require.NotEmpty(t, h)
	assert.Equal(t, store.ActionDelete, h[0].Action, "the purge is audited")
}

// upsertNode writes one node of kind through the store (the people API is
// another case) and returns its ID.
func upsertNode(t *testing.T, st store.Store, svc *cmdb.Service, kind store.ObjectKind, class string, attrs store.Attributes, key string) store.ID {
	t.Helper()
	res, err := st.UpsertNodes(t.Context(), api, store.UpsertBatch{Kind: kind, Items: []store.CIUpsert{{Class: class, Attributes: attrs, Keys: []string{key}}},
		Reconcile: svc.Model().Reconcile})
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.Equal(t, kind, res[0].Node.Kind)
	return res[0].Node.ID
}

// testEdgesAcrossKinds: relationships join nodes of any kind the type
// allows, and read back from either end; a type that names no classes
// joins CIs only; CI reads see CIs only, Nodes every kind.
func testEdgesAcrossKinds(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	person := upsertNode(t, st, svc, "person", "Person", store.Attributes{"user_name": "jdoe", "name": "Jane Doe"}, "Person|user_name|jdoe")
	group := upsertNode(t, st, svc, "group", "Group", store.Attributes{"name": "Virtualisation"}, "Group|name|virtualisation")
	ci := nodes(t, st, "kinds", 1)[0]

	res, err := svc.CreateRelationships(ctx, api, []cmdb.RelationshipItem{
		{Type: "MEMBER_OF_GROUP", Source: person, Target: group},
		{Type: "OWNED_BY", Source: ci, Target: group},
		{Type: "DEPENDS_ON", Source: ci, Target: person},
		{Type: "MEMBER_OF_GROUP", Source: ci, Target: group},
	}, false)
	require.NoError(t, err)
	assert.Equal(t, []store.Status{store.StatusCreated, store.StatusCreated, store.StatusInvalid, store.StatusInvalid},
		[]store.Status{res[0].Status, res[1].Status, res[2].Status, res[3].Status})
	assert.Contains(t, res[2].Err.Error(), "joins CIs only")

	out, err := st.RelationshipsOf(ctx, []store.ID{person}, store.Out, nil)
	require.NoError(t, err)
	require.Len(t, out[person], 1)
	assert.Equal(t, group, out[person][0].Target)
	pages, err := st.RelationshipPages(ctx, []store.RelationshipPageRequest{{Node: group, Dir: store.In}})
	require.NoError(t, err)
	assert.Equal(t, 2, pages[0].Total, "the member and the owned CI")

	cis, err := st.Nodes(ctx, store.KindCI, []store.ID{person, group, ci})
	require.NoError(t, err)
	assert.Equal(t, []store.ID{ci}, mapKeys(cis), "CI reads see CIs only")
	all, err := st.Nodes(ctx, store.AnyKind, []store.ID{person, group, ci, "01900000-0000-7000-8000-000000000000"})
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, store.ObjectKind("person"), all[person].Kind)
	assert.Equal(t, store.ObjectKind("group"), all[group].Kind)
	assert.Equal(t, store.KindCI, all[ci].Kind)
	assert.Equal(t, 1, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}), "lists count CIs only")

	// Purging the CI deletes its relationship to the group, audited.
	_, err = svc.PurgeCIs(ctx, api, []store.ID{ci}, false)
	require.NoError(t, err)
	pages, err = st.RelationshipPages(ctx, []store.RelationshipPageRequest{{Node: group, Dir: store.In}})
	require.NoError(t, err)
	assert.Equal(t, 1, pages[0].Total)
	owned := store.RelationshipKey{Source: ci, Type: "OWNED_BY", Target: group}.ID()
	h := history(t, st, string(owned))
	require.NotEmpty(t, h)
	assert.Equal(t, store.ActionDelete, h[0].Action, "the relationship's deletion is audited")
}

func mapKeys[V any](m map[store.ID]V) []store.ID {
	out := make([]store.ID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// testParallelPeople: 8 writers report the same 100 people at once, each
// spelling them differently (user names in another case, with or without
// the e-mail address); every report has the user name, so any two reports
// of one person share a key and the store must make them one node of kind
// person, as it does for CIs.
func testParallelPeople(t *testing.T, st store.Store) {
	svc := newService(t, st)
	person, ok := svc.Model().Class("Person")
	require.True(t, ok)
	const writers, people = 8, 100
	var wg sync.WaitGroup
	ids := make([][]store.ID, writers)
	errs := make(chan error, writers*people)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items := make([]store.CIUpsert, people)
			for i := range items {
				n := (i + w*13) % people // writers collide on different people first
				a := store.Attributes{"user_name": fmt.Sprintf("user%03d", n), "name": fmt.Sprintf("User %d", n)}
				if w%2 == 1 {
					a["user_name"] = fmt.Sprintf("USER%03d", n)
					a["email"] = fmt.Sprintf("User%03d@Example.com", n)
				}
				items[i] = store.CIUpsert{Class: "Person", Attributes: a, Keys: person.Keys(a)}
			}
			for _, part := range [][]store.CIUpsert{items[:people/2], items[people/2:]} {
				res, err := st.UpsertNodes(t.Context(), store.Actor{Name: fmt.Sprintf("hr%d", w), Source: "hr"},
					store.UpsertBatch{Kind: "person", Items: part, Reconcile: svc.Model().Reconcile})
				if err != nil {
					errs <- err
					return
				}
				for _, r := range res {
					if r.Err != nil {
						errs <- fmt.Errorf("writer %d: %s: %w", w, r.Status, r.Err)
					}
					ids[w] = append(ids[w], r.Node.ID)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	distinct := map[store.ID]bool{}
	for _, l := range ids {
		for _, id := range l {
			distinct[id] = true
		}
	}
	assert.Len(t, distinct, people, "one node per person, whoever reported it how")
	got, err := st.Nodes(t.Context(), store.AnyKind, mapKeys(distinct))
	require.NoError(t, err)
	require.Len(t, got, people)
	for _, n := range got {
		assert.Equal(t, store.ObjectKind("person"), n.Kind)
	}
	assert.Equal(t, 0, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}), "no CI was made")
}
