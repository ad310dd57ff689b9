package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/webhooks"
)

// receiver is a real HTTP endpoint that checks signatures and records what
// it received; it answers 500 to the first fail requests.
type receiver struct {
	mu       sync.Mutex
	secret   string
	fail     int
	got      []webhooks.Payload
	attempts map[string]int // delivery ID -> requests
	badSigs  int
	srv      *httptest.Server
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail, attempts: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.attempts[req.Header.Get("X-Skein-Delivery")]++
		if req.Header.Get("X-Skein-Signature") != webhooks.Sign(r.secret, body) {
			r.badSigs++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.fail > 0 {
			r.fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var p webhooks.Payload
		if err := json.Unmarshal(body, &p); err != nil || req.Header.Get("X-Skein-Event") != p.Type {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.got = append(r.got, p)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) payloads() []webhooks.Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhooks.Payload(nil), r.got...)
}

// eventually waits (a bound on a hang, not a speed assertion) for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebhooks: record events reach a real HTTP receiver, signed with the
// webhook's secret (which the API shows once); a receiver that fails gets
// the delivery again until it answers; the delivery log says so; only
// admins manage webhooks; both backends.
func TestWebhooks(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg := mk(t)
			cfg.ITSM.WebhookRetryBase = 10 * time.Millisecond
			srv, a := apiServer(t, cfg)
			url := srv.URL
			good, flaky := newReceiver(t, 0), newReceiver(t, 2)

			create := `mutation($in: CreateWebhookInput!) { createWebhook(input: $in) { secret webhook { id name url events active } } }`
			d := ok(t, url, create, map[string]any{"in": map[string]any{"name": "chatops", "url": good.srv.URL, "events": []any{"incident.created", "incident.state_changed"}}})
			good.secret = get(d, "createWebhook", "secret").(string)
			assert.Len(t, good.secret, 64, "a secret is made when none is given")
			flaky.secret = "a-secret-of-the-flaky-receiver"
			d = ok(t, url, create, map[string]any{"in": map[string]any{"name": "flaky", "url": flaky.srv.URL, "secret": flaky.secret}})
			flakyID := get(d, "createWebhook", "webhook", "id")
			assert.Empty(t, get(d, "createWebhook", "webhook", "events"), "every event type")

			inc := openIncident(t, url, map[string]any{"shortDescription": "webhook test"})
			actOK(t, url, "startIncident", map[string]any{"id": inc["id"]})
			ok(t, url, `mutation { createChange(input: {shortDescription: "w"}) { change { id } } }`, nil)

			eventually(t, "two events at the good receiver", func() bool { return len(good.payloads()) >= 2 })
			eventually(t, "three events at the flaky receiver", func() bool { return len(flaky.payloads()) >= 3 })
			time.Sleep(100 * time.Millisecond) // nothing more should come
			gp := good.payloads()
			require.Len(t, gp, 2, "only the types it asked for")
			types := []string{gp[0].Type, gp[1].Type}
			assert.ElementsMatch(t, []string{"incident.created", "incident.state_changed"}, types)
			for _, p := range gp {
				assert.Equal(t, "incident", p.Record.Kind)
				assert.Equal(t, inc["id"], p.Record.ID, "the API's ID")
				assert.Equal(t, inc["number"], p.Record.Number)
				assert.NotEmpty(t, p.ID)
				if p.Type == "incident.state_changed" {
					assert.Equal(t, "in_progress", p.Record.State)
					found := false
					for _, c := range p.Changes {
						if c.Field == "state" {
							found = true
							assert.Equal(t, "new", c.Before)
							assert.Equal(t, "in_progress", c.After)
						}
					}
					assert.True(t, found, "the state change is in the payload")
				}
			}
			flaky.mu.Lock()
			retried := 0
			for _, n := range flaky.attempts {
				if n > 1 {
					retried++
				}
			}
			assert.Equal(t, 0, flaky.badSigs+good.badSigs, "every request signed with the webhook's secret")
			flaky.mu.Unlock()
			assert.Positive(t, retried, "a failed delivery was tried again")

			eventually(t, "three deliveries logged", func() bool {
				d := ok(t, url, `{ webhooks { name deliveries { status attempts responseCode } } }`, nil)
				for _, h := range get(d, "webhooks").([]any) {
					if get(h, "name") == "flaky" {
						return len(get(h, "deliveries").([]any)) >= 3
					}
				}
				return false
			})
			d = ok(t, url, `{ webhooks { name deliveries { status attempts responseCode event } } }`, nil)
			attempts := 0.0
			for _, h := range get(d, "webhooks").([]any) {
				if get(h, "name") != "flaky" {
					continue
				}
				for _, dl := range get(h, "deliveries").([]any) {
					assert.Equal(t, "DELIVERED", get(dl, "status"))
					assert.Equal(t, 204.0, get(dl, "responseCode"))
					attempts += get(dl, "attempts").(float64)
				}
			}
			assert.Equal(t, 5.0, attempts, "three deliveries, two of them tried twice")

			// Stopping a webhook; an unreachable one fails and says so.
			ok(t, url, `mutation($in: UpdateWebhookInput!) { updateWebhook(input: $in) { webhook { active } } }`,
				map[string]any{"in": map[string]any{"id": flakyID, "active": false}})
			dead := httptest.NewServer(http.NotFoundHandler())
			deadURL := dead.URL
			dead.Close()
			ok(t, url, create, map[string]any{"in": map[string]any{"name": "dead", "url": deadURL, "events": []any{"incident.created"}}})
			openIncident(t, url, map[string]any{"shortDescription": "after the stop"})
			eventually(t, "the dead webhook's delivery fails", func() bool {
				d := ok(t, url, `{ webhooks { name deliveries { status attempts error } } }`, nil)
				for _, h := range get(d, "webhooks").([]any) {
					if get(h, "name") == "dead" && len(get(h, "deliveries").([]any)) == 1 {
						dl := get(h, "deliveries", 0)
						return get(dl, "status") == "FAILED" && get(dl, "attempts") == 6.0
					}
				}
				return false
			})
			assert.Len(t, flaky.payloads(), 3, "a stopped webhook receives nothing")

			// Bad input, and who may manage webhooks.
			refusedWith(t, gql(t, url, create, map[string]any{"in": map[string]any{"name": "x", "url": "ftp://example.com"}}), "INVALID", "input.url")
			refusedWith(t, gql(t, url, create, map[string]any{"in": map[string]any{"name": "x", "url": good.srv.URL, "events": []any{"incident.exploded"}}}), "INVALID", "input.events[0]")
			refusedWith(t, gql(t, url, create, map[string]any{"in": map[string]any{"name": "x", "url": good.srv.URL, "secret": "short"}}), "INVALID", "input.secret")
			refusedWith(t, gql(t, url, create, map[string]any{"in": map[string]any{"name": "CHATOPS", "url": good.srv.URL}}), "CONFLICT", "")
			b, err := json.Marshal(map[string]any{"query": `{ webhooks { name } }`})
			require.NoError(t, err)
			r := postAs(t, url, issueToken(t, a, "wh-cm", auth.ChangeManager), string(b))
			require.Len(t, r.Errors, 1, r.raw)
			assert.Equal(t, "FORBIDDEN", r.Errors[0].Extensions["code"])
			d = ok(t, url, `{ auditRecords(filter: {kinds: ["webhook"]}) { edges { node { changes { field after } } } } }`, nil)
			secrets := 0
			for _, e := range get(d, "auditRecords", "edges").([]any) {
				for _, c := range get(e, "node", "changes").([]any) {
					if get(c, "field") == "secret" {
						secrets++
						assert.Equal(t, "[redacted]", get(c, "after"), "no secret in the audit trail")
					}
				}
			}
			assert.Equal(t, 3, secrets, "three webhooks created, each audited")
		})
	}
}

// TestWebhooksHearOfAlerts: an incident opened by an Alertmanager alert,
// and resolved when the alert resolves, is told to webhooks like one
// worked through the API (incident.created, then incident.state_changed
// to resolved), on both backends.
func TestWebhooksHearOfAlerts(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg := mk(t)
			cfg.ITSM.WebhookRetryBase = 10 * time.Millisecond
			srv, a := apiServer(t, cfg)
			url := srv.URL
			rcv := newReceiver(t, 0)
			d := ok(t, url, `mutation($in: CreateWebhookInput!) { createWebhook(input: $in) { secret } }`,
				map[string]any{"in": map[string]any{"name": "eda", "url": rcv.srv.URL, "events": []any{"incident.created", "incident.state_changed"}}})
			rcv.secret = get(d, "createWebhook", "secret").(string)
			upsertIDs(t, url, item("Server", map[string]any{"name": "wh-am-db", "serial_number": "WHAMDB"}))
			monitor := issueToken(t, a, "prometheus", auth.Monitor)
			firing := amAlert("firing", "fp-wh", "InstanceDown", "critical", map[string]string{"instance": "wh-am-db:9100"})
			r := postAlerts(t, url, monitor, notification("firing", firing))
			require.Equal(t, http.StatusOK, r.status, "%+v", r.Errors)
			require.Len(t, r.Results, 1)
			number := r.Results[0].Number
			r = postAlerts(t, url, monitor, notification("resolved", amAlert("resolved", "fp-wh", "InstanceDown", "critical", map[string]string{"instance": "wh-am-db:9100"})))
			require.Equal(t, http.StatusOK, r.status, "%+v", r.Errors)
			eventually(t, "two events", func() bool { return len(rcv.payloads()) >= 2 })
			var got []string
			for _, p := range rcv.payloads() {
				assert.Equal(t, number, p.Record.Number)
				got = append(got, p.Type+":"+p.Record.State)
			}
			assert.Equal(t, []string{"incident.created:new", "incident.state_changed:resolved"}, got)
		})
	}
}
