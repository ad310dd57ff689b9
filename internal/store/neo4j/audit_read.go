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

// History returns the audit records of one object and of those related to
// it, newest first.
func (s *Store) History(ctx context.Context, object string, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	return s.Audit(ctx, store.AuditFilter{Objects: []string{object}}, p)
}

// Audit returns a page of the audit records matching f, newest first (ties
// broken by record ID, descending). The cursor holds the time and ID of the
// last record of a page. The query is made of constant fragments, one per
// filter set; values are parameters.
func (s *Store) Audit(ctx context.Context, f store.AuditFilter, p store.PageRequest) (store.Page[store.AuditRecord], error) {
	if err := f.Check(); err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	size, err := p.PageSize()
	if err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	afterTime, afterID, after, err := store.DecodeAuditCursor(p.After)
	if err != nil {
		return store.Page[store.AuditRecord]{}, err
	}
	params := map[string]any{"limit": int64(size + 1)}
	var where []string
	if f.ID != "" {
		where, params["id"] = append(where, "a.id = $id"), string(f.ID)
	}
	if len(f.Objects) > 0 {
		where, params["objects"] = append(where, "(a.object IN $objects OR a.ref1 IN $objects OR a.ref2 IN $objects)"), f.Objects
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		where, params["kinds"] = append(where, "a.kind IN $kinds"), kinds
	}
	if f.Actor != "" {
		where, params["actor"] = append(where, "a.actor = $actor"), f.Actor
	}
	if f.Source != "" {
		where, params["source"] = append(where, "a.source = $source"), f.Source
	}
	if !f.Since.IsZero() {
		where, params["since"] = append(where, "a.time >= $since"), f.Since.UTC()
	}
	if !f.Until.IsZero() {
		where, params["until"] = append(where, "a.time < $until"), f.Until.UTC()
	}
	match := "MATCH (a:AuditRecord)"
	qCount := match
	if len(where) > 0 {
		qCount += " WHERE " + strings.Join(where, " AND ")
	}
	qCount += " RETURN count(a)"
	if after {
		params["afterTime"], params["afterID"] = afterTime, afterID
		where = append(where, "(a.time < $afterTime OR (a.time = $afterTime AND a.id < $afterID))")
	}
	qPage := match
	if len(where) > 0 {
		qPage += " WHERE " + strings.Join(where, " AND ")
	}
	qPage += " RETURN a ORDER BY a.time DESC, a.id DESC LIMIT $limit"
	out, err := s.read(ctx, "audit", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		var page store.Page[store.AuditRecord]
		recs, err := collect(ctx, tx, qPage, params)
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
		page.SetCursors(func(a store.AuditRecord) string { return store.EncodeAuditCursor(a.Time, a.ID) })
		n, err := count(ctx, tx, qCount, params)
		if err != nil {
			return nil, err
		}
		page.Total = int(n)
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

// Statements of backfillAuditRefs.
const (
	qAuditWithoutRefs = `MATCH (a:AuditRecord {kind: 'relationship'}) WHERE a.ref1 IS NULL
RETURN DISTINCT a.object LIMIT 1000`
	qSetAuditRefs = `UNWIND $rows AS row
MATCH (a:AuditRecord {object: row.object}) WHERE a.kind = 'relationship' AND a.ref1 IS NULL
SET a.ref1 = row.ref1, a.ref2 = row.ref2`
)

// Statements that mark a data migration as done, so that it does not scan
// the audit trail at every start.
const (
	qMigrationDone = `MATCH (m:SkeinMigration {name: $name}) RETURN count(m)`
	qMarkMigration = `MERGE (m:SkeinMigration {name: $name})`
)

// auditRefsMigration names the backfill of audit record references.
const auditRefsMigration = "audit_refs"

// backfillAuditRefs gives the relationship audit records written before
// records had related objects (store.AuditRelated) their two CIs, so that
// they are in those CIs' history. It runs once per database (concurrent
// first starts may both run it; it is idempotent).
func (s *Store) backfillAuditRefs(ctx context.Context) error {
	params := map[string]any{"name": auditRefsMigration}
	done, err := s.read(ctx, "migration", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, qMigrationDone, params)
		if err != nil || len(recs) != 1 {
			return false, err
		}
		n, _ := recs[0].Values[0].(int64)
		return n > 0, nil
	})
	if err != nil {
		return err
	}
	if done.(bool) {
		return nil
	}
	for {
		out, err := s.write(ctx, "backfill audit", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
			recs, err := collect(ctx, tx, qAuditWithoutRefs, nil)
			if err != nil {
				return nil, err
			}
			var rows []any
			for _, rec := range recs {
				obj := asString(rec.Values[0])
				rel := store.AuditRelated(store.KindRelationship, obj)
				if len(rel) != 2 {
					rel = []string{"", ""} // not a relationship ID: mark it done
				}
				rows = append(rows, map[string]any{"object": obj, "ref1": rel[0], "ref2": rel[1]})
			}
			if len(rows) > 0 {
				if _, err := run(ctx, tx, qSetAuditRefs, map[string]any{"rows": rows}); err != nil {
					return nil, err
				}
			}
			return len(rows), nil
		})
		if err != nil {
			return err
		}
		if out.(int) == 0 {
			break
		}
	}
	_, err = s.write(ctx, "migration", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, qMarkMigration, params)
	})
	return err
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
