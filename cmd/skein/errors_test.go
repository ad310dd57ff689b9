package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestErrorPaths: every error carries a code and the field path as the
// client wrote it (for mutations taking `input`, the path starts with
// `input.`), counts items as the client numbered them, and shows no
// backend detail (store names, raw internal IDs).
func TestErrorPaths(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			testErrorPaths(t, srv.URL)
		})
	}
}

func testErrorPaths(t *testing.T, url string) {
	ids := upsertIDs(t, url,
		item("BusinessService", map[string]any{"name": "Paths Inc"}),
		item("Application", map[string]any{"name": "paths-app"}),
		item("LinuxServer", map[string]any{"name": "paths-1", "serial_number": "PATHS-1", "mac_address": "aa:bb:cc:00:99:01"}),
		item("LinuxServer", map[string]any{"name": "paths-2", "serial_number": "PATHS-2"}),
	)
	// A CI ID of the right form that names no CI.
	missing := base64.RawURLEncoding.EncodeToString([]byte("CI:019a0000-0000-7000-8000-000000000000"))
	missingRel := base64.RawURLEncoding.EncodeToString([]byte("Relationship:r1." + base64.RawURLEncoding.EncodeToString([]byte("019a0000-0000-7000-8000-000000000000\x1fDEPENDS_ON\x1f019a0000-0000-7000-8000-000000000001"))))
	const relMutation = `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status error { code field message } } } }`
	// A conflict: serial of paths-2, MAC of paths-1.
	conflicting := item("LinuxServer", map[string]any{"name": "paths-x", "serial_number": "PATHS-2", "mac_address": "aa:bb:cc:00:99:01"})
	rel := func(typ, src, dst string) map[string]any {
		return map[string]any{"type": typ, "source": src, "target": dst}
	}

	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		dataField string // per-item errors: data.<dataField>.results[index].error
		index     int
		code      string
		field     string
		msgHas    []string
	}{
		{name: "unknown token", query: `mutation { revokeAPIToken(input: {tokenId: "zzzzzzzzzz"}) { apiToken { tokenId } } }`,
			code: "NOT_FOUND", field: "input.tokenId", msgHas: []string{"zzzzzzzzzz"}},
		{name: "identification rule", query: `mutation { registerCIClass(input: {name: "PathsA", parent: "CI", identificationRules: [["nope"]]}) { ciClass { name } } }`,
			code: "INVALID", field: "input.identificationRules[0]", msgHas: []string{"input.identificationRules[0]: "}},
		{name: "attribute maxLength", query: `mutation { registerCIClass(input: {name: "PathsB", parent: "CI", identificationRules: [["name"]], attributes: [{name: "x", type: "string", maxLength: -1}]}) { ciClass { name } } }`,
			code: "INVALID", field: "input.attributes[0].maxLength"},
		{name: "relationship type source classes", query: `mutation { registerRelationshipType(input: {name: "PATHS_A", sourceClasses: ["Nope"], propagates: NONE}) { relationshipType { name } } }`,
			code: "INVALID", field: "input.sourceClasses[0]"},
		{name: "relationship to a missing CI, after a refused item", query: relMutation,
			vars:      map[string]any{"in": map[string]any{"items": []any{rel("NOPE", ids[0], ids[1]), rel("DEPENDS_ON", ids[0], ids[1]), rel("DEPENDS_ON", missing, ids[1])}}},
			dataField: "createRelationships", index: 2, code: "NOT_FOUND", field: "input.items[2].source", msgHas: []string{"input.items[2].source: "}},
		{name: "atomic relationships with a missing CI", query: relMutation,
			vars: map[string]any{"in": map[string]any{"atomic": true, "items": []any{rel("DEPENDS_ON", ids[0], ids[1]), rel("DEPENDS_ON", ids[0], missing)}}},
			code: "NOT_FOUND", field: "input.items[1].target", msgHas: []string{"input.items[1].target: "}},
		{name: "relationship attributes of a type without any", query: relMutation,
			vars:      map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "DEPENDS_ON", "source": ids[0], "target": ids[1], "attributes": map[string]any{"zz": 1}}}}},
			dataField: "createRelationships", code: "INVALID", field: "input.items[0].attributes.zz", msgHas: []string{"DEPENDS_ON has no attributes"}},
		{name: "delete a missing relationship", query: `mutation($in: DeleteRelationshipsInput!) { deleteRelationships(input: $in) { results { status error { code field message } } } }`,
			vars:      map[string]any{"in": map[string]any{"ids": []any{missingRel}}},
			dataField: "deleteRelationships", code: "NOT_FOUND", field: "input.ids[0]", msgHas: []string{"input.ids[0]: "}},
		{name: "conflict after a refused item", query: upsertMutation,
			vars:      map[string]any{"in": map[string]any{"items": []any{item("Nope", map[string]any{"name": "x"}), conflicting}}},
			dataField: "upsertCIs", index: 1, code: "CONFLICT", field: "input.items[1]", msgHas: []string{"input.items[1]: "}},
		{name: "atomic conflict", query: upsertMutation,
			vars: map[string]any{"in": map[string]any{"atomic": true, "items": []any{item("Application", map[string]any{"name": "paths-ok"}), conflicting}}},
			code: "CONFLICT", field: "input.items[1]", msgHas: []string{"input.items[1]: "}},
		{name: "update a missing CI", query: `mutation($id: ID!) { updateCI(input: {id: $id, attributes: {owner: "x"}}) { changedFields } }`,
			vars: map[string]any{"id": missing}, code: "NOT_FOUND", field: "input.id", msgHas: []string{"input.id: "}},
		{name: "delete a missing CI", query: `mutation($id: ID!) { deleteCI(input: {id: $id}) { deletedId } }`,
			vars: map[string]any{"id": missing}, code: "NOT_FOUND", field: "input.id", msgHas: []string{"input.id: "}},
		// Limits the services check (issue 10: no longer in the resolvers),
		// named as before.
		{name: "empty upsert", query: upsertMutation, vars: map[string]any{"in": map[string]any{"items": []any{}}},
			code: "INVALID", field: "input.items", msgHas: []string{batchLimit("input.items", 0)}},
		{name: "upsert too large", query: upsertMutation, vars: map[string]any{"in": map[string]any{"items": manyItems(store.MaxBatch + 1)}},
			code: "INVALID", field: "input.items", msgHas: []string{batchLimit("input.items", store.MaxBatch+1)}},
		{name: "empty relationship batch", query: relMutation, vars: map[string]any{"in": map[string]any{"items": []any{}}},
			code: "INVALID", field: "input.items", msgHas: []string{batchLimit("input.items", 0)}},
		{name: "no relationship to delete", query: `mutation { deleteRelationships(input: {ids: []}) { results { status } } }`,
			code: "INVALID", field: "input.ids", msgHas: []string{batchLimit("input.ids", 0)}},
		{name: "audit filter kind", query: `{ auditRecords(filter: {kinds: ["ci", "ticket"]}) { totalCount } }`,
			code: "INVALID", field: "filter.kinds[1]", msgHas: []string{`filter.kinds[1]: "ticket" is not a kind of audited object; allowed: ci, person, group, incident, change, problem, change_task, problem_task, catalog_item, request, requested_item, catalog_task, asset, asset_model, knowledge, knowledge_version, change_template, change_window, webhook, delivery, journal, relationship, class, relationship_type, token`}},
		{name: "audit filter actor", query: `query($a: String) { auditRecords(filter: {actor: $a}) { totalCount } }`, vars: map[string]any{"a": strings.Repeat("a", 256)},
			code: "INVALID", field: "filter.actor", msgHas: []string{"filter.actor: at most 255 bytes"}},
		{name: "audit filter object", query: `{ auditRecords(filter: {objects: [""]}) { totalCount } }`,
			code: "INVALID", field: "filter.objects[0]", msgHas: []string{"filter.objects[0]: must be an ID or name of 1 to 510 bytes"}},
		{name: "audit filter times", query: `{ auditRecords(filter: {since: "2026-01-02", until: "2026-01-01"}) { totalCount } }`,
			code: "INVALID", field: "filter.until", msgHas: []string{"filter.until: must be after filter.since"}},
		{name: "variable missing a required field", query: upsertMutation,
			vars: map[string]any{"in": map[string]any{"items": []any{map[string]any{"class": "Application"}}}},
			code: "GRAPHQL_VALIDATION_FAILED", field: "input.items[0].attributes", msgHas: []string{"input.items[0].attributes: "}},
		{name: "several operations, none named", query: `query A { version } query B { version }`,
			code: "GRAPHQL_VALIDATION_FAILED", field: "operationName", msgHas: []string{"operationName", "A, B"}},
		{name: "variable of the wrong type", query: `query($n: Int) { cis(first: $n) { totalCount } }`, vars: map[string]any{"n": "ten"},
			code: "GRAPHQL_VALIDATION_FAILED", field: "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gql(t, url, tt.query, tt.vars)
			assert.NotEqual(t, http.StatusInternalServerError, r.status, r.raw)
			for _, e := range r.Errors {
				assert.NotEmpty(t, e.Extensions["code"], "every error has a code: %s", r.raw)
			}
			for _, leak := range []string{"embedded", "neo4j", "019a0000-0000"} {
				assert.NotContains(t, strings.ToLower(r.raw), leak, "no backend detail")
			}
			var code, field, msg string
			if tt.dataField != "" {
				require.Empty(t, r.Errors, r.raw)
				e := get(r.Data, tt.dataField, "results", tt.index, "error")
				require.NotNil(t, e, r.raw)
				code, _ = get(e, "code").(string)
				field, _ = get(e, "field").(string)
				msg, _ = get(e, "message").(string)
			} else {
				require.NotEmpty(t, r.Errors, r.raw)
				code, _ = r.Errors[0].Extensions["code"].(string)
				field, _ = r.Errors[0].Extensions["field"].(string)
				msg = r.Errors[0].Message
			}
			assert.Equal(t, tt.code, code, r.raw)
			assert.Equal(t, tt.field, field, r.raw)
			for _, s := range tt.msgHas {
				assert.Contains(t, msg, s, r.raw)
			}
		})
	}
}

// manyItems returns n upsert items.
func manyItems(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = item("Application", map[string]any{"name": fmt.Sprintf("many-%d", i)})
	}
	return out
}

// batchLimit is the message of a batch of n entries outside 1..MaxBatch.
func batchLimit(field string, n int) string {
	return fmt.Sprintf("%s: must hold between 1 and %d entries, got %d", field, store.MaxBatch, n)
}
