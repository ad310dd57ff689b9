package embedded

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/skein-cmdb/skein/internal/store"
)

// The writer's hot path encodes JSON by hand. The attribute encoding is
// store.EncodeAttributes' format exactly (sorted keys; floats always with a
// point or exponent; times as {"$time":"<RFC 3339 nanos>"}), so
// store.DecodeAttributes reads it back; strings are escaped minimally
// (store's encoder also escapes <, > and &), which decodes the same.

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			m, _ := json.Marshal(s) // rare: escapes and non-ASCII
			return append(b, m...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendValue appends one attribute value.
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return b, fmt.Errorf("float %v cannot be stored", x)
		}
		n := len(b)
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
		if !strings.ContainsAny(string(b[n:]), ".eE") {
			b = append(b, '.', '0')
		}
		return b, nil
	case time.Time:
		b = append(b, `{"$time":"`...)
		b = x.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, `"}`...), nil
	case []string:
		return appendStrings(b, x), nil
	}
	return b, fmt.Errorf("unsupported value type %T", v)
}

// appendAttrs appends attributes as store.EncodeAttributes does.
func appendAttrs(b []byte, a store.Attributes) ([]byte, error) {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendValue(b, a[k]); err != nil {
			return b, fmt.Errorf("attribute %q: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

func appendStrings(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, x := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, x)
	}
	return append(b, ']')
}

// appendSources appends {attribute: source} with sorted keys.
func appendSources(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendSeen appends {source: unix nanos} with sorted keys.
func appendSeen(b []byte, m map[string]time.Time) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, m[k].UnixNano(), 10)
	}
	return append(b, '}')
}

// appendChanges appends audit changes as
// [{"f":field,"v":{"a":after,"b":before}}], the values in attribute form
// (absent for nil). A value of a type the codec does not know is stored in
// the closest attribute type, or as its fmt %v string.
func appendChanges(b []byte, cs []store.FieldChange) []byte {
	b = append(b, '[')
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"f":`...)
		b = appendJSONString(b, c.Field)
		b = append(b, `,"v":{`...)
		if c.After != nil {
			b = append(b, `"a":`...)
			b = appendLenient(b, c.After)
		}
		if c.Before != nil {
			if c.After != nil {
				b = append(b, ',')
			}
			b = append(b, `"b":`...)
			b = appendLenient(b, c.Before)
		}
		b = append(b, "}}"...)
	}
	return append(b, ']')
}

func appendLenient(b []byte, v any) []byte {
	n := len(b)
	b, err := appendValue(b, v)
	if err != nil {
		b, err = appendValue(b[:n], fallbackValue(v))
		if err != nil {
			b = appendJSONString(b[:n], fmt.Sprint(v))
		}
	}
	return b
}
