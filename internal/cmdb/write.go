package cmdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// NodeWrite is one deliberate write of a node whose attributes its owner
// computes from what is stored: a record created with its number, a
// workflow transition, an update whose derived values (a priority from
// impact and urgency) depend on the stored ones. See Service.WriteNode.
type NodeWrite struct {
	// ID names the node to change; "" creates one.
	ID store.ID
	// Class is the class of a node to create ("" takes the kind's root
	// class); ignored for a change.
	Class string
	// Input is what the client wrote, validated against the class before
	// the transaction: errors name "attributes.<name>". A nil or empty
	// value asks to clear.
	Input map[string]any
	// Expected, when not 0, is the version the node must be at.
	Expected int64
	// Verb is the permission the write needs on the kind (auth.Create,
	// auth.Update...).
	Verb auth.Verb
	// Decide computes, inside the write transaction, the attributes to set
	// (nil clears) from the stored node (nil on a create) and the
	// validated input (cleared names map to nil), at the transaction's
	// time. It must be pure: a backend may run it again. An
	// *store.InvalidError or an error wrapping store.ErrConflict fails the
	// write with that error; nothing is written.
	Decide func(current *store.Node, input store.Attributes, at time.Time) (store.Attributes, error)
	// Redact names attributes whose values the audit record must not hold
	// (a webhook's signing secret): their changes are recorded as
	// "[redacted]".
	Redact []string
}

// WriteNode runs one NodeWrite on a node of kind: the caller's permission
// (kind, w.Verb), the input checked against the class, then one write
// transaction in which w.Decide's attributes replace the stored ones
// without source precedence (Model.Apply), with the version check, the
// version bump and the audit record of every write. A change of a node
// that does not exist, or is of another kind, is store.ErrNotFound; a
// create whose identity keys another node owns is a conflict.
func (s *Service) WriteNode(ctx context.Context, actor store.Actor, kind string, w NodeWrite) (store.UpsertResult, error) {
	if err := auth.Check(ctx, auth.Kind(kind), w.Verb); err != nil {
		return store.UpsertResult{}, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return store.UpsertResult{}, err
	}
	if w.Expected < 0 {
		return store.UpsertResult{}, store.Invalid("expectedVersion", "%d is not a version; allowed: 1 or more", w.Expected)
	}
	m := s.Model()
	if err := m.checkKind(kind); err != nil {
		return store.UpsertResult{}, err
	}
	if len(w.Input) > maxPatch {
		return store.UpsertResult{}, store.Invalid("attributes", "at most %d attributes", maxPatch)
	}
	class := w.Class
	if w.ID != "" {
		found, err := s.st.Nodes(ctx, store.ObjectKind(kind), []store.ID{w.ID})
		if err != nil {
			return store.UpsertResult{}, err
		}
		n, ok := found[w.ID]
		if !ok {
			return store.UpsertResult{}, fmt.Errorf("%s %s: %w", kindLabel(kind), w.ID, store.ErrNotFound)
		}
		class = n.Class
	} else if class == "" {
		if root, ok := m.KindRoot(kind); ok && !root.Def.Abstract {
			class = root.Def.Name
		}
	}
	cls, err := m.LookupClassOf(kind, "class", class)
	if err != nil {
		return store.UpsertResult{}, err
	}
	input, clears, err := validateAttributes(cls, cls.Def.Name, "attributes", w.Input)
	if err != nil {
		return store.UpsertResult{}, err
	}
	for _, c := range clears {
		input[c] = nil
	}
	u := store.NodeUpsert{ID: w.ID, Class: cls.Def.Name, ExpectedVersion: w.Expected}
	var decideErr error
	decide := func(current *store.Node, in store.NodeUpsert, source string) (store.Decision, error) {
		attrs, err := w.Decide(current, input, in.At)
		if err != nil {
			decideErr = err
			return store.Decision{}, err
		}
		in.Attributes = attrs
		d, err := m.Apply(current, in, source)
		for i, c := range d.Changes {
			if slices.Contains(w.Redact, c.Field) {
				if c.Before != nil {
					d.Changes[i].Before = "[redacted]"
				}
				if c.After != nil {
					d.Changes[i].After = "[redacted]"
				}
			}
		}
		return d, err
	}
	if w.ID == "" {
		// A create is identified by the keys of what it will store: decide
		// once here for them (the decision is pure and is made again in the
		// transaction).
		attrs, err := w.Decide(nil, input, time.Now())
		if err != nil {
			return store.UpsertResult{}, err
		}
		if err := checkRequired(cls, "attributes", attrs); err != nil {
			return store.UpsertResult{}, err
		}
		if u.Keys = cls.Keys(attrs); len(u.Keys) == 0 {
			return store.UpsertResult{}, cls.noKeyError("attributes")
		}
		inner := decide
		decide = func(current *store.Node, in store.NodeUpsert, source string) (store.Decision, error) {
			if current != nil {
				return store.Decision{}, fmt.Errorf("a %s with these identifying attributes exists: %s: %w", kindLabel(kind), current.ID, store.ErrConflict)
			}
			return inner(current, in, source)
		}
	}
	res, err := s.st.UpsertNodes(ctx, actor, store.UpsertBatch{Kind: store.ObjectKind(kind), Items: []store.NodeUpsert{u}, Reconcile: decide, Atomic: true})
	if err != nil {
		var ie *store.ItemError
		var ve *store.VersionConflictError
		switch {
		case errors.As(err, &ve):
			return store.UpsertResult{}, ve
		case decideErr != nil && errors.As(err, &ie):
			return store.UpsertResult{}, decideErr
		case errors.As(err, &ie) && errors.Is(ie.Err, store.ErrNotFound):
			return store.UpsertResult{}, fmt.Errorf("%s %s: %w", kindLabel(kind), w.ID, store.ErrNotFound)
		case errors.As(err, &ie):
			return store.UpsertResult{}, unprefix(ie.Err, "items[0]")
		}
		return store.UpsertResult{}, err
	}
	return res[0], nil
}

// SetLinks makes the relationships of type typ out of node src lead to
// exactly targets: missing ones are created, others deleted, each with
// its audit record; the same set again changes nothing. Every target
// must be a node of kind targetKind, else the error is not-found naming
// field (field[i] for a list). It is part of a write the caller has
// already authorised (a record's assignee, its affected CIs), so it checks
// no permission of its own. It returns whether anything changed.
func (s *Service) SetLinks(ctx context.Context, actor store.Actor, src store.ID, typ string, targets []store.ID, targetKind, field string, list bool) (bool, error) {
	if len(targets) > store.MaxBatch {
		return false, store.Invalid(field, "at most %d", store.MaxBatch)
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return false, err
	}
	want := make(map[store.ID]bool, len(targets))
	if len(targets) > 0 {
		found, err := s.st.Nodes(ctx, store.ObjectKind(targetKind), targets)
		if err != nil {
			return false, err
		}
		for i, t := range targets {
			if _, ok := found[t]; !ok {
				name := field
				if list {
					name = fmt.Sprintf("%s[%d]", field, i)
				}
				return false, store.NoNode(name, store.ObjectKind(targetKind))
			}
			want[t] = true
		}
	}
	cur, err := s.st.RelationshipsOf(ctx, []store.ID{src}, store.Out, []string{typ})
	if err != nil {
		return false, err
	}
	var stale []store.ID
	for _, r := range cur[src] {
		if want[r.Target] {
			delete(want, r.Target)
		} else {
			stale = append(stale, r.ID)
		}
	}
	if len(stale) > 0 {
		if _, err := s.st.DeleteRelationships(ctx, actor, stale); err != nil {
			return false, err
		}
	}
	if len(want) == 0 {
		return len(stale) > 0, nil
	}
	rels := make([]store.RelationshipInput, 0, len(want))
	for _, t := range targets {
		if want[t] {
			rels = append(rels, store.RelationshipInput{Type: typ, Source: src, Target: t})
			delete(want, t)
		}
	}
	if _, err := s.st.CreateRelationships(ctx, actor, rels, true); err != nil {
		return false, err
	}
	return true, nil
}

// CheckNew validates input as the attributes of a new node of kind (its
// root class), without writing: a caller that takes a record number
// before the write refuses bad input first, so that no number is burnt.
// Errors name "attributes.<name>", as WriteNode's.
func (s *Service) CheckNew(kind string, input map[string]any) error {
	m := s.Model()
	if err := m.checkKind(kind); err != nil {
		return err
	}
	root, ok := m.KindRoot(kind)
	if !ok {
		return fmt.Errorf("cmdb: kind %q has no root class", kind)
	}
	if len(input) > maxPatch {
		return store.Invalid("attributes", "at most %d attributes", maxPatch)
	}
	_, _, err := validateAttributes(root, root.Def.Name, "attributes", input)
	return err
}
