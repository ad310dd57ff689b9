package itsm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// Incidents from monitoring: the alerts of a Prometheus Alertmanager
// notification open, update and resolve incidents. The adapter
// (internal/alerts) parses the webhook; this file decides.

// Alert is one alert of a notification.
type Alert struct {
	// Status is "firing" or "resolved".
	Status       string
	Labels       map[string]string
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
	// Fingerprint identifies the alert across notifications.
	Fingerprint string
}

// Alert outcomes.
const (
	AlertOpened    = "opened"    // a new incident, for this alert alone or a group
	AlertGrouped   = "grouped"   // added to an incident opened for another alert
	AlertUpdated   = "updated"   // already on an open incident: nothing new
	AlertResolved  = "resolved"  // its incident was resolved (its last firing alert)
	AlertCleared   = "cleared"   // resolved, its incident still has others firing
	AlertUnmatched = "unmatched" // resolved, but no open incident holds it
)

// AlertOutcome is what one alert did.
type AlertOutcome struct {
	Fingerprint string
	Status      string
	// Action is one of the Alert* outcomes.
	Action string
	// Incident is the incident it opened, joined or resolved ("" for none).
	Incident store.ID
	Number   string
	// CI is the CI its labels named ("" when none matched).
	CI store.ID
}

// MaxAlerts bounds the alerts of one notification.
const MaxAlerts = 1000

// alertDepth is how far up the dependencies a group of alerts looks for a
// common cause.
const alertDepth = 4

// ReceiveAlerts records a notification's alerts. The caller needs alert
// incident; what it does is written under the caller's actor (source
// "alertmanager" by default), with the process's rights for the reads and
// writes alerts need (finding CIs, opening incidents), so that a monitor
// token needs no other permission.
//
//   - A firing alert already on an open incident changes nothing.
//   - New firing alerts are matched to CIs by their labels (the
//     itsm.alert_ci_labels, in order: a CI by name, FQDN or IP address; an
//     instance's ":port" is dropped). Alerts whose CIs share a dependency
//     (a CI they depend on, up to 4 hops) are grouped under one incident on
//     the CI shared by the most of them, nearest first (the likeliest
//     common cause): a database failing makes its applications alert, and
//     one incident on the database carries every alert. An open incident
//     from alerts on that CI takes them; else one is opened, its priority
//     from the alerts' severity label (critical 1/1, error 2/1, warning
//     2/2, else 3/3).
//   - A resolved alert is cleared from the incident holding it; the
//     incident is resolved when its last firing alert is.
//
// Every alert is recorded on its incident: its fingerprint, and a work note.
func (s *Service) ReceiveAlerts(ctx context.Context, actor store.Actor, alerts []Alert) ([]AlertOutcome, error) {
	if err := auth.Check(ctx, KindIncident, auth.Alert); err != nil {
		return nil, err
	}
	if len(alerts) > MaxAlerts {
		return nil, store.Invalid("alerts", "at most %d alerts a notification, got %d", MaxAlerts, len(alerts))
	}
	for i, a := range alerts {
		if a.Fingerprint == "" || len(a.Fingerprint) > 128 {
			return nil, store.Invalid(fmt.Sprintf("alerts[%d].fingerprint", i), "is required, at most 128 characters")
		}
		if a.Status != "firing" && a.Status != "resolved" {
			return nil, store.Invalid(fmt.Sprintf("alerts[%d].status", i), "%q; allowed: firing, resolved", a.Status)
		}
	}
	if actor.Source == "" {
		actor.Source = "alertmanager"
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return nil, err
	}
	pctx := auth.AsProcess(ctx)
	out := make([]AlertOutcome, len(alerts))
	var fresh []int // firing alerts on no open incident yet
	for i, a := range alerts {
		out[i] = AlertOutcome{Fingerprint: a.Fingerprint, Status: a.Status}
		inc, found, err := s.incidentWithAlert(pctx, a.Fingerprint)
		if err != nil {
			return nil, err
		}
		switch {
		case a.Status == "firing" && found:
			out[i].Action, out[i].Incident, out[i].Number = AlertUpdated, inc.ID, numberOf(inc)
		case a.Status == "firing":
			fresh = append(fresh, i)
		case !found:
			out[i].Action = AlertUnmatched
		default:
			n, err := s.clearAlert(pctx, actor, inc, a)
			if err != nil {
				return nil, err
			}
			out[i].Action, out[i].Incident, out[i].Number = AlertCleared, n.ID, numberOf(n)
			if n.Attributes["state"] == StateResolved {
				out[i].Action = AlertResolved
			}
		}
	}
	if len(fresh) == 0 {
		return out, nil
	}
	cis := make(map[int]store.ID, len(fresh))
	for _, i := range fresh {
		ci, err := s.alertCI(pctx, alerts[i])
		if err != nil {
			return nil, err
		}
		cis[i], out[i].CI = ci, ci
	}
	groups, err := s.groupAlerts(pctx, fresh, cis)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		inc, opened, err := s.recordAlerts(pctx, actor, g, alerts, cis)
		if err != nil {
			return nil, err
		}
		for j, i := range g.alerts {
			out[i].Incident, out[i].Number = inc.ID, numberOf(inc)
			out[i].Action = AlertGrouped
			if opened && j == 0 {
				out[i].Action = AlertOpened
			}
		}
	}
	return out, nil
}

func numberOf(n store.Node) string {
	s, _ := n.Attributes["number"].(string)
	return s
}

// incidentWithAlert returns the open incident holding fingerprint.
func (s *Service) incidentWithAlert(ctx context.Context, fingerprint string) (store.Node, bool, error) {
	vals := make([]any, len(OpenStates))
	for i, st := range OpenStates {
		vals[i] = st
	}
	f := cmdb.Filter{Where: &store.Expr{Op: store.OpAnd, Args: []store.Expr{
		{Op: store.OpContains, Field: "alert_fingerprints", Value: fingerprint},
		{Op: store.OpIn, Field: "state", Values: vals},
	}}, CaseSensitive: true}
	page, err := s.cmdb.ListNodes(ctx, KindIncident, f, store.PageRequest{First: 1})
	if err != nil || len(page.Items) == 0 {
		return store.Node{}, false, err
	}
	return page.Items[0], true, nil
}

// alertCI returns the CI an alert's labels name ("" for none).
func (s *Service) alertCI(ctx context.Context, a Alert) (store.ID, error) {
	for _, label := range s.alertLabels {
		v := strings.TrimSpace(a.Labels[label])
		if v == "" {
			continue
		}
		values := []string{v}
		if host, _, ok := strings.Cut(v, ":"); ok && host != "" && !strings.Contains(v, "]") && strings.Count(v, ":") == 1 {
			values = append(values, host) // host:port
		}
		for _, val := range values {
			if len(val) > 255 {
				continue
			}
			for _, f := range []cmdb.Filter{{Name: val}, {Attributes: map[string]any{"fqdn": val}}, {Attributes: map[string]any{"ip_address": val}}} {
				page, err := s.cmdb.ListNodes(ctx, cmdb.KindCI, f, store.PageRequest{First: 1})
				var ie *store.InvalidError
				if errors.As(err, &ie) {
					continue // a value that is no FQDN or address for the model
				}
				if err != nil {
					return "", err
				}
				if len(page.Items) > 0 {
					return page.Items[0].ID, nil
				}
			}
		}
	}
	return "", nil
}

// alertGroup is alerts recorded on one incident, on cause (or on no CI).
type alertGroup struct {
	cause  store.ID
	alerts []int
}

// groupAlerts groups the fresh alerts (indexes) by their likeliest common
// cause: repeatedly, the CI in the dependency trees of the most ungrouped
// alert CIs (ties: the smallest total distance, then the CI's ID) takes
// those alerts when there are two or more; the rest stand alone on their
// own CI. Alerts on no CI stand alone.
func (s *Service) groupAlerts(ctx context.Context, fresh []int, cis map[int]store.ID) ([]alertGroup, error) {
	trees := map[store.ID]map[store.ID]int{} // alert CI -> CI it depends on -> hops
	for _, i := range fresh {
		ci := cis[i]
		if ci == "" || trees[ci] != nil {
			continue
		}
		tree := map[store.ID]int{ci: 0}
		if s.impact != nil {
			res, err := s.impact.Dependencies(ctx, ci, alertDepth, nil, impact.ReachOptions{})
			if err != nil {
				return nil, err
			}
			for _, n := range res.Nodes {
				tree[n.CI.ID] = n.Depth
			}
		}
		trees[ci] = tree
	}
	var groups []alertGroup
	left := slices.Clone(fresh)
	for len(left) > 0 {
		type score struct {
			n, dist int
		}
		best, bestScore := store.ID(""), score{}
		scores := map[store.ID]score{}
		for _, i := range left {
			for c, d := range trees[cis[i]] {
				sc := scores[c]
				sc.n++
				sc.dist += d
				scores[c] = sc
			}
		}
		for c, sc := range scores {
			if sc.n > bestScore.n || sc.n == bestScore.n && (sc.dist < bestScore.dist || sc.dist == bestScore.dist && c < best) {
				best, bestScore = c, sc
			}
		}
		if bestScore.n < 2 {
			for _, i := range left {
				groups = append(groups, alertGroup{cause: cis[i], alerts: []int{i}})
			}
			break
		}
		g := alertGroup{cause: best}
		var rest []int
		for _, i := range left {
			if _, in := trees[cis[i]][best]; in {
				g.alerts = append(g.alerts, i)
			} else {
				rest = append(rest, i)
			}
		}
		groups = append(groups, g)
		left = rest
	}
	return groups, nil
}

// severityLevels maps an alert's severity label to impact and urgency.
var severityLevels = map[string][2]int64{"critical": {1, 1}, "error": {2, 1}, "warning": {2, 2}}

// recordAlerts records a group of alerts: on the open incident from
// alerts that concerns the group's cause, or on a new one. It returns the
// incident and whether it was opened.
func (s *Service) recordAlerts(ctx context.Context, actor store.Actor, g alertGroup, alerts []Alert, cis map[int]store.ID) (store.Node, bool, error) {
	fps := make([]string, len(g.alerts))
	affected := []store.ID{}
	if g.cause != "" {
		affected = append(affected, g.cause)
	}
	level := [2]int64{3, 3}
	for j, i := range g.alerts {
		fps[j] = alerts[i].Fingerprint
		if ci := cis[i]; ci != "" && !slices.Contains(affected, ci) {
			affected = append(affected, ci)
		}
		if l, ok := severityLevels[strings.ToLower(alerts[i].Labels["severity"])]; ok && l[0]*10+l[1] < level[0]*10+level[1] {
			level = l
		}
	}
	var inc store.Node
	opened := false
	existing, found, err := s.alertIncidentOn(ctx, g.cause)
	if err != nil {
		return inc, false, err
	}
	if found {
		inc = existing
		res, err := s.cmdb.WriteNode(ctx, actor, KindIncident, cmdb.NodeWrite{ID: inc.ID, Verb: auth.Alert,
			Decide: func(cur *store.Node, _ store.Attributes, _ time.Time) (store.Attributes, error) {
				return store.Attributes{
					"alert_fingerprints": union(cur.Attributes["alert_fingerprints"], fps),
					"alerts_firing":      union(cur.Attributes["alerts_firing"], fps),
				}, nil
			}})
		if err != nil {
			return inc, false, err
		}
		inc = res.Node
		cur, err := s.affected(ctx, inc.ID)
		if err != nil {
			return inc, false, err
		}
		all := slices.Clone(cur)
		for _, ci := range affected {
			if !slices.Contains(all, ci) {
				all = append(all, ci)
			}
		}
		if len(all) > len(cur) {
			if _, err := s.cmdb.SetLinks(ctx, actor, inc.ID, RelAffects, all, cmdb.KindCI, "affectedCIIds", true); err != nil {
				return inc, false, err
			}
		}
	} else {
		first := alerts[g.alerts[0]]
		title := first.Annotations["summary"]
		if title == "" {
			title = first.Labels["alertname"]
		}
		if len(g.alerts) > 1 {
			title = fmt.Sprintf("%d alerts: %s", len(g.alerts), title)
		}
		if title == "" {
			title = "Alert " + first.Fingerprint
		}
		if len(title) > 160 {
			title = title[:157] + "..."
		}
		in := RecordInput{Attributes: map[string]any{"short_description": title, "impact": level[0], "urgency": level[1], "category": "monitoring"},
			Links: Links{AffectedCIs: &affected}}
		if d := first.Annotations["description"]; d != "" {
			in.Attributes["description"] = clipText(d, 16384)
		}
		k := recordKind{kind: KindIncident, prefix: "INC", workflow: s.incident, editable: incidentEditable, verb: auth.Alert}
		inc, err = s.open(ctx, actor, k, in, func(out store.Attributes, at time.Time) (store.Attributes, error) {
			out["alert_fingerprints"], out["alerts_firing"] = slices.Sorted(slices.Values(fps)), slices.Sorted(slices.Values(fps))
			out, err := s.withPriority(nil, out)
			if err != nil {
				return nil, err
			}
			return s.withSLA(nil, out, at), nil
		})
		if err != nil {
			return inc, false, err
		}
		opened = true
	}
	for _, i := range g.alerts {
		a := alerts[i]
		note := fmt.Sprintf("Alert %s firing since %s (fingerprint %s): %s %s", a.Labels["alertname"], a.StartsAt.UTC().Format(time.RFC3339),
			a.Fingerprint, a.Annotations["summary"], a.GeneratorURL)
		if _, err := s.addNote(ctx, actor, inc, NoteWorkNote, clipText(note, 16384)); err != nil {
			return inc, opened, err
		}
	}
	return inc, opened, nil
}

// alertIncidentOn returns an open incident from alerts on CI ci.
func (s *Service) alertIncidentOn(ctx context.Context, ci store.ID) (store.Node, bool, error) {
	if ci == "" {
		return store.Node{}, false, nil
	}
	open, err := s.OpenIncidentsOn(ctx, []store.ID{ci})
	if err != nil {
		return store.Node{}, false, err
	}
	for _, n := range open {
		if fps, ok := n.Attributes["alert_fingerprints"].([]string); ok && len(fps) > 0 {
			return n, true, nil
		}
	}
	return store.Node{}, false, nil
}

// clearAlert removes a resolved alert from its incident's firing alerts,
// noting it, and resolves the incident when none is left firing.
func (s *Service) clearAlert(ctx context.Context, actor store.Actor, inc store.Node, a Alert) (store.Node, error) {
	res, err := s.cmdb.WriteNode(ctx, actor, KindIncident, cmdb.NodeWrite{ID: inc.ID, Verb: auth.Alert,
		Decide: func(cur *store.Node, _ store.Attributes, at time.Time) (store.Attributes, error) {
			firing, _ := cur.Attributes["alerts_firing"].([]string)
			left := slices.DeleteFunc(slices.Clone(firing), func(f string) bool { return f == a.Fingerprint })
			out := store.Attributes{"alerts_firing": left}
			if len(left) == 0 {
				out["alerts_firing"] = nil
				state, _ := cur.Attributes["state"].(string)
				if slices.Contains(OpenStates, state) {
					patch, err := s.incident.Apply(ActionResolve, Record{Attributes: cur.Attributes, At: at, Input: store.Attributes{
						"resolution_code": "solved_remotely", "resolution_notes": "Every alert resolved (Alertmanager).",
					}})
					if err != nil {
						return nil, err
					}
					for k, v := range patch {
						out[k] = v
					}
					return s.withSLA(cur, out, at), nil
				}
			}
			return out, nil
		}})
	if err != nil {
		return inc, err
	}
	s.emit(actor, KindIncident, res, false) // incident.state_changed when it resolved it
	note := fmt.Sprintf("Alert %s resolved at %s (fingerprint %s).", a.Labels["alertname"], a.EndsAt.UTC().Format(time.RFC3339), a.Fingerprint)
	if _, err := s.addNote(ctx, actor, res.Node, NoteWorkNote, clipText(note, 16384)); err != nil {
		return res.Node, err
	}
	return res.Node, nil
}

// union returns the sorted union of a stored list and more.
func union(stored any, more []string) []string {
	cur, _ := stored.([]string)
	out := slices.Clone(cur)
	for _, m := range more {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
