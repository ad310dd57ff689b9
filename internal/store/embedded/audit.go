package embedded

import (
	"context"
	"database/sql"
	"strings"

	"github.com/skein-cmdb/skein/internal/store"
)

// auditRow appends the bulkAudit values of one audit record to args.
func (w *wtx) auditRow(args []any, actor store.Actor, kind store.ObjectKind, object string, action store.Action, changes []store.FieldChange) []any {
	w.buf = store.AppendChanges(w.buf[:0], changes)
	var refs [store.MaxAuditRelated]any
	for i, r := range store.AuditRelated(kind, object) {
		refs[i] = r
	}
	return append(args, string(store.NewID()), w.nowNs, actor.Name, actor.Source,
		string(kind), object, string(action), string(w.buf), refs[0], refs[1])
}

// auditRecordRow appends the bulkAudit values of the audit record r.
func (w *wtx) auditRecordRow(args []any, r store.AuditRecord) []any {
	w.buf = store.AppendChanges(w.buf[:0], r.Changes)
	var refs [store.MaxAuditRelated]any
	for i, ref := range r.Related {
		if i < len(refs) {
			refs[i] = ref
		}
	}
	return append(args, string(r.ID), r.Time.UnixNano(), r.Actor.Name, r.Actor.Source,
		string(r.Kind), r.Object, string(r.Action), string(w.buf), refs[0], refs[1])
}

// History returns the audit records of one object and of those related to
// it, newest first.
func (s *Store) History(ctx context.Context, object string, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	return s.Audit(ctx, store.AuditFilter{Objects: []string{object}}, p)
}

// Audit returns a page of the audit records matching f, newest first.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	var page store.Page[store.AuditRecord]
	if err := f.Check(); err != nil {
		return page, err
	}
	size, err := p.PageSize()
	if err != nil {
		return page, err
	}
	afterT, afterID, after, err := store.DecodeAuditCursor(p.After)
	if err != nil {
		return page, err
	}
	afterTime := afterT.UnixNano()
	// The WHERE clause is made of constant fragments; values are parameters.
	var where []string
	var args []any
	if f.ID != "" {
		where, args = append(where, "id = ?"), append(args, string(f.ID))
	}
	if len(f.Objects) > 0 {
		objs := jsonList(f.Objects)
		where = append(where, `(object IN (SELECT value FROM json_each(?)) OR ref1 IN (SELECT value FROM json_each(?))
			OR ref2 IN (SELECT value FROM json_each(?)))`)
		args = append(args, objs, objs, objs)
	}
	if len(f.Kinds) > 0 {
		where, args = append(where, "kind IN (SELECT value FROM json_each(?))"), append(args, jsonList(f.Kinds))
	}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Source != "" {
		where, args = append(where, "source = ?"), append(args, f.Source)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, clampNanos(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, clampNanos(f.Until))
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	if err := s.usable(ctx); err != nil {
		return page, err
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, dbErr("audit", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.queryRow(ctx, tx, "SELECT count(*) FROM audit"+cond, args...).Scan(&page.Total); err != nil {
		return page, dbErr("audit", err)
	}
	q := "SELECT id, time, actor, source, kind, object, action, changes, ref1, ref2 FROM audit"
	if after {
		where = append(where, "(time < ? OR (time = ? AND id < ?))")
		args = append(args, afterTime, afterTime, afterID)
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time DESC, id DESC LIMIT ?"
	args = append(args, size+1)
	rows, err := s.query(ctx, tx, q, args...)
	if err != nil {
		return page, dbErr("audit", err)
	}
	defer rows.Close()
	var changes sql.RawBytes
	for rows.Next() {
		var r store.AuditRecord
		var ns int64
		var kind, action string
		var ref1, ref2 sql.NullString
		if err := rows.Scan(&r.ID, &ns, &r.Actor.Name, &r.Actor.Source, &kind, &r.Object, &action, &changes, &ref1, &ref2); err != nil {
			return page, dbErr("audit", err)
		}
		if len(page.Items) == size {
			page.HasNext = true
			break
		}
		r.Time, r.Kind, r.Action = fromNanos(ns), store.ObjectKind(kind), store.Action(action)
		for _, ref := range []sql.NullString{ref1, ref2} {
			if ref.Valid {
				r.Related = append(r.Related, ref.String)
			}
		}
		if r.Changes, err = store.DecodeChanges(changes); err != nil {
			return page, corrupt("changes of audit record "+string(r.ID), err)
		}
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return page, dbErr("audit", err)
	}
	if page.Items == nil {
		page.Items = []store.AuditRecord{}
	}
	page.SetCursors(func(a store.AuditRecord) string { return store.EncodeAuditCursor(a.Time, a.ID) })
	return page, nil
}
