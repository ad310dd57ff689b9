package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EncodeAttributes encodes attributes as a JSON object that DecodeAttributes
// turns back into exactly the same Go types. Strings, booleans, integers and
// string lists are plain JSON, so a backend can query them with its JSON
// functions; floats always carry a decimal point or exponent, and times are
// {"$time":"<RFC 3339, nanoseconds>"}. Keys are sorted.
func EncodeAttributes(a Attributes) ([]byte, error) {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		if err := encodeValue(&buf, a[k]); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func encodeValue(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case string:
		b, _ := json.Marshal(x)
		buf.Write(b)
	case bool:
		buf.WriteString(strconv.FormatBool(x))
	case int64:
		buf.WriteString(strconv.FormatInt(x, 10))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("float %v cannot be stored", x)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		buf.WriteString(s)
	case time.Time:
		if err := CheckTime("", x); err != nil {
			return errors.New(err.Reason)
		}
		b, _ := json.Marshal(x.UTC().Format(time.RFC3339Nano))
		buf.WriteString(`{"$time":`)
		buf.Write(b)
		buf.WriteByte('}')
	case []string:
		if x == nil {
			x = []string{}
		}
		b, _ := json.Marshal(x)
		buf.Write(b)
	default:
		return fmt.Errorf("unsupported value type %T", v)
	}
	return nil
}

// DecodeAttributes decodes the output of EncodeAttributes.
func DecodeAttributes(data []byte) (Attributes, error) {
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
