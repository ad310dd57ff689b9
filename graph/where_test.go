package graph

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestWhereErrorsNameTheArgumentPath: errors about a where argument name
// the place as the client wrote it, including inside objects that set
// several operators (which become several store nodes).
func TestWhereErrorsNameTheArgumentPath(t *testing.T) {
	base, err := cmdb.DefaultModel()
	require.NoError(t, err)
	var got store.NodeFilter
	svc, err := cmdb.NewService(t.Context(), filterStore{got: &got}, base)
	require.NoError(t, err)
	attr := func(s string) *string { return &s }
	cpu := model.CIWhere{Attribute: attr("cpu_count"), Gte: 8}
	deep := cpu
	for range store.MaxExprDepth {
		deep = model.CIWhere{Not: &deep}
	}
	for _, tt := range []struct {
		name  string
		w     model.CIWhere
		field string
	}{
		{"unknown attribute in a range", model.CIWhere{And: []model.CIWhere{cpu, {Attribute: attr("nope"), Gte: 1, Lt: 2}}}, "where.and[1].attribute"},
		{"second operator of a range", model.CIWhere{Or: []model.CIWhere{cpu, {Attribute: attr("cpu_count"), Gte: 1, Lt: "many"}}}, "where.or[1].lt"},
		{"operator beside and", model.CIWhere{And: []model.CIWhere{cpu}, Attribute: attr("cpu_count"), Prefix: attr("1")}, "where.prefix"},
		{"in a not", model.CIWhere{Not: &model.CIWhere{Attribute: attr("tags"), Gt: "a"}}, "where.not.gt"},
		{"attribute and field", model.CIWhere{Attribute: attr("name"), Field: ptr(model.CIFieldClass), Eq: "x"}, "where.field"},
		{"a field named as an attribute", model.CIWhere{Attribute: attr("created_at"), Gt: "2024-01-01"}, "where.attribute"},
		{"operator without attribute", model.CIWhere{Eq: "x"}, "where.eq"},
		{"attribute without operator", model.CIWhere{Attribute: attr("name")}, "where"},
		{"empty object", model.CIWhere{}, "where"},
		{"empty object in a list", model.CIWhere{And: []model.CIWhere{cpu, {}}}, "where.and[1]"},
		{"caseSensitive alone", model.CIWhere{CaseSensitive: ptr(true)}, "where.caseSensitive"},
		{"empty and", model.CIWhere{And: []model.CIWhere{}}, "where.and"},
		{"too deep", model.CIWhere{Not: &deep}, "where" + strings.Repeat(".not", store.MaxExprDepth)},
		{"unknown class", model.CIWhere{Field: ptr(model.CIFieldClass), In: []any{"Server", "Sever"}}, "where.in[1]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f cmdb.Filter
			f.Where, err = whereIn(&tt.w, "where")
			if err == nil {
				_, err = svc.ListCIs(t.Context(), f, store.PageRequest{})
			}
			var ie *store.InvalidError
			require.True(t, errors.As(err, &ie), "want *InvalidError, got %v", err)
			assert.Equal(t, tt.field, ie.Field, ie.Reason)
		})
	}
	// A range is one object: both bounds apply.
	got = store.NodeFilter{Kind: store.KindCI}
	f := cmdb.Filter{Sort: orderIn(&model.CIOrder{Field: model.CISortFieldSupportGroup, Direction: ptr(model.SortDirectionDesc)})}
	f.Where, err = whereIn(&model.CIWhere{Attribute: attr("cpu_count"), Gte: 8, Lt: 64.5}, "where")
	require.NoError(t, err)
	_, err = svc.ListCIs(t.Context(), f, store.PageRequest{})
	require.NoError(t, err)
	require.NotNil(t, got.Where)
	assert.Equal(t, store.OpAnd, got.Where.Op)
	require.Len(t, got.Where.Args, 2)
	assert.Equal(t, store.Expr{Op: store.OpLt, Field: "cpu_count", Value: 64.5, Path: "where"}, got.Where.Args[0])
	assert.Equal(t, store.Expr{Op: store.OpGte, Field: "cpu_count", Value: int64(8), Path: "where"}, got.Where.Args[1])
	assert.Equal(t, store.Sort{Field: "support_group", Desc: true}, got.Sort)
}
