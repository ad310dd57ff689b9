package main

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/testenv"
	"github.com/skein-cmdb/skein/internal/webhooks"
)

// manualClock is the clock the service desk reads SLAs at, moved by the
// test instead of waiting for SLA time to pass.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestWebhooksBreached: the breach checks the real wiring runs (newApp,
// itsm.breach_check_interval) send an incident whose SLA target passes to
// a real receiver as incident.breached, signed, once per target however
// many checks run after it; an incident on hold does not breach while
// held, a resolved one never does; both backends. The SLA clock is moved
// by hand, never waited for.
func TestWebhooksBreached(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg := mk(t)
			cfg.ITSM.WebhookRetryBase = 10 * time.Millisecond
			// Far below what validation lets a deployment set (1s), so that
			// the wiring's own loop runs many checks in test time.
			cfg.ITSM.BreachCheckInterval = 20 * time.Millisecond
			start := time.Now()
			clk := &manualClock{t: start}
			srv, a := apiServerWith(t, cfg, appOptions{now: clk.Now})
			url := srv.URL
			rcv := newReceiver(t, 0)
			rcv.secret = "the-secret-of-the-breach-receiver"
			create := `mutation($in: CreateWebhookInput!) { createWebhook(input: $in) { webhook { id events } } }`
			ok(t, url, create, map[string]any{"in": map[string]any{"name": "sla", "url": rcv.srv.URL, "secret": rcv.secret,
				"events": []any{"incident.breached", "change.created"}}})

			// Priority 1 (impact 1, urgency 1): respond within 15 minutes,
			// resolve within 4 hours, around the clock.
			p1 := func(desc string) map[string]any {
				return openIncident(t, url, map[string]any{"shortDescription": desc, "impact": 1, "urgency": 1})
			}
			late := p1("nobody looks at it")
			held := p1("waiting for the vendor")
			actOK(t, url, "holdIncident", map[string]any{"id": held["id"], "reason": "AWAITING_VENDOR"})
			fixed := p1("fixed at once")
			actOK(t, url, "resolveIncident", map[string]any{"id": fixed["id"], "resolutionCode": "SOLVED_REMOTELY", "resolutionNotes": "restarted"})

			breached := func() []webhooks.Payload {
				var out []webhooks.Payload
				for _, p := range rcv.payloads() {
					if p.Type == itsm.EventBreached {
						out = append(out, p)
					}
				}
				return out
			}
			others := func() int { return len(rcv.payloads()) - len(breached()) } // changes opened
			// settle waits until everything published before it has been
			// delivered: a later event (a change opened, which has no SLA to
			// breach) has arrived.
			settle := func(what string) {
				t.Helper()
				want := others() + 1
				ok(t, url, `mutation($d: String!) { createChange(input: {shortDescription: $d}) { change { id } } }`, map[string]any{"d": "marker: " + what})
				eventually(t, what, func() bool { return others() >= want })
			}
			settle("the incidents opened")
			require.Empty(t, breached(), "nothing is due yet")

			// 20 minutes on: the new incident's response target is breached.
			clk.Set(start.Add(20 * time.Minute))
			eventually(t, "the response breach is sent", func() bool { return len(breached()) >= 1 })
			n, err := a.ITSM.SweepBreaches(t.Context(), itsm.BreachActor)
			require.NoError(t, err)
			assert.Zero(t, n, "a breach told of is not told of again")
			settle("after another check")
			got := breached()
			require.Len(t, got, 1, "one event for the response breach, however many checks ran")
			p := got[0]
			assert.Equal(t, "incident", p.Record.Kind)
			assert.Equal(t, late["id"], p.Record.ID, "the API's ID")
			assert.Equal(t, late["number"], p.Record.Number)
			assert.Equal(t, "new", p.Record.State)
			assert.Equal(t, "skein-sla", p.Actor)
			require.Len(t, p.Changes, 1)
			assert.Equal(t, itsm.AttrResponseBreachedAt, p.Changes[0].Field)
			assert.Nil(t, p.Changes[0].Before)
			if s, isString := p.Changes[0].After.(string); assert.True(t, isString, "a time: %v", p.Changes[0].After) {
				at, err := time.Parse(time.RFC3339Nano, s)
				require.NoError(t, err)
				assert.True(t, at.Equal(start.Add(20*time.Minute)), "when the check found it: %s", s)
			}

			// Five hours on: its resolution target too. The held incident
			// counted almost nothing before its hold; the resolved one is
			// done.
			clk.Set(start.Add(5 * time.Hour))
			eventually(t, "the resolution breach is sent", func() bool { return len(breached()) >= 2 })
			n, err = a.ITSM.SweepBreaches(t.Context(), itsm.BreachActor)
			require.NoError(t, err)
			assert.Zero(t, n)
			settle("after more checks")
			got = breached()
			require.Len(t, got, 2, "one event a target")
			assert.Equal(t, late["number"], got[1].Record.Number)
			require.Len(t, got[1].Changes, 1)
			assert.Equal(t, itsm.AttrResolutionBreachedAt, got[1].Changes[0].Field)

			// Thirty days on, still held and resolved: nothing.
			clk.Set(start.Add(30 * 24 * time.Hour))
			n, err = a.ITSM.SweepBreaches(t.Context(), itsm.BreachActor)
			require.NoError(t, err)
			assert.Zero(t, n, "on hold and resolved incidents do not breach")
			settle("a month on")
			assert.Len(t, breached(), 2)
			for _, p := range breached() {
				assert.NotEqual(t, held["number"], p.Record.Number)
				assert.NotEqual(t, fixed["number"], p.Record.Number)
			}
			rcv.mu.Lock()
			assert.Zero(t, rcv.badSigs, "every request signed with the webhook's secret")
			rcv.mu.Unlock()

			// The deliveries are logged under their event type.
			d := ok(t, url, `{ webhooks { name deliveries { event status } } }`, nil)
			logged := 0
			for _, dl := range get(d, "webhooks", 0, "deliveries").([]any) {
				if get(dl, "event") == itsm.EventBreached {
					logged++
					assert.Equal(t, "DELIVERED", get(dl, "status"))
				}
			}
			assert.Equal(t, 2, logged)
		})
	}
}

// TestBreachChecksLogFailures: a check that fails is logged and the
// checks go on until they are stopped.
func TestBreachChecksLogFailures(t *testing.T) {
	cfg := backendConfigs(t)["embedded"](t)
	cfg.ITSM.BreachCheckInterval = 0 // no loop of the app's own
	cfg.Discovery.StaleCheckInterval = 0
	_, a := apiServer(t, cfg)
	require.Nil(t, a.stopChecks, "0 turns the checks off")
	require.NoError(t, a.Store.Close()) // every check now fails
	var buf testenv.LogBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); breachCheck(a.ITSM, 5*time.Millisecond).loop(ctx, logger) }()
	eventually(t, "two failures logged", func() bool { return bytes.Count(buf.Bytes(), []byte("breach check failed")) >= 2 })
	stop()
	<-done
}
