package itsm

import (
	"context"
	"errors"
	"fmt"
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

// BreachActor is the actor the breach sweep writes as.
var BreachActor = store.Actor{Name: "skein-sla", Source: "sla"}

// sweepPageSize is how many candidates one read of a sweep takes (a
// variable for tests of paging).
var sweepPageSize = store.MaxPageSize

// maxSweepErrors bounds the errors one sweep gathers before it stops.
const maxSweepErrors = 10

// SweepBreaches finds the open incidents whose response target (while
// new) or resolution target has passed at the service's clock and that
// have not been told of yet, and for each breached target writes its
// marker (AttrResponseBreachedAt, AttrResolutionBreachedAt) as actor, then
// emits one EventBreached. It returns how many events it emitted.
//
// The stored due times select the candidates, page after page; the SLA
// rules (SLAPolicy.Status at the service's clock: calendars, on-hold
// pauses) confirm each breach inside the write transaction, which also
// checks that the marker is still absent, so that sweeps running at once
// (two replicas over one Neo4j) tell of each breach once. It reads and
// writes as the process: it is a job of the service, not of a caller. An
// incident that cannot be written does not stop the others: the errors
// are returned joined once the sweep is over (at most maxSweepErrors).
func (s *Service) SweepBreaches(ctx context.Context, actor store.Actor) (int, error) {
	pctx := auth.AsProcess(ctx)
	now := s.now()
	f := cmdb.Filter{Where: s.breachCandidates(now)}
	p := store.PageRequest{First: sweepPageSize}
	n := 0
	var errs []error
	for {
		if err := ctx.Err(); err != nil {
			return n, errors.Join(append(errs, err)...)
		}
		page, err := s.cmdb.ListNodes(pctx, KindIncident, f, p)
		if err != nil {
			return n, errors.Join(append(errs, fmt.Errorf("list incidents past their SLA targets: %w", err))...)
		}
		for _, inc := range page.Items {
			if err := ctx.Err(); err != nil {
				return n, errors.Join(append(errs, err)...)
			}
			if len(breachMarks(s.sla, inc.Attributes, now)) == 0 {
				continue // not breached by the SLA rules (yet)
			}
			sent, err := s.markBreach(pctx, actor, inc.ID, now)
			n += sent
			if err != nil {
				errs = append(errs, fmt.Errorf("incident %v: %w", inc.Attributes["number"], err))
				if len(errs) >= maxSweepErrors {
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

// breachCandidates is the filter of the incidents that may have a target
// breached at now and not told of: new ones past their response due time,
// running ones past their resolution due time, and ones on hold whose
// resolution clock already counts more than the shortest resolution
// target (breached before they were put on hold). SLAPolicy.Status
// decides.
func (s *Service) breachCandidates(now time.Time) *store.Expr {
	at := now.UTC().Format(time.RFC3339Nano)
	unmarked := func(attr string) store.Expr { return store.Expr{Op: store.OpExists, Field: attr, Value: false} }
	shortest := s.sla.Targets[0].Resolution
	for _, t := range s.sla.Targets {
		shortest = min(shortest, t.Resolution)
	}
	return &store.Expr{Op: store.OpOr, Args: []store.Expr{
		{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpEq, Field: "state", Value: StateNew},
			{Op: store.OpLte, Field: attrResponseDueAt, Value: at},
			unmarked(AttrResponseBreachedAt),
		}},
		{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpIn, Field: "state", Values: []any{StateNew, StateInProgress}},
			{Op: store.OpLte, Field: attrResolutionDueAt, Value: at},
			unmarked(AttrResolutionBreachedAt),
		}},
		{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpEq, Field: "state", Value: StateOnHold},
			{Op: store.OpGt, Field: attrSLAElapsed, Value: int64(shortest / time.Second)},
			unmarked(AttrResolutionBreachedAt),
		}},
	}}
}

// breachMarks returns the markers to set on an incident stored as a at
// now: each target SLAPolicy.Status finds breached whose marker is absent.
// A canceled incident has no service level to breach. It is pure.
func breachMarks(p SLAPolicy, a store.Attributes, now time.Time) store.Attributes {
	if state, _ := a["state"].(string); state == StateCanceled {
		return nil
	}
	st := p.Status(a, now)
	out := store.Attributes{}
	if _, marked := a[AttrResponseBreachedAt]; st.ResponseBreached && !marked {
		out[AttrResponseBreachedAt] = now
	}
	if _, marked := a[AttrResolutionBreachedAt]; st.ResolutionBreached && !marked {
		out[AttrResolutionBreachedAt] = now
	}
	return out
}

// markBreach writes the breach markers incident id needs at now, decided
// against the incident as stored inside the write transaction (a marker
// another sweep has written, or a breach a write has ended, is not
// written), and emits one EventBreached per marker written.
func (s *Service) markBreach(ctx context.Context, actor store.Actor, id store.ID, now time.Time) (int, error) {
	res, err := s.cmdb.WriteNode(ctx, actor, KindIncident, cmdb.NodeWrite{
		ID: id, Verb: auth.Update,
		Decide: func(cur *store.Node, _ store.Attributes, _ time.Time) (store.Attributes, error) {
			return breachMarks(s.sla, cur.Attributes, now), nil
		},
	})
	if err != nil {
		return 0, err
	}
	return s.emitBreaches(actor, res), nil
}

// emitBreaches tells the publisher of each breach marker the write res
// set: one EventBreached each, whose Changes are that marker's change.
func (s *Service) emitBreaches(actor store.Actor, res store.UpsertResult) int {
	n := 0
	for _, c := range res.Changes {
		if c.Field != AttrResponseBreachedAt && c.Field != AttrResolutionBreachedAt || c.After == nil {
			continue
		}
		n++
		if s.publish != nil {
			s.publish(Event{ID: uuid.NewString(), Type: EventBreached, At: res.Node.UpdatedAt, Actor: actor.Name, Record: res.Node, Changes: []store.FieldChange{c}})
		}
	}
	return n
}
