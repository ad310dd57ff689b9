package main

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/store"
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
			q := `query($id: ID!, $d: Int) { incident(id: $id) {
			  impactAnalysis(maxDepth: $d) { downCount truncated businessServices { ci { name } effect depth } impacted { ci { name } } } } }`
			d := ok(t, url, q, map[string]any{"id": inc["id"]})
			assert.Equal(t, []any{map[string]any{"ci": map[string]any{"name": "roll-payroll"}, "effect": "DOWN", "depth": 2.0}}, get(d, "incident", "impactAnalysis", "businessServices"))
			assert.Equal(t, 2.0, get(d, "incident", "impactAnalysis", "downCount"), "the app and the service")
			assert.Equal(t, false, get(d, "incident", "impactAnalysis", "truncated"))
			d = ok(t, url, q, map[string]any{"id": inc["id"], "d": 1})
			assert.Equal(t, []any{}, get(d, "incident", "impactAnalysis", "businessServices"), "one hop reaches the app only")
			refusedWith(t, gql(t, url, `query($id: ID!) { incident(id: $id) { impactAnalysis(maxDepth: 0) { downCount } } }`, map[string]any{"id": inc["id"]}), "INVALID", "maxDepth")
			none := openIncident(t, url, map[string]any{"shortDescription": "no CI yet"})
			d = ok(t, url, `query($id: ID!) { incident(id: $id) { impactAnalysis { downCount } } }`, map[string]any{"id": none["id"]})
			assert.Nil(t, get(d, "incident", "impactAnalysis"))
		})
	}
}

// TestChangeTemplates: the standard change catalog over GraphQL on both
// backends: standard changes come from a template (its fields copied
// where the change gives none), bad or retired templates are refused
// naming the field, and a refused change takes no number.
func TestChangeTemplates(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			tq := `mutation($in: CreateChangeTemplateInput!) { createChangeTemplate(input: $in) { changeTemplate { id name risk active shortDescription } } }`
			refusedWith(t, gql(t, url, tq, map[string]any{"in": map[string]any{"name": " "}}), "INVALID", "input.name")
			d := ok(t, url, tq, map[string]any{"in": map[string]any{"name": "Rotate TLS certificates", "shortDescription": "Rotate the TLS certificates of a web server",
				"backoutPlan": "Put the previous certificate back.", "category": "security"}})
			tpl := get(d, "createChangeTemplate", "changeTemplate").(map[string]any)
			assert.Equal(t, "LOW", tpl["risk"])
			assert.Equal(t, true, tpl["active"])
			refusedWith(t, gql(t, url, tq, map[string]any{"in": map[string]any{"name": "rotate tls CERTIFICATES"}}), "CONFLICT", "")
			web := upsertIDs(t, url, item("Server", map[string]any{"name": "tpl-web", "serial_number": "TPLWEB"}))[0]

			cq := `mutation($in: CreateChangeInput!) { createChange(input: $in) { change { number type shortDescription category backoutPlan risk template { name changes { totalCount } } } } }`
			first := ok(t, url, cq, map[string]any{"in": map[string]any{"templateId": tpl["id"], "affectedCIIds": []any{web}}})
			c := get(first, "createChange", "change").(map[string]any)
			assert.Equal(t, "STANDARD", c["type"])
			assert.Equal(t, "Rotate the TLS certificates of a web server", c["shortDescription"], "from the template")
			assert.Equal(t, "security", c["category"])
			assert.Equal(t, "Put the previous certificate back.", c["backoutPlan"])
			assert.Equal(t, "LOW", c["risk"])
			assert.Equal(t, "Rotate TLS certificates", get(c, "template", "name"))
			assert.Equal(t, 1.0, get(c, "template", "changes", "totalCount"))

			refusedWith(t, gql(t, url, cq, map[string]any{"in": map[string]any{"shortDescription": "x", "type": "STANDARD"}}), "INVALID", "input.type")
			refusedWith(t, gql(t, url, cq, map[string]any{"in": map[string]any{"templateId": tpl["id"], "type": "NORMAL"}}), "INVALID", "input.type")
			refusedWith(t, gql(t, url, cq, map[string]any{"in": map[string]any{"templateId": web}}), "INVALID", "input.templateId")
			refusedWith(t, gql(t, url, cq, map[string]any{"in": map[string]any{"templateId": graph.RecordGlobalID("change_template", store.ID(uuid.NewString()))}}), "NOT_FOUND", "input.templateId")
			ok(t, url, `mutation($in: UpdateChangeTemplateInput!) { updateChangeTemplate(input: $in) { changeTemplate { active } } }`,
				map[string]any{"in": map[string]any{"id": tpl["id"], "active": false}})
			refusedWith(t, gql(t, url, cq, map[string]any{"in": map[string]any{"templateId": tpl["id"]}}), "INVALID", "input.templateId")

			second := ok(t, url, cq, map[string]any{"in": map[string]any{"shortDescription": "Move the web server", "affectedCIIds": []any{web}}})
			n1, n2 := c["number"].(string), get(second, "createChange", "change", "number").(string)
			assert.Equal(t, n1[:len(n1)-1]+string(n1[len(n1)-1]+1), n2, "refused changes took no number")
			assert.Equal(t, "NORMAL", get(second, "createChange", "change", "type"))
			d = ok(t, url, `query($n: String!) { change(number: $n) { id } }`, map[string]any{"n": n2})
			uq := `mutation($in: UpdateChangeInput!) { updateChange(input: $in) { change { type } } }`
			refusedWith(t, gql(t, url, uq, map[string]any{"in": map[string]any{"id": get(d, "change", "id"), "type": "STANDARD"}}), "INVALID", "input.type")
			d = ok(t, url, `query($n: String!) { change(number: $n) { id } }`, map[string]any{"n": n1})
			d = ok(t, url, uq, map[string]any{"in": map[string]any{"id": get(d, "change", "id"), "type": "NORMAL"}})
			assert.Equal(t, "NORMAL", get(d, "updateChange", "change", "type"), "a standard change may become normal (and need approval)")
		})
	}
}
