package embedded

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var tricky = []string{"", "plain", `q"uote`, `back\slash`, "tab\tnew\nline", "<html>&amp;", "ünïcode ✓", "\x00ctl", "bad\xffutf8", "\u2028sep", "😀 pair", "'single'"}

func randomAttrs(rng *rand.Rand) store.Attributes {
	a := store.Attributes{}
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
// store.EncodeAttributes / DecodeAttributes.
func TestCodecMatchesStore(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		a := randomAttrs(rng)
		mine, err := appendAttrs(nil, a)
		require.NoError(t, err)
		theirs, err := store.EncodeAttributes(a)
		require.NoError(t, err)
		want, err := store.DecodeAttributes(theirs)
		require.NoError(t, err)
		got1, err := store.DecodeAttributes(mine)
		require.NoError(t, err, "%s", mine)
		got2, err := decodeAttrs(mine)
		require.NoError(t, err)
		got3, err := decodeAttrs(theirs)
		require.NoError(t, err)
		assert.Equal(t, want, got1, "store decodes ours")
		assert.Equal(t, want, got2, "we decode ours")
		assert.Equal(t, want, got3, "we decode theirs")

		keys := []string{tricky[rng.IntN(len(tricky))], "k"}
		ks, err := decodeStrings(appendStrings(nil, keys))
		require.NoError(t, err)
		if keys[0] != "bad\xffutf8" {
			assert.Equal(t, keys, ks)
		}
		src := map[string]string{"a": tricky[rng.IntN(len(tricky))], "b": "x", "c": "legacy"}
		at := map[string]time.Time{"a": fromNanos(rng.Int64()), "b": fromNanos(-rng.Int64N(1 << 60))} // "c": set before set times
		enc := store.AppendProvenance(nil, src, at)
		srcs, gotAt, err := decodeSources(enc)
		require.NoError(t, err)
		slowSrcs, slowAt, err := store.DecodeProvenance(enc)
		require.NoError(t, err)
		if src["a"] != "bad\xffutf8" {
			assert.Equal(t, src, srcs)
			assert.Equal(t, at, gotAt)
			assert.Equal(t, srcs, slowSrcs, "store decodes the same")
			assert.Equal(t, gotAt, slowAt)
		}
		old, oldAt, err := decodeSources(appendSources(nil, map[string]string{"a": "x"}))
		require.NoError(t, err)
		assert.Equal(t, map[string]string{"a": "x"}, old, "sources written before set times still read")
		assert.Empty(t, oldAt)
		seen := map[string]time.Time{"s": fromNanos(rng.Int64()), "t": fromNanos(-rng.Int64N(1 << 60))}
		gotSeen, err := decodeSeen(appendSeen(nil, seen))
		require.NoError(t, err)
		assert.Equal(t, seen, gotSeen)
	}
	// Anything else falls back to the reference decoder.
	for _, in := range []string{`{"a":null}`, `{"a":{"x":1}}`, `{"a":[1]}`, `{"a":1e400}`, `{"a":`, `[]`, `{"a":"x"} junk`} {
		_, want := store.DecodeAttributes([]byte(in))
		_, got := decodeAttrs([]byte(in))
		assert.Equal(t, want == nil, got == nil, in)
	}
	v, err := decodeAttrs([]byte(`{ "a" : "\u00fc" , "b":[ ] }`))
	require.NoError(t, err)
	assert.Equal(t, store.Attributes{"a": "ü", "b": []string{}}, v)
}

func TestChangesCodec(t *testing.T) {
	when := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	in := []store.FieldChange{
		{Field: "a", Before: "x", After: "y"},
		{Field: "b", After: int64(3)},
		{Field: "c", Before: 2.0},
		{Field: "d", Before: []string{"p"}, After: when},
		{Field: "e", Before: 7, After: store.ID("id")},  // lenient types
		{Field: `q"f`, Before: math.NaN(), After: true}, // unstorable float
	}
	got, err := decodeChanges(appendChanges(nil, in))
	require.NoError(t, err)
	assert.Equal(t, []store.FieldChange{
		{Field: "a", Before: "x", After: "y"},
		{Field: "b", After: int64(3)},
		{Field: "c", Before: 2.0},
		{Field: "d", Before: []string{"p"}, After: when},
		{Field: "e", Before: int64(7), After: "id"},
		{Field: `q"f`, Before: "NaN", After: true},
	}, got)
	got, err = decodeChanges(appendChanges(nil, nil))
	require.NoError(t, err)
	assert.Empty(t, got)
}
