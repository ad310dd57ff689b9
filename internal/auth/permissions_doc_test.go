package auth

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPermissionsTableAsDocumented holds the table of docs/SECURITY.md
// ("Permissions by kind and verb") to Permissions: the same rows, the same
// roles in each.
func TestPermissionsTableAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/SECURITY.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?s)<!-- permissions:begin -->\n(.*?)<!-- permissions:end -->`).FindSubmatch(doc)
	require.NotNil(t, m, "docs/SECURITY.md has a permission table between permissions markers")
	lines := strings.Split(strings.TrimSpace(string(m[1])), "\n")
	header := strings.Split(strings.Trim(lines[0], "| "), "|")
	var cols []Role
	for _, h := range header[2 : len(header)-1] {
		cols = append(cols, Role(strings.TrimSpace(h)))
	}
	require.Equal(t, append([]Role{Anonymous}, TokenRoles...), cols, "the role columns")
	documented := map[Permission][]Role{}
	for _, line := range lines[2:] {
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "|"), "|"), "|")
		require.Len(t, cells, 3+len(cols), "row %q", line)
		p := Permission{Kind(strings.Trim(strings.TrimSpace(cells[0]), "`")), Verb(strings.Trim(strings.TrimSpace(cells[1]), "`"))}
		var roles []Role
		for i, r := range cols {
			switch c := strings.TrimSpace(cells[2+i]); c {
			case "✓":
				roles = append(roles, r)
			case "✗":
			default:
				t.Fatalf("%s, %s: cell %q is neither ✓ nor ✗", p, r, c)
			}
		}
		documented[p] = roles
	}
	assert.Len(t, documented, len(Permissions), "one documented row per rule")
	for p, roles := range documented {
		assert.ElementsMatch(t, Roles(p), roles, "%s", p)
		_, ok := Permissions[p]
		assert.True(t, ok, "%s is documented but has no rule", p)
	}
}
