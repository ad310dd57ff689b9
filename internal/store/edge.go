package store

import (
	"maps"
	"slices"
	"time"
)

// EdgeWrite says what a backend must write for one relationship input.
type EdgeWrite int

// Edge writes, from the cheapest.
const (
	// EdgeNone: nothing (an invalid or refused input).
	EdgeNone EdgeWrite = iota
	// EdgeSighting: only the sightings changed (a source re-reported an
	// unchanged relationship); no audit record, no new version.
	EdgeSighting
	// EdgeUpdate: attributes, version, update time and sightings.
	EdgeUpdate
	// EdgeCreate: a new relationship.
	EdgeCreate
)

// EdgeDecision is what one relationship input does to the relationship
// stored under its key.
type EdgeDecision struct {
	Status Status // created, updated, unchanged or conflict
	// Relationship is the relationship after the input (zero for a
	// conflict).
	Relationship Relationship
	// Changes are the audit record's changes (nil when none is written).
	Changes []FieldChange
	Write   EdgeWrite
	// Err explains a conflict (wraps ErrConflict).
	Err error
}

// DecideEdge decides, once for both backends, what relationship input in,
// reported through source at now, does to existing (nil when no
// relationship has its key):
//
//   - absent: it is created at version 1, seen by source;
//   - present, with Attributes nil or equal to the stored ones: unchanged,
//     its sighting by source refreshed (Write EdgeSighting, no audit);
//   - present with other attributes: they replace the stored ones, the
//     version goes up by one, and the change is audited.
//
// An input with ExpectVersion set is a conflict (a *VersionConflictError
// naming the current version) unless the relationship exists at that
// version.
//
// Every sighting is recorded, so that a source's view of the graph can be
// aged: a relationship no source has reported for a while is stale
// (Relationship.SeenBy). DecideEdge is pure; the result shares no maps with
// existing or in.
func DecideEdge(existing *Relationship, in RelationshipInput, source string, now time.Time) EdgeDecision {
	key := RelationshipKey{Source: in.Source, Type: in.Type, Target: in.Target}
	id := key.ID()
	if in.ExpectVersion != 0 {
		switch {
		case existing == nil:
			return EdgeDecision{Status: StatusConflict, Err: &VersionConflictError{Kind: KindRelationship, Expected: in.ExpectVersion}}
		case existing.Version != in.ExpectVersion:
			return EdgeDecision{Status: StatusConflict, Err: &VersionConflictError{Kind: KindRelationship, ID: id, Current: existing.Version, Expected: in.ExpectVersion}}
		}
	}
	if existing == nil {
		attrs := maps.Clone(in.Attributes)
		if attrs == nil {
			attrs = Attributes{}
		}
		r := Relationship{ID: id, Type: in.Type, Source: in.Source, Target: in.Target, Attributes: attrs,
			Version: 1, SeenBy: map[string]time.Time{source: now}, CreatedAt: now, UpdatedAt: now}
		changes := RelationshipIdentityChanges(key, false)
		for _, k := range slices.Sorted(maps.Keys(attrs)) {
			changes = append(changes, FieldChange{Field: k, After: attrs[k]})
		}
		return EdgeDecision{Status: StatusCreated, Relationship: r, Changes: changes, Write: EdgeCreate}
	}
	r := *existing
	r.ID, r.Type, r.Source, r.Target = id, in.Type, in.Source, in.Target
	r.Attributes = maps.Clone(existing.Attributes)
	if r.Attributes == nil {
		r.Attributes = Attributes{}
	}
	r.SeenBy = maps.Clone(existing.SeenBy)
	if r.SeenBy == nil {
		r.SeenBy = map[string]time.Time{}
	}
	r.SeenBy[source] = now
	var changes []FieldChange
	if in.Attributes != nil {
		changes = AttributeChanges(existing.Attributes, in.Attributes)
	}
	if len(changes) == 0 {
		return EdgeDecision{Status: StatusUnchanged, Relationship: r, Write: EdgeSighting}
	}
	r.Attributes = maps.Clone(in.Attributes)
	r.Version = max(existing.Version, 1) + 1
	r.UpdatedAt = now
	return EdgeDecision{Status: StatusUpdated, Relationship: r, Changes: changes, Write: EdgeUpdate}
}

// RelationshipIdentityChanges are the audit changes naming a relationship's
// type and ends: as created (After set) or, when deleted, as removed
// (Before set).
func RelationshipIdentityChanges(k RelationshipKey, deleted bool) []FieldChange {
	cs := []FieldChange{
		{Field: "type", After: k.Type},
		{Field: "source", After: string(k.Source)},
		{Field: "target", After: string(k.Target)},
	}
	if deleted {
		for i := range cs {
			cs[i].Before, cs[i].After = cs[i].After, nil
		}
	}
	return cs
}

// AttributeChanges lists the attributes that differ between before and
// after (added, changed, removed), ordered by name.
func AttributeChanges(before, after Attributes) []FieldChange {
	var cs []FieldChange
	for _, k := range slices.Sorted(maps.Keys(after)) {
		b, ok := before[k]
		if a := after[k]; !ok || !EqualValues(b, a) {
			cs = append(cs, FieldChange{Field: k, Before: b, After: a})
		}
	}
	for k, b := range before {
		if _, ok := after[k]; !ok {
			cs = append(cs, FieldChange{Field: k, Before: b})
		}
	}
	slices.SortFunc(cs, func(a, b FieldChange) int {
		switch {
		case a.Field < b.Field:
			return -1
		case a.Field > b.Field:
			return 1
		}
		return 0
	})
	return cs
}

// LastSeen returns the latest time in seenBy (zero when empty).
func LastSeen(seenBy map[string]time.Time) time.Time {
	var last time.Time
	for _, t := range seenBy {
		if t.After(last) {
			last = t
		}
	}
	return last
}
