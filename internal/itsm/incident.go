package itsm

import (
	"fmt"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// KindIncident is the model kind of incidents (class Incident).
const KindIncident = "incident"

// Incident states, as stored.
const (
	StateNew        = "new"
	StateInProgress = "in_progress"
	StateOnHold     = "on_hold"
	StateResolved   = "resolved"
	StateClosed     = "closed"
	StateCanceled   = "canceled"
)

// Incident actions.
const (
	ActionStart   = "start"
	ActionHold    = "hold"
	ActionResume  = "resume"
	ActionResolve = "resolve"
	ActionClose   = "close"
	ActionReopen  = "reopen"
	ActionCancel  = "cancel"
)

// DefaultReopenWindow is how long after it was resolved an incident may
// be reopened (ServiceNow's default auto-close is 7 days).
const DefaultReopenWindow = 7 * 24 * time.Hour

// IncidentWorkflow returns the incident workflow: New -> In Progress <->
// On Hold -> Resolved -> Closed, Canceled from any open state, and a
// resolved incident reopened within reopenWindow of its resolution.
func IncidentWorkflow(reopenWindow time.Duration) *Workflow {
	open := []string{StateNew, StateInProgress, StateOnHold}
	return &Workflow{
		Kind:    KindIncident,
		Initial: StateNew,
		States: []State{
			{StateNew, 1, "New"},
			{StateInProgress, 2, "In Progress"},
			{StateOnHold, 3, "On Hold"},
			{StateResolved, 6, "Resolved"},
			{StateClosed, 7, "Closed"},
			{StateCanceled, 8, "Canceled"},
		},
		Transitions: []Transition{
			{Action: ActionStart, From: []string{StateNew}, To: StateInProgress},
			{Action: ActionHold, From: []string{StateNew, StateInProgress}, To: StateOnHold,
				Inputs: []string{"on_hold_reason"},
				Guards: []Guard{required("on_hold_reason", "a reason for holding (on_hold_reason)")},
				Set:    func(r Record) store.Attributes { return store.Attributes{"on_hold_reason": r.Input["on_hold_reason"]} }},
			{Action: ActionResume, From: []string{StateOnHold}, To: StateInProgress,
				Set: func(Record) store.Attributes { return store.Attributes{"on_hold_reason": nil} }},
			{Action: ActionResolve, From: open, To: StateResolved,
				Inputs: []string{"resolution_code", "resolution_notes"},
				Guards: []Guard{
					required("resolution_code", "a resolution code"),
					required("resolution_notes", "resolution notes"),
				},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"resolution_code": r.Input["resolution_code"], "resolution_notes": r.Input["resolution_notes"],
						"resolved_at": r.At, "on_hold_reason": nil}
				}},
			{Action: ActionClose, From: []string{StateResolved}, To: StateClosed,
				Set: func(r Record) store.Attributes { return store.Attributes{"closed_at": r.At} }},
			{Action: ActionReopen, From: []string{StateResolved}, To: StateInProgress,
				Inputs: []string{"reopen_reason"},
				Guards: []Guard{
					required("reopen_reason", "a reason for reopening (reopen_reason)"),
					{Name: "within_reopen_window", Check: func(r Record) error {
						at, ok := r.Attributes["resolved_at"].(time.Time)
						if ok && r.At.Sub(at) > reopenWindow {
							return fmt.Errorf("resolved at %s, more than %s ago; open a new incident", at.Format(time.RFC3339), reopenWindow)
						}
						return nil
					}},
				},
				Set: func(r Record) store.Attributes {
					n, _ := r.Attributes["reopen_count"].(int64)
					return store.Attributes{"reopen_count": n + 1, "reopen_reason": r.Input["reopen_reason"], "resolved_at": nil,
						"resolution_code": nil, "resolution_notes": nil}
				}},
			{Action: ActionCancel, From: open, To: StateCanceled,
				Inputs: []string{"close_notes"},
				Set: func(r Record) store.Attributes {
					out := store.Attributes{"closed_at": r.At, "on_hold_reason": nil}
					if v, ok := r.Input["close_notes"]; ok {
						out["close_notes"] = v
					}
					return out
				}},
		},
	}
}

// incidentEditable are the attributes createIncident and updateIncident
// take; the others belong to the workflow (state, times, resolution) or
// are derived (number, priority).
var incidentEditable = []string{"short_description", "description", "impact", "urgency", "category", "subcategory"}
