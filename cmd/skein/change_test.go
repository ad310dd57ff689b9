package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

const changeFields = `id number type state stateCode approval allowedActions version plannedStartAt plannedEndAt
  conflictOverrideReason closeCode approvals { userName reason state comment approver { name } }
  requestedBy { userName } affectedCIs { totalCount }`

// changeEnv is a server with a CAB (alice and bob), a CI owned by carol,
// and a token for each of them and for mallory, who approves nothing.
type changeEnv struct {
	url    string
	tokens map[string]string
	db     string
	app    string
	seq    int
}

func newChangeEnv(t *testing.T, url string, a *app) *changeEnv {
	e := &changeEnv{url: url, tokens: map[string]string{}}
	people := upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person",
		map[string]any{"user_name": "alice", "name": "Alice CAB"},
		map[string]any{"user_name": "bob", "name": "Bob CAB"},
		map[string]any{"user_name": "carol", "name": "Carol Owner"},
		map[string]any{"user_name": "mallory", "name": "Mallory"})
	groups := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group", map[string]any{"name": "CAB", "type": "cab"})
	ok(t, url, `mutation($in: GroupMembersInput!) { addGroupMembers(input: $in) { changed } }`,
		map[string]any{"in": map[string]any{"groupId": groups[0], "personIds": []any{people[0], people[1]}}})
	cis := upsertIDs(t, url, item("Server", map[string]any{"name": "db-01", "serial_number": "CHGDB1", "owner": "carol"}),
		item("Application", map[string]any{"name": "billing"}))
	e.db, e.app = cis[0], cis[1]
	for _, n := range []string{"alice", "bob", "carol", "mallory"} {
		role := auth.ChangeManager
		if n == "mallory" || n == "carol" {
			role = auth.Engineer
		}
		e.tokens[n] = issueToken(t, a, n, role)
	}
	return e
}

// window returns a planned window starting in days days at hour, for
// hours hours.
func window(days, hour, hours int) (string, string) {
	d := time.Now().UTC().AddDate(0, 0, days)
	start := time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, time.UTC)
	return start.Format(time.RFC3339), start.Add(time.Duration(hours) * time.Hour).Format(time.RFC3339)
}

// open creates a change of typ on cis in the window.
func (e *changeEnv) open(t *testing.T, typ string, start, end string, cis ...string) map[string]any {
	t.Helper()
	e.seq++
	ids := make([]any, len(cis))
	for i, c := range cis {
		ids[i] = c
	}
	in := map[string]any{"shortDescription": fmt.Sprintf("change %d", e.seq), "type": typ,
		"plannedStartAt": start, "plannedEndAt": end, "affectedCIIds": ids, "backoutPlan": "restore the snapshot"}
	if typ == "STANDARD" {
		in["templateId"] = stdTemplate(t, e.url)
	}
	d := ok(t, e.url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { `+changeFields+` } } }`, map[string]any{"in": in})
	return get(d, "createChange", "change").(map[string]any)
}

// stdTemplate returns the ID of the change template the standard changes
// of the test server at url come from, made once.
func stdTemplate(t *testing.T, url string) string {
	t.Helper()
	d := ok(t, url, `{ changeTemplate(name: "Test standard change") { id } }`, nil)
	if id, found := get(d, "changeTemplate", "id").(string); found {
		return id
	}
	d = ok(t, url, `mutation { createChangeTemplate(input: {name: "Test standard change", implementationPlan: "As written in the runbook."}) { changeTemplate { id } } }`, nil)
	return get(d, "createChangeTemplate", "changeTemplate", "id").(string)
}

// do runs a change mutation as tok ("" for the test's admin token).
func (e *changeEnv) do(t *testing.T, tok, mutation, input string, in map[string]any) gqlResponse {
	t.Helper()
	q := fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { change { %s } } }`, input, mutation, changeFields)
	if tok == "" {
		return gql(t, e.url, q, map[string]any{"in": in})
	}
	b, err := json.Marshal(map[string]any{"query": q, "variables": map[string]any{"in": in}})
	require.NoError(t, err)
	return postAs(t, e.url, tok, string(b))
}

func (e *changeEnv) doOK(t *testing.T, tok, mutation, input string, in map[string]any) map[string]any {
	t.Helper()
	r := e.do(t, tok, mutation, input, in)
	require.Empty(t, r.Errors, r.raw)
	return get(r.Data, mutation, "change").(map[string]any)
}

// TestChangeAPI: changes over GraphQL on both backends: the normal path
// through CAB approval, every refused transition and guard (scheduling
// without approvals, deciding twice, deciding without being an approver,
// scheduling into a conflict), rejection and revision, emergency and
// standard changes, conflicts with overlapping changes and major
// incidents, overrides by change managers only, and concurrent decisions
// with one consistent outcome.
func TestChangeAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			e := newChangeEnv(t, srv.URL, a)
			t.Run("Normal", func(t *testing.T) { testChangeNormal(t, e) })
			t.Run("TypesAndRejection", func(t *testing.T) { testChangeTypes(t, e) })
			t.Run("Conflicts", func(t *testing.T) { testChangeConflicts(t, e) })
			t.Run("ConcurrentDecisions", func(t *testing.T) { testChangeConcurrent(t, e) })
			t.Run("SuspectChanges", func(t *testing.T) { testSuspectChanges(t, e) })
			t.Run("RiskAndSnapshot", func(t *testing.T) { testChangeRisk(t, e) })
		})
	}
}

func testChangeNormal(t *testing.T, e *changeEnv) {
	start, end := window(30, 10, 2)
	c := e.open(t, "NORMAL", start, end, e.db)
	id := c["id"].(string)
	assert.Regexp(t, `^CHG00\d{5}$`, c["number"])
	assert.Equal(t, "NEW", c["state"])
	assert.Equal(t, -5.0, c["stateCode"])
	assert.Equal(t, "NOT_REQUESTED", c["approval"])
	assert.Equal(t, []any{"ASSESS", "CANCEL", "REQUEST_APPROVAL", "SCHEDULE"}, c["allowedActions"])
	in := map[string]any{"id": id}

	r := e.do(t, "", "scheduleChange", "ScheduleChangeInput", in)
	refusedWith(t, r, "INVALID", "")
	assert.Equal(t, "approved", r.Errors[0].Extensions["guard"], "a normal change is not scheduled without approval")
	r = e.do(t, "", "requestChangeApproval", "ChangeActionInput", in)
	refusedWith(t, r, "INVALID", "")
	assert.Equal(t, "assessed_or_emergency", r.Errors[0].Extensions["guard"])

	c = e.doOK(t, "", "assessChange", "ChangeActionInput", in)
	assert.Equal(t, "ASSESS", c["state"])
	c = e.doOK(t, "", "requestChangeApproval", "ChangeActionInput", in)
	assert.Equal(t, "AUTHORIZE", c["state"])
	assert.Equal(t, "REQUESTED", c["approval"])
	approvers := map[string]string{}
	for _, a := range c["approvals"].([]any) {
		approvers[get(a, "userName").(string)] = get(a, "reason").(string)
		assert.Equal(t, "REQUESTED", get(a, "state"))
	}
	assert.Equal(t, map[string]string{"alice": "CAB", "bob": "CAB", "carol": "OWNER"}, approvers, "the CAB and the CI's owner")

	// Updating what was approved needs a revision first.
	r = gql(t, e.url, `mutation($in: UpdateChangeInput!) { updateChange(input: $in) { change { id } } }`,
		map[string]any{"in": map[string]any{"id": id, "backoutPlan": "pray"}})
	refusedWith(t, r, "CONFLICT", "")
	r = e.do(t, "", "scheduleChange", "ScheduleChangeInput", in)
	refusedWith(t, r, "INVALID", "")
	assert.Equal(t, "approved", r.Errors[0].Extensions["guard"], "scheduling without approvals")

	dec := map[string]any{"id": id, "comment": "fine by me"}
	c = e.doOK(t, e.tokens["alice"], "approveChange", "ChangeDecisionInput", dec)
	assert.Equal(t, "REQUESTED", c["approval"], "two approvals to go")
	r = e.do(t, e.tokens["alice"], "approveChange", "ChangeDecisionInput", dec)
	refusedWith(t, r, "CONFLICT", "")
	assert.Contains(t, r.Errors[0].Message, "already approved", "approving twice")
	r = e.do(t, e.tokens["mallory"], "approveChange", "ChangeDecisionInput", dec)
	refusedWith(t, r, "FORBIDDEN", "")
	assert.Contains(t, r.Errors[0].Message, "not one of its approvers")
	r = e.do(t, "", "approveChange", "ChangeDecisionInput", dec)
	refusedWith(t, r, "FORBIDDEN", "")
	e.doOK(t, e.tokens["carol"], "approveChange", "ChangeDecisionInput", dec)
	c = e.doOK(t, e.tokens["bob"], "approveChange", "ChangeDecisionInput", map[string]any{"id": id})
	assert.Equal(t, "APPROVED", c["approval"])
	for _, a := range c["approvals"].([]any) {
		assert.Equal(t, "APPROVED", get(a, "state"))
		assert.NotNil(t, get(a, "approver"))
	}

	for _, step := range []struct{ mutation, input, state string }{
		{"scheduleChange", "ScheduleChangeInput", "SCHEDULED"},
		{"implementChange", "ChangeActionInput", "IMPLEMENT"},
		{"reviewChange", "ChangeActionInput", "REVIEW"},
	} {
		c = e.doOK(t, "", step.mutation, step.input, in)
		assert.Equal(t, step.state, c["state"], step.mutation)
	}
	r = e.do(t, "", "cancelChange", "CancelChangeInput", in)
	refusedWith(t, r, "CONFLICT", "input.id")
	assert.Equal(t, []any{"close"}, r.Errors[0].Extensions["allowedActions"], "no cancel once implemented")
	c = e.doOK(t, "", "closeChange", "CloseChangeInput", map[string]any{"id": id, "closeCode": "SUCCESSFUL_WITH_ISSUES", "closeNotes": "took 20 min longer"})
	assert.Equal(t, "CLOSED", c["state"])
	assert.Equal(t, 3.0, c["stateCode"])
	assert.Equal(t, "SUCCESSFUL_WITH_ISSUES", c["closeCode"])

	// Every decision is in the audit trail, under the approver's token.
	d := ok(t, e.url, `query($id: ID!) { change(id: $id) { history(first: 100) { edges { node { actor changes { field } } } } } }`, map[string]any{"id": id})
	byAlice := 0
	for _, h := range get(d, "change", "history", "edges").([]any) {
		if s, _ := get(h, "node", "actor").(string); len(s) >= 5 && s[:5] == "alice" {
			byAlice++
		}
	}
	assert.Equal(t, 1, byAlice, "alice's approval is audited under her token")
}

func testChangeTypes(t *testing.T, e *changeEnv) {
	start, end := window(40, 10, 1)
	// Rejected under "all": one rejection is enough; revising starts over.
	c := e.open(t, "NORMAL", start, end, e.app)
	in := map[string]any{"id": c["id"]}
	e.doOK(t, "", "assessChange", "ChangeActionInput", in)
	e.doOK(t, "", "requestChangeApproval", "ChangeActionInput", in)
	c = e.doOK(t, e.tokens["bob"], "rejectChange", "ChangeDecisionInput", map[string]any{"id": c["id"], "comment": "no back-out test"})
	assert.Equal(t, "REJECTED", c["approval"])
	r := e.do(t, "", "scheduleChange", "ScheduleChangeInput", in)
	refusedWith(t, r, "INVALID", "")
	assert.Equal(t, "approved", r.Errors[0].Extensions["guard"])
	c = e.doOK(t, "", "reviseChange", "ChangeActionInput", in)
	assert.Equal(t, "ASSESS", c["state"])
	assert.Equal(t, "NOT_REQUESTED", c["approval"])
	assert.Empty(t, c["approvals"])

	// Emergency: straight to the CAB, one approval is enough.
	c = e.open(t, "EMERGENCY", start, end, e.app)
	in = map[string]any{"id": c["id"]}
	c = e.doOK(t, "", "requestChangeApproval", "ChangeActionInput", in)
	assert.Equal(t, "AUTHORIZE", c["state"])
	c = e.doOK(t, e.tokens["alice"], "approveChange", "ChangeDecisionInput", in)
	assert.Equal(t, "APPROVED", c["approval"], "emergency: any approver")
	assert.Equal(t, "SCHEDULED", e.doOK(t, "", "scheduleChange", "ScheduleChangeInput", in)["state"])

	// Standard: pre-approved, scheduled from new; never assessed.
	c = e.open(t, "STANDARD", start, end)
	in = map[string]any{"id": c["id"]}
	r = e.do(t, "", "assessChange", "ChangeActionInput", in)
	refusedWith(t, r, "INVALID", "")
	assert.Equal(t, "not_standard", r.Errors[0].Extensions["guard"])
	assert.Equal(t, "SCHEDULED", e.doOK(t, "", "scheduleChange", "ScheduleChangeInput", in)["state"])

	// A window that ends before it starts, and none at all.
	r = gql(t, e.url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { id } } }`,
		map[string]any{"in": map[string]any{"shortDescription": "backwards", "plannedStartAt": end, "plannedEndAt": start}})
	refusedWith(t, r, "INVALID", "input.plannedEndAt")
	c = e.doOK(t, "", "createChange", "CreateChangeInput", map[string]any{"shortDescription": "no window", "templateId": stdTemplate(t, e.url)})
	r = e.do(t, "", "scheduleChange", "ScheduleChangeInput", map[string]any{"id": c["id"]})
	refusedWith(t, r, "INVALID", "")
	assert.Equal(t, "window_planned", r.Errors[0].Extensions["guard"])
}

func testChangeConflicts(t *testing.T, e *changeEnv) {
	start, end := window(50, 10, 2)
	first := e.open(t, "STANDARD", start, end, e.db)
	e.doOK(t, "", "scheduleChange", "ScheduleChangeInput", map[string]any{"id": first["id"]})

	s2, e2 := window(50, 11, 2) // overlaps 11:00-12:00 on db
	second := e.open(t, "STANDARD", s2, e2, e.db, e.app)
	d := ok(t, e.url, `query($id: ID!) { change(id: $id) { conflicts { kind number change { state } plannedStartAt cis { name } } } }`, map[string]any{"id": second["id"]})
	conflicts := get(d, "change", "conflicts").([]any)
	require.Len(t, conflicts, 1)
	assert.Equal(t, "CHANGE", get(conflicts[0], "kind"))
	assert.Equal(t, first["number"], get(conflicts[0], "number"))
	assert.Equal(t, "SCHEDULED", get(conflicts[0], "change", "state"))
	assert.Equal(t, []any{map[string]any{"name": "db-01"}}, get(conflicts[0], "cis"), "only the shared CI")

	in := map[string]any{"id": second["id"]}
	r := e.do(t, "", "scheduleChange", "ScheduleChangeInput", in)
	refusedWith(t, r, "CONFLICT", "input.conflictOverrideReason")
	assert.Equal(t, "no_conflicts", r.Errors[0].Extensions["guard"])
	assert.Contains(t, r.Errors[0].Message, first["number"].(string))
	r = e.do(t, e.tokens["carol"], "scheduleChange", "ScheduleChangeInput", map[string]any{"id": second["id"], "conflictOverrideReason": "I am sure"})
	refusedWith(t, r, "CONFLICT", "input.conflictOverrideReason")
	assert.Contains(t, r.Errors[0].Message, "change manager", "an engineer's reason does not override")
	c := e.doOK(t, e.tokens["alice"], "scheduleChange", "ScheduleChangeInput", map[string]any{"id": second["id"], "conflictOverrideReason": "both are read-only checks"})
	assert.Equal(t, "SCHEDULED", c["state"])
	assert.Equal(t, "both are read-only checks", c["conflictOverrideReason"])

	// A window after both, on the same CI: no conflict.
	s3, e3 := window(50, 14, 1)
	third := e.open(t, "STANDARD", s3, e3, e.db)
	assert.Equal(t, "SCHEDULED", e.doOK(t, "", "scheduleChange", "ScheduleChangeInput", map[string]any{"id": third["id"]})["state"])

	// An open major incident on the CI blocks a change on it.
	inc := openIncident(t, e.url, map[string]any{"shortDescription": "billing down", "impact": 1, "urgency": 1, "affectedCIIds": []any{e.app}})
	s4, e4 := window(60, 10, 1)
	fourth := e.open(t, "STANDARD", s4, e4, e.app)
	d = ok(t, e.url, `query($id: ID!) { change(id: $id) { conflicts { kind number incident { priority } } } }`, map[string]any{"id": fourth["id"]})
	conflicts = get(d, "change", "conflicts").([]any)
	require.Len(t, conflicts, 1)
	assert.Equal(t, "MAJOR_INCIDENT", get(conflicts[0], "kind"))
	assert.Equal(t, inc["number"], get(conflicts[0], "number"))
	refusedWith(t, e.do(t, "", "scheduleChange", "ScheduleChangeInput", map[string]any{"id": fourth["id"]}), "CONFLICT", "input.conflictOverrideReason")
	actOK(t, e.url, "resolveIncident", map[string]any{"id": inc["id"], "resolutionCode": "SOLVED_PERMANENTLY", "resolutionNotes": "fixed"})
	assert.Equal(t, "SCHEDULED", e.doOK(t, "", "scheduleChange", "ScheduleChangeInput", map[string]any{"id": fourth["id"]})["state"], "resolved: no longer a conflict")
}

// testChangeConcurrent: alice approves while bob rejects, and alice
// approves twice at once: the decisions serialise on the change, so the
// outcome is the rule's for both decisions (rejected under "all"), each
// approver decides once, and the version counts each decision once.
func testChangeConcurrent(t *testing.T, e *changeEnv) {
	start, end := window(70, 10, 1)
	for round := 0; round < 5; round++ {
		c := e.open(t, "NORMAL", start, end, e.app)
		in := map[string]any{"id": c["id"]}
		e.doOK(t, "", "assessChange", "ChangeActionInput", in)
		v := e.doOK(t, "", "requestChangeApproval", "ChangeActionInput", in)["version"].(float64)
		q := func(m string) string {
			return fmt.Sprintf(`mutation($in: ChangeDecisionInput!) { %s(input: $in) { change { approval } } }`, m)
		}
		send := func(tok, m string) <-chan gqlResponse {
			ch := make(chan gqlResponse, 1)
			go func() {
				b, _ := json.Marshal(map[string]any{"query": q(m), "variables": map[string]any{"in": in}})
				r, err := tryPost(e.url, tok, string(b))
				if err != nil {
					r.raw = err.Error()
				}
				ch <- r
			}()
			return ch
		}
		a1, a2, b := send(e.tokens["alice"], "approveChange"), send(e.tokens["alice"], "approveChange"), send(e.tokens["bob"], "rejectChange")
		ra1, ra2, rb := within(t, a1, "alice"), within(t, a2, "alice again"), within(t, b, "bob")
		require.Empty(t, rb.Errors, rb.raw)
		okAlice := 0
		for _, r := range []gqlResponse{ra1, ra2} {
			if len(r.Errors) == 0 {
				okAlice++
				continue
			}
			assert.Equal(t, "CONFLICT", r.Errors[0].Extensions["code"], r.raw)
		}
		assert.Equal(t, 1, okAlice, "round %d: alice decides once", round)
		d := ok(t, e.url, `query($id: ID!) { change(id: $id) { approval version approvals { userName state } } }`, map[string]any{"id": c["id"]})
		assert.Equal(t, "REJECTED", get(d, "change", "approval"), "round %d", round)
		assert.Equal(t, v+2, get(d, "change", "version"), "round %d: two decisions written", round)
		states := map[string]string{}
		for _, a := range get(d, "change", "approvals").([]any) {
			states[get(a, "userName").(string)] = get(a, "state").(string)
		}
		assert.Equal(t, map[string]string{"alice": "APPROVED", "bob": "REJECTED"}, states, "round %d", round)
	}
}

// testSuspectChanges: "which change broke this?" on an estate where
// distance and recency disagree: web DEPENDS_ON api DEPENDS_ON db
// RUNS_ON host; a change on web (distance 0) implemented first, changes on
// host (distance 3) and db (distance 2) after it, and one on an unrelated
// CI, one only scheduled, and one implemented after the incident was
// opened. Nearest first, then most recent; each with its path.
func testSuspectChanges(t *testing.T, e *changeEnv) {
	cis := upsertIDs(t, e.url, item("Application", map[string]any{"name": "sus-web"}), item("Application", map[string]any{"name": "sus-api"}),
		item("Server", map[string]any{"name": "sus-db", "serial_number": "SUSDB"}), item("Server", map[string]any{"name": "sus-host", "serial_number": "SUSHOST"}),
		item("Application", map[string]any{"name": "sus-elsewhere"}))
	web, api, db, host, elsewhere := cis[0], cis[1], cis[2], cis[3], cis[4]
	ok(t, e.url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": []any{
		map[string]any{"type": "DEPENDS_ON", "source": web, "target": api},
		map[string]any{"type": "DEPENDS_ON", "source": api, "target": db},
		map[string]any{"type": "HOSTED_ON", "source": db, "target": host},
	}}})
	start, end := window(-1, 0, 48) // a window around now
	implement := func(ci string) string {
		c := e.open(t, "STANDARD", start, end, ci)
		e.doOK(t, "", "scheduleChange", "ScheduleChangeInput", map[string]any{"id": c["id"], "conflictOverrideReason": "test estate"})
		e.doOK(t, "", "implementChange", "ChangeActionInput", map[string]any{"id": c["id"]})
		return c["number"].(string)
	}
	onWeb := implement(web)
	time.Sleep(20 * time.Millisecond)
	onHost := implement(host)
	time.Sleep(20 * time.Millisecond)
	onDB := implement(db)
	implement(elsewhere)
	scheduledOnly := e.open(t, "STANDARD", start, end, api)
	e.doOK(t, "", "scheduleChange", "ScheduleChangeInput", map[string]any{"id": scheduledOnly["id"], "conflictOverrideReason": "test estate"}) // it overlaps the others through impact
	time.Sleep(20 * time.Millisecond)
	inc := openIncident(t, e.url, map[string]any{"shortDescription": "web returns 502", "affectedCIIds": []any{web}})
	time.Sleep(20 * time.Millisecond)
	implement(api) // after the incident: not a cause

	q := `query($id: ID!, $h: Int, $d: Int) { incident(id: $id) { suspectChanges(hours: $h, depth: $d) {
	  change { number state implementedAt } ci { name } incidentCI { name } distance minutesBeforeIncident
	  path { type from { name } to { name } } } } }`
	d := ok(t, e.url, q, map[string]any{"id": inc["id"]})
	var got []string
	for _, s := range get(d, "incident", "suspectChanges").([]any) {
		got = append(got, fmt.Sprintf("%s@%s/%v", get(s, "change", "number"), get(s, "ci", "name"), get(s, "distance")))
		assert.Equal(t, "sus-web", get(s, "incidentCI", "name"))
		assert.GreaterOrEqual(t, get(s, "minutesBeforeIncident"), 0.0)
	}
	assert.Equal(t, []string{onWeb + "@sus-web/0", onDB + "@sus-db/2", onHost + "@sus-host/3"}, got,
		"nearest first even when older; the unrelated, the scheduled and the later change are left out")
	sus := get(d, "incident", "suspectChanges").([]any)
	assert.Empty(t, get(sus[0], "path"))
	path := get(sus[2], "path").([]any)
	require.Len(t, path, 3)
	assert.Equal(t, "DEPENDS_ON", get(path[0], "type"))
	assert.Equal(t, "sus-web", get(path[0], "from", "name"))
	assert.Equal(t, "HOSTED_ON", get(path[2], "type"))
	assert.Equal(t, "sus-host", get(path[2], "to", "name"))

	d = ok(t, e.url, q, map[string]any{"id": inc["id"], "d": 2})
	assert.Len(t, get(d, "incident", "suspectChanges"), 2, "depth 2 stops before the host")

	// The engineer records the culprit; the change lists what it caused.
	cause := `mutation($in: SetIncidentCauseInput!) { setIncidentCause(input: $in) { incident { causedBy { number causedIncidents { totalCount } } } } }`
	d = ok(t, e.url, `query($n: String!) { change(number: $n) { id } }`, map[string]any{"n": onDB})
	d = ok(t, e.url, cause, map[string]any{"in": map[string]any{"incidentId": inc["id"], "changeId": get(d, "change", "id")}})
	assert.Equal(t, onDB, get(d, "setIncidentCause", "incident", "causedBy", "number"))
	assert.Equal(t, 1.0, get(d, "setIncidentCause", "incident", "causedBy", "causedIncidents", "totalCount"))
	d = ok(t, e.url, cause, map[string]any{"in": map[string]any{"incidentId": inc["id"], "changeId": nil}})
	assert.Nil(t, get(d, "setIncidentCause", "incident", "causedBy"))
	refusedWith(t, gql(t, e.url, cause, map[string]any{"in": map[string]any{"incidentId": inc["id"], "changeId": inc["id"]}}), "INVALID", "input.changeId")
	refusedWith(t, gql(t, e.url, q, map[string]any{"id": inc["id"], "h": 0}), "INVALID", "hours")
	refusedWith(t, gql(t, e.url, q, map[string]any{"id": inc["id"], "h": 721}), "INVALID", "hours")
	refusedWith(t, gql(t, e.url, q, map[string]any{"id": inc["id"], "d": 0}), "INVALID", "depth")

	// The CAB's view of the host failing: the open incident it would
	// worsen, and the changes planned on what it reaches.
	iq := `query($ids: [ID!]!, $from: Time, $to: Time) { impactAnalysis(ciIds: $ids) { impacted { ci { name } }
	  openIncidents { totalCount items { number state } }
	  changesInWindow(from: $from, to: $to) { totalCount items { number state plannedStartAt } } } }`
	d = ok(t, e.url, iq, map[string]any{"ids": []any{host}})
	assert.Len(t, get(d, "impactAnalysis", "impacted"), 3, "db, api, web")
	assert.Equal(t, 1.0, get(d, "impactAnalysis", "openIncidents", "totalCount"))
	assert.Equal(t, inc["number"], get(d, "impactAnalysis", "openIncidents", "items", 0, "number"))
	assert.Equal(t, 5.0, get(d, "impactAnalysis", "changesInWindow", "totalCount"),
		"the changes on web, db, host and api (two), not the one elsewhere")
	d = ok(t, e.url, iq, map[string]any{"ids": []any{host}, "from": "2040-01-01T00:00:00Z", "to": "2040-02-01T00:00:00Z"})
	assert.Equal(t, 0.0, get(d, "impactAnalysis", "changesInWindow", "totalCount"))
	refusedWith(t, gql(t, e.url, iq, map[string]any{"ids": []any{host}, "from": "2040-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}), "INVALID", "to")

	e.doOK(t, "", "cancelChange", "CancelChangeInput", map[string]any{"id": scheduledOnly["id"], "notes": "not needed"})
	d = ok(t, e.url, `query($id: ID!) { ci(id: $id) { open: changes { totalCount } all: changes(openOnly: false) { totalCount edges { node { number } } } } }`, map[string]any{"id": api})
	assert.Equal(t, 1.0, get(d, "ci", "open", "totalCount"), "the canceled one is not open")
	assert.Equal(t, 2.0, get(d, "ci", "all", "totalCount"))
}

// testChangeRisk: assessing takes the impact snapshot and computes the
// risk; a failed change on the same CI makes the next one high risk; a
// risk other than the computed one needs a reason; the live analysis is
// there to compare.
func testChangeRisk(t *testing.T, e *changeEnv) {
	cis := upsertIDs(t, e.url, item("Server", map[string]any{"name": "risk-host", "serial_number": "RISKHOST"}),
		item("Application", map[string]any{"name": "risk-app"}))
	host, app := cis[0], cis[1]
	d := ok(t, e.url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`,
		map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "DEPENDS_ON", "source": app, "target": host}}}})
	require.Equal(t, "CREATED", get(d, "createRelationships", "results", 0, "status"))
	start, end := window(80, 10, 1)
	q := `query($id: ID!) { change(id: $id) { risk computedRisk riskOverrideReason
	  impactSnapshot { ciCount impactedCount downCount failedChanges risk factors }
	  impactNow { impactedCount risk } } }`

	c := e.open(t, "NORMAL", start, end, host)
	d = ok(t, e.url, q, map[string]any{"id": c["id"]})
	assert.Nil(t, get(d, "change", "impactSnapshot"), "no snapshot before the assessment")
	assert.Equal(t, 1.0, get(d, "change", "impactNow", "impactedCount"), "the app depends on the host")
	e.doOK(t, "", "assessChange", "ChangeActionInput", map[string]any{"id": c["id"]})
	d = ok(t, e.url, q, map[string]any{"id": c["id"]})
	assert.Equal(t, map[string]any{"ciCount": 1.0, "impactedCount": 1.0, "downCount": 1.0, "failedChanges": 0.0, "risk": "LOW", "factors": []any{}},
		get(d, "change", "impactSnapshot"))
	assert.Equal(t, "LOW", get(d, "change", "risk"))
	assert.Equal(t, "LOW", get(d, "change", "computedRisk"))

	// Another change on the host goes wrong and is backed out.
	std := e.open(t, "STANDARD", start, end, host)
	for _, m := range []struct{ mutation, input string }{{"scheduleChange", "ScheduleChangeInput"}, {"implementChange", "ChangeActionInput"}, {"reviewChange", "ChangeActionInput"}} {
		e.doOK(t, "", m.mutation, m.input, map[string]any{"id": std["id"]})
	}
	e.doOK(t, "", "closeChange", "CloseChangeInput", map[string]any{"id": std["id"], "closeCode": "BACKED_OUT"})

	next := e.open(t, "NORMAL", start, end, host)
	e.doOK(t, "", "assessChange", "ChangeActionInput", map[string]any{"id": next["id"]})
	d = ok(t, e.url, q, map[string]any{"id": next["id"]})
	assert.Equal(t, "HIGH", get(d, "change", "computedRisk"))
	assert.Equal(t, 1.0, get(d, "change", "impactSnapshot", "failedChanges"))
	assert.Equal(t, []any{"1 change(s) on these CIs failed in the last 90 days"}, get(d, "change", "impactSnapshot", "factors"))

	upd := `mutation($in: UpdateChangeInput!) { updateChange(input: $in) { change { risk computedRisk riskOverrideReason } } }`
	refusedWith(t, gql(t, e.url, upd, map[string]any{"in": map[string]any{"id": next["id"], "risk": "LOW"}}), "INVALID", "input.riskOverrideReason")
	d = ok(t, e.url, upd, map[string]any{"in": map[string]any{"id": next["id"], "risk": "LOW", "riskOverrideReason": "the back-out was for an unrelated driver"}})
	assert.Equal(t, map[string]any{"risk": "LOW", "computedRisk": "HIGH", "riskOverrideReason": "the back-out was for an unrelated driver"},
		get(d, "updateChange", "change"))
	d = ok(t, e.url, upd, map[string]any{"in": map[string]any{"id": next["id"], "risk": "HIGH"}})
	assert.Nil(t, get(d, "updateChange", "change", "riskOverrideReason"), "back to the computed risk: no reason kept")
}
