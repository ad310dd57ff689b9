// Package demo holds Skein's demo estate and loads it into a CMDB.
//
// The estate is data (estate.yaml, embedded in the binary): a small
// enterprise of a few hundred CIs in two datacenters, FRA1 (primary) and
// DUB1 (disaster recovery and replicas), from the network core and storage
// up through vSphere and Kubernetes clusters, load balancers, databases with
// replicas and shared services (DNS, LDAP, single sign-on) to ten business
// services with their owners and support groups. Redundancy is modelled
// where real estates have it (MEMBER_OF groups with min_members_up) and some
// single points of failure are deliberate, so that impact analysis has
// interesting answers.
//
// `skein serve --demo` and `skein seed --demo` load it; docs/API.md walks
// through it; the golden tests of cmd/skein query it. The constants below
// name CIs that the documentation and the tests rely on.
package demo

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Notable CIs of the estate, by name.
const (
	// PrimaryDatacenter and SecondaryDatacenter are the two sites.
	PrimaryDatacenter   = "FRA1"
	SecondaryDatacenter = "DUB1"
	// HypervisorExample is an ESXi host of the vSphere cluster
	// ComputeClusterExample; its VMs carry a Kubernetes node, a member of
	// the payment gateway's pool and the only instances of the support desk
	// and the HR portal.
	HypervisorExample     = "esx-fra1-03"
	ComputeClusterExample = "vcl-fra1-prod"
	// VirtualMachineExample runs on HypervisorExample and hosts one of the
	// three pool members of LoadBalancerExample.
	VirtualMachineExample = "paygw-fra1-02"
	// ApplicationExample is provided by LoadBalancerExample, which needs two
	// of its three members up.
	ApplicationExample  = "payments-gateway"
	LoadBalancerExample = "vs-payments"
	// BusinessServiceExample is the most critical business service.
	BusinessServiceExample = "Online Shop"
	// KubernetesClusterExample needs four of its six nodes up; its
	// workloads provide the online shop, shipping and monitoring.
	KubernetesClusterExample = "k8s-fra1-prod"
	KubernetesNodeExample    = "k8s-fra1-prod-node-02"
	// DatabasePrimaryExample hosts the shop's databases (shopdb,
	// catalogdb); DatabaseReplicaExample is one of the two members of
	// ReplicaClusterExample, which serves reads and needs one member up.
	DatabasePrimaryExample = "pg-shop-01"
	DatabaseReplicaExample = "pg-shop-02"
	ReplicaClusterExample  = "pg-shop-replicas"
	DatabaseExample        = "shopdb"
	// FirewallExample is the only firewall of the primary site: a single
	// point of failure for everything in it.
	FirewallExample = "fw-fra1-01"
	// SinglePointOfFailureExample is the only instance of the support desk.
	SinglePointOfFailureExample = "support-desk@support-fra1-01"
)

// KubernetesNodes returns the names of the nodes of
// KubernetesClusterExample, in order.
func KubernetesNodes() []string {
	out := make([]string, 6)
	for i := range out {
		out[i] = fmt.Sprintf("%s-node-%02d", KubernetesClusterExample, i+1)
	}
	return out
}

//go:embed estate.yaml
var estateYAML []byte

// CI is one CI of the estate: its class and attributes, "name" included.
type CI struct {
	Class      string
	Attributes map[string]any
}

// Name returns the CI's name.
func (c CI) Name() string {
	s, _ := c.Attributes["name"].(string)
	return s
}

// Relationship is "Source Type Target", the ends named by CI name.
type Relationship struct {
	Source, Type, Target string
}

// Estate is a set of CIs with unique names and the relationships between
// them.
type Estate struct {
	CIs           []CI
	Relationships []Relationship
}

// Default returns the demo estate, freshly parsed (the caller may modify
// it).
func Default() (*Estate, error) {
	var raw struct {
		CIs           []map[string]any `yaml:"cis"`
		Relationships [][]string       `yaml:"relationships"`
	}
	if err := yaml.Unmarshal(estateYAML, &raw); err != nil {
		return nil, fmt.Errorf("demo estate: %w", err)
	}
	e := &Estate{CIs: make([]CI, 0, len(raw.CIs)), Relationships: make([]Relationship, 0, len(raw.Relationships))}
	for i, m := range raw.CIs {
		class, _ := m["class"].(string)
		if class == "" {
			return nil, fmt.Errorf("demo estate: cis[%d]: no class", i)
		}
		attrs := maps.Clone(m)
		delete(attrs, "class")
		e.CIs = append(e.CIs, CI{Class: class, Attributes: attrs})
	}
	for i, r := range raw.Relationships {
		if len(r) != 3 {
			return nil, fmt.Errorf("demo estate: relationships[%d]: want [source, TYPE, target], got %q", i, r)
		}
		e.Relationships = append(e.Relationships, Relationship{Source: r[0], Type: r[1], Target: r[2]})
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	return e, nil
}

// Check reports CIs without a name, duplicate names, relationships whose
// ends are not CIs of the estate, and duplicate relationships. The model's
// rules (classes, attributes, which classes a relationship type connects)
// are checked when the estate is seeded.
func (e *Estate) Check() error {
	var errs []error
	names := make(map[string]bool, len(e.CIs))
	for i, c := range e.CIs {
		switch n := c.Name(); {
		case n == "":
			errs = append(errs, fmt.Errorf("cis[%d] (%s): no name", i, c.Class))
		case names[n]:
			errs = append(errs, fmt.Errorf("cis[%d]: duplicate name %q", i, n))
		default:
			names[n] = true
		}
	}
	rels := make(map[Relationship]bool, len(e.Relationships))
	for i, r := range e.Relationships {
		for _, end := range []string{r.Source, r.Target} {
			if !names[end] {
				errs = append(errs, fmt.Errorf("relationships[%d] %v: no CI named %q", i, r, end))
			}
		}
		if rels[r] {
			errs = append(errs, fmt.Errorf("relationships[%d] %v: duplicate", i, r))
		}
		rels[r] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("demo estate: %w", errors.Join(errs...))
	}
	return nil
}

// Reversed returns a copy of the estate with its CIs and relationships in
// reverse order: the same graph, created in the opposite order, so with
// differently ordered ids. Tests use it to show that answers do not depend
// on creation order.
func (e *Estate) Reversed() *Estate {
	r := &Estate{CIs: slices.Clone(e.CIs), Relationships: slices.Clone(e.Relationships)}
	slices.Reverse(r.CIs)
	slices.Reverse(r.Relationships)
	return r
}

// CountByClass returns the number of CIs of each class.
func (e *Estate) CountByClass() map[string]int {
	out := map[string]int{}
	for _, c := range e.CIs {
		out[c.Class]++
	}
	return out
}

// Summary says what seeding did.
type Summary struct {
	// CIs and Relationships are the sizes of the estate.
	CIs, Relationships int
	// Created, Updated and Unchanged count the CIs by upsert outcome.
	Created, Updated, Unchanged int
	// RelationshipsCreated, RelationshipsUpdated and RelationshipsUnchanged
	// count the relationships by outcome.
	RelationshipsCreated, RelationshipsUpdated, RelationshipsUnchanged int
}

// String is a one-line account, e.g. "332 CIs (332 created), 530
// relationships (530 created)".
func (s Summary) String() string {
	part := func(n int, what string, created, updated, unchanged int) string {
		var parts []string
		for _, p := range []struct {
			n    int
			word string
		}{{created, "created"}, {updated, "updated"}, {unchanged, "unchanged"}} {
			if p.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
			}
		}
		out := fmt.Sprintf("%d %s", n, what)
		if len(parts) > 0 {
			out += " (" + strings.Join(parts, ", ") + ")"
		}
		return out
	}
	return part(s.CIs, "CIs", s.Created, s.Updated, s.Unchanged) + ", " +
		part(s.Relationships, "relationships", s.RelationshipsCreated, s.RelationshipsUpdated, s.RelationshipsUnchanged)
}

// Batch sizes of Seed: well below store.MaxBatch, so each write is a
// modest transaction.
const (
	ciBatch  = 200
	relBatch = 500
)

// Seed loads the demo estate into svc as actor: it upserts the CIs in
// batches, then creates the relationships between them by the ids the
// upserts returned. It is idempotent: seeding a store that already holds the
// estate reports every CI and relationship unchanged. It does not check
// that the store is empty; CIs already there that the estate identifies
// (same identification keys) are merged with it.
func Seed(ctx context.Context, svc *cmdb.Service, actor store.Actor) (Summary, error) {
	e, err := Default()
	if err != nil {
		return Summary{}, err
	}
	return SeedEstate(ctx, svc, actor, e)
}

// SeedEstate loads e into svc as actor, as Seed does with the demo estate.
// Each batch is atomic; the first invalid CI or relationship stops the
// seeding with an error that names it.
func SeedEstate(ctx context.Context, svc *cmdb.Service, actor store.Actor, e *Estate) (Summary, error) {
	if err := e.Check(); err != nil {
		return Summary{}, err
	}
	sum := Summary{CIs: len(e.CIs), Relationships: len(e.Relationships)}
	ids := make(map[string]store.ID, len(e.CIs))
	for start := 0; start < len(e.CIs); start += ciBatch {
		chunk := e.CIs[start:min(start+ciBatch, len(e.CIs))]
		items := make([]cmdb.UpsertItem, len(chunk))
		for i, c := range chunk {
			items[i] = cmdb.UpsertItem{Class: c.Class, Attributes: maps.Clone(c.Attributes)}
		}
		res, err := svc.Upsert(ctx, actor, items, true)
		if err != nil {
			var ie *store.ItemError
			if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(chunk) {
				return sum, fmt.Errorf("demo estate: CI %q (%s): %w", chunk[ie.Index].Name(), chunk[ie.Index].Class, ie.Err)
			}
			return sum, fmt.Errorf("demo estate: upsert CIs: %w", err)
		}
		for i, r := range res {
			switch r.Status {
			case store.StatusCreated:
				sum.Created++
			case store.StatusUpdated:
				sum.Updated++
			case store.StatusUnchanged:
				sum.Unchanged++
			default:
				return sum, fmt.Errorf("demo estate: CI %q: %s: %v", chunk[i].Name(), r.Status, r.Err)
			}
			ids[chunk[i].Name()] = r.Node.ID
		}
	}
	for start := 0; start < len(e.Relationships); start += relBatch {
		chunk := e.Relationships[start:min(start+relBatch, len(e.Relationships))]
		items := make([]cmdb.RelationshipItem, len(chunk))
		for i, r := range chunk {
			items[i] = cmdb.RelationshipItem{Type: r.Type, Source: ids[r.Source], Target: ids[r.Target]}
		}
		res, err := svc.CreateRelationships(ctx, actor, items, true)
		if err != nil {
			var ie *store.ItemError
			if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(chunk) {
				return sum, fmt.Errorf("demo estate: relationship %s %s %s: %w", chunk[ie.Index].Source, chunk[ie.Index].Type, chunk[ie.Index].Target, ie.Err)
			}
			return sum, fmt.Errorf("demo estate: create relationships: %w", err)
		}
		for i, r := range res {
			switch r.Status {
			case store.StatusCreated:
				sum.RelationshipsCreated++
			case store.StatusUpdated:
				sum.RelationshipsUpdated++
			case store.StatusUnchanged:
				sum.RelationshipsUnchanged++
			default:
				rel := chunk[i]
				return sum, fmt.Errorf("demo estate: relationship %s %s %s: %s: %v", rel.Source, rel.Type, rel.Target, r.Status, r.Err)
			}
		}
	}
	return sum, nil
}
