package embedded

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"strings"
	"time"
)

// call is one write call queued to the writer goroutine.
type call struct {
	ctx  context.Context
	fn   func(w *wtx, p *patch) error
	done chan struct{}
	err  error
	p    *patch
}

// write queues fn to the writer and waits for its outcome. fn runs inside
// the writer's transaction (see runGroup); it must be re-runnable from
// scratch (the writer re-runs it when it retries) and must leave its
// results to its caller only through variables it sets on success. Its
// patch is applied to the adjacency index after the commit.
func (s *Store) write(ctx context.Context, fn func(w *wtx, p *patch) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	c := &call{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case s.queue <- c:
	case <-s.quit:
		return &dbError{op: "write", err: errClosed}
	case <-ctx.Done():
		return dbErr("write", ctx.Err())
	}
	// Once queued, the call is answered: it is either run or failed by the
	// writer, so wait for it rather than for ctx (a write that may have
	// committed must not be reported as failed).
	select {
	case <-c.done:
		return c.err
	case <-s.writerDone:
		select {
		case <-c.done:
			return c.err
		default:
			return &dbError{op: "write", err: errClosed}
		}
	}
}

func (s *Store) writerLoop() {
	defer close(s.writerDone)
	group := make([]*call, 0, s.opts.MaxGroup)
	for {
		select {
		case c := <-s.queue:
			group = append(group[:0], c)
		case <-s.quit:
			s.failQueued()
			return
		}
	drain:
		for len(group) < s.opts.MaxGroup {
			select {
			case c := <-s.queue:
				group = append(group, c)
			default:
				break drain
			}
		}
		s.runGroup(group)
		clear(group)
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case c := <-s.queue:
			c.err = &dbError{op: "write", err: errClosed}
			close(c.done)
		default:
			return
		}
	}
}

const (
	groupAttempts = 5  // whole-transaction attempts on SQLITE_BUSY
	callAttempts  = 10 // per-call attempts on errRetry
)

// runGroup runs the calls in one transaction, applies their patches to the
// index once it has committed, and answers them.
//
// Calls do not get a SAVEPOINT each: inside a savepoint SQLite copies every
// page a statement first touches into a sub-journal, which cost about a
// third of the write path. Instead a call that fails without having changed
// a row (its failure was found before writing, or its failing statement was
// undone by SQLite's statement journal) simply leaves the transaction as it
// was, which is what rolling back its savepoint would have done. A call that
// fails after writing, or with a database error, makes the writer roll the
// whole transaction back and run the group again one call per transaction,
// so that only the failing call is lost. Calls are re-runnable, so this is
// invisible to callers.
func (s *Store) runGroup(group []*call) {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.tryGroup(group)
		if err == nil || !isBusy(err) || attempt == groupAttempts {
			break
		}
		time.Sleep(backoff(attempt))
	}
	if errors.Is(err, errSplit) {
		err = nil
		for _, c := range group {
			s.runAlone(c)
		}
	} else if err != nil {
		for _, c := range group {
			c.err, c.p = dbErr("commit", err), nil
		}
	}
	s.g.mu.Lock()
	for _, c := range group {
		if c.err == nil && c.p != nil {
			s.g.applyLocked(c.p)
		}
	}
	s.g.mu.Unlock()
	for _, c := range group {
		close(c.done)
	}
	select {
	case s.ckptKick <- struct{}{}:
	default:
	}
	if s.g.needsCompaction() {
		s.g.compact()
	}
}

func backoff(attempt int) time.Duration {
	d := time.Duration(attempt) * time.Millisecond
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// errSplit reports that a call failed after writing: the group was rolled
// back and must run one call per transaction.
var errSplit = errors.New("split group")

// tryGroup runs one transaction over the group. A non-nil error means the
// transaction did not commit (and was rolled back).
func (s *Store) tryGroup(group []*call) (err error) {
	w := s.w
	if _, err := w.st.begin.Exec(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = w.st.rollback.Exec()
		}
	}()
	w.tick()
	for _, c := range group {
		c.err, c.p = nil, nil
		if err := c.ctx.Err(); err != nil {
			c.err = dbErr("write", err)
			continue
		}
		before, err := w.changes()
		if err != nil {
			return err
		}
		p := &patch{}
		cerr := c.fn(w, p)
		if cerr == nil {
			c.p = p
			continue
		}
		if isDBError(cerr) {
			return errSplit
		}
		after, err := w.changes()
		if err != nil {
			return err
		}
		if after != before {
			return errSplit
		}
		c.err = cerr // failed before changing anything
	}
	_, err = w.st.commit.Exec()
	return err
}

// runAlone runs one call in its own transaction, retrying it on errRetry.
func (s *Store) runAlone(c *call) {
	w := s.w
	c.err, c.p = nil, nil
	if err := c.ctx.Err(); err != nil {
		c.err = dbErr("write", err)
		return
	}
	for attempt := 1; ; attempt++ {
		if _, err := w.st.begin.Exec(); err != nil {
			c.err = dbErr("begin", err)
			return
		}
		w.tick()
		p := &patch{}
		cerr := c.fn(w, p)
		if cerr == nil {
			if _, err := w.st.commit.Exec(); err != nil {
				_, _ = w.st.rollback.Exec()
				c.err = dbErr("commit", err)
				return
			}
			c.p = p
			return
		}
		_, _ = w.st.rollback.Exec() // fails harmlessly if SQLite already rolled back
		var re *errRetry
		if errors.As(cerr, &re) {
			if attempt < callAttempts {
				time.Sleep(backoff(attempt) / 4)
				continue
			}
			cerr = dbErr("write", re.err)
		}
		c.err = cerr
		return
	}
}

// isDBError reports an error that came from the database (as opposed to a
// store error a call decided on), after which the transaction's state is
// not to be trusted.
func isDBError(err error) bool {
	var de *dbError
	var re *errRetry
	return errors.As(err, &de) || errors.As(err, &re) || sqliteCode(err) != 0
}

// tick sets the transaction's clock: one now per transaction.
func (w *wtx) tick() {
	now := time.Now().UnixNano()
	w.nowNs, w.now = now, fromNanos(now)
}

// changes is the connection's count of rows changed by completed
// statements.
func (w *wtx) changes() (int64, error) {
	var n int64
	err := w.st.totalChanges.QueryRow().Scan(&n)
	return n, err
}

// wtx is the writer goroutine's connection, statements and the current
// transaction's clock. Only the writer goroutine uses it.
type wtx struct {
	graph *graph // read without locking: the writer is its only mutator
	conn  *sql.Conn
	st    stmts
	now   time.Time
	nowNs int64
	bulks map[*bulkSpec]map[int]*sql.Stmt
	buf   []byte // scratch for encoding
}

type stmts struct {
	begin, commit, rollback, totalChanges *sql.Stmt

	maxCIRow, keyOwners, cisByRow, cisByUID                 *sql.Stmt
	deleteKeys, deleteTags, deleteCI                        *sql.Stmt
	deleteCIKeys, deleteCITags                              *sql.Stmt
	relsOfCI, typeByName, insertType, rowsByUID             *sql.Stmt
	relsByTriple, relUpdate, relSight, relDelete, insertExt *sql.Stmt
}

func newWtx(ctx context.Context, conn *sql.Conn) (*wtx, error) {
	w := &wtx{conn: conn, bulks: map[*bulkSpec]map[int]*sql.Stmt{}}
	prep := []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.st.begin, "BEGIN IMMEDIATE"},
		{&w.st.commit, "COMMIT"},
		{&w.st.rollback, "ROLLBACK"},
		{&w.st.totalChanges, "SELECT total_changes()"},
		{&w.st.maxCIRow, "SELECT coalesce(max(id), 0) FROM cis"},
		{&w.st.keyOwners, "SELECT j.key, k.ci FROM json_each(?) j JOIN identity_keys k ON k.key = j.value"},
		{&w.st.cisByRow, "SELECT " + ciCols + " FROM cis WHERE id IN (SELECT value FROM json_each(?))"},
		{&w.st.cisByUID, "SELECT " + ciCols + " FROM cis WHERE uid IN (SELECT value FROM json_each(?))"},
		{&w.st.deleteKeys, "DELETE FROM identity_keys WHERE key IN (SELECT value FROM json_each(?))"},
		{&w.st.deleteTags, "DELETE FROM ci_tags WHERE ci = ? AND tag IN (SELECT value FROM json_each(?))"},
		{&w.st.deleteCIKeys, "DELETE FROM identity_keys WHERE key IN (SELECT value FROM json_each((SELECT keys FROM cis WHERE id = ?1))) AND ci = ?1"},
		{&w.st.deleteCITags, `DELETE FROM ci_tags WHERE ci = ?1 AND tag IN (SELECT value FROM json_each((SELECT attrs FROM cis WHERE id = ?1), '$.tags'))`},
		{&w.st.deleteCI, "DELETE FROM cis WHERE id = ?"},
		{&w.st.relsOfCI, `SELECT r.src, r.type, r.dst, t.name, s.uid, d.uid FROM relationships r
			JOIN rel_types t ON t.id = r.type JOIN cis s ON s.id = r.src JOIN cis d ON d.id = r.dst WHERE r.src = ?1
			UNION ALL
			SELECT r.src, r.type, r.dst, t.name, s.uid, d.uid FROM relationships r
			JOIN rel_types t ON t.id = r.type JOIN cis s ON s.id = r.src JOIN cis d ON d.id = r.dst WHERE r.dst = ?1`},
		{&w.st.typeByName, "SELECT id FROM rel_types WHERE name = ?"},
		{&w.st.insertType, "INSERT INTO rel_types(name) VALUES (?)"},
		{&w.st.rowsByUID, "SELECT id, uid FROM cis WHERE uid IN (SELECT value FROM json_each(?))"},
		{&w.st.relsByTriple, `SELECT r.id, r.src, r.type, r.dst, ` + relTailCols + ` FROM json_each(?) j
			JOIN relationships r ON r.src = j.value->>0 AND r.type = j.value->>1 AND r.dst = j.value->>2`},
		{&w.st.relUpdate, "UPDATE relationships SET attrs = ?, updated_at = ?, version = ?, seen_by = ? WHERE id = ?"},
		{&w.st.relSight, "UPDATE relationships SET seen_by = ? WHERE id = ?"},
		{&w.st.relDelete, "DELETE FROM relationships WHERE id = ?"},
		{&w.st.insertExt, "INSERT INTO model_extensions(kind, name, definition, created_at) VALUES (?, ?, ?, ?)"},
	}
	for _, p := range prep {
		st, err := conn.PrepareContext(ctx, p.query)
		if err != nil {
			_ = w.close()
			return nil, err
		}
		*p.dst = st
	}
	return w, nil
}

func (w *wtx) close() error {
	for _, m := range w.bulks {
		for _, st := range m {
			_ = st.Close()
		}
	}
	for _, st := range []*sql.Stmt{
		w.st.begin, w.st.commit, w.st.rollback, w.st.totalChanges,
		w.st.maxCIRow, w.st.keyOwners, w.st.cisByRow, w.st.cisByUID,
		w.st.deleteKeys, w.st.deleteTags, w.st.deleteCI,
		w.st.deleteCIKeys, w.st.deleteCITags,
		w.st.relsOfCI, w.st.typeByName, w.st.insertType, w.st.rowsByUID,
		w.st.relsByTriple, w.st.relUpdate, w.st.relSight, w.st.relDelete, w.st.insertExt,
	} {
		if st != nil {
			_ = st.Close()
		}
	}
	return w.conn.Close()
}

// bulkSpec describes a multi-row statement: "<head>(?,..),(?,..)...<tail>".
type bulkSpec struct {
	head, tail string
	cols       int
}

var (
	bulkCIs = &bulkSpec{head: `INSERT INTO cis(id, uid, kind, class, name, status, environment, owner, support_group,
		attrs, keys, sources, seen_by, version, created_at, updated_at, last_seen_at) VALUES `, cols: 17}
	bulkKeys  = &bulkSpec{head: "INSERT INTO identity_keys(key, ci) VALUES ", cols: 2}
	bulkTags  = &bulkSpec{head: "INSERT INTO ci_tags(tag, ci) VALUES ", cols: 2}
	bulkRels  = &bulkSpec{head: "INSERT INTO relationships(src, type, dst, attrs, created_at, updated_at, version, seen_by) VALUES ", cols: 8}
	bulkAudit = &bulkSpec{head: "INSERT INTO audit(id, time, actor, source, kind, object, action, changes, ref1, ref2) VALUES ", cols: 10}
	// Bulk updates join the target rows with a VALUES list by rowid.
	bulkSeen = &bulkSpec{cols: 4, head: "WITH v(id, keys, seen_by, last_seen_at) AS (VALUES ",
		tail: ") UPDATE cis SET keys = v.keys, seen_by = v.seen_by, last_seen_at = v.last_seen_at FROM v WHERE cis.id = v.id"}
	bulkAttrs = &bulkSpec{cols: 8, head: "WITH v(id, attrs, keys, sources, seen_by, version, updated_at, last_seen_at) AS (VALUES ",
		tail: `) UPDATE cis SET attrs = v.attrs, keys = v.keys, sources = v.sources, seen_by = v.seen_by,
		version = v.version, updated_at = v.updated_at, last_seen_at = v.last_seen_at FROM v WHERE cis.id = v.id`}
	bulkFull = &bulkSpec{cols: 14, head: `WITH v(id, class, name, status, environment, owner, support_group, attrs, keys, sources, seen_by, version, updated_at, last_seen_at) AS (VALUES `,
		tail: `) UPDATE cis SET class = v.class, name = v.name, status = v.status, environment = v.environment, owner = v.owner,
		support_group = v.support_group, attrs = v.attrs, keys = v.keys, sources = v.sources, seen_by = v.seen_by,
		version = v.version, updated_at = v.updated_at, last_seen_at = v.last_seen_at FROM v WHERE cis.id = v.id`}
)

// bulkRows is the most rows one multi-row INSERT carries.
const bulkRows = 64

// insert runs the multi-row statement of spec over args (a multiple of
// spec.cols values), bulkRows rows per statement.
func (w *wtx) insert(spec *bulkSpec, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/spec.cols, bulkRows)
		st, err := w.bulkStmt(spec, n)
		if err != nil {
			return err
		}
		if _, err := st.Exec(args[:n*spec.cols]...); err != nil {
			return err
		}
		args = args[n*spec.cols:]
	}
	return nil
}

func (w *wtx) bulkStmt(spec *bulkSpec, n int) (*sql.Stmt, error) {
	m := w.bulks[spec]
	if m == nil {
		m = map[int]*sql.Stmt{}
		w.bulks[spec] = m
	}
	if st := m[n]; st != nil {
		return st, nil
	}
	row := "(" + strings.Repeat("?,", spec.cols-1) + "?)"
	var b strings.Builder
	b.WriteString(spec.head)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(spec.tail)
	st, err := w.conn.PrepareContext(context.Background(), b.String())
	if err != nil {
		return nil, err
	}
	m[n] = st
	return st, nil
}

// Checkpointing. The writer connection runs with wal_autocheckpoint off;
// this loop copies committed WAL pages into the database file with PASSIVE
// checkpoints (which never block the writer or readers) on its own
// connection, at most every ckptInterval after a commit, so the copying and
// its fsync stay off the commit path. SQLite restarts the WAL from the top
// once it has been checkpointed and no reader needs it, and
// journal_size_limit trims the file.
const ckptInterval = 200 * time.Millisecond

func (s *Store) checkpointLoop() {
	defer close(s.ckptDone)
	last := time.Now()
	for {
		select {
		case <-s.quit:
			return
		case <-s.ckptKick:
		}
		if wait := ckptInterval - time.Since(last); wait > 0 {
			select {
			case <-s.quit:
				return
			case <-time.After(wait):
			}
		}
		// A failure here is not fatal: the WAL just grows until the next try.
		_, _ = s.cdb.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		last = time.Now()
	}
}
