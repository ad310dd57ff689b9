package embedded

import (
	"context"
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
