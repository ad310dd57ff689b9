package itsm

import (
	"time"

	"github.com/google/uuid"

	"github.com/skein-cmdb/skein/internal/store"
)

// Event is a change of a record that outside systems may be told of
// (internal/webhooks sends them): a record opened, its state changed, a
// change's approval outcome changed.
type Event struct {
	ID   string
	Type string // <kind>.created, <kind>.state_changed, change.approval_changed, incident.breached
	At   time.Time
	// Actor is who made the change.
	Actor  string
	Record store.Node
	// Changes are the record's changed fields (incident.breached: the
	// marker of the target breached, response_breached_at or
	// resolution_breached_at).
	Changes []store.FieldChange
}

// EventTypes are the types of events records emit.
var EventTypes = []string{
	"incident.created", "incident.state_changed", EventBreached,
	"problem.created", "problem.state_changed",
	"change.created", "change.state_changed", "change.approval_changed",
	"change_task.created", "change_task.state_changed",
	"problem_task.created", "problem_task.state_changed",
	"asset.created", "asset.state_changed",
	"knowledge.created", "knowledge.state_changed",
	"request.created", "request.state_changed",
	"requested_item.created", "requested_item.state_changed", "requested_item.approval_changed", EventItemBreached,
	"catalog_task.created", "catalog_task.state_changed",
}

// emit tells the configured publisher of the write res of a record of
// kind: created (opened), or which of state and approval changed.
func (s *Service) emit(actor store.Actor, kind string, res store.UpsertResult, created bool) {
	if s.publish == nil || res.Node.ID == "" {
		return
	}
	e := Event{ID: uuid.NewString(), At: res.Node.UpdatedAt, Actor: actor.Name, Record: res.Node, Changes: res.Changes}
	if created {
		e.Type = kind + ".created"
		s.publish(e)
		return
	}
	for _, c := range res.Changes {
		switch c.Field {
		case "state":
			e.Type = kind + ".state_changed"
			s.publish(e)
			e.ID = uuid.NewString()
		case "approval":
			e.Type = kind + ".approval_changed"
			s.publish(e)
			e.ID = uuid.NewString()
		}
	}
}
