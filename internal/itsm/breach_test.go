package itsm

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

// TestBreachMarks: which targets a sweep marks, by the SLA rules at its
// clock (a table over stored incidents, no store).
func TestBreachMarks(t *testing.T) {
	p, err := NewSLAPolicy(DefaultSLATargets, DefaultBusinessHours, time.UTC)
	require.NoError(t, err)
	opened := at(7, 22, 0) // Monday evening
	// P1: 15m / 4h around the clock; P3: 4h / 24h in business hours.
	incident := func(priority int64, state string, set store.Attributes) store.Attributes {
		a := store.Attributes{"state": StateNew, "priority": priority, "opened_at": opened}
		a = overlay(a, p.Track(nil, a, opened))
		if state != StateNew {
			next := overlay(a, store.Attributes{"state": state})
			a = overlay(next, p.Track(a, next, opened.Add(5*time.Minute)))
		}
		return overlay(a, set)
	}
	for _, tt := range []struct {
		name string
		a    store.Attributes
		now  time.Time
		want []string
	}{
		{"P1 new, within its response target", incident(1, StateNew, nil), opened.Add(10 * time.Minute), nil},
		{"P1 new, past its response target", incident(1, StateNew, nil), opened.Add(16 * time.Minute), []string{AttrResponseBreachedAt}},
		{"P1 new, response already told of", incident(1, StateNew, store.Attributes{AttrResponseBreachedAt: opened}), opened.Add(16 * time.Minute), nil},
		{"P1 new, past both targets", incident(1, StateNew, nil), opened.Add(5 * time.Hour), []string{AttrResponseBreachedAt, AttrResolutionBreachedAt}},
		{"P1 started in time, past its resolution target", incident(1, StateInProgress, nil), opened.Add(5 * time.Hour), []string{AttrResolutionBreachedAt}},
		{"P1 on hold from 5 minutes in: paused", incident(1, StateOnHold, nil), opened.Add(30 * 24 * time.Hour), nil},
		{"P1 on hold after its resolution clock ran out", overlay(incident(1, StateOnHold, nil), store.Attributes{attrSLAElapsed: int64(5 * 3600)}), opened.Add(6 * time.Hour), []string{AttrResolutionBreachedAt}},
		{"P1 resolved late, found by a sweep under way", overlay(incident(1, StateResolved, nil), store.Attributes{attrSLAElapsed: int64(5 * 3600)}), opened.Add(6 * time.Hour), []string{AttrResolutionBreachedAt}},
		{"P1 started late", overlay(incident(1, StateInProgress, nil), store.Attributes{attrRespondedAt: opened.Add(20 * time.Minute)}), opened.Add(30 * time.Minute), []string{AttrResponseBreachedAt}},
		{"P1 resolved in time", incident(1, StateResolved, nil), opened.Add(30 * 24 * time.Hour), nil},
		{"P1 canceled", incident(1, StateCanceled, nil), opened.Add(30 * 24 * time.Hour), nil},
		// Opened Monday 22:00 in business hours: the 4h response runs
		// Tuesday 08:00-12:00.
		{"P3 overnight: not breached by the business calendar", incident(3, StateNew, nil), at(8, 11, 0), nil},
		{"P3 past its response in business hours", incident(3, StateNew, nil), at(8, 12, 1), []string{AttrResponseBreachedAt}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := breachMarks(p, incidentClock, tt.a, tt.now)
			var names []string
			for k, v := range got {
				names = append(names, k)
				assert.Equal(t, tt.now, v, "a marker holds the sweep's time")
			}
			assert.ElementsMatch(t, tt.want, names)
		})
	}
}

// TestTrackClearsMarkers: a new target that is no longer breached clears
// its marker (a lowered priority); one still breached keeps it (a
// reopened incident whose clock had run out).
func TestTrackClearsMarkers(t *testing.T) {
	p, err := NewSLAPolicy(DefaultSLATargets, DefaultBusinessHours, time.UTC)
	require.NoError(t, err)
	opened := at(7, 22, 0)
	a := store.Attributes{"state": StateNew, "priority": int64(1), "opened_at": opened}
	a = overlay(a, p.Track(nil, a, opened))
	a[AttrResponseBreachedAt] = opened.Add(16 * time.Minute)

	// P1 -> P2 at 20 minutes: the 30-minute response is not breached.
	next := overlay(a, store.Attributes{"priority": int64(2)})
	out := p.Track(a, next, opened.Add(20*time.Minute))
	assert.Contains(t, out, AttrResponseBreachedAt)
	assert.Nil(t, out[AttrResponseBreachedAt], "cleared")
	// P1 -> P2 at 40 minutes: still breached, the marker stays.
	out = p.Track(a, next, opened.Add(40*time.Minute))
	assert.NotContains(t, out, AttrResponseBreachedAt)

	// Resolved after 5h (breached), reopened: still breached, kept.
	run := overlay(a, store.Attributes{"state": StateInProgress})
	run = overlay(run, p.Track(a, run, opened.Add(10*time.Minute)))
	run[AttrResolutionBreachedAt] = opened.Add(4*time.Hour + time.Minute)
	res := overlay(run, store.Attributes{"state": StateResolved})
	res = overlay(res, p.Track(run, res, opened.Add(5*time.Hour)))
	reopened := overlay(res, store.Attributes{"state": StateInProgress})
	out = p.Track(res, reopened, opened.Add(6*time.Hour))
	assert.NotContains(t, out, AttrResolutionBreachedAt, "the breach holds: told of once")
	// The same incident lowered to P4 (48 business hours): cleared.
	lowered := overlay(res, store.Attributes{"priority": int64(4), "state": StateInProgress})
	out = p.Track(res, lowered, opened.Add(6*time.Hour))
	assert.Contains(t, out, AttrResolutionBreachedAt)
	assert.Nil(t, out[AttrResolutionBreachedAt])
}

// clock is a test clock the service reads SLAs at.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// events gathers published events.
type events struct {
	mu  sync.Mutex
	got []Event
}

func (e *events) publish(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// take returns the events published since the last take.
func (e *events) take() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.got
	e.got = nil
	return out
}

func breachBackends(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"embedded": func(t *testing.T) store.Store {
			st, err := embedded.Open(t.Context(), t.TempDir(), embedded.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return st
		},
		"neo4j": func(t *testing.T) store.Store {
			env := neo4jtest.Require(t)
			st, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URI: env.URI, User: env.User, Password: env.Password, Database: env.Database})
			require.NoError(t, err)
			require.NoError(t, st.Reset(t.Context()))
			t.Cleanup(func() { st.Close() })
			return st
		},
	}
}

// TestSweepBreaches runs the sweep over a real store, on both backends,
// with the service's clock moved by hand (writes keep the store's time):
// one event per breach of a target however many sweeps run, at once or
// one after another; on hold pauses; resolved and canceled incidents never
// breach; a lowered priority that ends a breach makes the next breach of
// the new target an event again; the sweep reads every page.
func TestSweepBreaches(t *testing.T) {
	for name, open := range breachBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			m, err := cmdb.DefaultModel()
			require.NoError(t, err)
			c, err := cmdb.NewService(ctx, st, m)
			require.NoError(t, err)
			start := time.Now()
			clk := &clock{t: start}
			ev := &events{}
			svc, err := NewService(c, st, Config{Now: clk.Now, Publish: ev.publish})
			require.NoError(t, err)
			actor := store.Actor{Name: "agent", Source: "api"}

			p1 := func(desc string) store.Node { // 15m response, 4h resolution, 24x7
				n, err := svc.CreateIncident(ctx, actor, RecordInput{Attributes: map[string]any{"short_description": desc, "impact": int64(1), "urgency": int64(1)}})
				require.NoError(t, err)
				return n
			}
			act := func(n store.Node, action string, in map[string]any) {
				_, err := svc.ActOnIncident(ctx, actor, n.ID, 0, action, in)
				require.NoError(t, err)
			}
			sweep := func() int {
				n, err := svc.SweepBreaches(ctx, BreachActor)
				require.NoError(t, err)
				return n
			}
			type told struct{ number, marker string }
			breaches := func() []told {
				var out []told
				for _, e := range ev.take() {
					if e.Type != EventBreached {
						continue
					}
					require.Len(t, e.Changes, 1)
					assert.Nil(t, e.Changes[0].Before)
					assert.Equal(t, "skein-sla", e.Actor)
					out = append(out, told{e.Record.Attributes["number"].(string), e.Changes[0].Field})
				}
				return out
			}
			number := func(n store.Node) string { return n.Attributes["number"].(string) }

			late := p1("nobody looks at it")
			held := p1("waiting for the vendor")
			act(held, ActionHold, map[string]any{"on_hold_reason": "awaiting_vendor"})
			fixed := p1("fixed at once")
			act(fixed, ActionResolve, map[string]any{"resolution_code": "solved_remotely", "resolution_notes": "restarted"})
			dropped := p1("duplicate")
			act(dropped, ActionCancel, map[string]any{"close_notes": "dup"})
			ev.take()

			// Targets missed and then met before any sweep ran: started 20
			// minutes late, resolved after 5 hours (stored so by hand, since
			// writes take the store's time). The sweep looks at the clocks
			// writes stopped since the last sweep, and tells of both.
			fixture := func(n store.Node, a store.Attributes) {
				_, err := c.WriteNode(ctx, actor, KindIncident, cmdb.NodeWrite{ID: n.ID, Verb: auth.Update,
					Decide: func(*store.Node, store.Attributes, time.Time) (store.Attributes, error) { return a, nil }})
				require.NoError(t, err)
			}
			startedLate := p1("started late")
			act(startedLate, ActionStart, nil)
			fixture(startedLate, store.Attributes{attrRespondedAt: start.Add(20 * time.Minute)})
			resolvedLate := p1("resolved late")
			act(resolvedLate, ActionResolve, map[string]any{"resolution_code": "solved_remotely", "resolution_notes": "at last"})
			fixture(resolvedLate, store.Attributes{attrSLAElapsed: int64(5 * 3600)})
			ev.take()
			assert.Equal(t, 2, sweep())
			assert.ElementsMatch(t, []told{{number(startedLate), AttrResponseBreachedAt}, {number(resolvedLate), AttrResolutionBreachedAt}}, breaches())
			assert.Zero(t, sweep(), "nothing else is due yet")

			// 20 minutes on: the new incident's response is breached. Two
			// sweeps at once, then a third: one event.
			clk.Set(start.Add(20 * time.Minute))
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i := range counts {
				wg.Add(1)
				go func() {
					defer wg.Done()
					n, err := svc.SweepBreaches(ctx, BreachActor)
					assert.NoError(t, err)
					counts[i] = n
				}()
			}
			wg.Wait()
			assert.Equal(t, 1, counts[0]+counts[1], "two sweepers at once tell of one breach once")
			assert.Zero(t, sweep())
			assert.Equal(t, []told{{number(late), AttrResponseBreachedAt}}, breaches())
			got, err := c.Nodes(ctx, KindIncident, []store.ID{late.ID})
			require.NoError(t, err)
			assert.Equal(t, start.Add(20*time.Minute).UTC(), got[late.ID].Attributes[AttrResponseBreachedAt].(time.Time).UTC())

			// Five hours on: its resolution too, and that of the one started
			// late (its response was told of, its resolution is a breach of
			// its own); the held one is paused, the resolved and canceled
			// ones are done.
			clk.Set(start.Add(5 * time.Hour))
			assert.Equal(t, 2, sweep())
			assert.Zero(t, sweep())
			assert.ElementsMatch(t, []told{{number(late), AttrResolutionBreachedAt}, {number(startedLate), AttrResolutionBreachedAt}}, breaches())

			// Resumed (its clock counted almost nothing before the hold, so
			// at this clock it has run 5 hours): breached now.
			act(held, ActionResume, nil)
			ev.take()
			assert.Equal(t, 1, sweep())
			assert.Equal(t, []told{{number(held), AttrResolutionBreachedAt}}, breaches())

			// A lowered priority (P2: 30 minutes) ends the response breach of
			// a new incident: no event; breaching the new target is one.
			lowered := p1("lowered")
			clk.Set(start.Add(20 * time.Minute))
			assert.Equal(t, 1, sweep())
			assert.Equal(t, []told{{number(lowered), AttrResponseBreachedAt}}, breaches())
			_, err = svc.UpdateIncident(ctx, actor, lowered.ID, 0, RecordInput{Attributes: map[string]any{"urgency": int64(2)}})
			require.NoError(t, err)
			got, err = c.Nodes(ctx, KindIncident, []store.ID{lowered.ID})
			require.NoError(t, err)
			assert.NotContains(t, got[lowered.ID].Attributes, AttrResponseBreachedAt, "cleared by the new target")
			assert.Zero(t, sweep())
			clk.Set(start.Add(35 * time.Minute))
			assert.Equal(t, 1, sweep())
			assert.Equal(t, []told{{number(lowered), AttrResponseBreachedAt}}, breaches())

			// An incident whose resolution clock ran out before it was put
			// on hold (stored so by hand: 5 hours counted) is breached.
			ranOut := p1("ran out before its hold")
			act(ranOut, ActionHold, map[string]any{"on_hold_reason": "awaiting_caller"})
			fixture(ranOut, store.Attributes{attrSLAElapsed: int64(5 * 3600)})
			ev.take()
			assert.Equal(t, 1, sweep())
			assert.Equal(t, []told{{number(ranOut), AttrResolutionBreachedAt}}, breaches())

			// Every page is read: five breaches, two candidates a page.
			defer func(n int) { sweepPageSize = n }(sweepPageSize)
			sweepPageSize = 2
			var many []told
			for i := 0; i < 5; i++ {
				many = append(many, told{number(p1("many")), AttrResponseBreachedAt})
			}
			clk.Set(start.Add(time.Hour))
			assert.Equal(t, 5, sweep())
			assert.ElementsMatch(t, many, breaches())
			assert.Zero(t, sweep())

			// The audit trail names the sweep.
			hist, err := c.History(ctx, late.ID, store.PageRequest{})
			require.NoError(t, err)
			actors := map[string]bool{}
			for _, r := range hist.Items {
				actors[r.Actor.Name] = true
			}
			assert.True(t, actors["skein-sla"], "the markers' writes are audited as skein-sla: %v", actors)

			// A canceled context stops a sweep with its error.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err = svc.SweepBreaches(cctx, BreachActor)
			assert.Error(t, err)
		})
	}
}
