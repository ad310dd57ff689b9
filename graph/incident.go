package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Incidents: the view of a node of kind incident, and the parsing of the
// incident mutations' inputs into calls of itsm.Service. Resolvers in
// incident.resolvers.go call these.

// incidentStates gives the views their state codes (states do not depend
// on the configuration).
var incidentStates = itsm.IncidentWorkflow(itsm.DefaultReopenWindow)

func incidentView(n store.Node) *model.Incident {
	wf := incidentStates
	a := n.Attributes
	v := &model.Incident{
		ID: globalID(typeIncident, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Description: strAttr(a, "description"), Category: strAttr(a, "category"), Subcategory: strAttr(a, "subcategory"),
		ResolutionNotes: strAttr(a, "resolution_notes"), CloseNotes: strAttr(a, "close_notes"), ReopenReason: strAttr(a, "reopen_reason"),
		Impact: intAttr(a, "impact", 3), Urgency: intAttr(a, "urgency", 3), Priority: intAttr(a, "priority", 5),
		ReopenCount: intAttr(a, "reopen_count", 0), ResolvedAt: timeAttr(a, "resolved_at"), ClosedAt: timeAttr(a, "closed_at"),
	}
	v.Number, _ = a["number"].(string)
	v.ShortDescription, _ = a["short_description"].(string)
	state, _ := a["state"].(string)
	if state == "" {
		state = wf.Initial
	}
	v.State = model.IncidentState(strings.ToUpper(state))
	if s, ok := wf.State(state); ok {
		v.StateCode = s.Code
	}
	if v.Priority >= 1 && v.Priority <= len(itsm.PriorityLabels) {
		v.PriorityLabel = itsm.PriorityLabels[v.Priority-1]
	}
	if r := strAttr(a, "on_hold_reason"); r != nil {
		h := model.OnHoldReason(strings.ToUpper(*r))
		v.OnHoldReason = &h
	}
	if r := strAttr(a, "resolution_code"); r != nil {
		c := model.ResolutionCode(strings.ToUpper(*r))
		v.ResolutionCode = &c
	}
	if t := timeAttr(a, "opened_at"); t != nil {
		v.OpenedAt = *t
	} else {
		v.OpenedAt = n.CreatedAt
	}
	return v
}

func intAttr(a store.Attributes, k string, def int) int {
	if n, ok := a[k].(int64); ok {
		return int(n)
	}
	return def
}

func timeAttr(a store.Attributes, k string) *time.Time {
	if t, ok := a[k].(time.Time); ok {
		return &t
	}
	return nil
}

// incident reads one incident through the service (which checks the
// caller may read incidents); nil when there is none.
func (r *Resolver) incident(ctx context.Context, id store.ID) (*model.Incident, error) {
	return nodeOf(ctx, r, itsm.KindIncident, id, incidentView)
}

// nodeOf reads the node of kind with id through the service (which checks
// the caller may read that kind) as view makes it; nil when there is none.
func nodeOf[T any](ctx context.Context, r *Resolver, kind string, id store.ID, view func(store.Node) *T) (*T, error) {
	found, err := r.CMDB.Nodes(ctx, kind, []store.ID{id})
	if n, ok := found[id]; ok && err == nil {
		return view(n), nil
	}
	return nil, err
}

func incidentConnection(page store.Page[store.Node]) *model.IncidentConnection {
	return &model.IncidentConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.IncidentEdge {
			return model.IncidentEdge{Cursor: c, Node: incidentView(n)}
		})}
}

// incidentOrderIn converts an incidents order.
func incidentOrderIn(o *model.IncidentOrder) *model.NodeOrder {
	if o == nil {
		return nil
	}
	field := model.NodeSortFieldID
	switch o.Field {
	case model.IncidentSortFieldCreatedAt:
		field = model.NodeSortFieldCreatedAt
	case model.IncidentSortFieldUpdatedAt:
		field = model.NodeSortFieldUpdatedAt
	}
	return &model.NodeOrder{Field: field, Direction: o.Direction}
}

// incidentInputFields names, for the attributes whose input field is not
// their camelCase name, the field of the GraphQL input they came from.
var incidentInputFields = map[string]string{
	"on_hold_reason": "reason",
	"reopen_reason":  "reason",
	"close_notes":    "notes",
}

// incidentErr names the error's field as the client wrote it
// ("input.shortDescription"), and a missing incident by its global ID.
func incidentErr(err error, gid string) error {
	return recordErr(err, gid, "incident", incidentInputFields)
}

// recordErr names a record write's error field as the client wrote it
// ("attributes.short_description" as "input.shortDescription", renamed
// by fields where the input field is not the camelCase name), and a
// missing record (what) by its global ID.
func recordErr(err error, gid, what string, fields map[string]string) error {
	if err == nil {
		return nil
	}
	rename := func(f string) string {
		name, isAttr := strings.CutPrefix(f, "attributes.")
		if !isAttr {
			return "input." + f
		}
		if to, ok := fields[name]; ok {
			return "input." + to
		}
		return "input." + camel(name)
	}
	var ve *store.VersionConflictError
	if errors.As(err, &ve) {
		return store.AtField("input.expectedVersion", err)
	}
	var te *itsm.TransitionError
	if errors.As(err, &te) {
		if te.Guard == "" {
			return store.AtField("input.id", err)
		}
		named := *te
		if te.Field != "" {
			named.Field = rename(te.Field)
		}
		return &named
	}
	f, ok := store.FieldOf(err)
	if !ok && isNotFound(err) {
		return notFoundAt("input.id", what, gid)
	}
	if !ok {
		return err
	}
	return store.WithField(err, rename(f))
}

// camel turns a snake_case attribute name into the camelCase of its input
// field (planned_start_at: plannedStartAt).
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// linkIn converts an optional link ID of an update: left out (nil), null
// (a pointer to "", which unlinks) or an ID of type typ.
func linkIn(field string, v graphql.Omittable[*string], typ string) (*store.ID, error) {
	if !v.IsSet() {
		return nil, nil
	}
	if v.Value() == nil {
		var none store.ID
		return &none, nil
	}
	return linkOf(field, v.Value(), typ)
}

// linkOf converts a link ID given at create (nil: none).
func linkOf(field string, gid *string, typ string) (*store.ID, error) {
	if gid == nil {
		return nil, nil
	}
	id, err := idOf(field, *gid, typ)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// ciListIn converts a list of CI IDs.
func ciListIn(field string, gids []string) (*[]store.ID, error) {
	if len(gids) > store.MaxBatch {
		return nil, store.Invalid(field, "at most %d CIs", store.MaxBatch)
	}
	ids := make([]store.ID, len(gids))
	for i, g := range gids {
		var err error
		if ids[i], err = ciID(fmt.Sprintf("%s[%d]", field, i), g); err != nil {
			return nil, err
		}
	}
	return &ids, nil
}

func createIncidentIn(in model.CreateIncidentInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{"short_description": in.ShortDescription}}
	for k, v := range map[string]any{"description": in.Description, "impact": in.Impact, "urgency": in.Urgency,
		"category": in.Category, "subcategory": in.Subcategory} {
		if a := derefAnyPtr(v); a != nil {
			out.Attributes[k] = a
		}
	}
	var err error
	out.Links, err = linksOf("input.callerId", in.CallerID, in.AssignedToID, in.AssignmentGroupID, in.AffectedCIIds)
	return out, err
}

// linksOf converts the links given when a record is opened: the person
// who reported or requested it (named by callerField), its assignee, its
// group and its CIs (nil: none).
func linksOf(callerField string, caller, assignee, group *string, cis []string) (itsm.Links, error) {
	var l itsm.Links
	var err error
	if l.Caller, err = linkOf(callerField, caller, typePerson); err != nil {
		return l, err
	}
	if l.AssignedTo, err = linkOf("input.assignedToId", assignee, typePerson); err != nil {
		return l, err
	}
	if l.AssignmentGroup, err = linkOf("input.assignmentGroupId", group, typeGroup); err != nil {
		return l, err
	}
	if cis != nil {
		l.AffectedCIs, err = ciListIn("input.affectedCIIds", cis)
	}
	return l, err
}

// linksIn converts the links an update names (see linkIn).
func linksIn(callerField string, caller, assignee, group graphql.Omittable[*string], cis graphql.Omittable[[]string]) (itsm.Links, error) {
	var l itsm.Links
	var err error
	if l.Caller, err = linkIn(callerField, caller, typePerson); err != nil {
		return l, err
	}
	if l.AssignedTo, err = linkIn("input.assignedToId", assignee, typePerson); err != nil {
		return l, err
	}
	if l.AssignmentGroup, err = linkIn("input.assignmentGroupId", group, typeGroup); err != nil {
		return l, err
	}
	if cis.IsSet() {
		l.AffectedCIs, err = ciListIn("input.affectedCIIds", cis.Value())
	}
	return l, err
}

// derefAnyPtr returns what a *string, *int or *time.Time points at, or
// nil.
func derefAnyPtr(v any) any {
	switch p := v.(type) {
	case *string:
		if p != nil {
			return *p
		}
	case *int:
		if p != nil {
			return *p
		}
	case *time.Time:
		if p != nil {
			return *p
		}
	}
	return nil
}

func updateIncidentIn(in model.UpdateIncidentInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{}}
	a := out.Attributes
	setOmittable(a, "short_description", in.ShortDescription)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "impact", in.Impact)
	setOmittable(a, "urgency", in.Urgency)
	setOmittable(a, "category", in.Category)
	setOmittable(a, "subcategory", in.Subcategory)
	var err error
	out.Links, err = linksIn("input.callerId", in.CallerID, in.AssignedToID, in.AssignmentGroupID, in.AffectedCIIds)
	return out, err
}

// expectedIn checks an optional expected version.
func expectedIn(v *int) (int64, error) {
	if v == nil {
		return 0, nil
	}
	if *v < 1 {
		return 0, store.Invalid("input.expectedVersion", "%d is not a version; allowed: 1 or more", *v)
	}
	return int64(*v), nil
}

// actOnIncident runs one incident action with its inputs (attribute name
// -> value) and returns the payload.
func (r *mutationResolver) actOnIncident(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.IncidentPayload, error) {
	id, err := idOf("input.id", gid, typeIncident)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(expected)
	if err != nil {
		return nil, err
	}
	n, err := r.ITSM.ActOnIncident(ctx, writeAs(ctx, nil), id, exp, action, input)
	if err != nil {
		return nil, incidentErr(err, gid)
	}
	return &model.IncidentPayload{Incident: incidentView(n)}, nil
}

// incidentsOfCI answers CI.incidents: the incidents with an AFFECTS
// relationship to the CI (openOnly: in an open state), newest first.
func (r *Resolver) incidentsOfCI(ctx context.Context, ci store.ID, openOnly bool, first *int, after *string) (*model.IncidentConnection, error) {
	p, err := pageIn(first, 50, after)
	if err != nil {
		return nil, err
	}
	page, err := r.ITSM.IncidentsOf(ctx, ci, openOnly, store.PageRequest{First: countOnly(ctx, p.First), After: p.After})
	if err != nil {
		return nil, err
	}
	return incidentConnection(page), nil
}

// linked returns the node a record's one link of type typ (REPORTED_BY,
// ASSIGNED_TO...) leads to; false when it has none.
func (r *Resolver) linked(ctx context.Context, id store.ID, typ string) (store.Node, bool, error) {
	one := 1
	page, err := r.related(ctx, id, store.Out, typ, &one, nil)
	if err != nil || len(page.Items) == 0 {
		return store.Node{}, false, err
	}
	return page.Items[0], true, nil
}

func journalView(n store.Node) *model.JournalEntry {
	v := &model.JournalEntry{ID: globalID(typeJournalEntry, n.ID), CreatedAt: n.CreatedAt, Raw: n,
		Author: strAttr(n.Attributes, "author"), Record: strAttr(n.Attributes, "record")}
	v.Text, _ = n.Attributes["text"].(string)
	t, _ := n.Attributes["type"].(string)
	v.Type = model.NoteType(strings.ToUpper(t))
	return v
}

func journalConnection(page store.Page[store.Node]) *model.JournalConnection {
	return &model.JournalConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.JournalEdge {
			return model.JournalEdge{Cursor: c, Node: journalView(n)}
		})}
}

// journal answers the journal field of a record.
func (r *Resolver) journal(ctx context.Context, id store.ID, typeArg *model.NoteType, first *int, after *string) (*model.JournalConnection, error) {
	p, err := pageIn(first, 50, after)
	if err != nil {
		return nil, err
	}
	var types []string
	if typeArg != nil {
		types = []string{strings.ToLower(string(*typeArg))}
	}
	page, err := r.ITSM.Journal(ctx, id, types, store.PageRequest{First: countOnly(ctx, p.First), After: p.After})
	if err != nil {
		return nil, err
	}
	return journalConnection(page), nil
}

// addNote writes a note on the record id of kind (its input's ID as the
// client wrote it is in in.ID).
func (r *mutationResolver) addNote(ctx context.Context, kind string, id store.ID, in model.AddNoteInput) (*model.JournalEntry, error) {
	e, err := r.ITSM.AddNote(ctx, writeAs(ctx, nil), kind, id, strings.ToLower(string(in.Type)), in.Text)
	if err != nil {
		if f, ok := store.FieldOf(err); ok && f == "id" {
			return nil, notFoundAt("input.id", kind, in.ID)
		}
		return nil, store.PrefixField(renamePath(err, "attributes.text", "text"), "input")
	}
	return journalView(e), nil
}

// setOmittable sets attribute k of an update from an optional input
// field: left out, nothing; null, nil (clear); else its value.
func setOmittable[T any](attrs map[string]any, k string, v graphql.Omittable[*T]) {
	if !v.IsSet() {
		return
	}
	if p := v.Value(); p != nil {
		attrs[k] = *p
	} else {
		attrs[k] = nil
	}
}
