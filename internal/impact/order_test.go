package impact

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestIDKeyOf: the two forms of an ID's key, and which IDs are shaped like
// UUIDs.
func TestIDKeyOf(t *testing.T) {
	for _, tc := range []struct {
		id         store.ID
		uuid       bool
		text, dash idKey
	}{
		{"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", true, idKey{0x3031393361316232, 0x2d633364342d3765}, idKey{0x3031393361316232, 0x6333643437653566}},
		{"0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B", true, idKey{0x3031393341314232, 0x2d433344342d3745}, idKey{0x3031393341314232, 0x4333443437453546}},
		{"0193a1b2c3d47e5f8a9b0c1d2e3f4a5b", false, idKey{0x3031393361316232, 0x6333643437653566}, idKey{}},
		{"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5", false, idKey{0x3031393361316232, 0x2d633364342d3765}, idKey{}},
		{"0193a1b2-c3d4-7e5f-8a9b_0c1d2e3f4a5b", false, idKey{0x3031393361316232, 0x2d633364342d3765}, idKey{}},
		{"ci-1", false, idKey{0x63692d3100000000, 0}, idKey{}},
		{"", false, idKey{}, idKey{}},
	} {
		assert.Equal(t, tc.uuid, uuidShaped(tc.id), tc.id)
		assert.Equal(t, tc.text, idKeyOf(tc.id, false), tc.id)
		if tc.uuid {
			assert.Equal(t, tc.dash, idKeyOf(tc.id, true), tc.id)
		}
	}
}

// TestCmpIDOrdersAsText: handles sort as their IDs' text does, for version
// 7 UUIDs, for random ones, for UUIDs made in one millisecond and for
// UUIDs equal in their first 16 digits (equal keys), and once an ID not
// shaped like a UUID joins them (the keys of those met before change form).
func TestCmpIDOrdersAsText(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var ids []store.ID
	for range 300 { // more than radixMin in all
		ids = append(ids, store.NewID())
		ids = append(ids, store.ID(uuid.New().String()))
	}
	for _, n := range []int{14, 19} { // one millisecond; equal keys
		same := string(ids[0][:n])
		for range 100 {
			ids = append(ids, store.ID(same+uuid.New().String()[n:]))
		}
	}
	check := func(an *analysis) {
		t.Helper()
		hs := make([]handle, len(an.ids))
		for i := range hs {
			hs[i] = handle(i)
		}
		rnd.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
		// A short list (sorted by comparisons) and the whole (by radix).
		for _, list := range [][]handle{slices.Clone(hs[:radixMin-1]), hs} {
			an.sortByID(list)
			got := make([]store.ID, len(list))
			for i, h := range list {
				got[i] = an.ids[h]
			}
			require.True(t, slices.IsSortedFunc(got, cmp.Compare[store.ID]), "%d handles not in ID order", len(list))
		}
		for i := range hs {
			for _, j := range []int{0, len(hs) / 2, len(hs) - 1} {
				assert.Equal(t, cmp.Compare(an.ids[hs[i]], an.ids[hs[j]]), an.cmpID(hs[i], hs[j]))
			}
		}
	}
	an := &analysis{of: map[store.ID]handle{}}
	for _, id := range ids {
		an.intern(id)
	}
	require.False(t, an.textKeys)
	check(an)
	for _, id := range []store.ID{"ci-1", ids[0][:20] + "zz", ids[0][:20], "0"} {
		an.intern(id)
	}
	require.True(t, an.textKeys)
	check(an)
}
