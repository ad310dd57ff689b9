// Package store is the vocabulary shared by Skein's storage backends: the
// value types of the configuration graph (CI, Relationship, AuditRecord), the
// small consumer-shaped interfaces that every backend implements, and the
// errors they return.
//
// It holds no business rules. Classes, validation, identification rules and
// attribute reconciliation live in internal/cmdb, which prepares every write
// (typed attributes, normalised identity keys, an expanded class list for
// filters) and hands the store a ReconcileFunc to run inside the write
// transaction. A backend only has to persist, enforce uniqueness, keep the
// audit trail atomically with each write, and traverse.
//
// Lists are queried with one filter language, Expr (and / or / not over
// typed comparisons), which internal/cmdb type-checks against the model and
// each backend compiles to parameterised SQL or Cypher; Sort and the
// cursors made by EncodeSortCursor order and page them (docs/adr/0013).
//
// Two backends implement Store: internal/store/neo4j and
// internal/store/embedded. Both run internal/store/storetest word for word; a
// behaviour that one backend has and the other lacks is a bug.
package store
