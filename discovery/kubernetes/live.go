package kubernetes

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skein-cmdb/skein/discovery"
)

// Live reads a running cluster through client-go. It needs list access to
// namespaces, nodes, the workload kinds, services, ingresses and configmaps
// (a read-only ClusterRole). Nodes and the kube-system namespace are
// optional: where they cannot be read, the cluster has no cluster_uid, and
// its batch no nodes and no scope.
type Live struct {
	client     kubernetes.Interface
	opts       Options
	host       string
	namespaces []string
}

var _ discovery.Source = (*Live)(nil)

// NewLive returns a source reading the cluster client talks to, in the
// given namespaces (all of them when none is given). apiEndpoint, when not
// empty, is reported as the cluster's api_endpoint.
func NewLive(client kubernetes.Interface, apiEndpoint string, opts Options, namespaces ...string) *Live {
	return &Live{client: client, host: apiEndpoint, opts: opts, namespaces: namespaces}
}

// NewLiveFromConfig returns a source reading the cluster cfg points to.
func NewLiveFromConfig(cfg *rest.Config, opts Options, namespaces ...string) (*Live, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: client: %w", err)
	}
	return NewLive(client, cfg.Host, opts, namespaces...), nil
}

// NewLiveFromKubeconfig returns a source reading the cluster of a
// kubeconfig file's context (its current context when contextName is
// empty; the usual KUBECONFIG rules when path is empty).
func NewLiveFromKubeconfig(path, contextName string, opts Options, namespaces ...string) (*Live, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: contextName}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: kubeconfig: %w", err)
	}
	return NewLiveFromConfig(cfg, opts, namespaces...)
}

// Name returns "kubernetes".
func (s *Live) Name() string { return SourceName }

// Collect lists the cluster's objects and maps them.
func (s *Live) Collect(ctx context.Context) ([]discovery.Batch, error) {
	opts, err := s.opts.withDefaults()
	if err != nil {
		return nil, err
	}
	objs := newObjects()
	objs.apiEndpoint = s.host
	if v, err := s.client.Discovery().ServerVersion(); err == nil {
		objs.version = v.GitVersion
	}
	if ns, err := s.client.CoreV1().Namespaces().Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{}); err == nil {
		objs.clusterUID = string(ns.UID)
	}
	nodes, err := s.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err == nil {
		for i := range nodes.Items {
			objs.add(&nodes.Items[i])
		}
	}
	nodesListed := err == nil
	namespaces := s.namespaces
	if len(namespaces) == 0 {
		list, err := s.client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("kubernetes: list namespaces: %w", err)
		}
		for i := range list.Items {
			objs.add(&list.Items[i])
			namespaces = append(namespaces, list.Items[i].Name)
		}
	}
	for _, ns := range namespaces {
		if err := s.collectNamespace(ctx, ns, objs); err != nil {
			return nil, fmt.Errorf("kubernetes: namespace %s: %w", ns, err)
		}
	}
	m := &mapper{opts: opts, objs: objs, scoped: true}
	batches := m.batches()
	if !nodesListed {
		// Without the nodes, the cluster's batch is no complete view of it:
		// a scope would tell the server that every node is gone.
		batches[0].Scope = nil
	}
	return batches, nil
}

// collectNamespace lists one namespace's objects into objs.
func (s *Live) collectNamespace(ctx context.Context, ns string, objs *objects) error {
	if _, ok := objs.namespaces[ns]; !ok {
		n, err := s.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		objs.add(n)
	}
	all := metav1.ListOptions{}
	apps, batch, core := s.client.AppsV1(), s.client.BatchV1(), s.client.CoreV1()
	for _, l := range []struct {
		what string
		list func() error
	}{
		{"deployments", func() error { return addList(objs)(apps.Deployments(ns).List(ctx, all)) }},
		{"statefulsets", func() error { return addList(objs)(apps.StatefulSets(ns).List(ctx, all)) }},
		{"daemonsets", func() error { return addList(objs)(apps.DaemonSets(ns).List(ctx, all)) }},
		{"jobs", func() error { return addList(objs)(batch.Jobs(ns).List(ctx, all)) }},
		{"cronjobs", func() error { return addList(objs)(batch.CronJobs(ns).List(ctx, all)) }},
		{"services", func() error { return addList(objs)(core.Services(ns).List(ctx, all)) }},
		{"configmaps", func() error { return addList(objs)(core.ConfigMaps(ns).List(ctx, all)) }},
		{"ingresses", func() error { return addList(objs)(s.client.NetworkingV1().Ingresses(ns).List(ctx, all)) }},
	} {
		if err := l.list(); err != nil {
			return fmt.Errorf("list %s: %w", l.what, err)
		}
	}
	return nil
}

// addList returns a function that files each item of a typed list (what
// a List call returns) into objs, or passes on the call's error.
func addList(objs *objects) func(list runtime.Object, err error) error {
	return func(list runtime.Object, err error) error {
		if err != nil {
			return err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		for _, item := range items {
			objs.add(item)
		}
		return nil
	}
}
