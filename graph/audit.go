package graph

import (
	"context"
	"strings"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// auditFilterIn converts the API's filter to the store's: objects named by
// API ID become store IDs. The service checks it (cmdb.Service.Audit).
func auditFilterIn(in *model.AuditFilter) store.AuditFilter {
	var f store.AuditFilter
	if in == nil {
		return f
	}
	for _, o := range in.Objects {
		f.Objects = append(f.Objects, auditObjectIn(o))
	}
	for _, k := range in.Kinds {
		f.Kinds = append(f.Kinds, store.ObjectKind(k))
	}
	f.Actor, f.Source = deref(in.Actor, ""), deref(in.Source, "")
	if in.Since != nil {
		f.Since = *in.Since
	}
	if in.Until != nil {
		f.Until = *in.Until
	}
	return f
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
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
	case cmdb.KindPerson:
		return globalID(typePerson, store.ID(object))
	case cmdb.KindGroup:
		return globalID(typeGroup, store.ID(object))
	}
	if typ, ok := recordTypes[string(kind)]; ok {
		return globalID(typ, store.ID(object))
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
// such record or the caller may not read its kind (cmdb.Service.AuditRecord).
func (r *queryResolver) auditRecord(ctx context.Context, id store.ID) (model.Node, error) {
	a, ok, err := r.CMDB.AuditRecord(ctx, id)
	if !ok || err != nil {
		return nil, err
	}
	return auditView(a), nil
}
