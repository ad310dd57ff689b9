package embedded

import (
	"math"
	"unsafe"

	"github.com/skein-cmdb/skein/internal/store"
)

// uidLen is the length of a node ID as the store writes it (a UUID's
// canonical form).
const uidLen = 36

// idText holds the IDs of the node slots as text, in one array: slot n's ID
// is the uidLen bytes at n*uidLen, and ID strings are made over those
// bytes, so that a traversal's answer, a view's ID and a summary share them
// without an allocation each.
//
// One array instead of a string a slot: at a million nodes the strings
// were 64 MB (a 16-byte header and a 48-byte allocation each) and a million
// objects for every garbage collection to mark; the array is 36 MB and one
// object.
//
// Strings must not change, so bytes once written never are: a slot given
// another node after its first (a purged node's row id reused) keeps its
// new ID in moved, and a grown array is a copy (strings over the old one
// keep it alive until they are dropped).
type idText struct {
	b       []byte             // the slots' IDs, uidLen bytes each
	written []uint64           // bit per slot whose bytes are set
	moved   map[int32]store.ID // IDs of slots whose node is not their first
}

// grow makes room for the IDs of slots below n without reallocating.
func (t *idText) grow(n int) {
	if n*uidLen <= cap(t.b) {
		return
	}
	b := make([]byte, len(t.b), n*uidLen)
	copy(b, t.b)
	t.b = b
}

// set records uid as the ID of slot. The caller holds the graph's lock
// for writing.
func (t *idText) set(slot int32, uid [16]byte) {
	off := int(slot) * uidLen
	if hasBit(t.written, slot) {
		var buf [uidLen]byte
		if string(appendUID(buf[:0], uid)) == string(t.b[off:off+uidLen]) {
			delete(t.moved, slot)
			return
		}
		if t.moved == nil {
			t.moved = map[int32]store.ID{}
		}
		t.moved[slot] = store.ID(formatUID(uid))
		return
	}
	if end := off + uidLen; end > len(t.b) {
		if end > cap(t.b) {
			t.grow(max(end/uidLen, cap(t.b)/uidLen+cap(t.b)/uidLen/4+1024))
		}
		// Bytes past the old length were never written: extending over
		// them changes no string.
		t.b = t.b[:end]
	}
	appendUID(t.b[off:off], uid)
	t.written = setBit(t.written, slot, true)
}

// at returns the ID of slot, which holds a node (set was called for it).
// The caller holds the graph's lock.
func (t *idText) at(slot int32) store.ID {
	if len(t.moved) > 0 {
		if id, ok := t.moved[slot]; ok {
			return id
		}
	}
	return store.ID(unsafe.String(&t.b[int(slot)*uidLen], uidLen))
}

// nameRef is where a node's name is in a nameText: n bytes at off.
type nameRef struct{ off, n uint32 }

// nameText holds the names of the summary cache (summary.go) in one array,
// as idText holds IDs, and for the same reasons: one object instead of a
// string a node, and name strings that share its bytes. Bytes once written
// never change; a renamed node's name is appended, the old bytes are
// counted dead, and compactNames copies the live names to a new array
// once the dead outweigh them.
type nameText struct {
	b    []byte
	dead int // bytes of b no slot refers to
}

// minNameCompact is the least dead bytes a compaction is worth.
const minNameCompact = 1 << 20

// put returns where name is for a slot whose name was at old: old when it
// holds the same name, else a new place (old's bytes are then dead).
// False when the text cannot grow past 4 GiB.
func (t *nameText) put(old nameRef, name string) (nameRef, bool) {
	if int(old.n) == len(name) && t.at(old) == name {
		return old, true
	}
	t.drop(old)
	if name == "" {
		return nameRef{}, true
	}
	if uint64(len(t.b))+uint64(len(name)) > math.MaxUint32 {
		return nameRef{}, false
	}
	r := nameRef{off: uint32(len(t.b)), n: uint32(len(name))}
	// Appending writes past the length only: no string covers those bytes.
	t.b = append(t.b, name...)
	return r, true
}

// drop counts the name at r dead.
func (t *nameText) drop(r nameRef) { t.dead += int(r.n) }

// at returns the name at r.
func (t *nameText) at(r nameRef) string {
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&t.b[r.off], int(r.n))
}

// compactNames copies the names the summaries refer to into a new array
// once the dead bytes are at least minNameCompact and half the array; the
// caller holds the graph's lock for writing. Strings over the old array
// keep it, unchanged, until they are dropped.
func (g *graph) compactNames() {
	t := &g.names
	if t.dead < minNameCompact || t.dead < len(t.b)/2 {
		return
	}
	b := make([]byte, 0, len(t.b)-t.dead)
	for i := range g.sums {
		if r := &g.sums[i].name; r.n > 0 {
			off := len(b)
			b = append(b, t.b[r.off:r.off+r.n]...)
			r.off = uint32(off)
		}
	}
	t.b, t.dead = b, 0
}
