package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

// TestAgentSourceBinding: an agent token is bound to the discovery sources
// named when it was made; it writes as one of them and as nothing else,
// and names Skein reserves for itself (api, import, demo, cli, attribute_link)
// are refused in any spelling, at creation and at use.
func TestAgentSourceBinding(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			const create = `mutation($in: CreateAPITokenInput!) { createAPIToken(input: $in) { token apiToken { role sources } } }`
			d := ok(t, url, create, map[string]any{"in": map[string]any{"name": "nmap scanner", "role": "AGENT", "sources": []any{"nmap", "nmap-dmz"}}})
			assert.Equal(t, []any{"nmap", "nmap-dmz"}, get(d, "createAPIToken", "apiToken", "sources"))
			agent := get(d, "createAPIToken", "token").(string)
			d = ok(t, url, `{ apiTokens { name sources } }`, nil)
			var listed []any
			for _, tok := range get(d, "apiTokens").([]any) {
				if get(tok, "name") == "nmap scanner" {
					listed = get(tok, "sources").([]any)
				}
			}
			assert.Equal(t, []any{"nmap", "nmap-dmz"}, listed, "the binding is stored")

			for _, bad := range []struct {
				in    map[string]any
				field string
			}{
				{map[string]any{"name": "x", "role": "AGENT", "sources": []any{"API"}}, "input.sources[0]"},
				{map[string]any{"name": "x", "role": "AGENT", "sources": []any{"nmap", "Demo"}}, "input.sources[1]"},
				{map[string]any{"name": "x", "role": "AGENT", "sources": []any{"import"}}, "input.sources[0]"},
				{map[string]any{"name": "x", "role": "AGENT", "sources": []any{"CLI"}}, "input.sources[0]"},
				{map[string]any{"name": "x", "role": "AGENT", "sources": []any{"Attribute_Link"}}, "input.sources[0]"},
				{map[string]any{"name": "x", "role": "AGENT", "sources": []any{"no spaces"}}, "input.sources[0]"},
				{map[string]any{"name": "x", "role": "AGENT", "sources": []any{"nmap", "nmap"}}, "input.sources[1]"},
				{map[string]any{"name": "x", "role": "VIEWER", "sources": []any{"nmap"}}, "input.sources"},
			} {
				r := gql(t, url, create, map[string]any{"in": bad.in})
				require.NotEmpty(t, r.Errors, "%v: %s", bad.in, r.raw)
				assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], r.raw)
				assert.Equal(t, bad.field, r.Errors[0].Extensions["field"], r.raw)
			}

			upsert := func(tok, source, ciName string) gqlResponse {
				in := map[string]any{"items": []any{item("Application", map[string]any{"name": ciName})}}
				if source != "" {
					in["source"] = source
				}
				b, err := json.Marshal(map[string]any{"query": `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { results { status ci { id } } } }`, "variables": map[string]any{"in": in}})
				require.NoError(t, err)
				return postAs(t, url, tok, string(b))
			}
			for _, src := range []string{"vcenter", "api", "API", "Api", "demo", "DEMO", "import", "Import", "agent", "NMAP"} {
				r := upsert(agent, src, "bound-app")
				require.Len(t, r.Errors, 1, "%s: %s", src, r.raw)
				assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], src)
				assert.Equal(t, "input.source", r.Errors[0].Extensions["field"], src)
				assert.Contains(t, r.Errors[0].Message, "nmap, nmap-dmz", "the message names the token's sources")
			}
			r := postAs(t, url, agent, `{"query": "{ viewer { role sources } }"}`)
			require.Empty(t, r.Errors, r.raw)
			assert.Equal(t, []any{"nmap", "nmap-dmz"}, get(r.Data, "viewer", "sources"), "an agent can learn its sources")
			r = upsert(agent, "", "bound-app")
			require.Empty(t, r.Errors, r.raw)
			id := get(r.Data, "upsertCIs", "results", 0, "ci", "id").(string)
			r = upsert(agent, "nmap-dmz", "bound-app")
			require.Empty(t, r.Errors, r.raw)
			d = ok(t, url, `query($id: ID!) { ci(id: $id) { seenBy { source } } }`, map[string]any{"id": id})
			var sources []string
			for _, s := range get(d, "ci", "seenBy").([]any) {
				sources = append(sources, get(s, "source").(string))
			}
			assert.ElementsMatch(t, []string{"nmap", "nmap-dmz"}, sources, "a bound agent's default source is its first")

			// A token made without sources (by earlier versions, or without
			// --source) reports as "agent" only.
			unbound := issueToken(t, a, "unbound agent", auth.Agent)
			r = upsert(unbound, "vcenter", "unbound-app")
			require.Len(t, r.Errors, 1, r.raw)
			assert.Equal(t, "input.source", r.Errors[0].Extensions["field"])
			r = upsert(unbound, "", "unbound-app")
			require.Empty(t, r.Errors, r.raw)
			r = upsert(unbound, "agent", "unbound-app")
			require.Empty(t, r.Errors, r.raw)

			// People's tokens may still name any source but the reserved
			// ones' other spellings: "api" is theirs.
			r = upsert(issueToken(t, a, "engineer", auth.Engineer), "API", "eng-app")
			require.Len(t, r.Errors, 1, r.raw)
			assert.Equal(t, "input.source", r.Errors[0].Extensions["field"])
		})
	}
}

// TestAgentPayloadHidesStoredData: an agent, which may not read the
// graph, learns from an upsert's answer which CI its item is (id, class)
// and what happened, not the CI's stored data: an item naming an existing
// CI must not read the values other sources set.
func TestAgentPayloadHidesStoredData(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			upsertIDs(t, srv.URL, item("Application", map[string]any{"name": "crown-jewels", "owner": "Secret Owner", "tags": []any{"pci"}, "vendor": "Hidden Vendor"}))
			agent := issueToken(t, a, "probe", auth.Agent)
			post := func(sel string) gqlResponse {
				b, err := json.Marshal(map[string]any{"query": `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { unchanged results { status changedFields ci { ` + sel + ` } } } }`,
					"variables": map[string]any{"in": map[string]any{"items": []any{item("Application", map[string]any{"name": "crown-jewels"})}}}})
				require.NoError(t, err)
				return postAs(t, srv.URL, agent, string(b))
			}
			r := post("id class createdAt updatedAt lastSeenAt")
			require.Empty(t, r.Errors, r.raw)
			assert.NotEmpty(t, get(r.Data, "upsertCIs", "results", 0, "ci", "id"))
			assert.Equal(t, "Application", get(r.Data, "upsertCIs", "results", 0, "ci", "class"))
			for _, sel := range []string{"attributes", "owner", "tags", "supportGroup", "status", "environment", "criticality", "seenBy { source }", "name"} {
				r := post("id " + sel)
				require.NotEmpty(t, r.Errors, "%s: %s", sel, r.raw)
				assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"], sel)
				for _, secret := range []string{"Secret Owner", "Hidden Vendor", "pci"} {
					assert.NotContains(t, r.raw, secret, sel)
				}
			}
			// An engineer reads it all from the same answer.
			b, err := json.Marshal(map[string]any{"query": `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { results { ci { name owner attributes } } } }`,
				"variables": map[string]any{"in": map[string]any{"items": []any{item("Application", map[string]any{"name": "crown-jewels"})}}}})
			require.NoError(t, err)
			r = postAs(t, srv.URL, issueToken(t, a, "engineer", auth.Engineer), string(b))
			require.Empty(t, r.Errors, r.raw)
			assert.Equal(t, "Secret Owner", get(r.Data, "upsertCIs", "results", 0, "ci", "owner"))
		})
	}
}
