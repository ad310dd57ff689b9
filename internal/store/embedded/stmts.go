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
// schema changes. A statement is prepared in the background on its first
// use (see stmtCache.get), so the first use runs unprepared.

// maxCachedStmts bounds the statements kept per store (each is prepared
// on every reader connection that runs it).
const maxCachedStmts = 512

// stmtCache keeps the reader pool's prepared statements by SQL text.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool // being prepared in the background
	closed  bool
	// preparing counts the background prepares, which close waits for: a
	// prepare holds (or opens) a connection of the pool, which closing the
	// pool does not wait for, and a connection opened as the store closes
	// would touch the database's files after Close returned.
	preparing sync.WaitGroup
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the kept statement for q, or nil when there is none yet (or
// the cache is full). A statement not kept yet is prepared in the
// background for the next use: preparing takes a connection of the pool,
// and a caller inside a read transaction already holds one, so waiting
// here for another could deadlock a full pool.
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok || c.closed {
		return st
	}
	if len(c.m)+len(c.pending) >= maxCachedStmts || c.pending[q] {
		return nil
	}
	c.pending[q] = true
	c.preparing.Add(1)
	go func() {
		defer c.preparing.Done()
		c.prepare(q)
	}()
	return nil
}

// prepare prepares q on the pool and keeps it.
func (c *stmtCache) prepare(q string) {
	st, err := c.db.PrepareContext(context.Background(), q)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pending, q)
	if err != nil {
		return // the query reports its own error when it runs unprepared
	}
	if c.closed {
		_ = st.Close()
		return
	}
	c.m[q] = st
}

// close closes every kept statement, and waits for the statements being
// prepared, which are closed when they are ready: after it, the cache
// holds no connection of the pool.
func (c *stmtCache) close() error {
	c.mu.Lock()
	c.closed = true
	var first error
	for q, st := range c.m {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.m, q)
	}
	c.mu.Unlock()
	c.preparing.Wait()
	return first
}

// stmt returns q's kept statement, bound to tx when tx is not nil, or
// nil when none is kept yet.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	st := s.stmts.get(q)
	if st != nil && tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st
}

// query runs q on the reader pool, in tx when it is not nil, through its
// kept statement if there is one.
func (s *Store) query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryContext(ctx, q, args...)
	}
	return s.rdb.QueryContext(ctx, q, args...)
}

// queryRow is query for one row: its error, if any, comes from Scan.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.stmt(ctx, tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if tx != nil {
		return tx.QueryRowContext(ctx, q, args...)
	}
	return s.rdb.QueryRowContext(ctx, q, args...)
}
