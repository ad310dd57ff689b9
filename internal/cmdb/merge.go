package cmdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// DuplicateOf is the relationship type that marks a CI retired by MergeCIs
// as a duplicate of the CI it was merged into.
const DuplicateOf = "DUPLICATE_OF"

// duplicateRule is the identification rule of the one identity key a
// merged duplicate keeps: "<family>|duplicate_of|<its id>><survivor id>",
// which no report derives, so every key it had can move to the survivor.
const duplicateRule = "duplicate_of"

// recordConflicts records the identity conflicts among errs (the results
// of items of the given classes). It is best effort: a conflict that fails
// to be recorded is recorded by the next report that hits it.
func (s *Service) recordConflicts(ctx context.Context, actor store.Actor, errs []error, classes []string) {
	var cs []store.IdentityConflict
	for i, err := range errs {
		var ce *store.ConflictError
		if err == nil || !errors.As(err, &ce) {
			continue
		}
		for a := 0; a < len(ce.CIs); a++ {
			for b := a + 1; b < len(ce.CIs); b++ {
				if ce.CIs[a] != ce.CIs[b] {
					cs = append(cs, store.IdentityConflict{CIs: store.ConflictPair(ce.CIs[a], ce.CIs[b]), Class: classes[i], Source: actor.Source, Count: 1})
				}
			}
		}
	}
	if len(cs) > 0 {
		// Best effort, after the upsert committed: the next report that
		// hits the conflict records it again.
		if err := s.st.RecordConflicts(ctx, cs); err != nil {
			slog.WarnContext(ctx, "record identity conflicts", "err", err)
		}
	}
}

// IdentityConflicts returns a page of the open identity conflicts: pairs
// of CIs that reports identified as one thing. MergeCIs or deleting one of
// the CIs closes a conflict.
func (s *Service) IdentityConflicts(ctx context.Context, p store.PageRequest) (store.Page[store.IdentityConflict], error) {
	if err := auth.Check(ctx, auth.KindConflict, auth.Read); err != nil {
		return store.Page[store.IdentityConflict]{}, err
	}
	return s.st.Conflicts(ctx, p)
}

// MergeResult is the outcome of MergeCIs.
type MergeResult struct {
	// Survivor is the CI as merged; Duplicate the retired duplicate.
	Survivor  store.CI
	Duplicate store.CI
	// MovedRelationships counts the duplicate's relationships now the
	// survivor's.
	MovedRelationships int
}

// MergeCIs merges the CI duplicate into the CI survivor, two partial
// identities of one thing:
//
//   - The survivor keeps its values and takes those of the duplicate's
//     attributes it lacks; its class becomes the more specific of the two
//     (classes of which neither is a kind of the other cannot merge).
//   - Every identity key of the duplicate moves to the survivor, so later
//     reports with any of them identify the survivor.
//   - The duplicate's relationships move to the survivor (those the
//     survivor already has are kept as the survivor has them), and the
//     duplicate is retired with a DUPLICATE_OF relationship to the
//     survivor. Its history stays its own and is part of the survivor's
//     (see History).
//   - Open identity conflicts of the duplicate are closed.
//
// Everything is audited as actor. The CIs are written in one transaction
// and the relationships in the next ones; each step is idempotent, so a
// merge cut short is completed by running it again (a merged duplicate may
// be merged again only into its survivor, which moves what is left).
func (s *Service) MergeCIs(ctx context.Context, actor store.Actor, survivor, duplicate store.ID) (MergeResult, error) {
	if err := auth.Check(ctx, auth.KindCI, auth.Merge); err != nil {
		return MergeResult{}, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return MergeResult{}, err
	}
	if survivor == duplicate {
		return MergeResult{}, store.Invalid("duplicate", "must be another CI than survivor")
	}
	found, err := s.st.Nodes(ctx, store.KindCI, []store.ID{survivor, duplicate})
	if err != nil {
		return MergeResult{}, err
	}
	sv, ok := found[survivor]
	if !ok {
		return MergeResult{}, store.AtField("survivor", fmt.Errorf("no CI has this ID: %w", store.ErrNotFound))
	}
	dup, ok := found[duplicate]
	if !ok {
		return MergeResult{}, store.AtField("duplicate", fmt.Errorf("no CI has this ID: %w", store.ErrNotFound))
	}
	if _, merged := mergedInto(sv); merged {
		return MergeResult{}, store.Invalid("survivor", "is a duplicate already merged into another CI")
	}
	into, merged := mergedInto(dup)
	switch {
	case merged && into != survivor:
		return MergeResult{}, store.Invalid("duplicate", "is a duplicate already merged into another CI")
	case merged:
		// Merged already, maybe cut short: finish moving relationships.
		moved, err := s.finishMerge(ctx, actor, survivor, duplicate)
		return MergeResult{Survivor: sv, Duplicate: dup, MovedRelationships: moved}, err
	}
	m := s.modelFor(ctx, []string{sv.Class, dup.Class}, []string{DuplicateOf})
	class := sv.Class
	switch {
	case m.IsA(dup.Class, sv.Class):
		class = dup.Class
	case m.IsA(sv.Class, dup.Class):
	default:
		return MergeResult{}, store.Invalid("duplicate", "is a %s, which cannot merge into a %s: neither class is a kind of the other", dup.Class, sv.Class)
	}
	cls, ok := m.classes[class]
	if !ok {
		return MergeResult{}, store.Invalid("duplicate", "unknown class %q", clip(class))
	}
	decide := func(ex *store.CI, _ store.CIUpsert, source string) (store.Reconciled, error) {
		switch {
		case ex == nil:
			return store.Reconciled{}, fmt.Errorf("merge: %w", store.ErrNotFound)
		case ex.ID == duplicate:
			return retireDuplicate(*ex, survivor, source), nil
		case ex.ID == survivor:
			return mergeInto(cls, *ex, dup), nil
		}
		return store.Reconciled{}, fmt.Errorf("merge: unexpected CI %s", ex.ID)
	}
	items := []store.CIUpsert{{ID: duplicate, Class: dup.Class}, {ID: survivor, Class: sv.Class}}
	res, err := s.st.UpsertNodes(ctx, actor, store.UpsertBatch{Items: items, Reconcile: decide, Atomic: true})
	if err != nil {
		var ie *store.ItemError
		if errors.As(err, &ie) {
			field := []string{"duplicate", "survivor"}[min(max(ie.Index, 0), 1)]
			if errors.Is(ie.Err, store.ErrNotFound) {
				return MergeResult{}, store.AtField(field, fmt.Errorf("no CI has this ID: %w", store.ErrNotFound))
			}
			return MergeResult{}, store.PrefixField(unprefix(ie.Err, fmt.Sprintf("items[%d]", ie.Index)), field)
		}
		return MergeResult{}, err
	}
	moved, err := s.finishMerge(ctx, actor, survivor, duplicate)
	if err != nil {
		return MergeResult{}, err
	}
	return MergeResult{Survivor: res[1].Node, Duplicate: res[0].Node, MovedRelationships: moved}, nil
}

// finishMerge moves the relationships of a merged duplicate and closes its
// conflicts; both are idempotent.
func (s *Service) finishMerge(ctx context.Context, actor store.Actor, survivor, duplicate store.ID) (int, error) {
	moved, err := s.moveRelationships(ctx, actor, survivor, duplicate)
	if err != nil {
		return 0, err
	}
	if err := s.st.ResolveConflicts(ctx, []store.ID{duplicate}); err != nil {
		return 0, fmt.Errorf("close the identity conflicts of the duplicate: %w", err)
	}
	return moved, nil
}

// mergedInto returns the survivor a duplicate MergeCIs retired was merged
// into, and whether ci is such a duplicate.
func mergedInto(ci store.CI) (store.ID, bool) {
	for _, k := range ci.Keys {
		if store.KeyRule(k) == duplicateRule {
			v := strings.SplitN(k, "|", 3)[2]
			_, into, _ := strings.Cut(v, ">")
			return store.ID(into), true
		}
	}
	return "", false
}

// retireDuplicate is what the duplicate of a merge becomes: retired, with
// only its own duplicate key, so that its keys can move to the survivor.
func retireDuplicate(ex store.CI, survivor store.ID, source string) store.Reconciled {
	r, _ := retire(&ex, store.CIUpsert{}, source) // never fails for a stored CI
	r.Changes = append(r.Changes, store.FieldChange{Field: "duplicate_of", After: string(survivor)})
	family, _, _ := strings.Cut(firstOr(ex.Keys, "CI|"), "|")
	r.Keys = []string{family + "|" + duplicateRule + "|" + string(ex.ID) + ">" + string(survivor)}
	return r
}

// mergeInto is what the survivor of a merge becomes: its own values, the
// duplicate's where it has none, the class cls, and the keys of both.
func mergeInto(cls *Class, ex store.CI, dup store.CI) store.Reconciled {
	r := store.Reconciled{Class: cls.Def.Name, Attributes: store.Attributes{}, Sources: map[string]string{}}
	for k, v := range ex.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range ex.Sources {
		r.Sources[k] = v
	}
	if cls.Def.Name != ex.Class {
		r.Changes = append(r.Changes, store.FieldChange{Field: "class", Before: ex.Class, After: cls.Def.Name})
	}
	for _, k := range sortedKeys(dup.Attributes) {
		if _, has := r.Attributes[k]; has || k == "status" {
			continue
		}
		r.Attributes[k] = dup.Attributes[k]
		if src, ok := dup.Sources[k]; ok {
			r.Sources[k] = src
		}
		r.Changes = append(r.Changes, store.FieldChange{Field: k, After: dup.Attributes[k]})
	}
	r.Changes = append(r.Changes, store.FieldChange{Field: "merged_from", After: string(dup.ID)})
	r.Keys = cls.Keys(r.Attributes)
	for _, k := range dup.Keys {
		if !slices.Contains(r.Keys, k) && store.KeyRule(k) != duplicateRule {
			r.Keys = append(r.Keys, k)
		}
	}
	return r
}

func firstOr(list []string, def string) string {
	if len(list) == 0 {
		return def
	}
	return list[0]
}

// moveRelationships gives the survivor the duplicate's relationships (but
// those it already has), links the duplicate to it with DUPLICATE_OF, and
// deletes the duplicate's other relationships. It returns how many moved.
func (s *Service) moveRelationships(ctx context.Context, actor store.Actor, survivor, duplicate store.ID) (int, error) {
	of, err := s.st.RelationshipsOf(ctx, []store.ID{survivor, duplicate}, store.Both, nil)
	if err != nil {
		return 0, err
	}
	has := map[store.RelationshipKey]bool{}
	for _, r := range of[survivor] {
		has[r.Key()] = true
	}
	var create []store.RelationshipInput
	var remove []store.ID
	for _, r := range of[duplicate] {
		if r.Type == DuplicateOf {
			continue
		}
		remove = append(remove, r.ID)
		k := r.Key()
		if k.Source == duplicate {
			k.Source = survivor
		}
		if k.Target == duplicate {
			k.Target = survivor
		}
		if k.Source == k.Target || has[k] {
			continue // a loop on the survivor, or a relationship it has
		}
		has[k] = true
		create = append(create, store.RelationshipInput{Type: k.Type, Source: k.Source, Target: k.Target, Attributes: r.Attributes})
	}
	create = append(create, store.RelationshipInput{Type: DuplicateOf, Source: duplicate, Target: survivor})
	for start := 0; start < len(create); start += store.MaxBatch {
		if _, err := s.st.CreateRelationships(ctx, actor, create[start:min(start+store.MaxBatch, len(create))], true); err != nil {
			return 0, fmt.Errorf("move relationships: %w", err)
		}
	}
	for start := 0; start < len(remove); start += store.MaxBatch {
		if _, err := s.st.DeleteRelationships(ctx, actor, remove[start:min(start+store.MaxBatch, len(remove))]); err != nil {
			return 0, fmt.Errorf("move relationships: %w", err)
		}
	}
	return len(create) - 1, nil
}

// History returns the audit records of a CI, of its relationships, and of
// the duplicates merged into it, newest first.
func (s *Service) History(ctx context.Context, id store.ID, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	if err := auth.Check(ctx, auth.KindAudit, auth.Read); err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	objects := []string{string(id)}
	of, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.In, []string{DuplicateOf})
	if err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	for _, r := range of[id] {
		if len(objects) == store.MaxAuditObjects {
			break
		}
		objects = append(objects, string(r.Source))
	}
	return s.st.Audit(ctx, store.AuditFilter{Objects: objects}, p)
}
