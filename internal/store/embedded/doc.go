// Package embedded is Skein's single-process store backend: SQLite (through
// the cgo-free modernc.org/sqlite driver) in one directory, plus an in-memory
// adjacency index that answers traversals at memory speed.
//
// # Storage
//
// The data lives in <dir>/skein.db (with its -wal and -shm files) in WAL
// mode with foreign keys on. Every write call is a closure queued to one
// writer goroutine that group-commits: it drains the queue, runs the queued
// calls in one BEGIN IMMEDIATE transaction, commits once and then answers
// every caller, so concurrent small writes share one fsync. One call's
// failure never affects the others: a call that fails before changing a row
// leaves the transaction untouched, and a call that fails after writing
// makes the writer roll the group back and re-run it one call per
// transaction (calls are re-runnable). This gives the isolation of a
// SAVEPOINT per call without its cost: inside a savepoint SQLite copies
// every page it touches into a sub-journal. With the default
// synchronous=FULL every acknowledged write survives a process kill and a
// power loss; with Options.Synchronous "NORMAL" it survives a process kill
// only. WAL checkpoints run on a separate connection, off the commit path.
//
// Reads go through a small pool of query_only connections and never wait for
// the writer (WAL readers see the last committed state).
//
// Identity keys are owned through a PRIMARY KEY on identity_keys(key): the
// database, not a read-then-write check, enforces that a key belongs to one
// CI. Audit records are written in the same transaction as the change they
// describe. Tags have a side table (ci_tags) for the Tag filter; search
// documents (store.SearchDocument) an FTS5 table (ci_search) that triggers on
// cis keep in step within each write transaction. The table cis holds the
// nodes of every kind (column kind, 'ci' for CIs; version counts their
// changes, store.Node.Version); UpsertNodes is store.UpsertPlan over writeTx,
// this package's store.WriteTx. Times are
// int64 unix nanoseconds (UTC). The schema version is PRAGMA user_version.
//
// # Adjacency index
//
// Expand and ShortestPath run on an in-memory index built at Open from the
// relationships table: node slots are the CIs' SQLite rowids (int32),
// relationship types are interned to small integers, and adjacency is an
// immutable compressed-sparse-row (CSR) base for both directions plus a small
// delta of added and removed edges that is compacted into a new CSR when it
// grows past an eighth of the base (added edges in lists indexed by node
// slot, not maps: a hub's impact analysis reads tens of thousands of nodes'
// edges, and a map lookup each was a tenth of its time). The writer patches the index after each
// successful commit, before it answers the callers, under a write lock;
// traversals hold the read lock for their whole run, so each sees one
// consistent committed state.
//
// # Locking
//
// Open takes an exclusive advisory lock (flock) on <dir>/LOCK, so a second
// Open of the same directory, from this or another process, fails at once
// with an error wrapping store.ErrUnavailable instead of sharing the files.
// Were that lock bypassed, SQLite's own locking would still keep the
// database file consistent, but the second process's adjacency index would
// not follow the first one's writes. On platforms without flock the lock is
// not taken.
package embedded
