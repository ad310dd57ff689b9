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
// interesting answers. A small service desk runs it: five people, the CAB
// group and the payments support group (also in estate.yaml), whose
// records SeedRecords opens through the itsm service once the estate is
// loaded (see records.go for the story).
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
	// WorkplaceGroup fulfils the demo's service catalog.
	WorkplaceGroup = "SG-Workplace"
	// PhoneModel and LaptopModel are the asset models the demo keeps in
	// stock, above their reorder thresholds.
	PhoneModel  = "Pixel 8a"
	LaptopModel = "Latitude 7450"
	// PatchingTemplate names the demo's standard change template, from
	// which its standard change comes.
	PatchingTemplate = "Monthly OS patching"
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

// Person is one person of the estate: a person's attributes, "user_name"
// and "name" included.
type Person map[string]any

// UserName returns the person's user name.
func (p Person) UserName() string {
	s, _ := p["user_name"].(string)
	return s
}

// Group is one group of the estate: its attributes, "name" included, and
// the user names of its members.
type Group struct {
	Attributes map[string]any
	Members    []string
}

// Name returns the group's name.
func (g Group) Name() string {
	s, _ := g.Attributes["name"].(string)
	return s
}

// Estate is a set of CIs with unique names and the relationships between
// them, and the people and groups who run them.
type Estate struct {
	CIs           []CI
	Relationships []Relationship
	People        []Person
	Groups        []Group
}

// Default returns the demo estate, freshly parsed (the caller may modify
// it).
func Default() (*Estate, error) {
	var raw struct {
		CIs           []map[string]any `yaml:"cis"`
		Relationships [][]string       `yaml:"relationships"`
		People        []map[string]any `yaml:"people"`
		Groups        []map[string]any `yaml:"groups"`
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
	for _, p := range raw.People {
		e.People = append(e.People, Person(p))
	}
	for i, m := range raw.Groups {
		attrs := maps.Clone(m)
		delete(attrs, "members")
		g := Group{Attributes: attrs}
		members, _ := m["members"].([]any)
		for _, u := range members {
			s, ok := u.(string)
			if !ok {
				return nil, fmt.Errorf("demo estate: groups[%d]: members: want user names, got %v", i, u)
			}
			g.Members = append(g.Members, s)
		}
		e.Groups = append(e.Groups, g)
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	return e, nil
}

// Check reports CIs without a name, duplicate names, relationships whose
// ends are not CIs of the estate, duplicate relationships, people without
// a user name or with the same one (ignoring case), groups without a name
// or with the same one, and members who are not people of the estate. The model's
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
	users := make(map[string]bool, len(e.People))
	for i, p := range e.People {
		switch u := strings.ToLower(p.UserName()); {
		case u == "":
			errs = append(errs, fmt.Errorf("people[%d]: no user_name", i))
		case users[u]:
			errs = append(errs, fmt.Errorf("people[%d]: duplicate user_name %q", i, p.UserName()))
		default:
			users[u] = true
		}
	}
	groups := make(map[string]bool, len(e.Groups))
	for i, g := range e.Groups {
		switch n := strings.ToLower(g.Name()); {
		case n == "":
			errs = append(errs, fmt.Errorf("groups[%d]: no name", i))
		case groups[n]:
			errs = append(errs, fmt.Errorf("groups[%d]: duplicate name %q", i, g.Name()))
		default:
			groups[n] = true
		}
		for _, m := range g.Members {
			if !users[strings.ToLower(m)] {
				errs = append(errs, fmt.Errorf("groups[%d] (%s): member %q is not a person of the estate", i, g.Name(), m))
			}
		}
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
	r := &Estate{CIs: slices.Clone(e.CIs), Relationships: slices.Clone(e.Relationships), People: slices.Clone(e.People), Groups: slices.Clone(e.Groups)}
	slices.Reverse(r.CIs)
	slices.Reverse(r.Relationships)
	slices.Reverse(r.People)
	slices.Reverse(r.Groups)
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
	// People and Groups are the numbers of people and groups of the
	// estate, each merged with the store's; Members counts the group
	// memberships created.
	People, Groups, Members int
}

// String is a one-line account, e.g. "332 CIs (332 created), 530
// relationships (530 created), 5 people, 2 groups" (people and groups
// when there are any).
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
	out := part(s.CIs, "CIs", s.Created, s.Updated, s.Unchanged) + ", " +
		part(s.Relationships, "relationships", s.RelationshipsCreated, s.RelationshipsUpdated, s.RelationshipsUnchanged)
	if s.People > 0 || s.Groups > 0 {
		out += fmt.Sprintf(", %d people, %d groups", s.People, s.Groups)
	}
	return out
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

// SeedEstate loads e into svc as actor, as Seed does with the demo estate:
// its CIs, their relationships, then its people and groups (identified by
// user name and name, as a directory sync would report them) and the
// groups' members. Each batch is atomic; the first invalid CI,
// relationship, person or group stops the seeding with an error that
// names it.
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
	return sum, seedPeople(ctx, svc, actor, e, &sum)
}

// seedPeople upserts e's people and groups and adds the groups' members,
// counting them in sum.
func seedPeople(ctx context.Context, svc *cmdb.Service, actor store.Actor, e *Estate, sum *Summary) error {
	if len(e.People) == 0 && len(e.Groups) == 0 {
		return nil
	}
	upsert := func(kind string, items []cmdb.UpsertItem, name func(i int) string) ([]store.ID, error) {
		if len(items) == 0 {
			return nil, nil
		}
		res, err := svc.UpsertNodes(ctx, actor, kind, items, true)
		if err != nil {
			var ie *store.ItemError
			if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(items) {
				return nil, fmt.Errorf("demo estate: %s %q: %w", kind, name(ie.Index), ie.Err)
			}
			return nil, fmt.Errorf("demo estate: upsert %ss: %w", kind, err)
		}
		ids := make([]store.ID, len(res))
		for i, r := range res {
			if r.Err != nil {
				return nil, fmt.Errorf("demo estate: %s %q: %s: %w", kind, name(i), r.Status, r.Err)
			}
			ids[i] = r.Node.ID
		}
		return ids, nil
	}
	people := make([]cmdb.UpsertItem, len(e.People))
	for i, p := range e.People {
		people[i] = cmdb.UpsertItem{Attributes: maps.Clone(map[string]any(p))}
	}
	pids, err := upsert(cmdb.KindPerson, people, func(i int) string { return e.People[i].UserName() })
	if err != nil {
		return err
	}
	byUser := make(map[string]store.ID, len(pids))
	for i, id := range pids {
		byUser[strings.ToLower(e.People[i].UserName())] = id
	}
	groups := make([]cmdb.UpsertItem, len(e.Groups))
	for i, g := range e.Groups {
		groups[i] = cmdb.UpsertItem{Attributes: maps.Clone(g.Attributes)}
	}
	gids, err := upsert(cmdb.KindGroup, groups, func(i int) string { return e.Groups[i].Name() })
	if err != nil {
		return err
	}
	sum.People, sum.Groups = len(e.People), len(e.Groups)
	for i, g := range e.Groups {
		if len(g.Members) == 0 {
			continue
		}
		members := make([]store.ID, len(g.Members))
		for j, m := range g.Members {
			members[j] = byUser[strings.ToLower(m)]
		}
		n, err := svc.AddGroupMembers(ctx, actor, gids[i], members)
		if err != nil {
			return fmt.Errorf("demo estate: members of group %q: %w", g.Name(), err)
		}
		sum.Members += n
	}
	return nil
}
