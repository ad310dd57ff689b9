package neo4j

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

const (
	qGetCIs = `UNWIND $ids AS id
MATCH (c:CI {id: id})
RETURN c`
	qGetNodes = `UNWIND $ids AS id
MATCH (c:Node {id: id})
RETURN c`
	// qCIRels lists every relationship between a CI and another node, in
	// both directions.
	qCIRels = `UNWIND $ids AS id
MATCH (c:CI {id: id})-[r]-(m:Node)
RETURN id, type(r), startNode(r).id, endNode(r).id`
	qDeleteCIs = `UNWIND $ids AS id
MATCH (c:CI {id: id})
OPTIONAL MATCH (k:IdentityKey)-[:IDENTIFIES]->(c)
WITH c, collect(k) AS ks
FOREACH (k IN ks | DETACH DELETE k)
DETACH DELETE c`
)

// CIs returns the CIs with the given ids; absent ids are absent from the
// map.
func (s *Store) CIs(ctx context.Context, ids []store.ID) (map[store.ID]store.CI, error) {
	if len(ids) == 0 {
		return map[store.ID]store.CI{}, nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	return s.readNodes(ctx, qGetCIs, ids)
}

// Nodes returns the nodes of any kind with the given ids.
func (s *Store) Nodes(ctx context.Context, ids []store.ID) (map[store.ID]store.Node, error) {
	if len(ids) == 0 {
		return map[store.ID]store.Node{}, nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	return s.readNodes(ctx, qGetNodes, ids)
}

func (s *Store) readNodes(ctx context.Context, query string, ids []store.ID) (map[store.ID]store.Node, error) {
	out, err := s.read(ctx, "get nodes", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return loadNodes(ctx, tx, query, uniqueIDs(ids))
	})
	if err != nil {
		return nil, err
	}
	return out.(map[store.ID]store.CI), nil
}

func loadNodes(ctx context.Context, tx neo4j.ManagedTransaction, query string, ids []string) (map[store.ID]store.CI, error) {
	recs, err := collect(ctx, tx, query, map[string]any{"ids": ids})
	if err != nil {
		return nil, err
	}
	out := make(map[store.ID]store.CI, len(recs))
	for _, rec := range recs {
		c, err := ciFromNode(rec.Values[0])
		if err != nil {
			return nil, &appError{fmt.Errorf("neo4j: decode CI: %w", err)}
		}
		out[c.ID] = c
	}
	return out, nil
}

// uniqueIDs returns the distinct non-empty ids, sorted, as strings.
func uniqueIDs(ids []store.ID) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" {
			out = append(out, string(id))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ListCIs returns a page of the CIs matching f in f.Sort's order. See
// store.CIReader.
func (s *Store) ListCIs(ctx context.Context, f store.CIFilter, p store.PageRequest) (store.Page[store.CI], error) {
	size, err := p.CheckOffset()
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	if err := f.Sort.Check(); err != nil {
		return store.Page[store.CI]{}, err
	}
	after, err := store.DecodeSortCursor(f.Sort, p.After)
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	expr, err := f.Expr()
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	params := map[string]any{}
	cond, err := compileFilter(expr, params)
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	where := ""
	if cond != "" {
		where = " WHERE " + cond
	}
	countQ := "MATCH (c:CI)" + where + " RETURN count(c)"
	parts := cypherParts(f.Sort, after, params)
	queries := make([]string, len(parts))
	for i, part := range parts {
		conds := part.conds
		if cond != "" {
			conds = append([]string{cond}, conds...)
		}
		w := ""
		if len(conds) > 0 {
			w = " WHERE " + strings.Join(conds, " AND ")
		}
		queries[i] = "MATCH (c:CI)" + w
	}

	out, err := s.read(ctx, "list CIs", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		var page store.Page[store.CI]
		skip := p.Offset // nodes to skip, across the parts
		for i, part := range parts {
			if part.skip {
				continue
			}
			qp := maps.Clone(params)
			qp["skip"], qp["limit"] = int64(skip), int64(size+1-len(page.Items))
			recs, err := collect(ctx, tx, queries[i]+" RETURN c"+part.order+" SKIP $skip LIMIT $limit", qp)
			if err != nil {
				return nil, err
			}
			for _, rec := range recs {
				c, err := ciFromNode(rec.Values[0])
				if err != nil {
					return nil, &appError{fmt.Errorf("neo4j: decode CI: %w", err)}
				}
				page.Items = append(page.Items, c)
			}
			if len(page.Items) > size {
				page.Items = page.Items[:size]
				page.HasNext = true
				break
			}
			if skip > 0 && part.first && len(recs) == 0 {
				// The offset is beyond this part: it continues in the
				// next one, less this part's nodes.
				n, err := count(ctx, tx, queries[i]+" RETURN count(c)", params)
				if err != nil {
					return nil, err
				}
				skip = max(0, skip-int(n))
				continue
			}
			skip = 0
		}
		n, err := count(ctx, tx, countQ, params)
		if err != nil {
			return nil, err
		}
		page.Total = int(n)
		return page, nil
	})
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	page := out.(store.Page[store.CI])
	if page.Items == nil {
		page.Items = []store.CI{}
	}
	page.SetCursors(func(c store.CI) string { return store.EncodeSortCursor(f.Sort, c) })
	return page, nil
}

// DeleteCIs deletes CIs with their relationships and identity keys, in one
// transaction, with an audit record per relationship and per CI. See
// store.CIWriter.
func (s *Store) DeleteCIs(ctx context.Context, actor store.Actor, ids []store.ID) ([]store.UpsertResult, error) {
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	out, err := s.write(ctx, "delete CIs", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		audit := &auditLog{actor: actor, now: time.Now().UTC()}
		uniq := uniqueIDs(ids)
		found := map[store.ID]store.CI{}
		recs, err := collect(ctx, tx, qLockCIs, map[string]any{"ids": uniq})
		if err != nil {
			return nil, err
		}
		var existing []string
		for _, rec := range recs {
			c, err := ciFromNode(rec.Values[0])
			if err != nil {
				return nil, &appError{fmt.Errorf("neo4j: decode CI: %w", err)}
			}
			found[c.ID] = c
			existing = append(existing, string(c.ID))
		}
		slices.Sort(existing)
		rels := map[store.ID][]store.RelationshipKey{}
		if len(existing) > 0 {
			recs, err = collect(ctx, tx, qCIRels, map[string]any{"ids": existing})
			if err != nil {
				return nil, err
			}
			for _, rec := range recs {
				id := store.ID(asString(rec.Values[0]))
				rels[id] = append(rels[id], store.RelationshipKey{
					Type:   asString(rec.Values[1]),
					Source: store.ID(asString(rec.Values[2])),
					Target: store.ID(asString(rec.Values[3])),
				})
			}
		}
		results := make([]store.UpsertResult, len(ids))
		deleted := map[store.ID]bool{}
		relDeleted := map[store.ID]bool{}
		for i, id := range ids {
			c, ok := found[id]
			if !ok || deleted[id] {
				results[i] = store.UpsertResult{Status: store.StatusNotFound,
					Err: store.AtField(fmt.Sprintf("ids[%d]", i), fmt.Errorf("no CI has this ID: %w", store.ErrNotFound))}
				continue
			}
			deleted[id] = true
			rs := rels[id]
			slices.SortFunc(rs, func(a, b store.RelationshipKey) int { return strings.Compare(string(a.ID()), string(b.ID())) })
			for _, rk := range rs {
				rid := rk.ID()
				if relDeleted[rid] {
					continue
				}
				relDeleted[rid] = true
				if err := audit.add(store.KindRelationship, string(rid), store.ActionDelete, store.RelationshipIdentityChanges(rk, true)); err != nil {
					return nil, &appError{err}
				}
			}
			changes := []store.FieldChange{{Field: "class", Before: c.Class}}
			for _, name := range sortedKeys(c.Attributes) {
				changes = append(changes, store.FieldChange{Field: name, Before: c.Attributes[name]})
			}
			if err := audit.add(store.KindCI, string(id), store.ActionDelete, changes); err != nil {
				return nil, &appError{err}
			}
			results[i] = store.UpsertResult{Status: store.StatusDeleted, CI: c}
		}
		if len(existing) > 0 {
			if _, err := run(ctx, tx, qDeleteCIs, map[string]any{"ids": existing}); err != nil {
				return nil, err
			}
		}
		if err := audit.flush(ctx, tx); err != nil {
			return nil, err
		}
		return results, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.UpsertResult), nil
}
