package embedded

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestParseUID: the canonical form of any UID parses back to it, and
// anything else is refused, whichever of its 32 digits is wrong.
func TestParseUID(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		var u [16]byte
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
		s := formatUID(u)
		got, ok := parseUID(s)
		assert.True(t, ok, s)
		assert.Equal(t, u, got, s)
		// One wrong byte anywhere is refused.
		b := []byte(s)
		at := rng.IntN(len(b))
		for _, c := range []byte{'g', 'A', 'F', ' ', 0, 0xff, '-', '/', ':', '`'} {
			if c == b[at] || at == 8 || at == 13 || at == 18 || at == 23 {
				continue
			}
			bad := append([]byte(nil), b...)
			bad[at] = c
			_, ok := parseUID(string(bad))
			assert.False(t, ok, "%q", bad)
		}
	}
	for _, s := range []string{"", "01a20c26-5822-77be-9df1-f8d22be447d", "01a20c26-5822-77be-9df1-f8d22be447d00",
		"01a20c2605822-77be-9df1-f8d22be447d0", "01A20C26-5822-77BE-9DF1-F8D22BE447D0", "01a20c26-5822-77be-9df1_f8d22be447d0"} {
		_, ok := parseUID(s)
		assert.False(t, ok, "%q", s)
	}
}

// BenchmarkParseUID: what every ID an analysis reads costs the embedded
// store to find.
func BenchmarkParseUID(b *testing.B) {
	s := formatUID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	var ok bool
	for b.Loop() {
		_, ok = parseUID(s)
	}
	assert.True(b, ok)
}
