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

// UpsertCIs identifies, reconciles and writes a batch of CIs in one
// transaction (see store.CIWriter).
func (s *Store) UpsertCIs(ctx context.Context, actor store.Actor, b store.UpsertBatch) ([]store.UpsertResult, error) {
	if err := store.CheckBatch("items", len(b.Items)); err != nil {
		return nil, err
	}
	if b.Reconcile == nil {
		return nil, store.Invalid("reconcile", "a reconcile function is required")
	}
	invalid := make([]error, len(b.Items))
	for i, it := range b.Items {
		if ie := it.Check(); ie != nil {
			ie = ie.WithPrefix(fmt.Sprintf("items[%d]", i))
			if b.Atomic {
				return nil, &store.ItemError{Index: i, Err: ie}
			}
			invalid[i] = ie
		}
	}
	var results []store.UpsertResult
	err := s.write(ctx, func(w *wtx, p *patch) error {
		u := &upsertRun{w: w, p: p, actor: actor, owners: map[string]int64{}, cis: map[int64]*ciState{}, rowOf: map[store.ID]int64{}}
		res, err := u.run(b, invalid)
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

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// ciState is a CI as the running upsert call sees it.
type ciState struct {
	row      int64
	ci       store.CI
	isNew    bool     // inserted by this call
	origKeys []string // stored keys before this call
	origTags []string // stored tags before this call
	origCols [6]any   // stored indexed columns (class, name, status, ...)
	dirty    int      // dirtyNone, dirtySeen or dirtyFull
}

const (
	dirtyNone = iota
	dirtySeen // seen_by, last_seen_at, keys
	dirtyFull
)

// upsertRun is one run of an UpsertCIs call inside the writer transaction.
// It identifies and reconciles every item against an in-memory view of the
// CIs involved (loaded in bulk, then updated as items are applied, so later
// items see earlier ones), then writes the net changes with bulk
// statements. The identity_keys primary key still enforces uniqueness: a
// violation makes the writer re-run the call from scratch.
type upsertRun struct {
	w       *wtx
	p       *patch
	actor   store.Actor
	owners  map[string]int64 // key → owning row (0: unowned); known keys only
	cis     map[int64]*ciState
	rowOf   map[store.ID]int64 // CI id → row, for the CIs in cis
	touched []*ciState         // in first-touch order
	nextRow int64
	audit   []any
}

func (u *upsertRun) run(b store.UpsertBatch, invalid []error) ([]store.UpsertResult, error) {
	if err := u.prefetch(b.Items, invalid); err != nil {
		return nil, err
	}
	if err := u.w.st.maxCIRow.QueryRow().Scan(&u.nextRow); err != nil {
		return nil, dbErr("upsert", err)
	}
	u.nextRow++
	results := make([]store.UpsertResult, len(b.Items))
	for i, it := range b.Items {
		if invalid[i] != nil {
			results[i] = store.UpsertResult{Status: store.StatusInvalid, Err: invalid[i]}
			continue
		}
		r, err := u.item(i, it, b.Reconcile)
		if err != nil {
			return nil, err
		}
		if b.Atomic && r.Err != nil {
			return nil, &store.ItemError{Index: i, Err: r.Err}
		}
		results[i] = r
	}
	if err := u.flush(); err != nil {
		return nil, err
	}
	return results, nil
}

// prefetch loads the CIs that items name by ID, the owners of every key of
// the batch and the CIs owning them.
func (u *upsertRun) prefetch(items []store.CIUpsert, invalid []error) error {
	var keys []string
	var targets []store.ID
	for i, it := range items {
		if invalid[i] != nil {
			continue
		}
		if it.ID != "" {
			targets = append(targets, it.ID)
			continue // identified by ID, not by its keys
		}
		for _, k := range it.Keys {
			if _, ok := u.owners[k]; !ok {
				u.owners[k] = 0
				keys = append(keys, k)
			}
		}
	}
	rows, err := u.w.st.keyOwners.Query(jsonList(keys))
	if err != nil {
		return dbErr("upsert", err)
	}
	var rowIDs []int64
	seen := map[int64]bool{}
	for rows.Next() {
		var k string
		var row int64
		if err := rows.Scan(&k, &row); err != nil {
			rows.Close()
			return dbErr("upsert", err)
		}
		u.owners[k] = row
		if !seen[row] {
			seen[row] = true
			rowIDs = append(rowIDs, row)
		}
	}
	if err := closeRows(rows); err != nil {
		return dbErr("upsert", err)
	}
	if len(targets) > 0 {
		rows, err := u.w.st.cisByUID.Query(jsonList(targets))
		if err != nil {
			return dbErr("upsert", err)
		}
		if err := u.scan(rows); err != nil {
			return err
		}
	}
	return u.load(rowIDs)
}

// load reads CIs by row into the view.
func (u *upsertRun) load(rowIDs []int64) error {
	var todo []int64
	for _, r := range rowIDs {
		if u.cis[r] == nil {
			todo = append(todo, r)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	rows, err := u.w.st.cisByRow.Query(jsonList(todo))
	if err != nil {
		return dbErr("upsert", err)
	}
	if err := u.scan(rows); err != nil {
		return err
	}
	for _, r := range rowIDs {
		if u.cis[r] == nil {
			return &errRetry{err: fmt.Errorf("identity key owner %d vanished", r)}
		}
	}
	return nil
}

// scan adds the CIs of rows to the view and closes rows.
func (u *upsertRun) scan(rows *sql.Rows) error {
	var sc ciScanner
	for rows.Next() {
		row, ci, err := sc.scan(rows)
		if err != nil {
			rows.Close()
			return dbErr("upsert", err)
		}
		st := &ciState{row: row, ci: ci, origKeys: ci.Keys, origTags: tagsOf(ci.Attributes), origCols: indexedCols(ci)}
		u.cis[row] = st
		u.rowOf[ci.ID] = row
		for _, k := range ci.Keys {
			u.owners[k] = row
		}
	}
	if err := closeRows(rows); err != nil {
		return dbErr("upsert", err)
	}
	return nil
}

// owner returns the row owning key (0 for none), asking the database for a
// key the view does not know.
func (u *upsertRun) owner(key string) (int64, error) {
	if row, ok := u.owners[key]; ok {
		return row, nil
	}
	var row int64
	err := u.w.st.keyOwner.QueryRow(key).Scan(&row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		row = 0
	case err != nil:
		return 0, dbErr("upsert", err)
	}
	u.owners[key] = row
	if row != 0 && u.cis[row] == nil {
		if err := u.load([]int64{row}); err != nil {
			return 0, err
		}
	}
	return row, nil
}

// conflictOf is the result of item i whose keys belong to several CIs.
func (u *upsertRun) conflictOf(i int, keys []string) store.UpsertResult {
	ce := store.NewConflictError(keys, func(k string) store.ID {
		if row := u.owners[k]; row != 0 && u.cis[row] != nil {
			return u.cis[row].ci.ID
		}
		return ""
	})
	return store.UpsertResult{Status: store.StatusConflict, Err: store.AtField(fmt.Sprintf("items[%d]", i), ce)}
}

func invalidResult(i int, ie *store.InvalidError) store.UpsertResult {
	return store.UpsertResult{Status: store.StatusInvalid, Err: ie.WithPrefix(fmt.Sprintf("items[%d]", i))}
}

// item identifies, reconciles and applies one item to the view. A non-nil
// error fails the whole call.
func (u *upsertRun) item(i int, it store.CIUpsert, reconcile store.ReconcileFunc) (store.UpsertResult, error) {
	// Identify: the CI named by ID, or the distinct CIs owning any of the
	// item's keys.
	var ownerRows []int64
	if it.ID != "" {
		row, ok := u.rowOf[it.ID]
		if !ok {
			return store.UpsertResult{Status: store.StatusNotFound,
				Err: fmt.Errorf("items[%d]: CI %s: %w", i, it.ID, store.ErrNotFound)}, nil
		}
		ownerRows = append(ownerRows, row)
	}
	idKeys := it.Keys
	if it.ID != "" {
		idKeys = nil
	}
	for _, k := range idKeys {
		row, err := u.owner(k)
		if err != nil {
			return store.UpsertResult{}, err
		}
		if row != 0 && !slices.Contains(ownerRows, row) {
			ownerRows = append(ownerRows, row)
		}
	}
	if len(ownerRows) > 1 {
		return u.conflictOf(i, it.Keys), nil
	}
	var ex *ciState
	var exCI *store.CI
	if len(ownerRows) == 1 {
		ex = u.cis[ownerRows[0]]
		c := ex.ci
		exCI = &c
	}

	r, err := reconcile(exCI, it, u.actor.Source)
	if err != nil {
		var ie *store.InvalidError
		switch {
		case errors.As(err, &ie):
			return invalidResult(i, ie), nil
		case errors.Is(err, store.ErrConflict):
			return store.UpsertResult{Status: store.StatusConflict, Err: store.AtField(fmt.Sprintf("items[%d]", i), err)}, nil
		}
		return store.UpsertResult{}, fmt.Errorf("embedded: items[%d]: reconcile: %w", i, err)
	}
	if !store.ValidIdentifier(r.Class) {
		return invalidResult(i, store.Invalid("class", "%q is not a class name", clip(r.Class))), nil
	}
	if err := store.CheckAttributeNames("attributes", r.Attributes); err != nil {
		var ie *store.InvalidError
		if errors.As(err, &ie) {
			return invalidResult(i, ie), nil
		}
		return store.UpsertResult{}, err
	}
	attrs, err := normalizeAttrs(r.Attributes)
	if err != nil {
		var ie *store.InvalidError
		errors.As(err, &ie)
		return invalidResult(i, ie), nil
	}
	keys := make([]string, 0, len(r.Keys))
	for _, k := range r.Keys {
		if k == "" {
			return invalidResult(i, store.Invalid("keys", "reconciled identity keys must not be empty")), nil
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return invalidResult(i, store.Invalid("keys", "at least one identity key is required")), nil
	}
	// Claim: every key must be free or ours already.
	for _, k := range keys {
		row, err := u.owner(k)
		if err != nil {
			return store.UpsertResult{}, err
		}
		if row != 0 && (ex == nil || row != ex.row) {
			if ex != nil && len(ex.ci.Keys) > 0 {
				// Name the CI being merged into first.
				keys = append([]string{ex.ci.Keys[0]}, keys...)
			}
			return u.conflictOf(i, keys), nil
		}
	}

	now := u.w.now
	var st *ciState
	var res store.UpsertResult
	switch {
	case ex == nil:
		if u.nextRow > math.MaxInt32 {
			return store.UpsertResult{}, fmt.Errorf("embedded: the CI table has run out of row numbers")
		}
		sources := copySources(r.Sources)
		ci := store.CI{
			ID: store.NewID(), Class: r.Class, Attributes: attrs, Keys: keys, Sources: sources,
			SeenBy:    map[string]time.Time{u.actor.Source: now},
			CreatedAt: now, UpdatedAt: now, LastSeenAt: now,
		}
		st = &ciState{row: u.nextRow, ci: ci, isNew: true, dirty: dirtyFull}
		u.nextRow++
		u.cis[st.row] = st
		u.rowOf[ci.ID] = st.row
		u.touched = append(u.touched, st)
		uid, _ := parseUID(string(ci.ID))
		u.p.addNodes = append(u.p.addNodes, nodeDef{slot: int32(st.row), uid: uid})
		u.audit = u.w.auditRow(u.audit, u.actor, store.KindCI, string(ci.ID), store.ActionCreate, r.Changes)
		res = store.UpsertResult{Status: store.StatusCreated, CI: ci, Changes: r.Changes}
	case len(r.Changes) == 0:
		st = ex
		ci := st.ci
		u.releaseKeys(st, keys)
		ci.Keys = keys
		ci.SeenBy, ci.LastSeenAt = seen(ci.SeenBy, u.actor.Source, now)
		st.ci = ci
		u.touch(st, dirtySeen)
		res = store.UpsertResult{Status: store.StatusUnchanged, CI: ci, Changes: r.Changes}
	default:
		st = ex
		ci := st.ci
		u.releaseKeys(st, keys)
		ci.Class, ci.Attributes, ci.Sources, ci.Keys, ci.UpdatedAt = r.Class, attrs, copySources(r.Sources), keys, now
		ci.SeenBy, ci.LastSeenAt = seen(ci.SeenBy, u.actor.Source, now)
		st.ci = ci
		u.touch(st, dirtyFull)
		u.audit = u.w.auditRow(u.audit, u.actor, store.KindCI, string(ci.ID), store.ActionUpdate, r.Changes)
		res = store.UpsertResult{Status: store.StatusUpdated, CI: ci, Changes: r.Changes}
	}
	for _, k := range keys {
		u.owners[k] = st.row
	}
	return res, nil
}

// releaseKeys marks the keys st owns but will not keep as free.
func (u *upsertRun) releaseKeys(st *ciState, keep []string) {
	for _, k := range st.ci.Keys {
		if !slices.Contains(keep, k) && u.owners[k] == st.row {
			u.owners[k] = 0
		}
	}
}

func (u *upsertRun) touch(st *ciState, level int) {
	if st.dirty == dirtyNone {
		u.touched = append(u.touched, st)
	}
	st.dirty = max(st.dirty, level)
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

// flush writes the net changes of the call.
func (u *upsertRun) flush() error {
	w := u.w
	// Keys: release first, so that a key moving between CIs of this call
	// can be claimed again below.
	var claim []any
	buf := make([]byte, 0, 1024)
	var dropKeys []string
	var insCIs []any
	var tagDel []*ciState
	var tagIns []any
	for _, st := range u.touched {
		for _, k := range st.origKeys {
			if !slices.Contains(st.ci.Keys, k) {
				dropKeys = append(dropKeys, k)
			}
		}
		for _, k := range st.ci.Keys {
			if !slices.Contains(st.origKeys, k) {
				claim = append(claim, k, st.row)
			}
		}
		tags := tagsOf(st.ci.Attributes)
		for _, t := range dedupe(tags) {
			if !slices.Contains(st.origTags, t) {
				tagIns = append(tagIns, t, st.row)
			}
		}
		for _, t := range st.origTags {
			if !slices.Contains(tags, t) {
				tagDel = append(tagDel, st)
				break
			}
		}
		if st.isNew {
			a := st.ci.Attributes
			var err error
			if buf, err = appendAttrs(buf[:0], a); err != nil {
				return fmt.Errorf("embedded: encode attributes: %w", err)
			}
			attrs := string(buf)
			buf = appendStrings(buf[:0], st.ci.Keys)
			keys := string(buf)
			buf = appendSources(buf[:0], st.ci.Sources)
			sources := string(buf)
			buf = appendSeen(buf[:0], st.ci.SeenBy)
			seen := string(buf)
			cols := indexedCols(st.ci)
			insCIs = append(insCIs, st.row, string(st.ci.ID), cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
				attrs, keys, sources, seen, st.ci.CreatedAt.UnixNano(), st.ci.UpdatedAt.UnixNano(), st.ci.LastSeenAt.UnixNano())
		}
	}
	if len(dropKeys) > 0 {
		if _, err := w.st.deleteKeys.Exec(jsonList(dropKeys)); err != nil {
			return dbErr("upsert", err)
		}
	}
	if err := w.insert(bulkCIs, insCIs); err != nil {
		return u.writeErr(err)
	}
	var seenRows, fullRows, attrRows []any
	for _, st := range u.touched {
		if st.isNew {
			continue
		}
		ci := &st.ci
		switch st.dirty {
		case dirtySeen:
			buf = appendStrings(buf[:0], ci.Keys)
			keys := string(buf)
			buf = appendSeen(buf[:0], ci.SeenBy)
			seenRows = append(seenRows, st.row, keys, string(buf), ci.LastSeenAt.UnixNano())
		case dirtyFull:
			a := ci.Attributes
			var err error
			if buf, err = appendAttrs(buf[:0], a); err != nil {
				return fmt.Errorf("embedded: encode attributes: %w", err)
			}
			attrs := string(buf)
			buf = appendStrings(buf[:0], ci.Keys)
			keys := string(buf)
			buf = appendSources(buf[:0], ci.Sources)
			sources := string(buf)
			buf = appendSeen(buf[:0], ci.SeenBy)
			if cols := indexedCols(*ci); cols != st.origCols {
				fullRows = append(fullRows, st.row, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
					attrs, keys, sources, string(buf), ci.UpdatedAt.UnixNano(), ci.LastSeenAt.UnixNano())
			} else { // leaves the indexes on those columns alone
				attrRows = append(attrRows, st.row, attrs, keys, sources, string(buf), ci.UpdatedAt.UnixNano(), ci.LastSeenAt.UnixNano())
			}
		}
	}
	if err := w.insert(bulkSeen, seenRows); err != nil {
		return dbErr("upsert", err)
	}
	if err := w.insert(bulkFull, fullRows); err != nil {
		return dbErr("upsert", err)
	}
	if err := w.insert(bulkAttrs, attrRows); err != nil {
		return dbErr("upsert", err)
	}
	if err := w.insert(bulkKeys, claim); err != nil {
		return u.writeErr(err)
	}
	for _, st := range tagDel {
		var gone []string
		tags := tagsOf(st.ci.Attributes)
		for _, t := range st.origTags {
			if !slices.Contains(tags, t) {
				gone = append(gone, t)
			}
		}
		if _, err := w.st.deleteTags.Exec(st.row, jsonList(gone)); err != nil {
			return dbErr("upsert", err)
		}
	}
	if err := w.insert(bulkTags, tagIns); err != nil {
		return dbErr("upsert", err)
	}
	if err := w.insert(bulkAudit, u.audit); err != nil {
		return dbErr("upsert", err)
	}
	return nil
}

// writeErr turns a uniqueness violation into a retry of the whole call:
// the view was stale (which the single writer makes impossible unless
// another process wrote), so identification starts again from scratch.
func (u *upsertRun) writeErr(err error) error {
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
