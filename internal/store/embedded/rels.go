package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// CreateRelationships creates relationships, or updates the attributes of
// existing ones (see store.RelationshipStore).
func (s *Store) CreateRelationships(ctx context.Context, actor store.Actor, rels []store.RelationshipInput, atomic bool) ([]store.RelationshipResult, error) {
	if err := store.CheckBatch("relationships", len(rels)); err != nil {
		return nil, err
	}
	invalid := make([]error, len(rels))
	attrs := make([]store.Attributes, len(rels))
	for i, r := range rels {
		a, ie := checkRel(r)
		if ie != nil {
			ie = ie.WithPrefix(fmt.Sprintf("relationships[%d]", i))
			if atomic {
				return nil, &store.ItemError{Index: i, Err: ie}
			}
			invalid[i] = ie
		}
		attrs[i] = a
	}
	var results []store.RelationshipResult
	err := s.write(ctx, func(w *wtx, p *patch) error {
		res, err := w.createRels(actor, rels, attrs, invalid, atomic, p)
		if err == nil {
			results = res
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// checkRel validates one input and returns its normalised attributes (nil
// when the input has none).
func checkRel(r store.RelationshipInput) (store.Attributes, *store.InvalidError) {
	switch {
	case !store.ValidIdentifier(r.Type):
		return nil, store.Invalid("type", "%q is not a relationship type name", clip(r.Type))
	case r.Source == "":
		return nil, store.Invalid("source", "is required")
	case r.Target == "":
		return nil, store.Invalid("target", "is required")
	case r.Source == r.Target:
		return nil, store.Invalid("target", "must differ from source")
	}
	if err := store.CheckAttributeNames("attributes", r.Attributes); err != nil {
		var ie *store.InvalidError
		if errors.As(err, &ie) {
			return nil, ie
		}
		return nil, store.Invalid("attributes", "%v", err)
	}
	if r.Attributes == nil {
		return nil, nil
	}
	a, err := normalizeAttrs(r.Attributes)
	if err != nil {
		var ie *store.InvalidError
		errors.As(err, &ie)
		return nil, ie
	}
	return a, nil
}

// typeID returns the id of a relationship type, registering it if new.
func (w *wtx) typeID(g *graph, name string, p *patch, local map[string]uint32) (uint32, error) {
	if id, ok := g.typeID[name]; ok { // committed types; the writer may read g unlocked
		return id, nil
	}
	if id, ok := local[name]; ok {
		return id, nil
	}
	var id int64
	err := w.st.typeByName.QueryRow(name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		var res sql.Result
		if res, err = w.st.insertType.Exec(name); err == nil {
			id, err = res.LastInsertId()
		}
	}
	if err != nil {
		return 0, dbErr("relationship type", err)
	}
	if id <= 0 || id > math.MaxUint32 {
		return 0, fmt.Errorf("embedded: relationship type id %d out of range", id)
	}
	local[name] = uint32(id)
	p.types = append(p.types, typeDef{id: uint32(id), name: name})
	return uint32(id), nil
}

// findType returns the id of an existing relationship type.
func (w *wtx) findType(g *graph, name string) (uint32, bool, error) {
	if id, ok := g.typeID[name]; ok {
		return id, true, nil
	}
	var id int64
	err := w.st.typeByName.QueryRow(name).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, dbErr("relationship type", err)
	}
	return uint32(id), true, nil
}

// relState is a relationship as the running create call sees it.
type relState struct {
	row     int64 // 0 for one this call creates
	rel     store.Relationship
	dirty   bool // stored, and its attributes changed
	sighted bool // stored, and only its sightings changed
}

// createRels resolves endpoints, types and existing relationships in bulk,
// applies the items in order to that view (so duplicates within the batch
// see each other), then writes the net changes with bulk statements. An
// atomic failure is found before anything is written.
func (w *wtx) createRels(actor store.Actor, rels []store.RelationshipInput, attrs []store.Attributes, invalid []error, atomic bool, p *patch) ([]store.RelationshipResult, error) {
	var uids []store.ID
	for i, r := range rels {
		if invalid[i] == nil {
			uids = append(uids, r.Source, r.Target)
		}
	}
	rowOf, err := w.rowsByUID(uids)
	if err != nil {
		return nil, err
	}
	g := w.graph
	local := map[string]uint32{}
	results := make([]store.RelationshipResult, len(rels))
	edges := make([]edge, len(rels))
	var probe []int64 // src, type, dst triples to look up
	for i, in := range rels {
		if invalid[i] != nil {
			results[i] = store.RelationshipResult{Status: store.StatusInvalid, Err: invalid[i]}
			continue
		}
		src, okS := rowOf[in.Source]
		dst, okT := rowOf[in.Target]
		if !okS || !okT {
			field := "source"
			if okS {
				field = "target"
			}
			err := store.AtField(fmt.Sprintf("relationships[%d].%s", i, field), fmt.Errorf("no node has this ID: %w", store.ErrNotFound))
			if atomic {
				return nil, &store.ItemError{Index: i, Err: err}
			}
			results[i] = store.RelationshipResult{Status: store.StatusNotFound, Err: err}
			continue
		}
		typ, err := w.typeID(g, in.Type, p, local)
		if err != nil {
			return nil, err
		}
		edges[i] = edge{src: int32(src), dst: int32(dst), typ: typ}
		probe = append(probe, src, int64(typ), dst)
	}
	state, err := w.existingRels(probe)
	if err != nil {
		return nil, err
	}
	var inserts []*relState
	var insertEdges []edge
	var audit []any
	for i, in := range rels {
		if results[i].Status != "" {
			continue
		}
		e := edges[i]
		st := state[e]
		var existing *store.Relationship
		if st != nil {
			existing = &st.rel
		}
		in.Attributes = attrs[i]
		d := store.DecideEdge(existing, in, actor.Source, w.now)
		switch d.Write {
		case store.EdgeNone:
			err := store.AtField(fmt.Sprintf("relationships[%d]", i), d.Err)
			if atomic {
				return nil, &store.ItemError{Index: i, Err: err}
			}
			results[i] = store.RelationshipResult{Status: d.Status, Err: err}
			continue
		case store.EdgeCreate:
			st = &relState{}
			state[e] = st
			inserts = append(inserts, st)
			insertEdges = append(insertEdges, e)
			p.addEdges = append(p.addEdges, e)
			audit = w.auditRow(audit, actor, store.KindRelationship, string(d.Relationship.ID), store.ActionCreate, d.Changes)
		case store.EdgeUpdate:
			st.dirty = st.row != 0
			audit = w.auditRow(audit, actor, store.KindRelationship, string(d.Relationship.ID), store.ActionUpdate, d.Changes)
		case store.EdgeSighting:
			st.sighted = st.row != 0
		}
		st.rel = d.Relationship
		results[i] = store.RelationshipResult{Status: d.Status, Relationship: d.Relationship}
	}
	// Write: new relationships (in their final state), updates, sightings,
	// audit.
	args := make([]any, 0, bulkRels.cols*len(inserts))
	for j, st := range inserts {
		enc, err := store.AppendAttributes(w.buf[:0], st.rel.Attributes)
		if err != nil {
			return nil, fmt.Errorf("embedded: encode attributes: %w", err)
		}
		attrs := string(enc)
		w.buf = store.AppendSeen(enc[:0], st.rel.SeenBy)
		e := insertEdges[j]
		args = append(args, int64(e.src), int64(e.typ), int64(e.dst), attrs, st.rel.CreatedAt.UnixNano(), st.rel.UpdatedAt.UnixNano(),
			st.rel.Version, string(w.buf))
	}
	if err := w.insert(bulkRels, args); err != nil {
		return nil, dbErr("create relationship", err)
	}
	for _, st := range state {
		switch {
		case st.dirty:
			enc, err := store.AppendAttributes(w.buf[:0], st.rel.Attributes)
			if err != nil {
				return nil, fmt.Errorf("embedded: encode attributes: %w", err)
			}
			attrs := string(enc)
			w.buf = store.AppendSeen(enc[:0], st.rel.SeenBy)
			if _, err := w.st.relUpdate.Exec(attrs, st.rel.UpdatedAt.UnixNano(), st.rel.Version, string(w.buf), st.row); err != nil {
				return nil, dbErr("update relationship", err)
			}
		case st.sighted:
			w.buf = store.AppendSeen(w.buf[:0], st.rel.SeenBy)
			if _, err := w.st.relSight.Exec(string(w.buf), st.row); err != nil {
				return nil, dbErr("update relationship", err)
			}
		}
	}
	if err := w.insert(bulkAudit, audit); err != nil {
		return nil, dbErr("create relationship", err)
	}
	return results, nil
}

// existingRels loads the stored relationships among (src, type, dst)
// triples.
func (w *wtx) existingRels(triples []int64) (map[edge]*relState, error) {
	out := make(map[edge]*relState, len(triples)/3)
	if len(triples) == 0 {
		return out, nil
	}
	var b strings.Builder
	b.WriteByte('[')
	for i := 0; i < len(triples); i += 3 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%d,%d,%d]", triples[i], triples[i+1], triples[i+2])
	}
	b.WriteByte(']')
	rows, err := w.st.relsByTriple.Query(b.String())
	if err != nil {
		return nil, dbErr("create relationship", err)
	}
	var tail relTail
	for rows.Next() {
		var row, src, typ, dst int64
		if err := rows.Scan(append([]any{&row, &src, &typ, &dst}, tail.dest()...)...); err != nil {
			rows.Close()
			return nil, dbErr("create relationship", err)
		}
		e := edge{src: int32(src), dst: int32(dst), typ: uint32(typ)}
		st := &relState{row: row}
		if err := tail.fill(&st.rel); err != nil {
			rows.Close()
			return nil, corrupt(fmt.Sprintf("relationship row %d", row), err)
		}
		out[e] = st
	}
	if err := closeRows(rows); err != nil {
		return nil, dbErr("create relationship", err)
	}
	return out, nil
}

// rowsByUID resolves CI ids to rows (absent ids are absent).
func (w *wtx) rowsByUID(uids []store.ID) (map[store.ID]int64, error) {
	out := make(map[store.ID]int64, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	rows, err := w.st.rowsByUID.Query(jsonList(uids))
	if err != nil {
		return nil, dbErr("resolve CIs", err)
	}
	for rows.Next() {
		var row int64
		var uid string
		if err := rows.Scan(&row, &uid); err != nil {
			rows.Close()
			return nil, dbErr("resolve CIs", err)
		}
		out[store.ID(uid)] = row
	}
	if err := closeRows(rows); err != nil {
		return nil, dbErr("resolve CIs", err)
	}
	return out, nil
}

// DeleteRelationships deletes relationships by id.
func (s *Store) DeleteRelationships(ctx context.Context, actor store.Actor, ids []store.ID) ([]store.RelationshipResult, error) {
	return s.changeRels(ctx, actor, ids, func(existing *store.Relationship) store.EdgeDecision {
		if existing == nil {
			return store.EdgeDecision{Status: store.StatusNotFound, Err: fmt.Errorf("no relationship has this ID: %w", store.ErrNotFound)}
		}
		return store.EdgeDecision{Status: store.StatusDeleted, Relationship: *existing, Write: store.EdgeDelete,
			Changes: store.RelationshipIdentityChanges(existing.Key(), true)}
	})
}

// relTailCols are the columns every read of whole relationships ends with;
// relTail scans and decodes them.
const relTailCols = "r.attrs, r.created_at, r.updated_at, r.version, r.seen_by"

// relTail receives relTailCols (and, for scanRel, the leading columns of
// a read of s.uid, t.name, d.uid).
type relTail struct {
	attrs, seen               sql.RawBytes
	created, updated, version int64
	src, typ, dst             string
	scanDest                  []any // scanRel's destinations, made once per scan
}

func (t *relTail) dest() []any {
	return []any{&t.attrs, &t.created, &t.updated, &t.version, &t.seen}
}

// fill decodes the tail into r (whose ends and type are set).
func (t *relTail) fill(r *store.Relationship) error {
	a, err := store.DecodeAttributes(t.attrs)
	if err != nil {
		return corrupt("attributes of relationship "+string(r.Source)+" "+r.Type+" "+string(r.Target), err)
	}
	var seen map[string]time.Time
	if len(t.seen) > 0 {
		if seen, err = store.DecodeSeen(t.seen); err != nil {
			return corrupt("sightings of relationship "+string(r.Source)+" "+r.Type+" "+string(r.Target), err)
		}
	} else {
		seen = map[string]time.Time{}
	}
	r.Attributes, r.SeenBy, r.Version = a, seen, max(t.version, 1)
	r.CreatedAt, r.UpdatedAt = fromNanos(t.created), fromNanos(t.updated)
	return nil
}

func scanRel(rows *sql.Rows, tail *relTail) (store.Relationship, error) {
	if tail.scanDest == nil {
		tail.scanDest = append([]any{&tail.src, &tail.typ, &tail.dst}, tail.dest()...)
	}
	var r store.Relationship
	if err := rows.Scan(tail.scanDest...); err != nil {
		return r, err
	}
	r.Source, r.Type, r.Target = store.ID(tail.src), tail.typ, store.ID(tail.dst)
	if err := tail.fill(&r); err != nil {
		return r, err
	}
	r.ID = store.RelationshipKey{Source: r.Source, Type: r.Type, Target: r.Target}.ID()
	return r, nil
}

// Relationships returns the existing relationships among ids.
func (s *Store) Relationships(ctx context.Context, ids []store.ID) (map[store.ID]store.Relationship, error) {
	out := map[store.ID]store.Relationship{}
	if len(ids) == 0 {
		return out, nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	var triples [][3]string
	for _, id := range ids {
		if k, err := store.ParseRelationshipID(id); err == nil {
			triples = append(triples, [3]string{string(k.Source), k.Type, string(k.Target)})
		}
	}
	if len(triples) == 0 {
		return out, nil
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	q := `SELECT s.uid, t.name, d.uid, ` + relTailCols + `
		FROM json_each(?) j
		JOIN cis s ON s.uid = j.value->>0
		JOIN rel_types t ON t.name = j.value->>1
		JOIN cis d ON d.uid = j.value->>2
		JOIN relationships r ON r.src = s.id AND r.type = t.id AND r.dst = d.id`
	rows, err := s.query(ctx, nil, q, jsonTriples(triples))
	if err != nil {
		return nil, dbErr("read relationships", err)
	}
	defer rows.Close()
	var tail relTail
	for rows.Next() {
		r, err := scanRel(rows, &tail)
		if err != nil {
			return nil, dbErr("read relationships", err)
		}
		out[r.ID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read relationships", err)
	}
	return out, nil
}

func jsonTriples(t [][3]string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range t {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonList(x[:]))
	}
	b.WriteByte(']')
	return b.String()
}

// relOfSelect reads the relationships at given node rows (?1, a JSON
// list) in one direction, for RelationshipsOf: the row of the given end,
// the type's id and the other end's uid. The given ends' uids are known
// and type names are in the graph index, so each row joins one node, not
// three rows, and scans one string, not three (a 20,000-edge hub read
// 25 % faster).
func relOfSelect(dir store.Direction, typeCond string) string {
	known, other := "r.src", "r.dst"
	if dir == store.In {
		known, other = other, known
	}
	return "SELECT " + known + ", r.type, o.uid, " + relTailCols +
		" FROM relationships r JOIN cis o ON o.id = " + other + " WHERE " + known + " IN (SELECT value FROM json_each(?1))" + typeCond
}

// RelationshipsOf returns each CI's relationships in direction dir, by ID.
func (s *Store) RelationshipsOf(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (map[store.ID][]store.Relationship, error) {
	if err := store.CheckEdgesOf("cis", len(cis), dir, types); err != nil {
		return nil, err
	}
	out := map[store.ID][]store.Relationship{}
	if len(cis) == 0 {
		return out, nil
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, dbErr("read relationships", err)
	}
	defer func() { _ = tx.Rollback() }()
	// The given nodes' rows, read in the transaction of their edges.
	uidOf, err := s.nodeRows(ctx, tx, cis)
	if err != nil || len(uidOf) == 0 {
		return out, err
	}
	rowIDs := make([]int64, 0, len(uidOf))
	for row := range uidOf {
		rowIDs = append(rowIDs, row)
	}
	typeCond := ""
	args := []any{jsonList(rowIDs)}
	if len(types) > 0 {
		typeCond = " AND r.type IN (SELECT id FROM rel_types WHERE name IN (SELECT value FROM json_each(?2)))"
		args = append(args, jsonList(types))
	}
	for _, d := range []store.Direction{store.Out, store.In} {
		if dir != d && dir != store.Both {
			continue
		}
		if err := s.scanRelsOf(ctx, tx, d, relOfSelect(d, typeCond), args, uidOf, out); err != nil {
			return nil, dbErr("read relationships", err)
		}
	}
	for k, rs := range out {
		sortRels(rs)
		out[k] = dedupeRels(rs)
	}
	return out, nil
}

// nodeRows returns the rows of the nodes ids that exist, with their IDs.
func (s *Store) nodeRows(ctx context.Context, tx *sql.Tx, ids []store.ID) (map[int64]store.ID, error) {
	rows, err := s.query(ctx, tx, "SELECT id, uid FROM cis WHERE uid IN (SELECT value FROM json_each(?))", jsonList(ids))
	if err != nil {
		return nil, dbErr("read relationships", err)
	}
	defer rows.Close()
	byUID := make(map[string]store.ID, len(ids))
	for _, id := range ids {
		byUID[string(id)] = id
	}
	out := make(map[int64]store.ID, len(ids))
	var uid sql.RawBytes
	for rows.Next() {
		var row int64
		if err := rows.Scan(&row, &uid); err != nil {
			return nil, dbErr("read relationships", err)
		}
		out[row] = byUID[string(uid)] // the caller's string: no copy
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read relationships", err)
	}
	return out, nil
}

// scanRelsOf runs q (relOfSelect in direction dir) and appends each
// relationship to out under its given end.
func (s *Store) scanRelsOf(ctx context.Context, tx *sql.Tx, dir store.Direction, q string, args []any, uidOf map[int64]store.ID, out map[store.ID][]store.Relationship) error {
	rows, err := s.query(ctx, tx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var tail relTail
	var known, typ int64
	dest := append([]any{&known, &typ, &tail.dst}, tail.dest()...)
	names := map[int64]string{} // the few types of the read, named once each
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		var r store.Relationship
		end, other := uidOf[known], store.ID(tail.dst)
		if r.Type = names[typ]; r.Type == "" {
			if r.Type, err = s.typeName(ctx, tx, typ); err != nil {
				return err
			}
			names[typ] = r.Type
		}
		r.Source, r.Target = end, other
		if dir == store.In {
			r.Source, r.Target = other, end
		}
		if err := tail.fill(&r); err != nil {
			return err
		}
		r.ID = r.Key().ID()
		out[end] = append(out[end], r)
	}
	return rows.Err()
}

// typeName returns the name of the relationship type with id typ, from
// the graph index, or from the database for a type the index does not
// have yet (one committed by a write whose patch is not applied yet).
// Types are never deleted, so an id names one type for good.
func (s *Store) typeName(ctx context.Context, tx *sql.Tx, typ int64) (string, error) {
	s.g.mu.RLock()
	var name string
	if typ > 0 && typ < int64(len(s.g.types)) {
		name = s.g.types[typ]
	}
	s.g.mu.RUnlock()
	if name != "" {
		return name, nil
	}
	err := s.queryRow(ctx, tx, "SELECT name FROM rel_types WHERE id = ?", typ).Scan(&name)
	return name, err
}

// dedupeRels drops repeats from a sorted list (a relationship between two
// requested CIs is read once per direction under Both).
func dedupeRels(rs []store.Relationship) []store.Relationship {
	out := rs[:0]
	for i, r := range rs {
		if i == 0 || r.ID != rs[i-1].ID {
			out = append(out, r)
		}
	}
	return out
}

// ForgetRelationships drops a source's sighting from relationships, and
// deletes those left with none (store.ForgetEdge decides).
func (s *Store) ForgetRelationships(ctx context.Context, actor store.Actor, ids []store.ID, f store.Forget) ([]store.RelationshipResult, error) {
	return s.changeRels(ctx, actor, ids, func(existing *store.Relationship) store.EdgeDecision {
		return store.ForgetEdge(existing, f)
	})
}

// changeRels runs decide over the relationship each of ids names (nil when
// none is stored, or an earlier id of the call deleted it) in one write,
// and writes what it decided: deletions (EdgeDelete, audited with the
// decision's changes) and sightings (EdgeSighting). Malformed ids are
// invalid items on ids[i].
func (s *Store) changeRels(ctx context.Context, actor store.Actor, ids []store.ID, decide func(*store.Relationship) store.EdgeDecision) ([]store.RelationshipResult, error) {
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	var results []store.RelationshipResult
	err := s.write(ctx, func(w *wtx, p *patch) error {
		res, err := w.changeRels(actor, ids, decide, p)
		if err == nil {
			results = res
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func (w *wtx) changeRels(actor store.Actor, ids []store.ID, decide func(*store.Relationship) store.EdgeDecision, p *patch) ([]store.RelationshipResult, error) {
	results := make([]store.RelationshipResult, len(ids))
	keys := make([]store.RelationshipKey, len(ids))
	var uids []store.ID
	for i, id := range ids {
		k, err := store.ParseRelationshipID(id)
		if err != nil {
			var ie *store.InvalidError
			errors.As(err, &ie)
			results[i] = store.RelationshipResult{Status: store.StatusInvalid, Err: store.Invalid(fmt.Sprintf("ids[%d]", i), "%s", ie.Reason)}
			continue
		}
		keys[i] = k
		uids = append(uids, k.Source, k.Target)
	}
	rowOf, err := w.rowsByUID(uids)
	if err != nil {
		return nil, err
	}
	edges := make([]edge, len(ids))
	found := make([]bool, len(ids))
	var probe []int64
	for i, k := range keys {
		if results[i].Status != "" {
			continue
		}
		src, okS := rowOf[k.Source]
		dst, okT := rowOf[k.Target]
		typ, okY, err := w.findType(w.graph, k.Type)
		if err != nil {
			return nil, err
		}
		if okS && okT && okY {
			edges[i], found[i] = edge{src: int32(src), dst: int32(dst), typ: typ}, true
			probe = append(probe, src, int64(typ), dst)
		}
	}
	state, err := w.existingRels(probe)
	if err != nil {
		return nil, err
	}
	var audit []any
	for i, k := range keys {
		if results[i].Status != "" {
			continue
		}
		var existing *store.Relationship
		st := state[edges[i]]
		if found[i] && st != nil {
			st.rel.ID, st.rel.Type, st.rel.Source, st.rel.Target = k.ID(), k.Type, k.Source, k.Target
			existing = &st.rel
		}
		d := decide(existing)
		switch d.Write {
		case store.EdgeSighting:
			w.buf = store.AppendSeen(w.buf[:0], d.Relationship.SeenBy)
			if _, err := w.st.relSight.Exec(string(w.buf), st.row); err != nil {
				return nil, dbErr("update relationship", err)
			}
			st.rel = d.Relationship
		case store.EdgeDelete:
			if _, err := w.st.relDelete.Exec(st.row); err != nil {
				return nil, dbErr("delete relationship", err)
			}
			audit = w.auditRow(audit, actor, store.KindRelationship, string(d.Relationship.ID), store.ActionDelete, d.Changes)
			p.delEdges = append(p.delEdges, edges[i])
			delete(state, edges[i])
		}
		if d.Err != nil {
			d.Err = store.AtField(fmt.Sprintf("ids[%d]", i), d.Err)
		}
		results[i] = store.RelationshipResult{Status: d.Status, Relationship: d.Relationship, Err: d.Err}
	}
	if err := w.insert(bulkAudit, audit); err != nil {
		return nil, dbErr("change relationships", err)
	}
	return results, nil
}
