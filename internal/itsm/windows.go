package itsm

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Change windows: configured periods in which changes must (maintenance)
// or must not (blackout) happen, on some CIs (APPLIES_TO) or, without
// any, on every CI. A window is one period, or repeats daily or weekly
// at the same wall-clock time in its time zone (so a Sunday 02:00 Paris
// window stays at 02:00 across daylight saving), until an optional end.
//
// A change whose planned window overlaps a blackout on one of its CIs,
// or that is not inside one occurrence of a maintenance window of every
// CI that has maintenance windows, conflicts with it: reported in
// Change.conflicts and blocking scheduleChange unless a change manager
// gives a reason, like the other conflicts.

// KindChangeWindow is the model kind of change windows (class
// ChangeWindow); RelAppliesTo links one to the CIs it applies to.
const (
	KindChangeWindow = "change_window"
	RelAppliesTo     = "APPLIES_TO"
)

// Types and recurrences of change windows.
const (
	WindowMaintenance = "maintenance"
	WindowBlackout    = "blackout"
	RepeatNone        = "none"
	RepeatDaily       = "daily"
	RepeatWeekly      = "weekly"
)

// maxOccurrences bounds the occurrences of a repeating window looked at
// for one question (a daily window over three years).
const maxOccurrences = 1100

// Window is a change window as the conflict rules read it.
type Window struct {
	ID         store.ID
	Name       string
	Type       string
	Start, End time.Time
	Repeat     string
	// Until ends a repeating window: no occurrence starts after it (zero:
	// never ends).
	Until time.Time
	// Location is the time zone its wall-clock times repeat in.
	Location *time.Location
	// CIs are the CIs it applies to; none: every CI.
	CIs []store.ID
}

// Occurrence is one period of a window.
type Occurrence struct{ Start, End time.Time }

// nth returns the window's k-th occurrence.
func (w Window) nth(k int) Occurrence {
	if k == 0 {
		return Occurrence{w.Start, w.End}
	}
	days := k
	if w.Repeat == RepeatWeekly {
		days = 7 * k
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	s := w.Start.In(loc).AddDate(0, 0, days)
	return Occurrence{s.UTC(), s.Add(w.End.Sub(w.Start)).UTC()}
}

// period is the nominal length of the window's repetition.
func (w Window) period() time.Duration {
	if w.Repeat == RepeatWeekly {
		return 7 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// Occurrences returns the window's occurrences that overlap [from, to),
// in order, at most maxOccurrences.
func (w Window) Occurrences(from, to time.Time) []Occurrence {
	var out []Occurrence
	if w.Repeat == RepeatNone || w.Repeat == "" {
		if w.Start.Before(to) && from.Before(w.End) {
			out = append(out, Occurrence{w.Start, w.End})
		}
		return out
	}
	k := 0
	if from.After(w.Start) {
		// Start a little early: days are not all 24 hours in a time zone
		// with daylight saving, and an occurrence may last past the next
		// one's start.
		k = max(0, int(from.Sub(w.Start)/w.period())-1-int(w.End.Sub(w.Start)/w.period()))
	}
	for n := 0; n < maxOccurrences+3; n, k = n+1, k+1 {
		o := w.nth(k)
		if !o.Start.Before(to) || (!w.Until.IsZero() && o.Start.After(w.Until)) {
			break
		}
		if from.Before(o.End) {
			out = append(out, o)
			if len(out) == maxOccurrences {
				break
			}
		}
	}
	return out
}

// Covers reports whether [from, to) lies inside one occurrence.
func (w Window) Covers(from, to time.Time) bool {
	for _, o := range w.Occurrences(from, to) {
		if !o.Start.After(from) && !o.End.Before(to) {
			return true
		}
	}
	return false
}

// Next returns the first occurrence that ends after at, if any.
func (w Window) Next(at time.Time) (Occurrence, bool) {
	os := w.Occurrences(at, at.Add(400*24*time.Hour))
	if len(os) == 0 {
		return Occurrence{}, false
	}
	return os[0], true
}

// AppliesTo returns the CIs of cis the window applies to (all of them for
// a window without CIs).
func (w Window) AppliesTo(cis []store.ID) []store.ID {
	if len(w.CIs) == 0 {
		return cis
	}
	var out []store.ID
	for _, c := range cis {
		if slices.Contains(w.CIs, c) {
			out = append(out, c)
		}
	}
	return out
}

// WindowOf reads a stored change window (its CIs are set by the caller).
func WindowOf(n store.Node) Window {
	a := n.Attributes
	w := Window{ID: n.ID, Repeat: RepeatNone, Location: time.UTC}
	w.Name, _ = a["name"].(string)
	w.Type, _ = a["type"].(string)
	w.Start, _ = a["start_at"].(time.Time)
	w.End, _ = a["end_at"].(time.Time)
	w.Until, _ = a["until"].(time.Time)
	if r, ok := a["recurrence"].(string); ok && r != "" {
		w.Repeat = r
	}
	if tz, ok := a["time_zone"].(string); ok && tz != "" {
		if loc, err := time.LoadLocation(tz); err == nil {
			w.Location = loc
		}
	}
	return w
}

// checkWindowAttributes checks a window as it will be stored: its end
// after its start, an occurrence no longer than its repetition, a known
// time zone, an end of repetition after the start.
func checkWindowAttributes(a store.Attributes) error {
	start, ok1 := a["start_at"].(time.Time)
	end, ok2 := a["end_at"].(time.Time)
	if !ok1 || !ok2 {
		return store.Invalid("attributes.start_at", "a window needs startAt and endAt")
	}
	if !start.Before(end) {
		return store.Invalid("attributes.end_at", "must be after start_at (%s)", start.Format(time.RFC3339))
	}
	w := WindowOf(store.Node{Attributes: a})
	if w.Repeat != RepeatNone && end.Sub(start) > w.period() {
		return store.Invalid("attributes.end_at", "a %s window lasts at most %s", w.Repeat, w.period())
	}
	if tz, ok := a["time_zone"].(string); ok && tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			return store.Invalid("attributes.time_zone", "%q is not an IANA time zone (Europe/Paris, UTC...)", tz)
		}
	}
	if until, ok := a["until"].(time.Time); ok && until.Before(start) {
		return store.Invalid("attributes.until", "must not be before start_at (%s)", start.Format(time.RFC3339))
	}
	return nil
}

// windowEditable are the attributes of a change window a client writes.
var windowEditable = []string{"name", "type", "description", "start_at", "end_at", "recurrence", "until", "time_zone", "active"}

// WindowInput is a change window as a change manager writes it: Attributes
// (nil clears one) and, when CIs is not nil, the whole set of CIs it
// applies to (empty: every CI).
type WindowInput struct {
	Attributes map[string]any
	CIs        *[]store.ID
}

// CreateWindow records a change window. The caller needs create
// change_window (change managers and admins).
func (s *Service) CreateWindow(ctx context.Context, actor store.Actor, in WindowInput) (store.Node, error) {
	return s.writeWindow(ctx, actor, "", 0, in, auth.Create)
}

// UpdateWindow changes a change window (deactivate it with active
// false). The caller needs update change_window.
func (s *Service) UpdateWindow(ctx context.Context, actor store.Actor, id store.ID, expected int64, in WindowInput) (store.Node, error) {
	return s.writeWindow(ctx, actor, id, expected, in, auth.Update)
}

func (s *Service) writeWindow(ctx context.Context, actor store.Actor, id store.ID, expected int64, in WindowInput, verb auth.Verb) (store.Node, error) {
	if in.CIs != nil {
		if err := auth.Check(ctx, KindChangeWindow, verb); err != nil {
			return store.Node{}, err
		}
		if err := s.checkCIs(ctx, *in.CIs, "ciIds"); err != nil {
			return store.Node{}, err
		}
	}
	n, err := s.writeConfig(ctx, actor, configKind{kind: KindChangeWindow, what: "change window", editable: windowEditable, check: checkWindowAttributes},
		id, expected, in.Attributes, verb)
	if err != nil || in.CIs == nil {
		return n, err
	}
	_, err = s.cmdb.SetLinks(ctx, actor, n.ID, RelAppliesTo, *in.CIs, cmdb.KindCI, "ciIds", true)
	return n, err
}

// configKind is a kind of configuration node that change managers keep
// (change windows, change templates), identified by its name.
type configKind struct {
	kind, what string
	editable   []string
	// check refuses the node as it will be stored (nil: anything the model
	// accepts).
	check func(store.Attributes) error
}

// writeConfig creates (id "") or updates a configuration node of kind k:
// the caller's permission (verb), only editable attributes, a name that
// is not blank, and k.check on the node as it will be stored, decided in
// the write.
func (s *Service) writeConfig(ctx context.Context, actor store.Actor, k configKind, id store.ID, expected int64, attrs map[string]any, verb auth.Verb) (store.Node, error) {
	if err := auth.Check(ctx, auth.Kind(k.kind), verb); err != nil {
		return store.Node{}, err
	}
	for name := range attrs {
		if !slices.Contains(k.editable, name) {
			return store.Node{}, store.Invalid("attributes."+name, "is not an attribute of a %s; allowed: %s", k.what, strings.Join(k.editable, ", "))
		}
	}
	if name, given := attrs["name"]; given || verb == auth.Create {
		if n, _ := name.(string); strings.TrimSpace(n) == "" {
			return store.Node{}, store.Invalid("attributes.name", "a %s needs a name", k.what)
		}
	}
	res, err := s.cmdb.WriteNode(ctx, actor, k.kind, cmdb.NodeWrite{
		ID: id, Input: attrs, Expected: expected, Verb: verb,
		Decide: func(cur *store.Node, input store.Attributes, _ time.Time) (store.Attributes, error) {
			if k.check == nil {
				return input, nil
			}
			var before store.Attributes
			if cur != nil {
				before = cur.Attributes
			}
			return input, k.check(overlay(before, input))
		},
	})
	return res.Node, err
}

// activeWindows returns the active change windows with their CIs, by
// name.
func (s *Service) activeWindows(ctx context.Context) ([]Window, error) {
	f := cmdb.Filter{Attributes: map[string]any{"active": true}, Sort: store.Sort{Field: "name"}}
	nodes, err := s.cmdb.AllNodes(ctx, KindChangeWindow, f)
	if err != nil {
		return nil, err
	}
	ids := make([]store.ID, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	targets := map[store.ID][]store.ID{}
	for lo := 0; lo < len(ids); lo += store.MaxBatch {
		batch := ids[lo:min(lo+store.MaxBatch, len(ids))]
		rels, err := s.st.RelationshipsOf(ctx, batch, store.Out, []string{RelAppliesTo})
		if err != nil {
			return nil, err
		}
		for _, id := range batch {
			for _, r := range rels[id] {
				targets[id] = append(targets[id], r.Target)
			}
		}
	}
	out := make([]Window, len(nodes))
	for i, n := range nodes {
		out[i] = WindowOf(n)
		out[i].CIs = targets[n.ID]
	}
	return out, nil
}

// windowConflicts returns the conflicts of a change planned over
// [start, end) on cis with the windows: each blackout it overlaps on one
// of its CIs (or anywhere, for a blackout of every CI), and each
// maintenance window of a CI it is not inside, when no other maintenance
// window of that CI holds it.
func windowConflicts(windows []Window, cis []store.ID, start, end time.Time) []Conflict {
	var out []Conflict
	covered := map[store.ID]bool{}
	hasMaintenance := map[store.ID][]int{}
	for i, w := range windows {
		applies := w.AppliesTo(cis)
		switch w.Type {
		case WindowBlackout:
			if len(applies) == 0 && len(w.CIs) > 0 {
				continue
			}
			if os := w.Occurrences(start, end); len(os) > 0 {
				out = append(out, Conflict{Kind: "blackout", Record: w.ID, Number: w.Name, Start: os[0].Start, End: os[0].End, CIs: applies})
			}
		case WindowMaintenance:
			inside := w.Covers(start, end)
			for _, c := range applies {
				hasMaintenance[c] = append(hasMaintenance[c], i)
				covered[c] = covered[c] || inside
			}
		}
	}
	outside := map[int][]store.ID{}
	var order []int
	for _, c := range cis {
		if covered[c] {
			continue
		}
		for _, i := range hasMaintenance[c] {
			if _, seen := outside[i]; !seen {
				order = append(order, i)
			}
			outside[i] = append(outside[i], c)
		}
	}
	slices.Sort(order)
	for _, i := range order {
		w := windows[i]
		c := Conflict{Kind: "outside_maintenance_window", Record: w.ID, Number: w.Name, CIs: outside[i]}
		if o, ok := w.Next(start); ok {
			c.Start, c.End = o.Start, o.End
		}
		out = append(out, c)
	}
	return out
}

// describeConflict is how a guard names a conflict.
func describeConflict(c Conflict) string {
	switch c.Kind {
	case "blackout":
		return "blackout " + c.Number
	case "outside_maintenance_window":
		return "maintenance window " + c.Number
	}
	return c.Number
}

// WindowByName returns the change window named name (ignoring case), if
// there is one.
func (s *Service) WindowByName(ctx context.Context, name string) (store.Node, bool, error) {
	return s.nodeNamed(ctx, KindChangeWindow, name)
}

// WindowCIs returns the CIs change window id applies to (none: every
// CI).
func (s *Service) WindowCIs(ctx context.Context, id store.ID) ([]store.ID, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return nil, err
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.Out, []string{RelAppliesTo})
	if err != nil {
		return nil, err
	}
	out := make([]store.ID, len(rels[id]))
	for i, r := range rels[id] {
		out[i] = r.Target
	}
	return out, nil
}
