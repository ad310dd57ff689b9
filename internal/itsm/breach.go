package itsm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// EventBreached is the type of the event an incident emits when one of
// its SLA targets is breached (see Service.SweepBreaches): its Changes
// hold the marker of the target, AttrResponseBreachedAt or
// AttrResolutionBreachedAt.
const EventBreached = KindIncident + ".breached"

// EventItemBreached is EventBreached for requested items (the response:
// its approval; the resolution: its delivery).
const EventItemBreached = KindRequestedItem + ".breached"

// slaKind is a kind of record with a service level: its clock and the
// event a breach emits.
type slaKind struct {
	kind  string
	clock slaClock
	event string
}

// slaKinds are the kinds the breach sweep reads, in order.
var slaKinds = []slaKind{{KindIncident, incidentClock, EventBreached}, {KindRequestedItem, itemClock, EventItemBreached}}

// BreachActor is the actor the breach sweep writes as.
var BreachActor = store.Actor{Name: "skein-sla", Source: "sla"}

// sweepPageSize is how many candidates one read of a sweep takes (a
// variable for tests of paging).
var sweepPageSize = store.MaxPageSize

// maxSweepErrors bounds the errors one sweep gathers before it stops.
const maxSweepErrors = 10

// SweepBreaches finds the incidents and requested items (slaKinds) with a
// target breached at the service's clock that have not been told of yet, and for each breached
// target writes its marker (AttrResponseBreachedAt,
// AttrResolutionBreachedAt) as actor, then emits one EventBreached. It
// returns how many events it emitted.
//
// The candidates are the open incidents past a stored due time (response
// while new, resolution while the clock runs, or on hold with the clock
// already run out), and those whose clock a write has stopped since the
// previous sweep (started or resolved late, between two sweeps), read page
// after page. The SLA rules (SLAPolicy.Status at the service's clock:
// calendars, on-hold pauses) confirm each breach inside the write
// transaction, which also checks that the marker is still absent, so that
// sweeps running at once (two replicas over one Neo4j) tell of each breach
// once. It reads and writes as the process: it is a job of the service,
// not of a caller. An incident that cannot be written does not stop the
// others: the errors are returned joined once the sweep is over (at most
// maxSweepErrors).
func (s *Service) SweepBreaches(ctx context.Context, actor store.Actor) (int, error) {
	now := s.now()
	since := s.swept.since(now)
	n := 0
	var errs []error
	for _, k := range slaKinds {
		sent, err := s.sweepKind(ctx, actor, k, now, since, maxSweepErrors-len(errs))
		n += sent
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil || len(errs) >= maxSweepErrors {
			break
		}
	}
	if len(errs) == 0 {
		s.swept.done(now)
	}
	return n, errors.Join(errs...)
}

// sweepKind is SweepBreaches for the records of one kind, gathering at
// most maxErrs errors.
func (s *Service) sweepKind(ctx context.Context, actor store.Actor, k slaKind, now, since time.Time, maxErrs int) (int, error) {
	pctx := auth.AsProcess(ctx)
	f := cmdb.Filter{Where: s.breachCandidates(k.clock, now, since)}
	p := store.PageRequest{First: sweepPageSize}
	n := 0
	var errs []error
	for {
		if err := ctx.Err(); err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		page, err := s.cmdb.ListNodes(pctx, k.kind, f, p)
		if err != nil {
			return n, errors.Join(append(errs, fmt.Errorf("list %ss past their SLA targets: %w", k.kind, err))...)
		}
		for _, rec := range page.Items {
			if err := ctx.Err(); err != nil {
				return n, errors.Join(append(errs, err)...)
			}
			if len(breachMarks(s.sla, k.clock, rec.Attributes, now)) == 0 {
				continue // not breached by the SLA rules (yet)
			}
			sent, err := s.markBreach(pctx, actor, k, rec.ID, now)
			n += sent
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %v: %w", k.kind, rec.Attributes["number"], err))
				if len(errs) >= maxErrs {
					return n, errors.Join(errs...)
				}
			}
		}
		if !page.HasNext || len(page.Items) == 0 {
			return n, errors.Join(errs...)
		}
		p.After = store.EncodeSortCursor(f.Sort, page.Items[len(page.Items)-1])
	}
}

// sweepOverlap is how far before the previous sweep the next one looks
// for stopped clocks: writes that were under way while it read, and
// clocks a little apart between processes.
const sweepOverlap = 5 * time.Minute

// sweepLookback is how far back the first sweep of a process looks for
// stopped clocks.
const sweepLookback = 24 * time.Hour

// sweepMark remembers when the last sweep without errors began.
type sweepMark struct {
	mu   sync.Mutex
	last time.Time
}

// since returns the time from which a sweep at now looks for stopped
// clocks.
func (m *sweepMark) since(now time.Time) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last.IsZero() || m.last.After(now) {
		return now.Add(-sweepLookback)
	}
	return m.last.Add(-sweepOverlap)
}

// done records a sweep at now that ended without errors.
func (m *sweepMark) done(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.last) {
		m.last = now
	}
}

// breachCandidates is the filter of the incidents that may have a target
// breached at now and not told of: new ones past their response due time,
// running ones past their resolution due time, ones on hold whose
// resolution clock already counts more than the shortest resolution
// target (breached before they were put on hold), and ones whose SLA
// clock a write has moved since since but are no longer new (started or
// resolved, maybe late). SLAPolicy.Status decides.
func (s *Service) breachCandidates(c slaClock, now, since time.Time) *store.Expr {
	at := now.UTC().Format(time.RFC3339Nano)
	unmarked := func(attr string) store.Expr { return store.Expr{Op: store.OpExists, Field: attr, Value: false} }
	shortest := s.sla.Targets[0].Resolution
	for _, t := range s.sla.Targets {
		shortest = min(shortest, t.Resolution)
	}
	running := make([]any, len(c.running))
	for i, st := range c.running {
		running[i] = st
	}
	out := &store.Expr{Op: store.OpOr, Args: []store.Expr{
		{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpEq, Field: "state", Value: c.awaiting},
			{Op: store.OpLte, Field: attrResponseDueAt, Value: at},
			unmarked(AttrResponseBreachedAt),
		}},
		{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpIn, Field: "state", Values: running},
			{Op: store.OpLte, Field: attrResolutionDueAt, Value: at},
			unmarked(AttrResolutionBreachedAt),
		}},
		{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpNot, Args: []store.Expr{{Op: store.OpIn, Field: "state", Values: []any{c.awaiting, c.canceled}}}},
			{Op: store.OpGte, Field: attrSLAClockAt, Value: since.UTC().Format(time.RFC3339Nano)},
			{Op: store.OpOr, Args: []store.Expr{unmarked(AttrResponseBreachedAt), unmarked(AttrResolutionBreachedAt)}},
		}},
	}}
	if c.paused != "" {
		out.Args = append(out.Args, store.Expr{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpEq, Field: "state", Value: c.paused},
			{Op: store.OpGt, Field: attrSLAElapsed, Value: int64(shortest / time.Second)},
			unmarked(AttrResolutionBreachedAt),
		}})
	}
	return out
}

// breachMarks returns the markers to set on a record (of clock c) stored
// as a at now: each target the SLA rules find breached whose marker is
// absent. A canceled record has no service level to breach. It is pure.
func breachMarks(p SLAPolicy, c slaClock, a store.Attributes, now time.Time) store.Attributes {
	if state, _ := a["state"].(string); state == c.canceled {
		return nil
	}
	st := p.status(c, a, now)
	out := store.Attributes{}
	if _, marked := a[AttrResponseBreachedAt]; st.ResponseBreached && !marked {
		out[AttrResponseBreachedAt] = now
	}
	if _, marked := a[AttrResolutionBreachedAt]; st.ResolutionBreached && !marked {
		out[AttrResolutionBreachedAt] = now
	}
	return out
}

// markBreach writes the breach markers record id (of kind k) needs at now, decided
// against the incident as stored inside the write transaction (a marker
// another sweep has written, or a breach a write has ended, is not
// written), and emits one EventBreached per marker written.
func (s *Service) markBreach(ctx context.Context, actor store.Actor, k slaKind, id store.ID, now time.Time) (int, error) {
	res, err := s.cmdb.WriteNode(ctx, actor, k.kind, cmdb.NodeWrite{
		ID: id, Verb: auth.Update,
		Decide: func(cur *store.Node, _ store.Attributes, _ time.Time) (store.Attributes, error) {
			return breachMarks(s.sla, k.clock, cur.Attributes, now), nil
		},
	})
	if err != nil {
		return 0, err
	}
	return s.emitBreaches(actor, k.event, res), nil
}

// emitBreaches tells the publisher of each breach marker the write res
// set: one EventBreached each, whose Changes are that marker's change.
func (s *Service) emitBreaches(actor store.Actor, event string, res store.UpsertResult) int {
	n := 0
	for _, c := range res.Changes {
		if c.Field != AttrResponseBreachedAt && c.Field != AttrResolutionBreachedAt || c.After == nil {
			continue
		}
		n++
		if s.publish != nil {
			s.publish(Event{ID: uuid.NewString(), Type: event, At: res.Node.UpdatedAt, Actor: actor.Name, Record: res.Node, Changes: []store.FieldChange{c}})
		}
	}
	return n
}
