package neo4j

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// Statements of UpsertNodes. Every UNWIND list is sorted (keys by key, CIs by
// id) so concurrent batches take their locks in the same order.
const (
	// qClaimKeys merges the IdentityKey nodes of a batch and locks them
	// exclusively (SET then REMOVE of a dummy property is Neo4j's documented
	// way to take a write lock): concurrent writers of the same key
	// serialise here, and the key's owner read afterwards cannot change
	// until we commit. The uniqueness constraint on IdentityKey.key makes
	// MERGE safe under concurrency. Only owned keys come back.
	qClaimKeys = `UNWIND $keys AS key
MERGE (k:IdentityKey {key: key})
SET k._lock = true
REMOVE k._lock
WITH k, key
MATCH (k)-[:IDENTIFIES]->(c:Node)
RETURN key, c.id`
	// qLockCIs locks CIs exclusively before reading them, so a concurrent
	// writer that reached the same CI through another key waits for us and
	// then reads what we wrote (no lost update).
	qLockCIs = `UNWIND $ids AS id
MATCH (c:Node {id: id})
SET c._lock = true
REMOVE c._lock
RETURN c`
	qDeleteKeys = `UNWIND $keys AS key
MATCH (k:IdentityKey {key: key})
DETACH DELETE k`
	qUnlinkKeys = `UNWIND $keys AS key
MATCH (k:IdentityKey {key: key})-[r:IDENTIFIES]->()
DELETE r`
	// Every node is a :Node and has the label of its kind ({LABEL}:
	// kindLabel, quoted), which queries about one kind are anchored on.
	// The label is written into the statement, one statement a kind: the
	// same statement with a dynamic label (SET c:$(row.label)) created
	// identified CIs about 6 % slower (the service's creates, 25,000 CIs of
	// the bench estate, alternating).
	qCreateNodes = `UNWIND $rows AS row
CREATE (c:Node:{LABEL})
SET c = row.props
WITH c, row
UNWIND row.keys AS key
MATCH (k:IdentityKey {key: key})
CREATE (k)-[:IDENTIFIES]->(c)`
	qUpdateCIs = `UNWIND $rows AS row
MATCH (c:Node {id: row.id})
SET c = row.props`
	// qSightCIs writes what an unchanged upsert changes: last-seen times
	// and possibly the key list.
	qSightCIs = `UNWIND $rows AS row
MATCH (c:Node {id: row.id})
SET c.last_seen_at = row.last_seen_at, c._seen = row.seen, c._keys = row.keys`
	qLinkKeys = `UNWIND $rows AS row
MATCH (k:IdentityKey {key: row.key})
MATCH (c:Node {id: row.ci})
CREATE (k)-[:IDENTIFIES]->(c)`
)

// UpsertNodes identifies each item by its keys, then creates, merges (via
// b.Reconcile) or reports it unchanged, all in one write transaction: the
// planner (store.UpsertPlan) over this store's write primitives (writeTx).
// See store.NodeWriter.
func (s *Store) UpsertNodes(ctx context.Context, actor store.Actor, b store.UpsertBatch) ([]store.UpsertResult, error) {
	plan, err := store.PlanUpsert(actor, b)
	if err != nil {
		return nil, err
	}
	out, err := s.write(ctx, "upsert CIs", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		t := &writeTx{tx: tx, now: time.Now().UTC(), actor: actor, unowned: map[string]bool{}}
		res, err := plan.Upsert(ctx, t)
		if err != nil {
			if t.failed != nil && err == t.failed {
				return nil, err // the driver's: retry decides
			}
			return nil, &appError{err} // the planner's: final
		}
		return res, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.UpsertResult), nil
}

// UpsertGraph writes a batch's nodes, then its edges between them, in one
// write transaction (see store.GraphWriter).
func (s *Store) UpsertGraph(ctx context.Context, actor store.Actor, b store.UpsertBatch) (store.GraphResult, error) {
	plan, err := store.PlanUpsert(actor, b)
	if err != nil {
		return store.GraphResult{}, err
	}
	out, err := s.write(ctx, "upsert CIs and relationships", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		t := &writeTx{tx: tx, now: time.Now().UTC(), actor: actor, unowned: map[string]bool{}}
		items, edges, edgeErrs, err := plan.UpsertGraph(ctx, t)
		if err != nil {
			if t.failed != nil && err == t.failed {
				return nil, err // the driver's: retry decides
			}
			return nil, &appError{err} // the planner's: final
		}
		invalid := checkRelInputs(edges)
		for i, e := range edgeErrs {
			if e != nil {
				invalid[i] = e
			}
		}
		rels, err := createRelsInTx(ctx, tx, actor, edges, invalid, b.Atomic, t.now)
		if err != nil {
			var ie *store.ItemError
			if errors.As(err, &ie) {
				return nil, &appError{&store.ItemError{Index: len(items) + ie.Index, Err: ie.Err}}
			}
			return nil, err
		}
		return store.GraphResult{Items: items, Edges: rels}, nil
	})
	if err != nil {
		return store.GraphResult{}, err
	}
	return out.(store.GraphResult), nil
}

// writeTx is the Neo4j store's store.WriteTx: one attempt of a managed
// write transaction. Every UNWIND list is sorted (keys by key, nodes by
// id), and keys are locked before nodes, so concurrent batches take their
// locks in the same order.
type writeTx struct {
	tx    neo4j.ManagedTransaction
	now   time.Time
	actor store.Actor
	// unowned are the keys KeyOwners merged that had no owner: Apply
	// deletes those still unowned.
	unowned map[string]bool
	// failed is the last error of the driver, returned as is.
	failed error
}

var _ store.WriteTx = (*writeTx)(nil)

func (t *writeTx) Now() time.Time { return t.now }

func (t *writeTx) fail(err error) error {
	t.failed = err
	return err
}

// KeyOwners merges and locks the keys' IdentityKey nodes (qClaimKeys).
func (t *writeTx) KeyOwners(ctx context.Context, keys []string) ([]store.ID, error) {
	sorted := keys
	if !slices.IsSorted(keys) {
		sorted = slices.Sorted(slices.Values(keys))
	}
	recs, err := collect(ctx, t.tx, qClaimKeys, map[string]any{"keys": sorted})
	if err != nil {
		return nil, t.fail(err)
	}
	owned := make(map[string]store.ID, len(recs))
	for _, rec := range recs {
		owned[asString(rec.Values[0])] = store.ID(asString(rec.Values[1]))
	}
	out := make([]store.ID, len(keys))
	for i, k := range keys {
		if out[i] = owned[k]; out[i] == "" {
			t.unowned[k] = true
		}
	}
	return out, nil
}

// LoadNodes locks and loads nodes (qLockCIs), in id order.
func (t *writeTx) LoadNodes(ctx context.Context, ids []store.ID) ([]store.Node, error) {
	todo := uniqueIDs(ids)
	recs, err := collect(ctx, t.tx, qLockCIs, map[string]any{"ids": todo})
	if err != nil {
		return nil, t.fail(err)
	}
	out := make([]store.Node, 0, len(recs))
	for _, rec := range recs {
		c, err := ciFromNode(rec.Values[0])
		if err != nil {
			return nil, fmt.Errorf("neo4j: upsert CIs: load CI: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Apply writes the change set: key nodes released or left unowned are
// deleted, moved keys unlinked, new nodes created with their key links,
// changed nodes rewritten (a sighting only its sighting properties and
// keys), the remaining key links created, and the audit records.
func (t *writeTx) Apply(ctx context.Context, cs store.ChangeSet) error {
	created := make(map[store.ID]bool, len(cs.Created))
	for _, n := range cs.Created {
		created[n.ID] = true
	}
	var del, unlink []string
	var links []any
	owned := map[string]bool{}
	for _, m := range cs.Keys { // sorted by key
		switch {
		case m.To == "":
			del = append(del, m.Key)
		default:
			owned[m.Key] = true
			if m.From != "" {
				unlink = append(unlink, m.Key)
			}
			if !created[m.To] {
				links = append(links, map[string]any{"key": m.Key, "ci": string(m.To)})
			}
		}
	}
	for k := range t.unowned {
		if !owned[k] && !slices.Contains(del, k) {
			del = append(del, k)
		}
	}
	slices.Sort(del)
	creates, err := createStatements(cs.Created)
	if err != nil {
		return err
	}
	var updates, sightings []any
	for i := range cs.Updated { // sorted by id
		u := &cs.Updated[i]
		n := &u.Node
		if u.Sighting {
			seen := seenJSON(n.SeenBy)
			sightings = append(sightings, map[string]any{
				"id": string(n.ID), "last_seen_at": n.LastSeenAt, "seen": seen, "keys": slices.Clone(n.Keys),
			})
			continue
		}
		props, err := ciProperties(n)
		if err != nil {
			return fmt.Errorf("neo4j: upsert CIs: CI %s: %w", n.ID, err)
		}
		updates = append(updates, map[string]any{"id": string(n.ID), "props": props})
	}
	audit := &auditLog{actor: t.actor, now: t.now}
	for _, r := range cs.Audit {
		if err := audit.addRecord(r); err != nil {
			return fmt.Errorf("neo4j: upsert CIs: %w", err)
		}
	}
	type step struct {
		q     string
		param string
		rows  any
		n     int
	}
	steps := []step{
		{qDeleteKeys, "keys", del, len(del)},
		{qUnlinkKeys, "keys", unlink, len(unlink)},
	}
	for _, c := range creates {
		steps = append(steps, step{c.q, "rows", c.rows, len(c.rows)})
	}
	steps = append(steps, []step{
		{qUpdateCIs, "rows", updates, len(updates)},
		{qSightCIs, "rows", sightings, len(sightings)},
		{qLinkKeys, "rows", links, len(links)},
	}...)
	for _, st := range steps {
		if st.n == 0 {
			continue
		}
		if _, err := run(ctx, t.tx, st.q, map[string]any{st.param: st.rows}); err != nil {
			return t.fail(err)
		}
	}
	if err := audit.flush(ctx, t.tx); err != nil {
		return t.fail(err)
	}
	return nil
}

// creates is one statement creating new nodes of one kind and its rows.
type creates struct {
	q    string
	rows []any
}

// createStatements returns the statements creating new nodes (qCreateNodes),
// one a kind, in the order the kinds first come in nodes, with their rows:
// properties and identity keys.
func createStatements(nodes []store.Node) ([]creates, error) {
	var out []creates
	at := map[store.ObjectKind]int{}
	for i := range nodes {
		n := &nodes[i]
		kind := kindOrCI(n.Kind)
		j, ok := at[kind]
		if !ok {
			label, err := labelExpr(kind) // the model's kinds are valid
			if err != nil {
				return nil, fmt.Errorf("neo4j: upsert CIs: %w", err)
			}
			j = len(out)
			at[kind] = j
			out = append(out, creates{q: strings.Replace(qCreateNodes, "{LABEL}", label, 1), rows: make([]any, 0, len(nodes)-i)})
		}
		props, err := ciProperties(n)
		if err != nil {
			return nil, fmt.Errorf("neo4j: upsert CIs: CI %s: %w", n.ID, err)
		}
		out[j].rows = append(out[j].rows, map[string]any{"props": props, "keys": n.Keys})
	}
	return out, nil
}

func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:80] + "..."
}
