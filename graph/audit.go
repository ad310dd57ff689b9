package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// auditKinds are the kinds of object the audit trail records, as the API
// names them.
var auditKinds = []store.ObjectKind{store.KindCI, store.KindRelationship, store.KindClass, store.KindRelationshipType, store.KindToken}

// maxAuditName bounds the actor and source a filter names (both are
// identifiers or token names, far shorter).
const maxAuditName = 255

// auditFilterIn converts the API's filter to the store's: objects named by
// API ID become store IDs, and kinds the role may not read are left out
// (asked for by name, they are FORBIDDEN).
func auditFilterIn(role auth.Role, in *model.AuditFilter) (store.AuditFilter, error) {
	var f store.AuditFilter
	if in == nil {
		in = &model.AuditFilter{}
	}
	if len(in.Objects) > store.MaxAuditObjects {
		return f, store.Invalid("filter.objects", "at most %d objects", store.MaxAuditObjects)
	}
	for i, o := range in.Objects {
		if o == "" || len(o) > maxAuditName*2 {
			return f, store.Invalid(fmt.Sprintf("filter.objects[%d]", i), "must be an ID or name of 1 to %d bytes", maxAuditName*2)
		}
		f.Objects = append(f.Objects, auditObjectIn(o))
	}
	for i, k := range in.Kinds {
		kind := store.ObjectKind(k)
		if !contains(auditKinds, kind) {
			return f, store.Invalid(fmt.Sprintf("filter.kinds[%d]", i), "%q is not a kind of audited object; allowed: %s", clip(k), kindList())
		}
		if !auth.MayReadAudit(role, auth.Kind(k)) {
			return f, auth.Forbidden(role, fmt.Sprintf("audit records of kind %s", k))
		}
		f.Kinds = append(f.Kinds, kind)
	}
	if len(f.Kinds) == 0 {
		for _, k := range auditKinds {
			if auth.MayReadAudit(role, auth.Kind(k)) {
				f.Kinds = append(f.Kinds, k)
			}
		}
		if len(f.Kinds) == len(auditKinds) {
			f.Kinds = nil // every kind: no filter
		}
	}
	for _, s := range []struct {
		field string
		in    *string
		out   *string
	}{{"filter.actor", in.Actor, &f.Actor}, {"filter.source", in.Source, &f.Source}} {
		if s.in == nil {
			continue
		}
		if len(*s.in) > maxAuditName {
			return f, store.Invalid(s.field, "at most %d bytes", maxAuditName)
		}
		*s.out = *s.in
	}
	if in.Since != nil {
		f.Since = in.Since.UTC()
	}
	if in.Until != nil {
		f.Until = in.Until.UTC()
	}
	if err := f.Check(); err != nil {
		return f, err
	}
	return f, nil
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

func kindList() string {
	names := make([]string, len(auditKinds))
	for i, k := range auditKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// auditObjectIn returns the audit trail's name of an object the API names:
// the store ID of a CI's or relationship's global ID, a token's audit
// object for a token ID, else the name itself (a class or relationship
// type).
func auditObjectIn(o string) string {
	if typ, id, err := parseGlobalID("", o); err == nil && typ != typeAuditRecord {
		return string(id)
	}
	if isTokenID(o) {
		return store.TokenObject(o)
	}
	return o
}

// isTokenID reports whether s has the form of a token's public ID (lower
// case letters and digits), which no class or relationship type name has.
func isTokenID(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// auditObjectOut returns how the API names the object of an audit record.
func auditObjectOut(kind store.ObjectKind, object string) string {
	switch kind {
	case store.KindCI:
		return globalID(typeCI, store.ID(object))
	case store.KindRelationship:
		return globalID(typeRelationship, store.ID(object))
	case store.KindToken:
		return strings.TrimPrefix(object, store.TokenObject(""))
	}
	return object
}

func auditView(a store.AuditRecord) *model.AuditRecord {
	v := &model.AuditRecord{
		ID: globalID(typeAuditRecord, a.ID), Time: a.Time, Actor: a.Actor.Name, Source: a.Actor.Source,
		Kind: string(a.Kind), Object: auditObjectOut(a.Kind, a.Object), Action: string(a.Action), Changes: []model.FieldChange{},
	}
	for _, c := range a.Changes {
		before, after := c.Before, c.After
		if a.Kind == store.KindRelationship && (c.Field == "source" || c.Field == "target") {
			// A relationship's ends are CIs: named as the API names them.
			before, after = ciIDOut(before), ciIDOut(after)
		}
		v.Changes = append(v.Changes, model.FieldChange{Field: c.Field, Before: valueOut(before), After: valueOut(after)})
	}
	return v
}

// ciIDOut returns the global ID of a CI's store ID held in v (nil stays
// nil).
func ciIDOut(v any) any {
	if s, ok := v.(string); ok && s != "" {
		return globalID(typeCI, store.ID(s))
	}
	return v
}

func auditConnection(page store.Page[store.AuditRecord]) *model.AuditConnection {
	conn := &model.AuditConnection{TotalCount: page.Total, Edges: make([]model.AuditEdge, len(page.Items)), PageInfo: &model.PageInfo{HasNextPage: page.HasNext}}
	for i, a := range page.Items {
		conn.Edges[i] = model.AuditEdge{Cursor: page.Cursors[i], Node: auditView(a)}
	}
	setPageInfo(conn.PageInfo, len(conn.Edges), func(i int) string { return conn.Edges[i].Cursor })
	return conn
}

// auditRecord answers node(id:) for an audit record: nil when there is no
// such record or the caller's role may not read its kind.
func (r *queryResolver) auditRecord(ctx context.Context, id store.ID) (model.Node, error) {
	page, err := r.Store.Audit(ctx, store.AuditFilter{ID: id}, store.PageRequest{First: 1})
	if err != nil || len(page.Items) == 0 {
		return nil, err
	}
	a := page.Items[0]
	if !auth.MayReadAudit(auth.FromContext(ctx).Role, auth.Kind(a.Kind)) {
		return nil, nil
	}
	return auditView(a), nil
}
