package neo4j

import (
	"context"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

const (
	// qRecordConflicts merges conflicts by CI pair; the uniqueness
	// constraint on (ci1, ci2) makes concurrent MERGEs of one pair safe.
	qRecordConflicts = `UNWIND $rows AS row
MERGE (c:IdentityConflict {ci1: row.ci1, ci2: row.ci2})
ON CREATE SET c.first_seen = $now, c.count = 0
SET c.class = row.class, c.source = row.source, c.last_seen = $now, c.count = c.count + row.count`
	qConflicts = `MATCH (c:IdentityConflict)
WHERE $a1 IS NULL OR c.ci1 > $a1 OR (c.ci1 = $a1 AND c.ci2 > $a2)
RETURN c.ci1, c.ci2, c.class, c.source, c.first_seen, c.last_seen, c.count
ORDER BY c.ci1, c.ci2 LIMIT $limit`
	qConflictCount    = `MATCH (c:IdentityConflict) RETURN count(c)`
	qResolveConflicts = `UNWIND $ids AS id
CALL {
  WITH id MATCH (c:IdentityConflict {ci1: id}) RETURN c
  UNION
  WITH id MATCH (c:IdentityConflict {ci2: id}) RETURN c
}
DETACH DELETE c`
)

// RecordConflicts opens or refreshes identity conflicts (see
// store.ConflictStore).
func (s *Store) RecordConflicts(ctx context.Context, cs []store.IdentityConflict) error {
	if len(cs) == 0 {
		return nil
	}
	if err := store.CheckConflicts(cs); err != nil {
		return err
	}
	rows := make([]any, len(cs))
	for i, c := range cs {
		rows[i] = map[string]any{"ci1": string(c.CIs[0]), "ci2": string(c.CIs[1]), "class": c.Class, "source": c.Source, "count": int64(max(c.Count, 1))}
	}
	_, err := s.write(ctx, "record conflicts", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, qRecordConflicts, map[string]any{"rows": rows, "now": time.Now().UTC()})
	})
	return err
}

// Conflicts returns a page of the open identity conflicts by CI pair.
func (s *Store) Conflicts(ctx context.Context, p store.PageRequest) (store.Page[store.IdentityConflict], error) {
	size, err := p.PageSize()
	if err != nil {
		return store.Page[store.IdentityConflict]{}, err
	}
	a1, a2, err := store.DecodeConflictCursor(p.After)
	if err != nil {
		return store.Page[store.IdentityConflict]{}, err
	}
	params := map[string]any{"a1": nil, "a2": nil, "limit": int64(size + 1)}
	if a1 != "" {
		params["a1"], params["a2"] = a1, a2
	}
	out, err := s.read(ctx, "conflicts", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		page := store.Page[store.IdentityConflict]{Items: []store.IdentityConflict{}}
		recs, err := collect(ctx, tx, qConflicts, params)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			v := rec.Values
			n, _ := v[6].(int64)
			page.Items = append(page.Items, store.IdentityConflict{
				CIs:   [2]store.ID{store.ID(asString(v[0])), store.ID(asString(v[1]))},
				Class: asString(v[2]), Source: asString(v[3]),
				FirstSeen: asTime(v[4]), LastSeen: asTime(v[5]), Count: int(n),
			})
		}
		if len(page.Items) > size {
			page.Items = page.Items[:size]
			page.HasNext = true
		}
		page.SetCursors(func(c store.IdentityConflict) string { return store.EncodeConflictCursor(c.CIs[0], c.CIs[1]) })
		n, err := count(ctx, tx, qConflictCount, nil)
		if err != nil {
			return nil, err
		}
		page.Total = int(n)
		return page, nil
	})
	if err != nil {
		return store.Page[store.IdentityConflict]{}, err
	}
	return out.(store.Page[store.IdentityConflict]), nil
}

// ResolveConflicts closes the open conflicts of the given CIs.
func (s *Store) ResolveConflicts(ctx context.Context, ids []store.ID) error {
	if len(ids) == 0 {
		return nil
	}
	if err := store.CheckBatch("ids", len(ids)); err != nil {
		return err
	}
	list := make([]string, len(ids))
	for i, id := range ids {
		list[i] = string(id)
	}
	_, err := s.write(ctx, "resolve conflicts", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, qResolveConflicts, map[string]any{"ids": list})
	})
	return err
}
