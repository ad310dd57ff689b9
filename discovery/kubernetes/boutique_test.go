package kubernetes

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// The edges a person draws from reading online-boutique.yaml: the *_ADDR
// variables of each Deployment, resolved through the Service of that name
// to the Deployment it selects. frontend also names
// shoppingassistantservice, which the release manifests do not deploy, so
// no edge; loadgenerator names frontend in its container and its init
// container alike.
var boutiqueDependencies = []string{
	"frontend -> productcatalogservice",
	"frontend -> currencyservice",
	"frontend -> cartservice",
	"frontend -> recommendationservice",
	"frontend -> shippingservice",
	"frontend -> checkoutservice",
	"frontend -> adservice",
	"checkoutservice -> productcatalogservice",
	"checkoutservice -> shippingservice",
	"checkoutservice -> paymentservice",
	"checkoutservice -> emailservice",
	"checkoutservice -> currencyservice",
	"checkoutservice -> cartservice",
	"cartservice -> redis-cart",
	"recommendationservice -> productcatalogservice",
	"loadgenerator -> frontend",
}

var boutiqueDeployments = []string{
	"adservice", "cartservice", "checkoutservice", "currencyservice", "emailservice", "frontend",
	"loadgenerator", "paymentservice", "productcatalogservice", "recommendationservice", "redis-cart", "shippingservice",
}

// Each Service selects app=<its name>, but frontend-external, which selects
// app=frontend.
var boutiqueServices = []string{
	"adservice -> adservice", "cartservice -> cartservice", "checkoutservice -> checkoutservice",
	"currencyservice -> currencyservice", "emailservice -> emailservice", "frontend -> frontend",
	"frontend-external -> frontend", "paymentservice -> paymentservice",
	"productcatalogservice -> productcatalogservice", "recommendationservice -> recommendationservice",
	"redis-cart -> redis-cart", "shippingservice -> shippingservice",
}

func TestOnlineBoutiqueManifests(t *testing.T) {
	path := testenv.SharedTestdata(t, "kubernetes/online-boutique.yaml")
	src := NewManifests(Options{Cluster: "boutique"}, path)
	batches, err := src.Collect(context.Background())
	require.NoError(t, err)
	testenv.CheckModel(t, batches...)
	require.Len(t, batches, 2, "the cluster, and the default namespace")
	assert.Nil(t, batches[0].Scope, "manifests describe no complete scope")
	assert.Equal(t, []discovery.CI{{Ref: "cluster", Class: "KubernetesCluster", Attributes: map[string]any{"name": "boutique"}}}, batches[0].CIs)
	assert.Equal(t, map[string]int{"ServiceAccount": 11}, src.Ignored)

	b := batches[1]
	names := map[string]string{} // ref -> name
	var deployments []string
	for _, ci := range b.CIs {
		names[ci.Ref] = ci.Attributes["name"].(string)
		if ci.Class == "KubernetesWorkload" {
			assert.Equal(t, "Deployment", ci.Attributes["kind"])
			assert.Equal(t, "default", ci.Attributes["namespace"])
			assert.Equal(t, "boutique", ci.Attributes["cluster"])
			assert.Equal(t, 1, ci.Attributes["replicas"], "replicas: 1 or the default")
			deployments = append(deployments, ci.Attributes["name"].(string))
		}
	}
	assert.ElementsMatch(t, boutiqueDeployments, deployments)

	edges := map[string][]string{}
	for _, r := range b.Relationships {
		if r.To.Ref == "" {
			assert.Equal(t, "RUNS_ON", r.Type)
			assert.Equal(t, discovery.ByIdentity("KubernetesCluster", map[string]any{"name": "boutique"}), r.To)
			edges[r.Type] = append(edges[r.Type], names[r.From.Ref])
			continue
		}
		edges[r.Type] = append(edges[r.Type], names[r.From.Ref]+" -> "+names[r.To.Ref])
	}
	assert.ElementsMatch(t, boutiqueDependencies, edges["DEPENDS_ON"])
	assert.ElementsMatch(t, boutiqueServices, edges["PROVIDED_BY"])
	assert.ElementsMatch(t, boutiqueDeployments, edges["RUNS_ON"])
	assert.Len(t, edges, 3, "no other relationship type: %v", edges)

	for _, ci := range b.CIs {
		if ci.Class != "Endpoint" {
			continue
		}
		name := ci.Attributes["name"].(string)
		assert.Equal(t, "k8s://boutique/default/service/"+name, ci.Attributes["url"])
		assert.Equal(t, name+".default.svc.cluster.local", ci.Attributes["host"])
		if strings.HasPrefix(name, "frontend") {
			assert.Equal(t, 80, ci.Attributes["port"])
			assert.Equal(t, "http", ci.Attributes["protocol"], "port name http")
		}
		if name == "productcatalogservice" {
			assert.Equal(t, 3550, ci.Attributes["port"])
			assert.Equal(t, "grpc", ci.Attributes["protocol"], "port name grpc")
		}
		if name == "redis-cart" {
			assert.Equal(t, 6379, ci.Attributes["port"])
			assert.Equal(t, "tcp", ci.Attributes["protocol"], "port name tcp-redis")
		}
	}
}
