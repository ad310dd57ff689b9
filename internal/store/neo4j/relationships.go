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

// qLockEndpoints locks CIs (in id order) and returns the ids that exist.
// Writers of a relationship lock both endpoints first, so two transactions
// cannot both create (or both delete) the same relationship.
const qLockEndpoints = `UNWIND $ids AS id
MATCH (c:Node {id: id})
SET c._lock = true
REMOVE c._lock
RETURN id`

// typedQuery builds a statement around one relationship type. The type is
// checked with store.ValidIdentifier right here, and quoted, before it goes
// into the query text.
func typedQuery(format, typ string) (string, error) {
	if !store.ValidIdentifier(typ) {
		return "", &appError{store.Invalid("type", "%q is not a relationship type name", clip(typ))}
	}
	return strings.ReplaceAll(format, "{TYPE}", "`"+typ+"`"), nil
}

// typeExpr is the type part of a relationship pattern: "" for every type,
// else ":`A`|`B`". Each type is checked with store.ValidIdentifier.
func typeExpr(types []string) (string, error) {
	if len(types) == 0 {
		return "", nil
	}
	parts := make([]string, len(types))
	for i, t := range types {
		if !store.ValidIdentifier(t) {
			return "", store.Invalid("types", "%q is not a relationship type name", clip(t))
		}
		parts[i] = "`" + t + "`"
	}
	return ":" + strings.Join(parts, "|"), nil
}

const (
	// Relationship lookups anchor on the source through its index and reach
	// the target by expansion: the target carries no label, so the planner
	// cannot seek it and scan a hub's (a DNS service's, a storage array's)
	// tens of thousands of incoming relationships for every row.
	qLoadRels = `UNWIND $pairs AS p
MATCH (s:Node {id: p.s})-[r:{TYPE}]->(t)
WHERE t.id = p.t
RETURN p.s, p.t, properties(r)`
	qCreateRels = `UNWIND $rows AS row
MATCH (s:Node {id: row.s})
MATCH (t:Node {id: row.t})
CREATE (s)-[r:{TYPE}]->(t)
SET r = row.props`
	qUpdateRels = `UNWIND $rows AS row
MATCH (s:Node {id: row.s})-[r:{TYPE}]->(t)
WHERE t.id = row.t
SET r = row.props`
	qSightRels = `UNWIND $rows AS row
MATCH (s:Node {id: row.s})-[r:{TYPE}]->(t)
WHERE t.id = row.t
SET r._seen = row.seen, r._seen_by = row._seen_by, r._seen_at = row._seen_at`
	qDeleteRels = `UNWIND $rows AS row
MATCH (s:Node {id: row.s})-[r:{TYPE}]->(t)
WHERE t.id = row.t
DELETE r`
)

// relState is a relationship as a transaction currently sees it.
type relState struct {
	rel     store.Relationship
	exists  bool // present (stored, or created by this transaction)
	stored  bool // present in the database when the transaction read it
	dirty   bool // must be written
	sighted bool // only its sightings changed (written unless dirty)
	deleted bool // deleted by this transaction
}

// loadRels reads the stored relationships with the given keys into state,
// one statement per type.
func loadRels(ctx context.Context, tx neo4j.ManagedTransaction, keys []store.RelationshipKey, state map[store.ID]*relState) error {
	byType := map[string][]any{}
	seen := map[store.ID]bool{}
	for _, k := range keys {
		id := k.ID()
		if seen[id] {
			continue
		}
		seen[id] = true
		byType[k.Type] = append(byType[k.Type], map[string]any{"s": string(k.Source), "t": string(k.Target)})
	}
	for _, typ := range sortedKeys(byType) {
		q, err := typedQuery(qLoadRels, typ)
		if err != nil {
			return err
		}
		recs, err := collect(ctx, tx, q, map[string]any{"pairs": byType[typ]})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			k := store.RelationshipKey{Source: store.ID(asString(rec.Values[0])), Type: typ, Target: store.ID(asString(rec.Values[1]))}
			r, err := relFromProperties(k, rec.Values[2])
			if err != nil {
				return &appError{fmt.Errorf("neo4j: decode relationship: %w", err)}
			}
			if state[r.ID] == nil {
				state[r.ID] = &relState{rel: r, exists: true, stored: true}
			}
		}
	}
	return nil
}

// relRow says what writeRels puts in each row.
type relRow int

const (
	relKey relRow = iota
	relProps
	relSeen
)

// writeRels runs a per-type statement over rows sorted by relationship id.
// With relKey a row holds the ends only, with relProps also every
// property, with relSeen also the sightings.
func writeRels(ctx context.Context, tx neo4j.ManagedTransaction, format string, rels []*relState, with relRow) error {
	slices.SortFunc(rels, func(a, b *relState) int { return strings.Compare(string(a.rel.ID), string(b.rel.ID)) })
	byType := map[string][]any{}
	for _, st := range rels {
		row := map[string]any{"s": string(st.rel.Source), "t": string(st.rel.Target)}
		switch with {
		case relProps:
			props, err := relProperties(&st.rel)
			if err != nil {
				return &appError{fmt.Errorf("neo4j: relationship %s: %w", st.rel.ID, err)}
			}
			row["props"] = props
		case relSeen:
			seen := map[string]any{}
			setRelSeen(st.rel.SeenBy, seen)
			row["seen"], row[relPropSeenBy], row[relPropSeenAt] = seen[relPropSeen], seen[relPropSeenBy], seen[relPropSeenAt]
		}
		byType[st.rel.Type] = append(byType[st.rel.Type], row)
	}
	for _, typ := range sortedKeys(byType) {
		q, err := typedQuery(format, typ)
		if err != nil {
			return err
		}
		if _, err := run(ctx, tx, q, map[string]any{"rows": byType[typ]}); err != nil {
			return err
		}
	}
	return nil
}

func lockEndpoints(ctx context.Context, tx neo4j.ManagedTransaction, ids []string) (map[store.ID]bool, error) {
	found := map[store.ID]bool{}
	if len(ids) == 0 {
		return found, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	recs, err := collect(ctx, tx, qLockEndpoints, map[string]any{"ids": ids})
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		found[store.ID(asString(rec.Values[0]))] = true
	}
	return found, nil
}

func checkRelInput(in store.RelationshipInput) *store.InvalidError {
	switch {
	case !store.ValidIdentifier(in.Type):
		return store.Invalid("type", "%q is not a relationship type name", clip(in.Type))
	case in.Source == "":
		return store.Invalid("source", "is required")
	case in.Target == "":
		return store.Invalid("target", "is required")
	case in.Source == in.Target:
		return store.Invalid("target", "must differ from source")
	}
	if err := store.CheckAttributeNames("attributes", in.Attributes); err != nil {
		var inv *store.InvalidError
		if errors.As(err, &inv) {
			return inv
		}
		return store.Invalid("attributes", "%v", err)
	}
	if err := attributeProperties("attributes", in.Attributes, map[string]any{}); err != nil {
		var inv *store.InvalidError
		errors.As(err, &inv)
		return inv
	}
	return nil
}

// CreateRelationships creates relationships, idempotent on (source, type,
// target), in one transaction. See store.RelationshipStore.
func (s *Store) CreateRelationships(ctx context.Context, actor store.Actor, rels []store.RelationshipInput, atomic bool) ([]store.RelationshipResult, error) {
	if err := store.CheckBatch("relationships", len(rels)); err != nil {
		return nil, err
	}
	invalid := checkRelInputs(rels)
	out, err := s.write(ctx, "create relationships", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return createRelsInTx(ctx, tx, actor, rels, invalid, atomic, time.Now().UTC())
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.RelationshipResult), nil
}

// checkRelInputs checks each input (checkRelInput): its error, prefixed
// relationships[i], or nil.
func checkRelInputs(rels []store.RelationshipInput) []error {
	invalid := make([]error, len(rels))
	for i, in := range rels {
		if err := checkRelInput(in); err != nil {
			invalid[i] = err.WithPrefix(fmt.Sprintf("relationships[%d]", i))
		}
	}
	return invalid
}

// createRelsInTx creates or updates rels in transaction tx at now (those
// whose invalid entry is not nil fail with it), with their audit records.
func createRelsInTx(ctx context.Context, tx neo4j.ManagedTransaction, actor store.Actor, rels []store.RelationshipInput, invalid []error, atomic bool, now time.Time) ([]store.RelationshipResult, error) {
	var endpoints []string
	var keys []store.RelationshipKey
	for i, in := range rels {
		if invalid[i] != nil {
			continue
		}
		endpoints = append(endpoints, string(in.Source), string(in.Target))
		keys = append(keys, store.RelationshipKey{Source: in.Source, Type: in.Type, Target: in.Target})
	}
	audit := &auditLog{actor: actor, now: now}
	found, err := lockEndpoints(ctx, tx, slices.Clone(endpoints))
	if err != nil {
		return nil, err
	}
	var present []store.RelationshipKey
	for _, k := range keys {
		if found[k.Source] && found[k.Target] {
			present = append(present, k)
		}
	}
	state := map[store.ID]*relState{}
	if err := loadRels(ctx, tx, present, state); err != nil {
		return nil, err
	}
	results := make([]store.RelationshipResult, len(rels))
	for i, in := range rels {
		res, err := applyRel(i, in, invalid[i], found, state, audit, now)
		if err != nil {
			return nil, err
		}
		if res.Err != nil && atomic {
			return nil, &appError{&store.ItemError{Index: i, Err: res.Err}}
		}
		results[i] = res
	}
	var creates, updates, sightings []*relState
	for _, st := range state {
		switch {
		case !st.dirty && st.sighted && st.stored:
			sightings = append(sightings, st)
		case !st.dirty:
		case st.stored:
			updates = append(updates, st)
		default:
			creates = append(creates, st)
		}
	}
	if err := writeRels(ctx, tx, qCreateRels, creates, relProps); err != nil {
		return nil, err
	}
	if err := writeRels(ctx, tx, qUpdateRels, updates, relProps); err != nil {
		return nil, err
	}
	if err := writeRels(ctx, tx, qSightRels, sightings, relSeen); err != nil {
		return nil, err
	}
	if err := audit.flush(ctx, tx); err != nil {
		return nil, err
	}
	return results, nil
}

func applyRel(i int, in store.RelationshipInput, invalid error, found map[store.ID]bool, state map[store.ID]*relState, audit *auditLog, now time.Time) (store.RelationshipResult, error) {
	if invalid != nil {
		return store.RelationshipResult{Status: store.StatusInvalid, Err: invalid}, nil
	}
	if !found[in.Source] {
		return store.RelationshipResult{Status: store.StatusNotFound,
			Err: store.AtField(fmt.Sprintf("relationships[%d].source", i), fmt.Errorf("no node has this ID: %w", store.ErrNotFound))}, nil
	}
	if !found[in.Target] {
		return store.RelationshipResult{Status: store.StatusNotFound,
			Err: store.AtField(fmt.Sprintf("relationships[%d].target", i), fmt.Errorf("no node has this ID: %w", store.ErrNotFound))}, nil
	}
	id := store.RelationshipKey{Source: in.Source, Type: in.Type, Target: in.Target}.ID()
	st := state[id]
	var existing *store.Relationship
	if st != nil && st.exists {
		existing = &st.rel
	}
	d := store.DecideEdge(existing, in, audit.actor.Source, now)
	if d.Status == store.StatusConflict {
		return store.RelationshipResult{Status: d.Status, Err: store.AtField(fmt.Sprintf("relationships[%d]", i), d.Err)}, nil
	}
	if st == nil {
		st = &relState{}
		state[id] = st
	}
	st.rel, st.exists, st.deleted = d.Relationship, true, false
	switch d.Write {
	case store.EdgeCreate, store.EdgeUpdate:
		st.dirty = true
	case store.EdgeSighting:
		st.sighted = true
	}
	action := store.ActionUpdate
	if d.Status == store.StatusCreated {
		action = store.ActionCreate
	}
	if d.Changes != nil {
		if err := audit.add(store.KindRelationship, string(id), action, d.Changes); err != nil {
			return store.RelationshipResult{}, &appError{err}
		}
	}
	return store.RelationshipResult{Status: d.Status, Relationship: cloneRel(d.Relationship)}, nil
}

// DeleteRelationships deletes relationships by id in one transaction. See
// store.RelationshipStore.
func (s *Store) DeleteRelationships(ctx context.Context, actor store.Actor, ids []store.ID) ([]store.RelationshipResult, error) {
	return s.changeRels(ctx, actor, "delete relationships", ids, func(i int, st *relState) store.EdgeDecision {
		if st == nil {
			return store.EdgeDecision{Status: store.StatusNotFound, Err: fmt.Errorf("no relationship has this ID: %w", store.ErrNotFound)}
		}
		return store.EdgeDecision{Status: store.StatusDeleted, Relationship: st.rel, Write: store.EdgeDelete,
			Changes: store.RelationshipIdentityChanges(st.rel.Key(), true)}
	})
}

// ForgetRelationships drops a source's sighting from relationships, and
// deletes those left with none (store.ForgetEdge decides).
func (s *Store) ForgetRelationships(ctx context.Context, actor store.Actor, ids []store.ID, f store.Forget) ([]store.RelationshipResult, error) {
	return s.changeRels(ctx, actor, "forget relationships", ids, func(_ int, st *relState) store.EdgeDecision {
		var existing *store.Relationship
		if st != nil {
			existing = &st.rel
		}
		return store.ForgetEdge(existing, f)
	})
}

// changeRels runs decide over the relationship each of ids names (nil when
// none is stored, or an earlier id of the call deleted it) in one write
// transaction, with the ends locked, and writes what it decided: deletions
// (EdgeDelete, audited with the decision's changes) and sightings
// (EdgeSighting). Malformed ids are invalid items on ids[i].
func (s *Store) changeRels(ctx context.Context, actor store.Actor, op string, ids []store.ID, decide func(i int, st *relState) store.EdgeDecision) ([]store.RelationshipResult, error) {
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	keys := make([]store.RelationshipKey, len(ids))
	invalid := make([]error, len(ids))
	var endpoints []string
	var valid []store.RelationshipKey
	for i, id := range ids {
		k, err := store.ParseRelationshipID(id)
		if err != nil {
			reason := err.Error()
			var inv *store.InvalidError
			if errors.As(err, &inv) {
				reason = inv.Reason
			}
			invalid[i] = store.Invalid(fmt.Sprintf("ids[%d]", i), "%s", reason)
			continue
		}
		keys[i] = k
		valid = append(valid, k)
		endpoints = append(endpoints, string(k.Source), string(k.Target))
	}
	out, err := s.write(ctx, op, func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		audit := &auditLog{actor: actor, now: time.Now().UTC()}
		found, err := lockEndpoints(ctx, tx, slices.Clone(endpoints))
		if err != nil {
			return nil, err
		}
		var present []store.RelationshipKey
		for _, k := range valid {
			if found[k.Source] && found[k.Target] {
				present = append(present, k)
			}
		}
		state := map[store.ID]*relState{}
		if err := loadRels(ctx, tx, present, state); err != nil {
			return nil, err
		}
		results := make([]store.RelationshipResult, len(ids))
		var dels, sightings []*relState
		for i := range ids {
			if invalid[i] != nil {
				results[i] = store.RelationshipResult{Status: store.StatusInvalid, Err: invalid[i]}
				continue
			}
			st := state[keys[i].ID()]
			if st != nil && st.deleted {
				st = nil
			}
			d := decide(i, st)
			switch d.Write {
			case store.EdgeDelete:
				st.deleted = true
				dels = append(dels, st)
				if err := audit.add(store.KindRelationship, string(st.rel.ID), store.ActionDelete, d.Changes); err != nil {
					return nil, &appError{err}
				}
			case store.EdgeSighting:
				st.rel = d.Relationship
				if !st.sighted {
					st.sighted = true
					sightings = append(sightings, st)
				}
			}
			if d.Err != nil {
				d.Err = store.AtField(fmt.Sprintf("ids[%d]", i), d.Err)
			}
			results[i] = store.RelationshipResult{Status: d.Status, Relationship: cloneRel(d.Relationship), Err: d.Err}
		}
		sightings = slices.DeleteFunc(sightings, func(st *relState) bool { return st.deleted })
		if err := writeRels(ctx, tx, qSightRels, sightings, relSeen); err != nil {
			return nil, err
		}
		if err := writeRels(ctx, tx, qDeleteRels, dels, relKey); err != nil {
			return nil, err
		}
		if err := audit.flush(ctx, tx); err != nil {
			return nil, err
		}
		return results, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.RelationshipResult), nil
}

// Relationships returns the relationships with the given ids; malformed or
// missing ids are absent from the map.
func (s *Store) Relationships(ctx context.Context, ids []store.ID) (map[store.ID]store.Relationship, error) {
	if len(ids) == 0 {
		return map[store.ID]store.Relationship{}, nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	var keys []store.RelationshipKey
	for _, id := range ids {
		if k, err := store.ParseRelationshipID(id); err == nil {
			keys = append(keys, k)
		}
	}
	out, err := s.read(ctx, "get relationships", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		state := map[store.ID]*relState{}
		if err := loadRels(ctx, tx, keys, state); err != nil {
			return nil, err
		}
		m := make(map[store.ID]store.Relationship, len(state))
		for id, st := range state {
			m[id] = st.rel
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	return out.(map[store.ID]store.Relationship), nil
}

// qRelsOut and qRelsIn read each node's relationships in one direction,
// of the types {TYPES} (typeExpr), with their properties.
const (
	qRelsOut = `UNWIND $ids AS id
MATCH (c:Node {id: id})-[r{TYPES}]->(m:Node)
RETURN id, type(r), m.id, properties(r)`
	qRelsIn = `UNWIND $ids AS id
MATCH (c:Node {id: id})<-[r{TYPES}]-(m:Node)
RETURN id, type(r), m.id, properties(r)`
)

// qEdgesOut and qEdgesIn read what Edges returns: the same relationships
// without properties, as three parallel lists, a thousand elements to a
// record (listRecords; a record costs several microseconds to send and
// read, a list element a fraction: 5,000 nodes' 19,822 relationships took
// 210 ms as a record each, 85 ms as lists), each naming the node asked for
// by its place in $ids (a number, not a 36-character string to send,
// decode and look up).
const (
	qEdgesOut = `UNWIND range(0, size($ids) - 1) AS i
WITH i, $ids[i] AS id
MATCH (c:Node {id: id})-[r{TYPES}]->(m:Node)
WITH collect(i) AS l1, collect(type(r)) AS l2, collect(m.id) AS l3` + listRecords
	qEdgesIn = `UNWIND range(0, size($ids) - 1) AS i
WITH i, $ids[i] AS id
MATCH (c:Node {id: id})<-[r{TYPES}]-(m:Node)
WITH collect(i) AS l1, collect(type(r)) AS l2, collect(m.id) AS l3` + listRecords
)

// Edges returns each node's relationships in flat lists, without their
// properties (qEdgesOut, qEdgesIn). See store.Traverser.
func (s *Store) Edges(ctx context.Context, nodes []store.ID, dir store.Direction, types []string) (store.Hops, error) {
	if err := store.CheckEdgesOf("nodes", len(nodes), dir, types); err != nil {
		return store.Hops{}, err
	}
	texpr, err := typeExpr(types)
	if err != nil {
		return store.Hops{}, err
	}
	ids := make([]string, len(nodes))
	for i, id := range nodes {
		ids[i] = string(id)
	}
	type row struct {
		node  int32
		typ   string
		other store.ID
		fwd   bool
	}
	out, err := s.read(ctx, "get edges", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		var rows []row
		for _, q := range []struct {
			q   string
			fwd bool
		}{{qEdgesOut, true}, {qEdgesIn, false}} {
			if q.fwd && dir == store.In || !q.fwd && dir == store.Out || len(ids) == 0 {
				continue
			}
			recs, err := collect(ctx, tx, strings.Replace(q.q, "{TYPES}", texpr, 1), map[string]any{"ids": ids})
			if err != nil {
				return nil, err
			}
			for _, rec := range recs {
				at, types, others, err := parallelLists(rec.Values)
				if err != nil {
					return nil, err
				}
				for k := range at {
					i, ok := at[k].(int64)
					if !ok || i < 0 || int(i) >= len(nodes) {
						return nil, fmt.Errorf("neo4j: get edges: node index %v out of range", at[k])
					}
					rows = append(rows, row{int32(i), asString(types[k]), store.ID(asString(others[k])), q.fwd})
				}
			}
		}
		// By node, in one pass: count, then place.
		h := store.Hops{Start: make([]int32, len(nodes)+1), Type: make([]string, len(rows)),
			Other: make([]store.ID, len(rows)), Forward: make([]bool, len(rows))}
		for _, r := range rows {
			h.Start[r.node+1]++
		}
		for i := range nodes {
			h.Start[i+1] += h.Start[i]
		}
		next := slices.Clone(h.Start[:len(nodes)])
		for _, r := range rows {
			k := next[r.node]
			next[r.node]++
			h.Type[k], h.Other[k], h.Forward[k] = r.typ, r.other, r.fwd
		}
		return h, nil
	})
	if err != nil {
		return store.Hops{}, err
	}
	return out.(store.Hops), nil
}

// RelationshipsOf returns, for each CI, its relationships in direction dir
// whose type is in types (all when empty), ordered by relationship ID.
func (s *Store) RelationshipsOf(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (map[store.ID][]store.Relationship, error) {
	if err := store.CheckEdgesOf("cis", len(cis), dir, types); err != nil {
		return nil, err
	}
	texpr, err := typeExpr(types)
	if err != nil {
		return nil, err
	}
	if len(cis) == 0 {
		return map[store.ID][]store.Relationship{}, nil
	}
	ids := uniqueIDs(cis)
	var queries []struct {
		q   string
		out bool
	}
	if dir == store.Out || dir == store.Both {
		queries = append(queries, struct {
			q   string
			out bool
		}{strings.Replace(qRelsOut, "{TYPES}", texpr, 1), true})
	}
	if dir == store.In || dir == store.Both {
		queries = append(queries, struct {
			q   string
			out bool
		}{strings.Replace(qRelsIn, "{TYPES}", texpr, 1), false})
	}
	out, err := s.read(ctx, "get relationships of CIs", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		m := map[store.ID][]store.Relationship{}
		for _, q := range queries {
			recs, err := collect(ctx, tx, q.q, map[string]any{"ids": ids})
			if err != nil {
				return nil, err
			}
			for _, rec := range recs {
				ci := store.ID(asString(rec.Values[0]))
				other := store.ID(asString(rec.Values[2]))
				k := store.RelationshipKey{Source: ci, Type: asString(rec.Values[1]), Target: other}
				if !q.out {
					k.Source, k.Target = other, ci
				}
				r, err := relFromProperties(k, rec.Values[3])
				if err != nil {
					return nil, &appError{fmt.Errorf("neo4j: decode relationship: %w", err)}
				}
				m[ci] = append(m[ci], r)
			}
		}
		for ci, rs := range m {
			slices.SortFunc(rs, func(a, b store.Relationship) int { return strings.Compare(string(a.ID), string(b.ID)) })
			m[ci] = rs
		}
		return m, nil
	})
	if err != nil {
		return nil, err
	}
	return out.(map[store.ID][]store.Relationship), nil
}

// parallelLists returns the three lists of one length of a record of a
// statement ending in listRecords.
func parallelLists(v []any) (a, b, c []any, err error) {
	if len(v) == 3 {
		a, _ = v[0].([]any)
		b, _ = v[1].([]any)
		c, _ = v[2].([]any)
		if len(a) == len(b) && len(b) == len(c) {
			return a, b, c, nil
		}
	}
	return nil, nil, nil, fmt.Errorf("neo4j: expected three lists of one length, got %d values", len(v))
}
