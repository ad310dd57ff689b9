package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

const auditQuery = `query($f: AuditFilter, $first: Int, $after: String) {
  auditRecords(filter: $f, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id kind object action actor source changes { field before after } } }
  }
}`

// auditNodes runs auditQuery and returns its records.
func auditNodes(t *testing.T, url string, f map[string]any) []map[string]any {
	t.Helper()
	d := ok(t, url, auditQuery, map[string]any{"f": f, "first": 100})
	var out []map[string]any
	for _, e := range get(d, "auditRecords", "edges").([]any) {
		out = append(out, get(e, "node").(map[string]any))
	}
	return out
}

// TestAPIAuditRecords: the audit trail is queryable as a whole, by object
// (API IDs, also of a deleted CI), kind, actor, source and time; a
// relationship is in both ends' history; records are refetchable with
// node(id:); token records are for admins only.
func TestAPIAuditRecords(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			ids := upsertIDs(t, url, item("Application", map[string]any{"name": "audit-a"}), item("Application", map[string]any{"name": "audit-b"}))
			d := ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { relationship { id } } } }`,
				map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "DEPENDS_ON", "source": ids[0], "target": ids[1]}}}})
			relID := get(d, "createRelationships", "results", 0, "relationship", "id").(string)
			ok(t, url, `mutation($id: ID!) { purgeCI(input: {id: $id}) { purgedId } }`, map[string]any{"id": ids[1]})
			r := gql(t, url, `mutation($id: ID!) { updateCI(input: {id: $id, attributes: {owner: "x"}}) { changedFields } }`, map[string]any{"id": ids[1]})
			require.NotEmpty(t, r.Errors, r.raw)
			assert.Equal(t, "NOT_FOUND", r.Errors[0].Extensions["code"], "updating a deleted CI")
			assert.Contains(t, r.Errors[0].Message, ids[1], "names the CI by API ID")

			// The deleted CI's history, by its API ID: its creation, the
			// relationship's creation and deletion, its deletion.
			recs := auditNodes(t, url, map[string]any{"objects": []any{ids[1]}})
			var got []string
			for _, r := range recs {
				got = append(got, r["kind"].(string)+" "+r["action"].(string))
			}
			assert.Equal(t, []string{"ci delete", "relationship delete", "relationship create", "ci create"}, got)
			assert.Equal(t, ids[1], recs[0]["object"], "objects are named by API ID")
			assert.Equal(t, relID, recs[1]["object"])
			assert.Contains(t, recs[2]["changes"], map[string]any{"field": "source", "before": nil, "after": ids[0]}, "a relationship's ends by API ID")
			assert.Contains(t, recs[2]["changes"], map[string]any{"field": "target", "before": nil, "after": ids[1]})

			// The surviving end's CI.history lists the relationship too.
			d = ok(t, url, `query($id: ID!) { ci(id: $id) { history { totalCount edges { node { kind object } } } } }`, map[string]any{"id": ids[0]})
			assert.Equal(t, float64(3), get(d, "ci", "history", "totalCount"))
			assert.Equal(t, relID, get(d, "ci", "history", "edges", 0, "node", "object"))

			// Filters.
			for _, c := range []struct {
				name string
				f    map[string]any
				want int
			}{
				{"kind", map[string]any{"kinds": []any{"relationship"}}, 2},
				{"source", map[string]any{"source": "test"}, 2},
				{"actor and kind", map[string]any{"actor": recs[0]["actor"], "kinds": []any{"ci"}}, 3},
				{"relationship by API ID", map[string]any{"objects": []any{relID}}, 2},
				{"future", map[string]any{"since": "2260-01-01T00:00:00Z"}, 0},
				{"past", map[string]any{"until": "2000-01-01T00:00:00Z"}, 0},
			} {
				t.Run(c.name, func(t *testing.T) {
					assert.Len(t, auditNodes(t, url, c.f), c.want)
				})
			}

			// node(id:) fetches a record.
			d = ok(t, url, `query($id: ID!) { node(id: $id) { id ... on AuditRecord { kind action } } }`, map[string]any{"id": recs[0]["id"]})
			assert.Equal(t, "delete", get(d, "node", "action"))

			// Token records: admins see them, viewers neither list nor fetch them.
			viewer := issueToken(t, a, "audit-viewer", auth.Viewer)
			tokRecs := auditNodes(t, url, map[string]any{"kinds": []any{"token"}})
			require.NotEmpty(t, tokRecs)
			tokenID := tokRecs[0]["object"].(string)
			assert.NotContains(t, tokenID, "token:", "a token is named by its ID")
			assert.NotEmpty(t, auditNodes(t, url, map[string]any{"objects": []any{tokenID}}))
			useToken(t, url, viewer)
			r = gql(t, url, auditQuery, map[string]any{"f": map[string]any{"kinds": []any{"token"}}})
			require.NotEmpty(t, r.Errors)
			assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"])
			for _, rec := range auditNodes(t, url, nil) {
				assert.NotEqual(t, "token", rec["kind"])
			}
			d = ok(t, url, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": tokRecs[0]["id"]})
			assert.Nil(t, d["node"])

			// Bad input is INVALID naming the field.
			for _, c := range []struct {
				f     map[string]any
				field string
			}{
				{map[string]any{"kinds": []any{"ci", "widget"}}, "filter.kinds[1]"},
				{map[string]any{"objects": []any{"Server", ""}}, "filter.objects[1]"},
				{map[string]any{"actor": strings.Repeat("x", 300)}, "filter.actor"},
				{map[string]any{"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, "filter.until"},
			} {
				r := gql(t, url, auditQuery, map[string]any{"f": c.f})
				require.NotEmpty(t, r.Errors, r.raw)
				assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], r.raw)
				assert.Equal(t, c.field, r.Errors[0].Extensions["field"], r.raw)
			}
		})
	}
}
