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
		Version: int(max(n.Version, 1)), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
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
	found, err := r.CMDB.Nodes(ctx, itsm.KindIncident, []store.ID{id})
	if n, ok := found[id]; ok && err == nil {
		return incidentView(n), nil
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

// incidentInputFields names, for each attribute or link the service
// names in an error, the field of the GraphQL input it came from.
var incidentInputFields = map[string]string{
	"attributes.short_description": "shortDescription",
	"attributes.description":       "description",
	"attributes.impact":            "impact",
	"attributes.urgency":           "urgency",
	"attributes.category":          "category",
	"attributes.subcategory":       "subcategory",
	"attributes.on_hold_reason":    "reason",
	"attributes.resolution_code":   "resolutionCode",
	"attributes.resolution_notes":  "resolutionNotes",
	"attributes.reopen_reason":     "reason",
	"attributes.close_notes":       "notes",
	"expectedVersion":              "expectedVersion",
}

// incidentErr names the error's field as the client wrote it
// ("input.shortDescription"), and a missing incident by its global ID.
func incidentErr(err error, gid string) error {
	if err == nil {
		return nil
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
		if to, known := incidentInputFields[te.Field]; known {
			named.Field = "input." + to
		}
		return &named
	}
	f, ok := store.FieldOf(err)
	if !ok && isNotFound(err) {
		return notFoundAt("input.id", "incident", gid)
	}
	if !ok {
		return err
	}
	if to, known := incidentInputFields[f]; known {
		return store.WithField(err, "input."+to)
	}
	return store.WithField(err, "input."+f)
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
	if out.Links.Caller, err = linkOf("input.callerId", in.CallerID, typePerson); err != nil {
		return out, err
	}
	if out.Links.AssignedTo, err = linkOf("input.assignedToId", in.AssignedToID, typePerson); err != nil {
		return out, err
	}
	if out.Links.AssignmentGroup, err = linkOf("input.assignmentGroupId", in.AssignmentGroupID, typeGroup); err != nil {
		return out, err
	}
	if in.AffectedCIIds != nil {
		if out.Links.AffectedCIs, err = ciListIn("input.affectedCIIds", in.AffectedCIIds); err != nil {
			return out, err
		}
	}
	return out, nil
}

// derefAnyPtr returns what a *string or *int points at, or nil.
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
	}
	return nil
}

func updateIncidentIn(in model.UpdateIncidentInput) (itsm.RecordInput, error) {
	out := itsm.RecordInput{Attributes: map[string]any{}}
	str := func(k string, v graphql.Omittable[*string]) {
		if v.IsSet() {
			out.Attributes[k] = derefAnyPtr(v.Value())
		}
	}
	num := func(k string, v graphql.Omittable[*int]) {
		if v.IsSet() {
			out.Attributes[k] = derefAnyPtr(v.Value())
		}
	}
	str("short_description", in.ShortDescription)
	str("description", in.Description)
	num("impact", in.Impact)
	num("urgency", in.Urgency)
	str("category", in.Category)
	str("subcategory", in.Subcategory)
	var err error
	if out.Links.Caller, err = linkIn("input.callerId", in.CallerID, typePerson); err != nil {
		return out, err
	}
	if out.Links.AssignedTo, err = linkIn("input.assignedToId", in.AssignedToID, typePerson); err != nil {
		return out, err
	}
	if out.Links.AssignmentGroup, err = linkIn("input.assignmentGroupId", in.AssignmentGroupID, typeGroup); err != nil {
		return out, err
	}
	if in.AffectedCIIds.IsSet() {
		if out.Links.AffectedCIs, err = ciListIn("input.affectedCIIds", in.AffectedCIIds.Value()); err != nil {
			return out, err
		}
	}
	return out, nil
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
