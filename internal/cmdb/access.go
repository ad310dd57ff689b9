package cmdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Reads and writes an API makes by ID, and the audit trail. Like every
// service method, each checks the caller's permission (auth.Check) and
// its input itself, so an API only parses its arguments and shapes the
// answer.

// CIs returns the CIs with the given ids (absent ids are absent from the
// map), for a caller who may read CIs; at most store.MaxBatch ids, named
// "ids".
func (s *Service) CIs(ctx context.Context, ids []store.ID) (map[store.ID]store.CI, error) {
	return s.Nodes(ctx, KindCI, ids)
}

// Relationships returns the relationships with the given ids (absent ids
// are absent from the map), for a caller who may read relationships; at
// most store.MaxBatch ids, named "ids".
func (s *Service) Relationships(ctx context.Context, ids []store.ID) (map[store.ID]store.Relationship, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return nil, err
	}
	if len(ids) > store.MaxBatch {
		return nil, store.Invalid("ids", "at most %d ids", store.MaxBatch)
	}
	return s.st.Relationships(ctx, ids)
}

// DeleteRelationships deletes relationships by ID. Results follow input
// order (an unknown ID is StatusNotFound); 1 to store.MaxBatch ids, named
// "ids".
func (s *Service) DeleteRelationships(ctx context.Context, actor store.Actor, ids []store.ID) ([]store.RelationshipResult, error) {
	actor, err := batchWriter(ctx, actor, auth.KindRelationship, auth.Delete, "ids", len(ids))
	if err != nil {
		return nil, err
	}
	return s.st.DeleteRelationships(ctx, actor, ids)
}

// auditKinds are the kinds of object the audit trail records: every kind
// of node the model declares (CIs, people, groups, records), then
// relationships, classes, relationship types and tokens.
func (m *Model) auditKinds() []store.ObjectKind {
	out := make([]store.ObjectKind, 0, len(m.Kinds())+4)
	for _, k := range m.Kinds() {
		out = append(out, store.ObjectKind(k))
	}
	return append(out, store.KindRelationship, store.KindClass, store.KindRelationshipType, store.KindToken)
}

// maxAuditName bounds the actor and source an audit filter names (both
// are identifiers or token names, far shorter), and half an object's name.
const maxAuditName = 255

// Audit returns a page of the audit trail, newest first, for a caller who
// may read it: of the kinds of object the caller may read (auth.MayReadAudit;
// asking for another by name is FORBIDDEN). Errors name the fields of f as
// "filter.objects[i]", "filter.kinds[i]", "filter.actor", "filter.source",
// "filter.until".
func (s *Service) Audit(ctx context.Context, f store.AuditFilter, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	if err := auth.Check(ctx, auth.KindAudit, auth.Read); err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	f, err := auditFilter(ctx, f, s.Model().auditKinds())
	if err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	return s.st.Audit(ctx, f, p)
}

// auditFilter checks f and narrows it to the kinds the caller may read.
func auditFilter(ctx context.Context, f store.AuditFilter, kinds []store.ObjectKind) (store.AuditFilter, error) {
	id, isCaller := auth.Caller(ctx)
	mayRead := func(k store.ObjectKind) bool { return !isCaller || auth.MayReadAudit(id.Role, auth.Kind(k)) }
	if len(f.Objects) > store.MaxAuditObjects {
		return f, store.Invalid("filter.objects", "at most %d objects", store.MaxAuditObjects)
	}
	for i, o := range f.Objects {
		if o == "" || len(o) > maxAuditName*2 {
			return f, store.Invalid(fmt.Sprintf("filter.objects[%d]", i), "must be an ID or name of 1 to %d bytes", maxAuditName*2)
		}
	}
	for i, k := range f.Kinds {
		if !slices.Contains(kinds, k) {
			return f, store.Invalid(fmt.Sprintf("filter.kinds[%d]", i), "%q is not a kind of audited object; allowed: %s", clipName(string(k)), auditKindList(kinds))
		}
		if !mayRead(k) {
			return f, auth.Forbidden(id.Role, fmt.Sprintf("audit records of kind %s", k))
		}
	}
	if len(f.Kinds) == 0 {
		for _, k := range kinds {
			if mayRead(k) {
				f.Kinds = append(f.Kinds, k)
			}
		}
		if len(f.Kinds) == len(kinds) {
			f.Kinds = nil // every kind: no filter
		}
	}
	if len(f.Actor) > maxAuditName {
		return f, store.Invalid("filter.actor", "at most %d bytes", maxAuditName)
	}
	if len(f.Source) > maxAuditName {
		return f, store.Invalid("filter.source", "at most %d bytes", maxAuditName)
	}
	f.Since, f.Until = f.Since.UTC(), f.Until.UTC()
	if err := f.Check(); err != nil {
		return f, err
	}
	return f, nil
}

func auditKindList(kinds []store.ObjectKind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// AuditRecord returns the audit record with the given ID, for a caller who
// may read the audit trail, as Audit would: false when there is no such
// record or the caller may not read records of its kind (so that the
// answer does not tell which).
func (s *Service) AuditRecord(ctx context.Context, recordID store.ID) (store.AuditRecord, bool, error) {
	if err := auth.Check(ctx, auth.KindAudit, auth.Read); err != nil {
		return store.AuditRecord{}, false, err
	}
	page, err := s.st.Audit(ctx, store.AuditFilter{ID: recordID}, store.PageRequest{First: 1})
	if err != nil || len(page.Items) == 0 {
		return store.AuditRecord{}, false, err
	}
	a := page.Items[0]
	if id, ok := auth.Caller(ctx); ok && !auth.MayReadAudit(id.Role, auth.Kind(a.Kind)) {
		return store.AuditRecord{}, false, nil
	}
	return a, true, nil
}

// clipName shortens a name the client wrote for an error message, as the
// API did before the audit filter's checks moved here.
func clipName(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
