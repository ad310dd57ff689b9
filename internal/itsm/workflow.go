package itsm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// State is one state of a workflow.
type State struct {
	// Name is the value stored in the record's state attribute.
	Name string
	// Code is ServiceNow's stored code of the state (incident 1..8).
	Code int
	// Label is the name people read (In Progress).
	Label string
}

// Guard is a named condition a transition needs. Check returns nil when
// it holds, else the reason it does not (a sentence for the client).
type Guard struct {
	Name  string
	Field string // the input field the condition is about, if any
	// Conflict makes the guard's refusal a conflict with other records (a
	// change's window colliding with another's) rather than an invalid
	// input.
	Conflict bool
	Check    func(r Record) error
}

// Record is what a transition and its guards see: the stored attributes,
// the action's input and the time of the write, and Facts the service
// gathered before the write (a change's approvers, its conflicts).
type Record struct {
	Attributes store.Attributes
	Input      store.Attributes
	At         time.Time
	Facts      Facts
}

// Facts are what a service found out before an action's write, for its
// guards: they are read outside the write transaction.
type Facts struct {
	// Approvers are the people who must decide on a change.
	Approvers []Approval
	// Conflicts are what a change's window collides with.
	Conflicts []Conflict
	// MayOverride says the caller may schedule past conflicts.
	MayOverride bool
	// Snapshot is a change's impact snapshot and computed risk, taken when
	// it is assessed.
	Snapshot *Snapshot
	// Parent is the stored attributes of a task's change or problem.
	Parent store.Attributes
	// OpenTasks are the numbers of a change's or problem's tasks still
	// open.
	OpenTasks []string
	// CIs are the CIs a change affects, when it is closed.
	CIs []store.ID
}

// Transition is one action of a workflow: from any of From to To, if
// every guard holds; Set adds the attributes the action writes besides
// the state (times, counters, cleared fields).
type Transition struct {
	Action string
	From   []string
	To     string
	// Inputs are the attributes the action takes from its caller (a
	// resolution code); any other is refused.
	Inputs []string
	Guards []Guard
	Set    func(r Record) store.Attributes
}

// Workflow is the states and transitions of one kind of record.
type Workflow struct {
	Kind        string
	States      []State
	Initial     string
	Transitions []Transition
}

// TransitionError is an action refused: not allowed from the record's
// state (Guard empty), or a guard that does not hold. It wraps
// store.ErrConflict when the state refuses it (someone may have moved the
// record meanwhile), and is an invalid input otherwise.
type TransitionError struct {
	Kind   string
	Action string
	// State is the record's state when the action was refused.
	State string
	// Allowed are the actions allowed from State, sorted.
	Allowed []string
	// Guard names the guard that failed ("" when the state refused).
	Guard string
	// Field is the input the failed guard is about ("" if none).
	Field  string
	Reason string
	// Conflict says the failed guard found a conflict with other records.
	Conflict bool
}

func (e *TransitionError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	if e.Guard == "" {
		return fmt.Sprintf("%s cannot %s from state %s; allowed actions: %s", e.Kind, e.Action, e.State, allowed)
	}
	return fmt.Sprintf("%s cannot %s: guard %s failed: %s", e.Kind, e.Action, e.Guard, e.Reason)
}

// Unwrap makes a refusal by state, or by a conflict guard, a conflict,
// and another failed guard an invalid input (naming its field).
func (e *TransitionError) Unwrap() error {
	if e.Guard == "" || e.Conflict {
		return store.ErrConflict
	}
	return &store.InvalidError{Field: e.Field, Reason: e.Error()}
}

// State returns the state named name.
func (w *Workflow) State(name string) (State, bool) {
	for _, s := range w.States {
		if s.Name == name {
			return s, true
		}
	}
	return State{}, false
}

// Actions returns every action of the workflow, in definition order,
// each once.
func (w *Workflow) Actions() []string {
	var out []string
	for _, t := range w.Transitions {
		if !slices.Contains(out, t.Action) {
			out = append(out, t.Action)
		}
	}
	return out
}

// Allowed returns the actions allowed from state, sorted.
func (w *Workflow) Allowed(state string) []string {
	var out []string
	for _, t := range w.Transitions {
		if slices.Contains(t.From, state) && !slices.Contains(out, t.Action) {
			out = append(out, t.Action)
		}
	}
	slices.Sort(out)
	return out
}

// transition returns the transition of action from state.
func (w *Workflow) transition(action, state string) (Transition, bool) {
	for _, t := range w.Transitions {
		if t.Action == action && slices.Contains(t.From, state) {
			return t, true
		}
	}
	return Transition{}, false
}

// Apply runs action on a record whose stored attributes are r.Attributes:
// it returns the attributes to write (the new state and what the
// transition sets), or a *TransitionError. It is pure.
func (w *Workflow) Apply(action string, r Record) (store.Attributes, error) {
	state, _ := r.Attributes["state"].(string)
	if state == "" {
		state = w.Initial
	}
	t, ok := w.transition(action, state)
	if !ok {
		return nil, &TransitionError{Kind: w.Kind, Action: action, State: state, Allowed: w.Allowed(state)}
	}
	for _, g := range t.Guards {
		if err := g.Check(r); err != nil {
			return nil, &TransitionError{Kind: w.Kind, Action: action, State: state, Allowed: w.Allowed(state),
				Guard: g.Name, Field: g.Field, Reason: err.Error(), Conflict: g.Conflict}
		}
	}
	out := store.Attributes{"state": t.To}
	if t.Set != nil {
		for k, v := range t.Set(r) {
			out[k] = v
		}
	}
	return out, nil
}

// checkInputs refuses input attributes action does not take, naming the
// first (sorted) with the ones it takes.
func (w *Workflow) checkInputs(action string, input map[string]any) error {
	var takes []string
	known := false
	for _, t := range w.Transitions {
		if t.Action == action {
			known = true
			for _, in := range t.Inputs {
				if !slices.Contains(takes, in) {
					takes = append(takes, in)
				}
			}
		}
	}
	if !known {
		return store.Invalid("action", "%q is not an action of %s; allowed: %s", action, w.Kind, strings.Join(w.Actions(), ", "))
	}
	names := make([]string, 0, len(input))
	for k := range input {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(takes, k) {
			allowed := "nothing"
			if len(takes) > 0 {
				allowed = strings.Join(takes, ", ")
			}
			return store.Invalid("attributes."+k, "%s %s takes %s", w.Kind, action, allowed)
		}
	}
	return nil
}

// required is a guard that input attribute name is given.
func required(name, what string) Guard {
	return Guard{Name: name + "_given", Field: "attributes." + name, Check: func(r Record) error {
		if v, ok := r.Input[name]; !ok || v == nil || v == "" {
			return fmt.Errorf("%s is required", what)
		}
		return nil
	}}
}
