package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChangeWindowsAndImpactConflicts: maintenance windows and blackouts
// over GraphQL on both backends (bad input named, occurrences, retiring),
// the conflicts they give a change's window and the conflicts through
// impact with changes on related CIs, and scheduling refused over them
// unless overridden with a reason.
func TestChangeWindowsAndImpactConflicts(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			testChangeWindows(t, srv.URL)
		})
	}
}

const windowFields = `id name type startAt endAt recurrence until timeZone active appliesToAllCIs version`

func windowDo(t *testing.T, url, mutation, input string, in map[string]any) gqlResponse {
	t.Helper()
	return gql(t, url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { changeWindow { %s } } }`, input, mutation, windowFields), map[string]any{"in": in})
}

// newChange opens a standard change on cis over [start, end) and returns
// its ID and number.
func newChange(t *testing.T, url, what string, start, end time.Time, cis ...string) (string, string) {
	t.Helper()
	d := ok(t, url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { id number } } }`, map[string]any{"in": map[string]any{
		"shortDescription": what, "templateId": stdTemplate(t, url), "affectedCIIds": cis,
		"plannedStartAt": start.Format(time.RFC3339), "plannedEndAt": end.Format(time.RFC3339)}})
	return get(d, "createChange", "change", "id").(string), get(d, "createChange", "change", "number").(string)
}

// conflictsOf lists a change's conflicts as kind:number:ci,ci.
func conflictsOf(t *testing.T, url, id string) []string {
	t.Helper()
	d := ok(t, url, `query($id: ID!) { change(id: $id) { conflicts { kind number plannedStartAt cis { name } change { number } window { name } } } }`, map[string]any{"id": id})
	out := []string{}
	for _, c := range get(d, "change", "conflicts").([]any) {
		s := fmt.Sprintf("%v:%v:", get(c, "kind"), get(c, "number"))
		for i, ci := range get(c, "cis").([]any) {
			if i > 0 {
				s += ","
			}
			s += get(ci, "name").(string)
		}
		switch get(c, "kind") {
		case "CHANGE", "IMPACT":
			assert.Equal(t, get(c, "number"), get(c, "change", "number"))
		case "BLACKOUT", "OUTSIDE_MAINTENANCE_WINDOW":
			assert.Equal(t, get(c, "number"), get(c, "window", "name"))
		}
		out = append(out, s)
	}
	return out
}

func testChangeWindows(t *testing.T, url string) {
	cis := upsertIDs(t, url, item("Application", map[string]any{"name": "win-app"}),
		item("Server", map[string]any{"name": "win-db", "serial_number": "WINDB"}),
		item("Server", map[string]any{"name": "win-host", "serial_number": "WINHOST"}),
		item("Server", map[string]any{"name": "win-other", "serial_number": "WINOTHER"}))
	app, db, host, other := cis[0], cis[1], cis[2], cis[3]
	ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": []any{
		map[string]any{"type": "DEPENDS_ON", "source": app, "target": db},
		map[string]any{"type": "RUNS_ON", "source": db, "target": host},
	}}})

	// Bad windows are refused, naming the field; nothing is written.
	bad := []struct {
		in    map[string]any
		code  string
		field string
	}{
		{map[string]any{"name": "w", "type": "MAINTENANCE", "startAt": "2031-03-02T02:00:00Z", "endAt": "2031-03-02T01:00:00Z"}, "INVALID", "input.endAt"},
		{map[string]any{"name": "w", "type": "MAINTENANCE", "startAt": "2031-03-02T02:00:00Z", "endAt": "2031-03-04T01:00:00Z", "recurrence": "DAILY"}, "INVALID", "input.endAt"},
		{map[string]any{"name": "w", "type": "MAINTENANCE", "startAt": "2031-03-02T02:00:00Z", "endAt": "2031-03-02T04:00:00Z", "timeZone": "Mars/Olympus"}, "INVALID", "input.timeZone"},
		{map[string]any{"name": "w", "type": "MAINTENANCE", "startAt": "2031-03-02T02:00:00Z", "endAt": "2031-03-02T04:00:00Z", "recurrence": "WEEKLY", "until": "2030-01-01T00:00:00Z"}, "INVALID", "input.until"},
		{map[string]any{"name": "", "type": "MAINTENANCE", "startAt": "2031-03-02T02:00:00Z", "endAt": "2031-03-02T04:00:00Z"}, "INVALID", "input.name"},
	}
	for _, b := range bad {
		refusedWith(t, windowDo(t, url, "createChangeWindow", "CreateChangeWindowInput", b.in), b.code, b.field)
	}
	d := ok(t, url, `{ changeWindows { totalCount } }`, nil)
	require.Equal(t, 0.0, get(d, "changeWindows", "totalCount"), "refused windows left nothing")

	// The database is changed on Sundays, 02:00 to 06:00 UTC, only.
	r := windowDo(t, url, "createChangeWindow", "CreateChangeWindowInput", map[string]any{"name": "DB Sundays", "type": "MAINTENANCE",
		"startAt": "2031-03-02T02:00:00Z", "endAt": "2031-03-02T06:00:00Z", "recurrence": "WEEKLY", "ciIds": []any{db}})
	require.Empty(t, r.Errors, r.raw)
	sundays := get(r.Data, "createChangeWindow", "changeWindow").(map[string]any)
	assert.Equal(t, "WEEKLY", sundays["recurrence"])
	assert.Equal(t, "UTC", sundays["timeZone"])
	assert.Equal(t, false, sundays["appliesToAllCIs"])
	refusedWith(t, windowDo(t, url, "createChangeWindow", "CreateChangeWindowInput", map[string]any{"name": "db sundays", "type": "BLACKOUT",
		"startAt": "2031-03-02T02:00:00Z", "endAt": "2031-03-02T06:00:00Z"}), "CONFLICT", "")
	d = ok(t, url, `{ changeWindow(name: "db SUNDAYS") { name occurrences(from: "2031-03-04T00:00:00Z", first: 2) { startAt endAt } cis { edges { node { name } } } } }`, nil)
	assert.Equal(t, []any{
		map[string]any{"startAt": "2031-03-09T02:00:00Z", "endAt": "2031-03-09T06:00:00Z"},
		map[string]any{"startAt": "2031-03-16T02:00:00Z", "endAt": "2031-03-16T06:00:00Z"},
	}, get(d, "changeWindow", "occurrences"))
	assert.Equal(t, "win-db", get(d, "changeWindow", "cis", "edges", 0, "node", "name"))
	refusedWith(t, gql(t, url, `{ changeWindow(name: "DB Sundays") { occurrences(first: 101) { startAt } } }`, nil), "INVALID", "first")

	wednesday := time.Date(2031, 3, 5, 10, 0, 0, 0, time.UTC)
	chg, chgNumber := newChange(t, url, "Add an index", wednesday, wednesday.Add(time.Hour), db)
	assert.Equal(t, []string{"OUTSIDE_MAINTENANCE_WINDOW:DB Sundays:win-db"}, conflictsOf(t, url, chg))
	d = ok(t, url, `query($id: ID!) { change(id: $id) { conflicts { plannedStartAt plannedEndAt } } }`, map[string]any{"id": chg})
	assert.Equal(t, "2031-03-09T02:00:00Z", get(d, "change", "conflicts", 0, "plannedStartAt"), "the next occurrence")
	msg := refusedWith(t, changeDo(t, url, "scheduleChange", "ScheduleChangeInput", map[string]any{"id": chg}), "CONFLICT", "input.conflictOverrideReason")
	assert.Contains(t, msg, "maintenance window DB Sundays")
	sunday := time.Date(2031, 3, 9, 3, 0, 0, 0, time.UTC)
	ok(t, url, `mutation($in: UpdateChangeInput!) { updateChange(input: $in) { change { id } } }`, map[string]any{"in": map[string]any{"id": chg,
		"plannedStartAt": sunday.Format(time.RFC3339), "plannedEndAt": sunday.Add(time.Hour).Format(time.RFC3339)}})
	assert.Equal(t, []string{}, conflictsOf(t, url, chg), "inside the window")
	require.Empty(t, changeDo(t, url, "scheduleChange", "ScheduleChangeInput", map[string]any{"id": chg}).Errors)

	// Conflicts through impact: the host under the database, and the
	// application above it, changed at the same time; not an unrelated
	// server.
	hostChg, hostNumber := newChange(t, url, "Host firmware", sunday.Add(30*time.Minute), sunday.Add(2*time.Hour), host)
	appChg, _ := newChange(t, url, "Deploy the app", sunday.Add(15*time.Minute), sunday.Add(45*time.Minute), app)
	otherChg, _ := newChange(t, url, "Other server", sunday, sunday.Add(time.Hour), other)
	assert.Equal(t, []string{"IMPACT:" + chgNumber + ":win-db"}, conflictsOf(t, url, hostChg), "the host's change sees the database's, which depends on it")
	assert.Equal(t, []string{"IMPACT:" + chgNumber + ":win-db"}, conflictsOf(t, url, appChg), "the app's change sees the database's, which it depends on")
	assert.Equal(t, []string{}, conflictsOf(t, url, otherChg))
	require.Empty(t, changeDo(t, url, "scheduleChange", "ScheduleChangeInput", map[string]any{"id": hostChg, "conflictOverrideReason": "same team, one window"}).Errors)
	assert.Equal(t, []string{"IMPACT:" + chgNumber + ":win-db", "IMPACT:" + hostNumber + ":win-host"}, conflictsOf(t, url, appChg), "two steps down too")
	assert.Equal(t, []string{"IMPACT:" + hostNumber + ":win-host"}, conflictsOf(t, url, chg), "a scheduled change sees those scheduled after it")

	// A global blackout: every CI, even a change without CIs.
	r = windowDo(t, url, "createChangeWindow", "CreateChangeWindowInput", map[string]any{"name": "Year-end freeze", "type": "BLACKOUT",
		"startAt": "2031-12-20T00:00:00Z", "endAt": "2032-01-03T00:00:00Z"})
	require.Empty(t, r.Errors, r.raw)
	freeze := get(r.Data, "createChangeWindow", "changeWindow").(map[string]any)
	assert.Equal(t, true, freeze["appliesToAllCIs"])
	nye := time.Date(2031, 12, 31, 12, 0, 0, 0, time.UTC)
	c1, _ := newChange(t, url, "New year banner", nye, nye.Add(time.Hour), other)
	c2, _ := newChange(t, url, "Rotate the shared secret", nye, nye.Add(time.Hour))
	assert.Equal(t, []string{"BLACKOUT:Year-end freeze:win-other"}, conflictsOf(t, url, c1))
	assert.Equal(t, []string{"BLACKOUT:Year-end freeze:"}, conflictsOf(t, url, c2))
	msg = refusedWith(t, changeDo(t, url, "scheduleChange", "ScheduleChangeInput", map[string]any{"id": c1}), "CONFLICT", "input.conflictOverrideReason")
	assert.Contains(t, msg, "blackout Year-end freeze")
	r = changeDo(t, url, "scheduleChange", "ScheduleChangeInput", map[string]any{"id": c1, "conflictOverrideReason": "the CEO asked"})
	require.Empty(t, r.Errors, r.raw)

	// Retired, it no longer applies; its history says who did what.
	r = windowDo(t, url, "updateChangeWindow", "UpdateChangeWindowInput", map[string]any{"id": freeze["id"], "active": false, "expectedVersion": 1})
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, false, get(r.Data, "updateChangeWindow", "changeWindow", "active"))
	assert.Equal(t, []string{}, conflictsOf(t, url, c2))
	refusedWith(t, windowDo(t, url, "updateChangeWindow", "UpdateChangeWindowInput", map[string]any{"id": freeze["id"], "active": true, "expectedVersion": 1}), "CONFLICT", "input.expectedVersion")
	refusedWith(t, windowDo(t, url, "updateChangeWindow", "UpdateChangeWindowInput", map[string]any{"id": freeze["id"], "endAt": "2031-12-01T00:00:00Z"}), "INVALID", "input.endAt")
	d = ok(t, url, `query($id: ID!) { changeWindow(id: $id) { version history { totalCount } } changeWindows(where: {attribute: "type", eq: "blackout"}) { totalCount } }`, map[string]any{"id": freeze["id"]})
	assert.Equal(t, 2.0, get(d, "changeWindow", "version"))
	assert.Equal(t, 2.0, get(d, "changeWindow", "history", "totalCount"))
	assert.Equal(t, 1.0, get(d, "changeWindows", "totalCount"))
	d = ok(t, url, `query($id: ID!) { node(id: $id) { __typename ... on ChangeWindow { name } } }`, map[string]any{"id": freeze["id"]})
	assert.Equal(t, "Year-end freeze", get(d, "node", "name"))
}
