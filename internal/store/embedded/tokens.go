package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

const tokenCols = "id, name, role, hash, created_at, created_by, expires_at, revoked_at, sources"

// CreateToken stores a new token record with its audit record.
func (s *Store) CreateToken(ctx context.Context, actor store.Actor, t store.APIToken) error {
	if err := t.Check(); err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx, _ *patch) error {
		var n int
		if err := w.conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT count(*) FROM tokens").Scan(&n); err != nil {
			return dbErr("create token", err)
		}
		if err := store.CheckTokenCount(n); err != nil {
			return err
		}
		if _, err := w.conn.ExecContext(context.WithoutCancel(ctx), "INSERT INTO tokens("+tokenCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			t.ID, t.Name, t.Role, t.Hash, w.nowNs, actor.Name, nanosOrNull(t.ExpiresAt), nil, sourcesOrNull(t.Sources)); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("token %s already exists: %w", t.ID, store.ErrConflict)
			}
			return dbErr("create token", err)
		}
		audit := w.auditRow(nil, actor, store.KindToken, store.TokenObject(t.ID), store.ActionCreate, t.AuditChanges())
		if err := w.insert(bulkAudit, audit); err != nil {
			return dbErr("create token", err)
		}
		return nil
	})
}

// Token returns the record with the given ID.
func (s *Store) Token(ctx context.Context, id string) (store.APIToken, error) {
	if err := s.usable(ctx); err != nil {
		return store.APIToken{}, err
	}
	t, err := scanToken(s.rdb.QueryRowContext(ctx, "SELECT "+tokenCols+" FROM tokens WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %q: %w", clip(id), store.ErrNotFound)
	}
	if err != nil {
		return t, dbErr("read token", err)
	}
	return t, nil
}

// Tokens returns every record, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]store.APIToken, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+tokenCols+" FROM tokens ORDER BY created_at, id")
	if err != nil {
		return nil, dbErr("read tokens", err)
	}
	defer rows.Close()
	out := []store.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr("read tokens", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read tokens", err)
	}
	return out, nil
}

// RevokeToken marks a token revoked, with an audit record.
func (s *Store) RevokeToken(ctx context.Context, actor store.Actor, id string) (store.APIToken, error) {
	var out store.APIToken
	err := s.write(ctx, func(w *wtx, _ *patch) error {
		t, err := scanToken(w.conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT "+tokenCols+" FROM tokens WHERE id = ?", id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("token %q: %w", clip(id), store.ErrNotFound)
		}
		if err != nil {
			return dbErr("revoke token", err)
		}
		if !t.RevokedAt.IsZero() {
			out = t
			return nil
		}
		if _, err := w.conn.ExecContext(context.WithoutCancel(ctx), "UPDATE tokens SET revoked_at = ? WHERE id = ?", w.nowNs, id); err != nil {
			return dbErr("revoke token", err)
		}
		audit := w.auditRow(nil, actor, store.KindToken, store.TokenObject(id), store.ActionRevoke,
			[]store.FieldChange{{Field: "revoked_at", After: w.now}})
		if err := w.insert(bulkAudit, audit); err != nil {
			return dbErr("revoke token", err)
		}
		t.RevokedAt = w.now
		out = t
		return nil
	})
	return out, err
}

type rowScanner interface{ Scan(dest ...any) error }

func scanToken(r rowScanner) (store.APIToken, error) {
	var t store.APIToken
	var created int64
	var expires, revoked sql.NullInt64
	var sources sql.NullString
	if err := r.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &t.CreatedBy, &expires, &revoked, &sources); err != nil {
		return store.APIToken{}, err
	}
	if sources.Valid {
		if err := json.Unmarshal([]byte(sources.String), &t.Sources); err != nil {
			return store.APIToken{}, fmt.Errorf("token %s: sources: %w", t.ID, err)
		}
	}
	t.CreatedAt = fromNanos(created)
	if expires.Valid {
		t.ExpiresAt = fromNanos(expires.Int64)
	}
	if revoked.Valid {
		t.RevokedAt = fromNanos(revoked.Int64)
	}
	return t, nil
}

func sourcesOrNull(s []string) any {
	if len(s) == 0 {
		return nil
	}
	b, _ := json.Marshal(s) // a []string always marshals
	return string(b)
}

func nanosOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}
