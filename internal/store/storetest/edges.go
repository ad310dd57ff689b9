package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var edgeCases = []testCase{
	{"EdgeVersionsAndSightings", testEdgeVersions},
	{"EdgeExpectedVersion", testEdgeExpectedVersion},
	{"EdgeExpectedVersionRace", testEdgeExpectedVersionRace},
	{"EdgeProvenanceOnEveryRead", testEdgeProvenanceReads},
}

// relOf reads one relationship back by ID.
func relOf(t *testing.T, st store.Store, id store.ID) store.Relationship {
	t.Helper()
	got, err := st.Relationships(t.Context(), []store.ID{id})
	require.NoError(t, err)
	r, ok := got[id]
	require.True(t, ok, "relationship %s", id)
	return r
}

// testEdgeVersions: a relationship is created at version 1, seen by its
// source; a report by another source that changes nothing records that
// sighting only (same version, same update time, no audit record); a
// change of attributes is version 2, audited.
func testEdgeVersions(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "ev", 2)
	in := []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"description": "x"}}}
	res, err := st.CreateRelationships(ctx, api, in, true)
	require.NoError(t, err)
	created := res[0].Relationship
	assert.Equal(t, store.StatusCreated, res[0].Status)
	assert.Equal(t, int64(1), created.Version)
	require.Contains(t, created.SeenBy, "api")
	assert.WithinDuration(t, created.CreatedAt, created.SeenBy["api"], time.Millisecond)

	time.Sleep(5 * time.Millisecond) // so that a new sighting has a later time
	res, err = st.CreateRelationships(ctx, agent, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1]}}, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUnchanged, res[0].Status)
	r := relOf(t, st, created.ID)
	assert.Equal(t, int64(1), r.Version, "a sighting is not a change")
	assert.Equal(t, created.UpdatedAt, r.UpdatedAt)
	assert.Equal(t, store.Attributes{"description": "x"}, r.Attributes, "a report without attributes keeps them")
	require.Len(t, r.SeenBy, 2)
	assert.Equal(t, created.SeenBy["api"], r.SeenBy["api"])
	assert.True(t, r.SeenBy["ansible"].After(r.SeenBy["api"]), "ansible's sighting %v after api's %v", r.SeenBy["ansible"], r.SeenBy["api"])
	assert.Len(t, history(t, st, string(created.ID)), 1, "no audit record for a sighting")

	in[0].Attributes = store.Attributes{"description": "y"}
	res, err = st.CreateRelationships(ctx, agent, in, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUpdated, res[0].Status)
	assert.Equal(t, int64(2), res[0].Relationship.Version)
	r = relOf(t, st, created.ID)
	assert.Equal(t, int64(2), r.Version)
	assert.Equal(t, "y", r.Attributes["description"])
	h := history(t, st, string(created.ID))
	require.Len(t, h, 2)
	assert.Equal(t, []store.FieldChange{{Field: "description", Before: "x", After: "y"}}, h[0].Changes)

	// Within one batch, later items see earlier ones.
	res, err = st.CreateRelationships(ctx, api, []store.RelationshipInput{
		{Type: "RUNS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"description": "a"}},
		{Type: "RUNS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"description": "b"}},
		{Type: "RUNS_ON", Source: ids[0], Target: ids[1]},
	}, false)
	require.NoError(t, err)
	assert.Equal(t, []store.Status{store.StatusCreated, store.StatusUpdated, store.StatusUnchanged}, []store.Status{res[0].Status, res[1].Status, res[2].Status})
	assert.Equal(t, int64(2), res[2].Relationship.Version)
	r = relOf(t, st, res[0].Relationship.ID)
	assert.Equal(t, int64(2), r.Version)
	assert.Equal(t, "b", r.Attributes["description"])
}

// testEdgeExpectedVersion: an input naming a version other than the
// stored one is a conflict that names the current version and writes
// nothing; atomically, it fails the batch.
func testEdgeExpectedVersion(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "ex", 3)
	res, err := st.CreateRelationships(ctx, api, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1]}}, true)
	require.NoError(t, err)
	id := res[0].Relationship.ID

	stale := store.RelationshipInput{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"description": "late"}, ExpectVersion: 7}
	res, err = st.CreateRelationships(ctx, api, []store.RelationshipInput{stale}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusConflict, res[0].Status)
	require.ErrorIs(t, res[0].Err, store.ErrConflict)
	assert.Contains(t, res[0].Err.Error(), "is at version 1, not 7")
	field, _ := store.FieldOf(res[0].Err)
	assert.Equal(t, "relationships[0]", field)

	other := store.RelationshipInput{Type: "DEPENDS_ON", Source: ids[1], Target: ids[2]}
	_, err = st.CreateRelationships(ctx, api, []store.RelationshipInput{other, stale}, true)
	var ie *store.ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 1, ie.Index)
	got, err := st.RelationshipsOf(ctx, ids[1:2], store.Out, nil)
	require.NoError(t, err)
	assert.Empty(t, got[ids[1]], "the atomic batch wrote nothing")
	assert.Empty(t, relOf(t, st, id).Attributes)

	missing := store.RelationshipInput{Type: "RUNS_ON", Source: ids[0], Target: ids[1], ExpectVersion: 1}
	res, err = st.CreateRelationships(ctx, api, []store.RelationshipInput{missing}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusConflict, res[0].Status, "an expected version of a relationship that does not exist")

	stale.ExpectVersion = 1
	res, err = st.CreateRelationships(ctx, api, []store.RelationshipInput{stale}, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusUpdated, res[0].Status)
	assert.Equal(t, int64(2), relOf(t, st, id).Version)
}

// testEdgeExpectedVersionRace: writers that all read version 1 and change
// the relationship expecting it: exactly one wins, the others are
// conflicts, and the version is 2.
func testEdgeExpectedVersionRace(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "race", 2)
	res, err := st.CreateRelationships(ctx, api, []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1]}}, true)
	require.NoError(t, err)
	id := res[0].Relationship.ID
	const writers = 8
	var wg sync.WaitGroup
	statuses := make([]store.Status, writers)
	errs := make([]error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := store.RelationshipInput{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1],
				Attributes: store.Attributes{"description": string(rune('a' + w))}, ExpectVersion: 1}
			res, err := st.CreateRelationships(ctx, api, []store.RelationshipInput{in}, false)
			if err != nil {
				errs[w] = err
				return
			}
			statuses[w] = res[0].Status
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	won := 0
	for _, s := range statuses {
		switch s {
		case store.StatusUpdated:
			won++
		case store.StatusConflict:
		default:
			t.Errorf("status %s, want updated or conflict", s)
		}
	}
	assert.Equal(t, 1, won, "exactly one writer wins: %v", statuses)
	assert.Equal(t, int64(2), relOf(t, st, id).Version)
	assert.Len(t, history(t, st, string(id)), 2, "one create, one update")
}

// testEdgeProvenanceReads: every read of a relationship returns the same
// version and sightings.
func testEdgeProvenanceReads(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := nodes(t, st, "pr", 2)
	in := []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids[0], Target: ids[1], Attributes: store.Attributes{"description": "x"}}}
	_, err := st.CreateRelationships(ctx, api, in, true)
	require.NoError(t, err)
	in[0].Attributes = store.Attributes{"description": "y"}
	res, err := st.CreateRelationships(ctx, agent, in, true)
	require.NoError(t, err)
	want := res[0].Relationship
	require.Equal(t, int64(2), want.Version)
	require.Len(t, want.SeenBy, 2)

	check := func(how string, r store.Relationship) {
		t.Helper()
		assert.Equal(t, want.ID, r.ID, how)
		assert.Equal(t, want.Version, r.Version, how)
		require.Len(t, r.SeenBy, 2, how)
		for src, at := range want.SeenBy {
			assert.True(t, at.Equal(r.SeenBy[src]), "%s: %s seen at %v, want %v", how, src, r.SeenBy[src], at)
		}
	}
	check("Relationships", relOf(t, st, want.ID))
	of, err := st.RelationshipsOf(ctx, ids[1:], store.In, nil)
	require.NoError(t, err)
	require.Len(t, of[ids[1]], 1)
	check("RelationshipsOf", of[ids[1]][0])
	pages, err := st.RelationshipPages(ctx, []store.RelationshipPageRequest{{Node: ids[0], Dir: store.Out}})
	require.NoError(t, err)
	require.Len(t, pages[0].Items, 1)
	check("RelationshipPages", pages[0].Items[0])
}
