package cmdb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRecommendedAttributes checks the recommended flag: the default model
// marks a few, a class inherits its ancestors', and an attribute is either
// required or recommended, on classes only.
func TestRecommendedAttributes(t *testing.T) {
	m, err := DefaultModel()
	require.NoError(t, err)
	srv, ok := m.Class("LinuxServer")
	require.True(t, ok)
	req, rec := srv.Expected()
	assert.Equal(t, []string{"name"}, req)
	assert.Equal(t, []string{"environment", "ip_address", "os_name", "owner", "support_group"}, rec, "own, Server's and CI's")

	const classes = "classes:\n  - {name: CI, abstract: true, attributes: [{name: name, type: string, required: true}]}\n"
	tests := []struct {
		name, yaml, field string
	}{
		{"required and recommended", classes + "  - {name: S, parent: CI, identification: [[name]], attributes: [{name: x, type: string, required: true, recommended: true}]}\n", "attributes[0].recommended"},
		{"on a relationship type", classes + "  - {name: S, parent: CI, identification: [[name]]}\nrelationship_types:\n  - {name: R, impact: {propagates: none}, attributes: [{name: x, type: string, recommended: true}]}\n", "attributes[0].recommended"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseModel([]byte(tt.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
	m, err = ParseModel([]byte(classes + "  - {name: S, parent: CI, identification: [[name]], attributes: [{name: x, type: string, recommended: true}]}\n"))
	require.NoError(t, err)
	s, _ := m.Class("S")
	_, rec = s.Expected()
	assert.Equal(t, []string{"x"}, rec)
}
