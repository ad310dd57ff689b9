package impact

import (
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// numbered is a store.GraphView of nodes without edges: ids by node
// number, and a count of purges.
type numbered struct {
	ids    []store.ID
	purges uint64
}

func (v *numbered) Purges() uint64                         { return v.purges }
func (v *numbered) ID(n int32) store.ID                    { return v.ids[n] }
func (v *numbered) Bound() int32                           { return int32(len(v.ids)) }
func (v *numbered) Type(string) (uint32, bool)             { return 0, false }
func (v *numbered) TypeName(uint32) string                 { return "" }
func (v *numbered) Edges(int32, bool, func(int32, uint32)) {}
func (v *numbered) Node(id store.ID) (int32, bool) {
	i := slices.Index(v.ids, id)
	return int32(i), i >= 0
}
func (v *numbered) Fields(context.Context, store.ObjectKind, []int32, []string, []store.Node) error {
	return nil
}
func (v *numbered) Summaries(context.Context, store.ObjectKind, []int32, []store.Summary) error {
	return nil
}

// viewSequence hands out its views in turn, the last one again and again.
type viewSequence struct {
	views []*numbered
	next  int
}

func (s *viewSequence) ViewGraph(_ context.Context, fn func(store.GraphView) error) error {
	v := s.views[min(s.next, len(s.views)-1)]
	s.next++
	return fn(v)
}

// TestViewReaderRechecksAfterAPurge: once a view counts a purge the
// reader has not seen, a node number it met before may name another node
// in any later view, even one whose count of purges did not change since
// the view before it: the reader then compares IDs whenever it meets a
// number again. Without a purge it trusts the numbers.
func TestViewReaderRechecksAfterAPurge(t *testing.T) {
	abc := []store.ID{"a", "b", "c"}
	reused := []store.ID{"a", "x", "c"} // b purged, its number now x's
	for _, tc := range []struct {
		name   string
		views  []*numbered
		wantOK []bool // intern of node 1, view by view
	}{
		{"purge counted two views before the reuse", []*numbered{{abc, 0}, {abc, 1}, {abc, 1}, {reused, 1}}, []bool{true, true, true, false}},
		{"purge counted with the reuse", []*numbered{{abc, 0}, {abc, 0}, {reused, 1}}, []bool{true, true, false}},
		{"no purge counted", []*numbered{{abc, 0}, {abc, 0}, {abc, 0}}, []bool{true, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			an := &analysis{of: map[store.ID]handle{}}
			r := newViewReader(an, &viewSequence{views: tc.views})
			defer r.release()
			for i, want := range tc.wantOK {
				require.NoError(t, r.view(t.Context(), func(gv store.GraphView) error {
					h, ok := r.intern(gv, 1)
					assert.Equal(t, handle(0), h, "view %d", i+1)
					assert.Equal(t, want, ok, "view %d", i+1)
					return nil
				}))
			}
			assert.Equal(t, []store.ID{"b"}, an.ids, "the node met first")
		})
	}
}
