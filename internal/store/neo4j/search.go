package neo4j

import (
	"context"
	"fmt"
	"strings"

	"github.com/skein-cmdb/skein/internal/store"
)

var _ store.TextSearcher = (*Store)(nil)

const qSearch = `CALL db.index.fulltext.queryNodes('skein_node_search', $query) YIELD node, score
WHERE ($kind = '' OR node._kind = $kind) AND ($classes IS NULL OR node.class IN $classes) AND ($status IS NULL OR node.status IN $status)
RETURN node ORDER BY score DESC, node.id LIMIT $limit`

// SearchNodes implements store.TextSearcher with the full-text index
// skein_node_search.
func (s *Store) SearchNodes(ctx context.Context, q store.TextQuery) ([]store.Node, bool, error) {
	if err := q.Check(); err != nil {
		return nil, false, err
	}
	params := map[string]any{"query": luceneQuery(q), "limit": int64(q.Limit + 1), "kind": string(q.Kind), "classes": nil, "status": nil}
	if len(q.Classes) > 0 {
		params["classes"] = q.Classes
	}
	if len(q.Status) > 0 {
		params["status"] = q.Status
	}
	recs, err := s.readOne(ctx, "search", qSearch, params)
	if err != nil {
		return nil, false, err
	}
	cis := make([]store.CI, 0, len(recs))
	for _, r := range recs {
		c, err := ciFromNode(r.Values[0])
		if err != nil {
			return nil, false, fmt.Errorf("neo4j: decode CI: %w", err)
		}
		cis = append(cis, c)
	}
	if len(cis) > q.Limit {
		return cis[:q.Limit], true, nil
	}
	return cis, false, nil
}

// luceneQuery renders q in Lucene syntax: every token required (+), a
// whole one quoted, a prefix one followed by *. Tokens hold only letters,
// digits and marks (TextQuery.Check), none of Lucene's special characters,
// and are lower case, so never an operator.
func luceneQuery(q store.TextQuery) string {
	var b strings.Builder
	for i, t := range q.Tokens() {
		if i > 0 {
			b.WriteByte(' ')
		}
		if t.Prefix {
			b.WriteString("+" + t.Text + "*")
		} else {
			b.WriteString(`+"` + t.Text + `"`)
		}
	}
	return b.String()
}
