package itsm

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestIncidentTransitions walks every action from every state: allowed
// ones give the documented state and attributes, others a conflict naming
// the actions that are allowed.
func TestIncidentTransitions(t *testing.T) {
	w := IncidentWorkflow(DefaultReopenWindow)
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	resolvedAt := at.Add(-time.Hour)
	allowed := map[string]map[string]string{ // state -> action -> new state
		StateNew:        {ActionStart: StateInProgress, ActionHold: StateOnHold, ActionResolve: StateResolved, ActionCancel: StateCanceled},
		StateInProgress: {ActionHold: StateOnHold, ActionResolve: StateResolved, ActionCancel: StateCanceled},
		StateOnHold:     {ActionResume: StateInProgress, ActionResolve: StateResolved, ActionCancel: StateCanceled},
		StateResolved:   {ActionClose: StateClosed, ActionReopen: StateInProgress},
		StateClosed:     {},
		StateCanceled:   {},
	}
	inputs := map[string]store.Attributes{
		ActionHold:    {"on_hold_reason": "awaiting_caller"},
		ActionResolve: {"resolution_code": "solved_permanently", "resolution_notes": "restarted the pool"},
		ActionReopen:  {"reopen_reason": "back again"},
		ActionCancel:  {"close_notes": "raised twice"},
	}
	for _, st := range w.States {
		for _, action := range w.Actions() {
			t.Run(st.Name+"/"+action, func(t *testing.T) {
				stored := store.Attributes{"state": st.Name, "resolved_at": resolvedAt, "on_hold_reason": "awaiting_vendor", "reopen_count": int64(1)}
				out, err := w.Apply(action, Record{Attributes: stored, Input: inputs[action], At: at})
				want, ok := allowed[st.Name][action]
				if !ok {
					var te *TransitionError
					require.ErrorAs(t, err, &te)
					assert.ErrorIs(t, err, store.ErrConflict)
					assert.Empty(t, te.Guard)
					assert.Equal(t, st.Name, te.State)
					assert.Equal(t, w.Allowed(st.Name), te.Allowed)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, want, out["state"])
				switch action {
				case ActionResolve:
					assert.Equal(t, at, out["resolved_at"])
					assert.Equal(t, "solved_permanently", out["resolution_code"])
					assert.Nil(t, out["on_hold_reason"])
				case ActionHold:
					assert.Equal(t, "awaiting_caller", out["on_hold_reason"])
				case ActionReopen:
					assert.Equal(t, int64(2), out["reopen_count"])
					assert.Contains(t, out, "resolved_at")
					assert.Nil(t, out["resolved_at"])
				case ActionClose, ActionCancel:
					assert.Equal(t, at, out["closed_at"])
				}
			})
		}
	}
	assert.Equal(t, []string{"cancel", "hold", "resolve", "start"}, w.Allowed(StateNew))
}

// TestIncidentGuards: each guard refuses with its name and the input it
// is about; the reopen window is measured from the resolution.
func TestIncidentGuards(t *testing.T) {
	w := IncidentWorkflow(24 * time.Hour)
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name, state, action string
		input               store.Attributes
		stored              store.Attributes
		guard, field        string
	}{
		{"resolve without code", StateInProgress, ActionResolve, store.Attributes{"resolution_notes": "done"}, nil, "resolution_code_given", "attributes.resolution_code"},
		{"resolve without notes", StateInProgress, ActionResolve, store.Attributes{"resolution_code": "duplicate"}, nil, "resolution_notes_given", "attributes.resolution_notes"},
		{"resolve with empty notes", StateNew, ActionResolve, store.Attributes{"resolution_code": "duplicate", "resolution_notes": ""}, nil, "resolution_notes_given", "attributes.resolution_notes"},
		{"hold without reason", StateInProgress, ActionHold, nil, nil, "on_hold_reason_given", "attributes.on_hold_reason"},
		{"reopen without reason", StateResolved, ActionReopen, nil, store.Attributes{"resolved_at": at.Add(-time.Hour)}, "reopen_reason_given", "attributes.reopen_reason"},
		{"reopen too late", StateResolved, ActionReopen, store.Attributes{"reopen_reason": "again"}, store.Attributes{"resolved_at": at.Add(-25 * time.Hour)}, "within_reopen_window", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stored := store.Attributes{"state": tt.state}
			for k, v := range tt.stored {
				stored[k] = v
			}
			_, err := w.Apply(tt.action, Record{Attributes: stored, Input: tt.input, At: at})
			var te *TransitionError
			require.ErrorAs(t, err, &te)
			assert.Equal(t, tt.guard, te.Guard)
			assert.False(t, errors.Is(err, store.ErrConflict), "a failed guard is an invalid input, not a conflict")
			var ie *store.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.field, ie.Field)
			assert.Contains(t, err.Error(), tt.guard)
		})
	}
	_, err := w.Apply(ActionReopen, Record{Attributes: store.Attributes{"state": StateResolved, "resolved_at": at.Add(-23 * time.Hour)}, Input: store.Attributes{"reopen_reason": "again"}, At: at})
	assert.NoError(t, err, "within the window")
}

// TestCheckInputs: an action takes only its own inputs; an unknown action
// names the actions.
func TestCheckInputs(t *testing.T) {
	w := IncidentWorkflow(DefaultReopenWindow)
	assert.NoError(t, w.checkInputs(ActionResolve, map[string]any{"resolution_code": "x", "resolution_notes": "y"}))
	err := w.checkInputs(ActionStart, map[string]any{"state": "closed"})
	f, _ := store.FieldOf(err)
	assert.Equal(t, "attributes.state", f)
	assert.ErrorContains(t, err, "takes nothing")
	err = w.checkInputs("explode", nil)
	f, _ = store.FieldOf(err)
	assert.Equal(t, "action", f)
	assert.ErrorContains(t, err, "start, hold, resume, resolve, close, reopen, cancel")
}

// TestPriorityMatrix: the default matrix, and the checks of a configured
// one.
func TestPriorityMatrix(t *testing.T) {
	for _, tt := range []struct{ impact, urgency, want int64 }{
		{1, 1, 1}, {1, 2, 2}, {1, 3, 3}, {2, 1, 2}, {2, 2, 3}, {2, 3, 4}, {3, 1, 3}, {3, 2, 4}, {3, 3, 5},
	} {
		p, err := DefaultMatrix.Priority(tt.impact, tt.urgency)
		require.NoError(t, err)
		assert.Equal(t, tt.want, p, "impact %d urgency %d", tt.impact, tt.urgency)
	}
	for _, bad := range [][2]int64{{0, 1}, {1, 4}, {-1, 2}} {
		_, err := DefaultMatrix.Priority(bad[0], bad[1])
		assert.Error(t, err, "%v", bad)
	}
	assert.NoError(t, DefaultMatrix.Check())
	assert.NoError(t, Matrix{{1, 1, 2}, {1, 2, 3}, {2, 3, 4}}.Check(), "a stricter matrix")
	assert.ErrorContains(t, Matrix{{1, 2, 3}, {2, 3, 4}, {3, 4, 6}}.Check(), "not a priority")
	assert.ErrorContains(t, Matrix{{3, 2, 3}, {2, 3, 4}, {3, 4, 5}}.Check(), "higher than")
	assert.Equal(t, "INC0010001", FormatNumber("INC", 1))
	assert.Equal(t, "CHG0012345", FormatNumber("CHG", 2345))
}
