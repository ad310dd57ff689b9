package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/skein-cmdb/skein/internal/store"
)

// RecordConflicts opens or refreshes identity conflicts (see
// store.ConflictStore).
func (s *Store) RecordConflicts(ctx context.Context, cs []store.IdentityConflict) error {
	if len(cs) == 0 {
		return nil
	}
	if err := store.CheckConflicts(cs); err != nil {
		return err
	}
	// One statement for the batch: the pairs as a JSON array of rows. A
	// pair twice in the batch is inserted, then updated, as two calls would.
	rows := make([][5]any, len(cs))
	for i, c := range cs {
		rows[i] = [5]any{string(c.CIs[0]), string(c.CIs[1]), c.Class, c.Source, max(c.Count, 1)}
	}
	arg, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("embedded: record conflicts: %w", err)
	}
	return s.write(ctx, func(w *wtx, _ *patch) error {
		// "WHERE true" tells SQLite's parser that ON CONFLICT belongs to
		// the INSERT, not to a join of the SELECT.
		if _, err := w.conn.ExecContext(context.WithoutCancel(ctx), `INSERT INTO identity_conflicts(ci1, ci2, class, source, first_seen, last_seen, count)
SELECT value->>0, value->>1, value->>2, value->>3, ?1, ?1, value->>4 FROM json_each(?2) WHERE true
ON CONFLICT (ci1, ci2) DO UPDATE SET class = excluded.class, source = excluded.source,
	last_seen = excluded.last_seen, count = count + excluded.count`, w.nowNs, string(arg)); err != nil {
			return dbErr("record conflicts", err)
		}
		return nil
	})
}

// Conflicts returns a page of the open identity conflicts by CI pair.
func (s *Store) Conflicts(ctx context.Context, p store.PageRequest) (store.Page[store.IdentityConflict], error) {
	var page store.Page[store.IdentityConflict]
	size, err := p.PageSize()
	if err != nil {
		return page, err
	}
	a1, a2, err := store.DecodeConflictCursor(p.After)
	if err != nil {
		return page, err
	}
	if err := s.usable(ctx); err != nil {
		return page, err
	}
	// One read transaction: the total and the page see the same conflicts.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, dbErr("conflicts", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM identity_conflicts").Scan(&page.Total); err != nil {
		return page, dbErr("conflicts", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT ci1, ci2, class, source, first_seen, last_seen, count FROM identity_conflicts
WHERE ? = '' OR ci1 > ? OR (ci1 = ? AND ci2 > ?) ORDER BY ci1, ci2 LIMIT ?`, a1, a1, a1, a2, size+1)
	if err != nil {
		return page, dbErr("conflicts", err)
	}
	defer rows.Close()
	page.Items = []store.IdentityConflict{}
	for rows.Next() {
		var c store.IdentityConflict
		var c1, c2 string
		var first, last int64
		if err := rows.Scan(&c1, &c2, &c.Class, &c.Source, &first, &last, &c.Count); err != nil {
			return page, dbErr("conflicts", err)
		}
		if len(page.Items) == size {
			page.HasNext = true
			break
		}
		c.CIs = [2]store.ID{store.ID(c1), store.ID(c2)}
		c.FirstSeen, c.LastSeen = fromNanos(first), fromNanos(last)
		page.Items = append(page.Items, c)
	}
	if err := rows.Err(); err != nil {
		return page, dbErr("conflicts", err)
	}
	page.SetCursors(func(c store.IdentityConflict) string { return store.EncodeConflictCursor(c.CIs[0], c.CIs[1]) })
	return page, nil
}

// ResolveConflicts closes the open conflicts of the given CIs.
func (s *Store) ResolveConflicts(ctx context.Context, ids []store.ID) error {
	if len(ids) == 0 {
		return nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx, _ *patch) error {
		list := jsonList(ids)
		if _, err := w.conn.ExecContext(context.WithoutCancel(ctx), `DELETE FROM identity_conflicts
WHERE ci1 IN (SELECT value FROM json_each(?)) OR ci2 IN (SELECT value FROM json_each(?))`, list, list); err != nil {
			return dbErr("resolve conflicts", err)
		}
		return nil
	})
}
