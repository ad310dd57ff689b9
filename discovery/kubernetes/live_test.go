package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// liveCluster is a fake API server holding Online Boutique in namespace
// shop, and in namespace ops a monitor that calls the shop's frontend
// across namespaces, a CronJob with one of its Jobs, and a DaemonSet.
func liveCluster(t *testing.T) *fake.Clientset {
	t.Helper()
	f, err := os.Open(testenv.SharedTestdata(t, "kubernetes/online-boutique.yaml"))
	require.NoError(t, err)
	defer f.Close()
	objs, err := decodeManifests(f, "shop", map[string]int{})
	require.NoError(t, err)
	for _, o := range objs {
		m := o.(metav1.Object)
		m.SetUID(types.UID("uid-" + m.GetName()))
	}
	meta := func(ns, name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name)}
	}
	labels := map[string]string{"app": "x"}
	pod := func(env ...corev1.EnvVar) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "example/c", Env: env}},
		}}
	}
	objs = append(objs,
		&corev1.Namespace{ObjectMeta: meta("", "kube-system")},
		&corev1.Namespace{ObjectMeta: meta("", "shop")},
		&corev1.Namespace{ObjectMeta: meta("", "ops")},
		&corev1.Node{ObjectMeta: meta("", "node-a"), Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.31.2"}}},
		&corev1.Node{ObjectMeta: meta("", "node-b"), Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.31.1"}}},
		&appsv1.Deployment{ObjectMeta: meta("ops", "monitor"), Spec: appsv1.DeploymentSpec{
			Template: pod(corev1.EnvVar{Name: "TARGET_URL", Value: "http://frontend.shop.svc.cluster.local/"}),
		}},
		&appsv1.DaemonSet{ObjectMeta: meta("ops", "node-exporter"), Spec: appsv1.DaemonSetSpec{Template: pod()},
			Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 2}},
		&batchv1.CronJob{ObjectMeta: meta("ops", "nightly"), Spec: batchv1.CronJobSpec{Schedule: "0 1 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: pod()}}}},
		&batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "nightly-29100000", UID: "uid-run",
			OwnerReferences: []metav1.OwnerReference{{Kind: "CronJob", Name: "nightly", UID: "uid-nightly", APIVersion: "batch/v1"}}},
			Spec: batchv1.JobSpec{Template: pod()}},
	)
	client := fake.NewClientset(objs...)
	client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: "v1.31.2"}
	return client
}

func TestLive(t *testing.T) {
	client := liveCluster(t)
	batches, err := NewLive(client, "https://10.0.0.1:6443", Options{Cluster: "live"}).Collect(context.Background())
	require.NoError(t, err)
	testenv.CheckModel(t, batches...)

	var scopes []string
	for _, b := range batches {
		require.NotNil(t, b.Scope)
		scopes = append(scopes, b.Scope.Name)
	}
	require.Equal(t, []string{"k8s:live", "k8s:live/kube-system", "k8s:live/ops", "k8s:live/shop"}, scopes)

	assert.Equal(t, []discovery.CI{
		{Ref: "cluster", Class: "KubernetesCluster", Attributes: map[string]any{
			"name": "live", "cluster_uid": "uid-kube-system", "version": "v1.31.2", "api_endpoint": "https://10.0.0.1:6443",
		}},
		{Ref: "node:node-a", Class: "KubernetesNode", Attributes: map[string]any{"name": "node-a", "cluster": "live", "node_uid": "uid-node-a", "kubelet_version": "v1.31.2"}},
		{Ref: "node:node-b", Class: "KubernetesNode", Attributes: map[string]any{"name": "node-b", "cluster": "live", "node_uid": "uid-node-b", "kubelet_version": "v1.31.1"}},
	}, batches[0].CIs)
	assert.ElementsMatch(t, []string{"MEMBER_OF node:node-a -> cluster", "MEMBER_OF node:node-b -> cluster"}, edgeList(batches[0]))
	assert.Empty(t, batches[1].CIs, "nothing runs in kube-system here")

	cluster := "KubernetesCluster" + fmt.Sprint(map[string]any{"cluster_uid": "uid-kube-system", "name": "live"})
	frontend := "KubernetesWorkload" + fmt.Sprint(map[string]any{
		"workload_uid": "uid-frontend", "cluster": "live", "namespace": "shop", "kind": "Deployment", "name": "frontend",
	})
	ops := batches[2]
	assert.ElementsMatch(t, []string{
		"RUNS_ON workload:Deployment/monitor -> " + cluster,
		"RUNS_ON workload:DaemonSet/node-exporter -> " + cluster,
		"RUNS_ON workload:CronJob/nightly -> " + cluster,
		"DEPENDS_ON workload:Deployment/monitor -> " + frontend,
	}, edgeList(ops), "the CronJob's Job is not reported")
	for _, ci := range ops.CIs {
		if ci.Ref == "workload:DaemonSet/node-exporter" {
			assert.Equal(t, 2, ci.Attributes["replicas"])
			assert.Equal(t, "uid-node-exporter", ci.Attributes["workload_uid"])
		}
	}

	shop := batches[3]
	names := map[string]string{}
	for _, ci := range shop.CIs {
		names[ci.Ref] = ci.Attributes["name"].(string)
		if ci.Class == "KubernetesWorkload" {
			assert.Equal(t, "uid-"+ci.Attributes["name"].(string), ci.Attributes["workload_uid"])
		}
	}
	var deps []string
	for _, r := range shop.Relationships {
		if r.Type == "DEPENDS_ON" {
			deps = append(deps, names[r.From.Ref]+" -> "+names[r.To.Ref])
		}
	}
	assert.ElementsMatch(t, boutiqueDependencies, deps)
}

// A source limited to some namespaces sees no Service of the others: a
// dependency on them is not reported.
func TestLiveNamespaces(t *testing.T) {
	batches, err := NewLive(liveCluster(t), "", Options{Cluster: "live"}, "ops").Collect(context.Background())
	require.NoError(t, err)
	require.Len(t, batches, 2)
	assert.Equal(t, "k8s:live/ops", batches[1].Scope.Name)
	for _, e := range edgeList(batches[1]) {
		assert.NotContains(t, e, "DEPENDS_ON")
	}
}

// Without the right to list nodes the cluster's batch holds none, and
// claims no scope, lest the server retire the nodes it knows.
func TestLiveWithoutNodes(t *testing.T) {
	client := liveCluster(t)
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New("RBAC"))
	})
	batches, err := NewLive(client, "", Options{Cluster: "live"}).Collect(context.Background())
	require.NoError(t, err)
	assert.Nil(t, batches[0].Scope)
	assert.Len(t, batches[0].CIs, 1, "the cluster alone")
	assert.Equal(t, "k8s:live/shop", batches[3].Scope.Name, "namespaces keep their scopes")
}

func TestLiveErrors(t *testing.T) {
	client := fake.NewClientset()
	_, err := NewLive(client, "", Options{Cluster: "c"}, "missing").Collect(context.Background())
	require.ErrorContains(t, err, "namespace missing")

	_, err = NewLive(client, "", Options{}).Collect(context.Background())
	require.ErrorContains(t, err, "Options.Cluster is required")

	_, err = NewLiveFromKubeconfig(t.TempDir()+"/none", "", Options{Cluster: "c"})
	require.Error(t, err)
}

func TestLiveFromKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters:
- name: a
  cluster: {server: "https://a.example:6443"}
- name: b
  cluster: {server: "https://b.example:6443"}
users:
- name: u
  user: {token: "t"}
contexts:
- name: ctx-a
  context: {cluster: a, user: u}
- name: ctx-b
  context: {cluster: b, user: u}
current-context: ctx-a
`), 0o600))
	for _, tc := range []struct{ context, host string }{{"", "https://a.example:6443"}, {"ctx-b", "https://b.example:6443"}} {
		live, err := NewLiveFromKubeconfig(path, tc.context, Options{Cluster: "c"})
		require.NoError(t, err)
		assert.Equal(t, tc.host, live.host)
	}
	_, err := NewLiveFromKubeconfig(path, "ctx-none", Options{Cluster: "c"})
	require.ErrorContains(t, err, "kubeconfig")
}
