package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var tricky = []string{"", "plain", `q"uote`, `back\slash`, "tab\tnew\nline", "<html>&amp;", "ünïcode ✓", "\x00ctl", "bad\xffutf8", "\u2028sep", "😀 pair", "'single'"}

func randomAttrs(rng *rand.Rand) Attributes {
	a := Attributes{}
	for i := 0; i < 1+rng.IntN(8); i++ {
		k := fmt.Sprintf("k%d", rng.IntN(20))
		switch rng.IntN(7) {
		case 0:
			a[k] = tricky[rng.IntN(len(tricky))]
		case 1:
			a[k] = int64(rng.Uint64())
		case 2:
			a[k] = []float64{0, 3, -2.5, 1e21, 1e-7, math.MaxFloat64, 123456789.125}[rng.IntN(7)]
		case 3:
			a[k] = rng.IntN(2) == 0
		case 4:
			a[k] = time.Unix(rng.Int64N(1<<33), rng.Int64N(1e9)).In(time.FixedZone("z", 3600))
		case 5:
			a[k] = []string{tricky[rng.IntN(len(tricky))], tricky[rng.IntN(len(tricky))]}[:rng.IntN(3)]
		case 6:
			a[k] = []string(nil)
		}
	}
	return a
}

// TestCodecMatchesStore: the hand-written encoder and decoder agree with
// EncodeAttributes / DecodeAttributes.
func TestCodecMatchesStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		a := randomAttrs(rng)
		mine, err := AppendAttributes(nil, a)
		require.NoError(t, err)
		theirs, err := EncodeAttributes(a)
		require.NoError(t, err)
		want, err := DecodeAttributes(theirs)
		require.NoError(t, err)
		got1, err := DecodeAttributes(mine)
		require.NoError(t, err, "%s", mine)
		got2, err := decodeAttributesStd(mine)
		require.NoError(t, err)
		got3, err := decodeAttributesStd(theirs)
		require.NoError(t, err)
		assert.Equal(t, want, got1, "the fast reader decodes the encoding")
		assert.Equal(t, want, got2, "encoding/json decodes it the same")
		assert.Equal(t, want, got3, "and EncodeAttributes is the same encoding")
		pick := []string{fmt.Sprintf("k%d", rng.IntN(20)), fmt.Sprintf("k%d", rng.IntN(20)), "absent"}
		part, err := DecodeAttributesOf(mine, pick)
		require.NoError(t, err)
		wantPart := Attributes{}
		for _, k := range pick {
			if v, ok := want[k]; ok {
				wantPart[k] = v
			}
		}
		assert.Equal(t, wantPart, part, "DecodeAttributesOf(%s, %v)", mine, pick)
		vals := make([]any, len(pick))
		present, err := DecodeAttributesInto(mine, pick, vals)
		require.NoError(t, err)
		into := Attributes{}
		for i, k := range pick {
			if present&(1<<i) != 0 {
				into[k] = vals[i]
			} else {
				assert.Nil(t, vals[i], "an absent member has no value")
			}
		}
		assert.Equal(t, wantPart, into, "DecodeAttributesInto(%s, %v)", mine, pick)

		keys := []string{tricky[rng.IntN(len(tricky))], "k"}
		ks, err := DecodeStrings(AppendStrings(nil, keys))
		require.NoError(t, err)
		if keys[0] != "bad\xffutf8" {
			assert.Equal(t, keys, ks)
		}
		src := map[string]string{"a": tricky[rng.IntN(len(tricky))], "b": "x", "c": "legacy"}
		at := map[string]time.Time{"a": fromNs(rng.Int64()), "b": fromNs(-rng.Int64N(1 << 60))} // "c": set before set times
		enc := AppendProvenance(nil, a, src, at)
		srcs, gotAt, err := DecodeProvenance(enc, a)
		require.NoError(t, err)
		slowSrcs, slowAt, err := decodeProvenanceStd(enc, a)
		require.NoError(t, err)
		if src["a"] != "bad\xffutf8" {
			assert.Equal(t, src, srcs)
			assert.Equal(t, at, gotAt)
			assert.Equal(t, srcs, slowSrcs, "store decodes the same")
			assert.Equal(t, gotAt, slowAt)
		}
		old, oldAt, err := DecodeProvenance([]byte(`{"a":"x"}`), Attributes{"a": "v", "b": "w"})
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "x"}, old, "sources written before set times still read")
		assert.Empty(t, oldAt)
		seen := map[string]time.Time{"s": fromNs(rng.Int64()), "t": fromNs(-rng.Int64N(1 << 60))}
		gotSeen, err := DecodeSeen(AppendSeen(nil, seen))
		require.NoError(t, err)
		assert.Equal(t, seen, gotSeen)
	}
	// Anything else falls back to the reference decoder.
	for _, in := range []string{`{"a":null}`, `{"a":{"x":1}}`, `{"a":[1]}`, `{"a":1e400}`, `{"a":`, `[]`, `{"a":"x"} junk`} {
		_, want := DecodeAttributes([]byte(in))
		_, got := DecodeAttributes([]byte(in))
		assert.Equal(t, want == nil, got == nil, in)
	}
	// DecodeAttributesInto falls back the same way: what neither decoder
	// reads is an error, not a partial answer.
	vals := make([]any, 2)
	_, err := DecodeAttributesInto([]byte(`{"b":"x","a":1e400}`), []string{"a", "b"}, vals)
	assert.Error(t, err)
	_, err = DecodeAttributesInto([]byte(`{"a":`), []string{"a"}, vals)
	assert.Error(t, err)
	_, err = DecodeAttributesInto(nil, make([]string, 65), make([]any, 65))
	assert.Error(t, err, "at most 64 fields")
	v, err := DecodeAttributes([]byte(`{ "a" : "\u00fc" , "b":[ ] }`))
	require.NoError(t, err)
	assert.Equal(t, Attributes{"a": "ü", "b": []string{}}, v)
}

func TestChangesCodec(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	in := []FieldChange{
		{Field: "a", Before: "x", After: "y"},
		{Field: "b", After: int64(3)},
		{Field: "c", Before: 2.0},
		{Field: "d", Before: []string{"p"}, After: when},
		{Field: "e", Before: 7, After: ID("id")},        // lenient types
		{Field: `q"f`, Before: math.NaN(), After: true}, // unstorable float
	}
	got, err := DecodeChanges(AppendChanges(nil, in))
	require.NoError(t, err)
	assert.Equal(t, []FieldChange{
		{Field: "a", Before: "x", After: "y"},
		{Field: "b", After: int64(3)},
		{Field: "c", Before: 2.0},
		{Field: "d", Before: []string{"p"}, After: when},
		{Field: "e", Before: int64(7), After: "id"},
		{Field: `q"f`, Before: "NaN", After: true},
	}, got)
	got, err = DecodeChanges(AppendChanges(nil, nil))
	require.NoError(t, err)
	assert.Empty(t, got)
}

func fromNs(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// TestChangesOfBothFormats: audit changes the Neo4j backend wrote before
// both backends wrote one form still decode.
func TestChangesOfBothFormats(t *testing.T) {
	old := `[{"field":"name","before":"a","after":"b"},{"field":"memory_mb","after":4096},{"field":"at","before":{"$time":"2024-01-02T03:04:05Z"}}]`
	got, err := DecodeChanges([]byte(old))
	require.NoError(t, err)
	assert.Equal(t, []FieldChange{
		{Field: "name", Before: "a", After: "b"},
		{Field: "memory_mb", After: int64(4096)},
		{Field: "at", Before: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
	}, got)
}

// TestChangesRoundTripExtremes: audit changes give back exactly the values
// and types they were given, extremes included (the test the Neo4j backend
// had for its own encoder, before both backends shared this one).
func TestChangesRoundTripExtremes(t *testing.T) {
	when := time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("X", -7200))
	changes := []FieldChange{
		{Field: "class", After: "Server"},
		{Field: "s", Before: "plain", After: "ünïcode \"quoted\" \\ \n\t\x00 <&> ✓"},
		{Field: "i", Before: int64(math.MinInt64), After: int64(math.MaxInt64)},
		{Field: "f", Before: 3.0, After: 1e21},
		{Field: "g", Before: -0.5, After: 5e-324},
		{Field: "b", Before: true, After: false},
		{Field: "t", Before: when},
		{Field: "l", Before: []string{}, After: []string{"a", "é\"", ""}},
		{Field: "gone", Before: "x"},
		{Field: "x'}) DETACH DELETE n //"},
	}
	enc := AppendChanges(nil, changes)
	got, err := DecodeChanges(enc)
	require.NoError(t, err, "%s", enc)
	want := append([]FieldChange(nil), changes...)
	want[6].Before = when.UTC()
	assert.Equal(t, want, got, "%s", enc)
	assert.Equal(t, "[]", string(AppendChanges(nil, nil)))
}

// TestFastIntegersMatchEncodingJSON: the reader's allocation-free integer
// path gives what the encoding/json fallback gives, at the int64 bounds
// and just past them, and declines what is not an integer.
func TestFastIntegersMatchEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		"0", "-0", "7", "-7", "1714564800123456789", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999",
		"007", "1.5", "1e3", "-", "1E2", "2.0",
	} {
		t.Run(lit, func(t *testing.T) {
			data := []byte(`{"n":` + lit + `}`)
			fast, fastErr := DecodeAttributes(data)
			std, stdErr := decodeAttributesStd(data)
			if stdErr != nil {
				require.Error(t, fastErr)
				return
			}
			require.NoError(t, fastErr)
			assert.Equal(t, std, fast)
			assert.IsType(t, std["n"], fast["n"])

			seen, err := DecodeSeen(data)
			if n, ok := std["n"].(int64); ok {
				require.NoError(t, err)
				assert.Equal(t, time.Unix(0, n).UTC(), seen["n"])
			} else {
				assert.Error(t, err, "a sighting's time is an integer")
			}
		})
	}
}

// TestInternedNamesAreEqual: names read through the intern table are the
// strings written, however many distinct names share its slots.
func TestInternedNamesAreEqual(t *testing.T) {
	for i := range 3 * internSlots {
		name := fmt.Sprintf("attr_%d", i%(2*internSlots))
		require.Equal(t, name, intern([]byte(name)))
	}
	long := string(make([]byte, internMax+1))
	assert.Equal(t, long, intern([]byte(long)))
}

// TestProvenanceDefault: AppendProvenance writes the provenance most
// attributes share once, as "*", and DecodeProvenance gives it back to
// exactly the attributes without their own entry; anything "*" could not
// stand for is written per attribute.
func TestProvenanceDefault(t *testing.T) {
	t1 := time.Date(2026, 12, 3, 4, 5, 6, 7, time.UTC)
	t2 := t1.Add(time.Hour)
	three := Attributes{"a": 1, "b": 2, "c": 3}
	for _, c := range []struct {
		name    string
		attrs   Attributes
		sources map[string]string
		setAt   map[string]time.Time
		want    string
	}{
		{"one source, one write", three,
			map[string]string{"a": "vc", "b": "vc", "c": "vc"}, map[string]time.Time{"a": t1, "b": t1, "c": t1},
			`{"*":["vc",1796270706000000007]}`},
		{"one attribute set later by another source", three,
			map[string]string{"a": "vc", "b": "api", "c": "vc"}, map[string]time.Time{"a": t1, "b": t2, "c": t1},
			`{"*":["vc",1796270706000000007],"b":["api",1796274306000000007]}`},
		{"same source, another time", three,
			map[string]string{"a": "vc", "b": "vc", "c": "vc"}, map[string]time.Time{"a": t1, "b": t2, "c": t1},
			`{"*":["vc",1796270706000000007],"b":["vc",1796274306000000007]}`},
		{"an entry of no attribute (a cleared one) stays", three,
			map[string]string{"a": "vc", "b": "vc", "c": "vc", "gone": "api"}, map[string]time.Time{"a": t1, "b": t1, "c": t1},
			`{"*":["vc",1796270706000000007],"gone":"api"}`},
		{"untimed entries share a default too", three,
			map[string]string{"a": "old", "b": "old", "c": "vc"}, map[string]time.Time{"c": t1},
			`{"*":"old","c":["vc",1796270706000000007]}`},
		{"an attribute without provenance: no default", three,
			map[string]string{"a": "vc", "b": "vc"}, map[string]time.Time{"a": t1, "b": t1},
			`{"a":["vc",1796270706000000007],"b":["vc",1796270706000000007]}`},
		{"no two alike: no default", three,
			map[string]string{"a": "x", "b": "y", "c": "z"}, map[string]time.Time{},
			`{"a":"x","b":"y","c":"z"}`},
		{"a tie breaks on the provenance", Attributes{"a": 1, "b": 2, "c": 3, "d": 4},
			map[string]string{"a": "y", "b": "x", "c": "y", "d": "x"}, map[string]time.Time{},
			`{"*":"x","a":"y","c":"y"}`},
		{"an attribute named * is never defaulted", Attributes{"*": 1, "b": 2, "c": 3},
			map[string]string{"*": "vc", "b": "vc", "c": "vc"}, map[string]time.Time{},
			`{"*":"vc","b":"vc","c":"vc"}`},
		{"no attributes", Attributes{}, map[string]string{"gone": "api"}, map[string]time.Time{}, `{"gone":"api"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			enc := AppendProvenance(nil, c.attrs, c.sources, c.setAt)
			assert.Equal(t, c.want, string(enc))
			for name, decode := range map[string]func([]byte, Attributes) (map[string]string, map[string]time.Time, error){
				"fast": DecodeProvenance, "std": decodeProvenanceStd,
			} {
				src, at, err := decode(enc, c.attrs)
				require.NoError(t, err, name)
				assert.Equal(t, c.sources, src, name)
				assert.Equal(t, c.setAt, at, name)
			}
		})
	}
	// Read with more attributes than it was written for (never done by
	// the store, which writes both together), "*" covers the new ones:
	// the rule is "every attribute without its own entry".
	src, _, err := DecodeProvenance([]byte(`{"*":"vc","b":"api"}`), Attributes{"a": 1, "b": 2, "n": 3})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "vc", "b": "api", "n": "vc"}, src)
}
