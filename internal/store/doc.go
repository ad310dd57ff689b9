// Package store is the vocabulary shared by Skein's storage backends: the
// value types of the configuration graph (Node, of which CI is the kind
// "ci"; Relationship, AuditRecord), the small consumer-shaped interfaces that
// every backend implements, and the errors they return.
//
// It holds no business rules. Classes, validation, identification rules and
// attribute reconciliation live in internal/cmdb, which prepares every write
// (typed attributes, normalised identity keys, an expanded class list for
// filters) and hands the store a Decide function (the CMDB's reconciliation,
// later a workflow's transition) to run inside the write transaction.
//
// # Nodes, versions and the planner
//
// Every node has a Kind (KindCI for every CI) and a Version (1 on create,
// one more with every write that changes its class, attributes or keys;
// sightings do not count, as ServiceNow's sys_mod_count). A write may expect
// a version (NodeUpsert.ExpectedVersion) and fails with a
// *VersionConflictError when the node is at another.
//
// Writes of nodes are planned once, here, above the backends (planner.go,
// ADR 12): a backend supplies a WriteTx per transaction attempt with four
// primitives (Now; KeyOwners, which holds the keys' ownership until commit;
// LoadNodes, which locks; Apply, which writes a ChangeSet with its audit
// records in bulk), and UpsertPlan.Upsert identifies each item, detects
// identity and version conflicts, runs the decision, checks it
// (CheckDecision), claims and releases keys, bumps versions and builds the
// audit records. Identification and reconciliation exist once; a backend
// keeps its hot paths (bulk statements, lock order) inside its primitives.
//
// The backend contract names no kind: NodeReader (Nodes, ListNodes),
// NodeWriter (UpsertNodes, DeleteNodes) and TextSearcher (SearchNodes) each
// take the kind they read or write (KindCI for CIs, "person", "group",
// later the record kinds; AnyKind where every kind is wanted), so a new
// kind is a model entry and a Decide function, not new backend methods.
// Retiring a node (keeping it, its keys and its edges) is an upsert that
// sets its status; DeleteNodes is the purge behind it.
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
