package neo4j

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"github.com/skein-cmdb/skein/internal/store"
)

// auditLog collects the audit records of one write transaction; flush
// writes them all with one statement.
type auditLog struct {
	actor store.Actor
	now   time.Time
	rows  []any
}

// addRecord records an audit record the planner made (store.ChangeSet).
func (l *auditLog) addRecord(r store.AuditRecord) error {
	enc := string(store.AppendChanges(nil, r.Changes))
	row := map[string]any{
		"id":      string(r.ID),
		"time":    r.Time.UTC(),
		"actor":   r.Actor.Name,
		"source":  r.Actor.Source,
		"kind":    string(r.Kind),
		"object":  r.Object,
		"action":  string(r.Action),
		"changes": enc,
	}
	for i, ref := range r.Related {
		if i < len(auditRefProps) {
			row[auditRefProps[i]] = ref
		}
	}
	l.rows = append(l.rows, row)
	return nil
}

// add records one audit record.
func (l *auditLog) add(kind store.ObjectKind, object string, action store.Action, changes []store.FieldChange) error {
	enc := string(store.AppendChanges(nil, changes))
	row := map[string]any{
		"id":      string(store.NewID()),
		"time":    l.now,
		"actor":   l.actor.Name,
		"source":  l.actor.Source,
		"kind":    string(kind),
		"object":  object,
		"action":  string(action),
		"changes": enc,
	}
	for i, r := range store.AuditRelated(kind, object) {
		row[auditRefProps[i]] = r
	}
	l.rows = append(l.rows, row)
	return nil
}

const qAudit = "UNWIND $rows AS row CREATE (a:AuditRecord) SET a = row"

// auditRefProps are the properties that hold an audit record's related
// objects (store.AuditRelated), each indexed.
var auditRefProps = [store.MaxAuditRelated]string{"ref1", "ref2"}

func (l *auditLog) flush(ctx context.Context, tx neo4j.ManagedTransaction) error {
	if len(l.rows) == 0 {
		return nil
	}
	_, err := run(ctx, tx, qAudit, map[string]any{"rows": l.rows})
	return err
}

func auditFromNode(v any) (store.AuditRecord, error) {
	n, ok := v.(dbtype.Node)
	if !ok {
		return store.AuditRecord{}, fmt.Errorf("unexpected audit record value %T", v)
	}
	p := n.Props
	changes, err := store.DecodeChanges([]byte(asString(p["changes"])))
	if err != nil {
		return store.AuditRecord{}, err
	}
	var related []string
	for _, prop := range auditRefProps {
		if r := asString(p[prop]); r != "" {
			related = append(related, r)
		}
	}
	return store.AuditRecord{
		ID:      store.ID(asString(p["id"])),
		Time:    asTime(p["time"]),
		Actor:   store.Actor{Name: asString(p["actor"]), Source: asString(p["source"])},
		Kind:    store.ObjectKind(asString(p["kind"])),
		Object:  asString(p["object"]),
		Action:  store.Action(asString(p["action"])),
		Changes: changes,
		Related: related,
	}, nil
}
