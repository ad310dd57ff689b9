package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

const incidentFields = `id number shortDescription description state stateCode impact urgency priority priorityLabel
  onHoldReason resolutionCode resolutionNotes reopenCount openedAt resolvedAt closedAt version allowedActions
  caller { userName } assignedTo { userName } assignmentGroup { name } affectedCIs { totalCount edges { node { name } } }`

// TestIncidentAPI: incidents over GraphQL on both backends: opened with
// a number and a priority, linked to people, a group and CIs, walked
// through their whole life by actions, every refused transition and every
// guard, updates at a version, concurrent actions with one outcome,
// roles, and an audit record for every write.
func TestIncidentAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			t.Run("Lifecycle", func(t *testing.T) { testIncidentLifecycle(t, url) })
			t.Run("Refused", func(t *testing.T) { testIncidentRefused(t, url) })
			t.Run("Concurrent", func(t *testing.T) { testIncidentConcurrent(t, url) })
			t.Run("Roles", func(t *testing.T) { testIncidentRoles(t, url, a) })
			t.Run("SLA", func(t *testing.T) { testIncidentSLA(t, url) })
			t.Run("Journal", func(t *testing.T) { testIncidentJournal(t, url, a) })
		})
	}
}

// openIncident creates an incident and returns it.
func openIncident(t *testing.T, url string, in map[string]any) map[string]any {
	t.Helper()
	d := ok(t, url, `mutation($in: CreateIncidentInput!) { createIncident(input: $in) { incident { `+incidentFields+` } } }`, map[string]any{"in": in})
	return get(d, "createIncident", "incident").(map[string]any)
}

// act runs an incident action mutation (e.g. "resolveIncident") with
// input and returns the raw response.
func act(t *testing.T, url, mutation string, in map[string]any) gqlResponse {
	t.Helper()
	input := strings.ToUpper(mutation[:1]) + mutation[1:] + "Input"
	if mutation == "startIncident" || mutation == "resumeIncident" || mutation == "closeIncident" {
		input = "IncidentActionInput"
	}
	return gql(t, url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { incident { %s } } }`, input, mutation, incidentFields), map[string]any{"in": in})
}

// actOK runs an action that must succeed and returns the incident.
func actOK(t *testing.T, url, mutation string, in map[string]any) map[string]any {
	t.Helper()
	r := act(t, url, mutation, in)
	require.Empty(t, r.Errors, r.raw)
	return get(r.Data, mutation, "incident").(map[string]any)
}

// refusedWith checks an answer that must fail with code, naming field.
func refusedWith(t *testing.T, r gqlResponse, code, field string) string {
	t.Helper()
	require.Len(t, r.Errors, 1, r.raw)
	assert.Equal(t, code, r.Errors[0].Extensions["code"], r.raw)
	if field != "" {
		assert.Equal(t, field, r.Errors[0].Extensions["field"], r.raw)
	}
	return r.Errors[0].Message
}

func testIncidentLifecycle(t *testing.T, url string) {
	people := upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person",
		map[string]any{"user_name": "carol", "name": "Carol Caller"},
		map[string]any{"user_name": "eric", "name": "Eric Engineer"})
	groups := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group", map[string]any{"name": "Service Desk"})
	cis := upsertIDs(t, url, item("Application", map[string]any{"name": "payroll"}), item("Server", map[string]any{"name": "payroll-db", "serial_number": "PAYDB-1"}))

	inc := openIncident(t, url, map[string]any{"shortDescription": "Payroll is down", "description": "HTTP 500 on login",
		"impact": 1, "urgency": 2, "callerId": people[0], "assignmentGroupId": groups[0], "affectedCIIds": cis})
	id := inc["id"].(string)
	assert.Regexp(t, `^INC00\d{5}$`, inc["number"])
	assert.Equal(t, "NEW", inc["state"])
	assert.Equal(t, 1.0, inc["stateCode"])
	assert.Equal(t, 2.0, inc["priority"], "impact 1, urgency 2")
	assert.Equal(t, "High", inc["priorityLabel"])
	assert.Equal(t, []any{"CANCEL", "HOLD", "RESOLVE", "START"}, inc["allowedActions"])
	assert.Equal(t, "carol", get(inc, "caller", "userName"))
	assert.Equal(t, "Service Desk", get(inc, "assignmentGroup", "name"))
	assert.Nil(t, inc["assignedTo"])
	assert.Equal(t, 2.0, get(inc, "affectedCIs", "totalCount"))
	assert.NotEmpty(t, inc["openedAt"])

	second := openIncident(t, url, map[string]any{"shortDescription": "Payroll slow"})
	assert.Equal(t, 5.0, second["priority"], "impact and urgency default to 3")
	assert.Greater(t, second["number"], inc["number"], "numbers count up")

	// Found by number, by filter, from the CI, and by node(id:).
	d := ok(t, url, `query($n: String!) { incident(number: $n) { id } }`, map[string]any{"n": inc["number"]})
	assert.Equal(t, id, get(d, "incident", "id"))
	d = ok(t, url, `{ incidents(where: {attribute: "priority", lte: 2}) { totalCount edges { node { number } } } }`, nil)
	assert.Equal(t, 1.0, get(d, "incidents", "totalCount"))
	d = ok(t, url, `query($id: ID!) { ci(id: $id) { incidents { totalCount edges { node { number } } } } }`, map[string]any{"id": cis[1]})
	assert.Equal(t, inc["number"], get(d, "ci", "incidents", "edges", 0, "node", "number"))
	d = ok(t, url, `query($id: ID!) { node(id: $id) { ... on Incident { number state } } }`, map[string]any{"id": id})
	assert.Equal(t, inc["number"], get(d, "node", "number"))

	// Update: priority follows, null clears, links move, versions guard.
	upd := `mutation($in: UpdateIncidentInput!) { updateIncident(input: $in) { incident { ` + incidentFields + ` } } }`
	v := inc["version"].(float64)
	d = ok(t, url, upd, map[string]any{"in": map[string]any{"id": id, "expectedVersion": v, "urgency": 1, "description": nil,
		"assignedToId": people[1], "affectedCIIds": []any{cis[0]}}})
	inc = get(d, "updateIncident", "incident").(map[string]any)
	assert.Equal(t, 1.0, inc["priority"], "impact 1, urgency 1")
	assert.Nil(t, inc["description"])
	assert.Equal(t, "eric", get(inc, "assignedTo", "userName"))
	assert.Equal(t, "carol", get(inc, "caller", "userName"), "a link left out is kept")
	assert.Equal(t, 1.0, get(inc, "affectedCIs", "totalCount"))
	r := gql(t, url, upd, map[string]any{"in": map[string]any{"id": id, "expectedVersion": v, "urgency": 3}})
	refusedWith(t, r, "CONFLICT", "input.expectedVersion")
	assert.Equal(t, v+1, r.Errors[0].Extensions["currentVersion"])
	d = ok(t, url, upd, map[string]any{"in": map[string]any{"id": id, "callerId": nil}})
	assert.Nil(t, get(d, "updateIncident", "incident", "caller"), "null unlinks")

	// The whole life: start, hold, resume, resolve, reopen, resolve, close.
	inc = actOK(t, url, "startIncident", map[string]any{"id": id})
	assert.Equal(t, "IN_PROGRESS", inc["state"])
	inc = actOK(t, url, "holdIncident", map[string]any{"id": id, "reason": "AWAITING_VENDOR"})
	assert.Equal(t, "ON_HOLD", inc["state"])
	assert.Equal(t, 3.0, inc["stateCode"])
	assert.Equal(t, "AWAITING_VENDOR", inc["onHoldReason"])
	assert.Equal(t, []any{"CANCEL", "RESOLVE", "RESUME"}, inc["allowedActions"])
	inc = actOK(t, url, "resumeIncident", map[string]any{"id": id, "expectedVersion": inc["version"]})
	assert.Equal(t, "IN_PROGRESS", inc["state"])
	assert.Nil(t, inc["onHoldReason"])
	inc = actOK(t, url, "resolveIncident", map[string]any{"id": id, "resolutionCode": "SOLVED_WORKAROUND", "resolutionNotes": "restarted the app pool"})
	assert.Equal(t, "RESOLVED", inc["state"])
	assert.Equal(t, 6.0, inc["stateCode"])
	assert.Equal(t, "SOLVED_WORKAROUND", inc["resolutionCode"])
	assert.NotEmpty(t, inc["resolvedAt"])
	inc = actOK(t, url, "reopenIncident", map[string]any{"id": id, "reason": "failed again at 10:40"})
	assert.Equal(t, "IN_PROGRESS", inc["state"])
	assert.Equal(t, 1.0, inc["reopenCount"])
	assert.Nil(t, inc["resolvedAt"])
	assert.Nil(t, inc["resolutionCode"])
	actOK(t, url, "resolveIncident", map[string]any{"id": id, "resolutionCode": "SOLVED_PERMANENTLY", "resolutionNotes": "pool size fixed"})
	inc = actOK(t, url, "closeIncident", map[string]any{"id": id})
	assert.Equal(t, "CLOSED", inc["state"])
	assert.Equal(t, 7.0, inc["stateCode"])
	assert.NotEmpty(t, inc["closedAt"])
	assert.Empty(t, inc["allowedActions"])

	// The CI's open incidents no longer list it; all of them do.
	d = ok(t, url, `query($id: ID!) { ci(id: $id) { open: incidents { totalCount } all: incidents(openOnly: false) { totalCount } } }`, map[string]any{"id": cis[0]})
	assert.Equal(t, 0.0, get(d, "ci", "open", "totalCount"))
	assert.Equal(t, 1.0, get(d, "ci", "all", "totalCount"))

	// Every write left an audit record: create, 4 updates (attributes or
	// links), 7 actions.
	d = ok(t, url, `query($id: ID!) { node(id: $id) { ... on Incident { history(first: 100) { totalCount edges { node { action changes { field after } } } } } } }`, map[string]any{"id": id})
	var actions []string
	for _, e := range get(d, "node", "history", "edges").([]any) {
		actions = append(actions, get(e, "node", "action").(string))
	}
	assert.Contains(t, actions, "create")
	states := 0
	for _, e := range get(d, "node", "history", "edges").([]any) {
		for _, c := range get(e, "node", "changes").([]any) {
			if get(c, "field") == "state" {
				states++
			}
		}
	}
	assert.Equal(t, 8, states, "the create and seven actions each record the state they set")

	// Cancel, from new.
	c := actOK(t, url, "cancelIncident", map[string]any{"id": second["id"], "notes": "raised twice"})
	assert.Equal(t, "CANCELED", c["state"])
	assert.Equal(t, 8.0, c["stateCode"])
}

func testIncidentRefused(t *testing.T, url string) {
	inc := openIncident(t, url, map[string]any{"shortDescription": "VPN drops"})
	id := inc["id"].(string)

	// Actions the state does not allow: CONFLICT naming the allowed ones.
	for _, m := range []string{"resumeIncident", "closeIncident"} {
		r := act(t, url, m, map[string]any{"id": id})
		msg := refusedWith(t, r, "CONFLICT", "input.id")
		assert.Contains(t, msg, "allowed actions: cancel, hold, resolve, start", m)
		assert.Equal(t, "new", r.Errors[0].Extensions["state"], m)
		assert.Equal(t, []any{"cancel", "hold", "resolve", "start"}, r.Errors[0].Extensions["allowedActions"], m)
	}
	refusedWith(t, act(t, url, "reopenIncident", map[string]any{"id": id, "reason": "x"}), "CONFLICT", "input.id")

	// Guards: blank notes or reasons are INVALID, naming the input.
	r := act(t, url, "resolveIncident", map[string]any{"id": id, "resolutionCode": "DUPLICATE", "resolutionNotes": ""})
	msg := refusedWith(t, r, "INVALID", "input.resolutionNotes")
	assert.Contains(t, msg, "resolution_notes_given")
	assert.Equal(t, "resolution_notes_given", r.Errors[0].Extensions["guard"])
	actOK(t, url, "resolveIncident", map[string]any{"id": id, "resolutionCode": "DUPLICATE", "resolutionNotes": "same as INC0010001"})
	msg = refusedWith(t, act(t, url, "reopenIncident", map[string]any{"id": id, "reason": ""}), "INVALID", "input.reason")
	assert.Contains(t, msg, "reopen_reason_given")
	actOK(t, url, "closeIncident", map[string]any{"id": id})
	for _, m := range []string{"startIncident", "closeIncident", "resolveIncident", "cancelIncident"} {
		in := map[string]any{"id": id}
		if m == "resolveIncident" {
			in["resolutionCode"], in["resolutionNotes"] = "DUPLICATE", "x"
		}
		msg := refusedWith(t, act(t, url, m, in), "CONFLICT", "input.id")
		assert.Contains(t, msg, "allowed actions: none", m)
	}
	upd := `mutation($in: UpdateIncidentInput!) { updateIncident(input: $in) { incident { id } } }`
	msg = refusedWith(t, gql(t, url, upd, map[string]any{"in": map[string]any{"id": id, "urgency": 1}}), "CONFLICT", "")
	assert.Contains(t, msg, "closed")

	// Bad input names the field as written and writes nothing.
	create := `mutation($in: CreateIncidentInput!) { createIncident(input: $in) { incident { id } } }`
	before := get(ok(t, url, `{ incidents { totalCount } }`, nil), "incidents", "totalCount")
	for _, tt := range []struct {
		in    map[string]any
		code  string
		field string
	}{
		{map[string]any{"shortDescription": "x", "impact": 4}, "INVALID", "input.impact"},
		{map[string]any{"shortDescription": "x", "urgency": 0}, "INVALID", "input.urgency"},
		{map[string]any{"shortDescription": ""}, "INVALID", "input.shortDescription"},
		{map[string]any{"shortDescription": strings.Repeat("x", 161)}, "INVALID", "input.shortDescription"},
		{map[string]any{"shortDescription": "x", "callerId": id}, "INVALID", "input.callerId"},
		{map[string]any{"shortDescription": "x", "callerId": "nope"}, "INVALID", "input.callerId"},
		{map[string]any{"shortDescription": "x", "affectedCIIds": []any{id}}, "INVALID", "input.affectedCIIds[0]"},
	} {
		refusedWith(t, gql(t, url, create, map[string]any{"in": tt.in}), tt.code, tt.field)
	}
	assert.Equal(t, before, get(ok(t, url, `{ incidents { totalCount } }`, nil), "incidents", "totalCount"), "nothing was opened")
	missing := base64.RawURLEncoding.EncodeToString([]byte("Incident:" + uuid.NewString()))
	refusedWith(t, act(t, url, "startIncident", map[string]any{"id": missing}), "NOT_FOUND", "input.id")
	assert.Nil(t, get(ok(t, url, `query($id: ID!) { incident(id: $id) { id } }`, map[string]any{"id": missing}), "incident"))
	assert.Nil(t, get(ok(t, url, `{ incident(number: "INC9999999") { id } }`, nil), "incident"))
	r = gql(t, url, `{ incident(id: "x", number: "INC0010001") { id } }`, nil)
	refusedWith(t, r, "INVALID", "")
}

// testIncidentConcurrent: change managers acting at once on one incident
// leave one outcome: resolve and cancel race from in progress, exactly
// one wins, the other is a conflict; the incident is in the winner's
// state.
func testIncidentConcurrent(t *testing.T, url string) {
	for round := 0; round < 5; round++ {
		inc := openIncident(t, url, map[string]any{"shortDescription": fmt.Sprintf("race %d", round)})
		id := inc["id"].(string)
		actOK(t, url, "startIncident", map[string]any{"id": id})
		resolve := goGQL(url, `mutation($in: ResolveIncidentInput!) { resolveIncident(input: $in) { incident { state } } }`,
			map[string]any{"in": map[string]any{"id": id, "resolutionCode": "SOLVED_REMOTELY", "resolutionNotes": "fixed"}})
		cancel := goGQL(url, `mutation($in: CancelIncidentInput!) { cancelIncident(input: $in) { incident { state } } }`,
			map[string]any{"in": map[string]any{"id": id}})
		hold := goGQL(url, `mutation($in: HoldIncidentInput!) { holdIncident(input: $in) { incident { state } } }`,
			map[string]any{"in": map[string]any{"id": id, "reason": "AWAITING_CALLER"}})
		results := []gqlResponse{within(t, resolve, "resolve"), within(t, cancel, "cancel"), within(t, hold, "hold")}
		won := map[string]bool{}
		for i, r := range results {
			if len(r.Errors) == 0 {
				for _, m := range []string{"resolveIncident", "cancelIncident", "holdIncident"} {
					if s, ok := get(r.Data, m, "incident", "state").(string); ok {
						won[s] = true
					}
				}
				continue
			}
			require.Len(t, r.Errors, 1, "result %d: %s", i, r.raw)
			assert.Equal(t, "CONFLICT", r.Errors[0].Extensions["code"], r.raw)
		}
		final := get(ok(t, url, `query($id: ID!) { incident(id: $id) { state version } }`, map[string]any{"id": id}), "incident")
		require.NotEmpty(t, won, "round %d: one action won", round)
		assert.True(t, won[get(final, "state").(string)], "round %d: the stored state is a winner's: %v %v", round, won, final)
		// Hold then resolve may both succeed in turn (on hold -> resolved);
		// resolve and cancel never both.
		assert.False(t, won["RESOLVED"] && won["CANCELED"], "round %d: resolved and canceled both won", round)
		// Version: the create, the start and one write per winning action.
		assert.Equal(t, float64(2+len(won)), get(final, "version"), "round %d", round)
	}
}

func testIncidentRoles(t *testing.T, url string, a *app) {
	viewer := issueToken(t, a, "incident-viewer", auth.Viewer)
	agent := issueToken(t, a, "incident-agent", auth.Agent, "scanner")
	engineer := issueToken(t, a, "incident-engineer", auth.Engineer)
	body := func(q string, vars map[string]any) string {
		b, err := json.Marshal(map[string]any{"query": q, "variables": vars})
		require.NoError(t, err)
		return string(b)
	}
	create := body(`mutation($in: CreateIncidentInput!) { createIncident(input: $in) { incident { id number } } }`,
		map[string]any{"in": map[string]any{"shortDescription": "printer on fire"}})
	for _, tok := range []string{viewer, agent} {
		r := postAs(t, url, tok, create)
		require.Len(t, r.Errors, 1, r.raw)
		assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"], r.raw)
	}
	r := postAs(t, url, engineer, create)
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, http.StatusOK, r.status)
	r = postAs(t, url, viewer, body(`{ incidents { totalCount } }`, nil))
	require.Empty(t, r.Errors, r.raw)
	r = postAs(t, url, agent, body(`{ incidents { totalCount } }`, nil))
	require.Len(t, r.Errors, 1, r.raw)
	assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"], "agents do not read incidents")
	d := ok(t, url, `{ auditRecords(filter: {kinds: ["incident"]}, first: 100) { edges { node { actor source action } } } }`, nil)
	found := false
	for _, e := range get(d, "auditRecords", "edges").([]any) {
		if strings.HasPrefix(get(e, "node", "actor").(string), "incident-engineer (token ") && get(e, "node", "action") == "create" {
			found = true
		}
	}
	assert.True(t, found, "the engineer's create is audited under the token's name")
}

// testIncidentSLA: a critical incident's targets and due times (24x7),
// the pause on hold, and "breaching within" finding it by its response
// while new, by its resolution once started, and never while on hold.
func testIncidentSLA(t *testing.T, url string) {
	const sla = `id number openedAt sla { calendar responseTargetSeconds resolutionTargetSeconds responseDueAt respondedAt
	  responseBreached resolutionDueAt resolutionElapsedSeconds resolutionLeftSeconds resolutionBreached paused stopped }`
	d := ok(t, url, `mutation($in: CreateIncidentInput!) { createIncident(input: $in) { incident { `+sla+` } } }`,
		map[string]any{"in": map[string]any{"shortDescription": "core switch down", "impact": 1, "urgency": 1}})
	inc := get(d, "createIncident", "incident").(map[string]any)
	id, number := inc["id"].(string), inc["number"].(string)
	opened := mustTime(t, inc["openedAt"])
	assert.Equal(t, "24x7", get(inc, "sla", "calendar"))
	assert.Equal(t, 900.0, get(inc, "sla", "responseTargetSeconds"))
	assert.Equal(t, 14400.0, get(inc, "sla", "resolutionTargetSeconds"))
	assert.Equal(t, opened.Add(15*time.Minute), mustTime(t, get(inc, "sla", "responseDueAt")))
	assert.Equal(t, opened.Add(4*time.Hour), mustTime(t, get(inc, "sla", "resolutionDueAt")))
	assert.Nil(t, get(inc, "sla", "respondedAt"))
	assert.Equal(t, false, get(inc, "sla", "resolutionBreached"))

	within := func(minutes int) bool {
		d := ok(t, url, `query($m: Int) { incidents(breachingWithinMinutes: $m, first: 1000) { edges { node { number } } } }`, map[string]any{"m": minutes})
		for _, e := range get(d, "incidents", "edges").([]any) {
			if get(e, "node", "number") == number {
				return true
			}
		}
		return false
	}
	assert.False(t, within(10), "response due in 15 minutes")
	assert.True(t, within(20), "response due in 15 minutes")

	actOK(t, url, "startIncident", map[string]any{"id": id})
	d = ok(t, url, `query($id: ID!) { incident(id: $id) { `+sla+` } }`, map[string]any{"id": id})
	s := get(d, "incident", "sla")
	assert.NotNil(t, get(s, "respondedAt"))
	assert.Equal(t, false, get(s, "responseBreached"))
	assert.False(t, within(20), "responded: only the resolution, due in 4 hours, counts")
	assert.True(t, within(250))

	actOK(t, url, "holdIncident", map[string]any{"id": id, "reason": "AWAITING_VENDOR"})
	d = ok(t, url, `query($id: ID!) { incident(id: $id) { `+sla+` } }`, map[string]any{"id": id})
	s = get(d, "incident", "sla")
	assert.Equal(t, true, get(s, "paused"))
	assert.Nil(t, get(s, "resolutionDueAt"), "no due time while paused")
	assert.False(t, within(525600), "on hold: never breaching")
	left := get(s, "resolutionLeftSeconds").(float64)
	assert.InDelta(t, 14400, left, 120, "little of the target was used")

	actOK(t, url, "resumeIncident", map[string]any{"id": id})
	d = ok(t, url, `query($id: ID!) { incident(id: $id) { `+sla+` } }`, map[string]any{"id": id})
	s = get(d, "incident", "sla")
	assert.Equal(t, false, get(s, "paused"))
	due := mustTime(t, get(s, "resolutionDueAt"))
	assert.WithinDuration(t, time.Now().Add(time.Duration(left)*time.Second), due, 2*time.Minute, "the due time moved by the pause")
	actOK(t, url, "resolveIncident", map[string]any{"id": id, "resolutionCode": "SOLVED_PERMANENTLY", "resolutionNotes": "replaced"})
	d = ok(t, url, `query($id: ID!) { incident(id: $id) { `+sla+` } }`, map[string]any{"id": id})
	assert.Equal(t, true, get(d, "incident", "sla", "stopped"))
	assert.Equal(t, false, get(d, "incident", "sla", "resolutionBreached"))
	assert.False(t, within(525600), "resolved: never breaching")

	refusedWith(t, gql(t, url, `{ incidents(breachingWithinMinutes: -1) { totalCount } }`, nil), "INVALID", "breachingWithinMinutes")
	refusedWith(t, gql(t, url, `{ incidents(breachingWithinMinutes: 5, search: "x") { totalCount } }`, nil), "INVALID", "search")
}

func mustTime(t *testing.T, v any) time.Time {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "%v is a time", v)
	tm, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return tm
}

// testIncidentJournal: notes are entries of their own (two identical notes
// are two entries), newest first, filtered by type, with their author;
// blank text and unknown incidents are refused; viewers read, only
// editors write.
func testIncidentJournal(t *testing.T, url string, a *app) {
	inc := openIncident(t, url, map[string]any{"shortDescription": "mail queue stuck"})
	id := inc["id"].(string)
	add := `mutation($in: AddNoteInput!) { addIncidentNote(input: $in) { entry { id type text author record createdAt } incident { number version } } }`
	for i, n := range []map[string]any{
		{"type": "WORK_NOTE", "text": "restarting postfix"},
		{"type": "WORK_NOTE", "text": "restarting postfix"},
		{"type": "COMMENT", "text": "We are on it.\nNext update at 11:00."},
	} {
		n["id"] = id
		d := ok(t, url, add, map[string]any{"in": n})
		assert.Equal(t, n["type"], get(d, "addIncidentNote", "entry", "type"), "note %d", i)
		assert.Equal(t, n["text"], get(d, "addIncidentNote", "entry", "text"), "note %d", i)
		assert.Equal(t, inc["number"], get(d, "addIncidentNote", "entry", "record"), "note %d", i)
		assert.True(t, strings.HasPrefix(get(d, "addIncidentNote", "entry", "author").(string), "api-test"), "note %d", i)
		assert.Equal(t, inc["version"], get(d, "addIncidentNote", "incident", "version"), "a note does not change the incident")
	}
	d := ok(t, url, `query($id: ID!) { incident(id: $id) { all: journal { totalCount edges { node { type text } } }
	  comments: journal(type: COMMENT) { totalCount } notes: journal(type: WORK_NOTE, first: 1) { totalCount pageInfo { hasNextPage endCursor } } } }`,
		map[string]any{"id": id})
	assert.Equal(t, 3.0, get(d, "incident", "all", "totalCount"), "identical notes are two entries")
	assert.Equal(t, "COMMENT", get(d, "incident", "all", "edges", 0, "node", "type"), "newest first")
	assert.Equal(t, 1.0, get(d, "incident", "comments", "totalCount"))
	assert.Equal(t, 2.0, get(d, "incident", "notes", "totalCount"))
	assert.Equal(t, true, get(d, "incident", "notes", "pageInfo", "hasNextPage"))
	cursor := get(d, "incident", "notes", "pageInfo", "endCursor")
	d = ok(t, url, `query($id: ID!, $after: String) { incident(id: $id) { journal(type: WORK_NOTE, first: 5, after: $after) { edges { node { text } } pageInfo { hasNextPage } } } }`,
		map[string]any{"id": id, "after": cursor})
	assert.Len(t, get(d, "incident", "journal", "edges"), 1, "the second page holds the other note")
	assert.Equal(t, false, get(d, "incident", "journal", "pageInfo", "hasNextPage"))

	refusedWith(t, gql(t, url, add, map[string]any{"in": map[string]any{"id": id, "type": "COMMENT", "text": "   "}}), "INVALID", "input.text")
	refusedWith(t, gql(t, url, add, map[string]any{"in": map[string]any{"id": id, "type": "COMMENT", "text": strings.Repeat("x", 16385)}}), "INVALID", "input.text")
	missing := base64.RawURLEncoding.EncodeToString([]byte("Incident:" + uuid.NewString()))
	refusedWith(t, gql(t, url, add, map[string]any{"in": map[string]any{"id": missing, "type": "COMMENT", "text": "x"}}), "NOT_FOUND", "input.id")
	d = ok(t, url, `query($id: ID!) { incident(id: $id) { journal { totalCount } } }`, map[string]any{"id": id})
	assert.Equal(t, 3.0, get(d, "incident", "journal", "totalCount"), "refused notes wrote nothing")

	viewer := issueToken(t, a, "journal-viewer", auth.Viewer)
	b, err := json.Marshal(map[string]any{"query": `query($id: ID!) { incident(id: $id) { journal { totalCount } } }`, "variables": map[string]any{"id": id}})
	require.NoError(t, err)
	r := postAs(t, url, viewer, string(b))
	require.Empty(t, r.Errors, r.raw)
	b, err = json.Marshal(map[string]any{"query": add, "variables": map[string]any{"in": map[string]any{"id": id, "type": "COMMENT", "text": "hi"}}})
	require.NoError(t, err)
	r = postAs(t, url, viewer, string(b))
	require.Len(t, r.Errors, 1, r.raw)
	assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"])
}
