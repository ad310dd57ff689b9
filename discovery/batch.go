package discovery

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Source is one kind of discovery: it looks at its part of the estate and
// reports what it found. A source may return several batches, one per scope
// it describes (one per host, per Kubernetes namespace...).
type Source interface {
	// Name is the discovery source name the server ranks attributes by
	// (model.yaml "sources:"), e.g. "ansible".
	Name() string
	// Collect looks once and returns what it found.
	Collect(ctx context.Context) ([]Batch, error)
}

// Batch is what one source reports in one go.
type Batch struct {
	// Source is the discovery source name (Source.Name).
	Source string `json:"source"`
	// Scope, when set, says the batch is (part of) the source's complete
	// view of that scope: once the run it belongs to completes, what the
	// source reported in the scope before and not in the run loses the
	// source's sighting (docs/DISCOVERY.md, "Scopes and runs").
	Scope *Scope `json:"scope,omitempty"`
	// CIs are the configuration items found.
	CIs []CI `json:"cis"`
	// Relationships link the CIs of the batch, or a CI of the batch to one
	// named by identity.
	Relationships []Relationship `json:"relationships,omitempty"`
}

// Scope names the part of the estate a batch completely describes, such as
// "host:web01.example.com" or "k8s:prod/checkout".
type Scope struct {
	// Name identifies the scope within its source.
	Name string `json:"name"`
	// Run is the server's number of the run the batch is part of (POST
	// /api/v1/runs); 0 makes the batch a run of its own: the server
	// synchronises the scope once the batch is written.
	Run int64 `json:"run,omitempty"`
}

// CI is one configuration item as a source sees it.
type CI struct {
	// Ref names the CI within its batch so that relationships can point at
	// it; optional for a CI nothing points at.
	Ref string `json:"ref,omitempty"`
	// Class is a model.yaml class name, e.g. "LinuxServer".
	Class string `json:"class"`
	// Attributes are keyed by model.yaml attribute names (snake_case); values
	// are string, int, int64, float64, bool or []string.
	Attributes map[string]any `json:"attributes"`
}

// Relationship is one typed, directed link: From Type To, as in
// "instance RUNS_ON server".
type Relationship struct {
	// Type is a model.yaml relationship type, e.g. "DEPENDS_ON".
	Type string `json:"type"`
	// From is the source end.
	From End `json:"from"`
	// To is the target end.
	To End `json:"to"`
}

// End names the CI at one end of a relationship: either Ref, a CI of the
// same batch, or Class and Identity, the identifying attributes of a CI
// that may be reported elsewhere.
type End struct {
	// Ref is the batch-local reference of a CI of the batch.
	Ref string `json:"ref,omitempty"`
	// Class is the class (or an ancestor, such as "Server") of the CI named
	// by Identity.
	Class string `json:"class,omitempty"`
	// Identity holds the identifying attributes known of the CI; the server
	// tries the class's identification rules on them, strongest first.
	Identity map[string]any `json:"identity,omitempty"`
}

// ByRef returns the end naming the batch's CI with that ref.
func ByRef(ref string) End { return End{Ref: ref} }

// ByIdentity returns the end naming a CI of class by the given identifying
// attributes; empty values are left out.
func ByIdentity(class string, identity map[string]any) End {
	id := make(map[string]any, len(identity))
	for k, v := range identity {
		if !isEmpty(v) {
			id[k] = v
		}
	}
	return End{Class: class, Identity: id}
}

// ServerIdentity returns the attributes model.yaml's Server identification
// rules use ([[serial_number], [cloud_instance_id], [mac_address], [name,
// dns_domain]]), for ends that name a server (or any subclass) by identity.
func ServerIdentity() []string {
	return []string{"serial_number", "cloud_instance_id", "mac_address", "name", "dns_domain"}
}

// IdentityOf returns the end naming ci by identity through the listed
// attributes (those ci has), as class: often an ancestor such as "Server",
// so that the end still matches when another source reports a subclass.
func IdentityOf(ci CI, class string, keys []string) End {
	id := make(map[string]any, len(keys))
	for _, k := range keys {
		if v, ok := ci.Attributes[k]; ok {
			id[k] = v
		}
	}
	return ByIdentity(class, id)
}

// AddCI appends ci to the batch, leaving out empty attribute values (empty
// strings and lists, nil) so that a source never blanks a value another
// source set. It returns ci's ref for convenience.
func (b *Batch) AddCI(ci CI) string {
	attrs := make(map[string]any, len(ci.Attributes))
	for k, v := range ci.Attributes {
		if !isEmpty(v) {
			attrs[k] = v
		}
	}
	ci.Attributes = attrs
	b.CIs = append(b.CIs, ci)
	return ci.Ref
}

// Relate appends the relationship from typ to, unless the batch already
// has it: several clues (two environment variables, two connections) often
// reveal one link.
func (b *Batch) Relate(typ string, from, to End) {
	r := Relationship{Type: typ, From: from, To: to}
	k := r.key()
	for _, have := range b.Relationships {
		if have.key() == k {
			return
		}
	}
	b.Relationships = append(b.Relationships, r)
}

// key is a canonical text of the relationship, to find repeats.
func (r Relationship) key() string {
	return r.Type + "|" + r.From.key() + "|" + r.To.key()
}

func (e End) key() string {
	if e.Ref != "" {
		return "ref:" + e.Ref
	}
	var sb strings.Builder
	sb.WriteString("id:" + e.Class)
	for _, k := range slices.Sorted(maps.Keys(e.Identity)) {
		fmt.Fprintf(&sb, ";%s=%v", k, e.Identity[k])
	}
	return sb.String()
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []string:
		return len(x) == 0
	}
	return false
}
