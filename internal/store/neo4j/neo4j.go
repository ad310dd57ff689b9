package neo4j

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/skein-cmdb/skein/internal/store"
)

// Defaults applied by Open to zero Config fields.
const (
	// DefaultQueryTimeout bounds every call whose context has no deadline.
	DefaultQueryTimeout = 30 * time.Second
	// DefaultMaxConnPool is the driver's connection pool size.
	DefaultMaxConnPool = 100
	// DefaultSchemaTimeout bounds the wait for indexes to come online in Open.
	DefaultSchemaTimeout = 5 * time.Minute
)

// Retries. The store retries transactions itself rather than let the
// driver do it: the driver retries a failure to reach Neo4j like any
// transient error, for MaxTransactionRetryTime with backoffs of 1, 2, 4...
// seconds, so while Neo4j is down every call would hang until its deadline.
// Here a call that cannot reach Neo4j fails fast with store.ErrUnavailable,
// while transient errors of a reachable Neo4j (deadlocks above all) are
// retried until the call's deadline, as before.
const (
	// raceAttempts bounds the attempts of a write transaction that lost a
	// race to a concurrent writer in a way the driver does not consider
	// transient (a uniqueness constraint violation, or a node deleted
	// under our feet).
	raceAttempts = 10
	// connectAttempts bounds the attempts of a transaction that could not
	// reach Neo4j (or found its database unavailable) or lost its
	// connection: the second one rides over a pooled connection that died;
	// more would only keep callers waiting while Neo4j is down.
	connectAttempts = 2
	// connectTimeout bounds opening a connection (TCP and Bolt handshake).
	connectTimeout = 5 * time.Second
	// livenessCheckAfter: a pooled connection idle for longer is checked
	// (one round trip) before use, so that connections to a Neo4j that
	// has since been killed or restarted are dropped instead of failing
	// the first transactions after its recovery.
	livenessCheckAfter = 5 * time.Second
	// transientBackoff and maxTransientBackoff shape the (jittered,
	// exponential) pauses between attempts after a transient error.
	transientBackoff    = 20 * time.Millisecond
	maxTransientBackoff = time.Second
)

// Config configures a Store.
type Config struct {
	// URI is the Bolt address, e.g. "neo4j://db:7687" or "bolt://127.0.0.1:7687".
	URI string
	// User and Password authenticate with basic auth; an empty User means no
	// authentication. The password is never logged nor put in errors.
	User     string
	Password string
	// Database is the database name; empty means the server's default.
	Database string
	// MaxConnPool bounds the driver's connection pool (default 100).
	MaxConnPool int
	// QueryTimeout bounds every call whose context has no deadline, and is
	// the server-side timeout of every transaction (default 30s).
	QueryTimeout time.Duration
	// SchemaTimeout bounds the wait for indexes to come online in Open
	// (default 5 minutes).
	SchemaTimeout time.Duration
}

// String describes the configuration without the password.
func (c Config) String() string {
	pw := ""
	if c.Password != "" {
		pw = "REDACTED"
	}
	return fmt.Sprintf("neo4j.Config{URI:%q User:%q Password:%s Database:%q MaxConnPool:%d QueryTimeout:%s}",
		c.URI, c.User, pw, c.Database, c.MaxConnPool, c.QueryTimeout)
}

// GoString is String, so %#v does not print the password either.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog print the configuration without the password.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("uri", c.URI),
		slog.String("user", c.User),
		slog.String("database", c.Database),
		slog.Int("max_conn_pool", c.MaxConnPool),
		slog.Duration("query_timeout", c.QueryTimeout),
	)
}

// Store is a store.Store backed by Neo4j. It is safe for concurrent use.
type Store struct {
	driver neo4j.DriverWithContext
	cfg    Config
	closed atomic.Bool
	once   sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to Neo4j, verifies connectivity and creates the schema
// (constraints and indexes) if missing, waiting for indexes to come online.
// It is safe to call concurrently from several processes.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URI == "" {
		return nil, errors.New("neo4j: URI is required")
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.MaxConnPool <= 0 {
		cfg.MaxConnPool = DefaultMaxConnPool
	}
	if cfg.SchemaTimeout <= 0 {
		cfg.SchemaTimeout = DefaultSchemaTimeout
	}
	auth := neo4j.NoAuth()
	if cfg.User != "" {
		auth = neo4j.BasicAuth(cfg.User, cfg.Password, "")
	}
	drv, err := neo4j.NewDriverWithContext(cfg.URI, auth, func(c *config.Config) {
		c.MaxConnectionPoolSize = cfg.MaxConnPool
		// No retries by the driver: retry does them (see connectAttempts).
		c.MaxTransactionRetryTime = 0
		c.ConnectionAcquisitionTimeout = cfg.QueryTimeout
		c.SocketConnectTimeout = min(connectTimeout, cfg.QueryTimeout)
		c.ConnectionLivenessCheckTimeout = livenessCheckAfter
	})
	if err != nil {
		// Not wrapped: the driver's message may quote the URI.
		return nil, errors.New("neo4j: invalid URI or driver configuration")
	}
	s := &Store{driver: drv, cfg: cfg}
	if err := s.Ping(ctx); err != nil {
		_ = drv.Close(context.Background())
		return nil, err
	}
	if err := s.ensureSchema(ctx); err != nil {
		_ = drv.Close(context.Background())
		return nil, err
	}
	if err := s.backfillAuditRefs(ctx); err != nil {
		_ = drv.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// schemaStatements create the constraints and indexes. Each runs in its own
// auto-commit transaction (schema and data writes cannot share one).
var schemaStatements = []string{
	"CREATE CONSTRAINT skein_ci_id IF NOT EXISTS FOR (c:CI) REQUIRE c.id IS UNIQUE",
	"CREATE CONSTRAINT skein_identity_key IF NOT EXISTS FOR (k:IdentityKey) REQUIRE k.key IS UNIQUE",
	"CREATE CONSTRAINT skein_audit_id IF NOT EXISTS FOR (a:AuditRecord) REQUIRE a.id IS UNIQUE",
	"CREATE CONSTRAINT skein_model_extension IF NOT EXISTS FOR (m:ModelExtension) REQUIRE (m.kind, m.name) IS UNIQUE",
	"CREATE CONSTRAINT skein_api_token IF NOT EXISTS FOR (t:APIToken) REQUIRE t.id IS UNIQUE",
	"CREATE INDEX skein_ci_class IF NOT EXISTS FOR (c:CI) ON (c.class)",
	"CREATE INDEX skein_ci_name IF NOT EXISTS FOR (c:CI) ON (c.name)",
	"CREATE INDEX skein_ci_status IF NOT EXISTS FOR (c:CI) ON (c.status)",
	"CREATE INDEX skein_ci_environment IF NOT EXISTS FOR (c:CI) ON (c.environment)",
	"CREATE INDEX skein_ci_owner IF NOT EXISTS FOR (c:CI) ON (c.owner)",
	"CREATE INDEX skein_ci_support_group IF NOT EXISTS FOR (c:CI) ON (c.support_group)",
	"CREATE INDEX skein_ci_last_seen_at IF NOT EXISTS FOR (c:CI) ON (c.last_seen_at)",
	"CREATE INDEX skein_audit_object IF NOT EXISTS FOR (a:AuditRecord) ON (a.object)",
	"CREATE INDEX skein_audit_ref1 IF NOT EXISTS FOR (a:AuditRecord) ON (a.ref1)",
	"CREATE INDEX skein_audit_ref2 IF NOT EXISTS FOR (a:AuditRecord) ON (a.ref2)",
	"CREATE INDEX skein_audit_time IF NOT EXISTS FOR (a:AuditRecord) ON (a.time)",
	"CREATE CONSTRAINT skein_identity_conflict IF NOT EXISTS FOR (c:IdentityConflict) REQUIRE (c.ci1, c.ci2) IS UNIQUE",
	"CREATE INDEX skein_identity_conflict_ci2 IF NOT EXISTS FOR (c:IdentityConflict) ON (c.ci2)",
	// Folded copies of text attributes (foldedProps), for filters that
	// ignore case.
	"CREATE INDEX skein_ci_name_fold IF NOT EXISTS FOR (c:CI) ON (c._fold_name)",
	"CREATE INDEX skein_ci_owner_fold IF NOT EXISTS FOR (c:CI) ON (c._fold_owner)",
	"CREATE INDEX skein_ci_support_group_fold IF NOT EXISTS FOR (c:CI) ON (c._fold_support_group)",
	// Free-text search (search.go) over the search documents (propSearch).
	// The whitespace analyser indexes exactly the tokens store.SearchTokens
	// made; Neo4j updates the index in the writing transaction.
	// It covers nodes of every kind (a search names its kind); it replaced
	// skein_ci_search, over CIs only.
	"CREATE FULLTEXT INDEX skein_node_search IF NOT EXISTS FOR (n:Node) ON EACH [n._search] OPTIONS {indexConfig: {`fulltext.analyzer`: 'whitespace'}}",
	"DROP INDEX skein_ci_search IF EXISTS",
	"CREATE CONSTRAINT skein_migration IF NOT EXISTS FOR (m:SkeinMigration) REQUIRE m.name IS UNIQUE",
	// Every node of the graph (store.Node) has the label :Node besides the
	// label of its kind (:CI), and node IDs are unique across kinds.
	"CREATE CONSTRAINT skein_node_id IF NOT EXISTS FOR (n:Node) REQUIRE n.id IS UNIQUE",
	// Counters of record numbers (store.SequenceStore).
	"CREATE CONSTRAINT skein_sequence IF NOT EXISTS FOR (s:SkeinSequence) REQUIRE s.name IS UNIQUE",
	// Scoped sync (store.SyncStore): discovery runs, and which run last
	// reported each member of a source's scope.
	"CREATE CONSTRAINT skein_sync_run IF NOT EXISTS FOR (r:SkeinSyncRun) REQUIRE r.number IS UNIQUE",
	"CREATE CONSTRAINT skein_scope_member IF NOT EXISTS FOR (m:SkeinScopeMember) REQUIRE (m.source, m.scope, m.member) IS UNIQUE",
}

// ensureSchema creates the schema idempotently. Another process creating
// the same rule at the same time makes IF NOT EXISTS fail with an
// "already exists" error, which is success here.
func (s *Store) ensureSchema(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SchemaTimeout)
	defer cancel()
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.Background())
	for _, stmt := range schemaStatements {
		_, err := retry(ctx, false, func() (any, error) {
			return sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
				return run(ctx, tx, stmt, nil)
			})
		})
		if err != nil && !schemaAlreadyExists(err) {
			return translate("create schema", err)
		}
	}
	secs := int64(s.cfg.SchemaTimeout / time.Second)
	res, err := sess.Run(ctx, "CALL db.awaitIndexes($secs)", map[string]any{"secs": secs}, neo4j.WithTxTimeout(s.cfg.SchemaTimeout))
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		return translate("wait for indexes", err)
	}
	for _, b := range []backfillSpec{foldsBackfill, searchBackfill, nodeBackfill, kindLabelBackfill} {
		if err := s.backfill(ctx, sess, b); err != nil {
			return err
		}
	}
	return nil
}

// backfillSpec is a once-per-database fill of properties on CI nodes
// written before a release that writes them with every CI (ciProperties),
// recorded by a :SkeinMigration node named name.
type backfillSpec struct {
	name, what string
	// missing returns up to 1000 CI nodes that lack the properties.
	missing string
	props   func(c store.CI, props map[string]any)
	// set writes the rows ({id, props}); qBackfillSet when empty.
	set string
}

var (
	// foldsBackfill fills the folded copies (foldedProps).
	foldsBackfill = backfillSpec{
		name:    "fold1",
		what:    "backfill folded names",
		missing: `MATCH (c:CI) WHERE c._fold_name IS NULL AND c.name IS NOT NULL RETURN c LIMIT 1000`,
		props:   func(c store.CI, props map[string]any) { foldProperties(c.Attributes, props) },
	}
	// searchBackfill fills the search documents (propSearch).
	searchBackfill = backfillSpec{
		name:    "search1",
		what:    "backfill search documents",
		missing: `MATCH (c:CI) WHERE c._search IS NULL RETURN c LIMIT 1000`,
		props:   func(c store.CI, props map[string]any) { props[propSearch] = store.SearchDocument(c.Attributes) },
	}
	// nodeBackfill makes the CIs written before kinds and versions nodes
	// (store.Node): the label :Node, kind "ci" and version 1 (ADR 12).
	nodeBackfill = backfillSpec{
		name:    "node1",
		what:    "backfill node labels, kinds and versions",
		missing: `MATCH (c:CI) WHERE NOT c:Node RETURN c LIMIT 1000`,
		props: func(c store.CI, props map[string]any) {
			props[propKind] = string(store.KindCI)
			props[propVersion] = max(c.Version, 1)
		},
		set: `UNWIND $rows AS row MATCH (c:CI {id: row.id}) SET c:Node, c += row.props`,
	}
	// kindLabelBackfill gives the nodes of kinds other than CIs written
	// before kind labels (people and groups) the label of their kind
	// (kindLabel): such a node has no label but :Node.
	kindLabelBackfill = backfillSpec{
		name:    "kindlabel1",
		what:    "backfill kind labels",
		missing: `MATCH (c:Node) WHERE NOT c:CI AND size(labels(c)) = 1 RETURN c LIMIT 1000`,
		props: func(c store.CI, props map[string]any) {
			props["label"] = kindLabel(kindOrCI(c.Kind))
		},
		set: `UNWIND $rows AS row MATCH (c:Node {id: row.id}) SET c:$(row.props.label)`,
	}
)

const (
	qBackfillDone     = `MATCH (m:SkeinMigration {name: $name}) RETURN count(m)`
	qBackfillSet      = `UNWIND $rows AS row MATCH (c:CI {id: row.id}) SET c += row.props`
	qBackfillFinished = `MERGE (m:SkeinMigration {name: $name}) ON CREATE SET m.at = datetime()`
)

// backfill runs b, a thousand CIs per transaction. A CI written meanwhile
// gets the properties from ciProperties; running it twice at once (two
// processes starting) writes the same values.
func (s *Store) backfill(ctx context.Context, sess neo4j.SessionWithContext, b backfillSpec) error {
	name := map[string]any{"name": b.name}
	done, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) { return count(ctx, tx, qBackfillDone, name) })
	if err != nil {
		return translate(b.what, err)
	}
	if done.(int64) > 0 {
		return nil
	}
	for {
		n, err := sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			recs, err := collect(ctx, tx, b.missing, nil)
			if err != nil {
				return 0, err
			}
			rows := make([]any, 0, len(recs))
			for _, r := range recs {
				c, err := ciFromNode(r.Values[0])
				if err != nil {
					return 0, &appError{fmt.Errorf("neo4j: decode CI: %w", err)}
				}
				props := map[string]any{}
				b.props(c, props)
				rows = append(rows, map[string]any{"id": string(c.ID), "props": props})
			}
			if len(rows) > 0 {
				set := b.set
				if set == "" {
					set = qBackfillSet
				}
				if _, err := run(ctx, tx, set, map[string]any{"rows": rows}); err != nil {
					return 0, err
				}
			}
			return len(rows), nil
		})
		if err != nil {
			return translate(b.what, err)
		}
		if n.(int) == 0 {
			break
		}
	}
	_, err = sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) { return run(ctx, tx, qBackfillFinished, name) })
	if err != nil && !schemaAlreadyExists(err) {
		return translate(b.what, err)
	}
	return nil
}

func schemaAlreadyExists(err error) bool {
	var ne *neo4j.Neo4jError
	if !errors.As(err, &ne) {
		return false
	}
	switch ne.Code {
	case "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
		"Neo.ClientError.Schema.ConstraintAlreadyExists",
		"Neo.ClientError.Schema.IndexAlreadyExists",
		"Neo.ClientError.Schema.ConstraintWithNameAlreadyExists",
		"Neo.ClientError.Schema.IndexWithNameAlreadyExists":
		return true
	}
	return false
}

// Ping reports whether Neo4j is reachable (store.ErrUnavailable if not).
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	if err := s.driver.VerifyConnectivity(ctx); err != nil {
		return translate("connect", err)
	}
	return nil
}

// Close releases the driver and its connections. It is safe to call twice.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.QueryTimeout)
		defer cancel()
		if cerr := s.driver.Close(ctx); cerr != nil {
			err = translate("close", cerr)
		}
	})
	return err
}

// Reset deletes every Skein node (CIs with their relationships, identity
// keys, audit records, model extensions) in batches of small transactions.
// It is DESTRUCTIVE and meant for tests and benchmarks, which need an empty
// database (Community edition has a single user database). The schema is
// kept.
func (s *Store) Reset(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(context.Background())
	// CALL { ... } IN TRANSACTIONS only runs in an auto-commit transaction.
	// Relationships go first, so no inner transaction has to delete a hub
	// with all its relationships at once.
	for _, q := range []string{
		"MATCH (:CI)-[r]->(:CI) CALL { WITH r DELETE r } IN TRANSACTIONS OF 10000 ROWS",
		"MATCH (n) WHERE n:CI OR n:Node OR n:IdentityKey OR n:AuditRecord OR n:ModelExtension OR n:APIToken OR n:IdentityConflict OR n:SkeinSequence OR n:SkeinSyncRun OR n:SkeinScopeMember " +
			"CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS",
	} {
		res, err := sess.Run(ctx, q, nil, s.txTimeout(ctx))
		if err == nil {
			_, err = res.Consume(ctx)
		}
		if err != nil {
			return translate("reset", err)
		}
	}
	return nil
}

// withTimeout applies the configured query timeout to a context without a
// deadline.
func (s *Store) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, s.cfg.QueryTimeout)
}

// txTimeout is the server-side timeout of a transaction run under ctx: the
// time left before ctx's deadline, at most the query timeout.
func (s *Store) txTimeout(ctx context.Context) func(*neo4j.TransactionConfig) {
	d := s.cfg.QueryTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < d {
			d = left
		}
	}
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return neo4j.WithTxTimeout(d)
}

func (s *Store) session(ctx context.Context, mode neo4j.AccessMode) neo4j.SessionWithContext {
	return s.driver.NewSession(ctx, neo4j.SessionConfig{AccessMode: mode, DatabaseName: s.cfg.Database})
}

// read runs work in a read transaction under the call's deadline, retried
// as retry says, and translates errors.
func (s *Store) read(ctx context.Context, op string, work func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error)) (any, error) {
	return s.attempt(ctx, op, false, func(ctx context.Context) (any, error) {
		sess := s.session(ctx, neo4j.AccessModeRead)
		defer sess.Close(context.Background())
		return sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			return work(ctx, tx)
		}, s.txTimeout(ctx))
	})
}

// readOne runs one read-only statement as a transaction of its own under
// the call's deadline, retried and translated as read's are, and returns
// its records. It sends the transaction's BEGIN with the statement, as the
// driver's ExecuteQuery does, where ExecuteRead waits for BEGIN's answer
// before it sends the statement: one round trip fewer, 20-50 µs of the
// 0.4-0.6 ms a small traversal takes on loopback (the rest is Neo4j's).
// A read of more than one statement that must see one state of the
// graph takes read.
func (s *Store) readOne(ctx context.Context, op, query string, params map[string]any) ([]*neo4j.Record, error) {
	out, err := s.attempt(ctx, op, false, func(ctx context.Context) (any, error) {
		return neo4j.ExecuteQuery(ctx, s.driver, query, params, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase(s.cfg.Database), neo4j.ExecuteQueryWithReadersRouting(),
			neo4j.ExecuteQueryWithoutBookmarkManager(), neo4j.ExecuteQueryWithTransactionConfig(s.txTimeout(ctx)))
	})
	if err != nil {
		return nil, err
	}
	return out.(*neo4j.EagerResult).Records, nil
}

// write runs work in a write transaction under the call's deadline,
// retried as retry says (races with concurrent writers included), and
// translates errors. work must be re-runnable from scratch.
func (s *Store) write(ctx context.Context, op string, work func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error)) (any, error) {
	return s.attempt(ctx, op, true, func(ctx context.Context) (any, error) {
		sess := s.session(ctx, neo4j.AccessModeWrite)
		defer sess.Close(context.Background())
		return sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			return work(ctx, tx)
		}, s.txTimeout(ctx))
	})
}

// attempt runs one call to Neo4j (a transaction in a session of its own)
// under the call's deadline (the store's query timeout when ctx has
// none), retried as retry says (races too when races is set), and
// translates its error.
func (s *Store) attempt(ctx context.Context, op string, races bool, run func(ctx context.Context) (any, error)) (any, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	ctx, cancel := s.withTimeout(ctx)
	defer cancel()
	out, err := retry(ctx, races, func() (any, error) { return run(ctx) })
	if err != nil {
		return nil, translate(op, err)
	}
	return out, nil
}

// retry runs attempt, one managed transaction (which the driver, configured
// with no retry time, does not retry), until it succeeds or fails for good:
//   - a transient error of Neo4j (a deadlock, say) is retried with a
//     jittered exponential backoff until ctx is done;
//   - a failure to reach Neo4j (or its database), or a connection lost
//     before the commit, is retried at once, connectAttempts times in all:
//     Neo4j being down must not keep callers waiting;
//   - with races, a race lost to a concurrent writer (see raceLost) is
//     retried, raceAttempts times in all;
//   - anything else (a commit whose outcome is unknown among them) is
//     returned as it is.
//
// It returns attempt's last error, or ctx's error if ctx ends a backoff.
func retry(ctx context.Context, races bool, attempt func() (any, error)) (any, error) {
	var connects, raceLosses, transients int
	for {
		out, err := attempt()
		if err == nil {
			return out, nil
		}
		var backoff time.Duration
		switch retryKind(err) {
		case retryConnect:
			connects++
			if connects >= connectAttempts {
				return nil, err
			}
		case retryTransient:
			transients++
			backoff = min(transientBackoff<<min(transients-1, 10), maxTransientBackoff)
		case retryRace:
			raceLosses++
			if !races || raceLosses >= raceAttempts {
				return nil, err
			}
			backoff = time.Duration(1<<min(raceLosses, 6)) * time.Millisecond
		default:
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, err
		}
		if backoff > 0 {
			backoff += rand.N(backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
		}
	}
}

// run runs a query and discards its result.
func run(ctx context.Context, tx neo4j.ManagedTransaction, query string, params map[string]any) (any, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return nil, err
	}
	_, err = res.Consume(ctx)
	return nil, err
}

// collect runs a query and returns all its records.
func collect(ctx context.Context, tx neo4j.ManagedTransaction, query string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// rowRecords ends a statement that has collected its rows into the list
// rows (WITH collect([a, b, ...]) AS rows): it returns them a thousand to a
// record, each record one list (collectRows).
//
// Bolt records cost several microseconds each to send and read, list
// elements a fraction of that: reads of thousands of rows (traversals,
// node summaries, edges) are two to three times faster as lists than as a
// record per row. But not as one list in one record: the driver reads a
// message into a buffer that grows by one chunk at a time, copying what it
// holds, and keeps it for the connection's life. A hub's subgraph at
// 50,000 CIs is a message of tens of megabytes: its first read on a
// connection took about 0.4 s longer (a CPU profile: 0.28 s of it copying
// in the driver), and every pooled connection that once carried one kept
// that much memory. In records of 1,000 rows the same analysis (from the
// core switch of the 50,000-CI bench estate) took 0.88-0.92 s against
// 1.05-1.09 s warm, 1.02-1.13 s against 1.41-1.54 s on a new connection,
// and left 10 MiB less heap (100 to 10,000 rows a record measured alike).
// No rows, no record (the WHERE: Neo4j's range(0, -1, 1000) is [0]).
const rowRecords = `
UNWIND range(0, size(rows) - 1, 1000) AS i
WITH rows, i WHERE i < size(rows)
RETURN rows[i..i + 1000]`

// listRecords ends a statement that has collected three parallel lists,
// l1, l2 and l3 (WITH collect(a) AS l1, collect(b) AS l2, collect(c) AS
// l3): it returns them a thousand elements of each to a record, which
// parallelLists reads, for the reasons of rowRecords.
const listRecords = `
UNWIND range(0, size(l1) - 1, 1000) AS i
WITH l1, l2, l3, i WHERE i < size(l1)
RETURN l1[i..i + 1000], l2[i..i + 1000], l3[i..i + 1000]`

// collectRows runs a query that returns its rows as lists, each in a
// record of its own (rowRecords), each row a list of width values, and
// returns the rows in order.
func collectRows(ctx context.Context, tx neo4j.ManagedTransaction, query string, params map[string]any, width int) ([][]any, error) {
	recs, err := collect(ctx, tx, query, params)
	if err != nil {
		return nil, err
	}
	return listRows(recs, width)
}

// listRows returns the rows of the records of a query that returns them as
// lists, one a record (collectRows).
func listRows(recs []*neo4j.Record, width int) ([][]any, error) {
	var rows [][]any
	for _, rec := range recs {
		if len(rec.Values) != 1 {
			return nil, fmt.Errorf("neo4j: expected one list per record, got %d values", len(rec.Values))
		}
		list, _ := rec.Values[0].([]any)
		for _, r := range list {
			row, ok := r.([]any)
			if !ok || len(row) != width {
				return nil, fmt.Errorf("neo4j: expected rows of %d values", width)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}
