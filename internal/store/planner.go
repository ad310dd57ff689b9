package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteTx is what a backend supplies inside one write transaction: the few
// primitives the planner (Upsert) needs. Nothing in it knows a kind's
// rules. A backend offers one per attempt of its write transaction and
// runs Upsert again on a fresh one when it retries.
//
// Errors of the primitives are the backend's own (a driver error the
// backend retries, say); the planner returns them unchanged.
type WriteTx interface {
	// Now is the transaction's clock: the same time for every write of it.
	Now() time.Time
	// KeyOwners returns the node owning each of keys, in the order of keys
	// ("" for a key nobody owns), and makes sure that no other
	// transaction changes who owns them until this one ends: Neo4j merges
	// and locks the keys' records, the embedded store has a single writer.
	KeyOwners(ctx context.Context, keys []string) ([]ID, error)
	// LoadNodes loads the nodes with the given (distinct, sorted) ids,
	// locked until the transaction ends, in any order; absent ids are
	// absent. The planner owns the nodes returned.
	LoadNodes(ctx context.Context, ids []ID) ([]Node, error)
	// Apply writes a change set: nodes, key ownership and audit records,
	// in this transaction. It is called once, last.
	Apply(ctx context.Context, cs ChangeSet) error
}

// ChangeSet is the net effect of a write on the stored graph, as the
// planner hands it to WriteTx.Apply.
type ChangeSet struct {
	// Created are the new nodes, in order of creation.
	Created []Node
	// Updated are the changed stored nodes, ordered by ID.
	Updated []NodeWrite
	// Keys are the identity keys whose owner changed, ordered by key.
	Keys []KeyMove
	// Audit are the audit records of the write, in order.
	Audit []AuditRecord
}

// NodeWrite is a stored node to rewrite.
type NodeWrite struct {
	Node Node
	// Sighting reports that only its sightings (SeenBy, LastSeenAt) and
	// its key list changed, not its class, attributes, sources or version:
	// a backend may write just those.
	Sighting bool
}

// KeyMove is a change of an identity key's owner.
type KeyMove struct {
	Key string
	// From is the owner as stored ("" for a key nobody owned).
	From ID
	// To is the owner after the write ("" for a released key).
	To ID
}

// UpsertPlan is a batch upsert checked and ready to run in a backend's
// write transaction (see Upsert).
type UpsertPlan struct {
	actor   Actor
	batch   UpsertBatch
	invalid []error
}

// PlanUpsert checks a batch before its transaction: its size, its Decide
// function and every item (NodeUpsert.Check). An invalid item fails the
// call with an *ItemError when the batch is atomic, else it becomes an
// invalid result when the plan runs.
func PlanUpsert(actor Actor, b UpsertBatch) (*UpsertPlan, error) {
	if len(b.Items) > 0 || len(b.Edges) == 0 { // a graph batch may hold only relationships
		if err := CheckBatch("items", len(b.Items)); err != nil {
			return nil, err
		}
	}
	if len(b.Edges) > 0 {
		if err := CheckBatch("relationships", len(b.Edges)); err != nil {
			return nil, err
		}
	}
	if b.Reconcile == nil {
		return nil, Invalid("reconcile", "a reconcile function is required")
	}
	if b.Kind == "" {
		b.Kind = KindCI
	}
	p := &UpsertPlan{actor: actor, batch: b, invalid: make([]error, len(b.Items))}
	for i, it := range b.Items {
		if b.Forget != nil && it.ID == "" {
			return nil, Invalid(fmt.Sprintf("items[%d]", i), "a write that forgets sightings names each node by ID")
		}
		if ie := it.Check(); ie != nil {
			ie = ie.WithPrefix(fmt.Sprintf("items[%d]", i))
			if b.Atomic {
				return nil, &ItemError{Index: i, Err: ie}
			}
			p.invalid[i] = ie
		}
	}
	return p, nil
}

// Upsert runs the plan over tx, the one implementation of UpsertNodes above
// every backend: it identifies each item (by ID, or by the owners of its
// keys), detects identity and version conflicts, calls the batch's Decide
// function, checks its decision, claims and releases keys, bumps versions,
// records sightings and audit records, and hands the net change set to
// tx.Apply. Items of a batch see the effect of the items before them.
//
// It is re-runnable: a backend that retries its transaction runs it again
// on a fresh tx. An atomic batch with a failed item returns an *ItemError
// before Apply; errors of tx come back unchanged.
func (p *UpsertPlan) Upsert(ctx context.Context, tx WriteTx) ([]UpsertResult, error) {
	res, _, _, err := p.UpsertGraph(ctx, tx)
	return res, err
}

// UpsertGraph is Upsert that also resolves the ends of the batch's edges
// (Edges) inside the transaction, before Apply: an item end to the node
// the item identified, an identity end to the node owning its first owned
// key (claimed and locked like the items' keys; a key nobody owns is
// released by Apply), an ID end as is. It returns the items' results, and
// for each edge its relationship input (ends as IDs) or the error of an end
// that names nothing (not_found, the field relationships[i].from or .to).
// With an atomic batch, such an edge fails the call with an *ItemError
// indexed past the items (len(Items) + i).
func (p *UpsertPlan) UpsertGraph(ctx context.Context, tx WriteTx) ([]UpsertResult, []RelationshipInput, []error, error) {
	n := 0
	for _, it := range p.batch.Items {
		n += len(it.Keys)
	}
	r := &planRun{
		ctx: ctx, tx: tx, p: p, now: tx.Now(),
		keys:  make(map[string]keyState, n),
		nodes: make(map[ID]*planNode, len(p.batch.Items)),
	}
	return r.run()
}

// resolveEdges resolves the ends of the batch's edges once its items have
// run (see UpsertGraph).
func (r *planRun) resolveEdges(results []UpsertResult) ([]RelationshipInput, []error, error) {
	edges := r.p.batch.Edges
	ins := make([]RelationshipInput, len(edges))
	errs := make([]error, len(edges))
	// The identity ends' keys were claimed, and their owners loaded, with
	// the items' (run): the run knows every owner as the items left it.
	resolve := func(i int, field string, end EdgeEnd) (ID, error) {
		at := fmt.Sprintf("relationships[%d].%s", i, field)
		switch {
		case end.Item >= 0:
			if end.Item >= len(results) {
				return "", Invalid(at, "names item %d of a batch of %d", end.Item, len(results))
			}
			res := results[end.Item]
			switch res.Status {
			case StatusCreated, StatusUpdated, StatusUnchanged:
				return res.Node.ID, nil
			}
			return "", AtField(at, fmt.Errorf("names items[%d], which was not written (%s): %w", end.Item, res.Status, ErrNotFound))
		case len(end.Keys) > 0:
			for _, k := range end.Keys {
				if o := r.owner(k); o != "" {
					if n := r.nodes[o]; n != nil && n.node.Kind == r.p.batch.Kind {
						return o, nil
					}
				}
			}
			return "", AtField(at, fmt.Errorf("no %s has this identity: %w", kindName(r.p.batch.Kind), ErrNotFound))
		case end.ID != "":
			return end.ID, nil
		}
		return "", Invalid(at, "names no node: an item, an identity or an ID is required")
	}
	for i, e := range edges {
		from, err := resolve(i, "from", e.From)
		if err == nil {
			var to ID
			if to, err = resolve(i, "to", e.To); err == nil {
				ins[i] = RelationshipInput{Type: e.Type, Source: from, Target: to, Attributes: e.Attributes}
				if from == to {
					err = Invalid(fmt.Sprintf("relationships[%d].to", i), "names the same node as from")
				}
			}
		}
		if err != nil {
			if r.p.batch.Atomic {
				return nil, nil, &ItemError{Index: len(results) + i, Err: err}
			}
			errs[i] = err
		}
	}
	return ins, errs, nil
}

// planNode is a node as the running plan sees it. Its maps and slices are
// never changed in place once a result holds them: a change replaces them.
type planNode struct {
	node  Node
	isNew bool
	// dirty is dirtyNone, dirtySeen or dirtyFull.
	dirty int
}

const (
	dirtyNone = iota
	dirtySeen // sightings and keys only
	dirtyFull
)

// planRun is one run of an UpsertPlan over one transaction.
type planRun struct {
	ctx context.Context
	tx  WriteTx
	p   *UpsertPlan
	now time.Time

	// keys maps every key the run knows to its owners now and as stored.
	keys    map[string]keyState
	nodes   map[ID]*planNode // loaded or created; nil entry: absent
	created []ID             // in order of creation
	audit   []AuditRecord
}

// keyState is who owns a key now and as stored ("" for nobody).
type keyState struct{ now, init ID }

// owner returns who owns key now ("" for nobody or an unknown key).
func (r *planRun) owner(key string) ID { return r.keys[key].now }

// setOwner makes id the owner of a known key.
func (r *planRun) setOwner(key string, id ID) {
	ks := r.keys[key]
	ks.now = id
	r.keys[key] = ks
}

func (r *planRun) run() ([]UpsertResult, []RelationshipInput, []error, error) {
	items := r.p.batch.Items
	n := 0
	for _, it := range items {
		n += len(it.Keys)
	}
	keys := make([]string, 0, n)
	var ids []ID // nodes named by ID, then the owners of keys
	for i, it := range items {
		switch {
		case r.p.invalid[i] != nil:
		case it.ID != "":
			ids = append(ids, it.ID) // identified by ID, not by its keys
		default:
			keys = append(keys, it.Keys...)
		}
	}
	// The identity ends of the edges are claimed with the items' keys: one
	// claim, in one (sorted) order; their owners are loaded with the items'.
	for _, e := range r.p.batch.Edges {
		keys = append(append(keys, e.From.Keys...), e.To.Keys...)
	}
	if err := r.claim(keys); err != nil {
		return nil, nil, nil, err
	}
	for _, k := range keys {
		if o := r.owner(k); o != "" {
			ids = append(ids, o)
		}
	}
	if err := r.load(ids); err != nil {
		return nil, nil, nil, err
	}
	results := make([]UpsertResult, len(items))
	for i, it := range items {
		res, err := r.item(i, it)
		if err != nil {
			return nil, nil, nil, err
		}
		if res.Err != nil && r.p.batch.Atomic {
			return nil, nil, nil, &ItemError{Index: i, Err: res.Err}
		}
		results[i] = res
	}
	var edges []RelationshipInput
	var edgeErrs []error
	if len(r.p.batch.Edges) > 0 {
		var err error
		if edges, edgeErrs, err = r.resolveEdges(results); err != nil {
			return nil, nil, nil, err
		}
	}
	if err := r.tx.Apply(r.ctx, r.changeSet()); err != nil {
		return nil, nil, nil, err
	}
	return results, edges, edgeErrs, nil
}

// claim asks the backend for the owners of the keys the run does not know.
func (r *planRun) claim(keys []string) error {
	var todo []string
	for i, k := range keys {
		if _, ok := r.keys[k]; !ok {
			if todo == nil {
				todo = make([]string, 0, len(keys)-i)
			}
			todo = append(todo, k)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	slices.Sort(todo)
	todo = slices.Compact(todo)
	owners, err := r.tx.KeyOwners(r.ctx, todo)
	if err != nil {
		return err
	}
	if len(owners) != len(todo) {
		return fmt.Errorf("key owners: %d answers for %d keys", len(owners), len(todo))
	}
	for i, k := range todo {
		r.keys[k] = keyState{now: owners[i], init: owners[i]}
	}
	return nil
}

// load loads the nodes the run has not seen and registers their keys. A
// node that owned a key but is gone leaves the key unowned.
func (r *planRun) load(ids []ID) error {
	var todo []ID
	for _, id := range ids {
		if _, ok := r.nodes[id]; !ok && id != "" {
			todo = append(todo, id)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	slices.Sort(todo)
	todo = slices.Compact(todo)
	found, err := r.tx.LoadNodes(r.ctx, todo)
	if err != nil {
		return err
	}
	pns := make([]planNode, len(found))
	for i := range found {
		n := &found[i]
		if n.Kind == "" {
			n.Kind = KindCI
		}
		n.Version = max(n.Version, 1)
		pns[i].node = *n
		r.nodes[n.ID] = &pns[i]
		for _, k := range n.Keys {
			if _, ok := r.keys[k]; !ok {
				r.keys[k] = keyState{now: n.ID, init: n.ID}
			}
		}
	}
	for _, id := range todo {
		if _, ok := r.nodes[id]; ok {
			continue
		}
		r.nodes[id] = nil // gone: the keys it owned are free
		for k, ks := range r.keys {
			if ks.now == id {
				r.setOwner(k, "")
			}
		}
	}
	return nil
}

// identify returns the distinct nodes owning any of keys, in order of
// first appearance, loading them if needed.
func (r *planRun) identify(keys []string) ([]ID, error) {
	if err := r.claim(keys); err != nil {
		return nil, err
	}
	var owners []ID
	for _, k := range keys {
		if o := r.owner(k); o != "" && !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	if err := r.load(owners); err != nil {
		return nil, err
	}
	owners = owners[:0]
	for _, k := range keys {
		if o := r.owner(k); o != "" && !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	return owners, nil
}

func (r *planRun) conflictOf(keys []string) *ConflictError {
	return NewConflictError(keys, r.owner)
}

// item identifies, decides and applies one item to the run's view. A
// returned error fails the whole call; an item's failure is in its result.
func (r *planRun) item(i int, it NodeUpsert) (UpsertResult, error) {
	kind := r.p.batch.Kind
	if err := r.p.invalid[i]; err != nil {
		return UpsertResult{Status: StatusInvalid, Err: err}, nil
	}
	var owners []ID
	if it.ID != "" {
		if n := r.nodes[it.ID]; n == nil || n.node.Kind != kind {
			return UpsertResult{Status: StatusNotFound,
				Err: fmt.Errorf("%s: %s %s: %w", itemPrefix(i), kindName(kind), it.ID, ErrNotFound)}, nil
		}
		owners = []ID{it.ID}
	} else {
		var err error
		if owners, err = r.identify(it.Keys); err != nil {
			return UpsertResult{}, err
		}
	}
	if len(owners) > 1 {
		return conflictResult(AtField(itemPrefix(i), r.conflictOf(it.Keys))), nil
	}
	var ex *planNode
	var current *Node
	if len(owners) == 1 {
		ex = r.nodes[owners[0]]
		if ex.node.Kind != kind {
			return conflictResult(AtField(itemPrefix(i), fmt.Errorf("its identity keys belong to %s %s, not a %s: %w",
				kindName(ex.node.Kind), ex.node.ID, kindName(kind), ErrConflict))), nil
		}
		c := ex.node
		current = &c
	}
	if it.ExpectedVersion != 0 {
		ve := &VersionConflictError{Kind: kind, Expected: it.ExpectedVersion}
		if ex != nil {
			ve.ID, ve.Current = ex.node.ID, ex.node.Version
		}
		if ex == nil || ex.node.Version != it.ExpectedVersion {
			return conflictResult(AtField(itemPrefix(i), ve)), nil
		}
	}

	it.At = r.now
	d, err := r.p.batch.Reconcile(current, it, r.p.actor.Source)
	if err != nil {
		var ie *InvalidError
		switch {
		case errors.As(err, &ie):
			return UpsertResult{Status: StatusInvalid, Err: ie.WithPrefix(itemPrefix(i))}, nil
		case errors.Is(err, ErrConflict):
			return conflictResult(AtField(itemPrefix(i), err)), nil
		case errors.Is(err, ErrNotFound):
			return UpsertResult{Status: StatusNotFound, Err: AtField(itemPrefix(i), err)}, nil
		}
		return UpsertResult{}, fmt.Errorf("%s: decide: %w", itemPrefix(i), err)
	}
	attrs, keys, ie := CheckDecision(d)
	if ie != nil {
		return UpsertResult{Status: StatusInvalid, Err: ie.WithPrefix(itemPrefix(i))}, nil
	}

	// Claim: every key must be free or the node's already.
	if err := r.claim(keys); err != nil {
		return UpsertResult{}, err
	}
	var target ID
	if ex != nil {
		target = ex.node.ID
	}
	for _, k := range keys {
		if o := r.owner(k); o != "" && o != target {
			ks := keys
			if ex != nil && len(ex.node.Keys) > 0 {
				// Name the node being merged into first.
				ks = append([]string{ex.node.Keys[0]}, keys...)
			}
			return conflictResult(AtField(itemPrefix(i), r.conflictOf(ks))), nil
		}
	}

	source := r.p.actor.Source
	if ex == nil {
		n := Node{
			ID: NewID(), Kind: kind, Class: d.Class, Attributes: attrs, Keys: keys,
			Sources: copySources(d.Sources), SetAt: NextSetAt(nil, d.Changes, r.now), SeenBy: map[string]time.Time{source: r.now},
			Version: 1, CreatedAt: r.now, UpdatedAt: r.now, LastSeenAt: r.now,
		}
		r.nodes[n.ID] = &planNode{node: n, isNew: true, dirty: dirtyFull}
		r.created = append(r.created, n.ID)
		for _, k := range keys {
			r.setOwner(k, n.ID)
		}
		r.record(kind, n.ID, ActionCreate, d.Changes)
		return UpsertResult{Status: StatusCreated, Node: n, Changes: d.Changes}, nil
	}

	n := ex.node
	for _, k := range n.Keys {
		if !slices.Contains(keys, k) && r.owner(k) == n.ID {
			r.setOwner(k, "") // released
		}
	}
	for _, k := range keys {
		r.setOwner(k, n.ID)
	}
	status := StatusUnchanged
	level := dirtySeen
	if len(d.Changes) > 0 || !slices.Equal(keys, n.Keys) {
		// A write that changes the node: a new version. Keys follow from
		// attributes, so they change alone only when identity rules do
		// (or a merge moves them); that is a new version too, but no
		// change a client reported.
		n.Version++
		level = dirtyFull
	}
	if len(d.Changes) > 0 {
		status = StatusUpdated
		n.Class, n.Attributes, n.Sources, n.UpdatedAt = d.Class, attrs, copySources(d.Sources), r.now
		n.SetAt = NextSetAt(n.SetAt, d.Changes, r.now)
	}
	n.Keys = keys
	if f := r.p.batch.Forget; f != nil {
		// Scoped sync: drop the source's sighting instead of recording one.
		if s, dropped := f.Drop(n.SeenBy); dropped {
			n.SeenBy, n.LastSeenAt = s, LastSeen(s)
			if n.LastSeenAt.IsZero() {
				n.LastSeenAt = n.CreatedAt
			}
		} else if level == dirtySeen {
			level = dirtyNone // nothing to write
		}
	} else {
		n.SeenBy, n.LastSeenAt = seen(n.SeenBy, source, r.now)
	}
	ex.node = n
	ex.dirty = max(ex.dirty, level)
	if status == StatusUpdated {
		r.record(kind, n.ID, ActionUpdate, d.Changes)
	}
	return UpsertResult{Status: status, Node: n, Changes: d.Changes}, nil
}

func (r *planRun) record(kind ObjectKind, id ID, action Action, changes []FieldChange) {
	r.audit = append(r.audit, AuditRecord{
		ID: NewID(), Time: r.now, Actor: r.p.actor, Kind: kind, Object: string(id), Action: action,
		Changes: changes, Related: AuditRelated(kind, string(id)),
	})
}

// changeSet is the net effect of the run.
func (r *planRun) changeSet() ChangeSet {
	cs := ChangeSet{Audit: r.audit, Created: make([]Node, 0, len(r.created)), Updated: make([]NodeWrite, 0, len(r.nodes)-len(r.created))}
	for _, id := range r.created {
		cs.Created = append(cs.Created, r.nodes[id].node)
	}
	for _, n := range r.nodes {
		if n == nil || n.isNew || n.dirty == dirtyNone {
			continue
		}
		cs.Updated = append(cs.Updated, NodeWrite{Node: n.node, Sighting: n.dirty == dirtySeen})
	}
	slices.SortFunc(cs.Updated, func(a, b NodeWrite) int { return strings.Compare(string(a.Node.ID), string(b.Node.ID)) })
	for k, ks := range r.keys {
		if ks.now != ks.init {
			cs.Keys = append(cs.Keys, KeyMove{Key: k, From: ks.init, To: ks.now})
		}
	}
	slices.SortFunc(cs.Keys, func(a, b KeyMove) int { return strings.Compare(a.Key, b.Key) })
	return cs
}

// CheckDecision validates what a Decide function returned, since it is
// written as is: a class name, at least one identity key and none empty
// (duplicates dropped), attribute names that are identifiers and not
// reserved, values of the store's types within their ranges (floats
// finite, times within MinTime to MaxTime). It returns the attributes in
// canonical form (a copy: UTC times, non-nil lists) and the keys. Field
// paths are relative to the item.
//
// It is the one check of decisions for every backend. Where the two
// backends' checks differed before, the stricter rule was kept: every
// attribute name is checked, not only those the decision added.
func CheckDecision(d Decision) (Attributes, []string, *InvalidError) {
	if !ValidIdentifier(d.Class) {
		return nil, nil, Invalid("class", "decided class %q is not a class name", clip(d.Class, 80))
	}
	if len(d.Keys) == 0 {
		return nil, nil, Invalid("keys", "at least one identity key is required")
	}
	keys := make([]string, 0, len(d.Keys))
	for j, k := range d.Keys {
		if k == "" {
			return nil, nil, Invalid(fmt.Sprintf("keys[%d]", j), "must not be empty")
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if err := CheckAttributeNames("attributes", d.Attributes); err != nil {
		return nil, nil, err.(*InvalidError)
	}
	attrs, ie := NormalizeAttributes("attributes", d.Attributes)
	if ie != nil {
		return nil, nil, ie
	}
	return attrs, keys, nil
}

// NormalizeAttributes returns a copy of a holding exactly the store's
// value types in their canonical form (UTC times without monotonic
// reading, non-nil string lists), or an *InvalidError on "<field>.<name>"
// for a value no backend can store.
func NormalizeAttributes(field string, a Attributes) (Attributes, *InvalidError) {
	out := make(Attributes, len(a))
	for k, v := range a {
		switch x := v.(type) {
		case string, bool, int64:
			out[k] = x
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, Invalid(field+"."+k, "float %v cannot be stored", x)
			}
			out[k] = x
		case time.Time:
			if err := CheckTime(field+"."+k, x); err != nil {
				return nil, err
			}
			out[k] = x.UTC() // UTC also drops the monotonic reading
		case []string:
			out[k] = append(make([]string, 0, len(x)), x...)
		default:
			return nil, Invalid(field+"."+k, "unsupported value type %T", v)
		}
	}
	return out, nil
}

// itemPrefix is "items[i]", the field path of item i.
func itemPrefix(i int) string { return "items[" + strconv.Itoa(i) + "]" }

func conflictResult(err error) UpsertResult {
	return UpsertResult{Status: StatusConflict, Err: err}
}

// kindName names a kind in messages: "CI" for KindCI (and for the empty
// kind of a batch, which means KindCI).
func kindName(k ObjectKind) string {
	if k == KindCI || k == "" {
		return "CI"
	}
	return string(k)
}

// NoNode is the not_found error of a write naming at field an ID that no
// node of kind has (of any kind for AnyKind).
func NoNode(field string, kind ObjectKind) error {
	what := "node"
	if kind != AnyKind {
		what = kindName(kind)
	}
	return AtField(field, fmt.Errorf("no %s has this ID: %w", what, ErrNotFound))
}

func copySources(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// seen returns a copy of seenBy with source seen at now, and the latest
// time in it.
func seen(seenBy map[string]time.Time, source string, now time.Time) (map[string]time.Time, time.Time) {
	out := make(map[string]time.Time, len(seenBy)+1)
	last := now
	for k, t := range seenBy {
		out[k] = t
		if t.After(last) {
			last = t
		}
	}
	out[source] = now
	return out, last
}
