package graph

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph/generated"
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

func TestViewerAllowedMatchesRules(t *testing.T) {
	for _, role := range append([]auth.Role{auth.Anonymous}, auth.TokenRoles...) {
		v := viewerOf(auth.Identity{TokenID: "x", Name: "n", Role: role})
		for _, f := range v.Allowed {
			assert.True(t, auth.Allowed(role, f), "%s: %s", role, f)
		}
		assert.Equal(t, string(role), strings.ToLower(string(v.Role)))
	}
	admin := viewerOf(auth.Identity{TokenID: "x", Name: "n", Role: auth.Admin})
	assert.Len(t, admin.Allowed, len(auth.Rules), "admins may call every root field")
}

// TestNestedRulesCoverCIFields: every field of CI that returns an object
// (other than its class and its sightings) reaches beyond the CI, so it
// needs a nested rule; and every nested rule names a real field.
func TestNestedRulesCoverCIFields(t *testing.T) {
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	local := map[string]bool{"CIClass": true, "Sighting": true}
	for _, f := range s.Types["CI"].Fields {
		typ := s.Types[f.Type.Name()]
		if typ == nil || typ.Kind == "SCALAR" || typ.Kind == "ENUM" || local[typ.Name] {
			continue
		}
		_, ok := auth.NestedRules["CI."+f.Name]
		assert.True(t, ok, "CI.%s returns %s: give it a nested rule in internal/auth", f.Name, typ.Name)
	}
	for name := range auth.NestedRules {
		typ, field, _ := strings.Cut(name, ".")
		require.NotNil(t, s.Types[typ], name)
		assert.NotNil(t, s.Types[typ].Fields.ForName(field), "nested rule for a field the schema does not have: %s", name)
	}
	assert.False(t, auth.AllowedNested(auth.Agent, "CI.dependencies"))
	assert.True(t, auth.AllowedNested(auth.Viewer, "CI.dependencies"))
	assert.True(t, auth.AllowedNested(auth.Agent, "CI.name"), "unlisted fields follow their root")
}
