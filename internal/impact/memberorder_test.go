package impact_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestGroupPathNamesSmallestMember: when several members of a group go
// down at one depth and break its redundancy, the group's path runs
// through the one with the smallest ID, whatever order the store lists
// the members in (here, the order their MEMBER_OF relationships were
// created in): both stores, and every store state, give one answer.
func TestGroupPathNamesSmallestMember(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, reversed := range []bool{false, true} {
			// A cluster of three that needs two up; two of its members
			// depend on one application, created in this order (so with
			// IDs in this order: version 7 UUIDs).
			sfx := uuid.NewString()[:8]
			names := []string{"mo-app-" + sfx, "mo-c-" + sfx, "mo-n1-" + sfx, "mo-n2-" + sfx, "mo-n3-" + sfx}
			classes := []string{"Application", "Cluster", "LinuxServer", "LinuxServer", "LinuxServer"}
			items := make([]cmdb.UpsertItem, len(names))
			for i, n := range names {
				attrs := map[string]any{"name": n}
				for k, v := range identity(classes[i], n) {
					attrs[k] = v
				}
				if classes[i] == "Cluster" {
					attrs["min_members_up"] = 2
				}
				items[i] = cmdb.UpsertItem{Class: classes[i], Attributes: attrs}
			}
			ids := make([]store.ID, len(names))
			for i, n := range names { // one call each: IDs in this order
				res, err := f.svc.Upsert(t.Context(), actor, items[i:i+1], false)
				require.NoError(t, err)
				require.Equal(t, store.StatusCreated, res[0].Status, "%s: %v", n, res[0].Err)
				ids[i] = res[0].Node.ID
			}
			require.Less(t, string(ids[2]), string(ids[3]))
			app, cluster, n1, n2, n3 := ids[0], ids[1], ids[2], ids[3], ids[4]
			rels := []cmdb.RelationshipItem{
				{Source: n1, Type: "MEMBER_OF", Target: cluster},
				{Source: n2, Type: "MEMBER_OF", Target: cluster},
				{Source: n3, Type: "MEMBER_OF", Target: cluster},
				{Source: n1, Type: "DEPENDS_ON", Target: app},
				{Source: n2, Type: "DEPENDS_ON", Target: app},
			}
			if reversed {
				rels[0], rels[1] = rels[1], rels[0]
			}
			for _, r := range rels { // one call each, in this order
				res, err := f.svc.CreateRelationships(t.Context(), actor, []cmdb.RelationshipItem{r}, false)
				require.NoError(t, err)
				require.Equal(t, store.StatusCreated, res[0].Status, "%v", res[0].Err)
			}
			a := impact.New(f.st, f.svc.Model, impact.Options{NodeBudget: 1000})
			res, err := a.Analyze(t.Context(), impact.Request{CIs: []store.ID{app}, MaxDepth: 4})
			require.NoError(t, err)
			var found bool
			for _, im := range res.Impacted {
				if im.CI.ID != cluster {
					continue
				}
				found = true
				assert.Equal(t, impact.Down, im.Effect)
				path := res.PathOf(im)
				require.Len(t, path, 2, "app <- n1 -> cluster")
				assert.Equal(t, n1, path[1].Rel.Source, "reversed %v: the member with the smallest ID explains the cluster", reversed)
			}
			require.True(t, found, "the cluster is down")
		}
	})
}
