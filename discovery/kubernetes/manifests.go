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
		err = decodeManifests(f, opts.Namespace, objs, s.Ignored)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("kubernetes: %s: %w", p, err)
		}
	}
	m := &mapper{opts: opts, objs: objs}
	return m.batches(), nil
}

// decodeManifests decodes every document of r with client-go's scheme into
// objs, giving objects without a namespace defaultNS. Documents without a
// kind (comments only) are skipped; kinds the scheme does not know, or the
// mapping does not read, are counted in ignored.
func decodeManifests(r io.Reader, defaultNS string, objs *objects, ignored map[string]int) error {
	reader := yaml.NewYAMLReader(bufio.NewReader(r))
	decoder := scheme.Codecs.UniversalDeserializer()
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := decodeObject(decoder, doc, defaultNS, objs, ignored); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
	}
}

func decodeObject(decoder runtime.Decoder, data []byte, defaultNS string, objs *objects, ignored map[string]int) error {
	obj, gvk, err := decoder.Decode(data, nil, nil)
	switch {
	case runtime.IsMissingKind(err) && !hasContent(data):
		return nil // a document of comments alone
	case runtime.IsNotRegisteredError(err):
		ignored[kindOf(data)]++
		return nil
	case err != nil:
		return err
	}
	if list, ok := obj.(*corev1.List); ok {
		for j, item := range list.Items {
			if err := decodeObject(decoder, item.Raw, defaultNS, objs, ignored); err != nil {
				return fmt.Errorf("items[%d]: %w", j, err)
			}
		}
		return nil
	}
	if o, ok := obj.(interface {
		GetNamespace() string
		SetNamespace(string)
	}); ok && o.GetNamespace() == "" {
		if _, namespaced := obj.(*corev1.Namespace); !namespaced {
			o.SetNamespace(defaultNS)
		}
	}
	if !objs.add(obj) {
		ignored[gvk.Kind]++
	}
	return nil
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
