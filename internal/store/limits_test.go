package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidIdentifier(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a", true}, {"A_1", true}, {"DEPENDS_ON", true}, {strings.Repeat("a", 64), true},
		{"", false}, {"_a", false}, {"1a", false}, {"a-b", false}, {"a b", false}, {"é", false},
		{strings.Repeat("a", 65), false}, {"a\n", false}, {"x) DETACH DELETE n //", false}, {"`CI`", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ValidIdentifier(tt.in), "%q", tt.in)
	}
}

func TestCIUpsertCheck(t *testing.T) {
	tests := []struct {
		name  string
		in    CIUpsert
		field string // "" means valid
	}{
		{"valid", CIUpsert{Class: "Server", Keys: []string{"k"}, Attributes: Attributes{"name": "x"}}, ""},
		{"bad class", CIUpsert{Class: "Bad Class", Keys: []string{"k"}}, "class"},
		{"no keys", CIUpsert{Class: "Server"}, "keys"},
		{"empty key", CIUpsert{Class: "Server", Keys: []string{"k", ""}}, "keys[1]"},
		{"bad attribute name", CIUpsert{Class: "Server", Keys: []string{"k"}, Attributes: Attributes{"bad-name": 1}}, "attributes"},
		{"reserved attribute", CIUpsert{Class: "Server", Keys: []string{"k"}, Attributes: Attributes{"id": "x"}}, "attributes.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Check()
			if tt.field == "" {
				assert.Nil(t, err)
				return
			}
			require.NotNil(t, err)
			assert.Equal(t, tt.field, err.Field)
		})
	}
}
