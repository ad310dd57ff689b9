package embedded

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/skein-cmdb/skein/internal/store"
)

// A small reader for the JSON this package writes (attributes in
// store.EncodeAttributes form, key lists, source and seen maps). It is an
// accelerator only: on anything it does not expect it fails, and callers
// fall back to encoding/json or store.DecodeAttributes, which decide.

var errFast = errors.New("fast JSON path declined")

type jreader struct {
	b []byte
	i int
}

func (r *jreader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jreader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

func (r *jreader) eat(c byte) bool {
	if r.peek() == c {
		r.i++
		return true
	}
	return false
}

// str reads a JSON string; escapes go through encoding/json.
func (r *jreader) str() (string, error) {
	if r.peek() != '"' {
		return "", errFast
	}
	start := r.i
	r.i++
	escaped, high := false, false
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '\\':
			escaped = true
			r.i += 2
			continue
		case c >= utf8.RuneSelf:
			high = true
		case c == '"':
			r.i++
			if high && !utf8.Valid(r.b[start+1:r.i-1]) {
				escaped = true // let encoding/json replace invalid bytes
			}
			if !escaped {
				return string(r.b[start+1 : r.i-1]), nil
			}
			var s string
			if err := json.Unmarshal(r.b[start:r.i], &s); err != nil {
				return "", errFast
			}
			return s, nil
		case c < 0x20:
			return "", errFast
		}
		r.i++
	}
	return "", errFast
}

// number reads a JSON number as int64, or float64 when it has a point or
// an exponent (store.DecodeAttributes' rule).
func (r *jreader) number() (any, error) {
	r.ws()
	start, float := r.i, false
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '.' || c == 'e' || c == 'E' {
			float = true
		} else if !(c >= '0' && c <= '9' || c == '-' || c == '+') {
			break
		}
		r.i++
	}
	s := string(r.b[start:r.i])
	if float {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errFast
		}
		return f, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, errFast
	}
	return n, nil
}

func (r *jreader) literal(lit string) bool {
	r.ws()
	if len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit {
		r.i += len(lit)
		return true
	}
	return false
}

// strings reads a JSON array of strings (never nil).
func (r *jreader) strings() ([]string, error) {
	if !r.eat('[') {
		return nil, errFast
	}
	out := []string{}
	if r.eat(']') {
		return out, nil
	}
	for {
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		if r.eat(']') {
			return out, nil
		}
		if !r.eat(',') {
			return nil, errFast
		}
	}
}

// value reads one attribute value.
func (r *jreader) value() (any, error) {
	switch c := r.peek(); {
	case c == '"':
		return r.str()
	case c == 't' && r.literal("true"):
		return true, nil
	case c == 'f' && r.literal("false"):
		return false, nil
	case c == '-' || c >= '0' && c <= '9':
		return r.number()
	case c == '[':
		return r.strings()
	case c == '{':
		r.i++
		k, err := r.str()
		if err != nil || k != "$time" || !r.eat(':') {
			return nil, errFast
		}
		s, err := r.str()
		if err != nil || !r.eat('}') {
			return nil, errFast
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, errFast
		}
		return t, nil
	}
	return nil, errFast
}

// object reads a JSON object, calling f for each member after its key.
func (r *jreader) object(f func(k string) error) error {
	if !r.eat('{') {
		return errFast
	}
	if r.eat('}') {
		return nil
	}
	for {
		k, err := r.str()
		if err != nil || !r.eat(':') {
			return errFast
		}
		if err := f(k); err != nil {
			return err
		}
		if r.eat('}') {
			return nil
		}
		if !r.eat(',') {
			return errFast
		}
	}
}

func (r *jreader) end() bool {
	r.ws()
	return r.i == len(r.b)
}

// decodeAttrs is store.DecodeAttributes, faster on this package's output.
func decodeAttrs(b []byte) (store.Attributes, error) {
	if len(b) == 0 {
		return store.Attributes{}, nil
	}
	r := &jreader{b: b}
	out := store.Attributes{}
	err := r.object(func(k string) error {
		v, err := r.value()
		out[k] = v
		return err
	})
	if err != nil || !r.end() {
		return store.DecodeAttributes(b)
	}
	return out, nil
}

func decodeStrings(b []byte) ([]string, error) {
	r := &jreader{b: b}
	out, err := r.strings()
	if err != nil || !r.end() {
		out = nil
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		if out == nil {
			out = []string{}
		}
	}
	return out, nil
}

// decodeSources is store.DecodeProvenance, faster on what it wrote.
func decodeSources(b []byte) (map[string]string, map[string]time.Time, error) {
	r := &jreader{b: b}
	out, setAt := map[string]string{}, map[string]time.Time{}
	err := r.object(func(k string) error {
		if r.peek() != '[' {
			v, err := r.str()
			out[k] = v
			return err
		}
		r.eat('[')
		v, err := r.str()
		if err != nil || !r.eat(',') {
			return errFast
		}
		n, err := r.number()
		ns, ok := n.(int64)
		if err != nil || !ok || !r.eat(']') {
			return errFast
		}
		out[k], setAt[k] = v, fromNanos(ns)
		return nil
	})
	if err != nil || !r.end() {
		return store.DecodeProvenance(b)
	}
	return out, setAt, nil
}

func decodeSeen(b []byte) (map[string]time.Time, error) {
	r := &jreader{b: b}
	out := map[string]time.Time{}
	err := r.object(func(k string) error {
		v, err := r.number()
		n, ok := v.(int64)
		if err != nil || !ok {
			return errFast
		}
		out[k] = fromNanos(n)
		return nil
	})
	if err != nil || !r.end() {
		var ns map[string]int64
		if err := json.Unmarshal(b, &ns); err != nil {
			return nil, err
		}
		out = make(map[string]time.Time, len(ns))
		for k, v := range ns {
			out[k] = fromNanos(v)
		}
	}
	return out, nil
}
