package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// DeleteNodes deletes nodes of kind with their identity keys and
// relationships, with an audit record for each. See store.NodeWriter.
func (s *Store) DeleteNodes(ctx context.Context, actor store.Actor, kind store.ObjectKind, ids []store.ID) ([]store.UpsertResult, error) {
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	var results []store.UpsertResult
	err := s.write(ctx, func(w *wtx, p *patch) error {
		res, err := w.deleteNodes(actor, kind, ids, p)
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

func (w *wtx) deleteNodes(actor store.Actor, kind store.ObjectKind, ids []store.ID, p *patch) ([]store.UpsertResult, error) {
	type found struct {
		row int64
		ci  store.CI
	}
	byID := map[store.ID]*found{}
	rows, err := w.st.cisByUID.Query(jsonList(ids))
	if err != nil {
		return nil, dbErr("delete", err)
	}
	var sc ciScanner
	for rows.Next() {
		row, ci, err := sc.scan(rows)
		if err != nil {
			rows.Close()
			return nil, dbErr("delete", err)
		}
		byID[ci.ID] = &found{row: row, ci: ci}
	}
	if err := closeRows(rows); err != nil {
		return nil, dbErr("delete", err)
	}
	results := make([]store.UpsertResult, len(ids))
	var audit []any
	for i, id := range ids {
		f := byID[id]
		if f == nil || (kind != store.AnyKind && f.ci.Kind != kind) {
			results[i] = store.UpsertResult{Status: store.StatusNotFound, Err: store.NoNode(fmt.Sprintf("ids[%d]", i), kind)}
			continue
		}
		delete(byID, id) // a repeated id is not found the second time
		rels, err := w.relsOf(f.row)
		if err != nil {
			return nil, err
		}
		for _, r := range rels {
			audit = w.auditRow(audit, actor, store.KindRelationship, string(r.key.ID()), store.ActionDelete, store.RelationshipIdentityChanges(r.key, true))
			p.delEdges = append(p.delEdges, r.e)
		}
		changes := []store.FieldChange{{Field: "class", Before: f.ci.Class}}
		for _, k := range sortedKeys(f.ci.Attributes) {
			changes = append(changes, store.FieldChange{Field: k, Before: f.ci.Attributes[k]})
		}
		audit = w.auditRow(audit, actor, f.ci.Kind, string(id), store.ActionDelete, changes)
		// Keys and tags by the CI's lists, relationships by ON DELETE CASCADE.
		for _, st := range []*sql.Stmt{w.st.deleteCIKeys, w.st.deleteCITags, w.st.deleteCI} {
			if _, err := st.Exec(f.row); err != nil {
				return nil, dbErr("delete", err)
			}
		}
		p.delNodes = append(p.delNodes, int32(f.row))
		results[i] = store.UpsertResult{Status: store.StatusDeleted, Node: f.ci}
	}
	if err := w.insert(bulkAudit, audit); err != nil {
		return nil, dbErr("delete", err)
	}
	return results, nil
}

// relRef is a stored relationship by key and index edge.
type relRef struct {
	key store.RelationshipKey
	e   edge
}

// relsOf returns every relationship of the CI at row (both directions).
func (w *wtx) relsOf(row int64) ([]relRef, error) {
	rows, err := w.st.relsOfCI.Query(row)
	if err != nil {
		return nil, dbErr("delete", err)
	}
	var out []relRef
	for rows.Next() {
		var src, typ, dst int64
		var r relRef
		if err := rows.Scan(&src, &typ, &dst, &r.key.Type, &r.key.Source, &r.key.Target); err != nil {
			rows.Close()
			return nil, dbErr("delete", err)
		}
		r.e = edge{src: int32(src), dst: int32(dst), typ: uint32(typ)}
		out = append(out, r)
	}
	if err := closeRows(rows); err != nil {
		return nil, dbErr("delete", err)
	}
	return out, nil
}

// Nodes returns the nodes of kind (every kind for store.AnyKind) with the
// given ids.
func (s *Store) Nodes(ctx context.Context, kind store.ObjectKind, ids []store.ID) (map[store.ID]store.Node, error) {
	if len(ids) == 0 {
		return map[store.ID]store.Node{}, nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return s.readNodes(ctx, ids, kind)
}

// readNodes reads the nodes of kind (every kind for store.AnyKind) with the
// given ids.
func (s *Store) readNodes(ctx context.Context, ids []store.ID, kind store.ObjectKind) (map[store.ID]store.Node, error) {
	q, args := "SELECT "+ciCols+" FROM cis WHERE uid IN (SELECT value FROM json_each(?))", []any{jsonList(ids)}
	if kind != store.AnyKind {
		q, args = q+" AND kind = ?", append(args, string(kind))
	}
	rows, err := s.query(ctx, nil, q, args...)
	if err != nil {
		return nil, dbErr("read CIs", err)
	}
	defer rows.Close()
	out := make(map[store.ID]store.CI, len(ids))
	var sc ciScanner
	for rows.Next() {
		_, ci, err := sc.scan(rows)
		if err != nil {
			return nil, dbErr("read CIs", err)
		}
		out[ci.ID] = ci
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read CIs", err)
	}
	return out, nil
}

// ListNodes returns a page of the nodes matching f, in f.Sort's order.
func (s *Store) ListNodes(ctx context.Context, f store.NodeFilter, p store.PageRequest) (store.Page[store.Node], error) {
	return s.listCIs(ctx, f, p, routeAuto)
}

// listRoute says how ListNodes applies a filter: routeAuto chooses (see
// byUID); the others force one way, for benchmarks.
type listRoute int

const (
	routeAuto listRoute = iota
	routeIndex
	routeUID
)

func (s *Store) listCIs(ctx context.Context, f store.NodeFilter, p store.PageRequest, route listRoute) (store.Page[store.CI], error) {
	var page store.Page[store.CI]
	size, err := p.CheckOffset()
	if err != nil {
		return page, err
	}
	if err := f.Sort.Check(); err != nil {
		return page, err
	}
	after, err := store.DecodeSortCursor(f.Sort, p.After)
	if err != nil {
		return page, err
	}
	expr, err := f.Expr()
	if err != nil {
		return page, err
	}
	cond, args, err := compileFilter(expr, false)
	if err != nil {
		return page, err
	}
	filtered := cond != ""
	idOrder := f.Sort.Field == "" || f.Sort.Field == store.FieldID
	// The filter without the kind, for counting (see countOfKind).
	var countConds []string
	if filtered {
		countConds = []string{cond}
	}
	countArgs := args
	cond, args = ofKind(cond, args, f.Kind, idOrder)
	if err := s.usable(ctx); err != nil {
		return page, err
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, dbErr("list CIs", err)
	}
	defer func() { _ = tx.Rollback() }()
	if page.Total, err = s.countOfKind(ctx, tx, countConds, countArgs, f.Kind); err != nil {
		return page, dbErr("list CIs", err)
	}
	if filtered && len(f.IDs) == 0 && indexedSort(f.Sort) {
		// A filter matching a large share of the CIs is cheaper to apply
		// while walking the index of the order (uid, or the sort field's),
		// which gives the page's order and stops after it, than through
		// its own index, which finds every match and sorts them all for
		// each page (a name prefix matching 170,000 CIs took 250 ms a
		// page). Walking costs about (size+1) * CIs / Total rows, the
		// other way Total.
		var maxRow int64
		if err := s.queryRow(ctx, tx, "SELECT coalesce(max(id), 0) FROM cis").Scan(&maxRow); err != nil {
			return page, dbErr("list CIs", err)
		}
		if route == routeUID || (route == routeAuto && byUID(page.Total, size+p.Offset, maxRow)) {
			if cond, args, err = compileFilter(expr, true); err != nil {
				return page, err
			}
			cond, args = ofKind(cond, args, f.Kind, idOrder)
		}
	}
	// One query per part of the order (see sortParts), until the page is
	// full.
	var sc ciScanner
	skip := p.Offset // rows to skip, across the parts
	for _, part := range sortParts(f.Sort, after) {
		if part.skip {
			continue
		}
		conds := part.conds
		qargs := append([]any(nil), args...)
		if cond != "" {
			conds = append([]string{cond}, conds...)
		}
		qargs = append(qargs, part.args...)
		where := ""
		if len(conds) > 0 {
			where = " WHERE " + strings.Join(conds, " AND ")
		}
		qargs = append(qargs, size+1-len(page.Items), skip)
		read := len(page.Items)
		if err := func() error {
			rows, err := s.query(ctx, tx, "SELECT "+ciCols+" FROM cis"+where+part.order+" LIMIT ? OFFSET ?", qargs...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if len(page.Items) == size {
					page.HasNext = true
					break
				}
				_, ci, err := sc.scan(rows)
				if err != nil {
					return err
				}
				page.Items = append(page.Items, ci)
			}
			return rows.Err()
		}(); err != nil {
			return page, dbErr("list CIs", err)
		}
		if page.HasNext {
			break
		}
		if skip > 0 && part.first && len(page.Items) == read {
			// The offset is beyond this part: it continues in the next
			// one, less this part's rows (counted only in this case,
			// the last pages of an offset walk).
			n, err := s.countOfKind(ctx, tx, append(slices.Clip(countConds), part.conds...), append(slices.Clip(countArgs), part.args...), f.Kind)
			if err != nil {
				return page, dbErr("list CIs", err)
			}
			skip = max(0, skip-n)
			continue
		}
		skip = 0
	}
	page.SetCursors(func(c store.CI) string { return store.EncodeSortCursor(f.Sort, c) })
	return page, nil
}

// countOfKind counts the nodes of kind (every kind for store.AnyKind)
// matching every one of conds. A count of CIs matching a filter is the
// count of every node matching it less the other kinds' matches: the first
// is answered by the filter's index alone (the kind is not in it, and
// reading each matched row for its kind made a count over 170,000 matches
// six times slower), the others through the kind index, over the few
// nodes that are not CIs.
func (s *Store) countOfKind(ctx context.Context, tx *sql.Tx, conds []string, args []any, kind store.ObjectKind) (int, error) {
	where := func(conds ...string) string {
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}
	var q string
	switch {
	case kind == store.AnyKind:
		q = "SELECT count(*) FROM cis" + where(conds...)
	case kind != store.KindCI || len(conds) == 0:
		q = "SELECT count(*) FROM cis" + where(append(slices.Clip(conds), "kind = ?")...)
		args = append(slices.Clip(args), string(kind))
	default:
		// One statement (each costs a prepare): every match, less the
		// matches of kinds before and after kind in the kind index.
		q = "SELECT (SELECT count(*) FROM cis" + where(conds...) + ")" +
			" - (SELECT count(*) FROM cis INDEXED BY cis_kind" + where(append(slices.Clip(conds), "kind < ?")...) + ")" +
			" - (SELECT count(*) FROM cis INDEXED BY cis_kind" + where(append(slices.Clip(conds), "kind > ?")...) + ")"
		args = slices.Concat(args, args, []any{string(kind)}, args, []any{string(kind)})
	}
	var n int
	err := s.queryRow(ctx, tx, q, args...).Scan(&n)
	return n, err
}

// ofKind adds to cond, with its args, that the rows are nodes of kind
// (nothing for store.AnyKind). CIs are nearly every row: for them the
// (kind, uid) index is used when nothing else filters and the order is by
// ID (it gives the order and the count), else the kind is a row filter
// (+kind) that keeps SQLite from choosing that index over the filter's or
// the order's own. Other kinds (people, groups, records) are few next to
// the CIs, so their kind index is always usable: a filter on an
// attribute without an index of its own then reads that kind's rows, not
// every node.
func ofKind(cond string, args []any, kind store.ObjectKind, idOrder bool) (string, []any) {
	if kind == store.AnyKind {
		return cond, args
	}
	args = append(args, string(kind))
	switch {
	case kind != store.KindCI && cond == "":
		return "kind = ?", args
	case kind != store.KindCI:
		return "(" + cond + ") AND kind = ?", args
	case cond == "" && idOrder:
		return "kind = ?", args
	case cond == "":
		return "+kind = ?", args
	}
	return "(" + cond + ") AND +kind = ?", args
}

// byUID reports whether a filter matching total of about maxRow CIs is
// better applied while walking the uid index for a page of size (see
// ListNodes).
func byUID(total, size int, maxRow int64) bool {
	return float64(total)*float64(total) > float64(size+1)*float64(maxRow)
}

// prefixEnd returns the least string greater than every string starting
// with p (byte order), if there is one.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// clampNanos converts t to unix nanos, saturating outside the int64 range.
func clampNanos(t time.Time) int64 {
	switch {
	case t.Year() < 1678:
		return -1 << 63
	case t.Year() > 2261:
		return 1<<63 - 1
	}
	return t.UnixNano()
}

// sortRels sorts relationships by ID.
func sortRels(rs []store.Relationship) {
	slices.SortFunc(rs, func(a, b store.Relationship) int { return strings.Compare(string(a.ID), string(b.ID)) })
}

// NodeFields returns partial nodes: see store.NodeReader. Fields that are
// all summary attributes are answered from the node summary cache
// (summary.go); others read the attribute column only, decoding just the
// named members.
func (s *Store) NodeFields(ctx context.Context, kind store.ObjectKind, ids []store.ID, fields []string) (map[store.ID]store.Node, error) {
	if len(ids) == 0 {
		return map[store.ID]store.Node{}, nil
	}
	if err := store.CheckNodeFields(len(ids), fields); err != nil {
		return nil, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if !summaryServes(fields) {
		return s.nodeFieldsFromDB(ctx, kind, ids, fields, make(map[store.ID]store.Node, len(ids)))
	}
	out := make(map[store.ID]store.Node, len(ids))
	if miss := s.g.cachedFields(ids, kind, fields, out); len(miss) > 0 {
		return s.nodeFieldsFromDB(ctx, kind, miss, fields, out)
	}
	return out, nil
}

// nodeFieldsFromDB reads NodeFields' answer for ids from the database
// into out.
func (s *Store) nodeFieldsFromDB(ctx context.Context, kind store.ObjectKind, ids []store.ID, fields []string, out map[store.ID]store.Node) (map[store.ID]store.Node, error) {
	cols := "uid, kind, class, version, attrs"
	if len(fields) == 0 {
		cols = "uid, kind, class, version, NULL" // nor its attributes copied out
	}
	q, args := "SELECT "+cols+" FROM cis WHERE uid IN (SELECT value FROM json_each(?))", []any{jsonList(ids)}
	if kind != store.AnyKind {
		q, args = q+" AND kind = ?", append(args, string(kind))
	}
	rows, err := s.query(ctx, nil, q, args...)
	if err != nil {
		return nil, dbErr("read node fields", err)
	}
	defer rows.Close()
	var uid, kindb, attrs sql.RawBytes
	for rows.Next() {
		var n store.Node
		if err := rows.Scan(&uid, &kindb, &n.Class, &n.Version, &attrs); err != nil {
			return nil, dbErr("read node fields", err)
		}
		n.ID, n.Kind = store.ID(uid), internKind(kindb)
		if len(fields) == 0 {
			n.Attributes = store.Attributes{}
		} else if n.Attributes, err = store.DecodeAttributesOf(attrs, fields); err != nil {
			return nil, corrupt("attributes of node "+string(n.ID), err)
		}
		out[n.ID] = n
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("read node fields", err)
	}
	return out, nil
}
