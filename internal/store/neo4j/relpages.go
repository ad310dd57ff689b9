package neo4j

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// Relationship pages: for each request, outgoing relationships by (type,
// element ID of the target), then incoming ones by (type, element ID of
// the source), each branch cut to the page size in the database. Neo4j
// still expands all of a hub's relationships, but sorts them without
// reading the other end's properties (element IDs; the CI id is read for
// the page only) and sends back one page. An element ID does not change
// while its node exists, which is all keyset paging needs: cursors hold
// the phase, the type and that element ID. Sorting by element ID rather
// than CI id halved the time of a page of a 20,000-relationship hub
// (BenchmarkHubPage).
const (
	qRelPages = `UNWIND $reqs AS q
MATCH (c:Node {id: q.ci})
CALL (c, q) {
  MATCH (c)-[r]->(o:Node)
  WHERE q.out AND (size(q.types) = 0 OR type(r) IN q.types)
    AND (q.ad = '' OR (q.ad = 'o' AND (type(r) > q.at OR (type(r) = q.at AND elementId(o) > q.ao))))
  WITH r, o, elementId(o) AS eo ORDER BY type(r), eo LIMIT $n
  RETURN 'o' AS d, type(r) AS t, eo AS other, o.id AS oid, properties(r) AS p
  UNION ALL
  MATCH (c)<-[r]-(o:Node)
  WHERE q.in AND (size(q.types) = 0 OR type(r) IN q.types)
    AND (q.ad <> 'i' OR type(r) > q.at OR (type(r) = q.at AND elementId(o) > q.ao))
  WITH r, o, elementId(o) AS eo ORDER BY type(r), eo LIMIT $n
  RETURN 'i' AS d, type(r) AS t, eo AS other, o.id AS oid, properties(r) AS p
}
RETURN q.i, d, t, other, oid, p`
	qRelPageTotals = `UNWIND $reqs AS q
OPTIONAL MATCH (c:Node {id: q.ci})
RETURN q.i,
  CASE WHEN c IS NULL OR NOT q.out THEN 0
       ELSE COUNT { MATCH (c)-[r]->(:Node) WHERE size(q.types) = 0 OR type(r) IN q.types } END +
  CASE WHEN c IS NULL OR NOT q.in THEN 0
       ELSE COUNT { MATCH (c)<-[r]-(:Node) WHERE size(q.types) = 0 OR type(r) IN q.types } END`
)

// RelationshipPages answers each request with one page of a CI's
// relationships: two queries in one read transaction for the whole batch.
func (s *Store) RelationshipPages(ctx context.Context, reqs []store.RelationshipPageRequest) ([]store.Page[store.Relationship], error) {
	if len(reqs) == 0 {
		return []store.Page[store.Relationship]{}, nil
	}
	if err := store.CheckBatch("reqs", len(reqs)); err != nil {
		return nil, err
	}
	params := make([]map[string]any, len(reqs))
	sizes := make([]int, len(reqs))
	maxSize := 0
	for i, r := range reqs {
		p, size, err := relPageParams(i, r)
		if err != nil {
			return nil, store.PrefixField(err, "reqs["+strconv.Itoa(i)+"]")
		}
		params[i], sizes[i] = p, size
		maxSize = max(maxSize, size)
	}
	out := make([]store.Page[store.Relationship], len(reqs))
	for i := range out {
		out[i] = store.Page[store.Relationship]{Items: []store.Relationship{}, Cursors: []string{}}
	}
	type row struct {
		out        bool
		typ, other string
		rel        store.Relationship
	}
	res, err := s.read(ctx, "relationship pages", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		rows := make([][]row, len(reqs))
		recs, err := collect(ctx, tx, qRelPages, map[string]any{"reqs": params, "n": maxSize + 1})
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			i, _ := rec.Values[0].(int64)
			if i < 0 || int(i) >= len(reqs) {
				return nil, &appError{fmt.Errorf("neo4j: relationship page: unexpected request index %d", i)}
			}
			r := row{out: asString(rec.Values[1]) == "o", typ: asString(rec.Values[2]), other: asString(rec.Values[3])}
			k := store.RelationshipKey{Source: reqs[i].Node, Type: r.typ, Target: store.ID(asString(rec.Values[4]))}
			if !r.out {
				k.Source, k.Target = k.Target, k.Source
			}
			if r.rel, err = relFromProperties(k, rec.Values[5]); err != nil {
				return nil, &appError{fmt.Errorf("neo4j: decode relationship: %w", err)}
			}
			rows[i] = append(rows[i], r)
		}
		totals, err := collect(ctx, tx, qRelPageTotals, map[string]any{"reqs": params})
		if err != nil {
			return nil, err
		}
		for _, rec := range totals {
			i, _ := rec.Values[0].(int64)
			n, _ := rec.Values[1].(int64)
			if i >= 0 && int(i) < len(reqs) {
				out[i].Total = int(n)
			}
		}
		return rows, nil
	})
	if err != nil {
		return nil, err
	}
	for i, rows := range res.([][]row) {
		slices.SortFunc(rows, func(a, b row) int {
			if a.out != b.out {
				if a.out {
					return -1
				}
				return 1
			}
			if c := strings.Compare(a.typ, b.typ); c != 0 {
				return c
			}
			return strings.Compare(a.other, b.other)
		})
		p := &out[i]
		for _, r := range rows {
			if len(p.Items) == sizes[i] {
				p.HasNext = true
				break
			}
			p.Items = append(p.Items, r.rel)
			p.Cursors = append(p.Cursors, store.EncodeRelCursor(r.out, r.typ, r.other))
		}
		if n := len(p.Cursors); n > 0 {
			p.EndCursor = p.Cursors[n-1]
		}
	}
	return out, nil
}

// relPageParams checks one request and returns its query parameters and
// page size.
func relPageParams(i int, r store.RelationshipPageRequest) (map[string]any, int, error) {
	var out, in bool
	switch r.Dir {
	case store.Out:
		out = true
	case store.In:
		in = true
	case store.Both:
		out, in = true, true
	default:
		return nil, 0, store.Invalid("dir", "direction must be out, in or both")
	}
	types := []string{}
	for _, t := range r.Types {
		if !store.ValidIdentifier(t) {
			return nil, 0, store.Invalid("types", "%q is not a relationship type name", clip(t))
		}
		types = append(types, t)
	}
	size, err := r.Page.PageSize()
	if err != nil {
		return nil, 0, err
	}
	afterOut, typ, other, set, err := store.DecodeRelCursor(r.Page.After)
	if err != nil {
		return nil, 0, err
	}
	ad := ""
	if set {
		if (afterOut && !out) || (!afterOut && !in) {
			return nil, 0, store.Invalid("after", "not a cursor of these relationships")
		}
		ad = map[bool]string{true: "o", false: "i"}[afterOut]
	}
	return map[string]any{
		"i": int64(i), "ci": string(r.Node), "out": out, "in": in, "types": types,
		"ad": ad, "at": typ, "ao": other,
	}, size, nil
}
