package neo4j

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"github.com/skein-cmdb/skein/internal/store"
)

// API tokens are :APIToken nodes, unique on id (see schemaStatements),
// holding the hash only.
const (
	qTokenCount  = `MATCH (t:APIToken) RETURN count(t)`
	qTokenExists = `MATCH (t:APIToken {id: $id}) RETURN count(t)`
	qCreateToken = `CREATE (t:APIToken {id: $id, name: $name, role: $role, hash: $hash,
  created_at: $now, created_by: $by, expires_at: $expires, sources: $sources})`
	qToken       = `MATCH (t:APIToken {id: $id}) RETURN t`
	qTokens      = `MATCH (t:APIToken) RETURN t ORDER BY t.created_at, t.id`
	qLockToken   = `MATCH (t:APIToken {id: $id}) SET t._lock = true REMOVE t._lock RETURN t`
	qRevokeToken = `MATCH (t:APIToken {id: $id}) SET t.revoked_at = $now RETURN t`
)

// CreateToken stores a new token record with its audit record.
func (s *Store) CreateToken(ctx context.Context, actor store.Actor, t store.APIToken) error {
	if err := t.Check(); err != nil {
		return err
	}
	var expires any
	if !t.ExpiresAt.IsZero() {
		expires = t.ExpiresAt.UTC()
	}
	_, err := s.write(ctx, "create token", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		now := time.Now().UTC()
		n, err := count(ctx, tx, qTokenCount, nil)
		if err != nil {
			return nil, err
		}
		if err := store.CheckTokenCount(int(n)); err != nil {
			return nil, &appError{err}
		}
		if n, err = count(ctx, tx, qTokenExists, map[string]any{"id": t.ID}); err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, &appError{fmt.Errorf("token %s already exists: %w", t.ID, store.ErrConflict)}
		}
		if _, err := run(ctx, tx, qCreateToken, map[string]any{
			"id": t.ID, "name": t.Name, "role": t.Role, "hash": t.Hash,
			"now": now, "by": actor.Name, "expires": expires, "sources": sourcesParam(t.Sources),
		}); err != nil {
			return nil, err
		}
		audit := &auditLog{actor: actor, now: now}
		if err := audit.add(store.KindToken, store.TokenObject(t.ID), store.ActionCreate, t.AuditChanges()); err != nil {
			return nil, &appError{err}
		}
		return nil, audit.flush(ctx, tx)
	})
	return err
}

// Token returns the record with the given ID.
func (s *Store) Token(ctx context.Context, id string) (store.APIToken, error) {
	recs, err := s.readOne(ctx, "read token", qToken, map[string]any{"id": id})
	if err != nil {
		return store.APIToken{}, err
	}
	if len(recs) == 0 {
		return store.APIToken{}, fmt.Errorf("token %q: %w", clip(id), store.ErrNotFound)
	}
	return decodeToken(recs[0].Values[0])
}

// Tokens returns every record, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]store.APIToken, error) {
	out, err := s.read(ctx, "read tokens", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, qTokens, nil)
		if err != nil {
			return nil, err
		}
		toks := make([]store.APIToken, 0, len(recs))
		for _, r := range recs {
			t, err := decodeToken(r.Values[0])
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
		}
		return toks, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.APIToken), nil
}

// RevokeToken marks a token revoked, with an audit record. The token's
// node is write-locked first, so two concurrent revocations write one
// audit record.
func (s *Store) RevokeToken(ctx context.Context, actor store.Actor, id string) (store.APIToken, error) {
	out, err := s.write(ctx, "revoke token", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, qLockToken, map[string]any{"id": id})
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, &appError{fmt.Errorf("token %q: %w", clip(id), store.ErrNotFound)}
		}
		t, err := decodeToken(recs[0].Values[0])
		if err != nil || !t.RevokedAt.IsZero() {
			return t, err
		}
		now := time.Now().UTC()
		if _, err := run(ctx, tx, qRevokeToken, map[string]any{"id": id, "now": now}); err != nil {
			return nil, err
		}
		audit := &auditLog{actor: actor, now: now}
		if err := audit.add(store.KindToken, store.TokenObject(id), store.ActionRevoke,
			[]store.FieldChange{{Field: "revoked_at", After: now}}); err != nil {
			return nil, &appError{err}
		}
		t.RevokedAt = now
		return t, audit.flush(ctx, tx)
	})
	if err != nil {
		return store.APIToken{}, err
	}
	return out.(store.APIToken), nil
}

func decodeToken(v any) (store.APIToken, error) {
	n, ok := v.(dbtype.Node)
	if !ok {
		return store.APIToken{}, &appError{fmt.Errorf("neo4j: decode token: unexpected %T", v)}
	}
	hash, _ := n.Props["hash"].([]byte)
	var sources []string
	if l, ok := n.Props["sources"].([]any); ok {
		for _, s := range l {
			sources = append(sources, asString(s))
		}
	}
	return store.APIToken{
		Sources:   sources,
		ID:        asString(n.Props["id"]),
		Name:      asString(n.Props["name"]),
		Role:      asString(n.Props["role"]),
		Hash:      hash,
		CreatedAt: asTime(n.Props["created_at"]),
		CreatedBy: asString(n.Props["created_by"]),
		ExpiresAt: asTime(n.Props["expires_at"]),
		RevokedAt: asTime(n.Props["revoked_at"]),
	}, nil
}

// sourcesParam is a token's sources as a property value: a list, or null
// (no property) for none.
func sourcesParam(s []string) any {
	if len(s) == 0 {
		return nil
	}
	l := make([]any, len(s))
	for i, v := range s {
		l[i] = v
	}
	return l
}

// count runs a query returning one integer.
func count(ctx context.Context, tx neo4j.ManagedTransaction, query string, params map[string]any) (int64, error) {
	recs, err := collect(ctx, tx, query, params)
	if err != nil || len(recs) != 1 {
		return 0, err
	}
	n, _ := recs[0].Values[0].(int64)
	return n, nil
}
