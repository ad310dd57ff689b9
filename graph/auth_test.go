package graph

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph/generated"
	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/auth"
)

// rootFields returns "Query.x" and "Mutation.y" for every root field of the
// schema, introspection fields aside.
func rootFields(t *testing.T) []string {
	t.Helper()
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	var out []string
	for _, def := range []string{"Query", "Mutation"} {
		typ := s.Types[def]
		require.NotNil(t, typ, def)
		for _, f := range typ.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				out = append(out, def+"."+f.Name)
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// TestEveryRootFieldHasARule fails the build when a query or mutation is
// added to the schema without deciding who may call it (it would be
// refused to everyone), or when a rule outlives its field.
func TestEveryRootFieldHasARule(t *testing.T) {
	fields := rootFields(t)
	for _, f := range fields {
		roles, ok := auth.Rules[f]
		if assert.True(t, ok, "%s has no rule in internal/auth Rules: decide who may call it", f) {
			assert.NotEmpty(t, roles, f)
		}
	}
	var stale []string
	for f := range auth.Rules {
		found := false
		for _, g := range fields {
			found = found || g == f
		}
		if !found {
			stale = append(stale, f)
		}
	}
	sort.Strings(stale)
	assert.Empty(t, stale, "rules for fields the schema does not have")
}

// TestNoMutationForAnonymous: an unauthenticated request never writes.
func TestNoMutationForAnonymous(t *testing.T) {
	for _, f := range rootFields(t) {
		if strings.HasPrefix(f, "Mutation.") {
			assert.False(t, auth.Allowed(auth.Anonymous, f), f)
		}
	}
}

func TestViewerAllowed(t *testing.T) {
	agent := viewerOf(auth.Identity{TokenID: "x", Name: "vcenter", Role: auth.Agent})
	assert.Equal(t, []string{
		"Mutation.createRelationships", "Mutation.ping", "Mutation.upsertCIs",
		"Query.ciClass", "Query.ciClasses", "Query.relationshipTypes", "Query.version", "Query.viewer",
	}, agent.Allowed, "an agent writes discovery data and reads the model only")
	assert.Equal(t, model.RoleAgent, agent.Role)
	assert.Equal(t, "x", *agent.TokenID)
	anon := viewerOf(auth.Identity{Name: "anonymous", Role: auth.Anonymous})
	assert.False(t, anon.Authenticated)
	assert.Nil(t, anon.TokenID)
	for _, f := range anon.Allowed {
		assert.True(t, strings.HasPrefix(f, "Query."), "anonymous callers only read: %s", f)
	}
	admin := viewerOf(auth.Identity{TokenID: "x", Name: "n", Role: auth.Admin})
	assert.Len(t, admin.Allowed, len(auth.Rules), "admins may call every root field")
}

// TestNestedRulesCoverCIFields fails the build when a field of CI or
// Relationship is added without deciding whether roles that may not read
// the graph (agents) may select it in a mutation's payload: every field is
// either guarded by auth.NestedRules or listed here as harmless (it only
// identifies the object or says when, or how many times, it was written).
func TestNestedRulesCoverCIFields(t *testing.T) {
	open := map[string]bool{
		"CI.id": true, "CI.class": true, "CI.ciClass": true, "CI.createdAt": true, "CI.updatedAt": true, "CI.lastSeenAt": true,
		"CI.version": true, "Relationship.id": true, "Relationship.type": true, "Relationship.source": true, "Relationship.target": true,
		"Relationship.createdAt": true, "Relationship.updatedAt": true,
	}
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	for _, typ := range []string{"CI", "Relationship"} {
		for _, f := range s.Types[typ].Fields {
			name := typ + "." + f.Name
			if strings.HasPrefix(f.Name, "__") || open[name] {
				continue
			}
			_, guarded := auth.NestedRules[name]
			assert.True(t, guarded, "%s: guard it in auth.NestedRules or list it as harmless here", name)
			assert.False(t, auth.AllowedNested(auth.Agent, name), "%s is stored data an agent may not read", name)
		}
	}
}
