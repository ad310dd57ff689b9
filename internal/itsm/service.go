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

// Relationship types from records to what they concern. Impact analysis
// never travels along them (the model declares them with propagates:
// none).
const (
	// RelAffects links a record to a CI it concerns (incident -> CI).
	RelAffects = "AFFECTS"
	// RelReportedBy links a record to the person who reported it (the
	// caller).
	RelReportedBy = "REPORTED_BY"
	// RelAssignedTo links a record to the person working it.
	RelAssignedTo = "ASSIGNED_TO"
	// RelAssignedToGroup links a record to the group it is assigned to.
	RelAssignedToGroup = "ASSIGNED_TO_GROUP"
)

// Config is the service desk's configuration.
type Config struct {
	// Priority maps impact and urgency to priority (DefaultMatrix when
	// zero).
	Priority Matrix
	// ReopenWindow is how long after its resolution an incident may be
	// reopened (DefaultReopenWindow when 0).
	ReopenWindow time.Duration
	// SLA is the service level policy (DefaultSLATargets over
	// DefaultBusinessHours in UTC when it has no calendars).
	SLA SLAPolicy
	// Now is the clock service levels are read at (time.Now when nil);
	// writes use the store's transaction time.
	Now func() time.Time
	// CABGroup names the group whose active members approve normal changes
	// ("CAB" when empty); ECABGroup the one for emergency changes ("ECAB";
	// the CAB group when there is no such group).
	CABGroup, ECABGroup string
	// Rules are how approvals combine, by change type (normal: all,
	// emergency: any, when absent).
	Rules map[string]Rule
	// Impact answers the dependency questions of records (which change
	// broke this incident); nil leaves them unanswered.
	Impact *impact.Analyzer
	// AlertCILabels are the alert labels that name a CI, in the order they
	// are tried (instance, then service, when empty).
	AlertCILabels []string
	// Publish is told of every record event (see Event) after its write;
	// nil tells no one. It must not block.
	Publish func(Event)
}

// Service opens, changes and advances records. Every method checks the
// caller's permission on (kind, verb) through cmdb.Service.
type Service struct {
	cmdb     *cmdb.Service
	st       Store
	priority Matrix
	incident *Workflow
	sla      SLAPolicy
	now      func() time.Time
	change   *Workflow
	problem  *Workflow
	// changeTask and problemTask are the tasks' workflows.
	changeTask, problemTask *Workflow
	// asset is the asset lifecycle.
	asset *Workflow
	// chunk overrides store.MaxBatch as the IDs one linked-records filter
	// takes (tests).
	chunk int
	// request, item and catalogTask are the workflows of requests,
	// requested items and catalog tasks.
	request, item, catalogTask *Workflow
	// knowledge is the knowledge article workflow.
	knowledge *Workflow
	cab       [2]string // CAB, ECAB group names
	rules     map[string]Rule
	impact    *impact.Analyzer
	// alertLabels are Config.AlertCILabels.
	alertLabels []string
	publish     func(Event)
	// swept is how far back the next breach sweep must look for
	// incidents whose clocks stopped (see SweepBreaches).
	swept sweepMark
}

// Store is what the service reads and writes besides cmdb.Service: record
// numbers, and the relationships that lead from a CI to its records.
type Store interface {
	store.SequenceStore
	RelationshipsOf(ctx context.Context, ids []store.ID, dir store.Direction, types []string) (map[store.ID][]store.Relationship, error)
}

// NewService returns the service over c (validation, permissions, writes)
// and st (record numbers, links of CIs).
func NewService(c *cmdb.Service, st Store, cfg Config) (*Service, error) {
	if cfg.Priority == (Matrix{}) {
		cfg.Priority = DefaultMatrix
	}
	if err := cfg.Priority.Check(); err != nil {
		return nil, err
	}
	if cfg.ReopenWindow <= 0 {
		cfg.ReopenWindow = DefaultReopenWindow
	}
	if cfg.SLA.Calendars == nil {
		p, err := NewSLAPolicy(DefaultSLATargets, DefaultBusinessHours, time.UTC)
		if err != nil {
			return nil, err
		}
		cfg.SLA = p
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.AlertCILabels) == 0 {
		cfg.AlertCILabels = []string{"instance", "service"}
	}
	if cfg.CABGroup == "" {
		cfg.CABGroup = "CAB"
	}
	if cfg.ECABGroup == "" {
		cfg.ECABGroup = "ECAB"
	}
	rules := map[string]Rule{ChangeNormal: {Kind: "all"}, ChangeEmergency: {Kind: "any"}}
	for k, r := range cfg.Rules {
		rules[k] = r
	}
	return &Service{cmdb: c, st: st, priority: cfg.Priority, incident: IncidentWorkflow(cfg.ReopenWindow), sla: cfg.SLA, now: cfg.Now,
		change: ChangeWorkflow(), problem: ProblemWorkflow(), changeTask: ChangeTaskWorkflow(), problemTask: ProblemTaskWorkflow(), asset: AssetWorkflow(),
		request: RequestWorkflow(), item: RequestedItemWorkflow(), catalogTask: CatalogTaskWorkflow(),
		knowledge: KnowledgeWorkflow(), cab: [2]string{cfg.CABGroup, cfg.ECABGroup}, rules: rules, impact: cfg.Impact, alertLabels: cfg.AlertCILabels, publish: cfg.Publish}, nil
}

// SLA returns the service level of an incident (its stored attributes a)
// now.
func (s *Service) SLA(a store.Attributes) SLAStatus { return s.sla.Status(a, s.now()) }

// overlay returns base with patch applied (a nil value deletes).
func overlay(base, patch store.Attributes) store.Attributes {
	out := make(store.Attributes, len(base)+len(patch))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range patch {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// withSLA adds to patch the SLA attributes of the write (SLAPolicy.Track)
// of an incident stored as cur (nil when it is opened) at at.
func (s *Service) withSLA(cur *store.Node, patch store.Attributes, at time.Time) store.Attributes {
	return s.withClock(incidentClock, cur, patch, at)
}

// withClock is withSLA for a record whose states drive its SLA as c
// says.
func (s *Service) withClock(c slaClock, cur *store.Node, patch store.Attributes, at time.Time) store.Attributes {
	var before store.Attributes
	if cur != nil {
		before = cur.Attributes
		same := true
		for k, v := range patch {
			if old, has := before[k]; v == nil && has || v != nil && !store.EqualValues(old, v) {
				same = false
				break
			}
		}
		if same {
			return patch // a write that changes nothing leaves the clock alone
		}
	}
	for k, v := range s.sla.track(c, before, overlay(before, patch), at) {
		patch[k] = v
	}
	return patch
}

// IncidentWorkflow returns the workflow incidents follow.
func (s *Service) IncidentWorkflow() *Workflow { return s.incident }

// Links are the edges of a record to people, groups and CIs that a write
// sets. A nil field leaves that link as it is; a pointer to "" (or an
// empty list) removes it.
type Links struct {
	Caller          *store.ID
	AssignedTo      *store.ID
	AssignmentGroup *store.ID
	AffectedCIs     *[]store.ID
}

// RecordInput is what a client writes when it opens or updates a record.
type RecordInput struct {
	// Attributes are the record's editable attributes (for an incident:
	// short_description, description, impact, urgency, category,
	// subcategory); nil or "" clears one.
	Attributes map[string]any
	Links      Links
	// Template is the change template a change is opened from (changes
	// only; "" for none).
	Template store.ID
}

// checkEditable refuses attributes a client may not write directly,
// naming the first (sorted) and what sets it.
func checkEditable(w *Workflow, editable []string, attrs map[string]any) error {
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(editable, k) {
			return store.Invalid("attributes."+k, "is not set directly; editable: %s (state, resolution and times change with the actions: %s)",
				strings.Join(editable, ", "), strings.Join(w.Actions(), ", "))
		}
	}
	return nil
}

// checkLinks checks, before anything is written, that every link names a
// node of the right kind (a not-found error naming the input field).
func (s *Service) checkLinks(ctx context.Context, l Links) error {
	one := func(id *store.ID, kind, field string) error {
		if id == nil || *id == "" {
			return nil
		}
		found, err := s.cmdb.Nodes(ctx, kind, []store.ID{*id})
		if err != nil {
			return err
		}
		if _, ok := found[*id]; !ok {
			return store.NoNode(field, store.ObjectKind(kind))
		}
		return nil
	}
	if err := one(l.Caller, cmdb.KindPerson, "callerId"); err != nil {
		return err
	}
	if err := one(l.AssignedTo, cmdb.KindPerson, "assignedToId"); err != nil {
		return err
	}
	if err := one(l.AssignmentGroup, cmdb.KindGroup, "assignmentGroupId"); err != nil {
		return err
	}
	if l.AffectedCIs == nil {
		return nil
	}
	return s.checkCIs(ctx, *l.AffectedCIs, "affectedCIIds")
}

// checkCIs checks that every ID of ids (named field) is a CI: at most
// store.MaxBatch, each found (a not-found error naming field[i]).
func (s *Service) checkCIs(ctx context.Context, ids []store.ID, field string) error {
	if len(ids) == 0 {
		return nil // none, or clear them all
	}
	if len(ids) > store.MaxBatch {
		return store.Invalid(field, "at most %d CIs", store.MaxBatch)
	}
	found, err := s.cmdb.Nodes(ctx, cmdb.KindCI, ids)
	if err != nil {
		return err
	}
	for i, id := range ids {
		if _, ok := found[id]; !ok {
			return store.NoNode(fmt.Sprintf("%s[%d]", field, i), store.KindCI)
		}
	}
	return nil
}

// setLinks writes the links l names of record id.
func (s *Service) setLinks(ctx context.Context, actor store.Actor, id store.ID, l Links) error {
	one := func(target *store.ID, typ, kind, field string) error {
		if target == nil {
			return nil
		}
		var ts []store.ID
		if *target != "" {
			ts = []store.ID{*target}
		}
		_, err := s.cmdb.SetLinks(ctx, actor, id, typ, ts, kind, field, false)
		return err
	}
	if err := one(l.Caller, RelReportedBy, cmdb.KindPerson, "callerId"); err != nil {
		return err
	}
	if err := one(l.AssignedTo, RelAssignedTo, cmdb.KindPerson, "assignedToId"); err != nil {
		return err
	}
	if err := one(l.AssignmentGroup, RelAssignedToGroup, cmdb.KindGroup, "assignmentGroupId"); err != nil {
		return err
	}
	if l.AffectedCIs != nil {
		if _, err := s.cmdb.SetLinks(ctx, actor, id, RelAffects, *l.AffectedCIs, cmdb.KindCI, "affectedCIIds", true); err != nil {
			return err
		}
	}
	return nil
}

// withPriority returns patch with the priority of the impact and urgency
// the record will have (patch's, else current's, else 3).
func (s *Service) withPriority(current store.Attributes, patch store.Attributes) (store.Attributes, error) {
	level := func(name string) int64 {
		if v, ok := patch[name]; ok {
			n, _ := v.(int64)
			if n == 0 {
				return 3 // cleared: the default
			}
			return n
		}
		if n, ok := current[name].(int64); ok {
			return n
		}
		return 3
	}
	p, err := s.priority.Priority(level("impact"), level("urgency"))
	if err != nil {
		return nil, store.Invalid("attributes", "%v", err)
	}
	patch["priority"] = p
	return patch, nil
}

// recordKind is what opening a record of one kind needs: its kind,
// workflow, number prefix and the attributes a client writes.
type recordKind struct {
	kind     string
	prefix   string
	workflow *Workflow
	editable []string
	// verb is the permission opening it needs (auth.Create when empty).
	verb auth.Verb
}

// open opens a record of kind k: the caller's permission, the input and
// links checked, the next number, one write of the client's attributes
// with the number, the initial state and the opening time, completed by
// finish (derived values; nil for none), then the links.
func (s *Service) open(ctx context.Context, actor store.Actor, k recordKind, in RecordInput,
	finish func(out store.Attributes, at time.Time) (store.Attributes, error)) (store.Node, error) {
	if k.verb == "" {
		k.verb = auth.Create
	}
	if err := auth.Check(ctx, auth.Kind(k.kind), k.verb); err != nil {
		return store.Node{}, err
	}
	if err := checkEditable(k.workflow, k.editable, in.Attributes); err != nil {
		return store.Node{}, err
	}
	if err := s.checkLinks(ctx, in.Links); err != nil {
		return store.Node{}, err
	}
	if err := s.cmdb.CheckNew(k.kind, in.Attributes); err != nil {
		return store.Node{}, err // before a number is taken
	}
	n, err := s.st.NextSequence(ctx, k.kind, 1)
	if err != nil {
		return store.Node{}, err
	}
	number := FormatNumber(k.prefix, n)
	res, err := s.cmdb.WriteNode(ctx, actor, k.kind, cmdb.NodeWrite{
		Input: in.Attributes, Verb: k.verb,
		Decide: func(_ *store.Node, input store.Attributes, at time.Time) (store.Attributes, error) {
			out := make(store.Attributes, len(input)+4)
			for k, v := range input {
				if v != nil {
					out[k] = v
				}
			}
			out["number"], out["state"], out["opened_at"] = number, k.workflow.Initial, at
			if finish == nil {
				return out, nil
			}
			return finish(out, at)
		},
	})
	if err != nil {
		return store.Node{}, err
	}
	s.emit(actor, k.kind, res, true)
	if err := s.setLinks(ctx, actor, res.Node.ID, in.Links); err != nil {
		return res.Node, err
	}
	return res.Node, nil
}

// CreateIncident opens an incident in state new, numbered INC0010001,
// INC0010002..., with its priority from impact and urgency (3 each when
// not given), and links it to its caller, assignee, group and affected
// CIs. The caller needs create incident.
func (s *Service) CreateIncident(ctx context.Context, actor store.Actor, in RecordInput) (store.Node, error) {
	k := recordKind{kind: KindIncident, prefix: "INC", workflow: s.incident, editable: incidentEditable}
	return s.open(ctx, actor, k, in, func(out store.Attributes, at time.Time) (store.Attributes, error) {
		out, err := s.withPriority(nil, out)
		if err != nil {
			return nil, err
		}
		return s.withSLA(nil, out, at), nil
	})
}

// UpdateIncident changes an incident's editable attributes and links
// (its priority follows impact and urgency). With expected not 0 the
// incident must be at that version. A closed or canceled incident is not
// changed (a CONFLICT naming its state).
func (s *Service) UpdateIncident(ctx context.Context, actor store.Actor, id store.ID, expected int64, in RecordInput) (store.Node, error) {
	k := recordKind{kind: KindIncident, workflow: s.incident, editable: incidentEditable}
	return s.update(ctx, actor, k, id, expected, in, func(cur *store.Node, out store.Attributes, at time.Time) (store.Attributes, error) {
		if err := s.editable(cur); err != nil {
			return nil, err
		}
		out, err := s.withPriority(cur.Attributes, out)
		if err != nil {
			return nil, err
		}
		return s.withSLA(cur, out, at), nil
	})
}

// update changes a record of kind k: the caller's permission, the input
// and links checked, one write of the client's attributes as decide
// (which may refuse the record's state, or add derived values) makes
// them, then the links.
func (s *Service) update(ctx context.Context, actor store.Actor, k recordKind, id store.ID, expected int64, in RecordInput,
	decide func(cur *store.Node, out store.Attributes, at time.Time) (store.Attributes, error)) (store.Node, error) {
	if err := auth.Check(ctx, auth.Kind(k.kind), auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := checkEditable(k.workflow, k.editable, in.Attributes); err != nil {
		return store.Node{}, err
	}
	if err := s.checkLinks(ctx, in.Links); err != nil {
		return store.Node{}, err
	}
	res, err := s.cmdb.WriteNode(ctx, actor, k.kind, cmdb.NodeWrite{
		ID: id, Input: in.Attributes, Expected: expected, Verb: auth.Update,
		Decide: func(cur *store.Node, input store.Attributes, at time.Time) (store.Attributes, error) {
			out := make(store.Attributes, len(input)+1)
			for k, v := range input {
				out[k] = v
			}
			return decide(cur, out, at)
		},
	})
	if err != nil {
		return store.Node{}, err
	}
	if err := s.setLinks(ctx, actor, id, in.Links); err != nil {
		return res.Node, err
	}
	return res.Node, nil
}

// editable refuses changes to a record in a final state.
func (s *Service) editable(cur *store.Node) error {
	state, _ := cur.Attributes["state"].(string)
	if state == StateClosed || state == StateCanceled {
		return fmt.Errorf("%s %v is %s and can no longer be changed: %w", KindIncident, cur.Attributes["number"], state, store.ErrConflict)
	}
	return nil
}

// ActOnIncident runs one workflow action on an incident (start, hold,
// resume, resolve, close, reopen, cancel) with the attributes the action
// takes (hold: on_hold_reason; resolve: resolution_code and
// resolution_notes; reopen: reopen_reason; cancel: close_notes). The
// transition is decided against the incident as stored inside the write
// transaction: an action the state does not allow is a CONFLICT
// (*TransitionError naming the allowed actions), a guard that fails an
// INVALID naming the guard and the input.
func (s *Service) ActOnIncident(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	if err := auth.Check(ctx, KindIncident, auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := s.incident.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	res, err := s.act(ctx, actor, KindIncident, s.incident, id, expected, action, input, Facts{}, s.withSLA)
	return res.Node, err
}

// IncidentByNumber returns the incident numbered number (compared as
// written: INC0010001), if there is one.
func (s *Service) IncidentByNumber(ctx context.Context, number string) (store.Node, bool, error) {
	return s.byNumber(ctx, KindIncident, number)
}

// FormatNumber returns a record number as ServiceNow writes them: the
// prefix and seven digits, counting from 0010001.
func FormatNumber(prefix string, n int64) string {
	return fmt.Sprintf("%s%07d", prefix, 10000+n)
}

// OpenStates are the states of an incident still being dealt with.
var OpenStates = []string{StateNew, StateInProgress, StateOnHold}

// IncidentsOf returns a page of the incidents that concern CI ci (AFFECTS
// relationships), newest first; with openOnly, those in an open state.
func (s *Service) IncidentsOf(ctx context.Context, ci store.ID, openOnly bool, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindIncident, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	var where *store.Expr
	if openOnly {
		vals := make([]any, len(OpenStates))
		for i, st := range OpenStates {
			vals[i] = st
		}
		where = &store.Expr{Op: store.OpIn, Field: "state", Values: vals}
	}
	return s.linkedFrom(ctx, ci, RelAffects, KindIncident, where, p)
}

// ChangesOf returns a page of the changes on CI ci (AFFECTS), newest
// first; with openOnly, those not closed or canceled.
func (s *Service) ChangesOf(ctx context.Context, ci store.ID, openOnly bool, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindChange, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	var where *store.Expr
	if openOnly {
		where = &store.Expr{Op: store.OpNot, Args: []store.Expr{{Op: store.OpIn, Field: "state", Values: []any{ChangeClosed, ChangeCanceled}}}}
	}
	return s.linkedFrom(ctx, ci, RelAffects, KindChange, where, p)
}

// MaxDueWithinMinutes bounds DueWithin: a year.
const MaxDueWithinMinutes = 525600

// DueWithin returns the filter of the open incidents whose response (while
// new) or resolution is due within minutes from now, breached ones
// included.
func (s *Service) DueWithin(minutes int) (*store.Expr, error) {
	if minutes < 0 || minutes > MaxDueWithinMinutes {
		return nil, store.Invalid("", "%d minutes; allowed: 0 to %d", minutes, MaxDueWithinMinutes)
	}
	limit := s.now().UTC().Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339Nano)
	return &store.Expr{Op: store.OpOr, Args: []store.Expr{
		{Op: store.OpAnd, Args: []store.Expr{
			{Op: store.OpEq, Field: "state", Value: StateNew},
			{Op: store.OpLte, Field: attrResponseDueAt, Value: limit},
		}},
		{Op: store.OpLte, Field: attrResolutionDueAt, Value: limit},
	}}, nil
}

// act writes one workflow action on record id of kind: the transition of
// w decided against the record as stored and locked in the write (with
// the facts gathered before it), completed by finish when not nil
// (derived values, such as the SLA clock), then told to the publisher.
// The caller checked the permission and the action's input.
func (s *Service) act(ctx context.Context, actor store.Actor, kind string, w *Workflow, id store.ID, expected int64, action string,
	input map[string]any, facts Facts, finish func(cur *store.Node, out store.Attributes, at time.Time) store.Attributes) (store.UpsertResult, error) {
	res, err := s.cmdb.WriteNode(ctx, actor, kind, cmdb.NodeWrite{
		ID: id, Input: input, Expected: expected, Verb: auth.Update,
		Decide: func(cur *store.Node, input store.Attributes, at time.Time) (store.Attributes, error) {
			out, err := w.Apply(action, Record{Attributes: cur.Attributes, Input: input, At: at, Facts: facts})
			if err != nil || finish == nil {
				return out, err
			}
			return finish(cur, out, at), nil
		},
	})
	if err == nil {
		s.emit(actor, kind, res, false)
	}
	return res, err
}
