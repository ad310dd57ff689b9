package cmdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/skein-cmdb/skein/internal/store"
)

// macForm is the one spelling normalizeMAC may return.
var macForm = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)

// FuzzNormalize checks every identification normaliser: it never panics,
// is idempotent, and a MAC it accepts is a real, lower-case colon-form MAC.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"", " ", "abc-123 45", "To be filled by O.E.M.", "0000-0000", "00:1A:2B:3C:4D:5E",
		"001a.2b3c.4d5e", "001A2B3C4D5E", "ff-ff-ff-ff-ff-ff", "zz:zz:zz:zz:zz:zz", "Host.Example.COM.",
		"  Web   Server\t01 ", "İSTANBUL", "x'}) MATCH (n) DETACH DELETE n //", "'; DROP TABLE cis; --",
		"\xff\xfe", "é:é:é:é", "0a:0b:0c:0d:0e:0f",
	} {
		f.Add(s, int64(0), false)
	}
	f.Add("", int64(-9223372036854775808), true)
	f.Fuzz(func(t *testing.T, s string, n int64, b bool) {
		for _, kind := range normalizers {
			out, ok := normalize(kind, s)
			if !ok {
				if out != "" {
					t.Fatalf("%s(%q) rejected but returned %q", kind, s, out)
				}
				continue
			}
			if out == "" {
				t.Fatalf("%s(%q) accepted an empty result", kind, s)
			}
			again, ok2 := normalize(kind, out)
			if !ok2 || again != out {
				t.Fatalf("%s not idempotent: %q -> %q -> %q (ok=%v)", kind, s, out, again, ok2)
			}
			if kind == NormMAC {
				hw, err := net.ParseMAC(out)
				if err != nil || hw.String() != out || !macForm.MatchString(out) {
					t.Fatalf("mac(%q) = %q, not a lower-case colon-form MAC (parse err %v)", s, out, err)
				}
			}
		}
		for _, kind := range normalizers {
			if got, ok := normalize(kind, n); !ok || got != strconv.FormatInt(n, 10) {
				t.Fatalf("%s(int64 %d) = %q, %v", kind, n, got, ok)
			}
			if got, ok := normalize(kind, b); !ok || got != strconv.FormatBool(b) {
				t.Fatalf("%s(bool %v) = %q, %v", kind, b, got, ok)
			}
		}
	})
}

// decodeFuzzJSON decodes s as the API does (numbers as json.Number), or
// returns s itself when it is not JSON, so both raw text and typed values
// reach validation.
func decodeFuzzJSON(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return s
	}
	return v
}

// checkTyped fails unless v is a value of def's declared Go type that
// satisfies the definition's constraints.
func checkTyped(t *testing.T, def *AttributeDef, v any) {
	t.Helper()
	checkStr := func(s string, limit int) {
		if s == "" || s != strings.TrimSpace(s) || !utf8.ValidString(s) || utf8.RuneCountInString(s) > limit {
			t.Fatalf("%s: string %q is empty, untrimmed, invalid UTF-8 or over %d runes", def.Name, s, limit)
		}
	}
	switch def.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			t.Fatalf("%s: %T, want string", def.Name, v)
		}
		limit := def.MaxLength
		if limit == 0 {
			limit = defaultStringLen
		}
		checkStr(s, limit)
	case TypeEnum:
		s, ok := v.(string)
		if !ok || !slices.Contains(def.Values, s) {
			t.Fatalf("%s: %#v is not one of %v", def.Name, v, def.Values)
		}
	case TypeInt:
		n, ok := v.(int64)
		if !ok {
			t.Fatalf("%s: %T, want int64", def.Name, v)
		}
		if (def.Min != nil && float64(n) < *def.Min) || (def.Max != nil && float64(n) > *def.Max) {
			t.Fatalf("%s: %d out of range", def.Name, n)
		}
	case TypeFloat:
		x, ok := v.(float64)
		if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("%s: %#v, want a finite float64", def.Name, v)
		}
		if (def.Min != nil && x < *def.Min) || (def.Max != nil && x > *def.Max) {
			t.Fatalf("%s: %g out of range", def.Name, x)
		}
	case TypeBool:
		if _, ok := v.(bool); !ok {
			t.Fatalf("%s: %T, want bool", def.Name, v)
		}
	case TypeTime:
		tm, ok := v.(time.Time)
		if !ok || tm.Location() != time.UTC {
			t.Fatalf("%s: %#v, want a UTC time.Time", def.Name, v)
		}
	case TypeList:
		l, ok := v.([]string)
		if !ok || len(l) > maxListLen || !slices.IsSorted(l) || len(slices.Compact(slices.Clone(l))) != len(l) {
			t.Fatalf("%s: %#v, want a sorted, duplicate-free []string of at most %d", def.Name, v, maxListLen)
		}
		for _, s := range l {
			checkStr(s, 255)
		}
	default:
		t.Fatalf("%s: unknown type %q", def.Name, def.Type)
	}
}

// allAttributeDefs returns every attribute definition of every class and
// relationship type in m.
func allAttributeDefs(m *Model) []*AttributeDef {
	var defs []*AttributeDef
	for _, c := range m.Classes() {
		for _, n := range c.AttributeNames() {
			d, _ := c.Attribute(n)
			defs = append(defs, d)
		}
	}
	for _, r := range m.RelTypes() {
		for _, n := range r.AttributeNames() {
			d, _ := r.Attribute(n)
			defs = append(defs, d)
		}
	}
	return defs
}

// FuzzConvertValue converts arbitrary JSON values (and raw text) to every
// attribute type of the default model. An accepted value has the declared
// Go type and converts to itself again; a rejected one is an
// *InvalidError whose field is relative ("" or a list index).
func FuzzConvertValue(f *testing.F) {
	m := mustModel(f)
	defs := allAttributeDefs(m)
	for _, s := range []string{
		`"web01"`, `8`, `8.5`, `"8"`, `1e400`, `-0`, `9007199254740993`, `true`, `"TRUE"`, `"2024-05-01"`,
		`"2024-05-01T12:00:00.123456789+02:00"`, `["b","a","b"," "]`, `[1,2]`, `{"a":{"b":[null]}}`, `null`, `""`,
		`"production"`, `"x'}) MATCH (n) DETACH DELETE n //"`, `"'; DROP TABLE cis; --"`, `"$param"`, "\"`n`\"",
		`"a\u0000b"`, "\xff", `[[[[[]]]]]`,
	} {
		for _, i := range []int{0, 3, 7, 11, 20} {
			f.Add(uint16(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, idx uint16, raw string) {
		def := defs[int(idx)%len(defs)]
		for _, in := range []any{decodeFuzzJSON(raw), raw} {
			v, err := convertValue(def, in)
			if err != nil {
				if err.Field != "" && err.Field[0] != '[' {
					t.Fatalf("%s(%#v): error field %q is not relative", def.Name, in, err.Field)
				}
				continue
			}
			if v == nil {
				continue
			}
			checkTyped(t, def, v)
			again, err := convertValue(def, v)
			if err != nil || !store.EqualValues(v, again) {
				t.Fatalf("%s: converting %#v again gave %#v, %v", def.Name, v, again, err)
			}
		}
	})
}

// FuzzUpsertItem runs random classes and attribute maps through the
// model's validation of an upsert item. Errors are *InvalidErrors on
// "class…" or "attributes…"; accepted items carry typed values of their
// class's attributes, have identity keys, and survive the store's
// attribute codec unchanged.
func FuzzUpsertItem(f *testing.F) {
	m := mustModel(f)
	f.Add("LinuxServer", "serial_number", `"ABC123"`, `{"name":"web01","cpu_count":8,"tags":["a","b"]}`)
	f.Add("LinuxServer", "mac_address", `"00:1A:2B:3C:4D:5E"`, `{"name":"web01","status":"active","environment":"production"}`)
	f.Add("VirtualMachine", "vm_uuid", `"4c4c4544-0042-3510-8052-b4c04f4d4e31"`, `{"name":"vm1","memory_mb":"2048"}`)
	f.Add("Database", "name", `"orders"`, `{"x'}) MATCH (n) DETACH DELETE n //":1}`)
	f.Add("Server", "name", `"abstract"`, `{}`)
	f.Add("x'}) MATCH (n) DETACH DELETE n //", "name", `"a"`, `null`)
	f.Add("'; DROP TABLE cis; --", "$param", "`n`", `[1,2,3]`)
	f.Add("Application", "name", `{"nested":{"deep":[1,{"x":null}]}}`, `{"name":null,"tags":""}`)
	f.Add("Endpoint", "fqdn", `"Host.Example.COM."`, `{"port":"443","name":"\u0000"}`)
	f.Fuzz(func(t *testing.T, class, name, value, attrsJSON string) {
		raw := map[string]any{}
		if obj, ok := decodeFuzzJSON(attrsJSON).(map[string]any); ok {
			raw = obj
		}
		raw[name] = decodeFuzzJSON(value)
		u, err := m.prepareOf(KindCI, UpsertItem{Class: class, Attributes: raw})
		if err != nil {
			var ie *store.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T) is not an *InvalidError", err, err)
			}
			if !strings.HasPrefix(ie.Field, "class") && !strings.HasPrefix(ie.Field, "attributes") {
				t.Fatalf("error field %q starts with neither class nor attributes: %v", ie.Field, ie)
			}
			return
		}
		cls, ok := m.Class(class)
		if !ok || cls.Def.Abstract || u.Class != class {
			t.Fatalf("accepted class %q as %q", class, u.Class)
		}
		if len(u.Keys) == 0 {
			t.Fatalf("accepted an item without identity keys: %#v", u)
		}
		values := store.Attributes{}
		for k, v := range u.Attributes {
			def, ok := cls.Attribute(k)
			if !ok {
				t.Fatalf("accepted unknown attribute %q", k)
			}
			if v == nil { // a clear: the input was null or blank
				continue
			}
			checkTyped(t, def, v)
			values[k] = v
		}
		data, err := store.EncodeAttributes(values)
		if err != nil {
			t.Fatalf("encode accepted attributes: %v", err)
		}
		back, err := store.DecodeAttributes(data)
		if err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if len(back) != len(values) {
			t.Fatalf("codec round trip: %d attributes in, %d out", len(values), len(back))
		}
		for k, v := range values {
			if !store.EqualValues(v, back[k]) {
				t.Fatalf("codec round trip of %s: %#v became %#v (%s)", k, v, back[k], bytes.TrimSpace(data))
			}
		}
	})
}
