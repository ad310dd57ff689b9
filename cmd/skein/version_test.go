package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpdateCIExpectedVersion: CI { version } counts the changes of a CI,
// and updateCI with a stale expectedVersion changes nothing and answers
// CONFLICT naming the current version, on both backends.
func TestUpdateCIExpectedVersion(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			id := upsertIDs(t, url, item("Application", map[string]any{"name": "ver-app", "owner": "ops"}))[0]
			const update = `mutation($in: UpdateCIInput!) { updateCI(input: $in) { changedFields ci { owner version } } }`
			d := ok(t, url, `query($id: ID!) { node(id: $id) { ... on CI { version } } }`, map[string]any{"id": id})
			assert.Equal(t, 1.0, get(d, "node", "version"))

			d = ok(t, url, update, map[string]any{"in": map[string]any{"id": id, "attributes": map[string]any{"owner": "dba"}, "expectedVersion": 1}})
			assert.Equal(t, 2.0, get(d, "updateCI", "ci", "version"))
			d = ok(t, url, update, map[string]any{"in": map[string]any{"id": id, "attributes": map[string]any{"owner": "dba"}}})
			assert.Equal(t, 2.0, get(d, "updateCI", "ci", "version"), "an update changing nothing keeps the version")

			r := gql(t, url, update, map[string]any{"in": map[string]any{"id": id, "attributes": map[string]any{"owner": "web"}, "expectedVersion": 1}})
			require.Len(t, r.Errors, 1, r.raw)
			e := r.Errors[0]
			assert.Equal(t, "CONFLICT", e.Extensions["code"])
			assert.Equal(t, "input.expectedVersion", e.Extensions["field"])
			assert.Equal(t, 2.0, e.Extensions["currentVersion"])
			assert.Contains(t, e.Message, "is at version 2, not 1")
			d = ok(t, url, `query($id: ID!) { node(id: $id) { ... on CI { owner version } } }`, map[string]any{"id": id})
			assert.Equal(t, "dba", get(d, "node", "owner"), "nothing written")

			r = gql(t, url, update, map[string]any{"in": map[string]any{"id": id, "attributes": map[string]any{"owner": "web"}, "expectedVersion": 0}})
			require.Len(t, r.Errors, 1, r.raw)
			assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"])
			assert.Equal(t, "input.expectedVersion", r.Errors[0].Extensions["field"])
		})
	}
}
