// Package neo4j implements store.Store on Neo4j 5 (Community or Enterprise)
// through the official Go driver.
//
// Data model:
//
//	(:Node {id, class, created_at, updated_at, last_seen_at, _kind, _version, _sources, _seen, _keys, <attribute>: value...})
//	  with the label of its kind (kindLabel: :CI, :Person, :Group...), which
//	  queries about one kind are anchored on
//	(:IdentityKey {key})-[:IDENTIFIES]->(:Node)
//	(:Node)-[:<TYPE> {id, created_at, updated_at, _version, _seen or _seen_by and _seen_at, <attribute>: value...}]->(:Node)
//	(:AuditRecord {id, time, actor, source, kind, object, action, changes})
//	(:ModelExtension {kind, name, definition, created_at})
//
// Attributes are native properties (string, integer, float, boolean,
// datetime, list of strings). _sources and _seen hold JSON objects; _keys
// repeats the CI's identity keys in their reconciled order; _kind and
// _version are store.Node's Kind and Version (every node of the graph has
// the label :Node, with a uniqueness constraint on its id, and its kind's
// label). Attribute names
// always start with a letter, so they never collide with the underscore
// properties. Uniqueness of CI ids, identity keys, audit record ids and
// model extensions (kind, name) is enforced by uniqueness constraints that
// Open creates.
//
// UpsertNodes is store.UpsertPlan over writeTx, this package's store.WriteTx.
// Writes hold exclusive locks on every IdentityKey node they look at (in key
// order) and on every CI they read before writing it (in id order), so
// concurrent writers serialise on the keys and CIs they share and never act
// on stale reads. Neither request values nor request names are spliced into
// query text, except relationship types and kind labels, which are checked
// with store.ValidIdentifier right before the query is built.
//
// Reads of many rows (traversals, Edges, node summaries, subgraphs) return
// them as lists: a Bolt record costs several microseconds to send and
// read, a list element a fraction of that, and on a hub's tens of
// thousands of rows that is the difference between 400 and 150 ms. They
// come a thousand to a record, not all in one: the driver holds a
// connection's largest message for the connection's life and copies it as
// it grows (rowRecords, listRecords); the depth-only traversal sends a
// record a depth, at most the node budget of IDs in all. A depth-only traversal from one
// start is one statement that Neo4j plans as a pruning breadth-first
// expand (reachStatement, ADR 4); the others expand level by level. An
// impact analysis reads the part of the graph it walks in one transaction
// instead (store.SubgraphReader, ReadSubgraph: the same expand, then each
// CI's relationships and fields, ADR 30) and applies its rules in Go.
//
// Reads of one statement (the depth-only traversal, subgraphs without
// relationships, Nodes, NodeFields, tokens, free-text search) run through
// readOne, which sends the transaction's BEGIN with the statement (ADR
// 31); reads of several statements that must see one state of the graph
// run in read's transaction, writes in write's; attempt gives each the
// call's deadline, the retries and the error translation.
package neo4j
