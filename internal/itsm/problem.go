package itsm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// KindProblem is the model kind of problems (class Problem).
const KindProblem = "problem"

// Problem states, as stored.
const (
	ProblemNew      = "new"
	ProblemAssess   = "assess"
	ProblemRCA      = "root_cause_analysis"
	ProblemFix      = "fix_in_progress"
	ProblemResolved = "resolved"
	ProblemClosed   = "closed"
)

// Problem actions.
const (
	ActionAssessProblem  = "assess"
	ActionAnalyze        = "analyze"
	ActionFix            = "fix"
	ActionResolveProblem = "resolve"
	ActionCloseProblem   = "close"
	ActionCancelProblem  = "cancel"
)

// Relationship types of problems.
const (
	// RelIncidentOf links an incident to the problem that causes it.
	RelIncidentOf = "INCIDENT_OF"
	// RelFixedBy links a problem to the change that fixes it.
	RelFixedBy = "FIXED_BY"
	// RelCausedBy links an incident to the change that caused it.
	RelCausedBy = "CAUSED_BY"
	// RelRootCause links a problem to the CI found to be its root cause.
	RelRootCause = "ROOT_CAUSE"
)

// problemOpen are the states of a problem still being dealt with.
var problemOpen = []string{ProblemNew, ProblemAssess, ProblemRCA, ProblemFix}

// problemEditable are the attributes createProblem and updateProblem take.
var problemEditable = []string{"short_description", "description", "impact", "urgency", "category", "root_cause", "known_error", "workaround"}

// ProblemWorkflow returns the problem workflow: New -> Assess -> Root
// Cause Analysis -> Fix in Progress -> Resolved -> Closed, and closed as
// canceled from any open state.
func ProblemWorkflow() *Workflow {
	rootCause := Guard{Name: "root_cause_given", Field: "attributes.root_cause", Check: func(r Record) error {
		if s, _ := r.Attributes["root_cause"].(string); strings.TrimSpace(s) == "" {
			return fmt.Errorf("the root cause is documented first (updateProblem rootCause)")
		}
		return nil
	}}
	return &Workflow{
		Kind:    KindProblem,
		Initial: ProblemNew,
		States: []State{
			{ProblemNew, 101, "New"}, {ProblemAssess, 102, "Assess"}, {ProblemRCA, 103, "Root Cause Analysis"},
			{ProblemFix, 104, "Fix in Progress"}, {ProblemResolved, 106, "Resolved"}, {ProblemClosed, 107, "Closed"},
		},
		Transitions: []Transition{
			{Action: ActionAssessProblem, From: []string{ProblemNew}, To: ProblemAssess},
			{Action: ActionAnalyze, From: []string{ProblemAssess}, To: ProblemRCA},
			{Action: ActionFix, From: []string{ProblemRCA}, To: ProblemFix, Guards: []Guard{rootCause}},
			{Action: ActionResolveProblem, From: []string{ProblemFix}, To: ProblemResolved,
				Inputs: []string{"resolution_code", "fix_notes"},
				Guards: []Guard{required("resolution_code", "a resolution code"), tasksClosed("the problem is resolved")},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"resolution_code": r.Input["resolution_code"], "fix_notes": r.Input["fix_notes"], "resolved_at": r.At}
				}},
			{Action: ActionCloseProblem, From: []string{ProblemResolved}, To: ProblemClosed,
				Set: func(r Record) store.Attributes { return store.Attributes{"closed_at": r.At} }},
			{Action: ActionCancelProblem, From: problemOpen, To: ProblemClosed,
				Inputs: []string{"fix_notes"},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"resolution_code": "canceled", "fix_notes": r.Input["fix_notes"], "closed_at": r.At}
				}},
		},
	}
}

// knownErrorNeedsWorkaround refuses a known error without a workaround.
func knownErrorNeedsWorkaround(a store.Attributes) error {
	if known, _ := a["known_error"].(bool); known {
		if w, _ := a["workaround"].(string); strings.TrimSpace(w) == "" {
			return store.Invalid("attributes.workaround", "a known error needs its workaround")
		}
	}
	return nil
}

// ProblemWorkflow returns the workflow problems follow.
func (s *Service) ProblemWorkflow() *Workflow { return s.problem }

// CreateProblem opens a problem in state new, numbered PRB0010001...
func (s *Service) CreateProblem(ctx context.Context, actor store.Actor, in RecordInput) (store.Node, error) {
	k := recordKind{kind: KindProblem, prefix: "PRB", workflow: s.problem, editable: problemEditable}
	return s.open(ctx, actor, k, in, func(out store.Attributes, _ time.Time) (store.Attributes, error) {
		if err := knownErrorNeedsWorkaround(out); err != nil {
			return nil, err
		}
		return s.withPriority(nil, out)
	})
}

// UpdateProblem changes a problem's attributes (its root cause, whether it
// is a known error and its workaround...) and links, until it is closed.
func (s *Service) UpdateProblem(ctx context.Context, actor store.Actor, id store.ID, expected int64, in RecordInput) (store.Node, error) {
	k := recordKind{kind: KindProblem, workflow: s.problem, editable: problemEditable}
	return s.update(ctx, actor, k, id, expected, in, func(cur *store.Node, out store.Attributes, _ time.Time) (store.Attributes, error) {
		if cur.Attributes["state"] == ProblemClosed {
			return nil, fmt.Errorf("problem %v is closed and can no longer be changed: %w", cur.Attributes["number"], store.ErrConflict)
		}
		if err := knownErrorNeedsWorkaround(overlay(cur.Attributes, out)); err != nil {
			return nil, err
		}
		return s.withPriority(cur.Attributes, out)
	})
}

// ActOnProblem runs one workflow action on a problem (assess, analyze,
// fix, resolve, close, cancel) with the attributes it takes (resolve:
// resolution_code and fix_notes; cancel: fix_notes). A problem is not
// resolved while one of its tasks is open; canceling it cancels them.
func (s *Service) ActOnProblem(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	if err := auth.Check(ctx, KindProblem, auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := s.problem.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	var facts Facts
	if action == ActionResolveProblem {
		var err error
		if facts.OpenTasks, err = s.openTaskNumbers(ctx, KindProblemTask, id); err != nil {
			return store.Node{}, err
		}
	}
	res, err := s.act(ctx, actor, KindProblem, s.problem, id, expected, action, input, facts, nil)
	if err != nil {
		return res.Node, err
	}
	if action == ActionCancelProblem {
		return res.Node, s.cancelTasks(ctx, actor, KindProblemTask, res.Node)
	}
	return res.Node, nil
}

// ProblemByNumber returns the problem numbered number, if there is one.
func (s *Service) ProblemByNumber(ctx context.Context, number string) (store.Node, bool, error) {
	return s.byNumber(ctx, KindProblem, number)
}

// LinkIncidentToProblem records that problem causes incident (one
// INCIDENT_OF relationship: linking it to another problem moves it; an
// empty problem unlinks it). The caller needs update incident.
func (s *Service) LinkIncidentToProblem(ctx context.Context, actor store.Actor, incident, problem store.ID) error {
	return s.setOneLink(ctx, actor, KindIncident, incident, "incidentId", RelIncidentOf, KindProblem, problem, "problemId")
}

// SetFixChange records the change that fixes problem (one FIXED_BY
// relationship; "" removes it). The caller needs update problem.
func (s *Service) SetFixChange(ctx context.Context, actor store.Actor, problem, change store.ID) error {
	return s.setOneLink(ctx, actor, KindProblem, problem, "problemId", RelFixedBy, KindChange, change, "changeId")
}

// SetRootCauseCI records the CI found to be the root cause of problem
// (one ROOT_CAUSE relationship; "" removes it), beside its root cause
// text. The caller needs update problem.
func (s *Service) SetRootCauseCI(ctx context.Context, actor store.Actor, problem, ci store.ID) error {
	return s.setOneLink(ctx, actor, KindProblem, problem, "problemId", RelRootCause, cmdb.KindCI, ci, "ciId")
}

// SetIncidentCause records the change that caused incident (one CAUSED_BY
// relationship; "" removes it). The caller needs update incident.
func (s *Service) SetIncidentCause(ctx context.Context, actor store.Actor, incident, change store.ID) error {
	return s.setOneLink(ctx, actor, KindIncident, incident, "incidentId", RelCausedBy, KindChange, change, "changeId")
}

// setOneLink makes record src (of kind, named by srcField) have exactly
// one relationship of type rel, to target (of targetKind, named by
// targetField), or none when target is "". The caller needs update of
// kind; a record or target that does not exist is not-found naming its
// field.
func (s *Service) setOneLink(ctx context.Context, actor store.Actor, kind string, src store.ID, srcField, rel, targetKind string, target store.ID, targetField string) error {
	if err := auth.Check(ctx, auth.Kind(kind), auth.Update); err != nil {
		return err
	}
	found, err := s.cmdb.Nodes(ctx, kind, []store.ID{src})
	if err != nil {
		return err
	}
	if _, ok := found[src]; !ok {
		return store.NoNode(srcField, store.ObjectKind(kind))
	}
	var targets []store.ID
	if target != "" {
		targets = []store.ID{target}
	}
	_, err = s.cmdb.SetLinks(ctx, actor, src, rel, targets, targetKind, targetField, false)
	return err
}

// IncidentsCausedBy returns a page of the incidents a change caused,
// newest first.
func (s *Service) IncidentsCausedBy(ctx context.Context, change store.ID, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindIncident, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFrom(ctx, change, RelCausedBy, KindIncident, nil, p)
}

// IncidentsOfProblem returns a page of the incidents a problem causes,
// newest first.
func (s *Service) IncidentsOfProblem(ctx context.Context, problem store.ID, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindIncident, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFrom(ctx, problem, RelIncidentOf, KindIncident, nil, p)
}

// KnownErrors returns a page of the known errors, newest first: problems
// marked known_error and not closed, and, when text is not empty, whose
// short description, description, root cause or workaround contains text
// (ignoring case).
func (s *Service) KnownErrors(ctx context.Context, text string, p store.PageRequest) (store.Page[store.Node], error) {
	args := []store.Expr{
		{Op: store.OpEq, Field: "known_error", Value: true},
		{Op: store.OpNot, Args: []store.Expr{{Op: store.OpEq, Field: "state", Value: ProblemClosed}}},
	}
	if text = strings.TrimSpace(text); text != "" {
		var ors []store.Expr
		for _, f := range []string{"short_description", "description", "root_cause", "workaround"} {
			ors = append(ors, store.Expr{Op: store.OpContains, Field: f, Value: text})
		}
		args = append(args, store.Expr{Op: store.OpOr, Args: ors})
	}
	f := cmdb.Filter{Where: &store.Expr{Op: store.OpAnd, Args: args}, Sort: store.Sort{Field: store.FieldCreatedAt, Desc: true}}
	page, err := s.cmdb.ListNodes(ctx, KindProblem, f, p)
	if err == nil {
		page.Cursors = store.SortCursors(f.Sort, page.Items)
	}
	return page, err
}

// CommonCause is a CI common to the dependency trees of a problem's
// incidents.
type CommonCause struct {
	CI store.ID
	// Incidents is how many of the problem's incidents have the CI in
	// their tree; Distance the fewest hops from one of their CIs to it.
	Incidents, Distance int
}

// CommonCauses returns, for problem id, the CIs common to the dependency
// trees of at least two of its incidents (each incident's CIs and what they
// depend on, up to depth hops by the impact rules), most shared first,
// then nearest, then by ID.
func (s *Service) CommonCauses(ctx context.Context, id store.ID, depth int) ([]CommonCause, error) {
	for _, k := range []auth.Kind{KindProblem, KindIncident, auth.KindCI, auth.KindRelationship} {
		if err := auth.Check(ctx, k, auth.Read); err != nil {
			return nil, err
		}
	}
	if s.impact == nil {
		return nil, fmt.Errorf("itsm: no impact analyzer configured")
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.In, []string{RelIncidentOf})
	if err != nil {
		return nil, err
	}
	count := map[store.ID]int{}
	dist := map[store.ID]int{}
	for _, r := range rels[id] {
		roots, err := s.affected(ctx, r.Source)
		if err != nil {
			return nil, err
		}
		tree := map[store.ID]int{}
		for _, root := range roots {
			tree[root] = 0
			res, err := s.impact.Dependencies(ctx, root, depth, nil, impact.ReachOptions{})
			if err != nil {
				return nil, store.WithField(err, "depth")
			}
			for _, n := range res.Nodes {
				if d, seen := tree[n.CI.ID]; !seen || n.Depth < d {
					tree[n.CI.ID] = n.Depth
				}
			}
		}
		for ci, d := range tree {
			count[ci]++
			if cur, seen := dist[ci]; !seen || d < cur {
				dist[ci] = d
			}
		}
	}
	var out []CommonCause
	for ci, n := range count {
		if n >= 2 {
			out = append(out, CommonCause{CI: ci, Incidents: n, Distance: dist[ci]})
		}
	}
	slices.SortFunc(out, func(a, b CommonCause) int {
		if a.Incidents != b.Incidents {
			return b.Incidents - a.Incidents
		}
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		return strings.Compare(string(a.CI), string(b.CI))
	})
	return out, nil
}
