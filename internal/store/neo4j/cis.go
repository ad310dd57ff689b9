package neo4j

import (
	"context"
	"fmt"
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
	// qCIRels lists every relationship between a CI and another CI, in
	// both directions.
	qCIRels = `UNWIND $ids AS id
MATCH (c:CI {id: id})-[r]-(m:CI)
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
	out, err := s.read(ctx, "get CIs", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return loadCIs(ctx, tx, uniqueIDs(ids))
	})
	if err != nil {
		return nil, err
	}
	return out.(map[store.ID]store.CI), nil
}

func loadCIs(ctx context.Context, tx neo4j.ManagedTransaction, ids []string) (map[store.ID]store.CI, error) {
	recs, err := collect(ctx, tx, qGetCIs, map[string]any{"ids": ids})
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

// ListCIs returns a page of the CIs matching f, ordered by ID. See
// store.CIReader.
func (s *Store) ListCIs(ctx context.Context, f store.CIFilter, p store.PageRequest) (store.Page[store.CI], error) {
	size, err := p.PageSize()
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	after, err := store.DecodeIDCursor(p.After)
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	conds, params, err := filterConditions(f)
	if err != nil {
		return store.Page[store.CI]{}, err
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	countQ := "MATCH (c:CI)" + where + " RETURN count(c)"
	pageConds := conds
	if after != "" {
		pageConds = append(slices.Clip(conds), "c.id > $after")
		params["after"] = after
	}
	pageWhere := ""
	if len(pageConds) > 0 {
		pageWhere = " WHERE " + strings.Join(pageConds, " AND ")
	}
	pageQ := "MATCH (c:CI)" + pageWhere + " RETURN c ORDER BY c.id LIMIT $limit"
	params["limit"] = int64(size + 1)

	out, err := s.read(ctx, "list CIs", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		var page store.Page[store.CI]
		recs, err := collect(ctx, tx, pageQ, params)
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
		}
		if n := len(page.Items); n > 0 {
			page.EndCursor = store.EncodeCursor(string(page.Items[n-1].ID))
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
	return page, nil
}

// filterConditions turns a filter into WHERE conditions on c and their
// parameters. Only fixed text goes into the conditions; attribute names
// are parameters too (c[$name]).
func filterConditions(f store.CIFilter) ([]string, map[string]any, error) {
	var conds []string
	params := map[string]any{}
	if len(f.Classes) > 0 {
		conds = append(conds, "c.class IN $classes")
		params["classes"] = slices.Clone(f.Classes)
	}
	if len(f.IDs) > 0 {
		ids := make([]string, len(f.IDs))
		for i, id := range f.IDs {
			ids[i] = string(id)
		}
		conds = append(conds, "c.id IN $ids")
		params["ids"] = ids
	}
	if len(f.Status) > 0 {
		conds = append(conds, "c.status IN $status")
		params["status"] = slices.Clone(f.Status)
	}
	if f.Environment != "" {
		conds = append(conds, "c.environment = $environment")
		params["environment"] = f.Environment
	}
	// text names the property a text filter compares: the attribute, or
	// its folded copy (foldedProps) unless the filter is case-sensitive;
	// fold does the same to the value.
	text, fold := func(attr string) string { return "c." + attr }, func(v string) string { return v }
	if !f.CaseSensitive {
		text = func(attr string) string { return "c." + foldedProps[attr] }
		fold = store.FoldText
	}
	for _, eq := range []struct{ attr, param, value string }{
		{"owner", "owner", f.Owner}, {"support_group", "support_group", f.SupportGroup}, {"name", "name", f.Name},
	} {
		if eq.value != "" {
			conds = append(conds, text(eq.attr)+" = $"+eq.param)
			params[eq.param] = fold(eq.value)
		}
	}
	if f.Tag != "" {
		// A tags attribute that is not a list must not fail the query.
		conds = append(conds, "CASE WHEN "+text("tags")+" IS :: LIST<STRING NOT NULL> THEN $tag IN "+text("tags")+" ELSE false END")
		params["tag"] = fold(f.Tag)
	}
	if f.NamePrefix != "" {
		conds = append(conds, text("name")+" STARTS WITH $namePrefix")
		params["namePrefix"] = fold(f.NamePrefix)
	}
	if len(f.Attributes) > 0 {
		if err := store.CheckAttributeNames("filter.attributes", f.Attributes); err != nil {
			return nil, nil, err
		}
		for i, name := range sortedKeys(f.Attributes) {
			v, err := toProperty(f.Attributes[name])
			if err != nil {
				return nil, nil, store.Invalid("filter.attributes."+name, "%v", err)
			}
			if s, ok := v.(string); ok && !f.CaseSensitive {
				conds = append(conds, fmt.Sprintf("CASE WHEN c[$an%d] IS :: STRING THEN toLower(c[$an%d]) = $av%d ELSE false END", i, i, i))
				v = store.FoldText(s)
			} else {
				conds = append(conds, fmt.Sprintf("c[$an%d] = $av%d", i, i))
			}
			params[fmt.Sprintf("an%d", i)] = name
			params[fmt.Sprintf("av%d", i)] = v
		}
	}
	if !f.SeenBefore.IsZero() {
		conds = append(conds, "c.last_seen_at < $seenBefore")
		params["seenBefore"] = f.SeenBefore.UTC()
	}
	return conds, params, nil
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
