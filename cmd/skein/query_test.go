package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCIsWhereOrderOffset: cis(where:, orderBy:, offset:) over HTTP on
// both backends: sorted pages by cursor and by offset agree, and bad
// arguments are INVALID naming the argument path as written, never an
// internal error.
func TestCIsWhereOrderOffset(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			upsertIDs(t, url,
				item("Application", map[string]any{"name": "q-c", "owner": "Ops", "criticality": 2}),
				item("Application", map[string]any{"name": "q-a", "criticality": 3}),
				item("Application", map[string]any{"name": "q-b", "owner": "ops", "criticality": 1}),
				item("Application", map[string]any{"name": "other", "criticality": 4}))
			const q = `query($where: CIWhere, $order: CIOrder, $first: Int, $after: String, $offset: Int) {
				cis(where: $where, orderBy: $order, first: $first, after: $after, offset: $offset) {
					totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name } } } }`
			names := func(d map[string]any) []any {
				var out []any
				for _, e := range get(d, "cis", "edges").([]any) {
					out = append(out, e.(map[string]any)["node"].(map[string]any)["name"])
				}
				return out
			}
			where := map[string]any{"and": []any{
				map[string]any{"attribute": "name", "prefix": "Q-"},
				map[string]any{"attribute": "criticality", "gte": 1, "lt": 3.5},
			}}
			order := map[string]any{"field": "NAME", "direction": "DESC"}
			d := ok(t, url, q, map[string]any{"where": where, "order": order, "first": 10})
			assert.Equal(t, []any{"q-c", "q-b", "q-a"}, names(d))
			assert.EqualValues(t, 3, get(d, "cis", "totalCount"))
			// Page 2 of size 1: by offset, and by the cursor of page 1.
			d = ok(t, url, q, map[string]any{"where": where, "order": order, "first": 1})
			after := get(d, "cis", "pageInfo", "endCursor")
			byCursor := ok(t, url, q, map[string]any{"where": where, "order": order, "first": 1, "after": after})
			byOffset := ok(t, url, q, map[string]any{"where": where, "order": order, "first": 1, "offset": 1})
			assert.Equal(t, []any{"q-b"}, names(byCursor))
			assert.Equal(t, names(byCursor), names(byOffset))
			assert.Equal(t, get(byCursor, "cis", "edges", 0, "cursor"), get(byOffset, "cis", "edges", 0, "cursor"))
			// Owners sort exactly; CIs without one come last.
			d = ok(t, url, q, map[string]any{"where": where, "order": map[string]any{"field": "OWNER"}})
			assert.Equal(t, []any{"q-c", "q-b", "q-a"}, names(d))

			for _, bad := range []struct {
				name  string
				vars  map[string]any
				field string
			}{
				{"unknown attribute", map[string]any{"where": map[string]any{"or": []any{where, map[string]any{"attribute": "nope", "eq": 1}}}}, "where.or[1].attribute"},
				{"operator for another type", map[string]any{"where": map[string]any{"attribute": "criticality", "contains": "1"}}, "where.contains"},
				{"value of another type", map[string]any{"where": map[string]any{"not": map[string]any{"attribute": "criticality", "gt": "high"}}}, "where.not.gt"},
				{"injection as an attribute", map[string]any{"where": map[string]any{"attribute": "name') OR 1=1 --", "eq": "x"}}, "where.attribute"},
				{"offset beyond the window", map[string]any{"first": 20, "offset": 9990}, "offset"},
				{"negative offset", map[string]any{"offset": -1}, "offset"},
				{"offset with after", map[string]any{"offset": 1, "after": after, "order": order}, "offset"},
				{"cursor of another order", map[string]any{"after": after}, "after"},
			} {
				t.Run(bad.name, func(t *testing.T) {
					r := gql(t, url, q, bad.vars)
					require.NotEmpty(t, r.Errors, r.raw)
					assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], r.raw)
					assert.Equal(t, bad.field, r.Errors[0].Extensions["field"], r.raw)
					assert.NotEqual(t, http.StatusInternalServerError, r.status)
				})
			}
			// A count asks for no page, yet the window is the one asked for.
			r := gql(t, url, `{ cis(offset: 9990, first: 20) { totalCount } }`, nil)
			require.NotEmpty(t, r.Errors, r.raw)
			assert.Equal(t, "offset", r.Errors[0].Extensions["field"], r.raw)
		})
	}
}
