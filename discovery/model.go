package discovery

import (
	_ "embed"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/skein-cmdb/skein/internal/cmdb"
)

// proposal is discovery/model-proposal.yaml: the classes the sources
// report with their ProposedClasses option, which the server's default
// model does not have yet.
//
//go:embed model-proposal.yaml
var proposal []byte

// Model returns the server's default class model (internal/cmdb's
// model.yaml) extended with the classes of model-proposal.yaml: the
// classes the sources may report, with their identification rules. An
// agent names a CI by identity with it; tests check batches against it.
func Model() (*cmdb.Model, error) { return loadModel() }

var loadModel = sync.OnceValues(func() (*cmdb.Model, error) {
	m, err := cmdb.DefaultModel()
	if err != nil {
		return nil, fmt.Errorf("default model: %w", err)
	}
	var p struct {
		Classes []cmdb.ClassDef `yaml:"classes"`
	}
	if err := yaml.Unmarshal(proposal, &p); err != nil {
		return nil, fmt.Errorf("parse model-proposal.yaml: %w", err)
	}
	for _, def := range p.Classes {
		if m, err = m.WithClass(def); err != nil {
			return nil, fmt.Errorf("model-proposal.yaml class %s: %w", def.Name, err)
		}
	}
	return m, nil
})
