package cmdb

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestChunkIn: the lookups of one kind become as few expressions as the
// limit on in-values allows, each valid for the store.
func TestChunkIn(t *testing.T) {
	vals := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = "v"
		}
		return out
	}
	tests := []struct {
		name  string
		sizes []int // values of each attribute
		max   int
		want  [][]int // values of each in of each expression
	}{
		{"one attribute", []int{3}, 10, [][]int{{3}}},
		{"two attributes in one", []int{3, 4}, 10, [][]int{{3, 4}}},
		{"split across", []int{6, 6}, 10, [][]int{{6, 4}, {2}}},
		{"exactly full", []int{5, 5}, 10, [][]int{{5, 5}}},
		{"one attribute over", []int{25}, 10, [][]int{{10}, {10}, {5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ins []store.Expr
			for i, n := range tt.sizes {
				ins = append(ins, store.Expr{Op: store.OpIn, Field: []string{"user_name", "email"}[i%2], Values: vals(n)})
			}
			var got [][]int
			for _, e := range chunkIn(ins, tt.max) {
				require.NoError(t, e.Check("where"))
				var sizes []int
				if e.Op == store.OpIn {
					sizes = []int{len(e.Values)}
				}
				for _, a := range e.Args {
					sizes = append(sizes, len(a.Values))
				}
				got = append(got, sizes)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
