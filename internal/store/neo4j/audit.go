package neo4j

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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
	enc, err := encodeChanges(r.Changes)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", r.Kind, r.Action, err)
	}
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
	enc, err := encodeChanges(changes)
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", kind, action, err)
	}
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

// encodeChanges encodes field changes as a JSON array of objects
// {"field": name, "before": value, "after": value}, each value encoded as
// store.EncodeAttributes encodes it (floats keep a decimal point, times are
// {"$time": ...}), so that store.DecodeAttributes gives back exactly the
// same Go types; nil values are left out.
func encodeChanges(changes []store.FieldChange) (string, error) {
	buf := make([]byte, 0, 64*len(changes)+2)
	buf = append(buf, '[')
	for i, c := range changes {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"field":`...)
		buf = appendJSONString(buf, c.Field)
		var err error
		if c.Before != nil {
			buf = append(buf, `,"before":`...)
			if buf, err = appendValue(buf, c.Before); err != nil {
				return "", fmt.Errorf("field %q: %w", c.Field, err)
			}
		}
		if c.After != nil {
			buf = append(buf, `,"after":`...)
			if buf, err = appendValue(buf, c.After); err != nil {
				return "", fmt.Errorf("field %q: %w", c.Field, err)
			}
		}
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	return string(buf), nil
}

// appendValue appends v encoded as store.EncodeAttributes encodes a value.
func appendValue(buf []byte, v any) ([]byte, error) {
	if err := checkValue(v); err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		return appendJSONString(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case float64:
		start := len(buf)
		buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
		if !bytes.ContainsAny(buf[start:], ".eE") {
			buf = append(buf, ".0"...)
		}
		return buf, nil
	case time.Time:
		buf = append(buf, `{"$time":"`...)
		buf = x.UTC().AppendFormat(buf, time.RFC3339Nano)
		return append(buf, `"}`...), nil
	case []string:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, e)
		}
		return append(buf, ']'), nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// appendJSONString appends s as a JSON string: plain printable ASCII
// directly, anything else through encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

func decodeChanges(s string) ([]store.FieldChange, error) {
	if s == "" {
		return nil, nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("decode changes: %w", err)
	}
	out := make([]store.FieldChange, 0, len(raw))
	for _, r := range raw {
		a, err := store.DecodeAttributes(r)
		if err != nil {
			return nil, fmt.Errorf("decode changes: %w", err)
		}
		field, _ := a["field"].(string)
		out = append(out, store.FieldChange{Field: field, Before: a["before"], After: a["after"]})
	}
	return out, nil
}

func auditFromNode(v any) (store.AuditRecord, error) {
	n, ok := v.(dbtype.Node)
	if !ok {
		return store.AuditRecord{}, fmt.Errorf("unexpected audit record value %T", v)
	}
	p := n.Props
	changes, err := decodeChanges(asString(p["changes"]))
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
