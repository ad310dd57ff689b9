package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/skein-cmdb/skein/internal/store"
)

// SaveRun stores a discovery run (see store.SyncStore).
func (s *Store) SaveRun(ctx context.Context, r store.SyncRun) error {
	data, err := store.EncodeRun(r)
	if err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx, _ *patch) error {
		if _, err := w.conn.ExecContext(context.WithoutCancel(ctx),
			"INSERT INTO sync_runs(number, data) VALUES (?, ?) ON CONFLICT(number) DO UPDATE SET data = excluded.data", r.Number, data); err != nil {
			return dbErr("save run", err)
		}
		return nil
	})
}

// LoadRun reads a discovery run.
func (s *Store) LoadRun(ctx context.Context, n int64) (store.SyncRun, error) {
	if err := s.usable(ctx); err != nil {
		return store.SyncRun{}, err
	}
	var data string
	err := s.rdb.QueryRowContext(ctx, "SELECT data FROM sync_runs WHERE number = ?", n).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.SyncRun{}, fmt.Errorf("no run %d: %w", n, store.ErrNotFound)
	case err != nil:
		return store.SyncRun{}, dbErr("load run", err)
	}
	r, err := store.DecodeRun(data)
	if err != nil {
		return store.SyncRun{}, corrupt(fmt.Sprintf("run %d", n), err)
	}
	return r, nil
}

// MarkScope records the run that last reported members of a scope.
func (s *Store) MarkScope(ctx context.Context, scope store.ScopeRef, run int64, members []string) error {
	// "WHERE true": ON CONFLICT belongs to the INSERT (see RecordConflicts).
	return s.scopeWrite(ctx, "mark scope", scope, run, members, `INSERT INTO scope_members(source, scope, member, run)
SELECT ?1, ?2, value, ?3 FROM json_each(?4) WHERE true
ON CONFLICT (source, scope, member) DO UPDATE SET run = max(run, excluded.run)`)
}

// scopeWrite runs one statement over members of scope in the writer: q
// takes the source, the scope's name, run and the members as a JSON list.
func (s *Store) scopeWrite(ctx context.Context, op string, scope store.ScopeRef, run int64, members []string, q string) error {
	if err := store.CheckScopeMembers(scope, members); err != nil {
		return err
	}
	if len(members) == 0 {
		return nil
	}
	arg, err := json.Marshal(members)
	if err != nil {
		return fmt.Errorf("embedded: %s: %w", op, err)
	}
	return s.write(ctx, func(w *wtx, _ *patch) error {
		if _, err := w.conn.ExecContext(context.WithoutCancel(ctx), q, scope.Source, scope.Name, run, string(arg)); err != nil {
			return dbErr(op, err)
		}
		return nil
	})
}

// ScopeMembers returns a page of a scope's members.
func (s *Store) ScopeMembers(ctx context.Context, scope store.ScopeRef, after string, limit int) ([]store.ScopeMember, error) {
	if err := store.CheckScopePage(limit); err != nil {
		return nil, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT member, run FROM scope_members
WHERE source = ? AND scope = ? AND member > ? ORDER BY member LIMIT ?`, scope.Source, scope.Name, after, limit)
	if err != nil {
		return nil, dbErr("scope members", err)
	}
	defer rows.Close()
	out := []store.ScopeMember{}
	for rows.Next() {
		var m store.ScopeMember
		if err := rows.Scan(&m.Member, &m.Run); err != nil {
			return nil, dbErr("scope members", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("scope members", err)
	}
	return out, nil
}

// ForgetScope deletes members a later run did not mark again.
func (s *Store) ForgetScope(ctx context.Context, scope store.ScopeRef, members []string, before int64) error {
	return s.scopeWrite(ctx, "forget scope", scope, before, members, `DELETE FROM scope_members
WHERE source = ?1 AND scope = ?2 AND run < ?3 AND member IN (SELECT value FROM json_each(?4))`)
}
