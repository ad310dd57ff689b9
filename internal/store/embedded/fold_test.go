package embedded

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestFoldFiltersUseIndexes: filters that ignore case are index lookups
// (the fold indexes of migration 6 → 7), not scans of every CI.
func TestFoldFiltersUseIndexes(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir(), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	for _, tt := range []struct {
		f     store.CIFilter
		index string
	}{
		{store.CIFilter{Name: "ESX-01"}, "cis_name_fold"},
		{store.CIFilter{NamePrefix: "ESX"}, "cis_name_fold"},
		{store.CIFilter{Owner: "Tomasz Nowak"}, "cis_owner_fold"},
		{store.CIFilter{SupportGroup: "SG-Payments"}, "cis_support_group_fold"},
		{store.CIFilter{Tag: "PCI"}, "ci_tags_fold"},
	} {
		where, args, err := ciFilter(tt.f, false)
		require.NoError(t, err)
		rows, err := s.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN SELECT count(*) FROM cis WHERE "+strings.Join(where, " AND "), args...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Close())
		assert.Contains(t, strings.Join(plan, "; "), tt.index, "%+v: %v", tt.f, plan)
	}
}
