// Package kubernetes reports a Kubernetes cluster's workloads and the
// dependencies between them, from manifest files (Manifests: multi-document
// YAML or JSON, decoded with client-go's scheme) or from a live cluster
// (Live: through client-go). Both map the same objects the same way.
//
// Mapping:
//   - The cluster is a KubernetesCluster named by Options.Cluster; live, it
//     also has cluster_uid (the kube-system namespace's UID, the model's
//     stable cluster identity), version and api_endpoint. Live nodes are
//     KubernetesNodes MEMBER_OF the cluster.
//   - Each Deployment, StatefulSet, DaemonSet, Job and CronJob is a
//     KubernetesWorkload (cluster, namespace, kind, replicas; workload_uid
//     when live) that RUNS_ON the cluster. A Job a CronJob started, and a
//     bare Pod or ReplicaSet, is not reported: they come and go under the
//     workload that owns them. A Deployment or StatefulSet without replicas
//     has the API's default, 1; a DaemonSet's replicas are the pods it wants
//     (live only).
//   - Each Service is an Endpoint: the network endpoint through which
//     workloads are consumed, not an instance of anything. Its identity is
//     the url "k8s://<cluster>/<namespace>/service/<name>", since the
//     in-cluster DNS name (host: <name>.<namespace>.svc.<cluster domain>) is
//     the same in every cluster; port and protocol are its first port's
//     (protocol from appProtocol or the port's name: grpc, http, https,
//     else tcp or udp). The Endpoint is PROVIDED_BY each workload whose pod
//     template its selector matches.
//   - Each Ingress is an Endpoint too (url "k8s://<cluster>/<namespace>/
//     ingress/<name>", host its first rule's host, https when it has TLS)
//     that DEPENDS_ON the Endpoint of each Service its rules and default
//     backend send traffic to.
//   - Service-to-service dependencies: a workload DEPENDS_ON the workloads
//     behind each Service its containers (init containers included) name in
//     an environment variable: "cartservice:7070", "redis-cart",
//     "http://svc.ns.svc.cluster.local/api", "svc.ns:80", lists of such
//     separated by commas, semicolons or spaces. Values come from env
//     (value, or a ConfigMap key through valueFrom) and envFrom ConfigMaps.
//     A name without a port, scheme or dot counts only in a variable whose
//     name says it holds an address (…_HOST, …_ADDR, …_URL, …_SERVICE…).
//     Only names of Services the input holds count, so a manifest naming a
//     service it does not deploy adds nothing; a named Service that selects
//     no workload (ExternalName, no selector) is depended on as an Endpoint.
//   - Namespaces have no class in model.yaml. With Options.ProposedClasses
//     each is a KubernetesNamespace (discovery/model-proposal.yaml) that the
//     cluster CONTAINS and that CONTAINS its workloads and Endpoints.
//
// Batches: the first holds the cluster (and live, its nodes); then one per
// namespace. Live batches are scoped "k8s:<cluster>" and
// "k8s:<cluster>/<namespace>": each is the complete view of its scope.
// Manifest batches have no scope, as files need not hold all of a namespace.
// A link to a CI of another batch (the cluster, a workload of another
// namespace) names it by identity.
package kubernetes
