package main

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

// TestAPIMergeCIs: a report that matches two partial identities is a
// CONFLICT naming both CIs by API ID, listed by identityConflicts until an
// engineer merges them with mergeCIs; then the same report identifies the
// survivor. Viewers may list conflicts but not merge.
func TestAPIMergeCIs(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			ids := upsertIDs(t, url,
				item("LinuxServer", map[string]any{"name": "db01", "dns_domain": "example.com"}),
				item("Server", map[string]any{"name": "db01-asset", "serial_number": "SN-42"}))
			app := upsertIDs(t, url, item("ApplicationInstance", map[string]any{"name": "pg", "host": "db01"}))[0]
			ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`,
				map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "RUNS_ON", "source": app, "target": ids[1]}}}})
			full := item("LinuxServer", map[string]any{"name": "db01", "dns_domain": "example.com", "serial_number": "SN-42"})

			d := ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "scanner", "items": []any{full}}})
			assert.Equal(t, "CONFLICT", get(d, "upsertCIs", "results", 0, "status"))
			msg := get(d, "upsertCIs", "results", 0, "error", "message").(string)
			assert.Contains(t, msg, ids[0], "names the CIs by API ID")
			assert.Contains(t, msg, ids[1])
			assert.Contains(t, msg, "mergeCIs")
			for _, id := range ids {
				raw, err := base64.RawURLEncoding.DecodeString(id)
				require.NoError(t, err)
				assert.NotContains(t, msg, strings.TrimPrefix(string(raw), "CI:"), "no raw store IDs")
			}
			assert.NotContains(t, msg, "|", "no internal key encoding")

			const conflicts = `{ identityConflicts { totalCount edges { node { cis { id } class source count } } } }`
			d = ok(t, url, conflicts, nil)
			assert.Equal(t, float64(1), get(d, "identityConflicts", "totalCount"))
			assert.Equal(t, "scanner", get(d, "identityConflicts", "edges", 0, "node", "source"))
			assert.ElementsMatch(t, []any{map[string]any{"id": ids[0]}, map[string]any{"id": ids[1]}}, get(d, "identityConflicts", "edges", 0, "node", "cis"))

			const merge = `mutation($in: MergeCIsInput!) { mergeCIs(input: $in) {
				survivor { id class attributes } duplicate { id status } movedRelationships } }`
			in := map[string]any{"in": map[string]any{"survivor": ids[0], "duplicate": ids[1]}}
			useToken(t, url, issueToken(t, a, "merge-viewer", auth.Viewer))
			r := gql(t, url, merge, in)
			require.NotEmpty(t, r.Errors)
			assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"])
			assert.Equal(t, float64(1), get(ok(t, url, conflicts, nil), "identityConflicts", "totalCount"), "viewers list conflicts")

			useToken(t, url, issueToken(t, a, "merge-engineer", auth.Engineer))
			d = ok(t, url, merge, in)
			assert.Equal(t, ids[0], get(d, "mergeCIs", "survivor", "id"))
			assert.Equal(t, "SN42", get(d, "mergeCIs", "survivor", "attributes", "serial_number"))
			assert.Equal(t, "retired", get(d, "mergeCIs", "duplicate", "status"))
			assert.Equal(t, float64(1), get(d, "mergeCIs", "movedRelationships"))
			assert.Equal(t, float64(0), get(ok(t, url, conflicts, nil), "identityConflicts", "totalCount"))

			d = ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "scanner", "items": []any{full}}})
			assert.Equal(t, ids[0], get(d, "upsertCIs", "results", 0, "ci", "id"), "the full report identifies the survivor")
			d = ok(t, url, `query($id: ID!) { ci(id: $id) { relationships(direction: IN) { edges { node { type source { id } } } } history { edges { node { object changes { field after } } } } } }`,
				map[string]any{"id": ids[0]})
			var types []any
			for _, e := range get(d, "ci", "relationships", "edges").([]any) {
				types = append(types, get(e, "node", "type"))
			}
			assert.ElementsMatch(t, []any{"RUNS_ON", "DUPLICATE_OF"}, types)
			var merged, dupHistory bool
			for _, e := range get(d, "ci", "history", "edges").([]any) {
				for _, c := range get(e, "node", "changes").([]any) {
					merged = merged || get(c, "field") == "merged_from"
				}
				dupHistory = dupHistory || get(e, "node", "object") == ids[1]
			}
			assert.True(t, merged, "the merge is in the survivor's history")
			assert.True(t, dupHistory, "so is the duplicate's history")

			// Refusals name the field as the client wrote it.
			for _, c := range []struct {
				in   map[string]any
				code string
				want string
			}{
				{map[string]any{"survivor": ids[0], "duplicate": ids[0]}, "INVALID", "input.duplicate"},
				{map[string]any{"survivor": ids[1], "duplicate": ids[0]}, "INVALID", "input.survivor"},
				{map[string]any{"survivor": ids[0], "duplicate": "nope"}, "INVALID", "input.duplicate"},
			} {
				r := gql(t, url, merge, map[string]any{"in": c.in})
				require.NotEmpty(t, r.Errors, r.raw)
				assert.Equal(t, c.code, r.Errors[0].Extensions["code"], r.raw)
				assert.Equal(t, c.want, r.Errors[0].Extensions["field"], r.raw)
			}
			gone := upsertIDs(t, url, item("Application", map[string]any{"name": "merge-gone"}))[0]
			admin := issueToken(t, a, "merge-admin", auth.Admin)
			purged := postAs(t, url, admin, fmt.Sprintf(`{"query": "mutation { purgeCI(input: {id: \"%s\"}) { purgedId } }"}`, gone))
			require.Empty(t, purged.Errors, purged.raw)
			r = gql(t, url, merge, map[string]any{"in": map[string]any{"survivor": gone, "duplicate": ids[0]}})
			require.NotEmpty(t, r.Errors, r.raw)
			assert.Equal(t, "NOT_FOUND", r.Errors[0].Extensions["code"], r.raw)
			assert.Contains(t, r.Errors[0].Message, gone, "names the CI by API ID")
			assert.Equal(t, "input.survivor", r.Errors[0].Extensions["field"], r.raw)
			r = gql(t, url, merge, map[string]any{"in": map[string]any{"survivor": ids[0], "duplicate": gone}})
			require.NotEmpty(t, r.Errors, r.raw)
			assert.Equal(t, "NOT_FOUND", r.Errors[0].Extensions["code"], r.raw)
			assert.Equal(t, "input.duplicate", r.Errors[0].Extensions["field"], r.raw)
		})
	}
}
