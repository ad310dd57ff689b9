package neo4j

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"github.com/skein-cmdb/skein/internal/store"
)

const (
	qHistory = `MATCH (a:AuditRecord {object: $object})
WHERE $afterTime IS NULL OR a.time < $afterTime OR (a.time = $afterTime AND a.id < $afterID)
RETURN a ORDER BY a.time DESC, a.id DESC LIMIT $limit`
	qHistoryCount = `MATCH (a:AuditRecord {object: $object}) RETURN count(a)`
)

// History returns the audit records of one object, newest first (ties
// broken by record ID, descending). The cursor holds the time and ID of
// the last record of a page.
func (s *Store) History(ctx context.Context, object string, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	size, err := p.PageSize()
	if err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	after, err := store.DecodeCursor(p.After)
	if err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	params := map[string]any{"object": object, "afterTime": nil, "afterID": nil, "limit": int64(size + 1)}
	if after != "" {
		ts, id, ok := strings.Cut(after, "|")
		t, terr := time.Parse(time.RFC3339Nano, ts)
		if !ok || terr != nil || id == "" {
			return store.Page[store.AuditRecord]{}, store.Invalid("after", "not a cursor returned by this API")
		}
		params["afterTime"] = t.UTC()
		params["afterID"] = id
	}
	out, err := s.read(ctx, "history", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		var page store.Page[store.AuditRecord]
		recs, err := collect(ctx, tx, qHistory, params)
		if err != nil {
			return nil, err
		}
		for _, rec := range recs {
			a, err := auditFromNode(rec.Values[0])
			if err != nil {
				return nil, &appError{fmt.Errorf("neo4j: decode audit record: %w", err)}
			}
			page.Items = append(page.Items, a)
		}
		if len(page.Items) > size {
			page.Items = page.Items[:size]
			page.HasNext = true
		}
		page.Cursors = make([]string, len(page.Items))
		for i, a := range page.Items {
			page.Cursors[i] = store.EncodeCursor(a.Time.UTC().Format(time.RFC3339Nano) + "|" + string(a.ID))
		}
		if n := len(page.Items); n > 0 {
			page.EndCursor = page.Cursors[n-1]
		}
		recs, err = collect(ctx, tx, qHistoryCount, params)
		if err != nil {
			return nil, err
		}
		if len(recs) == 1 {
			n, _ := recs[0].Values[0].(int64)
			page.Total = int(n)
		}
		return page, nil
	})
	if err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	page := out.(store.Page[store.AuditRecord])
	if page.Items == nil {
		page.Items = []store.AuditRecord{}
	}
	return page, nil
}

const (
	qModelExtensions = `MATCH (m:ModelExtension)
RETURN m ORDER BY m.created_at, m.kind, m.name`
	qModelExtensionExists = `MATCH (m:ModelExtension {kind: $kind, name: $name}) RETURN count(m)`
	qCreateModelExtension = `CREATE (m:ModelExtension {kind: $kind, name: $name, definition: $definition, created_at: $now})`
)

// ModelExtensions returns every registered extension, oldest first.
func (s *Store) ModelExtensions(ctx context.Context) ([]store.ModelExtension, error) {
	out, err := s.read(ctx, "model extensions", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, qModelExtensions, nil)
		if err != nil {
			return nil, err
		}
		exts := make([]store.ModelExtension, 0, len(recs))
		for _, rec := range recs {
			n, ok := rec.Values[0].(dbtype.Node)
			if !ok {
				return nil, &appError{fmt.Errorf("neo4j: decode model extension: unexpected %T", rec.Values[0])}
			}
			exts = append(exts, store.ModelExtension{
				Kind:       store.ObjectKind(asString(n.Props["kind"])),
				Name:       asString(n.Props["name"]),
				Definition: []byte(asString(n.Props["definition"])),
				CreatedAt:  asTime(n.Props["created_at"]),
			})
		}
		return exts, nil
	})
	if err != nil {
		return nil, err
	}
	return out.([]store.ModelExtension), nil
}

// SaveModelExtension persists a new extension with its audit record. A
// (kind, name) already registered is store.ErrConflict; the uniqueness
// constraint on (kind, name) settles concurrent saves.
func (s *Store) SaveModelExtension(ctx context.Context, actor store.Actor, ext store.ModelExtension) error {
	if ext.Kind != store.KindClass && ext.Kind != store.KindRelationshipType {
		return store.Invalid("kind", "must be %q or %q", store.KindClass, store.KindRelationshipType)
	}
	if !store.ValidIdentifier(ext.Name) {
		return store.Invalid("name", "%q is not a valid name", clip(ext.Name))
	}
	if len(ext.Definition) == 0 {
		return store.Invalid("definition", "must not be empty")
	}
	params := map[string]any{"kind": string(ext.Kind), "name": ext.Name, "definition": string(ext.Definition)}
	_, err := s.write(ctx, "save model extension", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		now := time.Now().UTC()
		recs, err := collect(ctx, tx, qModelExtensionExists, params)
		if err != nil {
			return nil, err
		}
		if len(recs) == 1 {
			if n, _ := recs[0].Values[0].(int64); n > 0 {
				return nil, &appError{fmt.Errorf("%s %q is already registered: %w", ext.Kind, ext.Name, store.ErrConflict)}
			}
		}
		p := map[string]any{"now": now}
		for k, v := range params {
			p[k] = v
		}
		if _, err := run(ctx, tx, qCreateModelExtension, p); err != nil {
			return nil, err
		}
		audit := &auditLog{actor: actor, now: now}
		if err := audit.add(ext.Kind, ext.Name, store.ActionCreate,
			[]store.FieldChange{{Field: "definition", After: string(ext.Definition)}}); err != nil {
			return nil, &appError{err}
		}
		return nil, audit.flush(ctx, tx)
	})
	return err
}

const (
	qModelExtensionDefinition = `MATCH (m:ModelExtension {kind: $kind, name: $name}) RETURN m.definition`
	qClassInUse               = `MATCH (c:CI {class: $name}) RETURN count(c)`
	qDeleteModelExtension     = `MATCH (m:ModelExtension {kind: $kind, name: $name}) DELETE m`
)

// RetireModelExtension removes a registered extension with its audit
// record, unless a CI still has the class or a relationship the type.
func (s *Store) RetireModelExtension(ctx context.Context, actor store.Actor, kind store.ObjectKind, name string) error {
	if kind != store.KindClass && kind != store.KindRelationshipType {
		return store.Invalid("kind", "must be %q or %q", store.KindClass, store.KindRelationshipType)
	}
	if !store.ValidIdentifier(name) {
		return store.Invalid("name", "%q is not a valid name", clip(name))
	}
	inUse, what := qClassInUse, "CIs have this class"
	if kind == store.KindRelationshipType {
		// The name is a checked identifier (above); a relationship type
		// cannot be a parameter, and its count comes from the count store.
		inUse, what = "MATCH ()-[r:`"+name+"`]->() RETURN count(r)", "relationships have this type"
	}
	params := map[string]any{"kind": string(kind), "name": name}
	_, err := s.write(ctx, "retire model extension", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		now := time.Now().UTC()
		recs, err := collect(ctx, tx, qModelExtensionDefinition, params)
		if err != nil {
			return nil, err
		}
		if len(recs) == 0 {
			return nil, &appError{fmt.Errorf("%s %s is not a registered extension: %w", kind, name, store.ErrNotFound)}
		}
		def, _ := recs[0].Values[0].(string)
		recs, err = collect(ctx, tx, inUse, params)
		if err != nil {
			return nil, err
		}
		if len(recs) == 1 {
			if n, _ := recs[0].Values[0].(int64); n > 0 {
				return nil, &appError{fmt.Errorf("%s %s is in use: %d %s; delete them first: %w", kind, name, n, what, store.ErrConflict)}
			}
		}
		if _, err := run(ctx, tx, qDeleteModelExtension, params); err != nil {
			return nil, err
		}
		audit := &auditLog{actor: actor, now: now}
		if err := audit.add(kind, name, store.ActionDelete, []store.FieldChange{{Field: "definition", Before: def}}); err != nil {
			return nil, &appError{err}
		}
		return nil, audit.flush(ctx, tx)
	})
	return err
}
