package neo4j

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// Scoped sync's bookkeeping (store.SyncStore): a run is a :SkeinSyncRun
// node holding its JSON; a scope's member is a :SkeinScopeMember node per
// (source, scope, member), unique by the three, whose composite index
// serves a scope's members in order.
const (
	qSaveRun = `MERGE (r:SkeinSyncRun {number: $number}) SET r.data = $data`
	qLoadRun = `MATCH (r:SkeinSyncRun {number: $number}) RETURN r.data`
	// The first SET locks the member before run is read (see
	// qNextSequence): two runs marking it at once keep the later.
	qMarkScope = `UNWIND $members AS member
MERGE (m:SkeinScopeMember {source: $source, scope: $scope, member: member})
ON CREATE SET m.run = $run
SET m._lock = true
WITH m
SET m.run = CASE WHEN m.run > $run THEN m.run ELSE $run END
REMOVE m._lock`
	qScopeMembers = `MATCH (m:SkeinScopeMember)
WHERE m.source = $source AND m.scope = $scope AND m.member > $after
RETURN m.member, m.run ORDER BY m.member LIMIT $limit`
	qForgetScope = `UNWIND $members AS member
MATCH (m:SkeinScopeMember {source: $source, scope: $scope, member: member})
WHERE m.run < $before
DELETE m`
)

// SaveRun stores a discovery run.
func (s *Store) SaveRun(ctx context.Context, r store.SyncRun) error {
	data, err := store.EncodeRun(r)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, "save run", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, qSaveRun, map[string]any{"number": r.Number, "data": data})
	})
	return err
}

// LoadRun reads a discovery run.
func (s *Store) LoadRun(ctx context.Context, n int64) (store.SyncRun, error) {
	out, err := s.read(ctx, "load run", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, qLoadRun, map[string]any{"number": n})
		if err != nil || len(recs) == 0 {
			return "", err
		}
		return asString(recs[0].Values[0]), nil
	})
	if err != nil {
		return store.SyncRun{}, err
	}
	data := out.(string)
	if data == "" {
		return store.SyncRun{}, fmt.Errorf("no run %d: %w", n, store.ErrNotFound)
	}
	r, err := store.DecodeRun(data)
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("neo4j: run %d: %w", n, err)
	}
	return r, nil
}

// MarkScope records the run that last reported members of a scope.
func (s *Store) MarkScope(ctx context.Context, scope store.ScopeRef, runNumber int64, members []string) error {
	if err := store.CheckScopeMembers(scope, members); err != nil {
		return err
	}
	if len(members) == 0 {
		return nil
	}
	_, err := s.write(ctx, "mark scope", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, qMarkScope, map[string]any{"source": scope.Source, "scope": scope.Name, "run": runNumber, "members": members})
	})
	return err
}

// ScopeMembers returns a page of a scope's members.
func (s *Store) ScopeMembers(ctx context.Context, scope store.ScopeRef, after string, limit int) ([]store.ScopeMember, error) {
	if err := store.CheckScopePage(limit); err != nil {
		return nil, err
	}
	out, err := s.read(ctx, "scope members", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, qScopeMembers, map[string]any{"source": scope.Source, "scope": scope.Name, "after": after, "limit": int64(limit)})
		if err != nil {
			return nil, err
		}
		ms := make([]store.ScopeMember, len(recs))
		for i, rec := range recs {
			ms[i].Member = asString(rec.Values[0])
			ms[i].Run, _ = rec.Values[1].(int64)
		}
		return ms, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.ScopeMember), nil
}

// ForgetScope deletes members a later run did not mark again.
func (s *Store) ForgetScope(ctx context.Context, scope store.ScopeRef, members []string, before int64) error {
	if err := store.CheckScopeMembers(scope, members); err != nil {
		return err
	}
	if len(members) == 0 {
		return nil
	}
	_, err := s.write(ctx, "forget scope", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, qForgetScope, map[string]any{"source": scope.Source, "scope": scope.Name, "before": before, "members": members})
	})
	return err
}
