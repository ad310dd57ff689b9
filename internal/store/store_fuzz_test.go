package store_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/skein-cmdb/skein/internal/store"
)

// requireInvalid fails unless err is an *InvalidError on field.
func requireInvalid(t *testing.T, err error, field, input string) {
	t.Helper()
	var ie *store.InvalidError
	if !errors.As(err, &ie) || ie.Field != field {
		t.Fatalf("%q: error %v (%T), want an *InvalidError on %q", input, err, err, field)
	}
}

// FuzzCursorAndIDs checks that cursors and relationship IDs round-trip, and
// that parsing arbitrary client text never panics and fails only with an
// *InvalidError on the argument's field.
func FuzzCursorAndIDs(f *testing.F) {
	f.Add("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "DEPENDS_ON", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c", "YzE6YWJj")
	f.Add("a", "RUNS_ON", "b", "r1.YQ9SVU5TX09OH2I")
	f.Add("x'}) MATCH (n) DETACH DELETE n //", "HOSTED_ON", "'; DROP TABLE cis; --", "c1:")
	f.Add("$param", "`x`", "\x1f", "!!!")
	f.Add("\xff\xfe", "a\x1fb", "", "r1.")
	f.Fuzz(func(t *testing.T, src, typ, tgt, arbitrary string) {
		for _, key := range []string{src, typ, tgt, arbitrary} {
			c := store.EncodeCursor(key)
			got, err := store.DecodeCursor(c)
			if err != nil || got != key {
				t.Fatalf("cursor of %q decoded to %q, %v", key, got, err)
			}
			if key != "" && strings.ContainsAny(c, "+/=") {
				t.Fatalf("cursor %q is not URL-safe", c)
			}
		}
		if got, err := store.DecodeCursor(arbitrary); err != nil {
			requireInvalid(t, err, "after", arbitrary)
		} else if arbitrary != "" && got == "" {
			t.Fatalf("cursor %q accepted as an empty key", arbitrary)
		} else if arbitrary != "" && store.EncodeCursor(got) != arbitrary {
			t.Fatalf("cursor %q accepted for key %q, whose cursor is %q", arbitrary, got, store.EncodeCursor(got))
		}

		k := store.RelationshipKey{Source: store.ID(src), Type: typ, Target: store.ID(tgt)}
		valid := src != "" && tgt != "" && store.ValidIdentifier(typ) && !strings.Contains(src, "\x1f") && !strings.Contains(tgt, "\x1f")
		got, err := store.ParseRelationshipID(k.ID())
		switch {
		case valid && (err != nil || got != k):
			t.Fatalf("relationship id of %#v parsed as %#v, %v", k, got, err)
		case !valid && err == nil:
			t.Fatalf("relationship id of invalid key %#v parsed as %#v", k, got)
		case !valid:
			requireInvalid(t, err, "id", string(k.ID()))
		}
		if got, err := store.ParseRelationshipID(store.ID(arbitrary)); err != nil {
			requireInvalid(t, err, "id", arbitrary)
		} else if got.ID() != store.ID(arbitrary) {
			// One key, one spelling: base64 decoding ignores line breaks
			// and non-zero trailing bits, ParseRelationshipID must not.
			t.Fatalf("relationship id %q parsed as %#v, whose id is %q", arbitrary, got, got.ID())
		}
	})
}

// FuzzAttributeCodec checks that attributes of every value type survive
// EncodeAttributes and DecodeAttributes with their Go types, and that
// decoding arbitrary bytes never panics and, when it succeeds, re-encodes
// to the same attributes.
func FuzzAttributeCodec(f *testing.F) {
	f.Add("name", "web01", int64(8), 2.5, true, int64(1714564800123456789), `["a","b"]`, `{"a":1}`)
	f.Add("cpu_count", "", int64(math.MinInt64), math.MaxFloat64, false, int64(0), `[]`, `{"t":{"$time":"2024-05-01T12:00:00Z"}}`)
	f.Add("x", "x'}) MATCH (n) DETACH DELETE n //", int64(1<<53+1), math.Copysign(0, -1), false, int64(-1), `["'; DROP TABLE cis; --","$param","`+"`n`"+`"]`, `{"f":1.0,"g":1e400}`)
	f.Add("tags", "\u2028\"\\", int64(-1), 1e21, true, int64(math.MaxInt64), `[1]`, `{"x":{"$time":"nope"},"y":[null]}`)
	f.Add("a", "\xff", int64(0), math.SmallestNonzeroFloat64, false, int64(0), `null`, `[`)
	f.Fuzz(func(t *testing.T, name, s string, n int64, x float64, b bool, nanos int64, listJSON, arbitrary string) {
		if !store.ValidIdentifier(name) {
			name = "attr"
		}
		a := store.Attributes{name + "_i": n, name + "_b": b}
		if tm := time.Unix(0, nanos).UTC(); store.CheckTime("", tm) == nil {
			a[name+"_t"] = tm
		} else if _, err := store.EncodeAttributes(store.Attributes{"t": tm}); err == nil {
			t.Fatalf("encoded %s, outside the time range", tm)
		}
		if utf8.ValidString(s) { // validation rejects invalid UTF-8 before values reach the store
			a[name] = s
		}
		var list []string
		if json.Unmarshal([]byte(listJSON), &list) == nil && utf8.ValidString(listJSON) {
			a[name+"_l"] = list
		}
		a[name+"_f"] = x
		data, err := store.EncodeAttributes(a)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if err == nil {
				t.Fatalf("encoded non-finite float %v", x)
			}
			delete(a, name+"_f")
			if data, err = store.EncodeAttributes(a); err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		requireSameAttributes(t, a, data)

		decoded, err := store.DecodeAttributes([]byte(arbitrary))
		if err != nil {
			return
		}
		again, err := store.EncodeAttributes(decoded)
		if err != nil {
			t.Fatalf("decoded %q to %#v, which does not encode: %v", arbitrary, decoded, err)
		}
		requireSameAttributes(t, decoded, again)
	})
}

// requireSameAttributes fails unless data decodes to attributes equal to
// want, value by value and type by type.
func requireSameAttributes(t *testing.T, want store.Attributes, data []byte) {
	t.Helper()
	got, err := store.DecodeAttributes(data)
	if err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d attributes became %d: %s", len(want), len(got), data)
	}
	for k, v := range want {
		if w, ok := v.([]string); ok && len(w) == 0 {
			if g, ok := got[k].([]string); ok && len(g) == 0 {
				continue // nil and empty lists are the same stored value
			}
		}
		if !store.EqualValues(v, got[k]) {
			t.Fatalf("%s: %#v became %#v (%s)", k, v, got[k], data)
		}
	}
}
