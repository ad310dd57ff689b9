package store

import (
	"fmt"
	"strings"
	"time"
)

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
	case p.Offset != 0:
		return 0, Invalid("offset", "this list has no offset pages; page with after")
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

// MaxNodeFields is the most attributes one NodeFields call may name.
const MaxNodeFields = 32

// CheckNodeFields checks the arguments of NodeReader.NodeFields: 1 to
// MaxBatch ids and up to MaxNodeFields attribute names (none reads only
// what every node has: ID, kind, class, version), each a valid
// identifier and not reserved (they reach the backends' queries, as
// parameters; a reserved name would read a node's own field on one
// backend and nothing on the other).
func CheckNodeFields(ids int, fields []string) error {
	if err := CheckBatch("ids", ids); err != nil {
		return err
	}
	if len(fields) > MaxNodeFields {
		return Invalid("fields", "must name at most %d attributes, got %d", MaxNodeFields, len(fields))
	}
	for i, f := range fields {
		if !ValidIdentifier(f) {
			return Invalid(fmt.Sprintf("fields[%d]", i), "%q is not an attribute name: a letter, then up to 63 letters, digits or underscores", clip(f, 64))
		}
		if ReservedAttribute(f) {
			return Invalid(fmt.Sprintf("fields[%d]", i), "%q is a node's own field, not an attribute", f)
		}
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
	// An update by ID may leave the class to its decision, which sees the
	// node as stored (a retirement does).
	if !ValidIdentifier(u.Class) && (u.ID == "" || u.Class != "") {
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
	if u.ExpectedVersion < 0 {
		return Invalid("expected_version", "%d is not a version; allowed: 1 or more, or 0 for none", u.ExpectedVersion)
	}
	if err := CheckAttributeNames("attributes", u.Attributes); err != nil {
		return err.(*InvalidError)
	}
	return CheckTimes("attributes", u.Attributes)
}

// The range of time values every backend stores faithfully, to the
// nanosecond: the embedded store keeps times as int64 Unix nanoseconds,
// which reach from 1677-09-21 to 2262-04-11, so whole years 1678 to 2261.
// Neo4j could hold more, but then the two backends would disagree.
var (
	// MinTime is the earliest time value accepted: 1678-01-01T00:00:00Z.
	MinTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	// MaxTime is the latest time value accepted: the last nanosecond of 2261.
	MaxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
)

// CheckTime returns an *InvalidError on field when t is outside MinTime
// to MaxTime. It is the one range rule for time values: internal/cmdb
// applies it to input, and both backends to what they are asked to store.
func CheckTime(field string, t time.Time) *InvalidError {
	if t.Before(MinTime) || t.After(MaxTime) {
		return Invalid(field, "%s is out of range; allowed: years 1678 to 2261 (UTC)", clip(t.UTC().Format(time.RFC3339Nano), 40))
	}
	return nil
}

// CheckTimes applies CheckTime to every time value of a, naming
// "<field>.<name>".
func CheckTimes(field string, a Attributes) *InvalidError {
	for k, v := range a {
		if t, ok := v.(time.Time); ok {
			if err := CheckTime(field+"."+k, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// TimeFormats says in words which time spellings ParseTime accepts, for
// error messages.
const TimeFormats = "RFC 3339 (e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00.5+02:00), or a date 2024-05-01 (midnight UTC)"

// ParseTime reads a time as users and tools type it: RFC 3339 with any
// offset and optional fractional seconds, the same without an offset
// (UTC), or a plain date YYYY-MM-DD (midnight UTC). It returns the time in
// UTC, or an *InvalidError on field naming the accepted formats; the result
// is within MinTime to MaxTime (CheckTime).
func ParseTime(field, s string) (time.Time, *InvalidError) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			if err := CheckTime(field, t); err != nil {
				return time.Time{}, err
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, Invalid(field, "%q is not a time; accepted: %s", clip(s, 64), TimeFormats)
}

// CheckEdgesOf checks the arguments of RelationshipsOf and Edges: a
// direction, relationship type names, and at most MaxBatch nodes (on the
// field named nodes).
func CheckEdgesOf(nodes string, n int, dir Direction, types []string) error {
	if dir != Out && dir != In && dir != Both {
		return Invalid("dir", "direction must be out, in or both")
	}
	for _, t := range types {
		if !ValidIdentifier(t) {
			return Invalid("types", "%q is not a relationship type name", clip(t, 80))
		}
	}
	return CheckBatch(nodes, n)
}
