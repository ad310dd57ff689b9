package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/discovery/kubernetes"
	"github.com/skein-cmdb/skein/internal/auth"
)

// batchAnswer is the answer of POST /api/v1/batches.
type batchAnswer struct {
	Scope *struct {
		Name    string `json:"name"`
		Applied bool   `json:"applied"`
	} `json:"scope"`
	CIs           []batchOutcome `json:"cis"`
	Relationships []batchOutcome `json:"relationships"`
	Errors        []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	status int
}

type batchOutcome struct {
	Index  int    `json:"index"`
	Ref    string `json:"ref"`
	Status string `json:"status"`
	ID     string `json:"id"`
	Error  *struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"error"`
}

// postBatch posts b to url's batch endpoint with tok ("": the test's
// admin token).
func postBatch(t *testing.T, url, tok string, b any) batchAnswer {
	t.Helper()
	if tok == "" {
		v, _ := clientTokens.Load(url)
		tok, _ = v.(string)
	}
	var out batchAnswer
	out.status = postREST(t, url+"/api/v1/batches", tok, b, &out)
	return out
}

// statuses counts the outcomes by status.
func statuses(os []batchOutcome) map[string]int {
	out := map[string]int{}
	for _, o := range os {
		out[o.Status]++
	}
	return out
}

// boutique returns the batches of the Online Boutique manifests, read by
// the kubernetes source (skipped when the shared test data is absent,
// unless CI=true).
func boutique(t *testing.T) []discovery.Batch {
	t.Helper()
	path := filepath.Join("..", "..", "..", "shared", "testdata", "kubernetes", "online-boutique.yaml")
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (CI=true: the shared test data must be there)", path, err)
		}
		t.Skipf("%s is absent: %v", path, err)
	}
	batches, err := kubernetes.NewManifests(kubernetes.Options{Cluster: "boutique"}, path).Collect(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, batches)
	return batches
}

// TestBatchAPI: discovery batches through POST /api/v1/batches on both
// backends: Google's Online Boutique manifests, read by the kubernetes
// source, land as the workloads and the service-to-service dependencies a
// person reads off them, each relationship written with the CIs its ends
// name (by batch reference or by identity) in one request; posting them
// again changes nothing; a relationship to a CI no one reported is
// not_found while the batch's CIs are written; an application instance is
// identified by its name and its host; agent tokens write as their bound
// source only; bad bodies and callers are refused.
func TestBatchAPI(t *testing.T) {
	batches := boutique(t)
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			agent := issueToken(t, a, "k8s-agent", auth.Agent, "kubernetes")

			var total map[string]int
			for pass := range 2 {
				total = map[string]int{}
				rels := map[string]int{}
				for _, b := range batches {
					ans := postBatch(t, url, agent, b)
					require.Equal(t, http.StatusOK, ans.status, "%+v", ans.Errors)
					require.Len(t, ans.CIs, len(b.CIs))
					require.Len(t, ans.Relationships, len(b.Relationships))
					for _, o := range ans.CIs {
						require.Nil(t, o.Error, "ci %d", o.Index)
						require.NotEmpty(t, o.ID)
						total[o.Status]++
					}
					for _, o := range ans.Relationships {
						require.Nil(t, o.Error, "relationship %d", o.Index)
						rels[o.Status]++
					}
				}
				if pass == 0 {
					assert.Zero(t, total["updated"]+total["unchanged"], "the first pass creates: %v", total)
					assert.Zero(t, rels["unchanged"], "%v", rels)
				} else {
					assert.Equal(t, map[string]int{"unchanged": total["unchanged"]}, total, "posting again changes no CI")
					assert.Equal(t, map[string]int{"unchanged": rels["unchanged"]}, rels, "nor any relationship")
				}
			}

			// The dependencies a person draws from the manifests.
			dependsOn := func(workload string) []string {
				d := ok(t, url, `query($n: String!) { cis(first: 2, filter: {class: "KubernetesWorkload", name: $n}) { edges { node { id } } } }`, map[string]any{"n": workload})
				edges := get(d, "cis", "edges").([]any)
				require.Len(t, edges, 1, "one CI for workload %s", workload)
				d = ok(t, url, `query($id: ID!) { ci(id: $id) { dependencies(depth: 1, follow: RELATIONSHIP, types: ["DEPENDS_ON"]) { truncated nodes { ci { name class } } } } }`,
					map[string]any{"id": get(edges[0], "node", "id")})
				require.Equal(t, false, get(d, "ci", "dependencies", "truncated"))
				var out []string
				for _, n := range get(d, "ci", "dependencies", "nodes").([]any) {
					if get(n, "ci", "class") == "KubernetesWorkload" {
						out = append(out, get(n, "ci", "name").(string))
					}
				}
				slices.Sort(out)
				return out
			}
			assert.Equal(t, []string{"adservice", "cartservice", "checkoutservice", "currencyservice", "productcatalogservice",
				"recommendationservice", "shippingservice"}, dependsOn("frontend"))
			assert.Equal(t, []string{"cartservice", "currencyservice", "emailservice", "paymentservice", "productcatalogservice",
				"shippingservice"}, dependsOn("checkoutservice"))
			assert.Equal(t, []string{"redis-cart"}, dependsOn("cartservice"))
			assert.Equal(t, []string{"frontend"}, dependsOn("loadgenerator"))
			d := ok(t, url, `{ cis(filter: {class: "KubernetesWorkload"}) { totalCount } }`, nil)
			assert.Equal(t, 12.0, get(d, "cis", "totalCount"), "twelve Deployments, each once")

			// Relationships by identity and dependent identification: two
			// nginx instances on two hosts are two CIs; the one whose host
			// nobody reported keeps its CI, its RUNS_ON is not_found.
			host := discovery.Batch{Source: "kubernetes", CIs: []discovery.CI{
				{Ref: "web1", Class: "LinuxServer", Attributes: map[string]any{"name": "web1", "dns_domain": "example.com", "serial_number": "WEB1-SN"}},
				{Ref: "nginx1", Class: "ApplicationInstance", Attributes: map[string]any{"name": "nginx:80", "host": "web1.example.com", "port": 80}},
				{Ref: "nginx2", Class: "ApplicationInstance", Attributes: map[string]any{"name": "nginx:80", "host": "web2.example.com", "port": 80}},
			}, Relationships: []discovery.Relationship{
				{Type: "RUNS_ON", From: discovery.ByRef("nginx1"), To: discovery.ByRef("web1")},
				{Type: "RUNS_ON", From: discovery.ByRef("nginx2"), To: discovery.ByIdentity("Server", map[string]any{"serial_number": "WEB2-SN"})},
				{Type: "DEPENDS_ON", From: discovery.ByRef("nginx2"), To: discovery.ByIdentity("KubernetesWorkload",
					map[string]any{"cluster": "boutique", "namespace": "default", "kind": "Deployment", "name": "frontend"})},
				{Type: "RUNS_ON", From: discovery.ByRef("web1"), To: discovery.ByRef("nginx1")},
				{Type: "NO_SUCH_TYPE", From: discovery.ByRef("nginx1"), To: discovery.ByRef("web1")},
				{Type: "RUNS_ON", From: discovery.ByRef("nginx1"), To: discovery.ByRef("missing")},
			}}
			ans := postBatch(t, url, agent, host)
			require.Equal(t, http.StatusOK, ans.status, "%+v", ans.Errors)
			assert.Equal(t, map[string]int{"created": 3}, statuses(ans.CIs))
			assert.NotEqual(t, ans.CIs[1].ID, ans.CIs[2].ID, "one name on two hosts: two instances")
			want := []string{"created", "not_found", "created", "invalid", "invalid", "invalid"}
			for i, o := range ans.Relationships {
				assert.Equal(t, want[i], o.Status, "relationship %d: %+v", i, o.Error)
			}
			field := func(o batchOutcome) any { return o.Error.Extensions["field"] }
			assert.Equal(t, "relationships[1].to", field(ans.Relationships[1]))
			assert.Equal(t, "relationships[3].to", field(ans.Relationships[3]), "a server does not run on an instance")
			assert.Equal(t, "relationships[4].type", field(ans.Relationships[4]))
			assert.Equal(t, "relationships[5].to.ref", field(ans.Relationships[5]))
			// Once web2 is reported, the same batch links nginx2 to it.
			ans = postBatch(t, url, agent, discovery.Batch{Source: "kubernetes", CIs: []discovery.CI{
				{Class: "LinuxServer", Attributes: map[string]any{"name": "web2", "dns_domain": "example.com", "serial_number": "WEB2-SN"}}}})
			require.Equal(t, http.StatusOK, ans.status)
			ans = postBatch(t, url, agent, host)
			assert.Equal(t, "created", ans.Relationships[1].Status, "%+v", ans.Relationships[1].Error)
			assert.Equal(t, "unchanged", ans.Relationships[0].Status)

			// The same through GraphQL's upsertCIs.
			d = ok(t, url, `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { created
			  results { status ci { name } } relationships { status relationship { type source { name } target { name } } error { code field } } } }`,
				map[string]any{"in": map[string]any{"items": []any{
					map[string]any{"ref": "db", "class": "Database", "attributes": map[string]any{"name": "orders", "db_instance": "pg-orders"}},
					map[string]any{"ref": "app", "class": "Application", "attributes": map[string]any{"name": "order-api"}},
				}, "relationships": []any{
					map[string]any{"type": "DEPENDS_ON", "from": map[string]any{"ref": "app"}, "to": map[string]any{"ref": "db"}},
					map[string]any{"type": "DEPENDS_ON", "from": map[string]any{"ref": "app"}, "to": map[string]any{"class": "KubernetesWorkload",
						"identity": map[string]any{"cluster": "boutique", "namespace": "default", "kind": "Deployment", "name": "cartservice"}}},
					map[string]any{"type": "DEPENDS_ON", "from": map[string]any{"ref": "app"}, "to": map[string]any{"class": "Server", "identity": map[string]any{"serial_number": "NOPE"}}},
				}}})
			assert.Equal(t, 2.0, get(d, "upsertCIs", "created"))
			assert.Equal(t, "CREATED", get(d, "upsertCIs", "relationships", 0, "status"))
			assert.Equal(t, "orders", get(d, "upsertCIs", "relationships", 0, "relationship", "target", "name"))
			assert.Equal(t, "cartservice", get(d, "upsertCIs", "relationships", 1, "relationship", "target", "name"))
			assert.Equal(t, "NOT_FOUND", get(d, "upsertCIs", "relationships", 2, "status"))
			assert.Equal(t, "input.relationships[2].to", get(d, "upsertCIs", "relationships", 2, "error", "field"))
			refusedWith(t, gql(t, url, `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { created } }`, map[string]any{"in": map[string]any{
				"items": []any{}, "relationships": []any{map[string]any{"type": "DEPENDS_ON", "from": map[string]any{"ref": "a", "id": ans.CIs[0].ID}, "to": map[string]any{"ref": "b"}}}}}),
				"INVALID", "input.relationships[0].from")

			// The agent writes as its bound source only; readers may not
			// write; bad bodies are refused whole.
			host.Source = "ansible"
			ans = postBatch(t, url, agent, host)
			assert.Equal(t, http.StatusBadRequest, ans.status)
			require.NotEmpty(t, ans.Errors)
			assert.Equal(t, "INVALID", ans.Errors[0].Extensions["code"])
			assert.Equal(t, "source", ans.Errors[0].Extensions["field"])
			ans = postBatch(t, url, issueToken(t, a, "reader", auth.Viewer), host)
			assert.Equal(t, http.StatusForbidden, ans.status)
			ans = postBatch(t, url, agent, []byte(`{"source": "kubernetes", "cis": [`))
			assert.Equal(t, http.StatusBadRequest, ans.status)
			ans = postBatch(t, url, agent, []byte(`{"source": "kubernetes", "cis": []} {}`))
			assert.Equal(t, http.StatusBadRequest, ans.status)
			dup := discovery.Batch{Source: "kubernetes", CIs: []discovery.CI{
				{Ref: "x", Class: "Application", Attributes: map[string]any{"name": "dup-a"}},
				{Ref: "x", Class: "Application", Attributes: map[string]any{"name": "dup-b"}}}}
			ans = postBatch(t, url, agent, dup)
			assert.Equal(t, http.StatusBadRequest, ans.status)
			assert.Equal(t, "cis[1].ref", ans.Errors[0].Extensions["field"])
			d = ok(t, url, `{ cis(filter: {namePrefix: "dup-"}) { totalCount } }`, nil)
			assert.Equal(t, 0.0, get(d, "cis", "totalCount"), "a refused batch writes nothing")
		})
	}
}
