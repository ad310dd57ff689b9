package kubernetes

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skein-cmdb/skein/discovery"
)

// SourceName is the discovery source name of the batches.
const SourceName = "kubernetes"

// Options tune the mapping; Cluster is required.
type Options struct {
	// Cluster names the cluster (KubernetesCluster.name, and the cluster
	// attribute of its workloads).
	Cluster string
	// Namespace is the namespace of manifest objects that name none;
	// "default" when empty.
	Namespace string
	// ClusterDomain is the cluster's DNS domain; "cluster.local" when empty.
	ClusterDomain string
	// ProposedClasses reports namespaces as the KubernetesNamespace class of
	// discovery/model-proposal.yaml.
	ProposedClasses bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Cluster == "" {
		return o, fmt.Errorf("kubernetes: Options.Cluster is required")
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	return o, nil
}

// workload is a Deployment, StatefulSet, DaemonSet, Job or CronJob reduced
// to what the mapping reads.
type workload struct {
	kind, namespace, name, uid string
	replicas                   *int32
	template                   corev1.PodTemplateSpec
}

// objects are what either input found.
type objects struct {
	clusterUID, version, apiEndpoint string
	namespaces                       map[string]string // name -> uid ("" from manifests)
	nodes                            []corev1.Node
	workloads                        []workload
	services                         []corev1.Service
	ingresses                        []networkingv1.Ingress
	configMaps                       map[string]corev1.ConfigMap // "<ns>/<name>"
}

func newObjects() *objects {
	return &objects{namespaces: map[string]string{}, configMaps: map[string]corev1.ConfigMap{}}
}

// add files a decoded object; it reports false for kinds the mapping does
// not read.
func (o *objects) add(obj any) bool {
	switch x := obj.(type) {
	case *corev1.Namespace:
		o.namespaces[x.Name] = string(x.UID)
	case *corev1.Node:
		o.nodes = append(o.nodes, *x)
	case *appsv1.Deployment:
		o.addWorkload("Deployment", x.Namespace, x.Name, string(x.UID), orOne(x.Spec.Replicas), x.Spec.Template)
	case *appsv1.StatefulSet:
		o.addWorkload("StatefulSet", x.Namespace, x.Name, string(x.UID), orOne(x.Spec.Replicas), x.Spec.Template)
	case *appsv1.DaemonSet:
		var r *int32
		if x.Status.DesiredNumberScheduled > 0 {
			r = &x.Status.DesiredNumberScheduled
		}
		o.addWorkload("DaemonSet", x.Namespace, x.Name, string(x.UID), r, x.Spec.Template)
	case *batchv1.Job:
		for _, ref := range x.OwnerReferences {
			if ref.Kind == "CronJob" {
				return true // one run of a CronJob
			}
		}
		o.addWorkload("Job", x.Namespace, x.Name, string(x.UID), x.Spec.Parallelism, x.Spec.Template)
	case *batchv1.CronJob:
		o.addWorkload("CronJob", x.Namespace, x.Name, string(x.UID), nil, x.Spec.JobTemplate.Spec.Template)
	case *corev1.Service:
		o.services = append(o.services, *x)
		o.seeNamespace(x.Namespace)
	case *networkingv1.Ingress:
		o.ingresses = append(o.ingresses, *x)
		o.seeNamespace(x.Namespace)
	case *corev1.ConfigMap:
		o.configMaps[x.Namespace+"/"+x.Name] = *x
	default:
		return false
	}
	return true
}

func (o *objects) addWorkload(kind, ns, name, uid string, replicas *int32, tpl corev1.PodTemplateSpec) {
	o.workloads = append(o.workloads, workload{kind: kind, namespace: ns, name: name, uid: uid, replicas: replicas, template: tpl})
	o.seeNamespace(ns)
}

// seeNamespace notes a namespace that objects live in, its UID unknown
// until its Namespace object comes.
func (o *objects) seeNamespace(ns string) {
	if _, ok := o.namespaces[ns]; !ok {
		o.namespaces[ns] = ""
	}
}

// orOne is a replica count as the API defaults it.
func orOne(r *int32) *int32 {
	if r == nil {
		one := int32(1)
		return &one
	}
	return r
}

// mapper builds the batches of one collection.
type mapper struct {
	opts   Options
	objs   *objects
	scoped bool
	// byNamespace: the services of each namespace by name.
	services map[string]map[string]*corev1.Service
}

func (m *mapper) clusterEnd() discovery.End {
	return discovery.ByIdentity("KubernetesCluster", map[string]any{"cluster_uid": m.objs.clusterUID, "name": m.opts.Cluster})
}

func workloadRef(w *workload) string { return "workload:" + w.kind + "/" + w.name }
func serviceRef(name string) string  { return "service:" + name }

func (m *mapper) serviceURL(ns, name string) string {
	return "k8s://" + m.opts.Cluster + "/" + ns + "/service/" + name
}

// batches maps the objects: the cluster's batch, then one per namespace.
func (m *mapper) batches() []discovery.Batch {
	m.services = map[string]map[string]*corev1.Service{}
	for i := range m.objs.services {
		s := &m.objs.services[i]
		if m.services[s.Namespace] == nil {
			m.services[s.Namespace] = map[string]*corev1.Service{}
		}
		m.services[s.Namespace][s.Name] = s
	}
	out := []discovery.Batch{m.clusterBatch()}
	namespaces := make([]string, 0, len(m.objs.namespaces))
	for ns := range m.objs.namespaces {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	for _, ns := range namespaces {
		out = append(out, m.namespaceBatch(ns))
	}
	return out
}

func (m *mapper) scope(name string) *discovery.Scope {
	if !m.scoped {
		return nil
	}
	return &discovery.Scope{Name: name}
}

func (m *mapper) clusterBatch() discovery.Batch {
	b := discovery.Batch{Source: SourceName, Scope: m.scope("k8s:" + m.opts.Cluster)}
	b.AddCI(discovery.CI{Ref: "cluster", Class: "KubernetesCluster", Attributes: map[string]any{
		"name": m.opts.Cluster, "cluster_uid": m.objs.clusterUID, "version": m.objs.version, "api_endpoint": m.objs.apiEndpoint,
	}})
	nodes := slices.Clone(m.objs.nodes)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	for _, n := range nodes {
		ref := b.AddCI(discovery.CI{Ref: "node:" + n.Name, Class: "KubernetesNode", Attributes: map[string]any{
			"name": n.Name, "cluster": m.opts.Cluster, "node_uid": string(n.UID), "kubelet_version": n.Status.NodeInfo.KubeletVersion,
		}})
		b.Relate("MEMBER_OF", discovery.ByRef(ref), discovery.ByRef("cluster"))
	}
	return b
}

func (m *mapper) namespaceBatch(ns string) discovery.Batch {
	b := discovery.Batch{Source: SourceName, Scope: m.scope("k8s:" + m.opts.Cluster + "/" + ns)}
	if m.opts.ProposedClasses {
		b.AddCI(discovery.CI{Ref: "namespace", Class: "KubernetesNamespace", Attributes: map[string]any{
			"name": ns, "cluster": m.opts.Cluster, "namespace_uid": m.objs.namespaces[ns],
		}})
		b.Relate("CONTAINS", m.clusterEnd(), discovery.ByRef("namespace"))
	}
	contains := func(ref string) {
		if m.opts.ProposedClasses {
			b.Relate("CONTAINS", discovery.ByRef("namespace"), discovery.ByRef(ref))
		}
	}
	var workloads []*workload
	for i := range m.objs.workloads {
		if w := &m.objs.workloads[i]; w.namespace == ns {
			workloads = append(workloads, w)
		}
	}
	sort.Slice(workloads, func(i, j int) bool { return workloadRef(workloads[i]) < workloadRef(workloads[j]) })
	for _, w := range workloads {
		attrs := map[string]any{
			"name": w.name, "cluster": m.opts.Cluster, "namespace": ns, "kind": w.kind, "workload_uid": w.uid,
		}
		if w.replicas != nil {
			attrs["replicas"] = int(*w.replicas)
		}
		ref := b.AddCI(discovery.CI{Ref: workloadRef(w), Class: "KubernetesWorkload", Attributes: attrs})
		b.Relate("RUNS_ON", discovery.ByRef(ref), m.clusterEnd())
		contains(ref)
	}

	services := m.services[ns]
	for _, name := range sortedKeys(services) {
		s := services[name]
		ref := b.AddCI(discovery.CI{Ref: serviceRef(name), Class: "Endpoint", Attributes: m.serviceAttributes(s)})
		contains(ref)
		for _, w := range m.selected(s) {
			b.Relate("PROVIDED_BY", discovery.ByRef(ref), discovery.ByRef(workloadRef(w)))
		}
	}

	ingresses := slices.Clone(m.objs.ingresses)
	sort.Slice(ingresses, func(i, j int) bool { return ingresses[i].Name < ingresses[j].Name })
	for _, ing := range ingresses {
		if ing.Namespace != ns {
			continue
		}
		ref := b.AddCI(discovery.CI{Ref: "ingress:" + ing.Name, Class: "Endpoint", Attributes: m.ingressAttributes(&ing)})
		contains(ref)
		for _, svc := range ingressBackends(&ing) {
			b.Relate("DEPENDS_ON", discovery.ByRef(ref), m.serviceEnd(ns, ns, svc))
		}
	}

	for _, w := range workloads {
		for _, target := range m.dependencies(w) {
			if target.workload == w {
				continue
			}
			to := m.serviceEnd(ns, target.namespace, target.service)
			if target.workload != nil {
				to = m.workloadEnd(ns, target.workload)
			}
			b.Relate("DEPENDS_ON", discovery.ByRef(workloadRef(w)), to)
		}
	}
	return b
}

// serviceEnd names a Service's Endpoint: by ref in its own namespace's
// batch when the input holds it, else by its url.
func (m *mapper) serviceEnd(batchNS, svcNS, name string) discovery.End {
	if svcNS == batchNS && m.services[svcNS][name] != nil {
		return discovery.ByRef(serviceRef(name))
	}
	return discovery.ByIdentity("Endpoint", map[string]any{"url": m.serviceURL(svcNS, name)})
}

func (m *mapper) workloadEnd(batchNS string, w *workload) discovery.End {
	if w.namespace == batchNS {
		return discovery.ByRef(workloadRef(w))
	}
	return discovery.ByIdentity("KubernetesWorkload", map[string]any{
		"workload_uid": w.uid, "cluster": m.opts.Cluster, "namespace": w.namespace, "kind": w.kind, "name": w.name,
	})
}

func (m *mapper) serviceAttributes(s *corev1.Service) map[string]any {
	attrs := map[string]any{
		"name": s.Name, "url": m.serviceURL(s.Namespace, s.Name),
		"host": s.Name + "." + s.Namespace + ".svc." + m.opts.ClusterDomain,
		"tags": []string{"kubernetes:service", "service_type:" + string(orDefault(s.Spec.Type, corev1.ServiceTypeClusterIP))},
	}
	if len(s.Spec.Ports) > 0 {
		p := s.Spec.Ports[0]
		attrs["port"] = int(p.Port)
		attrs["protocol"] = portProtocol(p)
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		attrs["description"] = "ExternalName: " + s.Spec.ExternalName
	}
	return attrs
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// portProtocol maps a Service port to the Endpoint protocol enum.
func portProtocol(p corev1.ServicePort) string {
	name := strings.ToLower(p.Name)
	if p.AppProtocol != nil {
		name = strings.ToLower(*p.AppProtocol)
	}
	for _, proto := range []string{"grpc", "https", "http", "amqp"} {
		if name == proto || strings.HasPrefix(name, proto+"-") || strings.HasSuffix(name, "-"+proto) {
			return proto
		}
	}
	if p.Protocol == corev1.ProtocolUDP {
		return "udp"
	}
	return "tcp"
}

func (m *mapper) ingressAttributes(ing *networkingv1.Ingress) map[string]any {
	attrs := map[string]any{
		"name": ing.Name, "url": "k8s://" + m.opts.Cluster + "/" + ing.Namespace + "/ingress/" + ing.Name,
		"protocol": "http", "port": 80, "tags": []string{"kubernetes:ingress"},
	}
	if len(ing.Spec.TLS) > 0 {
		attrs["protocol"], attrs["port"] = "https", 443
	}
	for _, r := range ing.Spec.Rules {
		if r.Host != "" {
			attrs["host"] = r.Host
			break
		}
	}
	return attrs
}

// ingressBackends lists the Services an Ingress sends traffic to, sorted.
func ingressBackends(ing *networkingv1.Ingress) []string {
	set := map[string]bool{}
	if d := ing.Spec.DefaultBackend; d != nil && d.Service != nil {
		set[d.Service.Name] = true
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			if p.Backend.Service != nil {
				set[p.Backend.Service.Name] = true
			}
		}
	}
	return sortedKeys(set)
}

// selected returns the workloads of the Service's namespace whose pod
// template its selector matches; none for a Service without a selector.
func (m *mapper) selected(s *corev1.Service) []*workload {
	if len(s.Spec.Selector) == 0 {
		return nil
	}
	sel := labels.SelectorFromSet(s.Spec.Selector)
	var out []*workload
	for i := range m.objs.workloads {
		w := &m.objs.workloads[i]
		if w.namespace == s.Namespace && sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
