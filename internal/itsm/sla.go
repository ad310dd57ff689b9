package itsm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// Target is the service level of one priority: how soon work must start
// (Response: the incident leaves New) and how soon it must be resolved
// (Resolution), in the working time of Calendar.
type Target struct {
	Response, Resolution time.Duration
	Calendar             string
}

// SLAPolicy is the targets by priority (Targets[p-1]) and the calendars
// they count in.
type SLAPolicy struct {
	Targets   [5]Target
	Calendars map[string]Calendar
}

// DefaultSLATargets are the targets of priorities 1..5, in the format of
// ParseSLATargets: critical and high around the clock, the others in
// business hours.
const DefaultSLATargets = "15m/4h/24x7,30m/8h/24x7,4h/24h/business,8h/48h/business,24h/120h/business"

// DefaultBusinessHours is the business calendar's default.
const DefaultBusinessHours = "mon-fri 08:00-18:00"

// ParseSLATargets reads five comma-separated targets, priority 1 first,
// each response/resolution/calendar ("15m/4h/24x7"), checking that each
// calendar is one of calendars and that resolution is not shorter than
// response.
func ParseSLATargets(spec string, calendars map[string]Calendar) ([5]Target, error) {
	var out [5]Target
	parts := strings.Split(spec, ",")
	if len(parts) != 5 {
		return out, fmt.Errorf("must be five targets, priority 1 first, each response/resolution/calendar (e.g. %s), got %d", DefaultSLATargets, len(parts))
	}
	for i, p := range parts {
		f := strings.Split(strings.TrimSpace(p), "/")
		if len(f) != 3 {
			return out, fmt.Errorf("priority %d: must be response/resolution/calendar (e.g. 15m/4h/24x7), got %q", i+1, p)
		}
		resp, err1 := time.ParseDuration(f[0])
		res, err2 := time.ParseDuration(f[1])
		if err1 != nil || err2 != nil || resp <= 0 || res < resp {
			return out, fmt.Errorf("priority %d: response and resolution must be durations (15m, 4h), the resolution not shorter, got %q", i+1, p)
		}
		if _, ok := calendars[f[2]]; !ok {
			return out, fmt.Errorf("priority %d: calendar %q is not 24x7 or business", i+1, f[2])
		}
		out[i] = Target{Response: resp, Resolution: res, Calendar: f[2]}
	}
	return out, nil
}

// NewSLAPolicy returns the policy of targets (ParseSLATargets' format)
// over the 24x7 calendar and a business calendar of businessHours
// (ParseBusinessHours' format) in loc, closed on holidays (YYYY-MM-DD).
func NewSLAPolicy(targets, businessHours string, loc *time.Location, holidays ...string) (SLAPolicy, error) {
	business, err := ParseBusinessHours("business", businessHours, loc)
	if err != nil {
		return SLAPolicy{}, fmt.Errorf("business hours: %w", err)
	}
	if business.Holidays, err = ParseHolidays(holidays); err != nil {
		return SLAPolicy{}, fmt.Errorf("holidays: %w", err)
	}
	p := SLAPolicy{Calendars: map[string]Calendar{"24x7": AllDayCalendar, "business": business}}
	if p.Targets, err = ParseSLATargets(targets, p.Calendars); err != nil {
		return SLAPolicy{}, err
	}
	return p, nil
}

func (p SLAPolicy) target(priority int64) (Target, Calendar) {
	if priority < 1 || priority > 5 {
		priority = 5
	}
	t := p.Targets[priority-1]
	return t, p.Calendars[t.Calendar]
}

// slaClock is how a kind of record's states drive its SLA: the resolution
// clock runs in the running states, stops in the others (paused in
// paused), and the response is awaited while the record is in awaiting.
type slaClock struct {
	running  []string
	awaiting string
	paused   string
	// canceled is the state of a record that has no service level to
	// breach.
	canceled string
}

// incidentClock: the clock runs while an incident is new or in progress,
// not while on hold, nor once resolved, closed or canceled; the response
// is its leaving new.
var incidentClock = slaClock{running: []string{StateNew, StateInProgress}, awaiting: StateNew, paused: StateOnHold, canceled: StateCanceled}

// itemClock: the clock of a requested item runs from its request until it
// is closed; the response is its approval (or rejection).
var itemClock = slaClock{running: []string{ItemWaiting, ItemFulfillment}, awaiting: ItemWaiting, canceled: ClosedCanceled}

func (c slaClock) runs(state string) bool { return slices.Contains(c.running, state) }

// SLA attributes an incident stores (written by Track only).
const (
	attrSLAElapsed      = "sla_elapsed_s"     // resolution working time counted so far, in seconds
	attrSLAClockAt      = "sla_clock_at"      // when sla_elapsed_s was last brought up to date
	attrResponseDueAt   = "response_due_at"   // while new: when work must have started
	attrRespondedAt     = "responded_at"      // when it first left new
	attrResolutionDueAt = "resolution_due_at" // while the clock runs: when it must be resolved
)

// Breach markers: written by the breach sweep (Service.SweepBreaches) when
// it finds a target breached and tells of it (incident.breached), cleared
// by Track when a new target (another priority) is no longer breached.
const (
	// AttrResponseBreachedAt is when the sweep found the response target
	// breached.
	AttrResponseBreachedAt = "response_breached_at"
	// AttrResolutionBreachedAt is when the sweep found the resolution
	// target breached.
	AttrResolutionBreachedAt = "resolution_breached_at"
)

// Track returns the SLA attributes a write of an incident sets, at at:
// before is the incident as stored (nil when it is opened), after the
// attributes it will have (state, priority and times included). The
// resolution clock counts working time while the incident is new or in
// progress, and stops while it is on hold and once resolved, closed or
// canceled; a reopened incident's clock goes on from where it stopped. A
// change of priority moves the due times to the new target, keeping the
// time already counted. A breach marker (AttrResponseBreachedAt,
// AttrResolutionBreachedAt) is cleared when the target it marks, counted
// again, is no longer breached at at (a priority lowered), so that a later
// breach of the new target is told of again; a breach that still holds
// (a reopened incident whose clock had run out) keeps its marker and is
// not told of twice. It is pure.
func (p SLAPolicy) Track(before, after store.Attributes, at time.Time) store.Attributes {
	return p.track(incidentClock, before, after, at)
}

// track is Track for the states of clock c.
func (p SLAPolicy) track(c slaClock, before, after store.Attributes, at time.Time) store.Attributes {
	out := store.Attributes{}
	priority, _ := after["priority"].(int64)
	target, cal := p.target(priority)
	var prevState string
	elapsed := time.Duration(0)
	if before != nil {
		prevState, _ = before["state"].(string)
		if s, ok := before[attrSLAElapsed].(int64); ok {
			elapsed = time.Duration(s) * time.Second
		}
		if clock, ok := before[attrSLAClockAt].(time.Time); ok && c.runs(prevState) {
			prevPriority, _ := before["priority"].(int64)
			_, prevCal := p.target(prevPriority)
			elapsed += prevCal.Between(clock, at)
		}
	}
	state, _ := after["state"].(string)
	out[attrSLAElapsed] = int64(elapsed / time.Second)
	out[attrSLAClockAt] = at
	if c.runs(state) {
		out[attrResolutionDueAt] = cal.Add(at, target.Resolution-elapsed)
	} else {
		out[attrResolutionDueAt] = nil
	}
	// Response: due from the opening while the incident is new; met when
	// it first leaves new.
	opened, ok := after["opened_at"].(time.Time)
	if !ok {
		opened = at
	}
	if _, responded := after[attrRespondedAt].(time.Time); !responded {
		if state == c.awaiting {
			out[attrResponseDueAt] = cal.Add(opened, target.Response)
		} else {
			out[attrRespondedAt] = at
			if before == nil {
				out[attrResponseDueAt] = cal.Add(opened, target.Response)
			}
		}
	}
	if before != nil {
		if _, marked := before[AttrResolutionBreachedAt]; marked && elapsed <= target.Resolution {
			out[AttrResolutionBreachedAt] = nil
		}
		if due, ok := out[attrResponseDueAt].(time.Time); ok && state == c.awaiting && !at.After(due) {
			if _, marked := before[AttrResponseBreachedAt]; marked {
				out[AttrResponseBreachedAt] = nil
			}
		}
	}
	return out
}

// SLAStatus is an incident's service level at one instant.
type SLAStatus struct {
	Calendar                   string
	ResponseTarget             time.Duration
	ResolutionTarget           time.Duration
	ResponseDueAt, RespondedAt *time.Time
	ResponseBreached           bool
	ResolutionDueAt            *time.Time
	ResolutionElapsed          time.Duration
	ResolutionLeft             time.Duration // negative once breached
	ResolutionBreached, Paused bool
	ResolutionStopped          bool // resolved, closed or canceled
}

// Status returns the service level of an incident whose attributes are a
// at now.
func (p SLAPolicy) Status(a store.Attributes, now time.Time) SLAStatus {
	return p.status(incidentClock, a, now)
}

// status is Status for the states of clock c.
func (p SLAPolicy) status(c slaClock, a store.Attributes, now time.Time) SLAStatus {
	priority, _ := a["priority"].(int64)
	target, cal := p.target(priority)
	state, _ := a["state"].(string)
	s := SLAStatus{Calendar: target.Calendar, ResponseTarget: target.Response, ResolutionTarget: target.Resolution}
	if t, ok := a[attrResponseDueAt].(time.Time); ok {
		s.ResponseDueAt = &t
	}
	if t, ok := a[attrRespondedAt].(time.Time); ok {
		s.RespondedAt = &t
	}
	if s.ResponseDueAt != nil {
		met := now
		if s.RespondedAt != nil {
			met = *s.RespondedAt
		}
		s.ResponseBreached = met.After(*s.ResponseDueAt)
	}
	if v, ok := a[attrSLAElapsed].(int64); ok {
		s.ResolutionElapsed = time.Duration(v) * time.Second
	}
	if clock, ok := a[attrSLAClockAt].(time.Time); ok && c.runs(state) && now.After(clock) {
		s.ResolutionElapsed += cal.Between(clock, now)
	}
	if t, ok := a[attrResolutionDueAt].(time.Time); ok && c.runs(state) {
		s.ResolutionDueAt = &t
	}
	s.Paused = c.paused != "" && state == c.paused
	s.ResolutionStopped = !c.runs(state) && !s.Paused
	s.ResolutionLeft = target.Resolution - s.ResolutionElapsed
	s.ResolutionBreached = s.ResolutionLeft < 0
	return s
}
