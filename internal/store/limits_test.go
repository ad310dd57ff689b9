package store

import (
	"errors"
	"strings"
	"testing"
	"time"

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
		{"no class, by keys", CIUpsert{Keys: []string{"k"}}, "class"},
		{"no class, by ID: the decision keeps the stored one", CIUpsert{ID: "x"}, ""},
		{"bad class, by ID", CIUpsert{ID: "x", Class: "Bad Class"}, "class"},
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

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"2024-05-01T12:00:00Z", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{"2024-05-01T14:00:00.5+02:00", time.Date(2024, 5, 1, 12, 0, 0, 5e8, time.UTC)},
		{"2024-05-01T12:00:00", time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)},
		{" 2024-05-01 ", time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)},
		{"1678-01-01", MinTime},
		{"2261-12-31T23:59:59.999999999Z", MaxTime},
	} {
		got, err := ParseTime("at", tt.in)
		if assert.Nil(t, err, tt.in) {
			assert.True(t, tt.want.Equal(got), "%s: %s", tt.in, got)
			assert.Equal(t, time.UTC, got.Location())
		}
	}
	for _, in := range []string{"", "yesterday", "2024-13-01", "2024-05-01 12:00", "1677-12-31T23:59:59Z", "2262-01-01", "0000-01-01", "+10000-01-01"} {
		_, err := ParseTime("at", in)
		if assert.NotNil(t, err, in) {
			assert.Equal(t, "at", err.Field)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, tt := range []struct {
		in, want  string
		multiline bool
		bad       bool
	}{
		{in: "se\u0301ver", want: "s\u00e9ver"},
		{in: "Ångström", want: "Ångström"},
		{in: "a b", want: "a b"},
		{in: "a\nb", bad: true},
		{in: "a\nb\tc", want: "a\nb\tc", multiline: true},
		{in: "a\u202eb", bad: true},
		{in: "a\u202eb", multiline: true, bad: true},
		{in: "a\u2066b", bad: true},
		{in: "a\u200bb", bad: true},
		{in: "a\u200db", bad: true},
		{in: "a\u200db", want: "a\u200db", multiline: true},
		{in: "\ufeffa", bad: true},
		{in: "a\x7fb", bad: true},
		{in: "a\u0085b", bad: true},
		{in: "a\u2028b", bad: true},
		{in: "a\ufffdb", bad: true},
		{in: "a\xffb", bad: true},
	} {
		got, err := CleanText("name", tt.in, tt.multiline)
		if tt.bad {
			if assert.NotNil(t, err, "%q", tt.in) {
				assert.Equal(t, "name", err.Field)
			}
			continue
		}
		if assert.Nil(t, err, "%q", tt.in) {
			assert.Equal(t, tt.want, got)
		}
	}
}
