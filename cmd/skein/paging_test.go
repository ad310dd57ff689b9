package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnectionPaging: every connection (cis, CI.relationships,
// CI.history, auditRecords, identityConflicts) follows one rule for `first` and `after`: omitted or null
// means the field's default, 1 to 1000 is a page size, anything else
// (0 included) is INVALID naming `first`; a cursor the connection did not
// make is INVALID naming `after`.
func TestConnectionPaging(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			ids := upsertIDs(t, url, item("Application", map[string]any{"name": "page-a"}), item("Application", map[string]any{"name": "page-b"}))
			ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`,
				map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "DEPENDS_ON", "source": ids[0], "target": ids[1]}}}})
			// An open identity conflict: the third report's keys belong to
			// the first two CIs.
			upsertIDs(t, url, item("Server", map[string]any{"name": "page-s1", "serial_number": "PAGE-1"}),
				item("Server", map[string]any{"name": "page-s2", "mac_address": "00:11:22:33:44:55"}))
			d := ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{
				item("Server", map[string]any{"name": "page-s3", "serial_number": "PAGE-1", "mac_address": "00:11:22:33:44:55"}),
			}}})
			require.Equal(t, "CONFLICT", get(d, "upsertCIs", "results", 0, "status"))
			conns := []struct {
				name  string
				query func(args string) string
				edges []any
			}{
				{"cis", func(args string) string {
					return `query($id: ID!) { x: cis` + args + ` { edges { cursor } } ci(id: $id) { id } }`
				}, []any{"x", "edges"}},
				{"relationships", func(args string) string {
					return `query($id: ID!) { ci(id: $id) { relationships` + args + ` { edges { cursor } } } }`
				}, []any{"ci", "relationships", "edges"}},
				{"history", func(args string) string {
					return `query($id: ID!) { ci(id: $id) { history` + args + ` { edges { cursor } } } }`
				}, []any{"ci", "history", "edges"}},
				{"auditRecords", func(args string) string {
					return `query($id: ID!) { x: auditRecords` + args + ` { edges { cursor } } ci(id: $id) { id } }`
				}, []any{"x", "edges"}},
				{"identityConflicts", func(args string) string {
					return `query($id: ID!) { x: identityConflicts` + args + ` { edges { cursor } } ci(id: $id) { id } }`
				}, []any{"x", "edges"}},
			}
			vars := map[string]any{"id": ids[0]}
			cursors := map[string]string{} // a cursor of each connection
			// A CI's history is the audit trail filtered to the CI: their
			// cursors are positions in the same list.
			sameList := map[string]string{"history": "auditRecords", "auditRecords": "history"}
			for _, c := range conns {
				d := ok(t, url, c.query("(first: 1)"), vars)
				cursors[c.name] = get(d, append(append([]any{}, c.edges...), 0, "cursor")...).(string)
			}
			for _, c := range conns {
				t.Run(c.name, func(t *testing.T) {
					for _, bad := range []string{"0", "-1", "1001"} {
						r := gql(t, url, c.query("(first: "+bad+")"), vars)
						require.NotEmpty(t, r.Errors, "first: %s: %s", bad, r.raw)
						assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], "first: %s: %s", bad, r.raw)
						assert.Equal(t, "first", r.Errors[0].Extensions["field"], "first: %s: %s", bad, r.raw)
						assert.Contains(t, r.Errors[0].Message, "1 and 1000", "first: %s", bad)
						assert.NotEqual(t, http.StatusInternalServerError, r.status)
					}
					for _, bad := range []string{"garbage", "YzE6", "Zm9v"} {
						r := gql(t, url, c.query(`(after: "`+bad+`")`), vars)
						require.NotEmpty(t, r.Errors, "after: %s: %s", bad, r.raw)
						assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], "after: %s: %s", bad, r.raw)
						assert.Equal(t, "after", r.Errors[0].Extensions["field"], "after: %s: %s", bad, r.raw)
					}
					for other, cur := range cursors {
						if other == c.name || sameList[c.name] == other {
							continue
						}
						r := gql(t, url, c.query(`(after: "`+cur+`")`), vars)
						require.NotEmpty(t, r.Errors, "a cursor of %s: %s", other, r.raw)
						assert.Equal(t, "after", r.Errors[0].Extensions["field"], "a cursor of %s: %s", other, r.raw)
					}
					d := ok(t, url, c.query("(first: null)"), vars)
					assert.NotEmpty(t, get(d, c.edges...), "first: null is the default page size")
					d = ok(t, url, c.query("(first: 1)"), vars)
					edges, _ := get(d, c.edges...).([]any)
					require.Len(t, edges, 1)
					d = ok(t, url, c.query(`(first: 1, after: null)`), vars)
					assert.Len(t, get(d, c.edges...), 1, "after: null is the first page")
				})
			}
		})
	}
}
