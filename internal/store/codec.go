package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EncodeAttributes encodes attributes as a JSON object that DecodeAttributes
// turns back into exactly the same Go types. Strings, booleans, integers and
// string lists are plain JSON, so a backend can query them with its JSON
// functions; floats always carry a decimal point or exponent, and times are
// {"$time":"<RFC 3339, nanoseconds>"}. Keys are sorted.
func EncodeAttributes(a Attributes) ([]byte, error) {
	return AppendAttributes(nil, a)
}

// decodeAttributesStd decodes the output of EncodeAttributes with
// encoding/json: what DecodeAttributes falls back to for input its fast
// reader declines.
func decodeAttributesStd(data []byte) (Attributes, error) {
	if len(data) == 0 {
		return Attributes{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode attributes: %w", err)
	}
	out := make(Attributes, len(raw))
	for k, v := range raw {
		dv, err := decodeValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = dv
	}
	return out, nil
}

func decodeValue(v any) (any, error) {
	switch x := v.(type) {
	case string, bool:
		return x, nil
	case json.Number:
		s := x.String()
		if strings.ContainsAny(s, ".eE") {
			return x.Float64()
		}
		return x.Int64()
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("list element %d is %T, want string", i, e)
			}
			out[i] = s
		}
		return out, nil
	case map[string]any:
		s, ok := x["$time"].(string)
		if !ok || len(x) != 1 {
			return nil, fmt.Errorf("unexpected object value")
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, err
		}
		if err := CheckTime("", t); err != nil {
			return nil, errors.New(err.Reason)
		}
		return t.UTC(), nil
	}
	return nil, fmt.Errorf("unexpected value %T", v)
}

// EqualValues reports whether two attribute values are equal (same type and
// value; times compared as instants).
func EqualValues(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []string:
		y, ok := b.([]string)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	case nil:
		return b == nil
	}
	switch b.(type) {
	case time.Time, []string:
		return false
	}
	return a == b
}
