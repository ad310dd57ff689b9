package graph

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// depthArgs are the traversal depth arguments the resolvers pass through
// depthArg, by type, field and argument.
var depthArgs = [][3]string{
	{"Query", "impactAnalysis", "maxDepth"},
	{"Query", "shortestPath", "maxDepth"},
	{"CI", "dependencies", "depth"},
	{"CI", "dependents", "depth"},
	{"CI", "pathTo", "maxDepth"},
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
