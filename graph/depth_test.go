package graph

import (
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// depthArgs are the traversal depth arguments the resolvers pass through
// depthArg, by type, field and argument.
var depthArgs = [][3]string{
	{"Query", "impactAnalysis", "maxDepth"},
	{"Query", "shortestPath", "maxDepth"},
	{"CI", "dependencies", "depth"},
	{"CI", "dependents", "depth"},
	{"CI", "pathTo", "maxDepth"},
	{"Incident", "suspectChanges", "depth"},
	{"Problem", "commonCauses", "depth"},
	{"CI", "articles", "depth"},
	{"CI", "openRecordsAround", "depth"},
	{"Incident", "impactAnalysis", "maxDepth"},
}

// TestDepthArgumentsHaveOneRule checks that every depth argument of the
// schema goes through depthArg and has an Int default there to read.
func TestDepthArgumentsHaveOneRule(t *testing.T) {
	known := map[[3]string]bool{}
	for _, a := range depthArgs {
		known[a] = true
		def, err := schemaIntDefault(a[0], a[1], a[2])
		require.NoError(t, err)
		assert.Positive(t, def, "%v", a)
	}
	for name, typ := range parsedSchema().Types {
		if strings.HasPrefix(name, "__") {
			continue
		}
		for _, f := range typ.Fields {
			for _, arg := range f.Arguments {
				if strings.Contains(strings.ToLower(arg.Name), "depth") {
					assert.True(t, known[[3]string{name, f.Name, arg.Name}], "%s.%s(%s) is a depth argument: pass it through depthArg and list it here", name, f.Name, arg.Name)
				}
			}
		}
	}
	_, err := schemaIntDefault("CI", "dependents", "types")
	assert.Error(t, err, "an argument without an Int default")
}

func TestDepthArg(t *testing.T) {
	r := &Resolver{Impact: impact.New(nil, nil, impact.Options{MaxDepth: 6})}
	tests := []struct {
		name      string
		field     string
		v         *int
		want      int
		wantField string
	}{
		{"null is the default", "dependents", nil, 3, ""},
		{"a value in range", "dependents", ptr(5), 5, ""},
		{"0 is refused", "dependents", ptr(0), 0, "depth"},
		{"negative is refused", "dependents", ptr(-3), 0, "depth"},
		{"beyond the limit is refused", "dependents", ptr(7), 0, "depth"},
		{"a default beyond the limit is lowered to it", "impactAnalysis", nil, 6, ""},
		{"the default written out beyond the limit is refused", "impactAnalysis", ptr(12), 0, "maxDepth"},
		{"another value beyond the limit is refused", "impactAnalysis", ptr(13), 0, "maxDepth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			typ, arg := "CI", "depth"
			if tt.field == "impactAnalysis" {
				typ, arg = "Query", "maxDepth"
			}
			got, err := r.depthArg(t.Context(), typ, tt.field, arg, tt.v)
			if tt.wantField != "" {
				var ie *store.InvalidError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, tt.wantField, ie.Field)
				assert.Contains(t, ie.Reason, "between 1 and 6")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestDepthArgOmitted: gqlgen fills an omitted argument with its default;
// that default is lowered to the server's limit, as null is.
func TestDepthArgOmitted(t *testing.T) {
	r := &Resolver{Impact: impact.New(nil, nil, impact.Options{MaxDepth: 6})}
	omitted := graphql.WithFieldContext(t.Context(), &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Name: "impactAnalysis"}}})
	got, err := r.depthArg(omitted, "Query", "impactAnalysis", "maxDepth", ptr(12))
	require.NoError(t, err)
	assert.Equal(t, 6, got)
	written := graphql.WithFieldContext(t.Context(), &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{
		Name: "impactAnalysis", Arguments: ast.ArgumentList{{Name: "maxDepth", Value: &ast.Value{Kind: ast.IntValue, Raw: "12"}}},
	}}})
	_, err = r.depthArg(written, "Query", "impactAnalysis", "maxDepth", ptr(12))
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie, "a written 12 beyond the limit of 6 is refused, not lowered")
	assert.Equal(t, "maxDepth", ie.Field)
}
