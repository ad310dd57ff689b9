package store

import "fmt"

// Limits every backend applies to its inputs, whatever the layers above
// already checked. They bound memory and transaction size.
const (
	// DefaultPageSize is the page size when PageRequest.First is 0.
	DefaultPageSize = 100
	// MaxPageSize is the largest accepted PageRequest.First.
	MaxPageSize = 1000
	// MaxBatch is the largest accepted write batch (items, relationships or
	// ids) and read batch (ids).
	MaxBatch = 10000
	// MaxDepth is the largest accepted traversal depth.
	MaxDepth = 32
	// MaxNodes is the largest accepted traversal node budget.
	MaxNodes = 1_000_000
)

// ValidIdentifier reports whether s may name a class, relationship type or
// attribute: a letter then up to 63 letters, digits or underscores. Backends
// check every name they place in query text against it, in addition to the
// model checks done above them, so no request text is ever spliced into a
// query.
func ValidIdentifier(s string) bool {
	// A loop, not a regular expression: every attribute name of every
	// upserted CI passes through here.
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// PageSize returns the effective page size of p, or an *InvalidError on
// "first".
func (p PageRequest) PageSize() (int, error) {
	switch {
	case p.First == 0:
		return DefaultPageSize, nil
	case p.First < 0 || p.First > MaxPageSize:
		return 0, Invalid("first", "must be between 1 and %d, got %d", MaxPageSize, p.First)
	}
	return p.First, nil
}

// Check validates a traversal's bounds and shape, naming the bad field.
func (t Traversal) Check() error {
	switch {
	case len(t.Start) == 0:
		return Invalid("start", "at least one start CI is required")
	case len(t.Start) > MaxBatch:
		return Invalid("start", "at most %d start CIs, got %d", MaxBatch, len(t.Start))
	case t.MaxDepth < 1 || t.MaxDepth > MaxDepth:
		return Invalid("maxDepth", "must be between 1 and %d, got %d", MaxDepth, t.MaxDepth)
	case t.MaxNodes < 1 || t.MaxNodes > MaxNodes:
		return Invalid("maxNodes", "must be between 1 and %d, got %d", MaxNodes, t.MaxNodes)
	}
	return CheckRules(t.Rules)
}

// CheckRules validates edge rules: at least one, each with a valid direction
// and an empty or well-formed type.
func CheckRules(rules []EdgeRule) error {
	if len(rules) == 0 {
		return Invalid("rules", "at least one edge rule is required")
	}
	for i, r := range rules {
		if r.Dir != Out && r.Dir != In && r.Dir != Both {
			return Invalid("rules", "rule %d: direction must be out, in or both", i)
		}
		if r.Type != "" && !ValidIdentifier(r.Type) {
			return Invalid("rules", "rule %d: %q is not a relationship type name", i, r.Type)
		}
	}
	return nil
}

// CheckBatch returns an *InvalidError on field when n is not in 1..MaxBatch.
func CheckBatch(field string, n int) error {
	if n < 1 || n > MaxBatch {
		return Invalid(field, "must hold between 1 and %d entries, got %d", MaxBatch, n)
	}
	return nil
}

// reserved are the names backends use for a CI's own fields; no attribute
// may take them.
var reserved = map[string]bool{
	"id": true, "class": true, "keys": true,
	"created_at": true, "updated_at": true, "last_seen_at": true,
}

// ReservedAttribute reports whether name is kept for a CI's own fields (id,
// class, keys, created_at, updated_at, last_seen_at) and so cannot name an
// attribute.
func ReservedAttribute(name string) bool { return reserved[name] }

// CheckAttributeNames returns an *InvalidError on "<field>.<name>" for the
// first attribute whose name is not a valid identifier or is reserved.
func CheckAttributeNames(field string, a Attributes) error {
	for k := range a {
		if !ValidIdentifier(k) {
			return Invalid(field, "attribute name %q must be a letter followed by letters, digits or underscores (at most 64)", clip(k, 80))
		}
		if ReservedAttribute(k) {
			return Invalid(field+"."+k, "is reserved for the CI's own fields")
		}
	}
	return nil
}

// Check validates one upsert item as every backend must before writing
// it: a class name, at least one non-empty identity key, attribute names
// that are identifiers and not reserved. Field paths are relative to the
// item ("class", "keys[2]", "attributes.x").
func (u CIUpsert) Check() *InvalidError {
	if !ValidIdentifier(u.Class) {
		return Invalid("class", "%q is not a class name", clip(u.Class, 80))
	}
	if len(u.Keys) == 0 && u.ID == "" {
		return Invalid("keys", "at least one identity key is required")
	}
	for j, k := range u.Keys {
		if k == "" {
			return Invalid(fmt.Sprintf("keys[%d]", j), "must not be empty")
		}
	}
	if err := CheckAttributeNames("attributes", u.Attributes); err != nil {
		return err.(*InvalidError)
	}
	return nil
}
