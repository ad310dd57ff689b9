package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// The decoders of the one JSON encoding both backends store (attributes,
// key lists, provenance, sightings, audit changes; see jsonenc.go). A small
// reader handles what the encoders write; it is an accelerator only: on
// anything it does not expect it declines, and the decoder falls back to
// encoding/json, which decides.

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
	return r.string(false)
}

// name reads a JSON string that many stored values repeat (an attribute
// or source name): see intern.
func (r *jreader) name() (string, error) {
	return r.string(true)
}

func (r *jreader) string(interned bool) (string, error) {
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
				if interned {
					return intern(r.b[start+1 : r.i-1]), nil
				}
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

// int reads a JSON integer of at most 19 digits that fits an int64,
// without allocating (the times of provenance and sightings); anything
// else is declined.
func (r *jreader) int() (int64, error) {
	r.ws()
	i, neg := r.i, false
	if i < len(r.b) && r.b[i] == '-' {
		neg = true
		i++
	}
	digits := i
	var n uint64
	for i < len(r.b) && r.b[i] >= '0' && r.b[i] <= '9' {
		n = n*10 + uint64(r.b[i]-'0')
		i++
	}
	switch {
	case i == digits, i-digits > 19, i-digits > 1 && r.b[digits] == '0':
		return 0, errFast
	case i < len(r.b) && (r.b[i] == '.' || r.b[i] == 'e' || r.b[i] == 'E'):
		return 0, errFast
	case neg && n <= 1<<63:
		r.i = i
		return int64(-n), nil
	case !neg && n < 1<<63:
		r.i = i
		return int64(n), nil
	}
	return 0, errFast
}

// number reads a JSON number as int64, or float64 when it has a point or
// an exponent (DecodeAttributes' rule). What is not a JSON number, or an
// integer beyond int64, is declined.
func (r *jreader) number() (any, error) {
	if n, err := r.int(); err == nil {
		return n, nil
	}
	r.ws()
	start, i := r.i, r.i
	digits := func() bool {
		from := i
		for i < len(r.b) && r.b[i] >= '0' && r.b[i] <= '9' {
			i++
		}
		return i > from
	}
	if i < len(r.b) && r.b[i] == '-' {
		i++
	}
	intStart := i
	if !digits() || i-intStart > 1 && r.b[intStart] == '0' {
		return nil, errFast
	}
	float := false
	if i < len(r.b) && r.b[i] == '.' {
		i++
		if !digits() {
			return nil, errFast
		}
		float = true
	}
	if i < len(r.b) && (r.b[i] == 'e' || r.b[i] == 'E') {
		i++
		if i < len(r.b) && (r.b[i] == '+' || r.b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, errFast
		}
		float = true
	}
	if !float {
		return nil, errFast // an integer int did not take: beyond int64
	}
	f, err := strconv.ParseFloat(string(r.b[start:i]), 64)
	if err != nil {
		return nil, errFast
	}
	r.i = i
	return f, nil
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
		if err != nil || CheckTime("", t) != nil {
			return nil, errFast // the standard decoder says what is wrong
		}
		return t.UTC(), nil
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
		k, err := r.name()
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

// DecodeAttributes decodes what AppendAttributes (or EncodeAttributes)
// wrote into exactly the Go types that were encoded.
func DecodeAttributes(b []byte) (Attributes, error) {
	if len(b) == 0 {
		return Attributes{}, nil
	}
	r := &jreader{b: b}
	out := make(Attributes, entriesHint(b))
	err := r.object(func(k string) error {
		v, err := r.value()
		out[k] = v
		return err
	})
	if err != nil || !r.end() {
		return decodeAttributesStd(b)
	}
	return out, nil
}

// DecodeAttributesOf decodes the members of the attribute object b that
// fields name, as DecodeAttributes would, stepping over the others without
// decoding them.
func DecodeAttributesOf(b []byte, fields []string) (Attributes, error) {
	out := make(Attributes, len(fields))
	if len(b) == 0 {
		return out, nil
	}
	r := &jreader{b: b}
	err := r.object(func(k string) error {
		if !slices.Contains(fields, k) {
			return r.skip()
		}
		v, err := r.value()
		out[k] = v
		return err
	})
	if err != nil || !r.end() {
		all, err := decodeAttributesStd(b)
		if err != nil {
			return nil, err
		}
		clear(out)
		for _, f := range fields {
			if v, ok := all[f]; ok {
				out[f] = v
			}
		}
	}
	return out, nil
}

// DecodeAttributesInto decodes the members of the attribute object b that
// fields name into vals (vals[i] for fields[i], len(vals) >= len(fields)),
// as DecodeAttributesOf would but without a map, for readers of many nodes.
// It returns a bit set (bit i for fields[i]) of the members present;
// fields may name at most 64 attributes.
func DecodeAttributesInto(b []byte, fields []string, vals []any) (present uint64, err error) {
	if len(fields) > 64 || len(vals) < len(fields) {
		return 0, fmt.Errorf("store: decode attributes: %d fields into %d values (at most 64)", len(fields), len(vals))
	}
	clear(vals[:len(fields)])
	if len(b) == 0 {
		return 0, nil
	}
	r := &jreader{b: b}
	err = r.object(func(k string) error {
		i := slices.Index(fields, k)
		if i < 0 {
			return r.skip()
		}
		v, err := r.value()
		vals[i], present = v, present|1<<i
		return err
	})
	if err == nil && r.end() {
		return present, nil
	}
	all, err := decodeAttributesStd(b)
	if err != nil {
		return 0, err
	}
	clear(vals[:len(fields)])
	present = 0
	for i, f := range fields {
		if v, ok := all[f]; ok {
			vals[i], present = v, present|1<<i
		}
	}
	return present, nil
}

// skip steps over one attribute value without keeping it: a string, a
// number, true or false, a list of strings or a time.
func (r *jreader) skip() error {
	switch r.peek() {
	case '"':
		return r.skipString()
	case '[':
		r.i++
		if r.eat(']') {
			return nil
		}
		for {
			if err := r.skipString(); err != nil {
				return err
			}
			if r.eat(']') {
				return nil
			}
			if !r.eat(',') {
				return errFast
			}
		}
	case '{':
		r.i++
		if r.skipString() != nil || !r.eat(':') || r.skipString() != nil || !r.eat('}') {
			return errFast
		}
		return nil
	}
	_, err := r.value()
	return err
}

// skipString steps over a JSON string.
func (r *jreader) skipString() error {
	if r.peek() != '"' {
		return errFast
	}
	for r.i++; r.i < len(r.b); r.i++ {
		switch r.b[r.i] {
		case '\\':
			r.i++
		case '"':
			r.i++
			return nil
		}
	}
	return errFast
}

// DecodeStrings decodes what AppendStrings wrote (never nil).
func DecodeStrings(b []byte) ([]string, error) {
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

// entriesHint estimates the number of members of the JSON object b, to
// size the map it decodes into: growing maps as they filled was 7 % of an
// unchanged upsert's CPU profile; sizing them cut the bytes it allocates
// by 7 % (its time moved within noise). A member's key is a string
// followed by a colon, which only a string value may also contain, so
// this is at least the member count; it is capped at 64.
func entriesHint(b []byte) int {
	return min(bytes.Count(b, []byte(`":`)), 64)
}

// DecodeProvenance reads what AppendProvenance wrote for a node with
// attributes attrs, or an older object without "*", into sources and set
// times (never nil).
func DecodeProvenance(b []byte, attrs Attributes) (map[string]string, map[string]time.Time, error) {
	r := &jreader{b: b}
	n := max(entriesHint(b), len(attrs))
	out, setAt := make(map[string]string, n), make(map[string]time.Time, n)
	err := r.object(func(k string) error {
		if r.peek() != '[' {
			v, err := r.name()
			out[k] = v
			return err
		}
		r.eat('[')
		v, err := r.name()
		if err != nil || !r.eat(',') {
			return errFast
		}
		ns, err := r.int()
		if err != nil || !r.eat(']') {
			return errFast
		}
		out[k], setAt[k] = v, time.Unix(0, ns).UTC()
		return nil
	})
	if err != nil || !r.end() {
		return decodeProvenanceStd(b, attrs)
	}
	applyDefault(attrs, out, setAt)
	return out, setAt, nil
}

// DecodeSeen decodes what AppendSeen wrote.
func DecodeSeen(b []byte) (map[string]time.Time, error) {
	r := &jreader{b: b}
	out := make(map[string]time.Time, entriesHint(b))
	err := r.object(func(k string) error {
		n, err := r.int()
		if err != nil {
			return errFast
		}
		out[k] = time.Unix(0, n).UTC()
		return nil
	})
	if err != nil || !r.end() {
		var ns map[string]int64
		if err := json.Unmarshal(b, &ns); err != nil {
			return nil, err
		}
		out = make(map[string]time.Time, len(ns))
		for k, v := range ns {
			out[k] = time.Unix(0, v).UTC()
		}
	}
	return out, nil
}

// DecodeChanges decodes audit changes written by AppendChanges
// ([{"f":field,"v":{"a":after,"b":before}}]), or by the Neo4j backend
// before both backends wrote that form ([{"field":f,"before":b,"after":a}]).
func DecodeChanges(data []byte) ([]FieldChange, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decode audit changes: %w", err)
	}
	out := make([]FieldChange, len(raw))
	for i, r := range raw {
		if v, ok := r["v"]; ok {
			var f string
			if err := json.Unmarshal(r["f"], &f); err != nil {
				return nil, fmt.Errorf("decode audit changes: %w", err)
			}
			vals, err := DecodeAttributes(v)
			if err != nil {
				return nil, fmt.Errorf("decode audit changes: %w", err)
			}
			out[i] = FieldChange{Field: f, Before: vals["b"], After: vals["a"]}
			continue
		}
		obj, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("decode audit changes: %w", err)
		}
		vals, err := DecodeAttributes(obj)
		if err != nil {
			return nil, fmt.Errorf("decode audit changes: %w", err)
		}
		field, _ := vals["field"].(string)
		out[i] = FieldChange{Field: field, Before: vals["before"], After: vals["after"]}
	}
	return out, nil
}

// SearchDocumentOf is SearchDocument of attributes as AppendAttributes
// encoded them, read in place: it builds no attribute map (the keys are
// sorted in the encoding already), for a backend that computes documents
// where the encoding is stored (the embedded store's trigger).
func SearchDocumentOf(b []byte) (string, error) {
	doc := make([]byte, 0, len(b))
	r := &jreader{b: b}
	err := r.object(func(string) error {
		switch r.peek() {
		case '"':
			s, err := r.str()
			doc = AppendSearchTokens(doc, s)
			return err
		case '[':
			l, err := r.strings()
			for _, s := range l {
				doc = AppendSearchTokens(doc, s)
			}
			return err
		}
		_, err := r.value()
		return err
	})
	if err != nil || !r.end() {
		attrs, err := DecodeAttributes(b)
		if err != nil {
			return "", err
		}
		return SearchDocument(attrs), nil
	}
	return string(doc), nil
}
