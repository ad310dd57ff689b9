package cmdb

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Retired is the status of a retired CI.
const Retired = "retired"

// RetireCIs retires CIs: each becomes status "retired", set by the
// actor's source whatever the precedence of the source that set the status
// before (retiring is a deliberate act). Nothing else changes: the CI keeps
// its attributes, its relationships (impact analysis counts a retired CI
// as unavailable, and every relationship of it is marked by its end's
// status), its history, and its identity keys, so that a source reporting
// the same server again finds its record instead of creating a second one
// (its status then stays retired unless the report says otherwise, and the
// change is audited). Results follow ids: updated (retired now),
// unchanged (retired already) or not_found. PurgeCIs deletes for good.
func (s *Service) RetireCIs(ctx context.Context, actor store.Actor, ids []store.ID) ([]store.UpsertResult, error) {
	if err := auth.Check(ctx, auth.KindCI, auth.Delete); err != nil {
		return nil, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return nil, err
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	// One write: the planner finds each CI by ID in its transaction, and
	// one that does not exist is a not_found item.
	items := make([]store.CIUpsert, len(ids))
	for i, id := range ids {
		items[i] = store.CIUpsert{ID: id}
	}
	res, err := s.st.UpsertNodes(ctx, actor, store.UpsertBatch{Items: items, Reconcile: retire})
	if err != nil {
		return nil, err
	}
	for i, r := range res {
		if r.Status == store.StatusNotFound {
			res[i].Err = store.AtField(fmt.Sprintf("ids[%d]", i), fmt.Errorf("CI %s: %w", ids[i], store.ErrNotFound))
		}
	}
	return res, nil
}

// retire is the decision of RetireCIs: the CI as stored, status retired.
func retire(ex *store.CI, in store.CIUpsert, source string) (store.Reconciled, error) {
	if ex == nil {
		return store.Reconciled{}, fmt.Errorf("CI %s: %w", in.ID, store.ErrNotFound)
	}
	r := store.Reconciled{Class: ex.Class, Attributes: store.Attributes{}, Sources: map[string]string{}, Keys: slices.Clone(ex.Keys)}
	for k, v := range ex.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range ex.Sources {
		r.Sources[k] = v
	}
	if old := ex.Attributes["status"]; old != Retired {
		r.Attributes["status"], r.Sources["status"] = Retired, source
		r.Changes = []store.FieldChange{{Field: "status", Before: old, After: Retired}}
	}
	return r, nil
}

// ReferencedError is why PurgeCIs refuses a CI that nodes of another kind
// (people, groups, records) still point at. It wraps store.ErrConflict.
type ReferencedError struct {
	CI store.ID
	// By names up to five referring relationships, as "TYPE from <kind> <id>".
	By []string
	// More counts the referring relationships not named.
	More int
}

func (e *ReferencedError) Error() string {
	more := ""
	if e.More > 0 {
		more = fmt.Sprintf(" and %d more", e.More)
	}
	return fmt.Sprintf("CI %s is referenced (%s%s): purging it would cut what refers to it; retire it instead, or purge with force",
		e.CI, strings.Join(e.By, ", "), more)
}

// Unwrap returns store.ErrConflict.
func (e *ReferencedError) Unwrap() error { return store.ErrConflict }

// PurgeCIs deletes CIs for good, with their relationships and identity
// keys; the audit trail keeps a delete record for each (admins only). A CI
// that a node of another kind (a person, a group, a record) points at is
// refused with a *ReferencedError, unless force: purging it would leave
// that record pointing at nothing. Relationships with other CIs do not
// hold a purge back. Results follow ids: deleted, conflict or not_found.
func (s *Service) PurgeCIs(ctx context.Context, actor store.Actor, ids []store.ID, force bool) ([]store.UpsertResult, error) {
	if err := auth.Check(ctx, auth.KindCI, auth.Purge); err != nil {
		return nil, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return nil, err
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	results := make([]store.UpsertResult, len(ids))
	purge := ids
	var index []int
	if !force {
		refused, err := s.referenced(ctx, ids)
		if err != nil {
			return nil, err
		}
		purge = nil
		for i, id := range ids {
			if e := refused[id]; e != nil {
				results[i] = store.UpsertResult{Status: store.StatusConflict, Err: store.AtField(fmt.Sprintf("ids[%d]", i), e)}
				continue
			}
			purge = append(purge, id)
			index = append(index, i)
		}
	} else {
		for i := range ids {
			index = append(index, i)
		}
	}
	if len(purge) == 0 {
		return results, nil
	}
	res, err := s.st.DeleteNodes(ctx, actor, store.KindCI, purge)
	if err != nil {
		return nil, err
	}
	var gone []store.ID
	for j, r := range res {
		i := index[j]
		if r.Status == store.StatusNotFound {
			r.Err = store.AtField(fmt.Sprintf("ids[%d]", i), fmt.Errorf("CI %s: %w", ids[i], store.ErrNotFound))
		}
		if r.Status == store.StatusDeleted {
			gone = append(gone, r.Node.ID)
		}
		results[i] = r
	}
	// The purges are committed: a failure to close their conflicts must
	// not report them as failed. A conflict left open names a CI that is
	// gone; the next purge or merge of its pair closes it.
	if err := s.st.ResolveConflicts(ctx, gone); err != nil {
		slog.WarnContext(ctx, "close the identity conflicts of purged CIs", "err", err)
	}
	return results, nil
}

// referenced returns, for each of ids that a node of another kind points
// at, why it may not be purged.
//
// Only relationship types that may start at a class of another kind are
// read (a type that names no source classes joins CIs only), so a hub's
// thousands of dependents cost nothing here.
func (s *Service) referenced(ctx context.Context, ids []store.ID) (map[store.ID]*ReferencedError, error) {
	m := s.Model()
	var types []string
	for _, rt := range m.RelTypes() {
		if slices.ContainsFunc(rt.Def.Sources, func(c string) bool { return m.KindOf(c) != KindCI }) {
			types = append(types, rt.Def.Name)
		}
	}
	out := map[store.ID]*ReferencedError{}
	if len(types) == 0 {
		return out, nil
	}
	in, err := s.st.RelationshipsOf(ctx, ids, store.In, types)
	if err != nil {
		return nil, err
	}
	var from []store.ID
	for _, rels := range in {
		for _, r := range rels {
			from = append(from, r.Source)
		}
	}
	slices.Sort(from)
	from = slices.Compact(from)
	nodes := map[store.ID]store.CI{}
	for chunk := range slices.Chunk(from, store.MaxBatch) {
		got, err := s.st.Nodes(ctx, store.AnyKind, chunk)
		if err != nil {
			return nil, err
		}
		for id, n := range got {
			nodes[id] = n
		}
	}
	for _, id := range ids {
		for _, r := range in[id] {
			// A source gone meanwhile is named by the type's source
			// classes.
			kind := otherKind(m, r.Type)
			if n, ok := nodes[r.Source]; ok {
				kind = string(n.Kind)
			}
			if kind == KindCI || kind == "" {
				continue
			}
			e := out[id]
			if e == nil {
				e = &ReferencedError{CI: id}
				out[id] = e
			}
			if len(e.By) < 5 {
				e.By = append(e.By, fmt.Sprintf("%s from %s %s", r.Type, kind, r.Source))
			} else {
				e.More++
			}
		}
	}
	return out, nil
}

// otherKind returns the kind of the first source class of relationship
// type name that is not a CI class ("" when none).
func otherKind(m *Model, name string) string {
	rt, ok := m.RelType(name)
	if !ok {
		return ""
	}
	for _, c := range rt.Def.Sources {
		if k := m.KindOf(c); k != KindCI && k != "" {
			return k
		}
	}
	return ""
}
