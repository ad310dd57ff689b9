package embedded

import (
	"context"
	"strings"

	"github.com/skein-cmdb/skein/internal/store"
)

var _ store.TextSearcher = (*Store)(nil)

const qSearch = `SELECT ` + ciCols + ` FROM (SELECT rowid AS sid, rank AS srank FROM ci_search WHERE ci_search MATCH ?)
JOIN cis ON id = sid
WHERE (? = '' OR kind = ?) AND (? = 0 OR class IN (SELECT value FROM json_each(?))) AND (? = 0 OR status IN (SELECT value FROM json_each(?)))
ORDER BY srank, uid LIMIT ?`

// SearchNodes implements store.TextSearcher with the FTS5 table ci_search.
func (s *Store) SearchNodes(ctx context.Context, q store.TextQuery) ([]store.Node, bool, error) {
	if err := q.Check(); err != nil {
		return nil, false, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, false, err
	}
	rows, err := s.query(ctx, nil, qSearch, ftsQuery(q), string(q.Kind), string(q.Kind),
		len(q.Classes), jsonList(q.Classes), len(q.Status), jsonList(q.Status), q.Limit+1)
	if err != nil {
		return nil, false, dbErr("search", err)
	}
	defer rows.Close()
	var ids []store.CI
	var sc ciScanner
	for rows.Next() {
		_, ci, err := sc.scan(rows)
		if err != nil {
			return nil, false, dbErr("search", err)
		}
		ids = append(ids, ci)
	}
	if err := rows.Err(); err != nil {
		return nil, false, dbErr("search", err)
	}
	if len(ids) > q.Limit {
		return ids[:q.Limit], true, nil
	}
	return ids, false, nil
}

// ftsQuery renders q in FTS5 syntax: every token a quoted string (tokens
// hold only letters, digits and marks, TextQuery.Check, so no quote), a
// prefix one followed by *, all joined by AND.
func ftsQuery(q store.TextQuery) string {
	var b strings.Builder
	for i, t := range q.Tokens() {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(`"` + t.Text + `"`)
		if t.Prefix {
			b.WriteString(" *")
		}
	}
	return b.String()
}
