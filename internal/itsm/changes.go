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

// changeEditable are the attributes createChange and updateChange take.
var changeEditable = []string{"short_description", "description", "type", "category", "risk", "risk_override_reason",
	"planned_start_at", "planned_end_at", "implementation_plan", "backout_plan", "test_plan"}

// ChangeWorkflow returns the workflow changes follow.
func (s *Service) ChangeWorkflow() *Workflow { return s.change }

// CreateChange opens a change in state new, numbered CHG0010001...,
// linked to its requester (Links.Caller), assignee, group and affected
// CIs. A standard change comes from a template (in.Template), whose
// description, plans, category and risk it takes where in gives none. The
// caller needs create change.
func (s *Service) CreateChange(ctx context.Context, actor store.Actor, in RecordInput) (store.Node, error) {
	if err := auth.Check(ctx, KindChange, auth.Create); err != nil {
		return store.Node{}, err
	}
	var template string
	if in.Template == "" {
		if err := standardNeedsTemplate(in.Attributes); err != nil {
			return store.Node{}, err // before a number is taken
		}
	}
	if in.Template != "" {
		var err error
		if in.Attributes, template, err = s.fromTemplate(ctx, in.Template, in.Attributes); err != nil {
			return store.Node{}, err
		}
	}
	k := recordKind{kind: KindChange, prefix: "CHG", workflow: s.change, editable: changeEditable}
	n, err := s.open(ctx, actor, k, in, func(out store.Attributes, _ time.Time) (store.Attributes, error) {
		if template != "" {
			out["template"] = template
		}
		if err := standardNeedsTemplate(out); err != nil {
			return nil, err
		}
		return out, checkWindow(out)
	})
	if err != nil || in.Template == "" {
		return n, err
	}
	return n, s.linkTemplate(ctx, actor, n.ID, in.Template)
}

// checkRiskOverride refuses a risk set apart from the computed one without
// a reason, and keeps the reason only while the risk is overridden.
func checkRiskOverride(before, patch, after store.Attributes) error {
	computed, _ := after["computed_risk"].(string)
	risk, _ := after["risk"].(string)
	reason, _ := after["risk_override_reason"].(string)
	_, setsRisk := patch["risk"]
	if setsRisk && computed != "" && risk != computed && strings.TrimSpace(reason) == "" {
		return store.Invalid("attributes.risk_override_reason", "the risk computed from its impact and history is %s: a different risk needs a reason", computed)
	}
	if setsRisk && (risk == computed || risk == "") {
		if _, had := before["risk_override_reason"]; had {
			patch["risk_override_reason"] = nil
		}
	}
	return nil
}

// checkWindow refuses a planned window that ends before it starts.
func checkWindow(a store.Attributes) error {
	start, ok1 := a["planned_start_at"].(time.Time)
	end, ok2 := a["planned_end_at"].(time.Time)
	if ok1 && ok2 && !start.Before(end) {
		return store.Invalid("attributes.planned_end_at", "must be after planned_start_at (%s)", start.Format(time.RFC3339))
	}
	return nil
}

// UpdateChange changes a change's attributes (while it is new or being
// assessed: revise an authorized change first) and its links (until it
// is closed or canceled).
func (s *Service) UpdateChange(ctx context.Context, actor store.Actor, id store.ID, expected int64, in RecordInput) (store.Node, error) {
	k := recordKind{kind: KindChange, workflow: s.change, editable: changeEditable}
	return s.update(ctx, actor, k, id, expected, in, func(cur *store.Node, out store.Attributes, _ time.Time) (store.Attributes, error) {
		state, _ := cur.Attributes["state"].(string)
		if state == ChangeClosed || state == ChangeCanceled {
			return nil, fmt.Errorf("change %v is %s and can no longer be changed: %w", cur.Attributes["number"], state, store.ErrConflict)
		}
		if len(out) > 0 && state != ChangeNew && state != ChangeAssess {
			return nil, fmt.Errorf("change %v is in state %s: revise it (back to assess) before changing what was approved: %w", cur.Attributes["number"], state, store.ErrConflict)
		}
		after := overlay(cur.Attributes, out)
		if err := checkRiskOverride(cur.Attributes, out, after); err != nil {
			return nil, err
		}
		if err := standardNeedsTemplate(after); err != nil {
			return nil, err
		}
		return out, checkWindow(after)
	})
}

// ActOnChange runs one workflow action on a change (assess,
// request_approval, revise, schedule, implement, review, close, cancel)
// with the attributes the action takes (schedule:
// conflict_override_reason; close: close_code, close_notes and
// ci_close_codes (EncodeCICloseCodes); cancel:
// close_notes). Before the write it gathers what the guards need: the
// approvers when approval is requested, the conflicts of the window when
// the change is scheduled.
func (s *Service) ActOnChange(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	if err := auth.Check(ctx, KindChange, auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := s.change.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	found, err := s.cmdb.Nodes(ctx, KindChange, []store.ID{id})
	if err != nil {
		return store.Node{}, err
	}
	cur, ok := found[id]
	if !ok {
		return store.Node{}, fmt.Errorf("change %s: %w", id, store.ErrNotFound)
	}
	var facts Facts
	switch action {
	case ActionAssess:
		snap, err := s.TakeSnapshot(ctx, cur, s.now())
		if err != nil {
			return store.Node{}, err
		}
		facts.Snapshot = &snap
	case ActionRequestApproval:
		if facts.Approvers, err = s.approvers(ctx, cur); err != nil {
			return store.Node{}, err
		}
		if cur.Attributes["state"] == ChangeNew {
			snap, err := s.TakeSnapshot(ctx, cur, s.now())
			if err != nil {
				return store.Node{}, err
			}
			facts.Snapshot = &snap
		}
	case ActionSchedule:
		if facts.Conflicts, err = s.ChangeConflicts(ctx, cur); err != nil {
			return store.Node{}, err
		}
		facts.MayOverride = auth.Check(ctx, KindChange, auth.Override) == nil
	case ActionReview:
		if facts.OpenTasks, err = s.openTaskNumbers(ctx, KindChangeTask, id); err != nil {
			return store.Node{}, err
		}
	case ActionCloseChange:
		if facts.CIs, err = s.affected(ctx, id); err != nil {
			return store.Node{}, err
		}
	}
	res, err := s.act(ctx, actor, KindChange, s.change, id, expected, action, input, facts, nil)
	if err != nil {
		return res.Node, err
	}
	if action == ActionCancelChange {
		return res.Node, s.cancelTasks(ctx, actor, KindChangeTask, res.Node)
	}
	return res.Node, nil
}

// DecideChange records the caller's decision (approve, or reject) on a
// change awaiting approvals, with a comment, and the change's approval
// outcome under its type's rule; both in one write of the change, so
// concurrent decisions serialise on it. The caller needs approve change
// and must be one of the change's approvers: the person whose user name
// is the caller's token name. A decision already taken, or a change not
// in authorize, is a CONFLICT; a caller who is not an approver is
// FORBIDDEN.
func (s *Service) DecideChange(ctx context.Context, actor store.Actor, id store.ID, expected int64, approve bool, comment string) (store.Node, error) {
	who, decision, err := decisionOf(ctx, KindChange, actor, approve, comment)
	if err != nil {
		return store.Node{}, err
	}
	res, err := s.cmdb.WriteNode(ctx, actor, KindChange, cmdb.NodeWrite{
		ID: id, Expected: expected, Verb: auth.Approve,
		Decide: func(cur *store.Node, _ store.Attributes, at time.Time) (store.Attributes, error) {
			typ, _ := cur.Attributes["type"].(string)
			return decide(cur.Attributes, who, decision, comment, at, s.rules[typ])
		},
	})
	if err != nil {
		return store.Node{}, approverRefused(err)
	}
	s.emit(actor, KindChange, res, false)
	return res.Node, nil
}

// decisionOf checks an approver's decision on a record of kind before it
// is written: the caller's permission, the comment's length; it returns
// who decides (the caller's token name) and the decision.
func decisionOf(ctx context.Context, kind string, actor store.Actor, approve bool, comment string) (who, decision string, err error) {
	if err := auth.Check(ctx, auth.Kind(kind), auth.Approve); err != nil {
		return "", "", err
	}
	if len(comment) > 4096 {
		return "", "", store.Invalid("comment", "at most 4096 bytes")
	}
	who = actor.Name
	if id, ok := auth.Caller(ctx); ok {
		who = id.Name
	}
	if approve {
		return who, ApprovalApproved, nil
	}
	return who, ApprovalRejected, nil
}

// approverRefused makes a decision refused to someone who is not an
// approver FORBIDDEN; other errors are returned as they are.
func approverRefused(err error) error {
	var de *DecisionError
	if errors.As(err, &de) && de.NotApprover() {
		return &auth.Error{Kind: auth.ErrForbidden, Reason: de.Error()}
	}
	return err
}

// Approvals returns a change's approvers and their decisions.
func Approvals(change store.Node) []Approval { return decodeApprovals(change.Attributes) }

// ChangeByNumber returns the change numbered number, if there is one.
func (s *Service) ChangeByNumber(ctx context.Context, number string) (store.Node, bool, error) {
	return s.byNumber(ctx, KindChange, number)
}

// byNumber returns the record of kind numbered number.
func (s *Service) byNumber(ctx context.Context, kind, number string) (store.Node, bool, error) {
	page, err := s.cmdb.ListNodes(ctx, kind, cmdb.Filter{Attributes: map[string]any{"number": number}, CaseSensitive: true},
		store.PageRequest{First: 1})
	if err != nil || len(page.Items) == 0 {
		return store.Node{}, false, err
	}
	return page.Items[0], true, nil
}

// AffectedCIs returns the CIs record id AFFECTS.
func (s *Service) AffectedCIs(ctx context.Context, id store.ID) ([]store.ID, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return nil, err
	}
	return s.affected(ctx, id)
}

// affected returns the CIs a record AFFECTS.
func (s *Service) affected(ctx context.Context, id store.ID) ([]store.ID, error) {
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.Out, []string{RelAffects})
	if err != nil {
		return nil, err
	}
	out := make([]store.ID, len(rels[id]))
	for i, r := range rels[id] {
		out[i] = r.Target
	}
	return out, nil
}

// approvers returns who must approve change c: the active members of the
// CAB group (the ECAB group for an emergency change, when it exists) and
// the people who own its affected CIs, each once, at most MaxApprovers,
// CAB members first, each part by user name.
func (s *Service) approvers(ctx context.Context, c store.Node) ([]Approval, error) {
	group := s.cab[0]
	if c.Attributes["type"] == ChangeEmergency {
		group = s.cab[1]
	}
	g, ok, err := s.groupNamed(ctx, group)
	if err != nil {
		return nil, err
	}
	if !ok && group != s.cab[0] {
		if g, ok, err = s.groupNamed(ctx, s.cab[0]); err != nil {
			return nil, err
		}
	}
	var ids []store.ID
	why := map[store.ID]string{}
	if ok {
		rels, err := s.st.RelationshipsOf(ctx, []store.ID{g.ID}, store.In, []string{cmdb.RelMemberOfGroup})
		if err != nil {
			return nil, err
		}
		for _, r := range rels[g.ID] {
			ids, why[r.Source] = append(ids, r.Source), "cab"
		}
	}
	cis, err := s.affected(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if len(cis) > 0 {
		rels, err := s.st.RelationshipsOf(ctx, cis, store.Out, []string{cmdb.RelOwnedBy})
		if err != nil {
			return nil, err
		}
		for _, ci := range cis {
			for _, r := range rels[ci] {
				if _, seen := why[r.Target]; !seen {
					ids, why[r.Target] = append(ids, r.Target), "owner"
				}
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	people, err := s.cmdb.Nodes(ctx, cmdb.KindPerson, ids)
	if err != nil {
		return nil, err
	}
	var out []Approval
	for _, id := range ids {
		p, ok := people[id] // a group owning a CI is not an approver
		if !ok || p.Attributes["active"] == false {
			continue
		}
		name, _ := p.Attributes["user_name"].(string)
		out = append(out, Approval{Approver: id, UserName: name, Why: why[id], State: ApprovalRequested})
	}
	// CAB members first, then owners, each by user name: the order people
	// read, the same on every backend.
	slices.SortFunc(out, func(a, b Approval) int {
		if a.Why != b.Why {
			return strings.Compare(a.Why, b.Why)
		}
		return strings.Compare(strings.ToLower(a.UserName), strings.ToLower(b.UserName))
	})
	if len(out) > MaxApprovers {
		return nil, store.Invalid("approvers", "%d people would approve this change; at most %d (a smaller CAB group, or fewer CIs per change)", len(out), MaxApprovers)
	}
	return out, nil
}

// groupNamed finds the group named name (ignoring case).
func (s *Service) groupNamed(ctx context.Context, name string) (store.Node, bool, error) {
	return s.nodeNamed(ctx, cmdb.KindGroup, name)
}

// nodeNamed finds the node of kind whose name is name (ignoring case).
func (s *Service) nodeNamed(ctx context.Context, kind, name string) (store.Node, bool, error) {
	page, err := s.cmdb.ListNodes(ctx, kind, cmdb.Filter{Attributes: map[string]any{"name": name}}, store.PageRequest{First: 1})
	if err != nil || len(page.Items) == 0 {
		return store.Node{}, false, err
	}
	return page.Items[0], true, nil
}

// ChangeConflicts returns what change c's planned window collides with:
// other changes scheduled or being implemented whose windows overlap it
// on a CI both affect (kind change) or on CIs related through impact (one
// change's CIs impacted by, or depended on by, the other's: kind impact);
// open priority-1 incidents on its CIs; blackout windows it overlaps and
// maintenance windows it falls outside of (see windowConflicts). A change
// without a planned window has none. They come by kind (change, impact,
// major incident, blackout, maintenance), then by number or name.
func (s *Service) ChangeConflicts(ctx context.Context, c store.Node) ([]Conflict, error) {
	start, ok1 := c.Attributes["planned_start_at"].(time.Time)
	end, ok2 := c.Attributes["planned_end_at"].(time.Time)
	if !ok1 || !ok2 {
		return nil, nil
	}
	cis, err := s.affected(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	windows, err := s.activeWindows(ctx)
	if err != nil {
		return nil, err
	}
	out := windowConflicts(windows, cis, start, end)
	if len(cis) > 0 {
		direct, err := s.recordConflicts(ctx, c.ID, cis, start, end)
		if err != nil {
			return nil, err
		}
		out = append(out, direct...)
		seen := map[store.ID]bool{c.ID: true}
		for _, d := range direct {
			seen[d.Record] = true
		}
		related, err := s.impactConflicts(ctx, cis, start, end, seen)
		if err != nil {
			return nil, err
		}
		out = append(out, related...)
	}
	rank := map[string]int{"change": 0, "impact": 1, "major_incident": 2, "blackout": 3, "outside_maintenance_window": 4}
	slices.SortStableFunc(out, func(a, b Conflict) int {
		if rank[a.Kind] != rank[b.Kind] {
			return rank[a.Kind] - rank[b.Kind]
		}
		return strings.Compare(a.Number, b.Number)
	})
	return out, nil
}

// overlapping says whether change n is scheduled or being implemented
// with a window overlapping [start, end), and returns that window.
func overlapping(n store.Node, start, end time.Time) (time.Time, time.Time, bool) {
	state, _ := n.Attributes["state"].(string)
	os, ok1 := n.Attributes["planned_start_at"].(time.Time)
	oe, ok2 := n.Attributes["planned_end_at"].(time.Time)
	return os, oe, (state == ChangeScheduled || state == ChangeImplement) && ok1 && ok2 && os.Before(end) && start.Before(oe)
}

// recordConflicts returns the conflicts of change id, planned over
// [start, end) on cis, with the records on the same CIs: overlapping
// changes, open priority-1 incidents.
func (s *Service) recordConflicts(ctx context.Context, id store.ID, cis []store.ID, start, end time.Time) ([]Conflict, error) {
	shared, others, err := s.recordsAffecting(ctx, cis, id)
	if err != nil {
		return nil, err
	}
	nodes, err := s.nodesOf(ctx, KindChange, others)
	if err != nil {
		return nil, err
	}
	incidents, err := s.nodesOf(ctx, KindIncident, others)
	if err != nil {
		return nil, err
	}
	for id, n := range incidents {
		nodes[id] = n
	}
	var out []Conflict
	for _, id := range others {
		n, ok := nodes[id]
		if !ok {
			continue
		}
		number, _ := n.Attributes["number"].(string)
		state, _ := n.Attributes["state"].(string)
		switch string(n.Kind) {
		case KindChange:
			if os, oe, ok := overlapping(n, start, end); ok {
				out = append(out, Conflict{Kind: "change", Record: id, Number: number, Start: os, End: oe, CIs: shared[id]})
			}
		case KindIncident:
			if p, _ := n.Attributes["priority"].(int64); p == 1 && slices.Contains(OpenStates, state) {
				out = append(out, Conflict{Kind: "major_incident", Record: id, Number: number, CIs: shared[id]})
			}
		}
	}
	return out, nil
}

// recordsAffecting returns the records (other than except) with an
// AFFECTS relationship to any of cis, in the order found, and for each
// the CIs of cis it affects.
func (s *Service) recordsAffecting(ctx context.Context, cis []store.ID, except store.ID) (map[store.ID][]store.ID, []store.ID, error) {
	shared := map[store.ID][]store.ID{}
	var others []store.ID
	for lo := 0; lo < len(cis); lo += store.MaxBatch {
		batch := cis[lo:min(lo+store.MaxBatch, len(cis))]
		rels, err := s.st.RelationshipsOf(ctx, batch, store.In, []string{RelAffects})
		if err != nil {
			return nil, nil, err
		}
		for _, ci := range batch {
			for _, r := range rels[ci] {
				if r.Source == except {
					continue
				}
				if _, seen := shared[r.Source]; !seen {
					others = append(others, r.Source)
				}
				shared[r.Source] = append(shared[r.Source], ci)
			}
		}
	}
	return shared, others, nil
}

// impactConflicts returns the changes, other than those in skip, that are
// scheduled or being implemented over [start, end) on CIs related to cis
// through impact: CIs that a failure of cis would impact, or that cis
// depend on (up to snapshotDepth hops, from at most the analyzer's start
// limit of cis). Each names the other change's CIs so related.
func (s *Service) impactConflicts(ctx context.Context, cis []store.ID, start, end time.Time, skip map[store.ID]bool) ([]Conflict, error) {
	if s.impact == nil {
		return nil, nil
	}
	depth := min(snapshotDepth, s.impact.Options().MaxDepth)
	starts := cis[:min(len(cis), s.impact.Options().MaxStarts)]
	own := map[store.ID]bool{}
	for _, c := range cis {
		own[c] = true
	}
	reach := map[store.ID]bool{}
	res, err := s.impact.Analyze(ctx, impact.Request{CIs: starts, MaxDepth: depth, Unordered: true}) // a set: no order
	if err != nil {
		return nil, err
	}
	for _, i := range res.Impacted {
		reach[i.CI.ID] = true
	}
	for _, root := range starts {
		deps, err := s.impact.Dependencies(ctx, root, depth, nil, impact.ReachOptions{})
		if err != nil {
			return nil, err
		}
		for _, n := range deps.Nodes {
			reach[n.CI.ID] = true
		}
	}
	var related []store.ID
	for id := range reach {
		if !own[id] {
			related = append(related, id)
		}
	}
	slices.Sort(related)
	shared, others, err := s.recordsAffecting(ctx, related, "")
	if err != nil {
		return nil, err
	}
	nodes, err := s.nodesOf(ctx, KindChange, others)
	if err != nil {
		return nil, err
	}
	var out []Conflict
	for _, id := range others {
		n, ok := nodes[id]
		if !ok || skip[id] {
			continue
		}
		if os, oe, ok := overlapping(n, start, end); ok {
			number, _ := n.Attributes["number"].(string)
			out = append(out, Conflict{Kind: "impact", Record: id, Number: number, Start: os, End: oe, CIs: shared[id]})
		}
	}
	return out, nil
}
