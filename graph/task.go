package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Tasks of changes and problems: the views of nodes of kinds change_task
// and problem_task, and the parsing of their mutations' inputs. The two
// types share their fields (model.TaskFields) and every helper here;
// resolvers in task.resolvers.go call these.

var (
	changeTaskStates  = itsm.ChangeTaskWorkflow()
	problemTaskStates = itsm.ProblemTaskWorkflow()
)

// taskInputFields are the attributes whose input field is not their
// camelCase name.
var taskInputFields = map[string]string{}

// taskFields is the view of what every task has; w is its kind's
// workflow (for the state code).
func taskFields(n store.Node, typ string, w *itsm.Workflow) model.TaskFields {
	a := n.Attributes
	v := model.TaskFields{
		ID: globalID(typ, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Description: strAttr(a, "description"), CloseNotes: strAttr(a, "close_notes"),
		PlannedStartAt: timeAttr(a, "planned_start_at"), PlannedEndAt: timeAttr(a, "planned_end_at"),
		StartedAt: timeAttr(a, "started_at"), ClosedAt: timeAttr(a, "closed_at"),
	}
	v.Number, _ = a["number"].(string)
	v.ShortDescription, _ = a["short_description"].(string)
	if s, ok := w.State(taskState(n, w)); ok {
		v.StateCode = s.Code
	}
	if c := strAttr(a, "close_code"); c != nil {
		code := model.TaskCloseCode(strings.ToUpper(*c))
		v.CloseCode = &code
	}
	if t := timeAttr(a, "opened_at"); t != nil {
		v.OpenedAt = *t
	} else {
		v.OpenedAt = n.CreatedAt
	}
	return v
}

// taskState is a task's stored state (its workflow's first when unset).
func taskState(n store.Node, w *itsm.Workflow) string {
	return strOr(n.Attributes, "state", w.Initial)
}

func changeTaskView(n store.Node) *model.ChangeTask {
	return &model.ChangeTask{TaskFields: taskFields(n, typeChangeTask, changeTaskStates),
		State: model.ChangeTaskState(strings.ToUpper(taskState(n, changeTaskStates)))}
}

func problemTaskView(n store.Node) *model.ProblemTask {
	return &model.ProblemTask{TaskFields: taskFields(n, typeProblemTask, problemTaskStates),
		State: model.ProblemTaskState(strings.ToUpper(taskState(n, problemTaskStates)))}
}

func changeTaskConnection(page store.Page[store.Node]) *model.ChangeTaskConnection {
	return &model.ChangeTaskConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.ChangeTaskEdge {
			return model.ChangeTaskEdge{Cursor: c, Node: changeTaskView(n)}
		})}
}

func problemTaskConnection(page store.Page[store.Node]) *model.ProblemTaskConnection {
	return &model.ProblemTaskConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.ProblemTaskEdge {
			return model.ProblemTaskEdge{Cursor: c, Node: problemTaskView(n)}
		})}
}

// newTask is what the two create inputs share.
type newTask struct {
	shortDescription string
	description      *string
	start, end       any
	assignee, group  *string
	cis              []string
}

func (in newTask) record() (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{"short_description": in.shortDescription}}
	for k, v := range map[string]any{"description": derefAnyPtr(in.description), "planned_start_at": derefAnyPtr(in.start), "planned_end_at": derefAnyPtr(in.end)} {
		if v != nil {
			out.Attributes[k] = v
		}
	}
	var err error
	out.Links, err = linksOf("", nil, in.assignee, in.group, in.cis)
	return out, err
}

func updateTaskIn(in model.UpdateTaskInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{}}
	a := out.Attributes
	setOmittable(a, "short_description", in.ShortDescription)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "planned_start_at", in.PlannedStartAt)
	setOmittable(a, "planned_end_at", in.PlannedEndAt)
	var err error
	out.Links, err = linksIn("", graphql.Omittable[*string]{}, in.AssignedToID, in.AssignmentGroupID, in.AffectedCIIds)
	return out, err
}

// taskAPI is what the API knows of one task kind: its model kind, its
// type, its parent's type and the field naming the parent.
type taskAPI struct {
	kind, typ, parentType, parentField, what string
}

var (
	changeTaskAPI  = taskAPI{kind: itsm.KindChangeTask, typ: typeChangeTask, parentType: typeChange, parentField: "input.changeId", what: "change task"}
	problemTaskAPI = taskAPI{kind: itsm.KindProblemTask, typ: typeProblemTask, parentType: typeProblem, parentField: "input.problemId", what: "problem task"}
)

// createTask parses a create input's parent and opens the task.
func (r *mutationResolver) createTask(ctx context.Context, t taskAPI, parentGID string, in newTask) (store.Node, error) {
	parent, err := idOf(t.parentField, parentGID, t.parentType)
	if err != nil {
		return store.Node{}, err
	}
	rec, err := in.record()
	if err != nil {
		return store.Node{}, err
	}
	n, err := r.ITSM.CreateTask(ctx, writeAs(ctx, nil), t.kind, parent, rec)
	return n, recordErr(err, "", t.what, taskInputFields)
}

// updateTask parses an update input and writes it.
func (r *mutationResolver) updateTask(ctx context.Context, t taskAPI, input model.UpdateTaskInput) (store.Node, error) {
	id, err := idOf("input.id", input.ID, t.typ)
	if err != nil {
		return store.Node{}, err
	}
	exp, err := expectedIn(input.ExpectedVersion)
	if err != nil {
		return store.Node{}, err
	}
	in, err := updateTaskIn(input)
	if err != nil {
		return store.Node{}, err
	}
	n, err := r.ITSM.UpdateTask(ctx, writeAs(ctx, nil), t.kind, id, exp, in)
	return n, recordErr(err, input.ID, t.what, taskInputFields)
}

// actOnTask runs one task action with its inputs.
func (r *mutationResolver) actOnTask(ctx context.Context, t taskAPI, gid string, expected *int, action string, input map[string]any) (store.Node, error) {
	id, err := idOf("input.id", gid, t.typ)
	if err != nil {
		return store.Node{}, err
	}
	exp, err := expectedIn(expected)
	if err != nil {
		return store.Node{}, err
	}
	n, err := r.ITSM.ActOnTask(ctx, writeAs(ctx, nil), t.kind, id, exp, action, input)
	return n, recordErr(err, gid, t.what, taskInputFields)
}

// closeTaskIn is the input of a task's close: a close code a client may
// give (not CANCELED, which canceling sets) and notes.
func closeTaskIn(in model.CloseTaskInput) (map[string]any, error) {
	if in.CloseCode == model.TaskCloseCodeCanceled {
		return nil, store.Invalid("input.closeCode", "CANCELED is set by canceling the task; allowed: COMPLETED, COMPLETED_WITH_ISSUES, NOT_COMPLETED")
	}
	out := map[string]any{"close_code": strings.ToLower(string(in.CloseCode))}
	if in.CloseNotes != nil {
		out["close_notes"] = *in.CloseNotes
	}
	return out, nil
}

// cancelTaskIn is the input of a task's cancel.
func cancelTaskIn(in model.CancelTaskInput) map[string]any {
	if in.Notes == nil {
		return nil
	}
	return map[string]any{"close_notes": *in.Notes}
}

// taskByIDOrNumber answers changeTask(id|number) and problemTask.
func (r *queryResolver) taskByIDOrNumber(ctx context.Context, t taskAPI, id, number *string) (store.Node, bool, error) {
	switch {
	case (id == nil) == (number == nil):
		return store.Node{}, false, store.Invalid("id", "give exactly one of id and number")
	case id != nil:
		sid, err := idOf("id", *id, t.typ)
		if err != nil {
			return store.Node{}, false, err
		}
		found, err := r.CMDB.Nodes(ctx, t.kind, []store.ID{sid})
		n, ok := found[sid]
		return n, ok, err
	}
	return r.ITSM.TaskByNumber(ctx, t.kind, *number)
}

// tasksOf answers Change.tasks and Problem.tasks.
func (r *Resolver) tasksOf(ctx context.Context, kind string, parent store.ID, openOnly *bool, first *int, after *string) (store.Page[store.Node], error) {
	p, err := pageIn(first, 50, after)
	if err != nil {
		return store.Page[store.Node]{}, err
	}
	return r.ITSM.TasksOf(ctx, kind, parent, deref(openOnly, false), store.PageRequest{First: countOnly(ctx, p.First), After: p.After})
}

// taskActions are the actions a task's state allows now, upper-cased.
func taskActions[A ~string](w *itsm.Workflow, n store.Node) []A {
	actions := w.Allowed(taskState(n, w))
	out := make([]A, len(actions))
	for i, a := range actions {
		out[i] = A(strings.ToUpper(a))
	}
	return out
}

// taskParent answers ChangeTask.change and ProblemTask.problem.
func (r *Resolver) taskParent(ctx context.Context, kind string, id store.ID) (store.Node, bool, error) {
	return r.ITSM.Parent(ctx, kind, id)
}

// changeTaskAction runs one change task action.
func (r *mutationResolver) changeTaskAction(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.ChangeTaskPayload, error) {
	n, err := r.actOnTask(ctx, changeTaskAPI, gid, expected, action, input)
	if err != nil {
		return nil, err
	}
	return &model.ChangeTaskPayload{ChangeTask: changeTaskView(n)}, nil
}

// problemTaskAction runs one problem task action.
func (r *mutationResolver) problemTaskAction(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.ProblemTaskPayload, error) {
	n, err := r.actOnTask(ctx, problemTaskAPI, gid, expected, action, input)
	if err != nil {
		return nil, err
	}
	return &model.ProblemTaskPayload{ProblemTask: problemTaskView(n)}, nil
}

// addTaskNote writes a note on a task and returns the entry and the task.
func (r *mutationResolver) addTaskNote(ctx context.Context, t taskAPI, input model.AddNoteInput) (*model.JournalEntry, store.Node, error) {
	id, err := idOf("input.id", input.ID, t.typ)
	if err != nil {
		return nil, store.Node{}, err
	}
	e, err := r.addNote(ctx, t.kind, id, input)
	if err != nil {
		return nil, store.Node{}, err
	}
	found, err := r.CMDB.Nodes(ctx, t.kind, []store.ID{id})
	if err != nil {
		return nil, store.Node{}, err
	}
	n, ok := found[id]
	if !ok {
		return nil, store.Node{}, notFoundAt("input.id", t.what, input.ID)
	}
	return e, n, nil
}

// assignedTo is the person a record is assigned to (ASSIGNED_TO).
func (r *Resolver) assignedTo(ctx context.Context, id store.ID) (*model.Person, error) {
	n, ok, err := r.linked(ctx, id, itsm.RelAssignedTo)
	if !ok || err != nil {
		return nil, err
	}
	return personView(n), nil
}

// assignmentGroup is the group a record is assigned to
// (ASSIGNED_TO_GROUP).
func (r *Resolver) assignmentGroup(ctx context.Context, id store.ID) (*model.Group, error) {
	n, ok, err := r.linked(ctx, id, itsm.RelAssignedToGroup)
	if !ok || err != nil {
		return nil, err
	}
	return groupView(n), nil
}

// affectedCIs is a page of the CIs a record concerns (AFFECTS).
func (r *Resolver) affectedCIs(ctx context.Context, id store.ID, first *int, after *string) (*model.CIConnection, error) {
	page, err := r.related(ctx, id, store.Out, itsm.RelAffects, first, after)
	if err != nil {
		return nil, err
	}
	return ciConnection(page), nil
}
