package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Requests from the service catalog: the views of nodes of kinds request,
// requested_item and catalog_task, and the parsing of their mutations'
// inputs; resolvers in request.resolvers.go call these. Catalog tasks are
// tasks (task.go's helpers) whose parent is a requested item.

var (
	requestStates     = itsm.RequestWorkflow()
	itemStates        = itsm.RequestedItemWorkflow()
	catalogTaskStates = itsm.CatalogTaskWorkflow()
	catalogTaskAPI    = taskAPI{kind: itsm.KindCatalogTask, typ: typeCatalogTask, parentType: typeRITM, parentField: "input.requestedItemId", what: "catalog task"}
)

// requestInputFields are the request attributes whose input field is not
// their camelCase name.
var requestInputFields = map[string]string{}

func stateCode(w *itsm.Workflow, state string) int {
	if s, ok := w.State(state); ok {
		return s.Code
	}
	return 0
}

func requestView(n store.Node) *model.Request {
	a := n.Attributes
	state := strOr(a, "state", itsm.RequestRequested)
	v := &model.Request{ID: globalID(typeRequest, n.ID), State: model.RequestState(strings.ToUpper(state)), StateCode: stateCode(requestStates, state),
		Description: strAttr(a, "description"), RequestedBy: strAttr(a, "requested_by"), CloseNotes: strAttr(a, "close_notes"),
		ClosedAt: timeAttr(a, "closed_at"), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n}
	v.Number, _ = a["number"].(string)
	v.ShortDescription, _ = a["short_description"].(string)
	v.Priority = int(intOr(a, "priority", 4))
	v.OpenedAt = n.CreatedAt
	if t := timeAttr(a, "opened_at"); t != nil {
		v.OpenedAt = *t
	}
	return v
}

func requestedItemView(n store.Node) *model.RequestedItem {
	a := n.Attributes
	state := strOr(a, "state", itsm.ItemWaiting)
	v := &model.RequestedItem{ID: globalID(typeRITM, n.ID), State: model.RequestedItemState(strings.ToUpper(state)), StateCode: stateCode(itemStates, state),
		Approval:   model.ApprovalState(strings.ToUpper(strOr(a, "approval", itsm.ApprovalRequested))),
		Variables:  itsm.ItemAnswers(n),
		CloseNotes: strAttr(a, "close_notes"), ApprovedAt: timeAttr(a, "approved_at"), ClosedAt: timeAttr(a, "closed_at"),
		Attributes: attributesOut(a), Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n}
	v.Number, _ = a["number"].(string)
	v.ShortDescription, _ = a["short_description"].(string)
	v.Quantity = int(intOr(a, "quantity", 1))
	v.Priority = int(intOr(a, "priority", 4))
	v.OpenedAt = n.CreatedAt
	if t := timeAttr(a, "opened_at"); t != nil {
		v.OpenedAt = *t
	}
	return v
}

func catalogTaskView(n store.Node) *model.CatalogTask {
	return &model.CatalogTask{TaskFields: taskFields(n, typeCatalogTask, catalogTaskStates),
		State: model.CatalogTaskState(strings.ToUpper(taskState(n, catalogTaskStates))), WaitReason: strAttr(n.Attributes, "wait_reason")}
}

// intOr is the int attribute name of a, or def.
func intOr(a store.Attributes, name string, def int64) int64 {
	if v, ok := a[name].(int64); ok {
		return v
	}
	return def
}

func requestConnection(page store.Page[store.Node]) *model.RequestConnection {
	return &model.RequestConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.RequestEdge {
			return model.RequestEdge{Cursor: c, Node: requestView(n)}
		})}
}

func requestedItemConnection(page store.Page[store.Node]) *model.RequestedItemConnection {
	return &model.RequestedItemConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.RequestedItemEdge {
			return model.RequestedItemEdge{Cursor: c, Node: requestedItemView(n)}
		})}
}

func catalogTaskConnection(page store.Page[store.Node]) *model.CatalogTaskConnection {
	return &model.CatalogTaskConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.CatalogTaskEdge {
			return model.CatalogTaskEdge{Cursor: c, Node: catalogTaskView(n)}
		})}
}

// submitIn parses submitRequest's input.
func submitIn(in model.SubmitRequestInput) (itsm.RequestInput, error) {
	out := itsm.RequestInput{Attributes: map[string]any{}}
	if in.RequestedForID != nil {
		id, err := idOf("input.requestedForId", *in.RequestedForID, typePerson)
		if err != nil {
			return out, err
		}
		out.RequestedFor = id
	}
	for k, v := range map[string]*string{"short_description": in.ShortDescription, "description": in.Description} {
		if v != nil {
			out.Attributes[k] = *v
		}
	}
	if in.Priority != nil {
		out.Attributes["priority"] = *in.Priority
	}
	if len(in.Items) > itsm.MaxRequestItems {
		return out, store.Invalid("input.items", "at most %d items, got %d", itsm.MaxRequestItems, len(in.Items))
	}
	for i, it := range in.Items {
		field := fmt.Sprintf("input.items[%d]", i)
		cat, err := idOf(field+".catalogItemId", it.CatalogItemID, typeCatalogItem)
		if err != nil {
			return out, err
		}
		r := itsm.ItemRequest{CatalogItem: cat, Quantity: deref(it.Quantity, 1)}
		if it.Quantity != nil && *it.Quantity == 0 {
			r.Quantity = -1 // 0 written by the client: out of range, not "one"
		}
		if it.Variables != nil {
			answers, ok := it.Variables.(map[string]any)
			if !ok {
				return out, store.Invalid(field+".variables", "must be an object of answers by question name, got %T", it.Variables)
			}
			r.Answers = answers
		}
		out.Items = append(out.Items, r)
	}
	return out, nil
}

// recordByIDOrNumber answers request(id|number) and requestedItem.
func (r *queryResolver) recordByIDOrNumber(ctx context.Context, kind, typ string, id, number *string) (store.Node, bool, error) {
	switch {
	case (id == nil) == (number == nil):
		return store.Node{}, false, store.Invalid("id", "give exactly one of id and number")
	case id != nil:
		sid, err := idOf("id", *id, typ)
		if err != nil {
			return store.Node{}, false, err
		}
		found, err := r.CMDB.Nodes(ctx, kind, []store.ID{sid})
		n, ok := found[sid]
		return n, ok, err
	}
	if kind == itsm.KindRequest {
		return r.ITSM.RequestByNumber(ctx, *number)
	}
	return r.ITSM.RequestedItemByNumber(ctx, *number)
}

// itemAction runs one action of a requested item.
func (r *mutationResolver) itemAction(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.RequestedItemPayload, error) {
	id, err := idOf("input.id", gid, typeRITM)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(expected)
	if err != nil {
		return nil, err
	}
	n, err := r.ITSM.ActOnRequestedItem(ctx, writeAs(ctx, nil), id, exp, action, input)
	if err != nil {
		return nil, recordErr(err, gid, "requested item", nil)
	}
	return &model.RequestedItemPayload{RequestedItem: requestedItemView(n)}, nil
}

// decideItem runs approveRequestedItem and rejectRequestedItem.
func (r *mutationResolver) decideItem(ctx context.Context, in model.DecisionInput, approve bool) (*model.RequestedItemPayload, error) {
	id, err := idOf("input.id", in.ID, typeRITM)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(in.ExpectedVersion)
	if err != nil {
		return nil, err
	}
	n, err := r.ITSM.DecideRequestedItem(ctx, writeAs(ctx, nil), id, exp, approve, deref(in.Comment, ""))
	if err != nil {
		return nil, recordErr(err, in.ID, "requested item", nil)
	}
	return &model.RequestedItemPayload{RequestedItem: requestedItemView(n)}, nil
}

// catalogTaskAction runs one catalog task action.
func (r *mutationResolver) catalogTaskAction(ctx context.Context, gid string, expected *int, action string, input map[string]any) (*model.CatalogTaskPayload, error) {
	n, err := r.actOnTask(ctx, catalogTaskAPI, gid, expected, action, input)
	if err != nil {
		return nil, err
	}
	return &model.CatalogTaskPayload{CatalogTask: catalogTaskView(n)}, nil
}

// linkedView is the node a record links to by typ (one), viewed by view.
func linkedView[T any](ctx context.Context, r *Resolver, id store.ID, typ string, view func(store.Node) *T) (*T, error) {
	n, ok, err := r.linked(ctx, id, typ)
	if !ok || err != nil {
		return nil, err
	}
	return view(n), nil
}

// slaOut is a service level (an incident's, a requested item's) as the
// API shows it.
func slaOut(st itsm.SLAStatus) *model.IncidentSLA {
	return &model.IncidentSLA{
		Calendar: st.Calendar, ResponseTargetSeconds: int(st.ResponseTarget.Seconds()), ResolutionTargetSeconds: int(st.ResolutionTarget.Seconds()),
		ResponseDueAt: st.ResponseDueAt, RespondedAt: st.RespondedAt, ResponseBreached: st.ResponseBreached,
		ResolutionDueAt: st.ResolutionDueAt, ResolutionElapsedSeconds: int(st.ResolutionElapsed.Seconds()),
		ResolutionLeftSeconds: int(st.ResolutionLeft.Seconds()), ResolutionBreached: st.ResolutionBreached,
		Paused: st.Paused, Stopped: st.ResolutionStopped,
	}
}
