package kubernetes

import (
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// target is one dependency of a workload: a Service, and one workload
// behind it (nil when the Service selects none).
type target struct {
	namespace, service string
	workload           *workload
}

// addressVar matches the names of environment variables that hold an
// address, where a bare word ("redis-cart") is taken for a host name.
var addressVar = regexp.MustCompile(`(?i)(^|_)(HOST|HOSTNAME|HOSTS|ADDR|ADDRESS|ADDRS|URL|URI|ENDPOINT|SERVER|SERVERS|SERVICE|SVC|DSN)$`)

// dnsName is the shape of a host name (RFC 1123 labels).
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// dependencies lists what the workload's environment names, in a stable
// order: for each Service named, the workloads it selects, or the Service
// alone when it selects none.
func (m *mapper) dependencies(w *workload) []target {
	named := map[[2]string]bool{}
	for _, v := range m.environment(w) {
		for _, host := range hosts(v.name, v.value) {
			if ns, svc, ok := m.service(host, w.namespace); ok {
				named[[2]string{ns, svc}] = true
			}
		}
	}
	keys := make([][2]string, 0, len(named))
	for k := range named {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0] < keys[j][0] || keys[i][0] == keys[j][0] && keys[i][1] < keys[j][1]
	})
	var out []target
	for _, k := range keys {
		s := m.services[k[0]][k[1]]
		selected := m.selected(s)
		if len(selected) == 0 {
			out = append(out, target{namespace: k[0], service: k[1]})
		}
		for _, sw := range selected {
			out = append(out, target{namespace: k[0], service: k[1], workload: sw})
		}
	}
	return out
}

type envVar struct{ name, value string }

// environment returns the variables of every container and init container
// of the workload: literal values, ConfigMap keys named by valueFrom, and
// whole ConfigMaps named by envFrom (with their prefix), when the input
// holds those ConfigMaps.
func (m *mapper) environment(w *workload) []envVar {
	var out []envVar
	containers := append(append([]corev1.Container(nil), w.template.Spec.InitContainers...), w.template.Spec.Containers...)
	for _, c := range containers {
		for _, from := range c.EnvFrom {
			if from.ConfigMapRef == nil {
				continue
			}
			cm, ok := m.objs.configMaps[w.namespace+"/"+from.ConfigMapRef.Name]
			if !ok {
				continue
			}
			for k, v := range cm.Data {
				out = append(out, envVar{from.Prefix + k, v})
			}
		}
		for _, e := range c.Env {
			switch {
			case e.Value != "":
				out = append(out, envVar{e.Name, e.Value})
			case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
				ref := e.ValueFrom.ConfigMapKeyRef
				if cm, ok := m.objs.configMaps[w.namespace+"/"+ref.Name]; ok {
					out = append(out, envVar{e.Name, cm.Data[ref.Key]})
				}
			}
		}
	}
	return out
}

// hosts returns the host names a variable's value names: the host of each
// URL or host:port in it, and a bare word when the variable's name says it
// holds an address.
func hosts(name, value string) []string {
	var out []string
	for _, tok := range strings.FieldsFunc(value, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n'
	}) {
		host, explicit := "", false
		if strings.Contains(tok, "://") {
			u, err := url.Parse(tok)
			if err != nil {
				continue
			}
			host, explicit = u.Hostname(), true
		} else {
			if i := strings.LastIndex(tok, "@"); i >= 0 {
				tok = tok[i+1:] // user:password@host:port
			}
			if h, _, err := net.SplitHostPort(tok); err == nil {
				host, explicit = h, true
			} else {
				host = tok
			}
		}
		host = strings.TrimSuffix(strings.ToLower(host), ".")
		if !dnsName.MatchString(host) || net.ParseIP(host) != nil {
			continue
		}
		if !explicit && !strings.Contains(host, ".") && !addressVar.MatchString(name) {
			continue
		}
		out = append(out, host)
	}
	return out
}

// service resolves a host name, as a pod in namespace ns would, to a
// Service of the input: "svc", "svc.ns", "svc.ns.svc" and
// "svc.ns.svc.<cluster domain>".
func (m *mapper) service(host, ns string) (svcNS, svc string, ok bool) {
	parts := strings.Split(host, ".")
	switch {
	case len(parts) == 1:
		svcNS, svc = ns, parts[0]
	case len(parts) == 2:
		svcNS, svc = parts[1], parts[0]
	case parts[2] == "svc" && (len(parts) == 3 || strings.Join(parts[3:], ".") == m.opts.ClusterDomain):
		svcNS, svc = parts[1], parts[0]
	default:
		return "", "", false
	}
	_, ok = m.services[svcNS][svc]
	return svcNS, svc, ok
}
