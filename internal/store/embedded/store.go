package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/skein-cmdb/skein/internal/store"
)

var _ store.Store = (*Store)(nil)

// Options tunes a Store. The zero value is a sensible default.
type Options struct {
	// ReaderConns is the number of read-only connections in the reader pool
	// (default: GOMAXPROCS, between 2 and 8).
	ReaderConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// connection (default 5s).
	BusyTimeout time.Duration
	// Synchronous is SQLite's synchronous setting for commits: "FULL" (the
	// default) makes every acknowledged write survive a power loss; "NORMAL"
	// makes it survive a process crash (kill -9) only, but commits faster;
	// "EXTRA" also syncs the directory.
	Synchronous string
	// CacheMiB is the writer connection's page cache in MiB (default 64);
	// each reader connection gets a quarter of it.
	CacheMiB int
	// MaxGroup bounds how many queued write calls share one transaction
	// (default 64).
	MaxGroup int
}

func (o Options) withDefaults() (Options, error) {
	if o.ReaderConns <= 0 {
		o.ReaderConns = min(max(runtime.GOMAXPROCS(0), 2), 8)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	switch strings.ToUpper(o.Synchronous) {
	case "":
		o.Synchronous = "FULL"
	case "FULL", "NORMAL", "EXTRA":
		o.Synchronous = strings.ToUpper(o.Synchronous)
	default:
		return o, fmt.Errorf("embedded: Synchronous must be FULL, NORMAL or EXTRA, got %q", o.Synchronous)
	}
	if o.CacheMiB <= 0 {
		o.CacheMiB = 64
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 64
	}
	return o, nil
}

// Store is the embedded backend. It is safe for concurrent use.
type Store struct {
	opts Options
	lock *os.File
	wdb  *sql.DB // one connection, owned by the writer goroutine
	rdb  *sql.DB // the reader pool
	// stmts keeps the reader pool's prepared statements (stmts.go).
	stmts *stmtCache
	cdb   *sql.DB // one connection for WAL checkpoints
	w     *wtx
	g     *graph

	queue      chan *call
	quit       chan struct{}
	writerDone chan struct{}
	ckptKick   chan struct{} // the writer committed
	ckptDone   chan struct{}
	closed     atomic.Bool
	closeOnce  sync.Once
	closeErr   error
}

// dbFile is the database file name inside the store's directory.
const dbFile = "skein.db"

// Open opens (creating if needed) the store in dir, migrates its schema,
// builds the adjacency index and starts the writer. Only one Store may have
// dir open at a time (see the package documentation).
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(dir, "?#") {
		return nil, fmt.Errorf("embedded: directory name %q must not contain '?' or '#'", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: create %s: %w", dir, err)
	}
	lock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	s := &Store{
		opts:       opts,
		lock:       lock,
		queue:      make(chan *call, 1024),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
		ckptKick:   make(chan struct{}, 1),
		ckptDone:   make(chan struct{}),
	}
	if err := s.open(ctx, filepath.Join(dir, dbFile)); err != nil {
		s.closeHandles()
		return nil, err
	}
	go s.writerLoop()
	go s.checkpointLoop()
	return s, nil
}

// loadCacheKiB is the page cache, in KiB, of each connection that reads
// the adjacency index and the summaries on open.
const loadCacheKiB = 2048

func (s *Store) open(ctx context.Context, path string) error {
	if err := registerFold(); err != nil {
		return fmt.Errorf("embedded: register %s: %w", foldFunc, err)
	}
	if err := registerSearch(); err != nil {
		return fmt.Errorf("embedded: register %s: %w", searchFunc, err)
	}
	if err := registerNanos(); err != nil {
		return fmt.Errorf("embedded: register %s: %w", nanosFunc, err)
	}
	busy := s.opts.BusyTimeout.Milliseconds()
	common := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)", path, busy)
	var err error
	// The writer never checkpoints (wal_autocheckpoint 0): checkpointLoop
	// does, on its own connection, off the commit path.
	s.wdb, err = sql.Open("sqlite", fmt.Sprintf("%s&_pragma=journal_mode(WAL)&_pragma=synchronous(%s)&_pragma=cache_size(%d)"+
		"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(%d)",
		common, s.opts.Synchronous, -1024*s.opts.CacheMiB, 64<<20))
	if err != nil {
		return fmt.Errorf("embedded: open database: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("embedded: open database: %w", err)
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		_ = conn.Close()
		return fmt.Errorf("embedded: database is not in WAL mode (%q): %w", mode, err)
	}
	if err := migrate(ctx, conn); err != nil {
		_ = conn.Close()
		return err
	}
	s.w, err = newWtx(ctx, conn)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("embedded: prepare statements: %w", err)
	}

	readOnly := func(cacheKiB int) string {
		return fmt.Sprintf("%s&_pragma=cache_size(%d)&_query_only=1", common, -cacheKiB)
	}
	s.rdb, err = sql.Open("sqlite", readOnly(256*s.opts.CacheMiB))
	if err != nil {
		return fmt.Errorf("embedded: open database: %w", err)
	}
	s.rdb.SetMaxOpenConns(s.opts.ReaderConns)
	s.rdb.SetMaxIdleConns(s.opts.ReaderConns)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)
	s.stmts = newStmtCache(s.rdb)

	s.cdb, err = sql.Open("sqlite", fmt.Sprintf("%s&_pragma=synchronous(%s)", common, s.opts.Synchronous))
	if err != nil {
		return fmt.Errorf("embedded: open database: %w", err)
	}
	s.cdb.SetMaxOpenConns(1)

	// The adjacency index and the summaries are read once, by whole-table
	// scans that a page cache does not help, on connections of their own
	// with a small cache, closed afterwards: on two of the reader pool's
	// connections, what the scans brought into memory stayed resident for
	// the life of the process (about 75 MiB at 200,000 CIs).
	ldb, err := sql.Open("sqlite", readOnly(loadCacheKiB))
	if err != nil {
		return fmt.Errorf("embedded: open database: %w", err)
	}
	s.g, err = loadGraph(ctx, ldb)
	if cerr := ldb.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("embedded: build adjacency index: %w", err)
	}
	s.w.graph = s.g
	return nil
}

// closeHandles releases the database handles and the directory lock.
func (s *Store) closeHandles() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.stmts != nil {
		errs = append(errs, s.stmts.close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
	}
	return errors.Join(errs...)
}

// Close stops the writer (failing calls still queued with
// store.ErrUnavailable), closes the database and releases the directory.
// It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.quit)
		<-s.writerDone
		<-s.ckptDone
		if err := s.closeHandles(); err != nil {
			s.closeErr = fmt.Errorf("embedded: close: %w", err)
		}
	})
	return s.closeErr
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return dbErr("ping", err)
	}
	return nil
}

// usable fails when the store is closed or ctx is done.
func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return &dbError{op: "use", err: errClosed}
	}
	if err := ctx.Err(); err != nil {
		return dbErr("use", err)
	}
	return nil
}
