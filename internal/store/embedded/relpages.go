package embedded

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/skein-cmdb/skein/internal/store"
)

// Relationship pages are keyset pages over the indexes (src, type, dst)
// and (dst, type, src): outgoing relationships by (type ID, target row),
// incoming ones by (type ID, source row). Row IDs never change while a CI
// exists, so cursors stay valid across writes.
const (
	relPageCols = `SELECT r.type, r.dst, r.src, t.name, s.uid, d.uid, ` + relTailCols + `
	FROM relationships r JOIN rel_types t ON t.id = r.type JOIN cis s ON s.id = r.src JOIN cis d ON d.id = r.dst`
	relPageTypes = ` AND r.type IN (SELECT id FROM rel_types WHERE name IN (SELECT value FROM json_each(?5)))`
	relPageOut   = relPageCols + ` WHERE r.src = ?1 AND (r.type, r.dst) > (?2, ?3)`
	relPageIn    = relPageCols + ` WHERE r.dst = ?1 AND (r.type, r.src) > (?2, ?3)`
	relCountOut  = `SELECT count(*) FROM relationships r WHERE r.src = ?1`
	relCountIn   = `SELECT count(*) FROM relationships r WHERE r.dst = ?1`
)

// RelationshipPages answers each request with one page of a CI's
// relationships, all in one read transaction.
func (s *Store) RelationshipPages(ctx context.Context, reqs []store.RelationshipPageRequest) ([]store.Page[store.Relationship], error) {
	if len(reqs) == 0 {
		return []store.Page[store.Relationship]{}, nil
	}
	if err := store.CheckBatch("reqs", len(reqs)); err != nil {
		return nil, err
	}
	plans := make([]relPagePlan, len(reqs))
	for i, r := range reqs {
		p, err := planRelPage(r)
		if err != nil {
			return nil, store.PrefixField(err, "reqs["+strconv.Itoa(i)+"]")
		}
		plans[i] = p
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, dbErr("relationship pages", err)
	}
	defer func() { _ = tx.Rollback() }()
	out := make([]store.Page[store.Relationship], len(reqs))
	for i, p := range plans {
		if out[i], err = p.run(ctx, s, tx); err != nil {
			return nil, dbErr("relationship pages", err)
		}
	}
	return out, nil
}

// relPagePlan is a checked request.
type relPagePlan struct {
	req      store.RelationshipPageRequest
	size     int
	phases   []bool // true: outgoing
	after    bool   // a cursor was given
	afterOut bool
	afterKey [2]int64 // type ID, other row
}

func planRelPage(r store.RelationshipPageRequest) (relPagePlan, error) {
	p := relPagePlan{req: r}
	switch r.Dir {
	case store.Out:
		p.phases = []bool{true}
	case store.In:
		p.phases = []bool{false}
	case store.Both:
		p.phases = []bool{true, false}
	default:
		return p, store.Invalid("dir", "direction must be out, in or both")
	}
	for _, t := range r.Types {
		if !store.ValidIdentifier(t) {
			return p, store.Invalid("types", "%q is not a relationship type name", clip(t))
		}
	}
	size, err := r.Page.PageSize()
	if err != nil {
		return p, err
	}
	p.size = size
	out, typ, other, set, err := store.DecodeRelCursor(r.Page.After)
	if err != nil {
		return p, err
	}
	if set {
		t, err1 := strconv.ParseInt(typ, 10, 64)
		o, err2 := strconv.ParseInt(other, 10, 64)
		if err1 != nil || err2 != nil || (out && r.Dir == store.In) || (!out && r.Dir == store.Out) {
			return p, store.Invalid("after", "not a cursor of these relationships")
		}
		p.after, p.afterOut, p.afterKey = true, out, [2]int64{t, o}
	}
	return p, nil
}

func (p relPagePlan) run(ctx context.Context, s *Store, tx *sql.Tx) (store.Page[store.Relationship], error) {
	page := store.Page[store.Relationship]{Items: []store.Relationship{}, Cursors: []string{}}
	var row int64
	err := s.queryRow(ctx, tx, "SELECT id FROM cis WHERE uid = ?", string(p.req.Node)).Scan(&row)
	if err == sql.ErrNoRows {
		return page, nil
	}
	if err != nil {
		return page, err
	}
	types := jsonList(p.req.Types)
	var tail relTail
	for _, out := range p.phases {
		countQ, pageQ := relCountIn, relPageIn
		if out {
			countQ, pageQ = relCountOut, relPageOut
		}
		typeCond := ""
		if len(p.req.Types) > 0 {
			typeCond = relPageTypes
		}
		countArgs := []any{row}
		if typeCond != "" {
			countArgs = []any{row, nil, nil, nil, types}
		}
		var n int
		if err := s.queryRow(ctx, tx, countQ+typeCond, countArgs...).Scan(&n); err != nil {
			return page, err
		}
		page.Total += n
		skip := p.after && !p.afterOut && out // the cursor is past the outgoing phase
		want := p.size + 1 - len(page.Items)
		if skip || want <= 0 || n == 0 {
			continue
		}
		from := [2]int64{-1, -1}
		if p.after && p.afterOut == out {
			from = p.afterKey
		}
		order := " ORDER BY r.type, r.src LIMIT ?4"
		if out {
			order = " ORDER BY r.type, r.dst LIMIT ?4"
		}
		args := []any{row, from[0], from[1], want}
		if typeCond != "" {
			args = append(args, types)
		}
		rows, err := s.query(ctx, tx, pageQ+typeCond+order, args...)
		if err != nil {
			return page, err
		}
		for rows.Next() {
			var r store.Relationship
			var typeID, dst, src int64
			if err := rows.Scan(append([]any{&typeID, &dst, &src, &r.Type, &r.Source, &r.Target}, tail.dest()...)...); err != nil {
				rows.Close()
				return page, err
			}
			if err := tail.fill(&r); err != nil {
				rows.Close()
				return page, err
			}
			r.ID = store.RelationshipKey{Source: r.Source, Type: r.Type, Target: r.Target}.ID()
			other := src
			if out {
				other = dst
			}
			page.Items = append(page.Items, r)
			page.Cursors = append(page.Cursors, store.EncodeRelCursor(out, strconv.FormatInt(typeID, 10), strconv.FormatInt(other, 10)))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return page, err
		}
	}
	if len(page.Items) > p.size {
		page.Items, page.Cursors, page.HasNext = page.Items[:p.size], page.Cursors[:p.size], true
	}
	if n := len(page.Cursors); n > 0 {
		page.EndCursor = page.Cursors[n-1]
	}
	return page, nil
}
