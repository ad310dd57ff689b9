package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/store"
)

const taskFields = `id number state stateCode closeCode closeNotes startedAt closedAt allowedActions version`

// TestTaskAPI: change tasks and problem tasks over GraphQL on both
// backends: their whole lives with every refused action and guard, the
// parents waiting for their tasks, cascades when a parent is canceled,
// lookups, journals, audit, and two people closing one task at once.
func TestTaskAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			t.Run("ChangeTasks", func(t *testing.T) { testChangeTasks(t, srv.URL) })
			t.Run("ProblemTasks", func(t *testing.T) { testProblemTasks(t, srv.URL) })
		})
	}
}

// taskDo runs a task mutation (typ ChangeTask or ProblemTask) and returns
// the answer.
func taskDo(t *testing.T, url, typ, mutation, input string, in map[string]any) gqlResponse {
	t.Helper()
	payload := map[string]string{"ChangeTask": "changeTask", "ProblemTask": "problemTask"}[typ]
	return gql(t, url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { %s { %s } } }`, input, mutation, payload, taskFields), map[string]any{"in": in})
}

func taskOK(t *testing.T, url, typ, mutation, input string, in map[string]any) map[string]any {
	t.Helper()
	r := taskDo(t, url, typ, mutation, input, in)
	require.Empty(t, r.Errors, r.raw)
	payload := map[string]string{"ChangeTask": "changeTask", "ProblemTask": "problemTask"}[typ]
	return get(r.Data, mutation, payload).(map[string]any)
}

func changeDo(t *testing.T, url, mutation, input string, in map[string]any) gqlResponse {
	t.Helper()
	return gql(t, url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { change { id number state } } }`, input, mutation), map[string]any{"in": in})
}

func testChangeTasks(t *testing.T, url string) {
	ci := upsertIDs(t, url, item("Server", map[string]any{"name": "ctask-db", "serial_number": "CTASKDB"}))[0]
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	d := ok(t, url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { id number } } }`, map[string]any{"in": map[string]any{
		"shortDescription": "Patch the database", "templateId": stdTemplate(t, url), "affectedCIIds": []any{ci},
		"plannedStartAt": start.Format(time.RFC3339), "plannedEndAt": start.Add(2 * time.Hour).Format(time.RFC3339)}})
	chg, chgNumber := get(d, "createChange", "change", "id").(string), get(d, "createChange", "change", "number").(string)

	// Bad parents and bad input, nothing written.
	refusedWith(t, taskDo(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": ci, "shortDescription": "x"}), "INVALID", "input.changeId")
	refusedWith(t, taskDo(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": graph.RecordGlobalID("change", store.ID(uuid.NewString())), "shortDescription": "x"}), "NOT_FOUND", "input.changeId")
	refusedWith(t, taskDo(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": chg, "shortDescription": "x",
		"plannedStartAt": start.Format(time.RFC3339), "plannedEndAt": start.Add(-time.Hour).Format(time.RFC3339)}), "INVALID", "input.plannedEndAt")
	refusedWith(t, taskDo(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": chg, "shortDescription": ""}), "INVALID", "input.shortDescription")
	d = ok(t, url, `query($id: ID!) { change(id: $id) { tasks { totalCount } } }`, map[string]any{"id": chg})
	assert.Equal(t, 0.0, get(d, "change", "tasks", "totalCount"), "refused tasks left nothing")

	t1 := taskOK(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": chg, "shortDescription": "Stop replication",
		"affectedCIIds": []any{ci}, "plannedStartAt": start.Format(time.RFC3339), "plannedEndAt": start.Add(time.Hour).Format(time.RFC3339)})
	t2 := taskOK(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": chg, "shortDescription": "Verify backups"})
	assert.Regexp(t, `^CTASK00\d{5}$`, t1["number"])
	assert.NotEqual(t, t1["number"], t2["number"])
	assert.Equal(t, "OPEN", t1["state"])
	assert.Equal(t, 1.0, t1["stateCode"])
	assert.Equal(t, []any{"cancel", "start"}, lower(t1["allowedActions"]))
	id1, id2 := map[string]any{"id": t1["id"]}, map[string]any{"id": t2["id"]}

	// Work starts once the change is implemented.
	r := taskDo(t, url, "ChangeTask", "startChangeTask", "TaskActionInput", id1)
	msg := refusedWith(t, r, "CONFLICT", "input.id")
	assert.Equal(t, "change_implementing", r.Errors[0].Extensions["guard"], r.raw)
	assert.Contains(t, msg, chgNumber)
	refusedWith(t, taskDo(t, url, "ChangeTask", "closeChangeTask", "CloseTaskInput", map[string]any{"id": t1["id"], "closeCode": "COMPLETED"}), "CONFLICT", "input.id")
	require.Empty(t, changeDo(t, url, "scheduleChange", "ScheduleChangeInput", map[string]any{"id": chg}).Errors)
	require.Empty(t, changeDo(t, url, "implementChange", "ChangeActionInput", map[string]any{"id": chg}).Errors)
	got := taskOK(t, url, "ChangeTask", "startChangeTask", "TaskActionInput", id1)
	assert.Equal(t, "IN_PROGRESS", got["state"])
	assert.Equal(t, 2.0, got["stateCode"])
	assert.NotNil(t, got["startedAt"])
	refusedWith(t, taskDo(t, url, "ChangeTask", "closeChangeTask", "CloseTaskInput", map[string]any{"id": t1["id"], "closeCode": "CANCELED"}), "INVALID", "input.closeCode")
	refusedWith(t, taskDo(t, url, "ChangeTask", "closeChangeTask", "CloseTaskInput", map[string]any{"id": t1["id"], "closeCode": "COMPLETED", "expectedVersion": 1}), "CONFLICT", "input.expectedVersion")
	got = taskOK(t, url, "ChangeTask", "closeChangeTask", "CloseTaskInput", map[string]any{"id": t1["id"], "closeCode": "COMPLETED_WITH_ISSUES", "closeNotes": "lag of 2 s"})
	assert.Equal(t, "CLOSED", got["state"])
	assert.Equal(t, "COMPLETED_WITH_ISSUES", got["closeCode"])
	assert.Equal(t, []any{}, got["allowedActions"])
	refusedWith(t, taskDo(t, url, "ChangeTask", "updateChangeTask", "UpdateTaskInput", map[string]any{"id": t1["id"], "description": "late"}), "CONFLICT", "")

	// The change waits for its open task.
	r = changeDo(t, url, "reviewChange", "ChangeActionInput", map[string]any{"id": chg})
	msg = refusedWith(t, r, "CONFLICT", "input.id")
	assert.Equal(t, "tasks_closed", r.Errors[0].Extensions["guard"], r.raw)
	assert.Contains(t, msg, t2["number"].(string))
	assert.NotContains(t, msg, t1["number"].(string))
	d = ok(t, url, `query($id: ID!) { change(id: $id) { all: tasks { totalCount edges { node { number } } } open: tasks(openOnly: true) { totalCount } } }`, map[string]any{"id": chg})
	assert.Equal(t, 2.0, get(d, "change", "all", "totalCount"))
	assert.Equal(t, t1["number"], get(d, "change", "all", "edges", 0, "node", "number"), "oldest first")
	assert.Equal(t, 1.0, get(d, "change", "open", "totalCount"))
	got = taskOK(t, url, "ChangeTask", "cancelChangeTask", "CancelTaskInput", map[string]any{"id": t2["id"], "notes": "backups verified by the nightly job"})
	assert.Equal(t, "CANCELED", got["state"])
	assert.Equal(t, 4.0, got["stateCode"])
	refusedWith(t, taskDo(t, url, "ChangeTask", "cancelChangeTask", "CancelTaskInput", id2), "CONFLICT", "input.id")
	r = changeDo(t, url, "reviewChange", "ChangeActionInput", map[string]any{"id": chg})
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, "REVIEW", get(r.Data, "reviewChange", "change", "state"))

	// Lookups, the parent, the journal and the audit trail.
	d = ok(t, url, `query($n: String!, $w: CIWhere) { changeTask(number: $n) { number change { number } affectedCIs { totalCount } plannedStartAt
	  history { totalCount } } changeTasks(where: $w) { totalCount } }`,
		map[string]any{"n": t1["number"], "w": map[string]any{"attribute": "parent", "eq": chgNumber}})
	assert.Equal(t, chgNumber, get(d, "changeTask", "change", "number"))
	assert.Equal(t, 1.0, get(d, "changeTask", "affectedCIs", "totalCount"))
	assert.Equal(t, start.Format(time.RFC3339), get(d, "changeTask", "plannedStartAt"))
	assert.Equal(t, 5.0, get(d, "changeTask", "history", "totalCount"), "opened, linked to its CI and to its change, started, closed")
	assert.Equal(t, 2.0, get(d, "changeTasks", "totalCount"))
	d = ok(t, url, `query($n: String!) { changeTask(number: $n) { id } }`, map[string]any{"n": "CTASK9999999"})
	assert.Nil(t, get(d, "changeTask"))
	d = ok(t, url, `mutation($in: AddNoteInput!) { addChangeTaskNote(input: $in) { entry { text } changeTask { journal { totalCount } } } }`,
		map[string]any{"in": map[string]any{"id": t1["id"], "type": "WORK_NOTE", "text": "replication resumed at 02:14"}})
	assert.Equal(t, 1.0, get(d, "addChangeTaskNote", "changeTask", "journal", "totalCount"))
	d = ok(t, url, `query($id: ID!) { node(id: $id) { __typename ... on ChangeTask { number } } }`, map[string]any{"id": t1["id"]})
	assert.Equal(t, "ChangeTask", get(d, "node", "__typename"))

	// A closed change takes no task; canceling a change cancels its open
	// tasks.
	require.Empty(t, changeDo(t, url, "closeChange", "CloseChangeInput", map[string]any{"id": chg, "closeCode": "SUCCESSFUL"}).Errors)
	refusedWith(t, taskDo(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": chg, "shortDescription": "late"}), "CONFLICT", "")
	d = ok(t, url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { id number } } }`, map[string]any{"in": map[string]any{"shortDescription": "Move the rack"}})
	other, otherNumber := get(d, "createChange", "change", "id").(string), get(d, "createChange", "change", "number").(string)
	o1 := taskOK(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": other, "shortDescription": "Book the movers"})
	o2 := taskOK(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": other, "shortDescription": "Label cables"})
	taskOK(t, url, "ChangeTask", "cancelChangeTask", "CancelTaskInput", map[string]any{"id": o2["id"], "notes": "not needed"})
	require.Empty(t, changeDo(t, url, "cancelChange", "CancelChangeInput", map[string]any{"id": other}).Errors)
	for _, task := range []map[string]any{o1, o2} {
		d = ok(t, url, `query($id: ID!) { changeTask(id: $id) { state closeNotes history { totalCount } } }`, map[string]any{"id": task["id"]})
		assert.Equal(t, "CANCELED", get(d, "changeTask", "state"))
	}
	d = ok(t, url, `query($id: ID!) { changeTask(id: $id) { closeNotes } }`, map[string]any{"id": o1["id"]})
	assert.Equal(t, "canceled with change "+otherNumber, get(d, "changeTask", "closeNotes"))
	d = ok(t, url, `query($id: ID!) { changeTask(id: $id) { closeNotes } }`, map[string]any{"id": o2["id"]})
	assert.Equal(t, "not needed", get(d, "changeTask", "closeNotes"), "a task canceled before is left as it was")

	// Two people close one task at once: one wins, the other is told.
	d = ok(t, url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { id } } }`, map[string]any{"in": map[string]any{
		"shortDescription": "Rotate certificates", "templateId": stdTemplate(t, url),
		"plannedStartAt": start.Add(24 * time.Hour).Format(time.RFC3339), "plannedEndAt": start.Add(25 * time.Hour).Format(time.RFC3339)}})
	third := get(d, "createChange", "change", "id").(string)
	require.Empty(t, changeDo(t, url, "scheduleChange", "ScheduleChangeInput", map[string]any{"id": third}).Errors)
	require.Empty(t, changeDo(t, url, "implementChange", "ChangeActionInput", map[string]any{"id": third}).Errors)
	for round := 0; round < 3; round++ {
		task := taskOK(t, url, "ChangeTask", "createChangeTask", "CreateChangeTaskInput", map[string]any{"changeId": third, "shortDescription": fmt.Sprintf("host %d", round)})
		taskOK(t, url, "ChangeTask", "startChangeTask", "TaskActionInput", map[string]any{"id": task["id"]})
		var wg sync.WaitGroup
		results := make([]gqlResponse, 2)
		for i, code := range []string{"COMPLETED", "NOT_COMPLETED"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = taskDo(t, url, "ChangeTask", "closeChangeTask", "CloseTaskInput", map[string]any{"id": task["id"], "closeCode": code})
			}()
		}
		wg.Wait()
		won := 0
		var winner string
		for i, res := range results {
			if len(res.Errors) == 0 {
				won++
				winner = []string{"COMPLETED", "NOT_COMPLETED"}[i]
			} else {
				assert.Equal(t, "CONFLICT", res.Errors[0].Extensions["code"], res.raw)
			}
		}
		require.Equal(t, 1, won, "round %d: one close wins", round)
		d = ok(t, url, `query($id: ID!) { changeTask(id: $id) { closeCode version } }`, map[string]any{"id": task["id"]})
		assert.Equal(t, winner, get(d, "changeTask", "closeCode"))
		assert.Equal(t, 3.0, get(d, "changeTask", "version"), "opened, started, closed once")
	}
}

func testProblemTasks(t *testing.T, url string) {
	p := problemOK(t, url, "createProblem", "CreateProblemInput", map[string]any{"shortDescription": "Nightly batch overruns"})
	prb := p["id"].(string)
	refusedWith(t, taskDo(t, url, "ProblemTask", "createProblemTask", "CreateProblemTaskInput", map[string]any{"problemId": graph.RecordGlobalID("problem", store.ID(uuid.NewString())), "shortDescription": "x"}), "NOT_FOUND", "input.problemId")
	pt := taskOK(t, url, "ProblemTask", "createProblemTask", "CreateProblemTaskInput", map[string]any{"problemId": prb, "shortDescription": "Profile the batch"})
	assert.Regexp(t, `^PTASK00\d{5}$`, pt["number"])
	assert.Equal(t, "NEW", pt["state"])
	assert.Equal(t, 151.0, pt["stateCode"])
	assert.Equal(t, []any{"assess", "cancel", "start"}, lower(pt["allowedActions"]))
	in := map[string]any{"id": pt["id"]}
	r := taskDo(t, url, "ProblemTask", "closeProblemTask", "CloseTaskInput", map[string]any{"id": pt["id"], "closeCode": "COMPLETED"})
	refusedWith(t, r, "CONFLICT", "input.id")
	assert.Equal(t, []any{"assess", "cancel", "start"}, r.Errors[0].Extensions["allowedActions"])
	assert.Equal(t, 152.0, taskOK(t, url, "ProblemTask", "assessProblemTask", "TaskActionInput", in)["stateCode"])
	assert.Equal(t, 154.0, taskOK(t, url, "ProblemTask", "startProblemTask", "TaskActionInput", in)["stateCode"])

	// The problem is not resolved while its task is open.
	pin := map[string]any{"id": prb}
	problemOK(t, url, "assessProblem", "ProblemActionInput", pin)
	problemOK(t, url, "analyzeProblem", "ProblemActionInput", pin)
	problemOK(t, url, "updateProblem", "UpdateProblemInput", map[string]any{"id": prb, "rootCause": "an unindexed join"})
	problemOK(t, url, "fixProblem", "ProblemActionInput", pin)
	r = problemDo(t, url, "resolveProblem", "ResolveProblemInput", map[string]any{"id": prb, "resolutionCode": "FIX_APPLIED"})
	msg := refusedWith(t, r, "CONFLICT", "input.id")
	assert.Equal(t, "tasks_closed", r.Errors[0].Extensions["guard"], r.raw)
	assert.Contains(t, msg, pt["number"].(string))
	got := taskOK(t, url, "ProblemTask", "closeProblemTask", "CloseTaskInput", map[string]any{"id": pt["id"], "closeCode": "COMPLETED", "closeNotes": "join found"})
	assert.Equal(t, "CLOSED", got["state"])
	assert.Equal(t, 157.0, got["stateCode"])
	assert.Equal(t, "COMPLETED", got["closeCode"])
	assert.Equal(t, "RESOLVED", problemOK(t, url, "resolveProblem", "ResolveProblemInput", map[string]any{"id": prb, "resolutionCode": "FIX_APPLIED"})["state"])
	refusedWith(t, taskDo(t, url, "ProblemTask", "createProblemTask", "CreateProblemTaskInput", map[string]any{"problemId": prb, "shortDescription": "late"}), "CONFLICT", "")
	d := ok(t, url, `query($id: ID!, $p: ID!) { problemTask(id: $id) { problem { number } } problem(id: $p) { tasks { totalCount } open: tasks(openOnly: true) { totalCount } } }`,
		map[string]any{"id": pt["id"], "p": prb})
	assert.Equal(t, p["number"], get(d, "problemTask", "problem", "number"))
	assert.Equal(t, 1.0, get(d, "problem", "tasks", "totalCount"))
	assert.Equal(t, 0.0, get(d, "problem", "open", "totalCount"))

	// Canceling a problem closes its open tasks as canceled.
	p2 := problemOK(t, url, "createProblem", "CreateProblemInput", map[string]any{"shortDescription": "Printer queue stalls"})
	a := taskOK(t, url, "ProblemTask", "createProblemTask", "CreateProblemTaskInput", map[string]any{"problemId": p2["id"], "shortDescription": "Collect spooler logs"})
	require.Empty(t, problemDo(t, url, "cancelProblem", "CancelProblemInput", map[string]any{"id": p2["id"], "notes": "printers replaced"}).Errors)
	d = ok(t, url, `query($id: ID!) { problemTask(id: $id) { state closeCode closeNotes allowedActions } }`, map[string]any{"id": a["id"]})
	assert.Equal(t, "CLOSED", get(d, "problemTask", "state"))
	assert.Equal(t, "CANCELED", get(d, "problemTask", "closeCode"))
	assert.Equal(t, "canceled with problem "+p2["number"].(string), get(d, "problemTask", "closeNotes"))
	assert.Equal(t, []any{}, get(d, "problemTask", "allowedActions"))
}

// lower returns a list of action names in lower case.
func lower(v any) []any {
	out := []any{}
	for _, a := range v.([]any) {
		out = append(out, strings.ToLower(fmt.Sprint(a)))
	}
	return out
}
