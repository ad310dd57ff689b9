package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

// amAlert is one alert as Alertmanager's webhook sends it.
func amAlert(status, fingerprint, alertname, severity string, labels map[string]string) map[string]any {
	l := map[string]any{"alertname": alertname, "severity": severity, "job": "node"}
	for k, v := range labels {
		l[k] = v
	}
	a := map[string]any{
		"status": status, "labels": l, "fingerprint": fingerprint,
		"annotations":  map[string]any{"summary": alertname + " on " + labels["instance"] + labels["service"], "description": "From the test."},
		"startsAt":     "2026-12-03T10:00:00.000Z",
		"endsAt":       "0001-01-01T00:00:00Z",
		"generatorURL": "http://prometheus.example:9090/graph?g0.expr=up+%3D%3D+0",
	}
	if status == "resolved" {
		a["endsAt"] = "2026-12-03T10:20:00.000Z"
	}
	return a
}

// notification is Alertmanager's webhook payload, version 4.
func notification(status string, alerts ...map[string]any) map[string]any {
	return map[string]any{
		"version": "4", "groupKey": `{}/{severity="critical"}:{alertname="InstanceDown"}`, "truncatedAlerts": 0,
		"status": status, "receiver": "skein", "groupLabels": map[string]any{"alertname": "InstanceDown"},
		"commonLabels": map[string]any{"job": "node"}, "commonAnnotations": map[string]any{},
		"externalURL": "http://alertmanager.example:9093", "alerts": alerts,
	}
}

type amResult struct {
	Received int `json:"received"`
	Results  []struct {
		Fingerprint, Status, Action, Incident, Number, CI string
	} `json:"results"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	status int
}

func postAlerts(t *testing.T, url, tok string, body any) amResult {
	t.Helper()
	var r amResult
	r.status = postREST(t, url+"/api/v1/alerts/alertmanager", tok, body, &r)
	return r
}

// postREST posts body (a string or []byte as is, else its JSON) to a REST
// endpoint with tok as bearer token ("" for none), decodes the JSON answer
// into out and returns the status.
func postREST(t *testing.T, endpoint, tok string, body, out any) int {
	t.Helper()
	var raw []byte
	switch x := body.(type) {
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	default:
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, out), string(b))
	return resp.StatusCode
}

// TestAlertmanagerWebhook: Alertmanager's webhook over HTTP on both
// backends: a flood of alerts below one failed CI opens one incident on
// it, every alert recorded; the same notification again changes nothing;
// an alert on no known CI opens its own incident; resolved alerts clear,
// and the last resolves the incident; bad payloads and roles are refused.
func TestAlertmanagerWebhook(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			cis := upsertIDs(t, url, item("Application", map[string]any{"name": "am-app1"}), item("Application", map[string]any{"name": "am-app2"}),
				item("Server", map[string]any{"name": "am-db", "serial_number": "AMDB", "fqdn": "am-db.example.com"}))
			app1, app2, db := cis[0], cis[1], cis[2]
			ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": []any{
				map[string]any{"type": "DEPENDS_ON", "source": app1, "target": db},
				map[string]any{"type": "DEPENDS_ON", "source": app2, "target": db},
			}}})
			monitor := issueToken(t, a, "prometheus", auth.Monitor)

			flood := notification("firing",
				amAlert("firing", "fp-app1", "HighLatency", "warning", map[string]string{"instance": "am-app1:9100"}),
				amAlert("firing", "fp-app2", "HighLatency", "warning", map[string]string{"service": "AM-APP2"}),
				amAlert("firing", "fp-db", "InstanceDown", "critical", map[string]string{"instance": "am-db.example.com:9100"}))
			r := postAlerts(t, url, monitor, flood)
			require.Equal(t, http.StatusOK, r.status, "%+v", r.Errors)
			require.Len(t, r.Results, 3)
			actions := map[string]string{}
			incidents := map[string]bool{}
			for _, o := range r.Results {
				actions[o.Fingerprint] = o.Action
				incidents[o.Incident] = true
			}
			assert.Len(t, incidents, 1, "one incident for the flood")
			assert.ElementsMatch(t, []string{"opened", "grouped", "grouped"}, []string{actions["fp-app1"], actions["fp-app2"], actions["fp-db"]})
			assert.Equal(t, db, r.Results[2].CI, "matched by FQDN, port dropped")
			assert.Equal(t, app2, r.Results[1].CI, "matched by name, ignoring case")
			incID := r.Results[0].Incident
			d := ok(t, url, `query($id: ID!) { incident(id: $id) { number state priority category
			  affectedCIs { totalCount } journal(type: WORK_NOTE) { totalCount } history(first: 1) { edges { node { actor source } } } } }`, map[string]any{"id": incID})
			assert.Equal(t, 1.0, get(d, "incident", "priority"), "critical: impact 1, urgency 1")
			assert.Equal(t, "monitoring", get(d, "incident", "category"))
			assert.Equal(t, 3.0, get(d, "incident", "affectedCIs", "totalCount"), "the cause and the alerting CIs")
			assert.Equal(t, 3.0, get(d, "incident", "journal", "totalCount"), "each alert recorded")
			d2 := ok(t, url, `query($ci: ID!) { ci(id: $ci) { incidents { totalCount } } }`, map[string]any{"ci": db})
			assert.Equal(t, 1.0, get(d2, "ci", "incidents", "totalCount"), "on the likeliest common cause")

			r = postAlerts(t, url, monitor, flood)
			for _, o := range r.Results {
				assert.Equal(t, "updated", o.Action, o.Fingerprint)
				assert.Equal(t, incID, o.Incident)
			}
			d = ok(t, url, `{ incidents(where: {attribute: "category", eq: "monitoring"}) { totalCount } }`, nil)
			assert.Equal(t, 1.0, get(d, "incidents", "totalCount"), "deduplicated by fingerprint")

			r = postAlerts(t, url, monitor, notification("firing", amAlert("firing", "fp-nowhere", "DiskFull", "info", map[string]string{"instance": "nowhere:9100"})))
			require.Len(t, r.Results, 1)
			assert.Equal(t, "opened", r.Results[0].Action)
			assert.Empty(t, r.Results[0].CI)
			assert.NotEqual(t, incID, r.Results[0].Incident)

			r = postAlerts(t, url, monitor, notification("resolved",
				amAlert("resolved", "fp-app1", "HighLatency", "warning", map[string]string{"instance": "am-app1:9100"}),
				amAlert("resolved", "fp-app2", "HighLatency", "warning", map[string]string{"service": "am-app2"}),
				amAlert("resolved", "fp-unknown", "Gone", "info", nil)))
			assert.Equal(t, []string{"cleared", "cleared", "unmatched"}, []string{r.Results[0].Action, r.Results[1].Action, r.Results[2].Action})
			d = ok(t, url, `query($id: ID!) { incident(id: $id) { state } }`, map[string]any{"id": incID})
			assert.Equal(t, "NEW", get(d, "incident", "state"), "the database still fires")
			r = postAlerts(t, url, monitor, notification("resolved", amAlert("resolved", "fp-db", "InstanceDown", "critical", map[string]string{"instance": "am-db.example.com:9100"})))
			assert.Equal(t, "resolved", r.Results[0].Action)
			d = ok(t, url, `query($id: ID!) { incident(id: $id) { state resolutionCode journal { totalCount } } }`, map[string]any{"id": incID})
			assert.Equal(t, "RESOLVED", get(d, "incident", "state"))
			assert.Equal(t, "SOLVED_REMOTELY", get(d, "incident", "resolutionCode"))
			assert.Equal(t, 6.0, get(d, "incident", "journal", "totalCount"), "three firing, three resolved")

			// A new firing of the database opens a new incident: the old one is resolved.
			r = postAlerts(t, url, monitor, notification("firing", amAlert("firing", "fp-db", "InstanceDown", "critical", map[string]string{"instance": "am-db.example.com:9100"})))
			assert.Equal(t, "opened", r.Results[0].Action)
			assert.NotEqual(t, incID, r.Results[0].Incident)

			// Bad payloads and callers.
			for _, tt := range []struct {
				body   any
				tok    string
				status int
				code   string
			}{
				{`{"version": "4", "alerts": [`, monitor, 400, "INVALID"},
				{map[string]any{"version": "3", "alerts": []any{}}, monitor, 400, "INVALID"},
				{notification("firing", amAlert("weird", "fp-x", "X", "info", nil)), monitor, 400, "INVALID"},
				{notification("firing", amAlert("firing", "", "X", "info", nil)), monitor, 400, "INVALID"},
				{flood, issueToken(t, a, "am-viewer", auth.Viewer), 403, "FORBIDDEN"},
				{flood, issueToken(t, a, "am-engineer", auth.Engineer), 403, "FORBIDDEN"},
				{flood, "", 401, "UNAUTHENTICATED"},
			} {
				r := postAlerts(t, url, tt.tok, tt.body)
				assert.Equal(t, tt.status, r.status, "%v", tt.body)
				if assert.NotEmpty(t, r.Errors) {
					assert.Equal(t, tt.code, r.Errors[0].Extensions["code"])
				}
			}
			b, err := json.Marshal(map[string]any{"query": `{ incidents { totalCount } }`})
			require.NoError(t, err)
			gr := postAs(t, url, monitor, string(b))
			require.Len(t, gr.Errors, 1, gr.raw)
			assert.Equal(t, "FORBIDDEN", gr.Errors[0].Extensions["code"], "a monitor token reads nothing")
		})
	}
}
