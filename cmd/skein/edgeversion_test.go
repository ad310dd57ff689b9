package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const createRelsMutation = `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) {
  results { status error { code field message } relationship { id version lastSeenAt seenBy { source lastSeenAt } attributes } } } }`

// TestAPIRelationshipVersions: a relationship's version and sightings over
// HTTP, an expectedVersion that is stale is a CONFLICT naming the current
// version, a bad one is INVALID naming the field; and a relationship read
// through an impact path has its version and attributes, as read directly.
func TestAPIRelationshipVersions(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			ids := upsertIDs(t, url,
				item("Server", map[string]any{"name": "web-1", "serial_number": "EV-1"}),
				item("Switch", map[string]any{"name": "sw-1", "serial_number": "EV-2"}))
			rel := func(extra map[string]any) map[string]any {
				it := map[string]any{"type": "CONNECTS_TO", "source": ids[0], "target": ids[1]}
				for k, v := range extra {
					it[k] = v
				}
				return it
			}
			create := func(atomic bool, items ...map[string]any) []any {
				d := ok(t, url, createRelsMutation, map[string]any{"in": map[string]any{"items": items, "atomic": atomic}})
				return get(d, "createRelationships", "results").([]any)
			}

			res := create(false, rel(map[string]any{"attributes": map[string]any{"port": "1"}}))
			assert.Equal(t, "CREATED", get(res, 0, "status"))
			assert.EqualValues(t, 1, get(res, 0, "relationship", "version"))
			assert.Equal(t, "api", get(res, 0, "relationship", "seenBy", 0, "source"), "the default source of a write through the API")
			assert.NotNil(t, get(res, 0, "relationship", "lastSeenAt"))

			res = create(false, rel(map[string]any{"attributes": map[string]any{"port": "2"}, "expectedVersion": 1}))
			assert.Equal(t, "UPDATED", get(res, 0, "status"))
			assert.EqualValues(t, 2, get(res, 0, "relationship", "version"))

			res = create(false, rel(map[string]any{"attributes": map[string]any{"port": "3"}, "expectedVersion": 1}))
			assert.Equal(t, "CONFLICT", get(res, 0, "status"))
			assert.Equal(t, "CONFLICT", get(res, 0, "error", "code"))
			assert.Contains(t, get(res, 0, "error", "message"), "is at version 2, not 1")

			r := gql(t, url, createRelsMutation, map[string]any{"in": map[string]any{"items": []any{rel(map[string]any{"expectedVersion": 0})}, "atomic": true}})
			require.NotEmpty(t, r.Errors, r.raw)
			assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], r.raw)
			assert.Equal(t, "input.items[0].expectedVersion", r.Errors[0].Extensions["field"], r.raw)

			d := ok(t, url, `query($id: ID!) { impactAnalysis(ciIds: [$id]) { impacted { ci { id } path { relationship { version attributes } } } } }`, map[string]any{"id": ids[1]})
			steps := get(d, "impactAnalysis", "impacted", 0, "path").([]any)
			require.Len(t, steps, 1)
			assert.EqualValues(t, 2, get(steps, 0, "relationship", "version"), "a path's relationship is read whole")
			assert.Equal(t, "2", get(steps, 0, "relationship", "attributes", "port"))
		})
	}
}
