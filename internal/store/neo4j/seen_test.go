package neo4j

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestSeenEncodings: sightings are written in the store's encoding (Unix
// nanoseconds) and read back exactly; those written before as RFC 3339
// strings still read; anything else is an error, not an empty map.
func TestSeenEncodings(t *testing.T) {
	at := time.Date(2026, 12, 3, 4, 5, 6, 789, time.UTC)
	want := map[string]time.Time{"vcenter": at, "attribute_link": at.Add(-time.Hour)}
	s := seenJSON(want)
	assert.NotContains(t, s, "2026-", "written as nanoseconds")
	got := map[string]time.Time{}
	require.NoError(t, decodeSeen(s, got))
	assert.Equal(t, want, got)

	old := map[string]time.Time{}
	require.NoError(t, decodeSeen(`{"vcenter":"2026-12-03T04:05:06.000000789Z"}`, old))
	assert.Equal(t, map[string]time.Time{"vcenter": at}, old)

	for _, bad := range []string{`{"vcenter":"yesterday"}`, `{"vcenter":true}`, `[1]`, `{`} {
		assert.Error(t, decodeSeen(bad, map[string]time.Time{}), bad)
	}
}

// TestRelationshipSightingsStored: one source's sighting of a relationship
// is stored as _seen_by and _seen_at (inline in Neo4j's property record),
// two sources' as the JSON object _seen, each form replacing the other;
// the JSON form written by earlier releases for one source still reads.
func TestRelationshipSightingsStored(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ids := mkCIs(t, s, "app-1", "db-1")
	in := []store.RelationshipInput{{Type: "DEPENDS_ON", Source: ids["app-1"], Target: ids["db-1"]}}
	stored := func(from store.ID) map[string]any {
		t.Helper()
		v, err := s.read(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
			recs, err := collect(ctx, tx, `MATCH (:Node {id: $s})-[r:DEPENDS_ON]->() RETURN properties(r)`, map[string]any{"s": string(from)})
			if err != nil || len(recs) != 1 {
				return nil, fmt.Errorf("%d relationships, %w", len(recs), err)
			}
			return recs[0].Values[0], nil
		})
		require.NoError(t, err)
		return v.(map[string]any)
	}
	read := func() map[string]time.Time {
		t.Helper()
		rels, err := s.RelationshipsOf(ctx, []store.ID{ids["app-1"]}, store.Out, nil)
		require.NoError(t, err)
		require.Len(t, rels[ids["app-1"]], 1)
		return rels[ids["app-1"]][0].SeenBy
	}
	for i, src := range []string{"vcenter", "vcenter", "servicenow"} {
		_, err := s.CreateRelationships(ctx, store.Actor{Name: "t", Source: src}, in, true)
		require.NoError(t, err, "report %d", i)
	}
	props := stored(ids["app-1"])
	assert.Contains(t, props, "_seen", "two sources: the JSON object")
	assert.NotContains(t, props, "_seen_by")
	assert.NotContains(t, props, "_seen_at")
	both := read()
	assert.Len(t, both, 2)

	// As an earlier release stored one source: JSON only.
	at := time.Date(2026, 12, 1, 2, 3, 4, 5, time.UTC)
	_, err := s.write(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, `MATCH (:Node {id: $s})-[r:DEPENDS_ON]->() SET r._seen = $seen`,
			map[string]any{"s": string(ids["app-1"]), "seen": seenJSON(map[string]time.Time{"vcenter": at})})
	})
	require.NoError(t, err)
	assert.Equal(t, map[string]time.Time{"vcenter": at}, read(), "the old form reads")

	// A relationship one source reports is stored inline.
	in[0].Source, in[0].Target = ids["db-1"], ids["app-1"]
	_, err = s.CreateRelationships(ctx, store.Actor{Name: "t", Source: "vcenter"}, in, true)
	require.NoError(t, err)
	one := stored(ids["db-1"])
	assert.Equal(t, "vcenter", one["_seen_by"])
	assert.IsType(t, int64(0), one["_seen_at"])
	assert.NotContains(t, one, "_seen")
	rels, err := s.RelationshipsOf(ctx, []store.ID{ids["db-1"]}, store.Out, nil)
	require.NoError(t, err)
	require.Len(t, rels[ids["db-1"]], 1)
	seen := rels[ids["db-1"]][0].SeenBy
	require.Contains(t, seen, "vcenter")
	assert.Equal(t, one["_seen_at"], seen["vcenter"].UnixNano())
}
