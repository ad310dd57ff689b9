package store

import (
	"hash/maphash"
	"sync/atomic"
)

// internSlots is the size of the table of interned strings: a power of
// two, a few hundred KiB at most of short strings.
const internSlots = 4096

// internMax is the longest string interned: attribute and source names
// are short; longer strings are rarely repeated.
const internMax = 64

var (
	internSeed  = maphash.MakeSeed()
	internTable [internSlots]atomic.Pointer[string]
)

// intern returns b as a string, the same string as the last call with
// these bytes when it is still in the table. The decoders use it for the
// strings each stored node repeats: attribute names (the keys of its
// attributes and of their provenance) and source names. A read of a page
// of nodes then allocates each name once, not once per node and map. The
// table is a fixed array of slots, replaced on collision without locks:
// a miss costs one allocation more than string(b), a hit none.
func intern(b []byte) string {
	if len(b) > internMax {
		return string(b)
	}
	slot := &internTable[maphash.Bytes(internSeed, b)&(internSlots-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}
