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
	// qGetNodes reads nodes of one kind, or of every kind for kind ''.
	qGetNodes = `UNWIND $ids AS id
MATCH (c:Node {id: id})
WHERE $kind = '' OR c._kind = $kind
RETURN c`
	// qGetCIs reads CIs by their own label (and its id constraint), which
	// CIs written by a release before kinds also have (see nodeBackfill).
	qGetCIs = `UNWIND $ids AS id
MATCH (c:CI {id: id})
RETURN c`
	// qNodeRels lists every relationship between a node and another node,
	// in both directions.
	qNodeRels = `UNWIND $ids AS id
MATCH (c:Node {id: id})-[r]-(m:Node)
RETURN id, type(r), startNode(r).id, endNode(r).id`
	qDeleteNodes = `UNWIND $ids AS id
MATCH (c:Node {id: id})
OPTIONAL MATCH (k:IdentityKey)-[:IDENTIFIES]->(c)
WITH c, collect(k) AS ks
FOREACH (k IN ks | DETACH DELETE k)
DETACH DELETE c`
)

// Nodes returns the nodes of kind (every kind for store.AnyKind) with the
// given ids; absent ids are absent from the map.
func (s *Store) Nodes(ctx context.Context, kind store.ObjectKind, ids []store.ID) (map[store.ID]store.Node, error) {
	if len(ids) == 0 {
		return map[store.ID]store.Node{}, nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	return s.readNodes(ctx, kind, ids)
}

func (s *Store) readNodes(ctx context.Context, kind store.ObjectKind, ids []store.ID) (map[store.ID]store.Node, error) {
	q := qGetNodes
	if kind == store.KindCI {
		q = qGetCIs
	}
	recs, err := s.readOne(ctx, "get nodes", q, map[string]any{"ids": uniqueIDs(ids), "kind": string(kind)})
	if err != nil {
		return nil, err
	}
	out := make(map[store.ID]store.CI, len(recs))
	for _, rec := range recs {
		c, err := ciFromNode(rec.Values[0])
		if err != nil {
			return nil, fmt.Errorf("neo4j: decode CI: %w", err)
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

// ListNodes returns a page of the nodes matching f in f.Sort's order. See
// store.NodeReader. Nodes of one kind are matched by the kind's label
// (kindLabel), which CIs' indexes cover; every kind by :Node.
func (s *Store) ListNodes(ctx context.Context, f store.NodeFilter, p store.PageRequest) (store.Page[store.Node], error) {
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
	match := "MATCH (c:Node)"
	if f.Kind != store.AnyKind {
		label, err := labelExpr(f.Kind)
		if err != nil {
			return store.Page[store.CI]{}, err
		}
		match = "MATCH (c:" + label + ")"
		if f.Kind != store.KindCI {
			// Two kinds whose names differ only in case or underscores
			// share a label: the kind property tells them apart.
			params["kind"] = string(f.Kind)
			cond = joinAnd("c."+propKind+" = $kind", cond)
		}
	}
	where := ""
	if cond != "" {
		where = " WHERE " + cond
	}
	countQ := match + where + " RETURN count(c)"
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
		queries[i] = match + w
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

// DeleteNodes deletes nodes of kind with their relationships and identity
// keys, in one transaction, with an audit record per relationship and per
// node. See store.NodeWriter.
func (s *Store) DeleteNodes(ctx context.Context, actor store.Actor, kind store.ObjectKind, ids []store.ID) ([]store.UpsertResult, error) {
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return nil, err
	}
	out, err := s.write(ctx, "delete nodes", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
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
			if kind != store.AnyKind && c.Kind != kind {
				continue
			}
			found[c.ID] = c
			existing = append(existing, string(c.ID))
		}
		slices.Sort(existing)
		rels := map[store.ID][]store.RelationshipKey{}
		if len(existing) > 0 {
			recs, err = collect(ctx, tx, qNodeRels, map[string]any{"ids": existing})
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
				results[i] = store.UpsertResult{Status: store.StatusNotFound, Err: store.NoNode(fmt.Sprintf("ids[%d]", i), kind)}
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
			if err := audit.add(c.Kind, string(id), store.ActionDelete, changes); err != nil {
				return nil, &appError{err}
			}
			results[i] = store.UpsertResult{Status: store.StatusDeleted, Node: c}
		}
		if len(existing) > 0 {
			if _, err := run(ctx, tx, qDeleteNodes, map[string]any{"ids": existing}); err != nil {
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

// joinAnd joins two Cypher conditions with AND ("" is no condition).
func joinAnd(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ") AND (" + b + ")"
}

// qNodeFields reads partial nodes: {MATCH} is the MATCH clause of qGetNodes
// or qGetCIs, {PROJECT} the node's fields projected as a map (fieldsMap of
// c), whose values are read by name ($fields). The rows come as lists of a
// thousand, one a record (see rowRecords).
const qNodeFields = `UNWIND $ids AS id
{MATCH}
WITH {PROJECT} AS m
WITH collect([m.id, m._kind, m.class, m._version, [f IN $fields | m[f]]]) AS rows` + rowRecords

// fieldsMap returns the map projection of node v that qNodeFields and
// qSubgraph read a node's fields from: its id, kind, class, version and the
// named attributes (checked identifiers: store.CheckNodeFields), each once.
// A projection reads the node's properties in one pass; reading them one
// by one (v[f] for each of $fields) took about five times as long on the
// server (2,347 CIs of an analysis's subgraph, 11 properties each: 6.4 ms
// against 1.3 ms beyond the traversal, held Neo4j 5.26.30).
func fieldsMap(v string, fields []string) string {
	var b strings.Builder
	b.WriteString(v + "{.id, ._kind, .class, ._version")
	for _, f := range slices.Compact(slices.Sorted(slices.Values(fields))) {
		b.WriteString(", .`" + f + "`")
	}
	b.WriteString("}")
	return b.String()
}

// nodeFieldsStatement is qNodeFields with its MATCH clause and projection.
func nodeFieldsStatement(match string, fields []string) string {
	return strings.NewReplacer("{MATCH}", match, "{PROJECT}", fieldsMap("c", fields)).Replace(qNodeFields)
}

// fieldsNode reads a row of qNodeFields: [id, kind, class, version,
// [the values of fields]].
func fieldsNode(row []any, fields []string) (store.Node, error) {
	n := store.Node{ID: store.ID(asString(row[0])), Kind: kindOrCI(store.ObjectKind(asString(row[1]))),
		Class: asString(row[2]), Attributes: make(store.Attributes, len(fields))}
	v, _ := row[3].(int64)
	n.Version = max(v, 1)
	vals, _ := row[4].([]any)
	for i, f := range fields {
		if i >= len(vals) || vals[i] == nil {
			continue
		}
		av, err := fromProperty(vals[i])
		if err != nil {
			return store.Node{}, &appError{fmt.Errorf("neo4j: node %s, attribute %q: %w", n.ID, f, err)}
		}
		n.Attributes[f] = av
	}
	return n, nil
}

// NodeFields returns partial nodes: see store.NodeReader. Only the named
// properties cross the wire.
func (s *Store) NodeFields(ctx context.Context, kind store.ObjectKind, ids []store.ID, fields []string) (map[store.ID]store.Node, error) {
	if len(ids) == 0 {
		return map[store.ID]store.Node{}, nil
	}
	if err := store.CheckNodeFields(len(ids), fields); err != nil {
		return nil, err
	}
	match := "MATCH (c:Node {id: id})\nWHERE $kind = '' OR c._kind = $kind"
	if kind == store.KindCI {
		match = "MATCH (c:CI {id: id})"
	}
	q := nodeFieldsStatement(match, fields)
	recs, err := s.readOne(ctx, "get node fields", q, map[string]any{"ids": uniqueIDs(ids), "kind": string(kind), "fields": fields})
	if err != nil {
		return nil, err
	}
	rows, err := listRows(recs, 5)
	if err != nil {
		return nil, err
	}
	out := make(map[store.ID]store.Node, len(rows))
	for _, row := range rows {
		n, err := fieldsNode(row, fields)
		if err != nil {
			return nil, err
		}
		out[n.ID] = n
	}
	return out, nil
}
