package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// edgeList renders a batch's relationships as "TYPE from -> to", naming a
// batch CI by its ref and another by its class and identity.
func edgeList(b discovery.Batch) []string {
	end := func(e discovery.End) string {
		if e.Ref != "" {
			return e.Ref
		}
		return fmt.Sprintf("%s%v", e.Class, e.Identity)
	}
	var out []string
	for _, r := range b.Relationships {
		out = append(out, r.Type+" "+end(r.From)+" -> "+end(r.To))
	}
	return out
}

// The expectations are read off testdata/shop.yaml.
func TestShopManifests(t *testing.T) {
	src := NewManifests(Options{Cluster: "prod"}, "testdata/shop.yaml")
	batches, err := src.Collect(context.Background())
	require.NoError(t, err)
	testenv.CheckModel(t, batches...)
	assert.Equal(t, map[string]int{"Certificate": 1}, src.Ignored)
	require.Len(t, batches, 3, "the cluster, data, shop")

	cluster := "KubernetesCluster" + fmt.Sprint(map[string]any{"name": "prod"})
	postgres := "KubernetesWorkload" + fmt.Sprint(map[string]any{"cluster": "prod", "namespace": "data", "kind": "StatefulSet", "name": "postgres"})

	data := batches[1]
	assert.ElementsMatch(t, []string{
		"RUNS_ON workload:StatefulSet/postgres -> " + cluster,
		"PROVIDED_BY service:postgres -> workload:StatefulSet/postgres",
	}, edgeList(data))

	shop := batches[2]
	assert.ElementsMatch(t, []string{
		"RUNS_ON workload:Deployment/web -> " + cluster,
		"RUNS_ON workload:Deployment/api -> " + cluster,
		"RUNS_ON workload:Deployment/payments -> " + cluster,
		"RUNS_ON workload:StatefulSet/cache -> " + cluster,
		"RUNS_ON workload:DaemonSet/log-agent -> " + cluster,
		"RUNS_ON workload:CronJob/report -> " + cluster,
		"RUNS_ON workload:Job/migrate -> " + cluster,
		"PROVIDED_BY service:web -> workload:Deployment/web",
		"PROVIDED_BY service:api -> workload:Deployment/api",
		"PROVIDED_BY service:cache -> workload:StatefulSet/cache",
		"PROVIDED_BY service:payments -> workload:Deployment/payments",
		"DEPENDS_ON ingress:storefront -> service:web",
		"DEPENDS_ON ingress:storefront -> service:api",
		// API_URL, a URL with the full service name
		"DEPENDS_ON workload:Deployment/web -> workload:Deployment/api",
		// CACHE_ADDR from the ConfigMap's data (envFrom)
		"DEPENDS_ON workload:Deployment/web -> workload:StatefulSet/cache",
		// DB_HOST, service.namespace: a workload of another batch, by identity
		"DEPENDS_ON workload:Deployment/web -> " + postgres,
		// MAIL_SERVER, a ConfigMap key, names an ExternalName service: its Endpoint
		"DEPENDS_ON workload:Deployment/web -> service:smtp-relay",
		// not payments: PAYMENTS and GREETING hold a bare word, but no address by their names
		"DEPENDS_ON workload:CronJob/report -> " + postgres,
		"DEPENDS_ON workload:Job/migrate -> " + postgres,
	}, edgeList(shop))

	attrs := map[string]map[string]any{}
	for _, ci := range shop.CIs {
		attrs[ci.Ref] = ci.Attributes
	}
	assert.Equal(t, map[string]any{"name": "api", "cluster": "prod", "namespace": "shop", "kind": "Deployment", "replicas": 3}, attrs["workload:Deployment/api"])
	assert.Equal(t, map[string]any{"name": "payments", "cluster": "prod", "namespace": "shop", "kind": "Deployment", "replicas": 1}, attrs["workload:Deployment/payments"])
	assert.Equal(t, map[string]any{"name": "log-agent", "cluster": "prod", "namespace": "shop", "kind": "DaemonSet"}, attrs["workload:DaemonSet/log-agent"])
	assert.Equal(t, map[string]any{
		"name": "payments", "url": "k8s://prod/shop/service/payments", "host": "payments.shop.svc.cluster.local",
		"port": 9000, "protocol": "grpc", "tags": []string{"kubernetes:service", "service_type:ClusterIP"},
	}, attrs["service:payments"])
	assert.Equal(t, map[string]any{
		"name": "smtp-relay", "url": "k8s://prod/shop/service/smtp-relay", "host": "smtp-relay.shop.svc.cluster.local",
		"description": "ExternalName: smtp.example.com", "tags": []string{"kubernetes:service", "service_type:ExternalName"},
	}, attrs["service:smtp-relay"])
	assert.Equal(t, map[string]any{
		"name": "storefront", "url": "k8s://prod/shop/ingress/storefront", "host": "shop.example.com",
		"port": 443, "protocol": "https", "tags": []string{"kubernetes:ingress"},
	}, attrs["ingress:storefront"])
}

func TestShopManifestsWithNamespaces(t *testing.T) {
	batches, err := NewManifests(Options{Cluster: "prod", ProposedClasses: true}, "testdata/shop.yaml").Collect(context.Background())
	require.NoError(t, err)
	testenv.CheckModel(t, batches...)
	require.Len(t, batches, 3)
	data := batches[1]
	assert.Equal(t, discovery.CI{Ref: "namespace", Class: "KubernetesNamespace", Attributes: map[string]any{"name": "data", "cluster": "prod"}}, data.CIs[0])
	assert.Subset(t, edgeList(data), []string{
		"CONTAINS KubernetesCluster" + fmt.Sprint(map[string]any{"name": "prod"}) + " -> namespace",
		"CONTAINS namespace -> workload:StatefulSet/postgres",
		"CONTAINS namespace -> service:postgres",
	})
	contained := 0
	for _, e := range edgeList(batches[2]) {
		if strings.HasPrefix(e, "CONTAINS namespace -> ") {
			contained++
		}
	}
	assert.Equal(t, 7+5+1, contained, "shop's workloads, services and ingress")
}

func TestManifestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("apiVersion: apps/v1\nkind: Deployment\nspec: [not, a, map]\n"), 0o600))
	for _, tc := range []struct {
		name  string
		opts  Options
		paths []string
		want  string
	}{
		{"no cluster name", Options{}, []string{"testdata/shop.yaml"}, "Options.Cluster is required"},
		{"missing file", Options{Cluster: "c"}, []string{filepath.Join(dir, "none.yaml")}, "no such file"},
		{"undecodable object", Options{Cluster: "c"}, []string{bad}, "bad.yaml: document 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewManifests(tc.opts, tc.paths...).Collect(context.Background())
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestHosts(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
	}{
		{"FOO_ADDR", "cartservice:7070", []string{"cartservice"}},
		{"FOO", "cartservice:7070", []string{"cartservice"}},
		{"REDIS_HOST", "redis-cart", []string{"redis-cart"}},
		{"APP_NAME", "redis-cart", nil},
		{"BROKERS", "kafka-0.kafka:9092,kafka-1.kafka:9092", []string{"kafka-0.kafka", "kafka-1.kafka"}},
		{"DSN", "postgres://u:p@db.data.svc.cluster.local:5432/x", []string{"db.data.svc.cluster.local"}},
		{"SERVER_URL", "https://API.example.com./v1", []string{"api.example.com"}},
		{"UPSTREAM_ADDR", "10.0.0.7:80", nil},
		{"PORT", "8080", nil},
		{"GREETING", "hello world", nil},
		{"MEMCACHED_SERVERS", "mc-a:11211 mc-b:11211", []string{"mc-a", "mc-b"}},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			assert.Equal(t, tc.want, hosts(tc.name, tc.value))
		})
	}
}
