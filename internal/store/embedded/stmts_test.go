package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStatementCacheInsideAFullPool: a read inside a transaction that holds
// the pool's only connection runs a statement not kept yet without waiting
// for another connection (preparing it then deadlocked the pool); the
// statement is kept once a connection is free, and a later transaction
// runs through it.
func TestStatementCacheInsideAFullPool(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir(), Options{ReaderConns: 1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	upsertOK(t, s, item("Application", []string{"app|a"}, "name", "a"))
	const q = "SELECT count(*) FROM cis WHERE kind = ?"
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	count := func() int {
		tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		require.NoError(t, err)
		defer func() { _ = tx.Rollback() }()
		var n int
		require.NoError(t, s.queryRow(ctx, tx, q, "ci").Scan(&n), "a query inside the only connection's transaction")
		return n
	}
	require.Equal(t, 1, count())
	require.Eventually(t, func() bool { return s.stmts.get(q) != nil }, 5*time.Second, 10*time.Millisecond,
		"the statement is kept once the connection is free")
	require.Equal(t, 1, count(), "through the kept statement")
	rows, err := s.query(ctx, nil, q, "person")
	require.NoError(t, err)
	require.True(t, rows.Next())
	var n int
	require.NoError(t, rows.Scan(&n))
	require.NoError(t, rows.Close())
	require.Equal(t, 0, n, "outside a transaction, with other arguments")
}

// TestCloseWaitsForBackgroundPrepares: statements being prepared in the
// background when the store closes hold no connection once Close returns,
// so the store's directory can be removed at once (a prepare that opened
// a connection as the store closed left the database's files touched
// after Close, and a test's TempDir cleanup failed "directory not empty").
func TestCloseWaitsForBackgroundPrepares(t *testing.T) {
	for i := range 20 {
		dir := t.TempDir()
		s, err := Open(t.Context(), dir, Options{})
		require.NoError(t, err)
		for j := range maxCachedStmts / 4 { // distinct texts: each starts a prepare
			_ = s.stmts.get(fmt.Sprintf("SELECT count(*) FROM cis WHERE kind = ? AND %d = %d", i, j))
		}
		require.NoError(t, s.Close())
		s.stmts.mu.Lock()
		pending := len(s.stmts.pending)
		s.stmts.mu.Unlock()
		require.Zero(t, pending, "no prepare left running after Close")
		require.NoError(t, os.RemoveAll(dir))
	}
}
