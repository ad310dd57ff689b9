package store

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// CleanText applies Skein's one rule for text that people and tools type and
// compare: CI names, identifying and other attribute values, token names. It
// returns s in Unicode NFC, so that "séver" typed precomposed or with a
// combining accent is one string, or an *InvalidError on field when s is
// not valid UTF-8 or holds a character nobody can see or type on purpose:
// control characters, invisible formatting characters (bidi overrides,
// zero-width spaces, byte order marks), line and paragraph separators, and
// U+FFFD, which is what invalid UTF-8 becomes once a JSON decoder has
// replaced it. Free text (multiline) may also hold line breaks and tabs, and
// the zero-width joiners some scripts and emoji need.
func CleanText(field, s string, multiline bool) (string, *InvalidError) {
	if !utf8.ValidString(s) {
		return "", Invalid(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if reason := badRune(r, multiline); reason != "" {
			return "", Invalid(field, "contains %s (U+%04X), which is not allowed here", reason, r)
		}
	}
	return norm.NFC.String(s), nil
}

// badRune says why r may not appear in text, or "".
func badRune(r rune, multiline bool) string {
	switch {
	case r == '\n' || r == '\t' || r == '\r':
		if multiline {
			return ""
		}
		return "a line break or tab"
	case unicode.IsControl(r):
		return "a control character"
	case r == '\u200c' || r == '\u200d': // zero-width non-joiner, joiner
		if multiline {
			return ""
		}
		return "an invisible formatting character"
	case unicode.Is(unicode.Cf, r):
		return "an invisible formatting character"
	case r == '\u2028' || r == '\u2029':
		if multiline {
			return ""
		}
		return "a line break"
	case r == utf8.RuneError:
		return "the replacement character, which stands for bytes that were not valid UTF-8"
	}
	return ""
}
