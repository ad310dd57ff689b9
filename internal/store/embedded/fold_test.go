package embedded

import (
	"strings"
	"testing"
	"time"

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
		f     store.NodeFilter
		index string
	}{
		{store.NodeFilter{Kind: store.KindCI, Name: "ESX-01"}, "cis_name_fold"},
		{store.NodeFilter{Kind: store.KindCI, NamePrefix: "ESX"}, "cis_name_fold"},
		{store.NodeFilter{Kind: store.KindCI, Owner: "Tomasz Nowak"}, "cis_owner_fold"},
		{store.NodeFilter{Kind: store.KindCI, SupportGroup: "SG-Payments"}, "cis_support_group_fold"},
		{store.NodeFilter{Kind: store.KindCI, Tag: "PCI"}, "ci_tags_fold"},
	} {
		e, err := tt.f.Expr()
		require.NoError(t, err)
		where, args, err := compileFilter(e, false)
		require.NoError(t, err)
		rows, err := s.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN SELECT count(*) FROM cis WHERE "+where, args...)
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

// TestSearchDocument: the trigger's reading of encoded attributes gives
// store.SearchDocument's document.
func TestSearchDocument(t *testing.T) {
	for _, a := range []store.Attributes{
		{},
		{"name": "Web-01", "tags": []string{"PCI", "eu"}, "port": int64(443), "ratio": 0.5, "ok": true,
			"description": "Ça va \"bien\"\n", "seen": time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)},
		{"name": "İstanbul ǅ ＡＢＣ 日本語", "x": "---"},
	} {
		b, err := store.EncodeAttributes(a)
		require.NoError(t, err)
		got, err := searchDocument(b)
		require.NoError(t, err)
		assert.Equal(t, store.SearchDocument(a), got)
	}
}
