package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTextQuery(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       []TextTerm
		invalid    bool
	}{
		{name: "words", text: "Web  server", want: []TextTerm{{Tokens: []string{"web"}}, {Tokens: []string{"server"}}}},
		{name: "prefix", text: "pay*", want: []TextTerm{{Tokens: []string{"pay"}, Prefix: true}}},
		{name: "phrase", text: `"payment gateway"`, want: []TextTerm{{Tokens: []string{"payment", "gateway"}}}},
		{name: "phrase prefix", text: `"payment gat"*`, want: []TextTerm{{Tokens: []string{"payment", "gat"}, Prefix: true}}},
		{name: "unclosed quote", text: `"a b`, want: []TextTerm{{Tokens: []string{"a", "b"}}}},
		{name: "inner punctuation", text: "10.0.0.1 web-01", want: []TextTerm{{Tokens: []string{"10", "0", "0", "1"}}, {Tokens: []string{"web", "01"}}}},
		{name: "operators are words", text: "a AND NOT b", want: []TextTerm{{Tokens: []string{"a"}}, {Tokens: []string{"and"}}, {Tokens: []string{"not"}}, {Tokens: []string{"b"}}}},
		{name: "lucene syntax", text: `name:x^2 (y~1)`, want: []TextTerm{{Tokens: []string{"name", "x", "2"}}, {Tokens: []string{"y", "1"}}}},
		{name: "unicode", text: "Ünïcode 日本", want: []TextTerm{{Tokens: []string{"ünïcode"}}, {Tokens: []string{"日本"}}}},
		{name: "empty", text: "", invalid: true},
		{name: "punctuation", text: `*** -- "" \ ()`, invalid: true},
		{name: "too long", text: strings.Repeat("a", MaxSearchText+1), invalid: true},
		{name: "too many terms", text: strings.Repeat("a ", MaxSearchTerms+1), invalid: true},
		{name: "too many tokens", text: `"` + strings.Repeat("a ", MaxSearchTokens+1) + `"`, invalid: true},
		{name: "bad utf8", text: "a\xffb", invalid: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseTextQuery(c.text)
			if c.invalid {
				var ie *InvalidError
				require.True(t, errors.As(err, &ie), "err %v", err)
				assert.Equal(t, "text", ie.Field)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
			require.NoError(t, TextQuery{Terms: got, Limit: 1}.Check())
		})
	}
}

func TestSearchDocument(t *testing.T) {
	doc := SearchDocument(Attributes{"name": "Web-01", "tags": []string{"PCI", "eu"}, "port": int64(443), "description": "Ça va."})
	assert.Equal(t, "ça va web 01 pci eu", doc)
	long := strings.Repeat("x", MaxTokenRunes+10)
	assert.Equal(t, []string{strings.Repeat("x", MaxTokenRunes)}, SearchTokens(long))
}

// FuzzParseTextQuery: whatever the text, parsing never panics, and a query
// it accepts passes Check (holds nothing but letters, digits and marks).
func FuzzParseTextQuery(f *testing.F) {
	for _, s := range []string{"a", `"a b"*`, `name:x AND y`, `\"`, "日本*", "a\x00b", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := ParseTextQuery(s)
		if err != nil {
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Field != "text" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if err := (TextQuery{Terms: terms, Limit: 1}).Check(); err != nil {
			t.Fatalf("%q parsed to %v: %v", s, terms, err)
		}
	})
}
