package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	nmapxml "github.com/Ullaakut/nmap/v3"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/discovery/ansible"
	"github.com/skein-cmdb/skein/discovery/host"
	"github.com/skein-cmdb/skein/discovery/kubernetes"
	"github.com/skein-cmdb/skein/discovery/nmap"
)

// Build returns the discovery source the entry configures. When Name is
// set, the source's batches report as Name. Building a kubernetes_live
// source reads its kubeconfig; nothing else is read or run until Collect.
func (s SourceConfig) Build() (discovery.Source, error) {
	var src discovery.Source
	switch s.Type {
	case TypeAnsible:
		src = ansible.New(s.Dir, ansible.Options{ProposedClasses: s.ProposedClasses})
	case TypeNmap:
		src = nmap.New(s.Report, nmap.Options{Domain: s.Domain, MinOSAccuracy: s.MinOSAccuracy})
	case TypeNmapScan:
		opts := []nmapxml.Option{nmapxml.WithTargets(s.Targets...)}
		if s.Ports != "" {
			opts = append(opts, nmapxml.WithPorts(s.Ports))
		}
		if s.ServiceInfo {
			opts = append(opts, nmapxml.WithServiceInfo())
		}
		if s.OSDetection {
			opts = append(opts, nmapxml.WithOSDetection())
		}
		if s.NmapPath != "" {
			opts = append(opts, nmapxml.WithBinaryPath(s.NmapPath))
		}
		src = nmap.NewScan(nmap.Options{Domain: s.Domain, MinOSAccuracy: s.MinOSAccuracy}, opts...)
	case TypeKubernetes:
		src = &manifests{paths: s.Paths, opts: s.kubernetesOptions()}
	case TypeKubernetesLive:
		live, err := kubernetes.NewLiveFromKubeconfig(s.Kubeconfig, s.Context, s.kubernetesOptions(), s.Namespaces...)
		if err != nil {
			return nil, fmt.Errorf("build %s source: %w", s.Type, err)
		}
		src = live
	case TypeHost:
		src = host.New(host.Options{FQDN: s.FQDN, ProposedClasses: s.ProposedClasses})
	default:
		return nil, fmt.Errorf("build source: unknown type %q", s.Type)
	}
	if s.Name != "" && s.Name != src.Name() {
		src = renamed{Source: src, name: s.Name}
	}
	return src, nil
}

func (s SourceConfig) kubernetesOptions() kubernetes.Options {
	return kubernetes.Options{Cluster: s.Cluster, Namespace: s.Namespace, ClusterDomain: s.ClusterDomain, ProposedClasses: s.ProposedClasses}
}

// Skipped returns what the source's last Collect passed over and names
// (hosts without facts, hosts nothing identifies), for the sources that
// keep such a list.
func Skipped(src discovery.Source) []string {
	switch s := src.(type) {
	case renamed:
		return Skipped(s.Source)
	case *ansible.Source:
		return s.Skipped
	case *nmap.Source:
		return s.Skipped
	case *nmap.Scan:
		return s.Skipped
	}
	return nil
}

// renamed reports a source's batches under another source name.
type renamed struct {
	discovery.Source
	name string
}

// Name returns the configured name.
func (r renamed) Name() string { return r.name }

// Collect collects and renames the batches.
func (r renamed) Collect(ctx context.Context) ([]discovery.Batch, error) {
	batches, err := r.Source.Collect(ctx)
	for i := range batches {
		batches[i].Source = r.name
	}
	return batches, err
}

// manifests expands its paths (directories, glob patterns) at each
// Collect, so that files added between runs are read.
type manifests struct {
	paths []string
	opts  kubernetes.Options
}

// Name returns "kubernetes".
func (m *manifests) Name() string { return kubernetes.SourceName }

// Collect reads the manifest files the paths name now.
func (m *manifests) Collect(ctx context.Context) ([]discovery.Batch, error) {
	files, err := expandPaths(m.paths)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewManifests(m.opts, files...).Collect(ctx)
}

// expandPaths turns each path into files: a directory gives its *.yaml,
// *.yml and *.json files (not those of its subdirectories), a glob pattern
// its matches, a file itself. A path that names nothing is an error, lest
// a moved directory silently report an empty cluster.
func expandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if strings.ContainsAny(p, "*?[") {
			matches, err := filepath.Glob(p)
			if err != nil {
				return nil, fmt.Errorf("kubernetes: pattern %s: %w", p, err)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("kubernetes: pattern %s matches no file", p)
			}
			out = append(out, matches...)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %w", err)
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %w", err)
		}
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, ext) {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
	}
	return out, nil
}
