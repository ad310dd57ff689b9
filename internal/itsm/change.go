package itsm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// KindChange is the model kind of changes (class Change).
const KindChange = "change"

// Change types.
const (
	ChangeStandard  = "standard"
	ChangeNormal    = "normal"
	ChangeEmergency = "emergency"
)

// Change states, as stored.
const (
	ChangeNew       = "new"
	ChangeAssess    = "assess"
	ChangeAuthorize = "authorize"
	ChangeScheduled = "scheduled"
	ChangeImplement = "implement"
	ChangeReview    = "review"
	ChangeClosed    = "closed"
	ChangeCanceled  = "canceled"
)

// Change actions. Approving and rejecting are decisions of approvers
// (Service.DecideChange), not transitions: the change stays in authorize.
const (
	ActionAssess          = "assess"
	ActionRequestApproval = "request_approval"
	ActionRevise          = "revise"
	ActionSchedule        = "schedule"
	ActionImplement       = "implement"
	ActionReview          = "review"
	ActionCloseChange     = "close"
	ActionCancelChange    = "cancel"
)

// Approval outcomes of a change (its approval attribute) and decisions of
// one approver.
const (
	ApprovalNotRequested = "not_requested"
	ApprovalRequested    = "requested"
	ApprovalApproved     = "approved"
	ApprovalRejected     = "rejected"
)

// Approval is one approver of a change and their decision.
type Approval struct {
	// Approver is the person's node ID.
	Approver store.ID `json:"approver"`
	// UserName is the person's user name, which the token of the person
	// deciding must bear.
	UserName string `json:"user_name"`
	// Why the person is an approver: "cab" (member of the CAB group) or
	// "owner" (owner of an affected CI) for a change; "manager" (of the
	// person it is for) or "group" (member of the approval group) for a
	// requested item.
	Why       string     `json:"why"`
	State     string     `json:"state"`
	Comment   string     `json:"comment,omitempty"`
	DecidedAt *time.Time `json:"decided_at,omitempty"`
}

// Conflict is something a change's planned window collides with.
type Conflict struct {
	// Kind is "change" (another change overlapping on shared CIs),
	// "impact" (another change overlapping on CIs related through
	// impact), "major_incident" (an open priority-1 incident on a shared
	// CI), "blackout" (a blackout window it overlaps) or
	// "outside_maintenance_window" (a maintenance window of its CIs it is
	// not inside).
	Kind string
	// Record is the other record, or the window.
	Record store.ID
	// Number is the other record's number, or the window's name.
	Number string
	// Start and End are the other change's window, the blackout's
	// occurrence it overlaps, or the maintenance window's next occurrence
	// (zero for an incident).
	Start, End time.Time
	// CIs are the CIs both concern: the shared CIs, the other change's
	// CIs related through impact, or the change's CIs the window applies
	// to.
	CIs []store.ID
}

// Rule is how a change type's approvals combine: all approvers must
// approve (all), one is enough (any), or at least N (quorum).
type Rule struct {
	Kind string // all, any, quorum
	N    int
}

// ParseRule reads a rule: "all", "any" or "quorum:N".
func ParseRule(s string) (Rule, error) {
	switch {
	case s == "all" || s == "any":
		return Rule{Kind: s}, nil
	case strings.HasPrefix(s, "quorum:"):
		var n int
		if _, err := fmt.Sscanf(s, "quorum:%d", &n); err == nil && n >= 1 && n <= MaxApprovers && fmt.Sprintf("quorum:%d", n) == s {
			return Rule{Kind: "quorum", N: n}, nil
		}
	}
	return Rule{}, fmt.Errorf("must be all, any or quorum:N (N from 1 to %d), got %q", MaxApprovers, s)
}

// MaxApprovers bounds the approvers of one change.
const MaxApprovers = 50

// outcome is the approval outcome of approvals under rule r.
func (r Rule) outcome(approvals []Approval) string {
	approved, rejected := 0, 0
	for _, a := range approvals {
		switch a.State {
		case ApprovalApproved:
			approved++
		case ApprovalRejected:
			rejected++
		}
	}
	need := len(approvals) // all
	switch r.Kind {
	case "any":
		need = 1
	case "quorum":
		need = min(r.N, len(approvals))
	}
	switch {
	case approved >= need && need > 0:
		return ApprovalApproved
	case rejected > len(approvals)-need:
		return ApprovalRejected
	}
	return ApprovalRequested
}

// decodeApprovals reads a change's approvals attribute.
func decodeApprovals(a store.Attributes) []Approval {
	s, _ := a["approvals"].(string)
	var out []Approval
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out) // written by this package only
	}
	return out
}

func encodeApprovals(as []Approval) string {
	b, _ := json.Marshal(as)
	return string(b)
}

// windowPlanned is the guard that a change has a planned window.
var windowPlanned = Guard{Name: "window_planned", Field: "attributes.planned_start_at", Check: func(r Record) error {
	start, ok1 := r.Attributes["planned_start_at"].(time.Time)
	end, ok2 := r.Attributes["planned_end_at"].(time.Time)
	if !ok1 || !ok2 || !start.Before(end) {
		return fmt.Errorf("a planned window is required (plannedStartAt before plannedEndAt)")
	}
	return nil
}}

// notStandard refuses an action a standard change skips.
var notStandard = Guard{Name: "not_standard", Check: func(r Record) error {
	if r.Attributes["type"] == ChangeStandard {
		return fmt.Errorf("a standard change is pre-approved: schedule it")
	}
	return nil
}}

// ChangeWorkflow returns the change workflow: New -> Assess -> Authorize
// -> Scheduled -> Implement -> Review -> Closed, Canceled before it is
// implemented; a standard change goes from New to Scheduled, an emergency
// change from New to Authorize.
func ChangeWorkflow() *Workflow {
	return &Workflow{
		Kind:    KindChange,
		Initial: ChangeNew,
		States: []State{
			{ChangeNew, -5, "New"}, {ChangeAssess, -4, "Assess"}, {ChangeAuthorize, -3, "Authorize"},
			{ChangeScheduled, -2, "Scheduled"}, {ChangeImplement, -1, "Implement"}, {ChangeReview, 0, "Review"},
			{ChangeClosed, 3, "Closed"}, {ChangeCanceled, 4, "Canceled"},
		},
		Transitions: []Transition{
			{Action: ActionAssess, From: []string{ChangeNew}, To: ChangeAssess, Guards: []Guard{notStandard}, Set: snapshotAttributes},
			{Action: ActionRequestApproval, From: []string{ChangeNew, ChangeAssess}, To: ChangeAuthorize,
				Guards: []Guard{notStandard,
					{Name: "assessed_or_emergency", Check: func(r Record) error {
						if r.Attributes["state"] == ChangeNew && r.Attributes["type"] != ChangeEmergency {
							return fmt.Errorf("a normal change is assessed before it goes to the CAB")
						}
						return nil
					}},
					windowPlanned,
					{Name: "approvers_found", Check: func(r Record) error {
						if len(r.Facts.Approvers) == 0 {
							return fmt.Errorf("nobody can approve it: the CAB group has no active members and no affected CI has a person as owner")
						}
						return nil
					}}},
				Set: func(r Record) store.Attributes {
					out := store.Attributes{"approval": ApprovalRequested, "approvals": encodeApprovals(r.Facts.Approvers)}
					for k, v := range snapshotAttributes(r) { // an emergency change skips assess
						out[k] = v
					}
					return out
				}},
			{Action: ActionRevise, From: []string{ChangeAuthorize}, To: ChangeAssess,
				Set: func(Record) store.Attributes {
					return store.Attributes{"approval": ApprovalNotRequested, "approvals": nil}
				}},
			{Action: ActionSchedule, From: []string{ChangeNew, ChangeAuthorize}, To: ChangeScheduled,
				Inputs: []string{"conflict_override_reason"},
				Guards: []Guard{
					{Name: "approved", Check: func(r Record) error {
						switch {
						case r.Attributes["state"] == ChangeNew && r.Attributes["type"] != ChangeStandard:
							return fmt.Errorf("only a standard change is scheduled without approval; request approval")
						case r.Attributes["state"] == ChangeAuthorize && r.Attributes["approval"] != ApprovalApproved:
							return fmt.Errorf("its approval is %v: every approval its rule needs must be given", r.Attributes["approval"])
						}
						return nil
					}},
					windowPlanned,
					{Name: "no_conflicts", Field: "attributes.conflict_override_reason", Conflict: true, Check: func(r Record) error {
						if len(r.Facts.Conflicts) == 0 {
							return nil
						}
						reason, _ := r.Input["conflict_override_reason"].(string)
						if r.Facts.MayOverride && strings.TrimSpace(reason) != "" {
							return nil
						}
						var names []string
						for _, c := range r.Facts.Conflicts {
							names = append(names, describeConflict(c))
						}
						if len(names) > 5 {
							names = append(names[:5], fmt.Sprintf("and %d more", len(names)-5))
						}
						return fmt.Errorf("its window conflicts with %s; a change manager may schedule it anyway with a reason", strings.Join(names, ", "))
					}},
				},
				Set: func(r Record) store.Attributes {
					if len(r.Facts.Conflicts) > 0 {
						return store.Attributes{"conflict_override_reason": r.Input["conflict_override_reason"]}
					}
					return nil
				}},
			{Action: ActionImplement, From: []string{ChangeScheduled}, To: ChangeImplement,
				Set: func(r Record) store.Attributes { return store.Attributes{"implemented_at": r.At} }},
			{Action: ActionReview, From: []string{ChangeImplement}, To: ChangeReview,
				Guards: []Guard{tasksClosed("the change is reviewed")},
				Set:    func(r Record) store.Attributes { return store.Attributes{"implementation_ended_at": r.At} }},
			{Action: ActionCloseChange, From: []string{ChangeReview}, To: ChangeClosed,
				Inputs: []string{"close_code", "close_notes", attrCICloseCodes},
				Guards: []Guard{required("close_code", "a close code"), ciCloseCodesValid},
				Set: func(r Record) store.Attributes {
					out := store.Attributes{"close_code": r.Input["close_code"], "close_notes": r.Input["close_notes"], "closed_at": r.At}
					if v, ok := r.Input[attrCICloseCodes]; ok && v != "" {
						out[attrCICloseCodes] = v
					}
					return out
				}},
			{Action: ActionCancelChange, From: []string{ChangeNew, ChangeAssess, ChangeAuthorize, ChangeScheduled}, To: ChangeCanceled,
				Inputs: []string{"close_notes"},
				Set: func(r Record) store.Attributes {
					out := store.Attributes{"closed_at": r.At}
					if v, ok := r.Input["close_notes"]; ok {
						out["close_notes"] = v
					}
					return out
				}},
		},
	}
}

// DecisionError is an approver's decision refused: the record (a change,
// a requested item) is not awaiting approvals, the caller is not one of
// its approvers, or has decided already.
type DecisionError struct {
	// Change is the record's number.
	Change string
	// What is the record's kind as people read it ("change" when empty).
	What     string
	Reason   string
	conflict bool
}

func (e *DecisionError) Error() string {
	what := e.What
	if what == "" {
		what = "change"
	}
	return fmt.Sprintf("%s %s: %s", what, e.Change, e.Reason)
}

// Unwrap makes a decision already taken, or a record not awaiting
// approvals, a conflict.
func (e *DecisionError) Unwrap() error {
	if e.conflict {
		return store.ErrConflict
	}
	return nil
}

// NotApprover reports whether the decision was refused because the
// caller is not an approver of the record.
func (e *DecisionError) NotApprover() bool { return !e.conflict }

// decide applies one approver's decision (approved or rejected) to the
// change stored as a, under rule: the attributes to write, or a
// *DecisionError. It is pure.
func decide(a store.Attributes, userName, decision, comment string, at time.Time, rule Rule) (store.Attributes, error) {
	return decideOn(a, ChangeAuthorize, "change", userName, decision, comment, at, rule.outcome)
}

// decideOn applies one approver's decision to the record stored as a (of
// kind what), which awaits approvals while in state awaiting; outcome
// combines the approvals into the record's approval. It is pure.
func decideOn(a store.Attributes, awaiting, what, userName, decision, comment string, at time.Time, outcome func([]Approval) string) (store.Attributes, error) {
	number, _ := a["number"].(string)
	if a["state"] != awaiting {
		return nil, &DecisionError{Change: number, What: what, Reason: fmt.Sprintf("it is in state %v, not awaiting approvals", a["state"]), conflict: true}
	}
	approvals := decodeApprovals(a)
	i := slices.IndexFunc(approvals, func(x Approval) bool { return strings.EqualFold(x.UserName, userName) })
	if i < 0 {
		var names []string
		for _, x := range approvals {
			names = append(names, x.UserName)
		}
		return nil, &DecisionError{Change: number, What: what, Reason: fmt.Sprintf("%s is not one of its approvers (%s)", userName, strings.Join(names, ", "))}
	}
	if approvals[i].State != ApprovalRequested {
		return nil, &DecisionError{Change: number, What: what, Reason: fmt.Sprintf("%s has already %s it", userName, approvals[i].State), conflict: true}
	}
	approvals[i].State, approvals[i].Comment, approvals[i].DecidedAt = decision, comment, &at
	return store.Attributes{"approvals": encodeApprovals(approvals), "approval": outcome(approvals)}, nil
}
