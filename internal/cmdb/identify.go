package cmdb

import (
	"net"
	"strconv"
	"strings"
	"unicode"

	"github.com/skein-cmdb/skein/internal/store"
)

// placeholderSerials are serial numbers that firmware reports when nobody
// set one. Treating them as identifiers would merge every unbranded machine
// into one CI, so a rule that would use one is skipped. Compared after
// serial normalisation.
var placeholderSerials = placeholders(
	"", "0", "00000000", "000000000000", "0000000000", "0123456789", "1234567890", "123456789",
	"none", "null", "n/a", "na", "unknown", "not specified", "not available", "not applicable",
	"default string", "to be filled by o.e.m.", "to be filled by oem", "system serial number",
	"chassis serial number", "serial number", "invalid", "empty", "xxxxxxxxxx", "oem",
	"default", "123456", "base board serial number", "not provided",
)

func placeholders(list ...string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[normalizeSerial(s)] = true
	}
	return m
}

// NormalizeValue returns the canonical form of a value under the
// normalisation kind (NormSerial, NormMAC, NormFQDN, ...), as identity keys
// compare it, and false when the value cannot identify anything (a
// placeholder serial such as "To be filled by O.E.M.", an unparsable MAC).
func NormalizeValue(kind string, v any) (string, bool) { return normalize(kind, v) }

// normalize returns the canonical form of an identification value, and
// false when the value cannot identify anything (a placeholder serial, an
// unparsable MAC address).
func normalize(kind string, v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	default:
		return "", false
	}
	switch kind {
	case NormSerial:
		n := normalizeSerial(s)
		if placeholderSerials[n] {
			return "", false
		}
		return n, true
	case NormMAC:
		return normalizeMAC(s)
	case NormFQDN:
		// Trailing dots and spaces go together, so that normalising twice
		// changes nothing ("a..", "host. ").
		n := strings.TrimRightFunc(strings.ToLower(strings.TrimSpace(s)), func(r rune) bool { return r == '.' || unicode.IsSpace(r) })
		return n, n != ""
	case NormExact:
		n := strings.TrimSpace(s)
		return n, n != ""
	case NormEmail:
		// Addresses compare ignoring case: every mail system in use
		// treats the local part so, whatever RFC 5321 allows.
		n := strings.ToLower(strings.TrimSpace(s))
		return n, n != ""
	default: // text
		n := strings.ToLower(strings.Join(strings.Fields(s), " "))
		return n, n != ""
	}
}

// canonical returns the form in which a string attribute with normaliser
// kind is stored (and compared, in filters): serial numbers upper case
// without separators, MAC addresses aa:bb:cc:dd:ee:ff, DNS names lower case
// without a trailing dot. So two sources that spell one value differently
// leave the CI unchanged. Text attributes keep the case they were given
// (they identify case-insensitively), and a value the normaliser cannot
// read (a malformed MAC address) is kept as given.
func canonical(kind, s string) string {
	switch kind {
	case NormSerial:
		if n := normalizeSerial(s); n != "" {
			return n
		}
	case NormMAC:
		if n, ok := canonicalMAC(s); ok {
			return n
		}
	case NormFQDN, NormEmail:
		if n, ok := normalize(kind, s); ok {
			return n
		}
	}
	return s
}

// normalizeSerial upper-cases a serial number and drops the separators that
// sources disagree on (spaces, dashes, colons, dots, underscores).
func normalizeSerial(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '\t', '-', ':', '.', '_', '/':
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// normalizeMAC accepts the usual spellings (aa:bb:.., AA-BB-.., aabb.ccdd.eeff,
// aabbccddeeff) and returns lower-case colon form. All-zero and broadcast
// addresses identify nothing.
func normalizeMAC(s string) (string, bool) {
	out, ok := canonicalMAC(s)
	if !ok || out == "00:00:00:00:00:00" || out == "ff:ff:ff:ff:ff:ff" {
		return "", false
	}
	return out, true
}

// canonicalMAC returns a MAC address in lower-case colon form, and false
// when s is not one in a usual notation.
func canonicalMAC(s string) (string, bool) {
	s = strings.TrimSpace(s)
	hex := strings.Map(func(r rune) rune {
		switch r {
		case ':', '-', '.', ' ':
			return -1
		}
		return r
	}, s)
	if len(hex) != 12 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	hw, err := net.ParseMAC(b.String())
	if err != nil {
		return "", false
	}
	return hw.String(), true
}

// Keys returns the identity keys of a CI of class c with attributes a,
// strongest rule first, each "<family>|<rule>|<values>". A rule yields a
// key only when every attribute it names is present and identifying.
func (c *Class) Keys(a store.Attributes) []string {
	var keys []string
	for _, rule := range c.Rules {
		vals := make([]string, 0, len(rule))
		for _, name := range rule {
			v, ok := a[name]
			if !ok {
				break
			}
			def := c.attrs[name]
			n, ok := normalize(def.Normalize, v)
			if !ok {
				break
			}
			vals = append(vals, n)
		}
		if len(vals) == len(rule) {
			keys = append(keys, c.Family+"|"+strings.Join(rule, "+")+"|"+strings.Join(vals, "\x1f"))
		}
	}
	return keys
}

// noKeyError explains which attributes would identify a CI of class c.
func (c *Class) noKeyError(field string) error {
	alts := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		alts[i] = strings.Join(r, " and ")
	}
	return store.Invalid(field, "cannot identify a %s: provide %s (placeholder serial numbers and malformed MAC addresses do not count)", c.Def.Name, strings.Join(alts, ", or "))
}
