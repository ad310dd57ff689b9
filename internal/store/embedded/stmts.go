package embedded

import (
	"context"
	"database/sql"
	"sync"
)

// Reads reuse their prepared statements. Preparing (parsing and planning
// the SQL) was a third of the CPU time of a small filtered list
// (BenchmarkSearch/ListCIs: 10 CIs by name prefix), and more of it as the
// filter language and the kinds made the SQL longer. A statement is kept
// by its text: the texts a store sees are built from a bounded grammar
// (filters, sorts, kinds), with values always bound as parameters, so
// they repeat. Past maxCachedStmts texts, further ones are prepared per
// use as before. SQLite re-prepares a kept statement by itself when the
// schema changes.

// maxCachedStmts bounds the statements kept per store (each is prepared
// on every reader connection that runs it).
const maxCachedStmts = 512

// stmtCache keeps the reader pool's prepared statements by SQL text.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// get returns the kept statement for q, preparing and keeping it if there
// is room; nil (and no error) when the cache is full.
func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[q]
	full := len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.m[q]; ok { // prepared concurrently: keep one
		_ = st.Close()
		return kept, nil
	}
	if len(c.m) >= maxCachedStmts {
		_ = st.Close()
		return nil, nil
	}
	c.m[q] = st
	return st, nil
}

// close closes every kept statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, q)
	}
	return first
}

// query runs q on the reader pool, in tx when it is not nil, through its
// kept statement.
func (s *Store) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	st, err := s.stmts.get(ctx, q)
	switch {
	case err != nil:
		return nil, err
	case st == nil && tx == nil:
		return s.rdb.QueryContext(ctx, q, args...)
	case st == nil:
		return tx.QueryContext(ctx, q, args...)
	case tx == nil:
		return st.QueryContext(ctx, args...)
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

// queryRow is query for one row: its error, if any, comes from Scan.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	st, err := s.stmts.get(ctx, q)
	switch {
	case err != nil:
		// Run it unprepared, which reports the same error through Scan.
		if tx == nil {
			return s.rdb.QueryRowContext(ctx, q, args...)
		}
		return tx.QueryRowContext(ctx, q, args...)
	case st == nil && tx == nil:
		return s.rdb.QueryRowContext(ctx, q, args...)
	case st == nil:
		return tx.QueryRowContext(ctx, q, args...)
	case tx == nil:
		return st.QueryRowContext(ctx, args...)
	}
	return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}
