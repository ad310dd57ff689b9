package cmdb

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skein-cmdb/skein/internal/store"
)

// Input limits on attribute values.
const (
	maxStringLen     = 16384 // hard cap on any string attribute
	defaultStringLen = 1024  // cap when the definition sets none
	maxListLen       = 256
	maxAttributes    = 256
)

// attrSet is what validation needs of a class or relationship type.
type attrSet interface {
	Attribute(name string) (*AttributeDef, bool)
	AttributeNames() []string
}

// Attribute returns the definition of a relationship attribute.
func (r *RelType) Attribute(name string) (*AttributeDef, bool) {
	a, ok := r.attrs[name]
	return a, ok
}

// AttributeNames returns the relationship type's attribute names, sorted.
func (r *RelType) AttributeNames() []string { return r.names }

// validateAttributes converts raw input values to typed attribute values.
// A nil or empty-string value means "clear"; cleared names are returned in
// clears (sorted) and absent from the attributes. field prefixes error paths
// (e.g. "attributes").
func validateAttributes(set attrSet, owner, field string, raw map[string]any) (store.Attributes, []string, error) {
	if len(raw) > maxAttributes {
		return nil, nil, store.Invalid(field, "at most %d attributes, got %d", maxAttributes, len(raw))
	}
	out := make(store.Attributes, len(raw))
	var clears []string
	// Sorted for a deterministic first error.
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		def, ok := set.Attribute(k)
		if !ok {
			sugg := ""
			if s := closest(k, set.AttributeNames()); s != "" {
				sugg = "; did you mean " + s + "?"
			}
			if len(set.AttributeNames()) == 0 {
				return nil, nil, store.Invalid(field+"."+clip(k), "unknown attribute: %s has no attributes", owner)
			}
			return nil, nil, store.Invalid(field+"."+clip(k), "unknown attribute of %s%s; allowed: %s", owner, sugg, strings.Join(set.AttributeNames(), ", "))
		}
		v, err := convertValue(def, raw[k])
		if err != nil {
			return nil, nil, err.WithPrefix(field + "." + k)
		}
		if v == nil {
			clears = append(clears, k)
			continue
		}
		out[k] = v
	}
	return out, clears, nil
}

// checkRequired reports the first required attribute of set missing from a.
func checkRequired(set attrSet, field string, a store.Attributes) error {
	for _, name := range set.AttributeNames() {
		def, _ := set.Attribute(name)
		if def.Required {
			if _, ok := a[name]; !ok {
				return store.Invalid(field+"."+name, "is required")
			}
		}
	}
	return nil
}

// convertValue converts one input value to the attribute's type. It accepts
// the JSON forms (string, float64, json.Number, bool, []any), Go forms (int,
// int64, time.Time, []string), and strings for numbers, booleans and times,
// since discovery sources often report everything as text. It returns nil
// for null and for empty strings.
func convertValue(def *AttributeDef, v any) (any, *store.InvalidError) {
	if v == nil {
		return nil, nil
	}
	if s, ok := v.(string); ok {
		if strings.TrimSpace(s) == "" && def.Type != TypeList {
			return nil, nil
		}
	}
	switch def.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(def, v)
		}
		return checkString(def, s)
	case TypeEnum:
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(def, v)
		}
		s = strings.TrimSpace(s)
		for _, allowed := range def.Values {
			if strings.EqualFold(s, allowed) {
				return allowed, nil
			}
		}
		return nil, store.Invalid("", "%q is not allowed; allowed values: %s", clip(s), strings.Join(def.Values, ", "))
	case TypeInt:
		n, err := toInt(v)
		if err != nil {
			return nil, store.Invalid("", "%s", err)
		}
		if (def.Min != nil && float64(n) < *def.Min) || (def.Max != nil && float64(n) > *def.Max) {
			return nil, store.Invalid("", "%d is out of range%s", n, rangeText(def))
		}
		return n, nil
	case TypeFloat:
		f, err := toFloat(v)
		if err != nil {
			return nil, store.Invalid("", "%s", err)
		}
		if (def.Min != nil && f < *def.Min) || (def.Max != nil && f > *def.Max) {
			return nil, store.Invalid("", "%g is out of range%s", f, rangeText(def))
		}
		return f, nil
	case TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(x))
			if err != nil {
				return nil, store.Invalid("", "%q is not a boolean (true or false)", clip(x))
			}
			return b, nil
		}
		return nil, typeErr(def, v)
	case TypeTime:
		switch x := v.(type) {
		case time.Time:
			if err := store.CheckTime("", x); err != nil {
				return nil, err
			}
			return x.UTC(), nil
		case string:
			t, err := store.ParseTime("", x)
			if err != nil {
				return nil, err
			}
			return t, nil
		}
		return nil, typeErr(def, v)
	case TypeList:
		var items []string
		switch x := v.(type) {
		case []string:
			items = x
		case []any:
			items = make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, store.Invalid(fmt.Sprintf("[%d]", i), "must be a string, got %s", jsonType(e))
				}
				items[i] = s
			}
		default:
			return nil, typeErr(def, v)
		}
		if len(items) > maxListLen {
			return nil, store.Invalid("", "at most %d items, got %d", maxListLen, len(items))
		}
		set := make(map[string]bool, len(items))
		out := make([]string, 0, len(items))
		for i, s := range items {
			cs, err := checkString(&AttributeDef{MaxLength: 255}, s)
			if err != nil {
				return nil, err.WithPrefix(fmt.Sprintf("[%d]", i))
			}
			if cs == nil || set[cs.(string)] {
				continue
			}
			set[cs.(string)] = true
			out = append(out, cs.(string))
		}
		sort.Strings(out)
		return out, nil
	}
	return nil, store.Invalid("", "attribute has unknown type %q", def.Type)
}

// checkString applies the text rule (store.CleanText) and the length limit
// to a string value, and returns it trimmed, in NFC and, for an attribute
// with a normaliser, in that normaliser's canonical form (see canonical).
func checkString(def *AttributeDef, s string) (any, *store.InvalidError) {
	if len(s) > 4*maxStringLen {
		return nil, store.Invalid("", "is %d bytes long; at most %d characters allowed", len(s), max(def.MaxLength, defaultStringLen))
	}
	s, err := store.CleanText("", strings.TrimSpace(s), def.Multiline)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, nil
	}
	limit := def.MaxLength
	if limit == 0 {
		limit = defaultStringLen
	}
	if n := utf8.RuneCountInString(s); n > limit {
		return nil, store.Invalid("", "is %d characters long; at most %d allowed", n, limit)
	}
	if def.Normalize == NormEmail && !validEmail(s) {
		return nil, store.Invalid("", "%q is not an e-mail address (one @ between a local part and a domain, no spaces)", clip(s))
	}
	return canonical(def.Normalize, s), nil
}

// validEmail reports whether s has the shape of an e-mail address: a local
// part, one @, and a domain with a dot or a single label, without spaces,
// angle brackets or a display name. It is a sanity check on what people
// type, not RFC 5322: net/mail accepts display names and comments, which
// an attribute holding an address must not.
func validEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return false
	}
	return !strings.ContainsAny(s, " \t<>,;\"()[]\\")
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("%v is not a whole number", x)
		}
		return int64(x), nil
	case json.Number:
		return toInt(x.String())
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", clip(x))
		}
		return n, nil
	}
	return 0, fmt.Errorf("must be a whole number, got %s", jsonType(v))
}

func toFloat(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		return toFloat(x.String())
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number", clip(x))
		}
		f = p
	default:
		return 0, fmt.Errorf("must be a number, got %s", jsonType(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("must be a finite number")
	}
	return f, nil
}

func typeErr(def *AttributeDef, v any) *store.InvalidError {
	want := string(def.Type)
	switch def.Type {
	case TypeEnum:
		want = "a string, one of: " + strings.Join(def.Values, ", ")
	case TypeList:
		want = "a list of strings"
	case TypeTime:
		want = "a time (RFC 3339 string)"
	}
	return store.Invalid("", "must be %s, got %s", want, jsonType(v))
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, int, int64, json.Number:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func rangeText(def *AttributeDef) string {
	switch {
	case def.Min != nil && def.Max != nil:
		return fmt.Sprintf("; allowed: %g to %g", *def.Min, *def.Max)
	case def.Min != nil:
		return fmt.Sprintf("; allowed: at least %g", *def.Min)
	case def.Max != nil:
		return fmt.Sprintf("; allowed: at most %g", *def.Max)
	}
	return ""
}
