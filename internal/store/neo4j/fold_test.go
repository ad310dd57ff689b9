package neo4j

import (
	"context"
	"strings"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestFoldBackfill: CIs written before the folded copies existed get them
// when the store opens, once, so that filters ignoring case find them.
func TestFoldBackfill(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	upsert(t, s, item("linux", store.Attributes{"name": "Legacy-Host", "owner": "Ops Team", "tags": []string{"PCI"}}, "k|legacy"))
	_, err := s.write(ctx, "strip folds", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		if _, err := run(ctx, tx, "MATCH (c:CI) REMOVE c._fold_name, c._fold_owner, c._fold_support_group, c._fold_tags", nil); err != nil {
			return nil, err
		}
		return run(ctx, tx, "MATCH (m:SkeinMigration {name: 'fold1'}) DELETE m", nil)
	})
	require.NoError(t, err)
	find := func(f store.NodeFilter) int {
		p, err := s.ListNodes(ctx, f, store.PageRequest{})
		require.NoError(t, err)
		return p.Total
	}
	require.Equal(t, 0, find(store.NodeFilter{Kind: store.KindCI, Name: "legacy-host"}), "a node without folded copies is not found ignoring case")
	require.NoError(t, s.ensureSchema(ctx))
	assert.Equal(t, 1, find(store.NodeFilter{Kind: store.KindCI, Name: "legacy-host"}))
	assert.Equal(t, 1, find(store.NodeFilter{Kind: store.KindCI, Owner: "ops team"}))
	assert.Equal(t, 1, find(store.NodeFilter{Kind: store.KindCI, Tag: "pci"}))
	got, err := s.Nodes(ctx, store.KindCI, []store.ID{})
	require.NoError(t, err)
	assert.Empty(t, got)
	p, err := s.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.NotContains(t, p.Items[0].Attributes, "_fold_name", "folded copies are not attributes")
}

// TestFoldFiltersUseIndexes: filters that ignore case seek the indexes of
// the folded copies rather than scanning every CI.
func TestFoldFiltersUseIndexes(t *testing.T) {
	s := newTestStore(t)
	for _, f := range []store.NodeFilter{{Name: "ESX-01"}, {NamePrefix: "ESX"}, {Owner: "Tomasz Nowak"}, {SupportGroup: "SG-Payments"}} {
		e, err := f.Expr()
		require.NoError(t, err)
		params := map[string]any{}
		cond, err := compileFilter(e, params)
		require.NoError(t, err)
		ops := planOperators(t, s, "MATCH (c:CI) WHERE "+cond+" RETURN count(c)", params)
		seek := false
		for _, op := range ops {
			seek = seek || strings.Contains(op, "IndexSeek")
		}
		assert.True(t, seek, "%+v: plan %v", f, ops)
	}
}
