package kubernetes

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/skein-cmdb/skein/discovery"
)

// Manifests reads Kubernetes manifest files.
type Manifests struct {
	paths []string
	opts  Options
	// Ignored counts, by kind, the objects of the last Collect that the
	// mapping does not read (ServiceAccounts, custom resources...).
	Ignored map[string]int
}

var _ discovery.Source = (*Manifests)(nil)

// NewManifests returns a source reading the manifest files at paths, each
// holding one or more YAML (or JSON) documents: objects, or Lists of them.
func NewManifests(opts Options, paths ...string) *Manifests {
	return &Manifests{paths: paths, opts: opts}
}

// Name returns "kubernetes".
func (s *Manifests) Name() string { return SourceName }

// Collect decodes the files and maps what they declare.
func (s *Manifests) Collect(ctx context.Context) ([]discovery.Batch, error) {
	opts, err := s.opts.withDefaults()
	if err != nil {
		return nil, err
	}
	objs := newObjects()
	s.Ignored = map[string]int{}
	for _, p := range s.paths {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("kubernetes: %w", err)
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %w", err)
		}
		decoded, err := decodeManifests(f, opts.Namespace, s.Ignored)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %s: %w", p, err)
		}
		for _, obj := range decoded {
			if !objs.add(obj) {
				s.Ignored[obj.GetObjectKind().GroupVersionKind().Kind]++
			}
		}
	}
	m := &mapper{opts: opts, objs: objs}
	return m.batches(), nil
}

// decodeManifests decodes every document of r with client-go's scheme,
// the items of Lists one by one, giving objects without a namespace
// defaultNS. Documents without a kind (comments only) are skipped; kinds
// the scheme does not know are counted in ignored.
func decodeManifests(r io.Reader, defaultNS string, ignored map[string]int) ([]runtime.Object, error) {
	var out []runtime.Object
	reader := yaml.NewYAMLReader(bufio.NewReader(r))
	decoder := scheme.Codecs.UniversalDeserializer()
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if out, err = decodeObject(decoder, doc, defaultNS, out, ignored); err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
	}
}

func decodeObject(decoder runtime.Decoder, data []byte, defaultNS string, out []runtime.Object, ignored map[string]int) ([]runtime.Object, error) {
	obj, _, err := decoder.Decode(data, nil, nil)
	switch {
	case runtime.IsMissingKind(err) && !hasContent(data):
		return out, nil // a document of comments alone
	case runtime.IsNotRegisteredError(err):
		ignored[kindOf(data)]++
		return out, nil
	case err != nil:
		return nil, err
	}
	if list, ok := obj.(*corev1.List); ok {
		for j, item := range list.Items {
			if out, err = decodeObject(decoder, item.Raw, defaultNS, out, ignored); err != nil {
				return nil, fmt.Errorf("items[%d]: %w", j, err)
			}
		}
		return out, nil
	}
	if o, ok := obj.(metav1.Object); ok && o.GetNamespace() == "" {
		if _, clusterWide := obj.(*corev1.Namespace); !clusterWide {
			if _, node := obj.(*corev1.Node); !node {
				o.SetNamespace(defaultNS)
			}
		}
	}
	return append(out, obj), nil
}

// hasContent reports whether a YAML document holds more than comments.
func hasContent(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && !bytes.Equal(line, []byte("---")) {
			return true
		}
	}
	return false
}

// kindOf reads the kind of a document the scheme does not know.
func kindOf(doc []byte) string {
	var tm metav1.TypeMeta
	if j, err := yaml.ToJSON(doc); err == nil && json.Unmarshal(j, &tm) == nil && tm.Kind != "" {
		return tm.Kind
	}
	return "unknown"
}
