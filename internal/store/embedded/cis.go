package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// DeleteCIs deletes CIs with their identity keys and relationships, with an
// audit record for each.
func (s *Store) DeleteCIs(ctx context.Context, actor store.Actor, ids []store.ID) ([]store.UpsertResult, error) {
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	var results []store.UpsertResult
	err := s.write(ctx, func(w *wtx, p *patch) error {
		res, err := w.deleteCIs(actor, ids, p)
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

func (w *wtx) deleteCIs(actor store.Actor, ids []store.ID, p *patch) ([]store.UpsertResult, error) {
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
		if f == nil || f.ci.Kind != store.KindCI {
			results[i] = store.UpsertResult{Status: store.StatusNotFound, Err: store.AtField(fmt.Sprintf("ids[%d]", i), fmt.Errorf("no CI has this ID: %w", store.ErrNotFound))}
			continue
		}
		delete(byID, id) // a repeated id is not found the second time
		rels, err := w.relsOf(f.row)
		if err != nil {
			return nil, err
		}
		for _, r := range rels {
			audit = w.auditRow(audit, actor, store.KindRelationship, string(r.key.ID()), store.ActionDelete, relIdentityChanges(r.key, true))
			p.delEdges = append(p.delEdges, r.e)
		}
		changes := []store.FieldChange{{Field: "class", Before: f.ci.Class}}
		for _, k := range sortedKeys(f.ci.Attributes) {
			changes = append(changes, store.FieldChange{Field: k, Before: f.ci.Attributes[k]})
		}
		audit = w.auditRow(audit, actor, store.KindCI, string(id), store.ActionDelete, changes)
		// Keys and tags by the CI's lists, relationships by ON DELETE CASCADE.
		for _, st := range []*sql.Stmt{w.st.deleteCIKeys, w.st.deleteCITags, w.st.deleteCI} {
			if _, err := st.Exec(f.row); err != nil {
				return nil, dbErr("delete", err)
			}
		}
		p.delNodes = append(p.delNodes, int32(f.row))
		results[i] = store.UpsertResult{Status: store.StatusDeleted, CI: f.ci}
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

// relIdentityChanges lists a relationship's type, source and target as
// created (Before nil) or deleted (After nil).
func relIdentityChanges(k store.RelationshipKey, deleted bool) []store.FieldChange {
	cs := []store.FieldChange{
		{Field: "type", After: k.Type},
		{Field: "source", After: string(k.Source)},
		{Field: "target", After: string(k.Target)},
	}
	if deleted {
		for i := range cs {
			cs[i].Before, cs[i].After = cs[i].After, nil
		}
	}
	return cs
}

// CIs returns the CIs with the given ids.
func (s *Store) CIs(ctx context.Context, ids []store.ID) (map[store.ID]store.CI, error) {
	if len(ids) == 0 {
		return map[store.ID]store.CI{}, nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+ciCols+" FROM cis WHERE uid IN (SELECT value FROM json_each(?)) AND kind = 'ci'", jsonList(ids))
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

// ListCIs returns a page of the CIs matching f, in ID order.
func (s *Store) ListCIs(ctx context.Context, f store.CIFilter, p store.PageRequest) (store.Page[store.CI], error) {
	return s.listCIs(ctx, f, p, routeAuto)
}

// listRoute says how ListCIs applies a filter: routeAuto chooses (see
// byUID); the others force one way, for benchmarks.
type listRoute int

const (
	routeAuto listRoute = iota
	routeIndex
	routeUID
)

func (s *Store) listCIs(ctx context.Context, f store.CIFilter, p store.PageRequest, route listRoute) (store.Page[store.CI], error) {
	var page store.Page[store.CI]
	size, err := p.PageSize()
	if err != nil {
		return page, err
	}
	after, err := store.DecodeIDCursor(p.After)
	if err != nil {
		return page, err
	}
	where, args, err := ciFilter(f, false)
	if err != nil {
		return page, err
	}
	if err := s.usable(ctx); err != nil {
		return page, err
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, dbErr("list CIs", err)
	}
	defer func() { _ = tx.Rollback() }()
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM cis"+cond, args...).Scan(&page.Total); err != nil {
		return page, dbErr("list CIs", err)
	}
	if len(where) > 0 && len(f.IDs) == 0 {
		// A filter matching a large share of the CIs is cheaper to apply
		// while walking the uid index, which gives the page's order and
		// stops after it, than through its own index, which finds every
		// match and sorts them all for each page (a name prefix matching
		// 170,000 CIs took 250 ms a page). Walking costs about
		// (size+1) * CIs / Total rows, the other way Total.
		var maxRow int64
		if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM cis").Scan(&maxRow); err != nil {
			return page, dbErr("list CIs", err)
		}
		if route == routeUID || (route == routeAuto && byUID(page.Total, size, maxRow)) {
			if where, args, err = ciFilter(f, true); err != nil {
				return page, err
			}
		}
	}
	if after != "" {
		where = append(where, "uid > ?")
		args = append(args, after)
	}
	cond = ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, size+1)
	rows, err := tx.QueryContext(ctx, "SELECT "+ciCols+" FROM cis"+cond+" ORDER BY uid LIMIT ?", args...)
	if err != nil {
		return page, dbErr("list CIs", err)
	}
	defer rows.Close()
	var sc ciScanner
	for rows.Next() {
		if len(page.Items) == size {
			page.HasNext = true
			break
		}
		_, ci, err := sc.scan(rows)
		if err != nil {
			return page, dbErr("list CIs", err)
		}
		page.Items = append(page.Items, ci)
	}
	if err := rows.Err(); err != nil {
		return page, dbErr("list CIs", err)
	}
	if n := len(page.Items); n > 0 {
		page.EndCursor = store.EncodeCursor(string(page.Items[n-1].ID))
	}
	return page, nil
}

// byUID reports whether a filter matching total of about maxRow CIs is
// better applied while walking the uid index for a page of size (see
// ListCIs).
func byUID(total, size int, maxRow int64) bool {
	return float64(total)*float64(total) > float64(size+1)*float64(maxRow)
}

// ciFilter turns f into SQL conditions on cis. Only fixed SQL text is
// produced; every value, attribute names included, is a parameter. With
// noIndex, indexed columns are written as +column, which keeps SQLite from
// driving the query by their indexes (it walks the uid index instead).
func ciFilter(f store.CIFilter, noIndex bool) ([]string, []any, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	col := func(c string) string {
		if noIndex {
			return "+" + c
		}
		return c
	}
	switch len(f.Classes) {
	case 0:
	case 1: // lets the (class, uid) index give the order
		add("class = ?", f.Classes[0])
	default:
		add(col("class")+" IN (SELECT value FROM json_each(?))", jsonList(f.Classes))
	}
	if len(f.IDs) > 0 {
		add("uid IN (SELECT value FROM json_each(?))", jsonList(f.IDs))
	}
	if len(f.Status) > 0 {
		add(col("status")+" IN (SELECT value FROM json_each(?))", jsonList(f.Status))
	}
	if f.Environment != "" {
		add(col("environment")+" = ?", f.Environment)
	}
	// text is a text column as the filter compares it: folded (and looked
	// up through the fold indexes of migration 4 → 5) unless the filter is
	// case-sensitive; fold does the same to a value.
	text, fold := col, func(v string) string { return v }
	if !f.CaseSensitive {
		text = func(c string) string { return col(foldFunc + "(" + c + ")") }
		fold = store.FoldText
	}
	if f.Owner != "" {
		add(text("owner")+" = ?", fold(f.Owner))
	}
	if f.SupportGroup != "" {
		add(text("support_group")+" = ?", fold(f.SupportGroup))
	}
	if f.Tag != "" {
		if f.CaseSensitive {
			add(col("id")+" IN (SELECT ci FROM ci_tags WHERE tag = ?)", f.Tag)
		} else {
			add(col("id")+" IN (SELECT ci FROM ci_tags WHERE "+foldFunc+"(tag) = ?)", store.FoldText(f.Tag))
		}
	}
	if f.Name != "" {
		add(text("name")+" = ?", fold(f.Name))
	}
	if f.NamePrefix != "" {
		p := fold(f.NamePrefix)
		if hi, ok := prefixEnd(p); ok {
			add(text("name")+" >= ? AND "+text("name")+" < ?", p, hi)
		} else {
			add(text("name")+" >= ?", p)
		}
	}
	if len(f.Attributes) > 0 {
		if err := store.CheckAttributeNames("filter.attributes", f.Attributes); err != nil {
			return nil, nil, err
		}
		for _, k := range sortedKeys(f.Attributes) {
			path := "$." + k // k is a valid identifier: no quoting needed
			switch v := f.Attributes[k].(type) {
			case string:
				if f.CaseSensitive {
					add("json_type(attrs, ?) = 'text' AND json_extract(attrs, ?) = ?", path, path, v)
				} else {
					add("json_type(attrs, ?) = 'text' AND "+foldFunc+"(json_extract(attrs, ?)) = ?", path, path, store.FoldText(v))
				}
			case bool:
				t := "false"
				if v {
					t = "true"
				}
				add("json_type(attrs, ?) = ?", path, t)
			case int64:
				add("json_type(attrs, ?) IN ('integer', 'real') AND json_extract(attrs, ?) = ?", path, path, v)
			case float64:
				add("json_type(attrs, ?) IN ('integer', 'real') AND json_extract(attrs, ?) = ?", path, path, v)
			case time.Time:
				add("json_type(attrs, ?) = 'object' AND json_extract(attrs, ?) = ?", path, path+`."$time"`, v.UTC().Format(time.RFC3339Nano))
			case []string:
				add("json_type(attrs, ?) = 'array' AND json(json_extract(attrs, ?)) = json(?)", path, path, string(appendStrings(nil, v)))
			default:
				return nil, nil, store.Invalid("filter.attributes."+k, "unsupported value type %T", v)
			}
		}
	}
	if !f.SeenBefore.IsZero() {
		add(col("last_seen_at")+" < ?", clampNanos(f.SeenBefore))
	}
	// CIs only: through the (kind, uid) index when nothing else filters
	// (it gives the order and the count), else as a row filter that keeps
	// SQLite from choosing it over a condition's own index.
	if len(where) == 0 {
		add("kind = 'ci'")
	} else {
		add("+kind = 'ci'")
	}
	return where, args, nil
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
	sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
}
