package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const problemFields = `id number state stateCode priority rootCause knownError workaround resolutionCode allowedActions version
  incidents { totalCount edges { node { number } } } fixChange { number }`

// TestProblemAPI: problems over GraphQL on both backends: the whole life
// with its guards, known errors (a workaround required, found by text),
// incidents linked and moved, the fix change, and the CIs common to the
// dependency trees of the incidents, ranked.
func TestProblemAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			testProblemLife(t, srv.URL)
		})
	}
}

func problemDo(t *testing.T, url, mutation, input string, in map[string]any) gqlResponse {
	t.Helper()
	return gql(t, url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { problem { %s } } }`, input, mutation, problemFields), map[string]any{"in": in})
}

func problemOK(t *testing.T, url, mutation, input string, in map[string]any) map[string]any {
	t.Helper()
	r := problemDo(t, url, mutation, input, in)
	require.Empty(t, r.Errors, r.raw)
	return get(r.Data, mutation, "problem").(map[string]any)
}

func testProblemLife(t *testing.T, url string) {
	// Two web front ends on one shared database on one SAN.
	cis := upsertIDs(t, url, item("Application", map[string]any{"name": "prb-web1"}), item("Application", map[string]any{"name": "prb-web2"}),
		item("Server", map[string]any{"name": "prb-db", "serial_number": "PRBDB"}), item("StorageArray", map[string]any{"name": "prb-san", "serial_number": "PRBSAN"}),
		item("Server", map[string]any{"name": "prb-cache", "serial_number": "PRBCACHE"}))
	web1, web2, db, san, cache := cis[0], cis[1], cis[2], cis[3], cis[4]
	ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": []any{
		map[string]any{"type": "DEPENDS_ON", "source": web1, "target": db},
		map[string]any{"type": "DEPENDS_ON", "source": web2, "target": db},
		map[string]any{"type": "DEPENDS_ON", "source": db, "target": san},
		map[string]any{"type": "DEPENDS_ON", "source": web1, "target": cache},
	}}})
	i1 := openIncident(t, url, map[string]any{"shortDescription": "web1 slow", "affectedCIIds": []any{web1}})
	i2 := openIncident(t, url, map[string]any{"shortDescription": "web2 slow", "affectedCIIds": []any{web2}})
	i3 := openIncident(t, url, map[string]any{"shortDescription": "web1 timeouts", "affectedCIIds": []any{web1}})

	r := problemDo(t, url, "createProblem", "CreateProblemInput", map[string]any{"shortDescription": "x", "knownError": true})
	refusedWith(t, r, "INVALID", "input.workaround")
	p := problemOK(t, url, "createProblem", "CreateProblemInput", map[string]any{"shortDescription": "Front ends slow at peak", "impact": 2, "urgency": 2})
	id := p["id"].(string)
	assert.Regexp(t, `^PRB00\d{5}$`, p["number"])
	assert.Equal(t, "NEW", p["state"])
	assert.Equal(t, 101.0, p["stateCode"])
	assert.Equal(t, 3.0, p["priority"])

	link := `mutation($in: LinkIncidentToProblemInput!) { linkIncidentToProblem(input: $in) { incident { number problem { number } } } }`
	for _, inc := range []map[string]any{i1, i2, i3} {
		d := ok(t, url, link, map[string]any{"in": map[string]any{"incidentId": inc["id"], "problemId": id}})
		assert.Equal(t, p["number"], get(d, "linkIncidentToProblem", "incident", "problem", "number"))
	}
	cq := `query($id: ID!, $n: Int) { problem(id: $id) { incidents { totalCount } commonCauses(first: $n) { totalCount items { ci { name } incidents distance } } } }`
	d := ok(t, url, cq, map[string]any{"id": id})
	assert.Equal(t, 3.0, get(d, "problem", "incidents", "totalCount"))
	var causes []string
	for _, c := range get(d, "problem", "commonCauses", "items").([]any) {
		causes = append(causes, fmt.Sprintf("%s:%v:%v", get(c, "ci", "name"), get(c, "incidents"), get(c, "distance")))
	}
	assert.Equal(t, []string{"prb-db:3:1", "prb-san:3:2", "prb-web1:2:0", "prb-cache:2:1"}, causes,
		"shared by all three incidents first (the database, then the SAN behind it), then by two")
	d = ok(t, url, cq, map[string]any{"id": id, "n": 1})
	assert.Equal(t, 4.0, get(d, "problem", "commonCauses", "totalCount"), "the total says a cut list is cut")
	assert.Len(t, get(d, "problem", "commonCauses", "items"), 1)

	// Moving an incident to another problem, and unlinking one.
	other := problemOK(t, url, "createProblem", "CreateProblemInput", map[string]any{"shortDescription": "Cache evictions"})
	ok(t, url, link, map[string]any{"in": map[string]any{"incidentId": i3["id"], "problemId": other["id"]}})
	d = ok(t, url, link, map[string]any{"in": map[string]any{"incidentId": i2["id"], "problemId": nil}})
	assert.Nil(t, get(d, "linkIncidentToProblem", "incident", "problem"))
	d = ok(t, url, `query($id: ID!) { problem(id: $id) { incidents { totalCount edges { node { number } } } } }`, map[string]any{"id": id})
	assert.Equal(t, 1.0, get(d, "problem", "incidents", "totalCount"), "one incident has one problem")
	refusedWith(t, gql(t, url, link, map[string]any{"in": map[string]any{"incidentId": id, "problemId": id}}), "INVALID", "input.incidentId")

	// What is open around web1: its incidents, a problem on the database,
	// a change on the SAN behind it.
	dbProblem := problemOK(t, url, "createProblem", "CreateProblemInput", map[string]any{"shortDescription": "db slow queries", "affectedCIIds": []any{db}})
	sanChange := ok(t, url, `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { number } } }`,
		map[string]any{"in": map[string]any{"shortDescription": "SAN firmware", "affectedCIIds": []any{san}}})
	around := `query($id: ID!, $d: Int, $n: Int) { ci(id: $id) { openRecordsAround(depth: $d, first: $n) { totalCount items { distance ci { name }
	  record { __typename ... on Incident { number } ... on Problem { number } ... on Change { number } } } } } }`
	d = ok(t, url, around, map[string]any{"id": web1, "d": 2})
	var near []string
	for _, r := range get(d, "ci", "openRecordsAround", "items").([]any) {
		near = append(near, fmt.Sprintf("%v:%v@%v/%v", get(r, "record", "__typename"), get(r, "record", "number"), get(r, "ci", "name"), get(r, "distance")))
	}
	assert.Equal(t, []string{
		"Incident:" + i1["number"].(string) + "@prb-web1/0", "Incident:" + i3["number"].(string) + "@prb-web1/0",
		"Problem:" + dbProblem["number"].(string) + "@prb-db/1", "Change:" + get(sanChange, "createChange", "change", "number").(string) + "@prb-san/2",
	}, near)
	d = ok(t, url, around, map[string]any{"id": web1, "d": 1})
	assert.Equal(t, 3.0, get(d, "ci", "openRecordsAround", "totalCount"), "depth 1 stops before the SAN")
	d = ok(t, url, around, map[string]any{"id": web1, "d": 2, "n": 2})
	assert.Len(t, get(d, "ci", "openRecordsAround", "items"), 2)
	assert.Equal(t, 4.0, get(d, "ci", "openRecordsAround", "totalCount"), "a cut list says how many there are")

	// The workflow and its guards.
	in := map[string]any{"id": id}
	r = problemDo(t, url, "closeProblem", "ProblemActionInput", in)
	refusedWith(t, r, "CONFLICT", "input.id")
	assert.Equal(t, []any{"assess", "cancel"}, r.Errors[0].Extensions["allowedActions"])
	problemOK(t, url, "assessProblem", "ProblemActionInput", in)
	p = problemOK(t, url, "analyzeProblem", "ProblemActionInput", in)
	assert.Equal(t, "ROOT_CAUSE_ANALYSIS", p["state"])
	r = problemDo(t, url, "fixProblem", "ProblemActionInput", in)
	refusedWith(t, r, "INVALID", "input.rootCause")
	assert.Equal(t, "root_cause_given", r.Errors[0].Extensions["guard"])
	upd := `mutation($in: UpdateProblemInput!) { updateProblem(input: $in) { problem { ` + problemFields + ` } } }`
	r = gql(t, url, upd, map[string]any{"in": map[string]any{"id": id, "knownError": true}})
	refusedWith(t, r, "INVALID", "input.workaround")
	d = ok(t, url, upd, map[string]any{"in": map[string]any{"id": id, "rootCause": "The connection pool of prb-db is too small at peak.",
		"knownError": true, "workaround": "Restart the pool from the admin console; it holds for a day."}})
	assert.Equal(t, true, get(d, "updateProblem", "problem", "knownError"))

	// The known-error list finds it by its workaround, and not once closed.
	kq := `query($t: String) { knownErrors(text: $t) { totalCount edges { node { number } } } }`
	assert.Equal(t, 1.0, get(ok(t, url, kq, map[string]any{"t": "ADMIN CONSOLE"}), "knownErrors", "totalCount"))
	assert.Equal(t, 0.0, get(ok(t, url, kq, map[string]any{"t": "kernel"}), "knownErrors", "totalCount"))
	assert.Equal(t, 1.0, get(ok(t, url, kq, nil), "knownErrors", "totalCount"), "the other problem is not a known error")

	p = problemOK(t, url, "fixProblem", "ProblemActionInput", in)
	assert.Equal(t, "FIX_IN_PROGRESS", p["state"])
	fix := ok(t, url, `mutation { createChange(input: {shortDescription: "Enlarge the pool"}) { change { id number } } }`, nil)
	d = ok(t, url, `mutation($in: SetProblemFixChangeInput!) { setProblemFixChange(input: $in) { problem { fixChange { number } } } }`,
		map[string]any{"in": map[string]any{"problemId": id, "changeId": get(fix, "createChange", "change", "id")}})
	assert.Equal(t, get(fix, "createChange", "change", "number"), get(d, "setProblemFixChange", "problem", "fixChange", "number"))
	hq := `query($id: ID!) { problem(id: $id) { history { totalCount } } }`
	before := get(ok(t, url, hq, map[string]any{"id": id}), "problem", "history", "totalCount").(float64)
	rc := `mutation($in: SetProblemRootCauseCIInput!) { setProblemRootCauseCI(input: $in) { problem { rootCauseCI { name } } } }`
	refusedWith(t, gql(t, url, rc, map[string]any{"in": map[string]any{"problemId": id, "ciId": id}}), "INVALID", "input.ciId")
	d = ok(t, url, rc, map[string]any{"in": map[string]any{"problemId": id, "ciId": db}})
	assert.Equal(t, "prb-db", get(d, "setProblemRootCauseCI", "problem", "rootCauseCI", "name"))
	d = ok(t, url, rc, map[string]any{"in": map[string]any{"problemId": id, "ciId": san}})
	assert.Equal(t, "prb-san", get(d, "setProblemRootCauseCI", "problem", "rootCauseCI", "name"), "one root cause CI: setting another moves it")
	after := get(ok(t, url, hq, map[string]any{"id": id}), "problem", "history", "totalCount").(float64)
	assert.Greater(t, after, before, "the links written are in the problem's audit trail")
	p = problemOK(t, url, "resolveProblem", "ResolveProblemInput", map[string]any{"id": id, "resolutionCode": "FIX_APPLIED", "fixNotes": "pool doubled"})
	assert.Equal(t, "RESOLVED", p["state"])
	assert.Equal(t, 106.0, p["stateCode"])
	p = problemOK(t, url, "closeProblem", "ProblemActionInput", in)
	assert.Equal(t, "CLOSED", p["state"])
	assert.Empty(t, p["allowedActions"])
	assert.Equal(t, 0.0, get(ok(t, url, kq, map[string]any{"t": "admin console"}), "knownErrors", "totalCount"), "closed: no longer listed")
	refusedWith(t, gql(t, url, upd, map[string]any{"in": map[string]any{"id": id, "category": "x"}}), "CONFLICT", "")

	p = problemOK(t, url, "cancelProblem", "CancelProblemInput", map[string]any{"id": other["id"], "notes": "same as " + p["number"].(string)})
	assert.Equal(t, "CLOSED", p["state"])
	assert.Equal(t, "CANCELED", p["resolutionCode"])
}
