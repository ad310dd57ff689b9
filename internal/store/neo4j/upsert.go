package neo4j

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// Statements of UpsertCIs. Every UNWIND list is sorted (keys by key, CIs by
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
MATCH (k)-[:IDENTIFIES]->(c:CI)
RETURN key, c.id`
	// qLockCIs locks CIs exclusively before reading them, so a concurrent
	// writer that reached the same CI through another key waits for us and
	// then reads what we wrote (no lost update).
	qLockCIs = `UNWIND $ids AS id
MATCH (c:CI {id: id})
SET c._lock = true
REMOVE c._lock
RETURN c`
	qDeleteKeys = `UNWIND $keys AS key
MATCH (k:IdentityKey {key: key})
DETACH DELETE k`
	qUnlinkKeys = `UNWIND $keys AS key
MATCH (k:IdentityKey {key: key})-[r:IDENTIFIES]->()
DELETE r`
	qCreateCIs = `UNWIND $rows AS row
CREATE (c:CI:Node)
SET c = row.props
WITH c, row
UNWIND row.keys AS key
MATCH (k:IdentityKey {key: key})
CREATE (k)-[:IDENTIFIES]->(c)`
	qUpdateCIs = `UNWIND $rows AS row
MATCH (c:CI {id: row.id})
SET c = row.props`
	// qSightCIs writes what an unchanged upsert changes: last-seen times
	// and possibly the key list.
	qSightCIs = `UNWIND $rows AS row
MATCH (c:CI {id: row.id})
SET c.last_seen_at = row.last_seen_at, c._seen = row.seen, c._keys = row.keys`
	qLinkKeys = `UNWIND $rows AS row
MATCH (k:IdentityKey {key: row.key})
MATCH (c:CI {id: row.ci})
CREATE (k)-[:IDENTIFIES]->(c)`
)

// UpsertCIs identifies each item by its keys, then creates, merges (via
// b.Reconcile) or reports it unchanged, all in one write transaction. See
// store.CIWriter.
func (s *Store) UpsertCIs(ctx context.Context, actor store.Actor, b store.UpsertBatch) ([]store.UpsertResult, error) {
	if err := store.CheckBatch("items", len(b.Items)); err != nil {
		return nil, err
	}
	if b.Reconcile == nil {
		return nil, store.Invalid("reconcile", "a reconcile function is required")
	}
	invalid := make([]error, len(b.Items))
	for i, it := range b.Items {
		if err := it.Check(); err != nil {
			invalid[i] = err.WithPrefix(fmt.Sprintf("items[%d]", i))
		}
	}
	out, err := s.write(ctx, "upsert CIs", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		u := &upsertTx{
			ctx:     ctx,
			tx:      tx,
			now:     time.Now().UTC(),
			actor:   actor,
			batch:   b,
			invalid: invalid,
			owner:   map[string]store.ID{},
			initial: map[string]store.ID{},
			cis:     map[store.ID]*ciState{},
		}
		return u.run()
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.UpsertResult), nil
}

// ciState is a CI as the transaction currently sees it.
type ciState struct {
	ci    store.CI
	isNew bool // created by this transaction
	dirty bool // must be written
	full  bool // class, attributes or sources changed (else only sightings and keys)
}

// upsertTx is one attempt of an UpsertCIs transaction; a retry starts a
// fresh one.
type upsertTx struct {
	ctx     context.Context
	tx      neo4j.ManagedTransaction
	now     time.Time
	actor   store.Actor
	batch   store.UpsertBatch
	invalid []error

	// owner maps every key the transaction knows (and holds locked, or
	// knows through a locked CI) to the CI owning it now, "" for none.
	owner map[string]store.ID
	// initial is the owner as stored when the transaction first saw the key.
	initial map[string]store.ID
	cis     map[store.ID]*ciState
}

func (u *upsertTx) run() ([]store.UpsertResult, error) {
	items := u.batch.Items
	var keys []string
	var owners []store.ID // CIs named by ID, then the owners of keys
	for i, it := range items {
		switch {
		case u.invalid[i] != nil:
		case it.ID != "":
			owners = append(owners, it.ID) // identified by ID, not by its keys
		default:
			keys = append(keys, it.Keys...)
		}
	}
	if err := u.claimKeys(keys); err != nil {
		return nil, err
	}
	for _, o := range u.owner {
		if o != "" {
			owners = append(owners, o)
		}
	}
	if err := u.loadCIs(owners); err != nil {
		return nil, err
	}

	audit := &auditLog{actor: u.actor, now: u.now}
	results := make([]store.UpsertResult, len(items))
	for i, it := range items {
		res, err := u.apply(i, it, audit)
		if err != nil {
			return nil, err // whole call fails (appError) or driver error
		}
		if res.Err != nil && u.batch.Atomic {
			return nil, &appError{&store.ItemError{Index: i, Err: res.Err}}
		}
		results[i] = res
	}
	if err := u.flush(); err != nil {
		return nil, err
	}
	if err := audit.flush(u.ctx, u.tx); err != nil {
		return nil, err
	}
	return results, nil
}

// apply decides one item against the transaction's current state. A
// returned error fails the whole call; an item failure is in the result.
func (u *upsertTx) apply(i int, it store.CIUpsert, audit *auditLog) (store.UpsertResult, error) {
	prefix := fmt.Sprintf("items[%d]", i)
	if u.invalid[i] != nil {
		return store.UpsertResult{Status: store.StatusInvalid, Err: u.invalid[i]}, nil
	}
	var owners []store.ID
	if it.ID != "" {
		if u.cis[it.ID] == nil {
			return store.UpsertResult{Status: store.StatusNotFound,
				Err: fmt.Errorf("%s: CI %s: %w", prefix, it.ID, store.ErrNotFound)}, nil
		}
		owners = []store.ID{it.ID}
	} else {
		var err error
		if owners, err = u.identify(it.Keys); err != nil {
			return store.UpsertResult{}, err
		}
	}
	if len(owners) > 1 {
		return conflictResult(store.AtField(prefix, u.conflictOf(it.Keys))), nil
	}
	var existing *store.CI
	var target store.ID
	if len(owners) == 1 {
		target = owners[0]
		c := cloneCI(u.cis[target].ci)
		existing = &c
	}
	r, err := u.batch.Reconcile(existing, it, u.actor.Source)
	if err != nil {
		var inv *store.InvalidError
		switch {
		case errors.Is(err, store.ErrConflict):
			return conflictResult(store.AtField(prefix, err)), nil
		case errors.As(err, &inv):
			return store.UpsertResult{Status: store.StatusInvalid, Err: inv.WithPrefix(prefix)}, nil
		}
		return store.UpsertResult{}, &appError{fmt.Errorf("neo4j: upsert CIs: %s: reconcile: %w", prefix, err)}
	}
	rKeys, inv := checkReconciled(r, it.Attributes, existing)
	if inv != nil {
		return store.UpsertResult{Status: store.StatusInvalid, Err: inv.WithPrefix(prefix)}, nil
	}

	// Claim the keys the merge derived that the transaction has not seen.
	var unknown []string
	for _, k := range rKeys {
		if _, ok := u.owner[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if err := u.claimKeys(unknown); err != nil {
		return store.UpsertResult{}, err
	}
	for _, k := range rKeys {
		if o := u.owner[k]; o != "" && o != target {
			keys := rKeys
			if target != "" && len(existing.Keys) > 0 {
				// Name the CI being merged into first.
				keys = append([]string{existing.Keys[0]}, rKeys...)
			}
			return conflictResult(store.AtField(prefix, u.conflictOf(keys))), nil
		}
	}

	source := u.actor.Source
	if existing == nil {
		id := store.NewID()
		c := &ciState{isNew: true, dirty: true, ci: store.CI{
			ID:         id,
			Kind:       store.KindCI,
			Version:    1,
			Class:      r.Class,
			Attributes: cloneAttributes(r.Attributes),
			Keys:       rKeys,
			Sources:    maps.Clone(nonNilMap(r.Sources)),
			SeenBy:     map[string]time.Time{source: u.now},
			CreatedAt:  u.now,
			UpdatedAt:  u.now,
			LastSeenAt: u.now,
		}}
		u.cis[id] = c
		for _, k := range rKeys {
			u.owner[k] = id
		}
		if err := audit.add(store.KindCI, string(id), store.ActionCreate, r.Changes); err != nil {
			return store.UpsertResult{}, &appError{fmt.Errorf("neo4j: upsert CIs: %s: %w", prefix, err)}
		}
		return store.UpsertResult{Status: store.StatusCreated, CI: cloneCI(c.ci), Changes: r.Changes}, nil
	}

	c := u.cis[target]
	status := store.StatusUnchanged
	if len(r.Changes) > 0 {
		status = store.StatusUpdated
		c.ci.Class = r.Class
		c.ci.Attributes = cloneAttributes(r.Attributes)
		c.ci.Sources = maps.Clone(nonNilMap(r.Sources))
		c.ci.UpdatedAt = u.now
		c.full = true
	}
	for _, k := range c.ci.Keys {
		if !slices.Contains(rKeys, k) {
			u.owner[k] = "" // released
		}
	}
	for _, k := range rKeys {
		u.owner[k] = target
	}
	c.ci.Keys = rKeys
	c.ci.SeenBy[source] = u.now
	c.ci.LastSeenAt = u.now
	for _, t := range c.ci.SeenBy {
		if t.After(c.ci.LastSeenAt) {
			c.ci.LastSeenAt = t
		}
	}
	c.dirty = true
	if status == store.StatusUpdated {
		if err := audit.add(store.KindCI, string(target), store.ActionUpdate, r.Changes); err != nil {
			return store.UpsertResult{}, &appError{fmt.Errorf("neo4j: upsert CIs: %s: %w", prefix, err)}
		}
	}
	return store.UpsertResult{Status: status, CI: cloneCI(c.ci), Changes: r.Changes}, nil
}

func conflictResult(err error) store.UpsertResult {
	return store.UpsertResult{Status: store.StatusConflict, Err: err}
}

// checkReconciled validates what a ReconcileFunc returned: it is written as
// is, so it gets the checks the input got (attribute names already checked
// on the input or stored on the existing CI are not checked again). It
// returns the keys without duplicates.
func checkReconciled(r store.Reconciled, in store.Attributes, existing *store.CI) ([]string, *store.InvalidError) {
	if !store.ValidIdentifier(r.Class) {
		return nil, store.Invalid("class", "reconciled class %q is not a class name", clip(r.Class))
	}
	if len(r.Keys) == 0 {
		return nil, store.Invalid("keys", "reconciliation left no identity key")
	}
	keys := make([]string, 0, len(r.Keys))
	for j, k := range r.Keys {
		if k == "" {
			return nil, store.Invalid(fmt.Sprintf("keys[%d]", j), "must not be empty")
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	var fresh store.Attributes
	for name, v := range r.Attributes {
		if err := checkValue(v); err != nil {
			return nil, store.Invalid("attributes."+name, "%v", err)
		}
		if _, ok := in[name]; ok {
			continue
		}
		if existing != nil {
			if _, ok := existing.Attributes[name]; ok {
				continue
			}
		}
		if fresh == nil {
			fresh = store.Attributes{}
		}
		fresh[name] = v
	}
	if err := store.CheckAttributeNames("attributes", fresh); err != nil {
		var inv *store.InvalidError
		if errors.As(err, &inv) {
			return nil, inv
		}
		return nil, store.Invalid("attributes", "%v", err)
	}
	return keys, nil
}

// identify returns the distinct CIs owning any of keys, in order of first
// appearance, loading (and locking) them if needed.
func (u *upsertTx) identify(keys []string) ([]store.ID, error) {
	for attempt := 0; attempt < 2; attempt++ {
		var owners, missing []store.ID
		for _, k := range keys {
			o := u.owner[k]
			if o == "" || slices.Contains(owners, o) {
				continue
			}
			owners = append(owners, o)
			if u.cis[o] == nil {
				missing = append(missing, o)
			}
		}
		if len(missing) == 0 {
			return owners, nil
		}
		if err := u.loadCIs(missing); err != nil {
			return nil, err
		}
	}
	// loadCIs cleared the owner of keys whose CI vanished; recompute.
	var owners []store.ID
	for _, k := range keys {
		if o := u.owner[k]; o != "" && !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	return owners, nil
}

// conflictOf is the *store.ConflictError of an item whose keys belong to
// several CIs.
func (u *upsertTx) conflictOf(keys []string) *store.ConflictError {
	return store.NewConflictError(keys, func(k string) store.ID { return u.owner[k] })
}

// claimKeys merges and locks the given keys (those not yet known), in
// sorted order, recording their current owners.
func (u *upsertTx) claimKeys(keys []string) error {
	var todo []string
	for _, k := range keys {
		if _, ok := u.owner[k]; !ok {
			todo = append(todo, k)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	slices.Sort(todo)
	todo = slices.Compact(todo)
	recs, err := collect(u.ctx, u.tx, qClaimKeys, map[string]any{"keys": todo})
	if err != nil {
		return err
	}
	for _, k := range todo {
		u.owner[k] = ""
		u.initial[k] = ""
	}
	for _, rec := range recs {
		k := asString(rec.Values[0])
		o := store.ID(asString(rec.Values[1]))
		u.owner[k] = o
		u.initial[k] = o
	}
	return nil
}

// loadCIs locks and loads CIs (in id order) and registers their keys.
func (u *upsertTx) loadCIs(ids []store.ID) error {
	var todo []string
	for _, id := range ids {
		if u.cis[id] == nil {
			todo = append(todo, string(id))
		}
	}
	if len(todo) == 0 {
		return nil
	}
	slices.Sort(todo)
	todo = slices.Compact(todo)
	recs, err := collect(u.ctx, u.tx, qLockCIs, map[string]any{"ids": todo})
	if err != nil {
		return err
	}
	for _, rec := range recs {
		c, err := ciFromNode(rec.Values[0])
		if err != nil {
			return &appError{fmt.Errorf("neo4j: upsert CIs: load CI: %w", err)}
		}
		u.cis[c.ID] = &ciState{ci: c}
		for _, k := range c.Keys {
			if _, ok := u.owner[k]; !ok {
				u.owner[k] = c.ID
				u.initial[k] = c.ID
			}
		}
	}
	// A CI deleted since its key was read leaves the key unowned. (It cannot
	// happen while we hold the key's lock, but be safe.)
	for _, id := range todo {
		if u.cis[store.ID(id)] != nil {
			continue
		}
		for k, o := range u.owner {
			if o == store.ID(id) {
				u.owner[k] = ""
			}
		}
	}
	return nil
}

// flush writes the transaction's final state: key nodes released or left
// unlinked are deleted, moved keys unlinked, new CIs created with their key
// links, changed CIs rewritten, and remaining key links created.
func (u *upsertTx) flush() error {
	var del, unlink []string
	var links []any
	for k, init := range u.initial {
		fin := u.owner[k]
		switch {
		case fin == "":
			del = append(del, k)
		case fin == init:
		default:
			if init != "" {
				unlink = append(unlink, k)
			}
			if !u.cis[fin].isNew {
				links = append(links, map[string]any{"key": k, "ci": string(fin)})
			}
		}
	}
	var creates, updates, sightings []any
	for _, id := range slices.Sorted(maps.Keys(u.cis)) {
		c := u.cis[id]
		if !c.dirty {
			continue
		}
		if !c.isNew && !c.full {
			seen, err := seenJSON(c.ci.SeenBy)
			if err != nil {
				return &appError{fmt.Errorf("neo4j: upsert CIs: CI %s: %w", id, err)}
			}
			sightings = append(sightings, map[string]any{
				"id": string(id), "last_seen_at": c.ci.LastSeenAt, "seen": seen, "keys": slices.Clone(c.ci.Keys),
			})
			continue
		}
		props, err := ciProperties(&c.ci)
		if err != nil {
			return &appError{fmt.Errorf("neo4j: upsert CIs: CI %s: %w", id, err)}
		}
		if c.isNew {
			creates = append(creates, map[string]any{"props": props, "keys": c.ci.Keys})
		} else {
			updates = append(updates, map[string]any{"id": string(id), "props": props})
		}
	}
	slices.Sort(del)
	slices.Sort(unlink)
	slices.SortFunc(links, func(a, b any) int {
		return strings.Compare(a.(map[string]any)["key"].(string), b.(map[string]any)["key"].(string))
	})
	steps := []struct {
		q     string
		param string
		rows  any
		n     int
	}{
		{qDeleteKeys, "keys", del, len(del)},
		{qUnlinkKeys, "keys", unlink, len(unlink)},
		{qCreateCIs, "rows", creates, len(creates)},
		{qUpdateCIs, "rows", updates, len(updates)},
		{qSightCIs, "rows", sightings, len(sightings)},
		{qLinkKeys, "rows", links, len(links)},
	}
	for _, st := range steps {
		if st.n == 0 {
			continue
		}
		if _, err := run(u.ctx, u.tx, st.q, map[string]any{st.param: st.rows}); err != nil {
			return err
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	return s[:80] + "..."
}
