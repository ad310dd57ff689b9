package embedded

import (
	"context"
	"database/sql"
	"fmt"
)

// schemaVersion is stored in PRAGMA user_version. Version 0 is an empty
// file; migrations[v] upgrades version v to v+1.
const schemaVersion = 12

var migrations = []string{
	// 0 → 1: initial schema.
	`
CREATE TABLE cis (
	id            INTEGER PRIMARY KEY,   -- node slot of the adjacency index
	uid           TEXT    NOT NULL UNIQUE, -- the public CI ID (UUIDv7)
	class         TEXT    NOT NULL,
	name          TEXT,                  -- copies of string attributes, for filters
	status        TEXT,
	environment   TEXT,
	owner         TEXT,
	support_group TEXT,
	attrs         TEXT    NOT NULL,      -- store.EncodeAttributes
	keys          TEXT    NOT NULL,      -- JSON list of identity keys, in order
	sources       TEXT    NOT NULL,      -- JSON {attribute: source}
	seen_by       TEXT    NOT NULL,      -- JSON {source: unix nanos}
	created_at    INTEGER NOT NULL,      -- unix nanos, UTC
	updated_at    INTEGER NOT NULL,
	last_seen_at  INTEGER NOT NULL
);
CREATE INDEX cis_class ON cis(class, uid);
CREATE INDEX cis_name ON cis(name) WHERE name IS NOT NULL;
CREATE INDEX cis_status ON cis(status) WHERE status IS NOT NULL;
CREATE INDEX cis_environment ON cis(environment) WHERE environment IS NOT NULL;
CREATE INDEX cis_owner ON cis(owner) WHERE owner IS NOT NULL;
CREATE INDEX cis_support_group ON cis(support_group) WHERE support_group IS NOT NULL;
CREATE INDEX cis_last_seen_at ON cis(last_seen_at);

-- The primary key makes the database enforce that a key has one owner.
-- A CI's keys are also listed in cis.keys, and the writer deletes them by
-- that list with the CI, so no index on ci (nor a foreign key, which would
-- need one) is kept: it would cost a b-tree insert per key on the hot path.
CREATE TABLE identity_keys (
	key TEXT    PRIMARY KEY,
	ci  INTEGER NOT NULL
) WITHOUT ROWID;

-- The tags attribute, one row per tag, for the Tag filter; maintained by
-- the writer from the attributes like identity_keys.
CREATE TABLE ci_tags (
	tag TEXT    NOT NULL,
	ci  INTEGER NOT NULL,
	PRIMARY KEY (tag, ci)
) WITHOUT ROWID;

CREATE TABLE rel_types (
	id   INTEGER PRIMARY KEY,
	name TEXT    NOT NULL UNIQUE
);

CREATE TABLE relationships (
	id         INTEGER PRIMARY KEY,
	src        INTEGER NOT NULL REFERENCES cis(id) ON DELETE CASCADE,
	type       INTEGER NOT NULL REFERENCES rel_types(id),
	dst        INTEGER NOT NULL REFERENCES cis(id) ON DELETE CASCADE,
	attrs      TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (src, type, dst)
);
CREATE INDEX relationships_dst ON relationships(dst, type);

-- Audit rows are appended in commit order (rowid); History reads them
-- through (object, time, id).
CREATE TABLE audit (
	seq     INTEGER PRIMARY KEY,
	id      TEXT    NOT NULL,            -- store.NewID(), time ordered
	time    INTEGER NOT NULL,
	actor   TEXT    NOT NULL,
	source  TEXT    NOT NULL,
	kind    TEXT    NOT NULL,
	object  TEXT    NOT NULL,
	action  TEXT    NOT NULL,
	changes TEXT    NOT NULL
);
CREATE INDEX audit_object ON audit(object, time, id);

CREATE TABLE model_extensions (
	id         INTEGER PRIMARY KEY,
	kind       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	definition BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (kind, name)
);
`,
	// 1 → 2: API tokens (hashes only; see store.APIToken).
	`
CREATE TABLE tokens (
	id         TEXT    PRIMARY KEY,
	name       TEXT    NOT NULL,
	role       TEXT    NOT NULL,
	hash       BLOB    NOT NULL,
	created_at INTEGER NOT NULL,
	created_by TEXT    NOT NULL,
	expires_at INTEGER,              -- unix nanos; NULL: never
	revoked_at INTEGER               -- unix nanos; NULL: not revoked
) WITHOUT ROWID;
`,
	// 2 → 3: incoming relationships ordered by (type, source), so that a
	// page of a hub's relationships is an index range (RelationshipPages).
	`
DROP INDEX relationships_dst;
CREATE INDEX relationships_dst ON relationships(dst, type, src);
`,
	// 3 → 4: the audit query (store.AuditReader.Audit): records by time, by
	// id, and by the objects they relate to (a relationship's two CIs,
	// store.AuditRelated), filled in for the relationship records already
	// there from the source and target their create or delete record names.
	`
ALTER TABLE audit ADD COLUMN ref1 TEXT;
ALTER TABLE audit ADD COLUMN ref2 TEXT;
UPDATE audit SET
	ref1 = (SELECT coalesce(json_extract(c.value, '$.v.a'), json_extract(c.value, '$.v.b'))
		FROM audit r, json_each(r.changes) c
		WHERE r.object = audit.object AND r.kind = 'relationship' AND r.action IN ('create', 'delete')
		AND json_extract(c.value, '$.f') = 'source' LIMIT 1),
	ref2 = (SELECT coalesce(json_extract(c.value, '$.v.a'), json_extract(c.value, '$.v.b'))
		FROM audit r, json_each(r.changes) c
		WHERE r.object = audit.object AND r.kind = 'relationship' AND r.action IN ('create', 'delete')
		AND json_extract(c.value, '$.f') = 'target' LIMIT 1)
WHERE kind = 'relationship';
CREATE INDEX audit_time ON audit(time, id);
CREATE INDEX audit_id ON audit(id);
CREATE INDEX audit_ref1 ON audit(ref1, time, id) WHERE ref1 IS NOT NULL;
CREATE INDEX audit_ref2 ON audit(ref2, time, id) WHERE ref2 IS NOT NULL;
`,
	// 4 → 5: open identity conflicts (store.ConflictStore), by CI pair.
	`
CREATE TABLE identity_conflicts (
	ci1        TEXT    NOT NULL,
	ci2        TEXT    NOT NULL,
	class      TEXT    NOT NULL,
	source     TEXT    NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	count      INTEGER NOT NULL,
	PRIMARY KEY (ci1, ci2)
) WITHOUT ROWID;
CREATE INDEX identity_conflicts_ci2 ON identity_conflicts(ci2);
`,
	// 5 → 6: the discovery sources an agent token is bound to (a JSON
	// array; NULL: none).
	`
ALTER TABLE tokens ADD COLUMN sources TEXT;
`,
	// 6 → 7: filters that ignore case (store.NodeFilter.CaseSensitive) look
	// names, owners, support groups and tags up by their folded form
	// (skein_fold1 is store.FoldText, registered by this package).
	`
CREATE INDEX cis_name_fold ON cis(skein_fold1(name));
CREATE INDEX cis_owner_fold ON cis(skein_fold1(owner));
CREATE INDEX cis_support_group_fold ON cis(skein_fold1(support_group));
CREATE INDEX ci_tags_fold ON ci_tags(skein_fold1(tag), ci);
`,
	// 7 → 8: free-text search (store.TextSearcher). ci_search holds each
	// CI's search document (skein_search1 is store.SearchDocument of its
	// attributes, registered by this package) under the CI's row id; the
	// triggers keep it in step with every write of cis in the same
	// transaction, and the INSERT fills it for the CIs already there. The
	// ascii tokenizer splits only at ASCII separators: documents and
	// queries hold tokens store.SearchTokens made, separated by spaces, so
	// FTS5 indexes exactly those tokens. The table keeps no copy of the
	// documents (content '') and no positions (detail none: phrases are
	// checked above the store), to keep what each write adds small.
	`
CREATE VIRTUAL TABLE ci_search USING fts5(body, tokenize = 'ascii', content = '', contentless_delete = 1, detail = none);
INSERT INTO ci_search(rowid, body) SELECT id, skein_search1(attrs) FROM cis;
CREATE TRIGGER ci_search_insert AFTER INSERT ON cis BEGIN
	INSERT INTO ci_search(rowid, body) VALUES (new.id, skein_search1(new.attrs));
END;
CREATE TRIGGER ci_search_update AFTER UPDATE OF attrs ON cis WHEN old.attrs IS NOT new.attrs BEGIN
	UPDATE ci_search SET body = skein_search1(new.attrs) WHERE rowid = new.id;
END;
CREATE TRIGGER ci_search_delete AFTER DELETE ON cis BEGIN
	DELETE FROM ci_search WHERE rowid = old.id;
END;
`,
	// 8 → 9: relationship versions and sightings (store.DecideEdge):
	// existing relationships are at version 1 and have no sightings (NULL)
	// until a source reports them again.
	`
ALTER TABLE relationships ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE relationships ADD COLUMN seen_by TEXT;
`,
	// 9 → 10: the table of CIs becomes the table of nodes of every kind
	// (store.Node): kind says which ('ci' for every node written before),
	// version counts the writes that changed a node (store.Node.Version;
	// existing nodes read as version 1). The table keeps its name cis,
	// which every statement, trigger and index of the adjacency index
	// names (see ADR 12). cis_kind serves the reads of one kind with no
	// other condition (a page of every CI in uid order, their count).
	`
ALTER TABLE cis ADD COLUMN kind TEXT NOT NULL DEFAULT 'ci';
ALTER TABLE cis ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX cis_kind ON cis(kind, uid);
`,
	// 10 → 11: named counters for the numbers of records (INC0010001),
	// store.SequenceStore.
	`
CREATE TABLE sequences (
	name  TEXT    PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
`,
	// 11 → 12: scoped sync (store.SyncStore): discovery runs (their
	// state as JSON), and which run last reported each member of a
	// source's scope.
	`
CREATE TABLE sync_runs (
	number INTEGER PRIMARY KEY,
	data   TEXT    NOT NULL
);
CREATE TABLE scope_members (
	source TEXT    NOT NULL,
	scope  TEXT    NOT NULL,
	member TEXT    NOT NULL,
	run    INTEGER NOT NULL,
	PRIMARY KEY (source, scope, member)
) WITHOUT ROWID;
`,
}

// migrate brings the database on conn to schemaVersion, one transaction per
// step.
func migrate(ctx context.Context, conn *sql.Conn) error {
	var v int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("embedded: read schema version: %w", err)
	}
	if v > schemaVersion {
		return fmt.Errorf("embedded: database schema version %d is newer than this program supports (%d)", v, schemaVersion)
	}
	for ; v < schemaVersion; v++ {
		if err := migrateStep(ctx, conn, v); err != nil {
			return fmt.Errorf("embedded: migrate schema %d to %d: %w", v, v+1, err)
		}
	}
	return nil
}

func migrateStep(ctx context.Context, conn *sql.Conn, v int) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
		return err
	}
	// user_version takes no parameter; v+1 is a constant of this program.
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}
