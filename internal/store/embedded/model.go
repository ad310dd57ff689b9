package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/skein-cmdb/skein/internal/store"
)

// ModelExtensions returns every registered extension, oldest first.
func (s *Store) ModelExtensions(ctx context.Context) ([]store.ModelExtension, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT kind, name, definition, created_at FROM model_extensions ORDER BY created_at, id")
	if err != nil {
		return nil, dbErr("read model extensions", err)
	}
	defer rows.Close()
	out := []store.ModelExtension{}
	for rows.Next() {
		var e store.ModelExtension
		var kind string
		var ns int64
		if err := rows.Scan(&kind, &e.Name, &e.Definition, &ns); err != nil {
			return nil, dbErr("read model extensions", err)
		}
		e.Kind, e.CreatedAt = store.ObjectKind(kind), fromNanos(ns)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read model extensions", err)
	}
	return out, nil
}

// SaveModelExtension persists a new extension with its audit record.
func (s *Store) SaveModelExtension(ctx context.Context, actor store.Actor, ext store.ModelExtension) error {
	switch {
	case ext.Kind != store.KindClass && ext.Kind != store.KindRelationshipType:
		return store.Invalid("kind", "must be %q or %q", store.KindClass, store.KindRelationshipType)
	case !store.ValidIdentifier(ext.Name):
		return store.Invalid("name", "%q is not a valid name", clip(ext.Name))
	case len(ext.Definition) == 0:
		return store.Invalid("definition", "must not be empty")
	}
	return s.write(ctx, func(w *wtx, _ *patch) error {
		if _, err := w.st.insertExt.Exec(string(ext.Kind), ext.Name, ext.Definition, w.nowNs); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%s %q is already registered: %w", ext.Kind, ext.Name, store.ErrConflict)
			}
			return dbErr("save model extension", err)
		}
		audit := w.auditRow(nil, actor, ext.Kind, ext.Name, store.ActionCreate,
			[]store.FieldChange{{Field: "definition", After: string(ext.Definition)}})
		if err := w.insert(bulkAudit, audit); err != nil {
			return dbErr("save model extension", err)
		}
		return nil
	})
}

// RetireModelExtension removes a registered extension with its audit
// record, unless a CI still has the class or a relationship the type.
func (s *Store) RetireModelExtension(ctx context.Context, actor store.Actor, kind store.ObjectKind, name string) error {
	var inUse string
	switch kind {
	case store.KindClass:
		inUse = "SELECT count(*) FROM cis WHERE class = ?"
	case store.KindRelationshipType:
		inUse = "SELECT count(*) FROM relationships WHERE type = (SELECT id FROM rel_types WHERE name = ?)"
	default:
		return store.Invalid("kind", "must be %q or %q", store.KindClass, store.KindRelationshipType)
	}
	if !store.ValidIdentifier(name) {
		return store.Invalid("name", "%q is not a valid name", clip(name))
	}
	return s.write(ctx, func(w *wtx, _ *patch) error {
		var def []byte
		err := w.conn.QueryRowContext(ctx, "SELECT definition FROM model_extensions WHERE kind = ? AND name = ?", string(kind), name).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%s %s is not a registered extension: %w", kind, name, store.ErrNotFound)
		}
		if err != nil {
			return dbErr("retire model extension", err)
		}
		var n int64
		if err := w.conn.QueryRowContext(ctx, inUse, name).Scan(&n); err != nil {
			return dbErr("retire model extension", err)
		}
		if n > 0 {
			what := "CIs have this class"
			if kind == store.KindRelationshipType {
				what = "relationships have this type"
			}
			return fmt.Errorf("%s %s is in use: %d %s; delete them first: %w", kind, name, n, what, store.ErrConflict)
		}
		if _, err := w.conn.ExecContext(ctx, "DELETE FROM model_extensions WHERE kind = ? AND name = ?", string(kind), name); err != nil {
			return dbErr("retire model extension", err)
		}
		audit := w.auditRow(nil, actor, kind, name, store.ActionDelete,
			[]store.FieldChange{{Field: "definition", Before: string(def)}})
		if err := w.insert(bulkAudit, audit); err != nil {
			return dbErr("retire model extension", err)
		}
		return nil
	})
}
