package store

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Scoped sync: a discovery source declares that what it sent in a run is
// its complete view of a scope (one host's connections, one namespace's
// workloads). The store keeps the bookkeeping (SyncStore): the runs, and
// for each (source, scope) which nodes and relationships the source
// reported in which run. internal/cmdb decides the rest: when a run
// completes, what the scope's earlier runs reported and this one did not
// loses the source's sighting (Forget on nodes through UpsertBatch.Forget,
// on relationships through RelationshipStore.ForgetRelationships), and a
// relationship left with no sighting at all is removed, audited.

// Run states.
const (
	RunOpen      = "open"      // taking batches
	RunClosing   = "closing"   // its completion has begun: no more batches
	RunCompleted = "completed" // its scopes were synchronised
	RunAbandoned = "abandoned" // given up: it removed nothing
)

// SyncRun is one discovery run of one source: a set of batches that ends
// completed (the scopes it names are complete views) or not at all.
type SyncRun struct {
	// Number is the run's number, from a sequence: later runs have higher
	// numbers.
	Number int64
	// Source is the discovery source the run reports for.
	Source string
	// Actor is who started it.
	Actor string
	State string
	// StartedAt is when it started; EndedAt when it was completed or
	// abandoned (zero while open).
	StartedAt time.Time
	EndedAt   time.Time
	// Outcome is what completing it did, as internal/cmdb encodes it
	// (opaque to the store; JSON).
	Outcome json.RawMessage `json:",omitempty"`
}

// EncodeRun is how both backends store a run.
func EncodeRun(r SyncRun) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode run %d: %w", r.Number, err)
	}
	return string(b), nil
}

// DecodeRun reads what EncodeRun wrote.
func DecodeRun(s string) (SyncRun, error) {
	var r SyncRun
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return SyncRun{}, fmt.Errorf("decode run: %w", err)
	}
	return r, nil
}

// ScopeRef names a scope: the source that reports it and its name within
// that source.
type ScopeRef struct {
	Source string
	Name   string
}

// MaxScopeName bounds a scope's name in bytes.
const MaxScopeName = 255

// CheckScopeName validates a scope name at field: 1 to MaxScopeName bytes
// of printable UTF-8.
func CheckScopeName(field, name string) error {
	switch {
	case name == "":
		return Invalid(field, "a scope needs a name, such as host:web01.example.com")
	case len(name) > MaxScopeName:
		return Invalid(field, "at most %d bytes, got %d", MaxScopeName, len(name))
	case !utf8.ValidString(name):
		return Invalid(field, "not valid UTF-8")
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return Invalid(field, "control characters are not allowed")
	}
	return nil
}

// ScopeMember is one member of a scope: a node or relationship ID, and the
// number of the last run that reported it there.
type ScopeMember struct {
	Member string
	Run    int64
}

// ScopeFailed is the member a scope records when a run reported part of it
// that could not be written (an invalid item, a conflict): that run's view
// of the scope is not complete, and completing it removes nothing there.
// It sorts before every node and relationship ID.
const ScopeFailed = "!failed"

// SyncStore keeps scoped sync's bookkeeping. Nothing in it decides; see
// internal/cmdb.
type SyncStore interface {
	// SaveRun creates or replaces the run numbered r.Number.
	SaveRun(ctx context.Context, r SyncRun) error
	// LoadRun returns run n, or an error wrapping ErrNotFound.
	LoadRun(ctx context.Context, n int64) (SyncRun, error)
	// MarkScope records that run reported members (node and relationship
	// IDs, or ScopeFailed) in scope: each member's run becomes run, unless
	// a later run marked it already. At most MaxBatch members a call.
	MarkScope(ctx context.Context, scope ScopeRef, run int64, members []string) error
	// ScopeMembers returns up to limit (1..MaxPageSize) members of scope
	// ordered by Member (byte order), those after after only.
	ScopeMembers(ctx context.Context, scope ScopeRef, after string, limit int) ([]ScopeMember, error)
	// ForgetScope deletes those of members (at most MaxBatch) that scope
	// still records with a run before before: a member a later run marked
	// meanwhile stays.
	ForgetScope(ctx context.Context, scope ScopeRef, members []string, before int64) error
}

// CheckScopeMembers validates the arguments of MarkScope and ForgetScope.
func CheckScopeMembers(scope ScopeRef, members []string) error {
	if err := CheckScopeName("scope", scope.Name); err != nil {
		return err
	}
	if scope.Source == "" {
		return Invalid("source", "a scope belongs to a source")
	}
	if len(members) > MaxBatch {
		return Invalid("members", "at most %d a call, got %d", MaxBatch, len(members))
	}
	return nil
}

// CheckScopePage validates the limit of ScopeMembers.
func CheckScopePage(limit int) error {
	if limit < 1 || limit > MaxPageSize {
		return Invalid("limit", "%d asked; allowed: 1 to %d", limit, MaxPageSize)
	}
	return nil
}

// Forget asks a write to drop Source's sighting of what it names when that
// sighting is older than Before: the source no longer reports it (scoped
// sync). A sighting at or after Before is newer than the run that decided
// the source no longer reports the node, and stays.
type Forget struct {
	Source string
	Before time.Time
}

// Drop returns seenBy without f.Source's sighting, and true, when that
// sighting is older than f.Before; else seenBy and false. seenBy is not
// changed.
func (f Forget) Drop(seenBy map[string]time.Time) (map[string]time.Time, bool) {
	t, ok := seenBy[f.Source]
	if !ok || !t.Before(f.Before) {
		return seenBy, false
	}
	out := maps.Clone(seenBy)
	delete(out, f.Source)
	return out, true
}

// EdgeDelete is the write of a relationship that ForgetEdge removes: no
// source reports it any more.
const EdgeDelete EdgeWrite = EdgeCreate + 1

// ForgetEdge decides, once for both backends, what dropping f's sighting
// does to a relationship (nil: none is stored): not_found; unchanged
// (Write EdgeNone) when the source's sighting is absent or not older than
// f.Before; its sightings rewritten (status updated, Write EdgeSighting; no
// new version, no audit record, as for a sighting) when other sources
// still report it; deleted (Write EdgeDelete, audited with its identity
// and attributes as they were) when none does.
func ForgetEdge(existing *Relationship, f Forget) EdgeDecision {
	if existing == nil {
		return EdgeDecision{Status: StatusNotFound, Err: fmt.Errorf("no relationship has this ID: %w", ErrNotFound)}
	}
	seen, dropped := f.Drop(existing.SeenBy)
	r := *existing
	if !dropped {
		return EdgeDecision{Status: StatusUnchanged, Relationship: r, Write: EdgeNone}
	}
	r.SeenBy = seen
	if len(seen) > 0 {
		return EdgeDecision{Status: StatusUpdated, Relationship: r, Write: EdgeSighting}
	}
	changes := RelationshipIdentityChanges(r.Key(), true)
	for _, k := range slices.Sorted(maps.Keys(r.Attributes)) {
		changes = append(changes, FieldChange{Field: k, Before: r.Attributes[k]})
	}
	return EdgeDecision{Status: StatusDeleted, Relationship: r, Changes: changes, Write: EdgeDelete}
}
