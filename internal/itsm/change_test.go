package itsm

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func TestParseRule(t *testing.T) {
	for in, want := range map[string]Rule{"all": {Kind: "all"}, "any": {Kind: "any"}, "quorum:2": {Kind: "quorum", N: 2}} {
		r, err := ParseRule(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, r, in)
	}
	for _, bad := range []string{"", "most", "quorum:0", "quorum:51", "quorum:x", "quorum:2x", "ALL"} {
		_, err := ParseRule(bad)
		assert.Error(t, err, bad)
	}
}

// TestRuleOutcome: how decisions combine under each rule.
func TestRuleOutcome(t *testing.T) {
	mk := func(states ...string) []Approval {
		out := make([]Approval, len(states))
		for i, s := range states {
			out[i] = Approval{State: s}
		}
		return out
	}
	const req, ok, no = ApprovalRequested, ApprovalApproved, ApprovalRejected
	for _, tt := range []struct {
		rule  Rule
		given []string
		want  string
	}{
		{Rule{Kind: "all"}, []string{req, req}, req},
		{Rule{Kind: "all"}, []string{ok, req}, req},
		{Rule{Kind: "all"}, []string{ok, ok}, ok},
		{Rule{Kind: "all"}, []string{ok, no}, no},
		{Rule{Kind: "all"}, []string{no, req}, no},
		{Rule{Kind: "any"}, []string{req, ok}, ok},
		{Rule{Kind: "any"}, []string{no, req}, req},
		{Rule{Kind: "any"}, []string{no, no}, no},
		{Rule{Kind: "quorum", N: 2}, []string{ok, req, req}, req},
		{Rule{Kind: "quorum", N: 2}, []string{ok, ok, req}, ok},
		{Rule{Kind: "quorum", N: 2}, []string{no, req, req}, req},
		{Rule{Kind: "quorum", N: 2}, []string{no, no, req}, no},
		{Rule{Kind: "quorum", N: 5}, []string{ok, ok}, ok},
	} {
		assert.Equal(t, tt.want, tt.rule.outcome(mk(tt.given...)), "%v %v", tt.rule, tt.given)
	}
}

// TestDecide: an approver decides once; others are refused; the outcome
// follows the rule; a change not awaiting approvals refuses decisions.
func TestDecide(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	change := store.Attributes{"number": "CHG0010001", "state": ChangeAuthorize, "approvals": encodeApprovals([]Approval{
		{Approver: "p1", UserName: "alice", State: ApprovalRequested},
		{Approver: "p2", UserName: "bob", State: ApprovalRequested},
	})}
	out, err := decide(change, "ALICE", ApprovalApproved, "fine", at, Rule{Kind: "all"})
	require.NoError(t, err)
	assert.Equal(t, ApprovalRequested, out["approval"], "bob has not decided")
	change = overlay(change, out)
	as := decodeApprovals(change)
	assert.Equal(t, ApprovalApproved, as[0].State)
	assert.Equal(t, "fine", as[0].Comment)
	assert.Equal(t, at, *as[0].DecidedAt)

	_, err = decide(change, "alice", ApprovalRejected, "", at, Rule{Kind: "all"})
	var de *DecisionError
	require.ErrorAs(t, err, &de)
	assert.ErrorIs(t, err, store.ErrConflict, "deciding twice")
	assert.ErrorContains(t, err, "already approved")

	_, err = decide(change, "mallory", ApprovalApproved, "", at, Rule{Kind: "all"})
	require.ErrorAs(t, err, &de)
	assert.True(t, de.NotApprover())
	assert.NotErrorIs(t, err, store.ErrConflict)
	assert.ErrorContains(t, err, "alice, bob")

	out, err = decide(change, "bob", ApprovalApproved, "", at, Rule{Kind: "all"})
	require.NoError(t, err)
	assert.Equal(t, ApprovalApproved, out["approval"])

	_, err = decide(overlay(change, store.Attributes{"state": ChangeScheduled}), "bob", ApprovalApproved, "", at, Rule{Kind: "all"})
	assert.ErrorIs(t, err, store.ErrConflict, "not awaiting approvals")
}

// TestChangeTransitions: the paths of each type and the guards that stop
// them.
func TestChangeTransitions(t *testing.T) {
	w := ChangeWorkflow()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	window := store.Attributes{"planned_start_at": at.Add(24 * time.Hour), "planned_end_at": at.Add(26 * time.Hour)}
	approvers := Facts{Approvers: []Approval{{UserName: "alice", State: ApprovalRequested}}}
	for _, tt := range []struct {
		name   string
		stored store.Attributes
		action string
		input  store.Attributes
		facts  Facts
		state  string // the state reached, or "" when refused
		guard  string // the guard that refused ("" for the state)
	}{
		{"a normal change is assessed", store.Attributes{"state": ChangeNew, "type": ChangeNormal}, ActionAssess, nil, Facts{}, ChangeAssess, ""},
		{"a standard change is not", store.Attributes{"state": ChangeNew, "type": ChangeStandard}, ActionAssess, nil, Facts{}, "", "not_standard"},
		{"a normal change goes to the CAB once assessed", overlay(window, store.Attributes{"state": ChangeAssess, "type": ChangeNormal}), ActionRequestApproval, nil, approvers, ChangeAuthorize, ""},
		{"not before", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeNormal}), ActionRequestApproval, nil, approvers, "", "assessed_or_emergency"},
		{"an emergency change goes straight to the CAB", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeEmergency}), ActionRequestApproval, nil, approvers, ChangeAuthorize, ""},
		{"approval needs a window", store.Attributes{"state": ChangeAssess, "type": ChangeNormal}, ActionRequestApproval, nil, approvers, "", "window_planned"},
		{"approval needs approvers", overlay(window, store.Attributes{"state": ChangeAssess, "type": ChangeNormal}), ActionRequestApproval, nil, Facts{}, "", "approvers_found"},
		{"scheduling without approvals", overlay(window, store.Attributes{"state": ChangeAuthorize, "type": ChangeNormal, "approval": ApprovalRequested}), ActionSchedule, nil, Facts{}, "", "approved"},
		{"scheduling once approved", overlay(window, store.Attributes{"state": ChangeAuthorize, "type": ChangeNormal, "approval": ApprovalApproved}), ActionSchedule, nil, Facts{}, ChangeScheduled, ""},
		{"a standard change is scheduled from new", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeStandard}), ActionSchedule, nil, Facts{}, ChangeScheduled, ""},
		{"a normal one is not", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeNormal}), ActionSchedule, nil, Facts{}, "", "approved"},
		{"scheduling into a conflict", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeStandard}), ActionSchedule, nil,
			Facts{Conflicts: []Conflict{{Number: "CHG0010009"}}}, "", "no_conflicts"},
		{"an engineer's reason does not override", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeStandard}), ActionSchedule,
			store.Attributes{"conflict_override_reason": "urgent"}, Facts{Conflicts: []Conflict{{Number: "CHG0010009"}}}, "", "no_conflicts"},
		{"a change manager's reason does", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeStandard}), ActionSchedule,
			store.Attributes{"conflict_override_reason": "urgent"}, Facts{Conflicts: []Conflict{{Number: "CHG0010009"}}, MayOverride: true}, ChangeScheduled, ""},
		{"nor without a reason", overlay(window, store.Attributes{"state": ChangeNew, "type": ChangeStandard}), ActionSchedule,
			nil, Facts{Conflicts: []Conflict{{Number: "CHG0010009"}}, MayOverride: true}, "", "no_conflicts"},
		{"closing needs a close code", store.Attributes{"state": ChangeReview}, ActionCloseChange, nil, Facts{}, "", "close_code_given"},
		{"closing", store.Attributes{"state": ChangeReview}, ActionCloseChange, store.Attributes{"close_code": "successful"}, Facts{}, ChangeClosed, ""},
		{"no cancel once implementing", store.Attributes{"state": ChangeImplement}, ActionCancelChange, nil, Facts{}, "", ""},
		{"no implementing before scheduling", store.Attributes{"state": ChangeAuthorize}, ActionImplement, nil, Facts{}, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := w.Apply(tt.action, Record{Attributes: tt.stored, Input: tt.input, At: at, Facts: tt.facts})
			if tt.state != "" {
				require.NoError(t, err)
				assert.Equal(t, tt.state, out["state"])
				return
			}
			var te *TransitionError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.guard, te.Guard, te.Error())
		})
	}
	out, err := w.Apply(ActionRequestApproval, Record{Attributes: overlay(window, store.Attributes{"state": ChangeAssess, "type": ChangeNormal}), At: at, Facts: approvers})
	require.NoError(t, err)
	assert.Equal(t, ApprovalRequested, out["approval"])
	assert.Len(t, decodeApprovals(out), 1)
}
