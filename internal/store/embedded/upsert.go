package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// UpsertNodes identifies, reconciles and writes a batch of CIs in one
// transaction (see store.NodeWriter): the planner (store.UpsertPlan) over
// this store's write primitives (writeTx).
func (s *Store) UpsertNodes(ctx context.Context, actor store.Actor, b store.UpsertBatch) ([]store.UpsertResult, error) {
	plan, err := store.PlanUpsert(actor, b)
	if err != nil {
		return nil, err
	}
	var results []store.UpsertResult
	err = s.write(ctx, func(w *wtx, p *patch) error {
		t := &writeTx{w: w, p: p, rows: map[store.ID]rowState{}, ids: map[int64]store.ID{}, cache: map[store.ID]store.Node{}}
		res, err := plan.Upsert(ctx, t)
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

// UpsertGraph writes a batch's nodes, then its edges between them, in one
// transaction (see store.GraphWriter).
func (s *Store) UpsertGraph(ctx context.Context, actor store.Actor, b store.UpsertBatch) (store.GraphResult, error) {
	plan, err := store.PlanUpsert(actor, b)
	if err != nil {
		return store.GraphResult{}, err
	}
	var out store.GraphResult
	err = s.write(ctx, func(w *wtx, p *patch) error {
		t := &writeTx{w: w, p: p, rows: map[store.ID]rowState{}, ids: map[int64]store.ID{}, cache: map[store.ID]store.Node{}}
		items, edges, edgeErrs, err := plan.UpsertGraph(ctx, t)
		if err != nil {
			return err
		}
		attrs := make([]store.Attributes, len(edges))
		invalid := make([]error, len(edges))
		for i, e := range edges {
			if invalid[i] = edgeErrs[i]; invalid[i] != nil {
				continue
			}
			a, ie := checkRel(e)
			if ie != nil {
				invalid[i] = ie.WithPrefix(fmt.Sprintf("relationships[%d]", i))
				if b.Atomic {
					return &store.ItemError{Index: len(items) + i, Err: invalid[i]}
				}
			}
			attrs[i] = a
		}
		rels, err := w.createRels(actor, edges, attrs, invalid, b.Atomic, p)
		if err != nil {
			var ie *store.ItemError
			if errors.As(err, &ie) {
				return &store.ItemError{Index: len(items) + ie.Index, Err: ie.Err}
			}
			return err
		}
		out = store.GraphResult{Items: items, Edges: rels}
		return nil
	})
	if err != nil {
		return store.GraphResult{}, err
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// writeTx is the embedded store's store.WriteTx: the writer goroutine's
// transaction. The single writer is the lock: nothing else writes while it
// runs, so KeyOwners and LoadNodes only read.
type writeTx struct {
	w       *wtx
	p       *patch
	rows    map[store.ID]rowState   // nodes met so far, by ID
	ids     map[int64]store.ID      // and by row
	cache   map[store.ID]store.Node // read, not yet handed to the planner
	nextRow int64                   // 0 until the first create
}

// rowState is a stored node's row (its adjacency index slot) and, once
// loaded, what Apply compares the new state with.
type rowState struct {
	row      int64
	loaded   bool
	origTags []string // stored tags
	origCols [6]any   // stored indexed columns (class, name, status, ...)
}

var _ store.WriteTx = (*writeTx)(nil)

func (t *writeTx) Now() time.Time { return t.w.now }

// KeyOwners reads the owners of keys by row and loads the owners it has
// not loaded yet by row at once (the planner asks for them next, and by
// rowid they are one lookup each), keeping them for LoadNodes.
func (t *writeTx) KeyOwners(_ context.Context, keys []string) ([]store.ID, error) {
	rows, err := t.w.st.keyOwners.Query(jsonList(keys))
	if err != nil {
		return nil, dbErr("upsert", err)
	}
	idx := make([]int64, len(keys))
	var load []int64
	for rows.Next() {
		var i, row int64
		if err := rows.Scan(&i, &row); err != nil {
			rows.Close()
			return nil, dbErr("upsert", err)
		}
		if i >= 0 && int(i) < len(idx) {
			idx[i] = row
		}
		if _, ok := t.ids[row]; !ok {
			load = append(load, row)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, dbErr("upsert", err)
	}
	if len(load) > 0 {
		slices.Sort(load)
		if err := t.scan(t.w.st.cisByRow, jsonList(slices.Compact(load))); err != nil {
			return nil, err
		}
	}
	out := make([]store.ID, len(keys))
	for i, row := range idx {
		if row == 0 {
			continue
		}
		id, ok := t.ids[row]
		if !ok {
			return nil, &errRetry{err: fmt.Errorf("identity key owner %d vanished", row)}
		}
		out[i] = id
	}
	return out, nil
}

// LoadNodes returns the nodes KeyOwners loaded, and reads the others by ID.
func (t *writeTx) LoadNodes(_ context.Context, ids []store.ID) ([]store.Node, error) {
	out := make([]store.Node, 0, len(ids))
	var byUID []store.ID
	for _, id := range ids {
		if n, ok := t.cache[id]; ok {
			out = append(out, n)
			delete(t.cache, id)
		} else if _, ok := t.rows[id]; !ok {
			byUID = append(byUID, id)
		}
	}
	if len(byUID) > 0 {
		if err := t.scan(t.w.st.cisByUID, jsonList(byUID)); err != nil {
			return nil, err
		}
		for _, id := range byUID {
			if n, ok := t.cache[id]; ok {
				out = append(out, n)
				delete(t.cache, id)
			}
		}
	}
	return out, nil
}

// scan runs a query of ciCols rows and keeps the nodes it reads in cache.
func (t *writeTx) scan(st *sql.Stmt, list string) error {
	rows, err := st.Query(list)
	if err != nil {
		return dbErr("upsert", err)
	}
	var sc ciScanner
	for rows.Next() {
		row, n, err := sc.scan(rows)
		if err != nil {
			rows.Close()
			return dbErr("upsert", err)
		}
		t.cache[n.ID] = n
		t.ids[row] = n.ID
		t.rows[n.ID] = rowState{row: row, loaded: true, origTags: tagsOf(n.Attributes), origCols: indexedCols(n)}
	}
	if err := closeRows(rows); err != nil {
		return dbErr("upsert", err)
	}
	return nil
}

// Apply writes the change set with bulk statements: keys released first
// (so that a key moving between nodes can be claimed again), new nodes
// (each given the next row, its adjacency index slot), rewritten nodes (a
// sighting writes only its sighting columns, a write that leaves the
// indexed columns alone leaves their indexes alone), claimed keys, tags and
// audit records. The identity_keys primary key still enforces uniqueness:
// a violation makes the writer run the call again from scratch.
func (t *writeTx) Apply(_ context.Context, cs store.ChangeSet) error {
	w := t.w
	buf := make([]byte, 0, 1024)
	var tagIns []any
	type tagDel struct {
		row  int64
		gone []string
	}
	var tagDels []tagDel
	tags := func(row int64, orig, now []string) {
		for _, tg := range dedupe(now) {
			if !slices.Contains(orig, tg) {
				tagIns = append(tagIns, tg, row)
			}
		}
		var gone []string
		for _, tg := range orig {
			if !slices.Contains(now, tg) {
				gone = append(gone, tg)
			}
		}
		if len(gone) > 0 {
			tagDels = append(tagDels, tagDel{row, gone})
		}
	}

	// The bulk statements' arguments, sized up front (grown by appends,
	// they were a tenth of a create batch's allocations).
	insCIs := make([]any, 0, len(cs.Created)*bulkCIs.cols)
	if len(cs.Created) > 0 && t.nextRow == 0 {
		if err := w.st.maxCIRow.QueryRow().Scan(&t.nextRow); err != nil {
			return dbErr("upsert", err)
		}
		t.nextRow++
	}
	for i := range cs.Created {
		n := &cs.Created[i]
		if t.nextRow > math.MaxInt32 {
			return fmt.Errorf("embedded: the CI table has run out of row numbers")
		}
		row := t.nextRow
		t.nextRow++
		t.rows[n.ID] = rowState{row: row, loaded: true}
		uid, _ := parseUID(string(n.ID))
		t.p.addNodes = append(t.p.addNodes, nodeDef{slot: int32(row), uid: uid, ci: n.Kind == store.KindCI})
		var err error
		if buf, err = store.AppendAttributes(buf[:0], n.Attributes); err != nil {
			return fmt.Errorf("embedded: encode attributes: %w", err)
		}
		attrs := string(buf)
		if err := t.p.addSum(row, n, buf); err != nil {
			return err
		}
		buf = store.AppendStrings(buf[:0], n.Keys)
		keys := string(buf)
		buf = store.AppendProvenance(buf[:0], n.Attributes, n.Sources, n.SetAt)
		sources := string(buf)
		buf = store.AppendSeen(buf[:0], n.SeenBy)
		cols := indexedCols(*n)
		insCIs = append(insCIs, row, string(n.ID), string(n.Kind), cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
			attrs, keys, sources, string(buf), n.Version, n.CreatedAt.UnixNano(), n.UpdatedAt.UnixNano(), n.LastSeenAt.UnixNano())
		tags(row, nil, tagsOf(n.Attributes))
	}

	var dropKeys []string
	claim := make([]any, 0, bulkKeys.cols*len(cs.Keys))
	for _, m := range cs.Keys {
		if m.From != "" {
			dropKeys = append(dropKeys, m.Key)
		}
		if m.To != "" {
			rs, ok := t.rows[m.To]
			if !ok {
				return fmt.Errorf("embedded: upsert: key %q claimed by unknown node %s", m.Key, m.To)
			}
			claim = append(claim, m.Key, rs.row)
		}
	}

	var seenRows, fullRows, attrRows []any
	for i := range cs.Updated {
		u := &cs.Updated[i]
		n := &u.Node
		rs, ok := t.rows[n.ID]
		if !ok || !rs.loaded {
			return fmt.Errorf("embedded: upsert: node %s was not loaded", n.ID)
		}
		buf = store.AppendStrings(buf[:0], n.Keys)
		keys := string(buf)
		if u.Sighting {
			buf = store.AppendSeen(buf[:0], n.SeenBy)
			seenRows = append(seenRows, rs.row, keys, string(buf), n.LastSeenAt.UnixNano())
			continue
		}
		var err error
		if buf, err = store.AppendAttributes(buf[:0], n.Attributes); err != nil {
			return fmt.Errorf("embedded: encode attributes: %w", err)
		}
		attrs := string(buf)
		if err := t.p.addSum(rs.row, n, buf); err != nil {
			return err
		}
		buf = store.AppendProvenance(buf[:0], n.Attributes, n.Sources, n.SetAt)
		sources := string(buf)
		buf = store.AppendSeen(buf[:0], n.SeenBy)
		if cols := indexedCols(*n); cols != rs.origCols {
			fullRows = append(fullRows, rs.row, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
				attrs, keys, sources, string(buf), n.Version, n.UpdatedAt.UnixNano(), n.LastSeenAt.UnixNano())
		} else { // leaves the indexes on those columns alone
			attrRows = append(attrRows, rs.row, attrs, keys, sources, string(buf), n.Version, n.UpdatedAt.UnixNano(), n.LastSeenAt.UnixNano())
		}
		tags(rs.row, rs.origTags, tagsOf(n.Attributes))
	}

	if len(dropKeys) > 0 {
		if _, err := w.st.deleteKeys.Exec(jsonList(dropKeys)); err != nil {
			return dbErr("upsert", err)
		}
	}
	if err := w.insert(bulkCIs, insCIs); err != nil {
		return writeErr(err)
	}
	for _, b := range []struct {
		spec *bulkSpec
		args []any
	}{{bulkSeen, seenRows}, {bulkFull, fullRows}, {bulkAttrs, attrRows}} {
		if err := w.insert(b.spec, b.args); err != nil {
			return dbErr("upsert", err)
		}
	}
	if err := w.insert(bulkKeys, claim); err != nil {
		return writeErr(err)
	}
	for _, d := range tagDels {
		if _, err := w.st.deleteTags.Exec(d.row, jsonList(d.gone)); err != nil {
			return dbErr("upsert", err)
		}
	}
	if err := w.insert(bulkTags, tagIns); err != nil {
		return dbErr("upsert", err)
	}
	audit := make([]any, 0, bulkAudit.cols*len(cs.Audit))
	for _, r := range cs.Audit {
		audit = w.auditRecordRow(audit, r)
	}
	if err := w.insert(bulkAudit, audit); err != nil {
		return dbErr("upsert", err)
	}
	return nil
}

// writeErr turns a uniqueness violation into a retry of the whole call:
// the view was stale (which the single writer makes impossible unless
// another process wrote), so identification starts again from scratch.
func writeErr(err error) error {
	if isUniqueViolation(err) {
		return &errRetry{err: err}
	}
	return dbErr("upsert", err)
}

// indexedCols are the values of a CI's indexed columns besides uid and
// last_seen_at: class, then the string attributes copied into columns.
func indexedCols(ci store.CI) [6]any {
	a := ci.Attributes
	return [6]any{ci.Class, stringAttr(a, "name"), stringAttr(a, "status"), stringAttr(a, "environment"), stringAttr(a, "owner"), stringAttr(a, "support_group")}
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
