package store

import (
	"errors"
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

func TestRelCursorRoundTrip(t *testing.T) {
	for _, c := range []struct {
		out        bool
		typ, other string
	}{{true, "RUNS_ON", "42"}, {false, "7", "0195a1b2-..."}, {true, "", ""}} {
		out, typ, other, set, err := DecodeRelCursor(EncodeRelCursor(c.out, c.typ, c.other))
		if err != nil || !set || out != c.out || typ != c.typ || other != c.other {
			t.Errorf("%+v: got %v %q %q %v %v", c, out, typ, other, set, err)
		}
	}
	if _, _, _, set, err := DecodeRelCursor(""); set || err != nil {
		t.Errorf("empty cursor: %v %v", set, err)
	}
	for _, bad := range []string{"x", EncodeCursor("abc"), EncodeCursor("q\x1fa\x1fb")} {
		var ie *InvalidError
		if _, _, _, _, err := DecodeRelCursor(bad); !errors.As(err, &ie) || ie.Field != "after" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
