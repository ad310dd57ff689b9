package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChangeOutcomes: close codes kept per CI, and the change success rate
// per CI and per class, over GraphQL on both backends.
func TestChangeOutcomes(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			testChangeOutcomes(t, srv.URL)
		})
	}
}

func testChangeOutcomes(t *testing.T, url string) {
	cis := upsertIDs(t, url, item("Server", map[string]any{"name": "out-s1", "serial_number": "OUTS1"}),
		item("Server", map[string]any{"name": "out-s2", "serial_number": "OUTS2"}), item("Application", map[string]any{"name": "out-app"}))
	s1, s2, app := cis[0], cis[1], cis[2]
	start := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	// toReview takes a standard change through to review.
	toReview := func(what string, cis ...string) string {
		id, _ := newChange(t, url, what, start, start.Add(time.Hour), cis...)
		for _, a := range []string{"scheduleChange", "implementChange", "reviewChange"} {
			input := map[string]string{"scheduleChange": "ScheduleChangeInput"}[a]
			if input == "" {
				input = "ChangeActionInput"
			}
			in := map[string]any{"id": id}
			if a == "scheduleChange" {
				in["conflictOverrideReason"] = "test" // the changes share CIs
			}
			r := changeDo(t, url, a, input, in)
			require.Empty(t, r.Errors, r.raw)
		}
		return id
	}
	a := toReview("Patch the pool", s1, s2, app)
	closeQ := `mutation($in: CloseChangeInput!) { closeChange(input: $in) { change { state ciCloseCodes { ci { name } closeCode } } } }`
	refusedWith(t, gql(t, url, closeQ, map[string]any{"in": map[string]any{"id": a, "closeCode": "SUCCESSFUL",
		"ciCloseCodes": []any{map[string]any{"ciId": upsertIDs(t, url, item("Server", map[string]any{"name": "out-elsewhere", "serial_number": "OUTX"}))[0], "closeCode": "BACKED_OUT"}}}}),
		"INVALID", "input.ciCloseCodes")
	refusedWith(t, gql(t, url, closeQ, map[string]any{"in": map[string]any{"id": a, "closeCode": "SUCCESSFUL",
		"ciCloseCodes": []any{map[string]any{"ciId": s2, "closeCode": "BACKED_OUT"}, map[string]any{"ciId": s2, "closeCode": "UNSUCCESSFUL"}}}}),
		"INVALID", "input.ciCloseCodes[1].ciId")
	d := ok(t, url, `query($id: ID!) { change(id: $id) { state ciCloseCodes { closeCode } } }`, map[string]any{"id": a})
	assert.Equal(t, "REVIEW", get(d, "change", "state"), "refused closes changed nothing")
	assert.Equal(t, []any{}, get(d, "change", "ciCloseCodes"), "none before it is closed")
	d = ok(t, url, closeQ, map[string]any{"in": map[string]any{"id": a, "closeCode": "SUCCESSFUL",
		"ciCloseCodes": []any{map[string]any{"ciId": s2, "closeCode": "BACKED_OUT"}}}})
	byCI := map[string]any{}
	for _, c := range get(d, "closeChange", "change", "ciCloseCodes").([]any) {
		byCI[get(c, "ci", "name").(string)] = get(c, "closeCode")
	}
	assert.Equal(t, map[string]any{"out-s1": "SUCCESSFUL", "out-s2": "BACKED_OUT", "out-app": "SUCCESSFUL"}, byCI)

	b := toReview("Resize s1", s1)
	ok(t, url, closeQ, map[string]any{"in": map[string]any{"id": b, "closeCode": "UNSUCCESSFUL"}})
	c, _ := newChange(t, url, "Never done", start, start.Add(time.Hour), app)
	require.Empty(t, changeDo(t, url, "cancelChange", "CancelChangeInput", map[string]any{"id": c}).Errors)

	perCI := `query($id: ID!, $since: Time) { ci(id: $id) { changeOutcomes(since: $since) { total successful successfulWithIssues unsuccessful backedOut successRate } } }`
	for _, tc := range []struct {
		ci   string
		want map[string]any
	}{
		{s1, map[string]any{"total": 2.0, "successful": 1.0, "successfulWithIssues": 0.0, "unsuccessful": 1.0, "backedOut": 0.0, "successRate": 0.5}},
		{s2, map[string]any{"total": 1.0, "successful": 0.0, "successfulWithIssues": 0.0, "unsuccessful": 0.0, "backedOut": 1.0, "successRate": 0.0}},
		{app, map[string]any{"total": 1.0, "successful": 1.0, "successfulWithIssues": 0.0, "unsuccessful": 0.0, "backedOut": 0.0, "successRate": 1.0}},
	} {
		d = ok(t, url, perCI, map[string]any{"id": tc.ci})
		assert.Equal(t, tc.want, get(d, "ci", "changeOutcomes"))
	}
	d = ok(t, url, perCI, map[string]any{"id": s1, "since": time.Now().Add(time.Hour).Format(time.RFC3339)})
	assert.Equal(t, 0.0, get(d, "ci", "changeOutcomes", "total"))
	assert.Nil(t, get(d, "ci", "changeOutcomes", "successRate"), "no rate without changes")

	d = ok(t, url, `{ changeOutcomesByClass { class outcomes { total successful unsuccessful backedOut successRate } } }`, nil)
	assert.Equal(t, []any{
		map[string]any{"class": "Server", "outcomes": map[string]any{"total": 3.0, "successful": 1.0, "unsuccessful": 1.0, "backedOut": 1.0, "successRate": 1.0 / 3}},
		map[string]any{"class": "Application", "outcomes": map[string]any{"total": 1.0, "successful": 1.0, "unsuccessful": 0.0, "backedOut": 0.0, "successRate": 1.0}},
	}, get(d, "changeOutcomesByClass"))
}

// TestIncidentRollsUpToServices: an incident's affected CIs roll up to the
// business services impact analysis reaches from them, on both backends.
func TestIncidentRollsUpToServices(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			cis := upsertIDs(t, url, item("BusinessService", map[string]any{"name": "roll-payroll"}), item("Application", map[string]any{"name": "roll-app"}),
				item("Server", map[string]any{"name": "roll-db", "serial_number": "ROLLDB"}), item("BusinessService", map[string]any{"name": "roll-unrelated"}))
			svc, app, db := cis[0], cis[1], cis[2]
			ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": []any{
				map[string]any{"type": "PROVIDED_BY", "source": svc, "target": app},
				map[string]any{"type": "DEPENDS_ON", "source": app, "target": db},
			}}})
			inc := openIncident(t, url, map[string]any{"shortDescription": "db down", "affectedCIIds": []any{db}})
			q := `query($id: ID!, $d: Int) { incident(id: $id) { businessServices(maxDepth: $d) { ci { name } effect depth }
			  impactAnalysis(maxDepth: $d) { downCount truncated impacted { ci { name } } } } }`
			d := ok(t, url, q, map[string]any{"id": inc["id"]})
			assert.Equal(t, []any{map[string]any{"ci": map[string]any{"name": "roll-payroll"}, "effect": "DOWN", "depth": 2.0}}, get(d, "incident", "businessServices"))
			assert.Equal(t, 2.0, get(d, "incident", "impactAnalysis", "downCount"), "the app and the service")
			assert.Equal(t, false, get(d, "incident", "impactAnalysis", "truncated"))
			d = ok(t, url, q, map[string]any{"id": inc["id"], "d": 1})
			assert.Equal(t, []any{}, get(d, "incident", "businessServices"), "one hop reaches the app only")
			refusedWith(t, gql(t, url, `query($id: ID!) { incident(id: $id) { businessServices(maxDepth: 0) { depth } } }`, map[string]any{"id": inc["id"]}), "INVALID", "maxDepth")
			none := openIncident(t, url, map[string]any{"shortDescription": "no CI yet"})
			d = ok(t, url, `query($id: ID!) { incident(id: $id) { businessServices { ci { name } } impactAnalysis { downCount } } }`, map[string]any{"id": none["id"]})
			assert.Equal(t, []any{}, get(d, "incident", "businessServices"))
			assert.Nil(t, get(d, "incident", "impactAnalysis"))
		})
	}
}
