package embedded

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/skein-cmdb/skein/internal/store"
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

// TestIDTextStringsNeverChange: the graph's ID strings are views of one
// array; a string once handed out keeps its value when the array grows,
// when its node is deleted, and when its slot gets another node (a purged
// node's row id reused), while the graph answers the slot's new ID, and
// the old one again if the first node comes back.
func TestIDTextStringsNeverChange(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	uid := func() [16]byte {
		var u [16]byte
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
		return u
	}
	g := newGraph()
	first := map[int32][16]byte{}
	held := map[int32]string{}
	// Slots out of order and with gaps, past several growths.
	for _, slot := range []int32{5, 1, 3000, 2, 70000, 4} {
		u := uid()
		g.addNode(slot, u, true)
		first[slot] = u
		held[slot] = string(g.id(slot))
		assert.Equal(t, formatUID(u), held[slot])
	}
	for slot, s := range held {
		assert.Equal(t, formatUID(first[slot]), s, "slot %d after growth", slot)
		held[slot] = string(g.id(slot)) // now over the array that is current
	}
	assert.Empty(t, g.id(3), "a slot with no node")
	assert.Empty(t, g.id(-1))
	assert.Empty(t, g.id(1<<30))

	g.delNode(3000)
	assert.Empty(t, g.id(3000), "a deleted node")
	other := uid()
	g.addNode(3000, other, true)
	assert.Equal(t, formatUID(other), string(g.id(3000)), "the slot's new node")
	assert.Equal(t, formatUID(first[3000]), held[3000], "a string handed out before the slot was reused")
	slot, ok := g.canonical(store.ID(formatUID(other)))
	assert.True(t, ok)
	assert.Equal(t, int32(3000), slot)

	g.delNode(3000)
	g.addNode(3000, first[3000], true)
	assert.Equal(t, held[3000], string(g.id(3000)), "the first node back in its slot")
	assert.Empty(t, g.ids.moved)
	for slot, s := range held {
		assert.Equal(t, formatUID(first[slot]), s)
		assert.Equal(t, s, string(g.id(slot)))
	}
}
