package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The one JSON encoding both backends store, written by hand: attributes
// (sorted keys; strings, booleans, integers and string lists as plain JSON
// a backend can query; floats always with a point or exponent; times as
// {"$time":"<RFC 3339 nanos>"}), key lists, provenance, sightings and audit
// changes. The Decode functions of jsondec.go read each back into exactly
// the Go types written. ADR 0017 says why by hand: no library came close
// on this format (BenchmarkAttributeCodec).

// AppendJSONString appends s as a JSON string: plain ASCII as is, anything
// else through encoding/json.
func AppendJSONString(b []byte, s string) []byte {
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
		return AppendJSONString(b, x), nil
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
		if err := CheckTime("", x); err != nil {
			return b, errors.New(err.Reason)
		}
		b = append(b, `{"$time":"`...)
		b = x.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, `"}`...), nil
	case []string:
		return AppendStrings(b, x), nil
	}
	return b, fmt.Errorf("unsupported value type %T", v)
}

// AppendAttributes appends the encoding of a to b. A value of a type
// attributes do not have, a NaN or infinite float, or a time out of
// CheckTime's range is an error naming the attribute.
func AppendAttributes(b []byte, a Attributes) ([]byte, error) {
	var err error
	b = appendObject(b, a, func(b []byte, k string) []byte {
		if err != nil {
			return b
		}
		var e error
		if b, e = appendValue(b, a[k]); e != nil {
			err = fmt.Errorf("attribute %q: %w", k, e)
		}
		return b
	})
	return b, err
}

// appendObject appends m as a JSON object, keys sorted, each value
// written by value.
func appendObject[V any](b []byte, m map[string]V, value func(b []byte, k string) []byte) []byte {
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
		b = AppendJSONString(b, k)
		b = append(b, ':')
		b = value(b, k)
	}
	return append(b, '}')
}

// AppendStrings appends s as a JSON array of strings.
func AppendStrings(b []byte, s []string) []byte {
	b = append(b, '[')
	for i, x := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, x)
	}
	return append(b, ']')
}

// AppendSeen appends {source: unix nanos} with sorted keys.
func AppendSeen(b []byte, m map[string]time.Time) []byte {
	return appendObject(b, m, func(b []byte, k string) []byte { return strconv.AppendInt(b, m[k].UnixNano(), 10) })
}

// AppendChanges appends audit changes as
// [{"f":field,"v":{"a":after,"b":before}}], the values in attribute form
// (absent for nil). A value of a type the codec does not know is stored in
// the closest attribute type, or as its fmt %v string.
func AppendChanges(b []byte, cs []FieldChange) []byte {
	b = append(b, '[')
	for i, c := range cs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"f":`...)
		b = AppendJSONString(b, c.Field)
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
			b = AppendJSONString(b[:n], fmt.Sprint(v))
		}
	}
	return b
}

// fallbackValue maps a value an audit change may hold but attributes do not
// (an int, a float32, an ID, a NaN) to the closest attribute value.
func fallbackValue(v any) any {
	switch x := v.(type) {
	case string, bool, int64, []string:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return x
	case time.Time:
		return x.UTC()
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case float32:
		return float64(x)
	case ID:
		return string(x)
	}
	return fmt.Sprint(v)
}
