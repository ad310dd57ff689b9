package itsm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Tasks: pieces of work of a change (change tasks, CTASK0010001...) or of
// a problem (problem tasks, PTASK0010001...), each a record of its own
// with a workflow, an assignee and a journal, linked to its parent by
// TASK_OF. The parent waits for them: a change is not reviewed, nor a
// problem resolved, while one of its tasks is open; canceling the parent
// cancels its open tasks.

// Task kinds and their link to their parent.
const (
	// KindChangeTask is the model kind of change tasks (class ChangeTask).
	KindChangeTask = "change_task"
	// KindProblemTask is the model kind of problem tasks (class
	// ProblemTask).
	KindProblemTask = "problem_task"
	// RelTaskOf links a task to its change or problem.
	RelTaskOf = "TASK_OF"
)

// Task states, as stored. Change tasks: open (1), in_progress (2),
// closed (3), canceled (4); problem tasks: new (151), assess (152),
// work_in_progress (154), closed (157), as ServiceNow codes them.
const (
	TaskOpen           = "open"
	TaskInProgress     = "in_progress"
	TaskNew            = "new"
	TaskAssess         = "assess"
	TaskWorkInProgress = "work_in_progress"
	TaskClosed         = "closed"
	TaskCanceled       = "canceled"
)

// Task actions.
const (
	ActionAssessTask = "assess"
	ActionStartTask  = "start"
	ActionCloseTask  = "close"
	ActionCancelTask = "cancel"
)

// taskEditable are the attributes createXTask and updateXTask take.
var taskEditable = []string{"short_description", "description", "planned_start_at", "planned_end_at"}

// taskFinal are the states in which a task is done with.
var taskFinal = []string{TaskClosed, TaskCanceled}

// taskKind is one kind of task: its workflow, number prefix and parent.
type taskKind struct {
	kind, prefix string
	parentKind   string
	// parentField names the parent's ID in the create input.
	parentField string
	// parentFinal are the parent's states in which it takes no new task.
	parentFinal []string
	workflow    *Workflow
}

// closeTransition is a task's close: a close code is required.
func closeTransition(from string) Transition {
	return Transition{Action: ActionCloseTask, From: []string{from}, To: TaskClosed,
		Inputs: []string{"close_code", "close_notes"},
		Guards: []Guard{required("close_code", "a close code")},
		Set: func(r Record) store.Attributes {
			return store.Attributes{"close_code": r.Input["close_code"], "close_notes": r.Input["close_notes"], "closed_at": r.At}
		}}
}

// started stamps the start of a task's work.
func started(r Record) store.Attributes { return store.Attributes{"started_at": r.At} }

// ChangeTaskWorkflow returns the change task workflow: Open -> In Progress
// (once its change is being implemented) -> Closed with a close code, and
// Canceled from either open state.
func ChangeTaskWorkflow() *Workflow {
	parentImplementing := Guard{Name: "change_implementing", Field: "id", Conflict: true, Check: func(r Record) error {
		if st := r.Facts.Parent["state"]; st != ChangeImplement {
			return fmt.Errorf("its change %v is in state %v: work on its tasks starts once it is implemented", r.Facts.Parent["number"], st)
		}
		return nil
	}}
	open := []string{TaskOpen, TaskInProgress}
	return &Workflow{
		Kind:    KindChangeTask,
		Initial: TaskOpen,
		States: []State{
			{TaskOpen, 1, "Open"}, {TaskInProgress, 2, "In Progress"}, {TaskClosed, 3, "Closed"}, {TaskCanceled, 4, "Canceled"},
		},
		Transitions: []Transition{
			{Action: ActionStartTask, From: []string{TaskOpen}, To: TaskInProgress, Guards: []Guard{parentImplementing}, Set: started},
			closeTransition(TaskInProgress),
			{Action: ActionCancelTask, From: open, To: TaskCanceled, Inputs: []string{"close_notes"},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"close_notes": r.Input["close_notes"], "closed_at": r.At}
				}},
		},
	}
}

// ProblemTaskWorkflow returns the problem task workflow: New -> Assess ->
// Work in Progress -> Closed with a close code, and closed as canceled
// from any open state.
func ProblemTaskWorkflow() *Workflow {
	open := []string{TaskNew, TaskAssess, TaskWorkInProgress}
	return &Workflow{
		Kind:    KindProblemTask,
		Initial: TaskNew,
		States: []State{
			{TaskNew, 151, "New"}, {TaskAssess, 152, "Assess"}, {TaskWorkInProgress, 154, "Work in Progress"}, {TaskClosed, 157, "Closed"},
		},
		Transitions: []Transition{
			{Action: ActionAssessTask, From: []string{TaskNew}, To: TaskAssess},
			{Action: ActionStartTask, From: []string{TaskNew, TaskAssess}, To: TaskWorkInProgress, Set: started},
			closeTransition(TaskWorkInProgress),
			{Action: ActionCancelTask, From: open, To: TaskClosed, Inputs: []string{"close_notes"},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"close_code": "canceled", "close_notes": r.Input["close_notes"], "closed_at": r.At}
				}},
		},
	}
}

// taskKindOf returns the task kind named kind.
func (s *Service) taskKindOf(kind string) (taskKind, error) {
	switch kind {
	case KindCatalogTask:
		return taskKind{kind: kind, prefix: "SCTASK", parentKind: KindRequestedItem, parentField: "requestedItemId",
			parentFinal: requestFinal, workflow: s.catalogTask}, nil
	case KindChangeTask:
		return taskKind{kind: kind, prefix: "CTASK", parentKind: KindChange, parentField: "changeId",
			parentFinal: []string{ChangeClosed, ChangeCanceled}, workflow: s.changeTask}, nil
	case KindProblemTask:
		return taskKind{kind: kind, prefix: "PTASK", parentKind: KindProblem, parentField: "problemId",
			parentFinal: []string{ProblemResolved, ProblemClosed}, workflow: s.problemTask}, nil
	}
	return taskKind{}, fmt.Errorf("itsm: %q is not a task kind", kind)
}

// TaskWorkflow returns the workflow tasks of kind follow (nil for a kind
// that is not a task kind).
func (s *Service) TaskWorkflow(kind string) *Workflow {
	k, err := s.taskKindOf(kind)
	if err != nil {
		return nil
	}
	return k.workflow
}

// taskOpen says whether a task's state is not final.
func taskOpen(n store.Node) bool {
	st, _ := n.Attributes["state"].(string)
	return !slices.Contains(taskFinal, st)
}

// CreateTask opens a task of kind (KindChangeTask, KindProblemTask) on
// its parent change or problem, numbered CTASK0010001... or
// PTASK0010001..., in its workflow's first state, linked to the parent
// (TASK_OF) and to its assignee, group and CIs. A parent that does not
// exist is not-found naming its input field (changeId, problemId); a
// parent that is closed, canceled (or, for a problem, resolved) takes no
// task: a CONFLICT. The caller needs create of the task's kind.
func (s *Service) CreateTask(ctx context.Context, actor store.Actor, kind string, parent store.ID, in RecordInput) (store.Node, error) {
	k, err := s.taskKindOf(kind)
	if err != nil {
		return store.Node{}, err
	}
	if err := auth.Check(ctx, auth.Kind(kind), auth.Create); err != nil {
		return store.Node{}, err
	}
	found, err := s.cmdb.Nodes(ctx, k.parentKind, []store.ID{parent})
	if err != nil {
		return store.Node{}, err
	}
	p, ok := found[parent]
	if !ok {
		return store.Node{}, store.NoNode(k.parentField, store.ObjectKind(k.parentKind))
	}
	if st, _ := p.Attributes["state"].(string); slices.Contains(k.parentFinal, st) {
		return store.Node{}, fmt.Errorf("%s %v is %s and takes no new task: %w", k.parentKind, p.Attributes["number"], st, store.ErrConflict)
	}
	return s.openTask(ctx, actor, k, p, in, nil)
}

// openTask opens a task of kind k on parent p with the client's input and
// the attributes extra (set by the workflow, such as the asset model of
// a catalog task), and links it to its parent.
func (s *Service) openTask(ctx context.Context, actor store.Actor, k taskKind, p store.Node, in RecordInput, extra store.Attributes) (store.Node, error) {
	rk := recordKind{kind: k.kind, prefix: k.prefix, workflow: k.workflow, editable: taskEditable}
	n, err := s.open(ctx, actor, rk, in, func(out store.Attributes, _ time.Time) (store.Attributes, error) {
		out["parent"] = p.Attributes["number"]
		for k, v := range extra {
			out[k] = v
		}
		return out, checkWindow(out)
	})
	if err != nil {
		return n, err
	}
	if _, err := s.cmdb.SetLinks(ctx, actor, n.ID, RelTaskOf, []store.ID{p.ID}, k.parentKind, k.parentField, false); err != nil {
		return n, err
	}
	return n, nil
}

// UpdateTask changes a task's attributes and links until it is closed or
// canceled.
func (s *Service) UpdateTask(ctx context.Context, actor store.Actor, kind string, id store.ID, expected int64, in RecordInput) (store.Node, error) {
	k, err := s.taskKindOf(kind)
	if err != nil {
		return store.Node{}, err
	}
	rk := recordKind{kind: kind, workflow: k.workflow, editable: taskEditable}
	return s.update(ctx, actor, rk, id, expected, in, func(cur *store.Node, out store.Attributes, _ time.Time) (store.Attributes, error) {
		if !taskOpen(*cur) {
			return nil, fmt.Errorf("%s %v is %v and can no longer be changed: %w", kind, cur.Attributes["number"], cur.Attributes["state"], store.ErrConflict)
		}
		return out, checkWindow(overlay(cur.Attributes, out))
	})
}

// ActOnTask runs one workflow action on a task of kind (change tasks:
// start, close, cancel; problem tasks: assess, start, close, cancel) with
// the attributes it takes (close: close_code and close_notes; cancel:
// close_notes). A change task starts only while its change is being
// implemented.
func (s *Service) ActOnTask(ctx context.Context, actor store.Actor, kind string, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	k, err := s.taskKindOf(kind)
	if err != nil {
		return store.Node{}, err
	}
	if err := auth.Check(ctx, auth.Kind(kind), auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := k.workflow.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	var facts Facts
	if action == ActionStartTask {
		p, _, err := s.parentOf(ctx, id, k.parentKind)
		if err != nil {
			return store.Node{}, err
		}
		facts.Parent = p.Attributes
	}
	return s.actOnTask(ctx, actor, k, id, expected, action, input, facts)
}

// actOnTask writes one action of a task whose permission and input the
// caller checked.
func (s *Service) actOnTask(ctx context.Context, actor store.Actor, k taskKind, id store.ID, expected int64, action string, input map[string]any, facts Facts) (store.Node, error) {
	res, err := s.act(ctx, actor, k.kind, k.workflow, id, expected, action, input, facts, nil)
	if err != nil || k.kind != KindCatalogTask {
		return res.Node, err
	}
	return res.Node, s.catalogTaskActed(auth.AsProcess(ctx), actor, res.Node)
}

// parentOf returns the change or problem (parentKind) task id belongs to.
func (s *Service) parentOf(ctx context.Context, id store.ID, parentKind string) (store.Node, bool, error) {
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.Out, []string{RelTaskOf})
	if err != nil || len(rels[id]) == 0 {
		return store.Node{}, false, err
	}
	found, err := s.cmdb.Nodes(ctx, parentKind, []store.ID{rels[id][0].Target})
	if err != nil {
		return store.Node{}, false, err
	}
	n, ok := found[rels[id][0].Target]
	return n, ok, nil
}

// Parent returns the change or problem a task of kind belongs to.
func (s *Service) Parent(ctx context.Context, kind string, id store.ID) (store.Node, bool, error) {
	k, err := s.taskKindOf(kind)
	if err != nil {
		return store.Node{}, false, err
	}
	if err := auth.Check(ctx, auth.Kind(k.parentKind), auth.Read); err != nil {
		return store.Node{}, false, err
	}
	return s.parentOf(ctx, id, k.parentKind)
}

// TasksOf returns a page of the tasks of kind of a change or problem,
// oldest first (the order they are usually worked in); with openOnly,
// those not closed or canceled.
func (s *Service) TasksOf(ctx context.Context, kind string, parent store.ID, openOnly bool, p store.PageRequest) (store.Page[store.Node], error) {
	k, err := s.taskKindOf(kind)
	if err != nil {
		return store.Page[store.Node]{}, err
	}
	if err := auth.Check(ctx, auth.Kind(kind), auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	var where *store.Expr
	if openOnly {
		var final []any
		for _, st := range taskFinal {
			if _, ok := k.workflow.State(st); ok {
				final = append(final, st)
			}
		}
		where = &store.Expr{Op: store.OpNot, Args: []store.Expr{{Op: store.OpIn, Field: "state", Values: final}}}
	}
	return s.linkedFromSorted(ctx, parent, RelTaskOf, kind, where, store.Sort{Field: store.FieldCreatedAt}, p)
}

// TaskByNumber returns the task of kind numbered number, if there is one.
func (s *Service) TaskByNumber(ctx context.Context, kind, number string) (store.Node, bool, error) {
	return s.byNumber(ctx, kind, number)
}

// openTasks returns the numbers of the open tasks of kind of parent,
// sorted. It reads with the process's rights: a guard of the parent's
// workflow needs them whoever acts.
func (s *Service) openTasks(ctx context.Context, kind string, parent store.ID) ([]store.Node, error) {
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{parent}, store.In, []string{RelTaskOf})
	if err != nil {
		return nil, err
	}
	ids := make([]store.ID, len(rels[parent]))
	for i, r := range rels[parent] {
		ids[i] = r.Source
	}
	nodes, err := s.nodesOf(auth.AsProcess(ctx), kind, ids)
	if err != nil {
		return nil, err
	}
	var out []store.Node
	for _, id := range ids {
		if n, ok := nodes[id]; ok && taskOpen(n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b store.Node) int {
		return strings.Compare(fmt.Sprint(a.Attributes["number"]), fmt.Sprint(b.Attributes["number"]))
	})
	return out, nil
}

// tasksClosed is a guard of a parent's workflow: none of its tasks is
// open (Facts.OpenTasks).
func tasksClosed(what string) Guard {
	return Guard{Name: "tasks_closed", Field: "id", Conflict: true, Check: func(r Record) error {
		if len(r.Facts.OpenTasks) == 0 {
			return nil
		}
		names := r.Facts.OpenTasks
		if len(names) > 5 {
			names = append(names[:5:5], fmt.Sprintf("and %d more", len(names)-5))
		}
		return fmt.Errorf("its tasks %s are still open: close or cancel them before %s", strings.Join(names, ", "), what)
	}}
}

// openTaskNumbers returns the numbers of parent's open tasks of kind.
func (s *Service) openTaskNumbers(ctx context.Context, kind string, parent store.ID) ([]string, error) {
	tasks, err := s.openTasks(ctx, kind, parent)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(tasks))
	for i, t := range tasks {
		out[i], _ = t.Attributes["number"].(string)
	}
	return out, nil
}

// cancelTasks cancels parent's open tasks of kind after parent was
// canceled, as actor, with a note naming the parent. A task someone moved
// meanwhile is left as it is.
func (s *Service) cancelTasks(ctx context.Context, actor store.Actor, kind string, parent store.Node) error {
	k, err := s.taskKindOf(kind)
	if err != nil {
		return err
	}
	tasks, err := s.openTasks(ctx, kind, parent.ID)
	if err != nil {
		return err
	}
	note := fmt.Sprintf("canceled with %s %v", k.parentKind, parent.Attributes["number"])
	for _, t := range tasks {
		_, err := s.actOnTask(auth.AsProcess(ctx), actor, k, t.ID, t.Version, ActionCancelTask, map[string]any{"close_notes": note}, Facts{})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}
