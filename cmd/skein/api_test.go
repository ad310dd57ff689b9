package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

// backendConfigs returns a configuration per backend: the embedded store
// in a fresh directory, and the test Neo4j, emptied (skipped locally
// without NEO4J_URI, a failure in CI).
func backendConfigs(t *testing.T) map[string]func(t *testing.T) config.Config {
	return map[string]func(t *testing.T) config.Config{
		"embedded": func(t *testing.T) config.Config {
			cfg := config.Default()
			cfg.Store.DataDir = t.TempDir()
			return cfg
		},
		"neo4j": func(t *testing.T) config.Config {
			env := neo4jtest.Require(t)
			cfg := config.Default()
			cfg.Store.Kind = config.StoreNeo4j
			cfg.Neo4j.URI, cfg.Neo4j.User, cfg.Neo4j.Password, cfg.Neo4j.Database = env.URI, env.User, config.Secret(env.Password), env.Database
			st, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URI: env.URI, User: env.User, Password: env.Password, Database: env.Database})
			require.NoError(t, err)
			require.NoError(t, st.Reset(t.Context()))
			require.NoError(t, st.Close())
			return cfg
		},
	}
}

// apiServer starts the real wiring (newApp) behind an httptest server,
// and issues an admin token that post sends to it (see clientTokens).
func apiServer(t *testing.T, cfg config.Config) (*httptest.Server, *app) {
	t.Helper()
	return apiServerWith(t, cfg, appOptions{})
}

// apiServerWith is apiServer over newAppWith(opts).
func apiServerWith(t *testing.T, cfg config.Config, opts appOptions) (*httptest.Server, *app) {
	t.Helper()
	a, err := newAppWith(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() { srv.Close(); a.Close() })
	useToken(t, srv.URL, issueToken(t, a, "api-test", auth.Admin))
	return srv, a
}

// clientTokens holds the token post sends to each test server, by base URL:
// the tests act as one admin client per server unless they say otherwise.
var clientTokens sync.Map

// useToken makes post send tok to the server at url, for the rest of t.
func useToken(t *testing.T, url, tok string) {
	clientTokens.Store(url, tok)
	t.Cleanup(func() { clientTokens.Delete(url) })
}

// issueToken creates a token with role in a's store; an agent token is
// bound to sources, if given.
func issueToken(t *testing.T, a *app, name string, role auth.Role, sources ...string) string {
	t.Helper()
	if role != auth.Agent {
		sources = nil
	}
	tok, _, err := auth.IssueBound(t.Context(), a.Store, store.Actor{Name: "test", Source: "api"}, name, role, time.Time{}, sources)
	require.NoError(t, err)
	return tok
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	status int
	header http.Header
	raw    string
}

// post sends a GraphQL request body with the server's test token, if it
// has one (useToken).
func post(t *testing.T, url, body string) gqlResponse {
	t.Helper()
	tok, _ := clientTokens.Load(url)
	s, _ := tok.(string)
	return postAs(t, url, s, body)
}

// postAs sends a GraphQL request body with tok as bearer token ("" sends
// no Authorization header).
func postAs(t *testing.T, url, tok, body string) gqlResponse {
	t.Helper()
	r, err := tryPost(url, tok, body)
	require.NoError(t, err)
	return r
}

// tryPost is postAs without failing the test, for goroutines (which must
// not call require) and for callers that expect transport errors.
func tryPost(url, tok, body string) (gqlResponse, error) {
	var r gqlResponse
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", strings.NewReader(body))
	if err != nil {
		return r, err
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("response is not JSON (%w): %s", err, raw)
	}
	r.status, r.header, r.raw = resp.StatusCode, resp.Header, string(raw)
	return r, nil
}

// goGQL sends a query as the server's test client from a goroutine; the
// answer (or the error, in raw) arrives on the returned channel.
func goGQL(url, query string, vars map[string]any) <-chan gqlResponse {
	ch := make(chan gqlResponse, 1)
	tok, _ := clientTokens.Load(url)
	s, _ := tok.(string)
	go func() {
		b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		var r gqlResponse
		if err == nil {
			r, err = tryPost(url, s, string(b))
		}
		if err != nil {
			r.raw = "request failed: " + err.Error()
		}
		ch <- r
	}()
	return ch
}

// within waits for ch, failing the test instead of hanging past a minute
// (a bound on a hang, not a speed assertion).
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("%s: nothing within a minute", what)
		panic("unreachable")
	}
}

func gql(t *testing.T, url, query string, vars map[string]any) gqlResponse {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return post(t, url, string(b))
}

// ok runs a query that must succeed and returns its data.
func ok(t *testing.T, url, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := gql(t, url, query, vars)
	require.Empty(t, r.Errors, r.raw)
	require.Equal(t, http.StatusOK, r.status)
	return r.Data
}

// get walks a decoded JSON value by keys and indexes.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

const upsertMutation = `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) {
  created updated unchanged failed
  results { index status changedFields error { code field message } ci { id name class } } } }`

func upsertIDs(t *testing.T, url string, items ...map[string]any) []string {
	t.Helper()
	d := ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": items}})
	var ids []string
	for i := range items {
		require.Nil(t, get(d, "upsertCIs", "results", i, "error"), "item %d", i)
		ids = append(ids, get(d, "upsertCIs", "results", i, "ci", "id").(string))
	}
	return ids
}

func item(class string, attrs map[string]any) map[string]any {
	return map[string]any{"class": class, "attributes": attrs}
}

func TestAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			t.Run("QueriesAndMutations", func(t *testing.T) { testAPIQueriesAndMutations(t, url) })
			t.Run("Errors", func(t *testing.T) { testAPIErrors(t, url) })
		})
	}
}

func testAPIQueriesAndMutations(t *testing.T, url string) {
	ids := upsertIDs(t, url,
		item("BusinessService", map[string]any{"name": "Shop", "criticality": 1, "owner": "sales"}),
		item("Application", map[string]any{"name": "shop-web", "owner": "web-team", "support_group": "web-ops", "environment": "production", "status": "live"}),
		item("VirtualMachine", map[string]any{"name": "vm-1", "vm_uuid": "VM-1"}),
		item("Hypervisor", map[string]any{"name": "esx-1", "serial_number": "HV-1"}),
		item("ApplicationInstance", map[string]any{"name": "shop-web-1", "host": "vm-1"}),
	)
	bs, appID, vm, hv, inst := ids[0], ids[1], ids[2], ids[3], ids[4]

	// Idempotent upsert, identification across formats.
	d := ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{
		item("Hypervisor", map[string]any{"name": "esx-1", "serial_number": "hv 1"}),
	}}})
	assert.Equal(t, "UNCHANGED", get(d, "upsertCIs", "results", 0, "status"), "serials are stored canonical: a respelling changes nothing")
	assert.Equal(t, hv, get(d, "upsertCIs", "results", 0, "ci", "id"), "but it is the same CI")
	d = ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{
		item("Hypervisor", map[string]any{"name": "esx-1", "serial_number": "hv 1"}),
	}}})
	assert.Equal(t, "UNCHANGED", get(d, "upsertCIs", "results", 0, "status"))
	assert.Equal(t, 1.0, get(d, "upsertCIs", "unchanged"))

	// Relationships.
	rel := `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { index status error { code field message } relationship { id type source { name } target { name } } } } }`
	d = ok(t, url, rel, map[string]any{"in": map[string]any{"items": []any{
		map[string]any{"type": "PROVIDED_BY", "source": bs, "target": appID},
		map[string]any{"type": "RUNS_ON", "source": vm, "target": hv},
		map[string]any{"type": "RUNS_ON", "source": inst, "target": vm},
		map[string]any{"type": "DEPENDS_ON", "source": appID, "target": inst},
	}}})
	for i := 0; i < 4; i++ {
		assert.Equal(t, "CREATED", get(d, "createRelationships", "results", i, "status"), "rel %d", i)
	}
	assert.Equal(t, "esx-1", get(d, "createRelationships", "results", 1, "relationship", "target", "name"))
	relID := get(d, "createRelationships", "results", 0, "relationship", "id").(string)

	// node, ci, cis with filter and pagination.
	d = ok(t, url, `query($id: ID!, $rid: ID!) { node(id: $id) { id ... on CI { name } } r: node(id: $rid) { ... on Relationship { type } } ci(id: $id) { name class ciClass { name family ancestors } seenBy { source } } }`,
		map[string]any{"id": hv, "rid": relID})
	assert.Equal(t, "esx-1", get(d, "node", "name"))
	assert.Equal(t, "PROVIDED_BY", get(d, "r", "type"))
	assert.Equal(t, "Server", get(d, "ci", "ciClass", "family"))
	d = ok(t, url, `{ cis(filter: {class: "Server"}, first: 1) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }`, nil)
	assert.Equal(t, 2.0, get(d, "cis", "totalCount"))
	assert.Equal(t, true, get(d, "cis", "pageInfo", "hasNextPage"))
	next := get(d, "cis", "pageInfo", "endCursor").(string)
	d = ok(t, url, `query($a: String) { cis(filter: {class: "Server"}, first: 1, after: $a) { edges { node { name } } pageInfo { hasNextPage } } }`, map[string]any{"a": next})
	assert.Equal(t, false, get(d, "cis", "pageInfo", "hasNextPage"))
	assert.Len(t, get(d, "cis", "edges"), 1)

	// A CI's relationships, dependencies, dependents, pathTo, history.
	d = ok(t, url, `query($id: ID!, $to: ID!) { ci(id: $id) {
		relationships(direction: OUT) { totalCount edges { node { type target { name } } } }
		dependencies(depth: 5) { nodes { depth ci { name } path { type forward from { name } to { name } } } }
		dependents(depth: 5) { nodes { depth ci { name } } }
		pathTo(ci: $to, maxDepth: 5) { length cis { name } steps { type forward } }
		history { totalCount edges { node { action actor source changes { field after } } } }
	} }`, map[string]any{"id": inst, "to": bs})
	assert.Equal(t, 1.0, get(d, "ci", "relationships", "totalCount"))
	assert.Equal(t, "vm-1", get(d, "ci", "dependencies", "nodes", 0, "ci", "name"))
	assert.Equal(t, "esx-1", get(d, "ci", "dependencies", "nodes", 1, "ci", "name"))
	assert.Equal(t, 2.0, get(d, "ci", "dependencies", "nodes", 1, "depth"))
	assert.Equal(t, "shop-web", get(d, "ci", "dependents", "nodes", 0, "ci", "name"))
	assert.Equal(t, 2.0, get(d, "ci", "pathTo", "length"))
	assert.Equal(t, "Shop", get(d, "ci", "pathTo", "cis", 2, "name"))
	assert.Equal(t, 3.0, get(d, "ci", "history", "totalCount"), "its creation and its two relationships'")
	assert.Equal(t, "create", get(d, "ci", "history", "edges", 2, "node", "action"))
	assert.Equal(t, "test", get(d, "ci", "history", "edges", 2, "node", "source"))

	// Impact: the hypervisor fails.
	d = ok(t, url, `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { starts { name } downCount degradedCount truncated
		impacted { depth effect ci { name } path { type from { name } to { name } } }
		businessServices { ci { name criticality } effect }
		owners { name ciCount } supportGroups { name ciCount } countsByClass { class count } } }`, map[string]any{"ids": []any{hv}})
	assert.Equal(t, 4.0, get(d, "impactAnalysis", "downCount"))
	assert.Equal(t, "Shop", get(d, "impactAnalysis", "businessServices", 0, "ci", "name"))
	assert.Equal(t, "DOWN", get(d, "impactAnalysis", "businessServices", 0, "effect"))
	assert.Equal(t, 1.0, get(d, "impactAnalysis", "businessServices", 0, "ci", "criticality"))
	assert.Equal(t, 4.0, float64(len(get(d, "impactAnalysis", "impacted").([]any))))
	var byDepth []any
	for _, im := range get(d, "impactAnalysis", "impacted").([]any) {
		byDepth = append(byDepth, im.(map[string]any)["ci"].(map[string]any)["name"])
	}
	// The same CIs a page at a time, by name, descending; and counted by
	// depth.
	pageQ := `query($ids: [ID!]!, $a: String) { impactAnalysis(ciIds: $ids) { countsByDepth { depth count }
		impactedPage(first: 3, after: $a, orderBy: {field: NAME, direction: DESC}) { totalCount pageInfo { hasNextPage endCursor }
		edges { cursor node { depth effect ci { name } path { type from { name } to { name } } } } } } }`
	var byName []any
	var after any
	for range 3 {
		d = ok(t, url, pageQ, map[string]any{"ids": []any{hv}, "a": after})
		assert.Equal(t, 4.0, get(d, "impactAnalysis", "impactedPage", "totalCount"))
		for _, e := range get(d, "impactAnalysis", "impactedPage", "edges").([]any) {
			node := e.(map[string]any)["node"].(map[string]any)
			byName = append(byName, node["ci"].(map[string]any)["name"])
			assert.Len(t, node["path"], int(node["depth"].(float64)), "the page's CIs have their paths")
		}
		if get(d, "impactAnalysis", "impactedPage", "pageInfo", "hasNextPage") == false {
			break
		}
		after = get(d, "impactAnalysis", "impactedPage", "pageInfo", "endCursor")
	}
	assert.ElementsMatch(t, byDepth, byName)
	names := make([]string, len(byName))
	for i, n := range byName {
		names[i] = n.(string)
	}
	assert.IsDecreasing(t, names)
	depths := get(d, "impactAnalysis", "countsByDepth").([]any)
	total := 0.0
	for _, c := range depths {
		total += c.(map[string]any)["count"].(float64)
	}
	assert.Equal(t, 4.0, total)
	assert.Equal(t, 1.0, get(d, "impactAnalysis", "countsByDepth", 0, "depth"))
	// CIs in impact and dependents answers that select only what a
	// summary holds are made from the summaries the answer was computed
	// from: the same fields as the CI read whole.
	const summary = `fragment S on CI { __typename id name class status environment owner supportGroup criticality version }`
	d = ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{
		item("Application", map[string]any{"name": "shop-web", "environment": "staging"}),
	}}})
	require.Equal(t, "UPDATED", get(d, "upsertCIs", "results", 0, "status"), "a CI of version 2 among those compared")
	d = ok(t, url, `query($ids: [ID!]!, $id: ID!) {
		impactAnalysis(ciIds: $ids) { impacted { ci { ...S } } businessServices { ci { ...S } } impactedPage(first: 10) { edges { node { ci { ...S } } } } }
		ci(id: $id) { dependents(depth: 5) { nodes { ci { ...S } } nodesPage(first: 10) { edges { node { ci { ...S } } } } } } } `+summary,
		map[string]any{"ids": []any{hv}, "id": hv})
	var shown []any
	for _, list := range [][]any{get(d, "impactAnalysis", "impacted").([]any), get(d, "impactAnalysis", "businessServices").([]any), get(d, "ci", "dependents", "nodes").([]any)} {
		for _, it := range list {
			shown = append(shown, it.(map[string]any)["ci"])
		}
	}
	for _, list := range [][]any{get(d, "impactAnalysis", "impactedPage", "edges").([]any), get(d, "ci", "dependents", "nodesPage", "edges").([]any)} {
		for _, e := range list {
			shown = append(shown, e.(map[string]any)["node"].(map[string]any)["ci"])
		}
	}
	require.Len(t, shown, 4+1+4+4+4)
	for _, c := range shown {
		whole := ok(t, url, `query($id: ID!) { ci(id: $id) { ...S } } `+summary, map[string]any{"id": c.(map[string]any)["id"]})
		assert.Equal(t, whole["ci"], c)
	}
	d = ok(t, url, `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids, assume: DEGRADED) { downCount degradedCount } }`, map[string]any{"ids": []any{hv}})
	assert.Equal(t, 0.0, get(d, "impactAnalysis", "downCount"))
	assert.Equal(t, 4.0, get(d, "impactAnalysis", "degradedCount"))
	d = ok(t, url, `query($a: ID!, $b: ID!) { shortestPath(from: $a, to: $b) { length } none: shortestPath(from: $a, to: $a) { length } }`, map[string]any{"a": hv, "b": bs})
	assert.Equal(t, 4.0, get(d, "shortestPath", "length"))

	// Model: classes, relationship types, registration.
	d = ok(t, url, `{ ciClasses { name } ciClass(name: "LinuxServer") { parent identificationRules attributes { name type } } relationshipTypes { name propagates effect redundancyAttribute } }`, nil)
	assert.Equal(t, "Server", get(d, "ciClass", "parent"))
	assert.GreaterOrEqual(t, len(get(d, "ciClasses").([]any)), 24)
	d = ok(t, url, `mutation { registerCIClass(input: {name: "MessageBroker", parent: "Application", attributes: [{name: "protocol", type: "enum", values: ["amqp", "kafka"]}]}) { ciClass { name family attributes { name } } }
		registerRelationshipType(input: {name: "PUBLISHES_TO", propagates: NONE, sourceClasses: ["ApplicationInstance"], targetClasses: ["MessageBroker"]}) { relationshipType { name propagates effect } } }`, nil)
	assert.Equal(t, "Application", get(d, "registerCIClass", "ciClass", "family"))
	assert.Equal(t, "NONE", get(d, "registerRelationshipType", "relationshipType", "propagates"))
	upsertIDs(t, url, item("MessageBroker", map[string]any{"name": "kafka-1", "protocol": "KAFKA"}))

	// Update, delete relationships, delete a CI.
	d = ok(t, url, `mutation($id: ID!) { updateCI(input: {id: $id, attributes: {owner: "platform", criticality: 2}}) { changedFields ci { owner criticality } } }`, map[string]any{"id": vm})
	assert.ElementsMatch(t, []any{"owner", "criticality"}, get(d, "updateCI", "changedFields"))
	d = ok(t, url, `mutation($ids: [ID!]!) { deleteRelationships(input: {ids: $ids}) { results { status } } }`, map[string]any{"ids": []any{relID, relID}})
	assert.Equal(t, "DELETED", get(d, "deleteRelationships", "results", 0, "status"))
	assert.Equal(t, "NOT_FOUND", get(d, "deleteRelationships", "results", 1, "status"))
	// Deleting retires: the CI stays, with its status retired, once.
	d = ok(t, url, `mutation($id: ID!) { deleteCI(input: {id: $id}) { ci { id status } } }`, map[string]any{"id": inst})
	assert.Equal(t, inst, get(d, "deleteCI", "ci", "id"))
	assert.Equal(t, "retired", get(d, "deleteCI", "ci", "status"))
	d = ok(t, url, `mutation($id: ID!) { deleteCI(input: {id: $id}) { ci { status } } }`, map[string]any{"id": inst})
	assert.Equal(t, "retired", get(d, "deleteCI", "ci", "status"), "retiring twice changes nothing")
	d = ok(t, url, `query($id: ID!) { ci(id: $id) { name status history { totalCount } } }`, map[string]any{"id": inst})
	assert.Equal(t, "retired", get(d, "ci", "status"))
	// Purging deletes for good.
	d = ok(t, url, `mutation($id: ID!) { purgeCI(input: {id: $id}) { purgedId } }`, map[string]any{"id": inst})
	assert.Equal(t, inst, get(d, "purgeCI", "purgedId"))
	d = ok(t, url, `query($id: ID!) { ci(id: $id) { name } }`, map[string]any{"id": inst})
	assert.Nil(t, get(d, "ci"))
	d = ok(t, url, `{ version }`, nil)
	assert.NotEmpty(t, get(d, "version"))
}

// errorCase is a request that must fail with a code (and field), with no
// 500 and no internal detail.
func testAPIErrors(t *testing.T, url string) {
	ids := upsertIDs(t, url,
		item("BusinessService", map[string]any{"name": "Errors Inc"}),
		item("Hypervisor", map[string]any{"name": "esx-e", "serial_number": "HV-E"}),
	)
	deep := "{ cis { edges { node { " + strings.Repeat("relationships { edges { node { source { ", 4) + "name" + strings.Repeat(" } } } }", 4) + " } } } }"
	tests := []struct {
		name      string
		query     string
		vars      map[string]any
		body      string // raw body instead of query
		code      string
		field     string
		msgHas    []string
		status    int
		dataField string // where the error is reported in data (per-item errors)
	}{
		{name: "unknown class lists valid classes", query: upsertMutation, vars: map[string]any{"in": map[string]any{"items": []any{item("Sever", map[string]any{"name": "x"})}}},
			dataField: "upsertCIs", code: "INVALID", field: "input.items[0].class", msgHas: []string{"did you mean Server", "LinuxServer", "BusinessService"}},
		{name: "missing required attribute names the field", query: upsertMutation, vars: map[string]any{"in": map[string]any{"items": []any{item("Application", map[string]any{"vendor": "x"})}}},
			dataField: "upsertCIs", code: "INVALID", field: "input.items[0].attributes.name", msgHas: []string{"required"}},
		{name: "atomic batch fails as a whole", query: upsertMutation, vars: map[string]any{"in": map[string]any{"atomic": true, "items": []any{item("Application", map[string]any{"name": "fine"}), item("Application", map[string]any{"name": "x", "criticality": 9})}}},
			code: "INVALID", field: "input.items[1].attributes.criticality", msgHas: []string{"1 to 4"}},
		{name: "unknown relationship type", query: `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status error { code field message } } } }`,
			vars:      map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "RUNS_ONN", "source": ids[0], "target": ids[1]}}}},
			dataField: "createRelationships", code: "INVALID", field: "input.items[0].type", msgHas: []string{"did you mean RUNS_ON", "DEPENDS_ON"}},
		{name: "relationship not allowed between classes", query: `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status error { code field message } } } }`,
			vars:      map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "RUNS_ON", "source": ids[0], "target": ids[1]}}}},
			dataField: "createRelationships", code: "INVALID", field: "input.items[0].source", msgHas: []string{"BusinessService", "allowed source classes"}},
		{name: "depth limit names the limit", query: deep, code: "QUERY_TOO_DEEP", msgHas: []string{"limit is 15", "graphql.max_depth"}},
		{name: "complexity limit names the limit", query: `{ cis(first: 1000) { edges { node { relationships(first: 1000) { edges { node { type } } } } } } }`,
			code: "COMPLEXITY_LIMIT_EXCEEDED", msgHas: []string{"limit of 5000", "graphql.max_complexity"}},
		{name: "malformed JSON", body: `{"query": "{ version }"`, code: "BAD_REQUEST", msgHas: []string{"not valid JSON"}, status: http.StatusBadRequest},
		{name: "syntax error", query: `{ ciClasses { name `, code: "GRAPHQL_PARSE_FAILED", status: http.StatusUnprocessableEntity},
		{name: "unknown field", query: `{ ciClasses { nope } }`, code: "GRAPHQL_VALIDATION_FAILED", status: http.StatusUnprocessableEntity},
		{name: "bad global id", query: `{ ci(id: "not-an-id") { name } }`, code: "INVALID", field: "id"},
		{name: "relationship id where a CI id is expected", query: `query($id: ID!) { ci(id: $id) { name } }`, vars: map[string]any{"id": "UmVsYXRpb25zaGlwOnIxLmFiYw"}, code: "INVALID", field: "id"},
		{name: "bad depth", query: `query($id: ID!) { ci(id: $id) { dependencies(depth: 99) { nodes { depth } } } }`, vars: map[string]any{"id": ids[1]}, code: "INVALID", field: "depth"},
		{name: "bad page size", query: `{ cis(first: -1) { totalCount } }`, code: "INVALID", field: "first"},
		{name: "bad cursor", query: `{ cis(after: "garbage") { totalCount } }`, code: "INVALID", field: "after"},
		{name: "unknown filter class", query: `{ cis(filter: {class: "Nope"}) { totalCount } }`, code: "INVALID", field: "filter.class"},
		{name: "attributes must be an object", query: upsertMutation, vars: map[string]any{"in": map[string]any{"items": []any{map[string]any{"class": "Application", "attributes": []any{1}}}}},
			code: "INVALID", field: "input.items[0].attributes"},
		{name: "impact of an unknown CI", query: `{ impactAnalysis(ciIds: ["Q0k6MDE5YTAwMDAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAw"]) { downCount } }`, code: "INVALID", field: "ciIds"},
		{name: "delete a missing CI", query: `mutation { deleteCI(input: {id: "Q0k6MDE5YTAwMDAtMDAwMC03MDAwLTgwMDAtMDAwMDAwMDAwMDAw"}) { deletedId } }`, code: "NOT_FOUND"},
		{name: "duplicate class registration", query: `mutation { registerCIClass(input: {name: "Server", parent: "CI"}) { ciClass { name } } }`, code: "CONFLICT"},
		{name: "bad class registration", query: `mutation { registerCIClass(input: {name: "X y", parent: "CI"}) { ciClass { name } } }`, code: "INVALID", field: "input.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r gqlResponse
			if tt.body != "" {
				r = post(t, url, tt.body)
			} else {
				r = gql(t, url, tt.query, tt.vars)
			}
			assert.NotEqual(t, http.StatusInternalServerError, r.status, r.raw)
			assert.NotContains(t, r.raw, "goroutine", "no stack traces")
			assert.NotContains(t, strings.ToLower(r.raw), "match (", "no Cypher text")
			assert.NotContains(t, strings.ToLower(r.raw), "select ", "no SQL text")
			if tt.status != 0 {
				assert.Equal(t, tt.status, r.status, r.raw)
			}
			var code, field, msg string
			if tt.dataField != "" {
				require.Empty(t, r.Errors, r.raw)
				e := get(r.Data, tt.dataField, "results", 0, "error")
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
			if tt.code != "" {
				assert.Equal(t, tt.code, code, r.raw)
			}
			if tt.field != "" {
				assert.Equal(t, tt.field, field, r.raw)
			}
			for _, s := range tt.msgHas {
				assert.Contains(t, msg, s)
			}
		})
	}
	// Nothing of the failed atomic batch was written.
	d := ok(t, url, `{ cis(filter: {namePrefix: "fine"}) { totalCount } }`, nil)
	assert.Equal(t, 0.0, get(d, "cis", "totalCount"))
}

// TestAPIOversizedBody: a body over server.max_body_bytes gets 413 naming
// the limit, and the server keeps answering.
func TestAPIOversizedBody(t *testing.T) {
	cfg := config.Default()
	cfg.Store.DataDir = t.TempDir()
	cfg.Server.MaxBodyBytes = 4096
	srv, _ := apiServer(t, cfg)
	big := `{"query": "{ version }", "variables": {"pad": "` + strings.Repeat("x", 10000) + `"}}`
	resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Contains(t, string(body), "4096")
	d := ok(t, srv.URL, `{ version }`, nil)
	assert.NotEmpty(t, d["version"])
}

// countingStore counts the store calls the GraphQL layer makes; it wraps a
// real store (it is a probe, not a mock).
type countingStore struct {
	store.Store
	cis, rels atomic.Int64
}

func (c *countingStore) Nodes(ctx context.Context, kind store.ObjectKind, ids []store.ID) (map[store.ID]store.Node, error) {
	c.cis.Add(1)
	return c.Store.Nodes(ctx, kind, ids)
}

func (c *countingStore) RelationshipPages(ctx context.Context, reqs []store.RelationshipPageRequest) ([]store.Page[store.Relationship], error) {
	c.rels.Add(1)
	return c.Store.RelationshipPages(ctx, reqs)
}

// TestLoadersBatch: 100 CIs with their neighbours take a small, constant
// number of store calls, not one per CI.
func TestLoadersBatch(t *testing.T) {
	ctx := t.Context()
	raw, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	st := &countingStore{Store: raw}
	m, err := cmdb.DefaultModel()
	require.NoError(t, err)
	svc, err := cmdb.NewService(ctx, st, m)
	require.NoError(t, err)
	h := graph.NewHandler(&graph.Resolver{CMDB: svc, Store: st, Impact: impact.New(st, svc.Model, impact.Options{}), Version: "test"},
		// A generous gathering window makes the count depend on batching,
		// not on how the scheduler treats this busy machine.
		graph.Options{MaxDepth: 15, MaxComplexity: 1 << 30, LoaderWait: 200 * time.Millisecond})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	items := []cmdb.UpsertItem{{Class: "Switch", Attributes: map[string]any{"name": "core", "serial_number": "CORE"}}}
	for i := 0; i < 100; i++ {
		items = append(items, cmdb.UpsertItem{Class: "LinuxServer", Attributes: map[string]any{"name": fmt.Sprintf("srv%03d", i), "serial_number": fmt.Sprintf("S%03d", i)}})
	}
	res, err := svc.Upsert(ctx, store.Actor{Name: "t", Source: "test"}, items, true)
	require.NoError(t, err)
	var rels []cmdb.RelationshipItem
	for _, r := range res[1:] {
		rels = append(rels, cmdb.RelationshipItem{Type: "CONNECTS_TO", Source: r.Node.ID, Target: res[0].Node.ID})
	}
	_, err = svc.CreateRelationships(ctx, store.Actor{Name: "t", Source: "test"}, rels, true)
	require.NoError(t, err)

	st.cis.Store(0)
	st.rels.Store(0)
	q := `{ cis(filter: {class: "LinuxServer"}, first: 100) { edges { node { name relationships(direction: OUT) { edges { node { type target { name relationships(direction: IN) { totalCount } } } } } } } } }`
	var buf bytes.Buffer
	require.NoError(t, json.NewEncoder(&buf).Encode(map[string]any{"query": q}))
	resp, err := http.Post(srv.URL, "application/json", &buf)
	require.NoError(t, err)
	raw2, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var r gqlResponse
	require.NoError(t, json.Unmarshal(raw2, &r))
	require.Empty(t, r.Errors, string(raw2))
	require.Len(t, get(r.Data, "cis", "edges"), 100)
	assert.Equal(t, "core", get(r.Data, "cis", "edges", 99, "node", "relationships", "edges", 0, "node", "target", "name"))
	// A count alone reads a page of one, and still counts them all.
	assert.Equal(t, 100.0, get(r.Data, "cis", "edges", 99, "node", "relationships", "edges", 0, "node", "target", "relationships", "totalCount"))
	// Unbatched, this query would make 200 RelationshipPages and 100 CIs
	// calls: one per level instead.
	assert.Equal(t, int64(2), st.rels.Load(), "relationships: one batched call per level")
	assert.Equal(t, int64(1), st.cis.Load(), "targets: one batched CI load")
	t.Logf("store calls for 100 CIs with neighbours: CIs=%d RelationshipPages=%d", st.cis.Load(), st.rels.Load())

	// One field with a bad cursor fails alone; its 100 siblings are still
	// answered in one batch (the refused batch, then the rest).
	st.rels.Store(0)
	q = `{ good: cis(filter: {class: "LinuxServer"}, first: 100) { edges { node { relationships(first: 1) { totalCount } } } }
  bad: ci(id: "` + graph.CIGlobalID(res[0].Node.ID) + `") { relationships(after: "garbage") { totalCount } } }`
	buf.Reset()
	require.NoError(t, json.NewEncoder(&buf).Encode(map[string]any{"query": q}))
	resp, err = http.Post(srv.URL, "application/json", &buf)
	require.NoError(t, err)
	raw2, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	r = gqlResponse{}
	require.NoError(t, json.Unmarshal(raw2, &r))
	require.Len(t, r.Errors, 1, string(raw2))
	assert.Equal(t, "after", r.Errors[0].Extensions["field"])
	assert.Equal(t, float64(1), get(r.Data, "good", "edges", 99, "node", "relationships", "totalCount"))
	assert.Equal(t, int64(2), st.rels.Load(), "the refused batch, then the 100 good requests together")

	// A traversal reads the CIs it reaches as summaries; showing fields
	// they hold reads nothing more, showing others reads the CIs whole in
	// one batch, whatever their number. A path's CIs, loaded with it, are
	// not read again.
	calls := func(q string) int64 {
		st.cis.Store(0)
		b, err := json.Marshal(map[string]any{"query": q})
		require.NoError(t, err)
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r gqlResponse
		require.NoError(t, json.Unmarshal(raw, &r))
		require.Empty(t, r.Errors, string(raw))
		return st.cis.Load()
	}
	core := graph.CIGlobalID(res[0].Node.ID)
	srv0 := graph.CIGlobalID(res[1].Node.ID)
	assert.Equal(t,
		calls(`{ ci(id: "`+core+`") { dependents { nodes { depth } } } }`)+1,
		calls(`{ ci(id: "`+core+`") { dependents { nodes { depth ci { name tags } } } } }`),
		"showing the dependents' CIs whole costs one batched read")
	assert.Equal(t,
		calls(`{ ci(id: "`+core+`") { dependents { nodes { depth } } } }`),
		calls(`{ ci(id: "`+core+`") { dependents { nodes { depth ci { id name class owner } } } } }`),
		"and nothing when the summaries the traversal read hold what is shown")
	assert.Equal(t,
		calls(`{ ci(id: "`+core+`") { dependents { nodes { depth } } } }`)+1,
		calls(`{ ci(id: "`+core+`") { dependents { nodes { depth a: ci { name } b: ci { tags } } } } }`),
		"but one batched read when another selection of the same CIs asks for more")
	assert.Equal(t,
		calls(`{ ci(id: "`+srv0+`") { pathTo(ci: "`+core+`") { length } } }`),
		calls(`{ ci(id: "`+srv0+`") { pathTo(ci: "`+core+`") { length cis { name } steps { from { name } to { name } } } } }`),
		"nor showing a path's CIs")
}

// TestAPIRelationshipPages pages through a CI's relationships over the API
// on both backends: every relationship once, outgoing first; a bad cursor
// is INVALID on "after" and does not fail the sibling fields of the query.
func TestAPIRelationshipPages(t *testing.T) {
	for name, cfg := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, cfg(t))
			var items []map[string]any
			for i := range 12 {
				items = append(items, item("Application", map[string]any{"name": fmt.Sprintf("pg-app-%02d", i)}))
			}
			ids := upsertIDs(t, srv.URL, items...)
			var rels []any
			for i := 1; i < 12; i++ {
				src, dst := ids[i], ids[0]
				if i%4 == 0 {
					src, dst = ids[0], ids[i]
				}
				rels = append(rels, map[string]any{"type": "DEPENDS_ON", "source": src, "target": dst})
			}
			ok(t, srv.URL, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": rels}})

			const q = `query($id: ID!, $after: String) { ci(id: $id) { relationships(first: 3, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id source { id } } } } } }`
			seen := map[string]bool{}
			var after any
			outgoingDone := false
			for range 10 {
				d := ok(t, srv.URL, q, map[string]any{"id": ids[0], "after": after})
				assert.Equal(t, float64(11), get(d, "ci", "relationships", "totalCount"))
				for _, e := range get(d, "ci", "relationships", "edges").([]any) {
					id := get(e, "node", "id").(string)
					assert.False(t, seen[id], "no repeats")
					seen[id] = true
					out := get(e, "node", "source", "id") == ids[0]
					assert.False(t, out && outgoingDone, "outgoing relationships come first")
					outgoingDone = outgoingDone || !out
				}
				if get(d, "ci", "relationships", "pageInfo", "hasNextPage") != true {
					break
				}
				after = get(d, "ci", "relationships", "pageInfo", "endCursor")
			}
			assert.Len(t, seen, 11)

			r := gql(t, srv.URL, `query($a: ID!, $b: ID!) {
  bad: ci(id: $a) { relationships(after: "not-a-cursor") { totalCount } }
  good: ci(id: $b) { relationships { totalCount } } }`, map[string]any{"a": ids[0], "b": ids[1]})
			require.Len(t, r.Errors, 1, r.raw)
			assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"])
			assert.Equal(t, "after", r.Errors[0].Extensions["field"])
			assert.Equal(t, float64(1), get(r.Data, "good", "relationships", "totalCount"), "the sibling field answers")
		})
	}
}
