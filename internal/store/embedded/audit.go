package embedded

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/skein-cmdb/skein/internal/store"
)

// auditRow appends the bulkAudit values of one audit record to args.
func (w *wtx) auditRow(args []any, actor store.Actor, kind store.ObjectKind, object string, action store.Action, changes []store.FieldChange) []any {
	w.buf = appendChanges(w.buf[:0], changes)
	return append(args, string(store.NewID()), w.nowNs, actor.Name, actor.Source,
		string(kind), object, string(action), string(w.buf))
}

// History returns the audit records of one object, newest first.
func (s *Store) History(ctx context.Context, object string, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	var page store.Page[store.AuditRecord]
	size, err := p.PageSize()
	if err != nil {
		return page, err
	}
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return page, err
	}
	// The cursor key is "<unix nanos>/<record id>" of the last record.
	var afterTime int64
	var afterID string
	if after != "" {
		ts, id, ok := strings.Cut(after, "/")
		n, perr := strconv.ParseInt(ts, 10, 64)
		if !ok || perr != nil || id == "" {
			return page, store.Invalid("after", "not a cursor returned by this API")
		}
		afterTime, afterID = n, id
	}
	if err := s.usable(ctx); err != nil {
		return page, err
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, dbErr("history", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM audit WHERE object = ?", object).Scan(&page.Total); err != nil {
		return page, dbErr("history", err)
	}
	q := "SELECT id, time, actor, source, kind, action, changes FROM audit WHERE object = ?"
	args := []any{object}
	if after != "" {
		q += " AND (time < ? OR (time = ? AND id < ?))"
		args = append(args, afterTime, afterTime, afterID)
	}
	q += " ORDER BY time DESC, id DESC LIMIT ?"
	args = append(args, size+1)
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return page, dbErr("history", err)
	}
	defer rows.Close()
	var changes sql.RawBytes
	for rows.Next() {
		var r store.AuditRecord
		var ns int64
		var kind, action string
		if err := rows.Scan(&r.ID, &ns, &r.Actor.Name, &r.Actor.Source, &kind, &action, &changes); err != nil {
			return page, dbErr("history", err)
		}
		if len(page.Items) == size {
			page.HasNext = true
			break
		}
		r.Time, r.Kind, r.Object, r.Action = fromNanos(ns), store.ObjectKind(kind), object, store.Action(action)
		if r.Changes, err = decodeChanges(changes); err != nil {
			return page, corrupt("changes of audit record "+string(r.ID), err)
		}
		page.Items = append(page.Items, r)
	}
	if err := rows.Err(); err != nil {
		return page, dbErr("history", err)
	}
	page.Cursors = make([]string, len(page.Items))
	for i, r := range page.Items {
		page.Cursors[i] = store.EncodeCursor(strconv.FormatInt(r.Time.UnixNano(), 10) + "/" + string(r.ID))
	}
	if n := len(page.Items); n > 0 {
		page.EndCursor = page.Cursors[n-1]
	}
	return page, nil
}
