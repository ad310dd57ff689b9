package itsm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Service requests: a person asks for catalog items (a phone and a laptop
// for a new hire). A request (REQ0010001) holds one requested item
// (RITM0010001) per catalog item asked for, with the answers to the
// item's questions (checked by CheckAnswers) and a quantity. Each item is
// approved as its catalog item says (nobody, the manager of the person it
// is for, or one member of the item's approval group: the first decision
// decides), then fulfilled by catalog tasks (SCTASK0010001) assigned to
// the item's fulfilment group: one per asset for hardware, one otherwise.
// When every task of an item is done the item closes, when every item of
// a request is done the request closes, each with the outcome its parts
// had. An item's SLA (response: its approval; resolution: its delivery)
// runs like an incident's, by the request's priority.
//
// Hardware: a catalog task of an item that ALLOCATES an asset model hands
// out one in-stock asset of that model to the person. The allocation is
// the asset's own assign action, decided inside the write of the asset
// against the asset as stored and locked: of two tasks racing for the
// last phone, one assigns it and the other's write finds it in use (a
// conflict), tries the next asset, and with none left waits, pending,
// "out of stock". The asset names the task and item it was allocated to
// in that same write, so the allocation is one write: a crash after it
// loses no asset. A task waiting for stock is served when an asset of its
// model comes into stock (received, returned to stock, unassigned),
// oldest waiting task first, or when someone asks again
// (AllocateAsset).
//
// The steps the workflow takes by itself (the tasks opened once an item
// is approved, an allocation, an item or request closed with its last
// part) run with the process's rights, audited under the caller whose
// action set them off: a viewer asking for a phone needs no right on
// assets. They are separate writes after the caller's: a crash between
// two leaves the later step undone, which the next action on the record
// (or AllocateAsset, or closing the item) completes.

// Kinds and links of requests.
const (
	// KindRequest is the model kind of requests (class Request).
	KindRequest = "request"
	// KindRequestedItem is the model kind of requested items (class
	// RequestedItem).
	KindRequestedItem = "requested_item"
	// KindCatalogTask is the model kind of catalog tasks (class
	// CatalogTask).
	KindCatalogTask = "catalog_task"
	// RelRequestedFor links a request or requested item to the person it
	// is for.
	RelRequestedFor = "REQUESTED_FOR"
	// RelRequests links a requested item to its catalog item.
	RelRequests = "REQUESTS"
	// RelReportsTo links a person to their manager.
	RelReportsTo = "REPORTS_TO"
)

// States of requests and requested items, as stored.
const (
	RequestRequested = "requested"
	RequestInProcess = "in_process"
	ItemWaiting      = "waiting_for_approval"
	ItemFulfillment  = "fulfillment"
	ClosedComplete   = "closed_complete"
	ClosedIncomplete = "closed_incomplete"
	ClosedRejected   = "closed_rejected"
	ClosedCanceled   = "closed_canceled"
	// TaskPending is a catalog task waiting (for stock, for the person).
	TaskPending = "pending"
)

// Actions of requests, requested items and catalog tasks.
const (
	ActionStartRequest    = "start"
	ActionCloseComplete   = "close_complete"
	ActionCloseIncomplete = "close_incomplete"
	ActionCloseRejected   = "close_rejected"
	ActionCancelRequest   = "cancel"
	ActionFulfill         = "fulfill"
	ActionHoldTask        = "hold"
	ActionResumeTask      = "resume"
	ActionAllocate        = "allocate"
)

// outOfStock begins the wait reason of a task the workflow holds for
// stock: a task held for another reason is not served stock by itself.
const outOfStock = "out of stock"

// Approval outcome of an item its catalog item needs no approval for.
const ApprovalNotRequired = "not_required"

// requestFinal are the states of a request or item that is done with.
var requestFinal = []string{ClosedComplete, ClosedIncomplete, ClosedRejected, ClosedCanceled}

// MaxRequestItems bounds the items of one request, MaxQuantity the
// quantity of one item.
const (
	MaxRequestItems = 20
	MaxQuantity     = 20
)

// requestEditable are the attributes a request's submitter writes.
var requestEditable = []string{"short_description", "description", "priority"}

func closedAt(r Record) store.Attributes { return store.Attributes{"closed_at": r.At} }

func closeWithNotes(r Record) store.Attributes {
	return store.Attributes{"close_notes": r.Input["close_notes"], "closed_at": r.At}
}

// itemsClosed is the guard of a request's close: no item open
// (Facts.OpenTasks holds the open items' numbers).
var itemsClosed = Guard{Name: "items_closed", Field: "id", Conflict: true, Check: func(r Record) error {
	if len(r.Facts.OpenTasks) == 0 {
		return nil
	}
	return fmt.Errorf("its items %s are still open", strings.Join(r.Facts.OpenTasks, ", "))
}}

// RequestWorkflow returns the request workflow: Requested (an item awaits
// approval) -> In Process (an item is being fulfilled) -> Closed
// Complete, Incomplete or Rejected once every item is done (taken by
// the workflow itself), or Closed Canceled with the items still open.
// States carry ServiceNow's task codes.
func RequestWorkflow() *Workflow {
	open := []string{RequestRequested, RequestInProcess}
	return &Workflow{
		Kind:    KindRequest,
		Initial: RequestRequested,
		States: []State{
			{RequestRequested, 1, "Requested"}, {RequestInProcess, 2, "In Process"}, {ClosedComplete, 3, "Closed Complete"},
			{ClosedIncomplete, 4, "Closed Incomplete"}, {ClosedRejected, 4, "Closed Rejected"}, {ClosedCanceled, 7, "Closed Canceled"},
		},
		Transitions: []Transition{
			{Action: ActionStartRequest, From: []string{RequestRequested}, To: RequestInProcess},
			{Action: ActionCloseComplete, From: open, To: ClosedComplete, Guards: []Guard{itemsClosed}, Set: closedAt},
			{Action: ActionCloseIncomplete, From: open, To: ClosedIncomplete, Guards: []Guard{itemsClosed}, Set: closedAt},
			{Action: ActionCloseRejected, From: open, To: ClosedRejected, Guards: []Guard{itemsClosed}, Set: closedAt},
			{Action: ActionCancelRequest, From: open, To: ClosedCanceled, Inputs: []string{"close_notes"},
				Guards: []Guard{required("close_notes", "why it is canceled")}, Set: closeWithNotes},
		},
	}
}

// RequestedItemWorkflow returns the requested item workflow: Waiting for
// Approval -> Fulfillment once approved (or at once when its catalog item
// needs no approval; a rejection closes it Rejected; decisions are
// Service.DecideRequestedItem's, not actions) -> Closed Complete or
// Incomplete once its tasks are done, or Closed Canceled, its open tasks
// with it.
func RequestedItemWorkflow() *Workflow {
	return &Workflow{
		Kind:    KindRequestedItem,
		Initial: ItemWaiting,
		States: []State{
			{ItemWaiting, 1, "Waiting for Approval"}, {ItemFulfillment, 2, "Fulfillment"}, {ClosedComplete, 3, "Closed Complete"},
			{ClosedIncomplete, 4, "Closed Incomplete"}, {ClosedRejected, 4, "Closed Rejected"}, {ClosedCanceled, 7, "Closed Canceled"},
		},
		Transitions: []Transition{
			{Action: ActionCloseComplete, From: []string{ItemFulfillment}, To: ClosedComplete, Inputs: []string{"close_notes"},
				Guards: []Guard{tasksClosed("closing it")}, Set: closeWithNotes},
			{Action: ActionCloseIncomplete, From: []string{ItemFulfillment}, To: ClosedIncomplete, Inputs: []string{"close_notes"},
				Guards: []Guard{tasksClosed("closing it"), required("close_notes", "what was not delivered")}, Set: closeWithNotes},
			{Action: ActionCancelRequest, From: []string{ItemWaiting, ItemFulfillment}, To: ClosedCanceled, Inputs: []string{"close_notes"},
				Guards: []Guard{required("close_notes", "why it is canceled")}, Set: closeWithNotes},
		},
	}
}

// CatalogTaskWorkflow returns the catalog task workflow: Open -> Work in
// Progress -> Closed with a close code, Pending while it waits (for
// stock: the workflow holds a hardware task it found no asset for;
// for anything else, with a reason) and Canceled from any open state. A
// hardware task closes completed only with its asset allocated.
func CatalogTaskWorkflow() *Workflow {
	open := []string{TaskPending, TaskOpen, TaskWorkInProgress}
	delivered := Guard{Name: "asset_allocated", Field: "id", Check: func(r Record) error {
		model, _ := r.Attributes["asset_model"].(string)
		asset, _ := r.Attributes["allocated_asset"].(string)
		if code := r.Input["close_code"]; model != "" && asset == "" && code != "not_completed" {
			return fmt.Errorf("it hands out a %s and none is allocated yet: allocate one (allocateCatalogTaskAsset), or close it not_completed", model)
		}
		return nil
	}}
	return &Workflow{
		Kind:    KindCatalogTask,
		Initial: TaskOpen,
		States: []State{
			{TaskPending, -5, "Pending"}, {TaskOpen, 1, "Open"}, {TaskWorkInProgress, 2, "Work in Progress"},
			{TaskClosed, 3, "Closed Complete"}, {TaskCanceled, 7, "Closed Skipped"},
		},
		Transitions: []Transition{
			{Action: ActionStartTask, From: []string{TaskOpen}, To: TaskWorkInProgress, Set: started},
			{Action: ActionHoldTask, From: []string{TaskOpen, TaskWorkInProgress}, To: TaskPending, Inputs: []string{"wait_reason"},
				Guards: []Guard{required("wait_reason", "what it waits for")},
				Set:    func(r Record) store.Attributes { return store.Attributes{"wait_reason": r.Input["wait_reason"]} }},
			{Action: ActionResumeTask, From: []string{TaskPending}, To: TaskOpen,
				Set: func(r Record) store.Attributes { return store.Attributes{"wait_reason": nil} }},
			// allocate is the workflow's own: it records the asset the
			// allocation assigned (the asset's write made it).
			{Action: ActionAllocate, From: open, To: TaskOpen,
				Set: func(r Record) store.Attributes {
					return store.Attributes{"allocated_asset": r.Input["allocated_asset"], "wait_reason": nil}
				}},
			{Action: ActionCloseTask, From: open, To: TaskClosed, Inputs: []string{"close_code", "close_notes"},
				Guards: []Guard{required("close_code", "a close code"), delivered},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"close_code": r.Input["close_code"], "close_notes": r.Input["close_notes"], "closed_at": r.At}
				}},
			{Action: ActionCancelTask, From: open, To: TaskCanceled, Inputs: []string{"close_notes"}, Set: closeWithNotes},
		},
	}
}

// RequestWorkflow returns the workflow requests follow.
func (s *Service) RequestWorkflow() *Workflow { return s.request }

// RequestedItemWorkflow returns the workflow requested items follow.
func (s *Service) RequestedItemWorkflow() *Workflow { return s.item }

// ItemRequest is one catalog item a request asks for.
type ItemRequest struct {
	CatalogItem store.ID
	// Quantity is 1 when 0.
	Quantity int
	// Answers are the answers to the item's questions, by name.
	Answers map[string]any
}

// RequestInput is a request as its submitter writes it.
type RequestInput struct {
	// Attributes are short_description (the first item's name when
	// absent), description and priority (4 when absent).
	Attributes map[string]any
	// RequestedFor is the person it is for ("": the person whose user
	// name is the caller's token name).
	RequestedFor store.ID
	Items        []ItemRequest
}

// plannedItem is an item of a request, checked before anything is
// written.
type plannedItem struct {
	catalog   store.Node
	quantity  int
	answers   map[string]any
	approvals []Approval
	group     store.ID // fulfilment group, "" for none
	// approvalGroup is the group that approves (group approval).
	approvalGroup store.ID
	model         store.ID // the asset model it hands out, "" for none
}

// SubmitRequest records a request for catalog items: everything is
// checked first (the person, each item active, its answers, its
// approvers found), then the request (REQ...) and its items (RITM...) are
// written, linked to the person (REQUESTED_FOR), each item to its catalog
// item (REQUESTS) and its request (TASK_OF). An item needing no approval
// is fulfilled at once (its tasks opened, hardware allocated). The caller
// needs create request.
func (s *Service) SubmitRequest(ctx context.Context, actor store.Actor, in RequestInput) (store.Node, []store.Node, error) {
	if err := auth.Check(ctx, KindRequest, auth.Create); err != nil {
		return store.Node{}, nil, err
	}
	if err := checkEditable(s.request, requestEditable, in.Attributes); err != nil {
		return store.Node{}, nil, err
	}
	caller := ""
	if id, ok := auth.Caller(ctx); ok {
		caller = id.Name
	}
	pctx := auth.AsProcess(ctx)
	person, err := s.requestedFor(pctx, in.RequestedFor, caller)
	if err != nil {
		return store.Node{}, nil, err
	}
	switch n := len(in.Items); {
	case n == 0:
		return store.Node{}, nil, store.Invalid("items", "a request asks for at least one catalog item (catalogItems lists them)")
	case n > MaxRequestItems:
		return store.Node{}, nil, store.Invalid("items", "at most %d items, got %d", MaxRequestItems, n)
	}
	if err := s.cmdb.CheckNew(KindRequest, in.Attributes); err != nil {
		return store.Node{}, nil, err
	}
	// Each item's own input first (item, quantity, answers), then who
	// approves each: a client fixes what it wrote before what it asks.
	planned := make([]plannedItem, len(in.Items))
	for i, it := range in.Items {
		if planned[i], err = s.planItem(pctx, it, fmt.Sprintf("items[%d]", i)); err != nil {
			return store.Node{}, nil, err
		}
	}
	for i := range planned {
		if err := s.planApproval(pctx, person, &planned[i], fmt.Sprintf("items[%d]", i)); err != nil {
			return store.Node{}, nil, err
		}
	}
	attrs := map[string]any{}
	for k, v := range in.Attributes {
		attrs[k] = v
	}
	if s, _ := attrs["short_description"].(string); s == "" {
		attrs["short_description"] = clip(fmt.Sprint(planned[0].catalog.Attributes["name"]), 160)
	}
	userName, _ := person.Attributes["user_name"].(string)
	who := actor.Name
	if id, ok := auth.Caller(ctx); ok && id.Name != "" {
		who = id.Name
	}
	initial := RequestRequested
	for _, p := range planned {
		if len(p.approvals) == 0 {
			initial = RequestInProcess
		}
	}
	k := recordKind{kind: KindRequest, prefix: "REQ", workflow: s.request, editable: requestEditable}
	req, err := s.open(ctx, actor, k, RecordInput{Attributes: attrs}, func(out store.Attributes, _ time.Time) (store.Attributes, error) {
		out["requested_for"], out["requested_by"], out["state"] = userName, who, initial
		return out, nil
	})
	if err != nil {
		return req, nil, err
	}
	if _, err := s.cmdb.SetLinks(pctx, actor, req.ID, RelRequestedFor, []store.ID{person.ID}, cmdb.KindPerson, "requestedForId", false); err != nil {
		return req, nil, err
	}
	priority, _ := req.Attributes["priority"].(int64)
	items := make([]store.Node, 0, len(planned))
	for _, p := range planned {
		item, err := s.openItem(pctx, actor, req, person, priority, p)
		if err != nil {
			return req, items, err
		}
		items = append(items, item)
	}
	for i, item := range items {
		if item.Attributes["state"] == ItemFulfillment {
			if items[i], err = s.fulfill(pctx, actor, item); err != nil {
				return req, items, err
			}
		}
	}
	return req, items, nil
}

// clip cuts s to n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// requestedFor returns the person a request is for: id, or the person
// whose user name is caller (the caller's token name). An inactive
// person is refused.
func (s *Service) requestedFor(ctx context.Context, id store.ID, caller string) (store.Node, error) {
	if id == "" {
		if caller == "" {
			return store.Node{}, store.Invalid("requestedForId", "is required: the caller is no person")
		}
		page, err := s.cmdb.ListNodes(ctx, cmdb.KindPerson, cmdb.Filter{Attributes: map[string]any{"user_name": caller}}, store.PageRequest{First: 1})
		if err != nil {
			return store.Node{}, err
		}
		if len(page.Items) == 0 {
			return store.Node{}, store.Invalid("requestedForId", "is required: no person has the caller's user name %q", caller)
		}
		p := page.Items[0]
		if p.Attributes["active"] == false {
			return store.Node{}, store.Invalid("requestedForId", "%v is deactivated", p.Attributes["user_name"])
		}
		return p, nil
	}
	found, err := s.cmdb.Nodes(ctx, cmdb.KindPerson, []store.ID{id})
	if err != nil {
		return store.Node{}, err
	}
	p, ok := found[id]
	if !ok {
		return store.Node{}, store.NoNode("requestedForId", store.ObjectKind(cmdb.KindPerson))
	}
	if p.Attributes["active"] == false {
		return store.Node{}, store.Invalid("requestedForId", "%v is deactivated", p.Attributes["user_name"])
	}
	return p, nil
}

// planItem checks one item of a request (at field): its catalog item
// active, its quantity, its answers.
func (s *Service) planItem(ctx context.Context, it ItemRequest, field string) (plannedItem, error) {
	found, err := s.cmdb.Nodes(ctx, KindCatalogItem, []store.ID{it.CatalogItem})
	if err != nil {
		return plannedItem{}, err
	}
	item, ok := found[it.CatalogItem]
	if !ok {
		return plannedItem{}, store.NoNode(field+".catalogItemId", store.ObjectKind(KindCatalogItem))
	}
	if item.Attributes["active"] == false {
		return plannedItem{}, store.Invalid(field+".catalogItemId", "%v is retired from the catalog", item.Attributes["name"])
	}
	p := plannedItem{catalog: item, quantity: it.Quantity}
	if p.quantity == 0 {
		p.quantity = 1
	}
	if p.quantity < 1 || p.quantity > MaxQuantity {
		return plannedItem{}, store.Invalid(field+".quantity", "%d; allowed: 1 to %d", it.Quantity, MaxQuantity)
	}
	answers, err := CheckAnswers(Variables(item), it.Answers)
	if err != nil {
		var ie *store.InvalidError
		if errors.As(err, &ie) {
			return plannedItem{}, store.Invalid(field+"."+ie.Field, "%s", ie.Reason)
		}
		return plannedItem{}, err
	}
	p.answers = answers
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{item.ID}, store.Out, []string{RelApprovalGroup, RelFulfilledBy, RelAllocates})
	if err != nil {
		return plannedItem{}, err
	}
	for _, r := range rels[item.ID] {
		switch r.Type {
		case RelApprovalGroup:
			p.approvalGroup = r.Target
		case RelFulfilledBy:
			p.group = r.Target
		case RelAllocates:
			p.model = r.Target
		}
	}
	return p, nil
}

// planApproval finds who approves planned item p for person.
func (s *Service) planApproval(ctx context.Context, person store.Node, p *plannedItem, field string) error {
	var err error
	switch p.catalog.Attributes["approval"] {
	case ApprovalManager:
		p.approvals, err = s.managerApproval(ctx, person, p.catalog)
	case ApprovalGroup:
		p.approvals, err = s.groupApproval(ctx, p.approvalGroup, p.catalog, field)
	}
	return err
}

// managerApproval returns the approval of person's manager (REPORTS_TO),
// who must be an active person.
func (s *Service) managerApproval(ctx context.Context, person, item store.Node) ([]Approval, error) {
	m, ok, err := s.managerOf(ctx, person.ID)
	if err != nil {
		return nil, err
	}
	if !ok || m.Attributes["active"] == false {
		return nil, store.Invalid("requestedForId", "%v has no active manager to approve %v (setPersonManager records one)",
			person.Attributes["user_name"], item.Attributes["name"])
	}
	name, _ := m.Attributes["user_name"].(string)
	return []Approval{{Approver: m.ID, UserName: name, Why: "manager", State: ApprovalRequested}}, nil
}

// groupApproval returns the approvals of the active members of the
// approval group of a catalog item, by user name.
func (s *Service) groupApproval(ctx context.Context, group store.ID, item store.Node, field string) ([]Approval, error) {
	var out []Approval
	if group != "" {
		rels, err := s.st.RelationshipsOf(ctx, []store.ID{group}, store.In, []string{cmdb.RelMemberOfGroup})
		if err != nil {
			return nil, err
		}
		ids := make([]store.ID, len(rels[group]))
		for i, r := range rels[group] {
			ids[i] = r.Source
		}
		people, err := s.nodesOf(ctx, cmdb.KindPerson, ids)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if p, ok := people[id]; ok && p.Attributes["active"] != false {
				name, _ := p.Attributes["user_name"].(string)
				out = append(out, Approval{Approver: id, UserName: name, Why: "group", State: ApprovalRequested})
			}
		}
	}
	if len(out) == 0 {
		return nil, store.Invalid(field+".catalogItemId", "%v is approved by a group that has no active member", item.Attributes["name"])
	}
	if len(out) > MaxApprovers {
		return nil, store.Invalid(field+".catalogItemId", "%v's approval group has %d active members; at most %d approve", item.Attributes["name"], len(out), MaxApprovers)
	}
	slices.SortFunc(out, func(a, b Approval) int {
		return strings.Compare(strings.ToLower(a.UserName), strings.ToLower(b.UserName))
	})
	return out, nil
}

// itemOutcome is a requested item's approval: the first decision decides.
func itemOutcome(approvals []Approval) string {
	for _, a := range approvals {
		if a.State == ApprovalRejected {
			return ApprovalRejected
		}
	}
	for _, a := range approvals {
		if a.State == ApprovalApproved {
			return ApprovalApproved
		}
	}
	return ApprovalRequested
}

// openItem writes one requested item of request req.
func (s *Service) openItem(ctx context.Context, actor store.Actor, req, person store.Node, priority int64, p plannedItem) (store.Node, error) {
	name := fmt.Sprint(p.catalog.Attributes["name"])
	attrs := map[string]any{"short_description": clip(name, 160), "quantity": int64(p.quantity), "priority": priority}
	if len(p.answers) > 0 {
		attrs["variables"] = encodeAnswers(p.answers)
	}
	userName, _ := person.Attributes["user_name"].(string)
	k := recordKind{kind: KindRequestedItem, prefix: "RITM", workflow: s.item, editable: []string{"short_description", "quantity", "priority", "variables"}}
	item, err := s.open(ctx, actor, k, RecordInput{Attributes: attrs}, func(out store.Attributes, at time.Time) (store.Attributes, error) {
		out["parent"], out["catalog_item"], out["requested_for"] = req.Attributes["number"], name, userName
		if len(p.approvals) == 0 {
			out["state"], out["approval"], out["approved_at"] = ItemFulfillment, ApprovalNotRequired, at
		} else {
			out["approval"], out["approvals"] = ApprovalRequested, encodeApprovals(p.approvals)
		}
		return s.withClock(itemClock, nil, out, at), nil
	})
	if err != nil {
		return item, err
	}
	for _, l := range []struct {
		rel, kind, field string
		to               store.ID
	}{{RelTaskOf, KindRequest, "requestId", req.ID}, {RelRequests, KindCatalogItem, "catalogItemId", p.catalog.ID}, {RelRequestedFor, cmdb.KindPerson, "requestedForId", person.ID}} {
		if _, err := s.cmdb.SetLinks(ctx, actor, item.ID, l.rel, []store.ID{l.to}, l.kind, l.field, false); err != nil {
			return item, err
		}
	}
	return item, nil
}

// DecideRequestedItem records the caller's decision on a requested item
// waiting for approval, with a comment: the first decision decides. An
// approval moves the item to fulfilment in the same write (its tasks are
// opened next, hardware allocated); a rejection closes it Rejected (and
// its request, when it was the last open item). The caller needs approve
// requested_item and must be one of the item's approvers (FORBIDDEN
// otherwise); a decision already taken, or an item not waiting for
// approval, is a CONFLICT.
func (s *Service) DecideRequestedItem(ctx context.Context, actor store.Actor, id store.ID, expected int64, approve bool, comment string) (store.Node, error) {
	who, decision, err := decisionOf(ctx, KindRequestedItem, actor, approve, comment)
	if err != nil {
		return store.Node{}, err
	}
	res, err := s.cmdb.WriteNode(ctx, actor, KindRequestedItem, cmdb.NodeWrite{
		ID: id, Expected: expected, Verb: auth.Approve,
		Decide: func(cur *store.Node, _ store.Attributes, at time.Time) (store.Attributes, error) {
			out, err := decideOn(cur.Attributes, ItemWaiting, "requested item", who, decision, comment, at, itemOutcome)
			if err != nil {
				return nil, err
			}
			switch out["approval"] {
			case ApprovalApproved:
				out["state"], out["approved_at"] = ItemFulfillment, at
			case ApprovalRejected:
				out["state"], out["closed_at"], out["close_notes"] = ClosedRejected, at, fmt.Sprintf("rejected by %s: %s", who, comment)
			}
			return s.withClock(itemClock, cur, out, at), nil
		},
	})
	if err != nil {
		return store.Node{}, approverRefused(err)
	}
	s.emit(actor, KindRequestedItem, res, false)
	pctx := auth.AsProcess(ctx)
	switch res.Node.Attributes["state"] {
	case ItemFulfillment:
		return s.fulfill(pctx, actor, res.Node)
	case ClosedRejected:
		return res.Node, s.itemDone(pctx, actor, res.Node)
	}
	return res.Node, nil
}

// fulfill opens the catalog tasks of an item in fulfilment that has none
// yet (one per asset for hardware, one otherwise, assigned to the
// fulfilment group), allocates hardware, and moves its request in
// process. It runs as the process.
func (s *Service) fulfill(ctx context.Context, actor store.Actor, item store.Node) (store.Node, error) {
	req, ok, err := s.parentOf(ctx, item.ID, KindRequest)
	if err != nil {
		return item, err
	}
	if ok && req.Attributes["state"] == RequestRequested {
		if _, err := s.act(ctx, actor, KindRequest, s.request, req.ID, 0, ActionStartRequest, nil, Facts{}, nil); err != nil && !errors.Is(err, store.ErrConflict) {
			return item, err
		}
	}
	existing, err := s.st.RelationshipsOf(ctx, []store.ID{item.ID}, store.In, []string{RelTaskOf})
	if err != nil || len(existing[item.ID]) > 0 {
		return item, err // opened already (a retry)
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{item.ID}, store.Out, []string{RelRequests})
	if err != nil {
		return item, err
	}
	var group, model store.ID
	var modelName string
	if len(rels[item.ID]) > 0 {
		cat := rels[item.ID][0].Target
		links, err := s.st.RelationshipsOf(ctx, []store.ID{cat}, store.Out, []string{RelFulfilledBy, RelAllocates})
		if err != nil {
			return item, err
		}
		for _, r := range links[cat] {
			switch r.Type {
			case RelFulfilledBy:
				group = r.Target
			case RelAllocates:
				model = r.Target
			}
		}
	}
	if model != "" {
		m, err := s.assetModel(ctx, model)
		if err != nil {
			return item, err
		}
		modelName, _ = m.Attributes["name"].(string)
	}
	n := 1
	if q, _ := item.Attributes["quantity"].(int64); model != "" && q > 1 {
		n = int(q)
	}
	k, _ := s.taskKindOf(KindCatalogTask)
	for i := range n {
		what := fmt.Sprintf("Fulfil %v for %v", item.Attributes["catalog_item"], item.Attributes["requested_for"])
		if model != "" {
			what = fmt.Sprintf("Hand out a %s to %v", modelName, item.Attributes["requested_for"])
		}
		if n > 1 {
			what += fmt.Sprintf(" (%d of %d)", i+1, n)
		}
		in := RecordInput{Attributes: map[string]any{"short_description": clip(what, 160)}}
		if group != "" {
			in.Links.AssignmentGroup = &group
		}
		extra := store.Attributes{}
		if model != "" {
			extra["asset_model"] = modelName
		}
		task, err := s.openTask(ctx, actor, k, item, in, extra)
		if err != nil {
			return item, err
		}
		if model == "" {
			continue
		}
		if _, err := s.cmdb.SetLinks(ctx, actor, task.ID, RelOfModel, []store.ID{model}, KindAssetModel, "assetModelId", false); err != nil {
			return item, err
		}
		if _, err := s.allocate(ctx, actor, task); err != nil {
			return item, err
		}
	}
	return item, nil
}

// taskDone follows a catalog task that was closed or canceled: its item
// closes when it was the last open task. It runs as the process.
func (s *Service) taskDone(ctx context.Context, actor store.Actor, task store.Node) error {
	item, ok, err := s.parentOf(ctx, task.ID, KindRequestedItem)
	if err != nil || !ok || item.Attributes["state"] != ItemFulfillment {
		return err
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{item.ID}, store.In, []string{RelTaskOf})
	if err != nil {
		return err
	}
	ids := make([]store.ID, len(rels[item.ID]))
	for i, r := range rels[item.ID] {
		ids[i] = r.Source
	}
	tasks, err := s.nodesOf(ctx, KindCatalogTask, ids)
	if err != nil {
		return err
	}
	delivered, missed := 0, []string{}
	for _, t := range tasks {
		switch {
		case taskOpen(t):
			return nil // not the last one
		case t.Attributes["state"] == TaskClosed && t.Attributes["close_code"] != "not_completed":
			delivered++
		default:
			missed = append(missed, fmt.Sprint(t.Attributes["number"]))
		}
	}
	action, input := ActionCloseComplete, map[string]any{"close_notes": "closed with its tasks"}
	if len(missed) > 0 || delivered == 0 {
		slices.Sort(missed)
		action, input = ActionCloseIncomplete, map[string]any{"close_notes": "not delivered: " + strings.Join(missed, ", ") + " not completed"}
	}
	res, err := s.act(ctx, actor, KindRequestedItem, s.item, item.ID, 0, action, input, Facts{}, s.itemClockFinish)
	if errors.Is(err, store.ErrConflict) {
		return nil // closed meanwhile
	}
	if err != nil {
		return err
	}
	return s.itemDone(ctx, actor, res.Node)
}

// itemClockFinish completes a requested item's write with its SLA clock.
func (s *Service) itemClockFinish(cur *store.Node, out store.Attributes, at time.Time) store.Attributes {
	return s.withClock(itemClock, cur, out, at)
}

// itemDone follows a requested item that was closed: its request closes
// when it was the last open item, Complete when an item was delivered and
// none incomplete, Rejected or Canceled when every item was, Incomplete
// otherwise. It runs as the process.
func (s *Service) itemDone(ctx context.Context, actor store.Actor, item store.Node) error {
	req, ok, err := s.parentOf(ctx, item.ID, KindRequest)
	if err != nil || !ok {
		return err
	}
	if st, _ := req.Attributes["state"].(string); slices.Contains(requestFinal, st) {
		return nil
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{req.ID}, store.In, []string{RelTaskOf})
	if err != nil {
		return err
	}
	ids := make([]store.ID, len(rels[req.ID]))
	for i, r := range rels[req.ID] {
		ids[i] = r.Source
	}
	items, err := s.nodesOf(ctx, KindRequestedItem, ids)
	if err != nil {
		return err
	}
	count := map[string]int{}
	for _, it := range items {
		st, _ := it.Attributes["state"].(string)
		if !slices.Contains(requestFinal, st) {
			return nil // not the last one
		}
		count[st]++
	}
	var action string
	input := map[string]any{}
	switch {
	case count[ClosedRejected] == len(items):
		action = ActionCloseRejected
	case count[ClosedCanceled] == len(items):
		action, input["close_notes"] = ActionCancelRequest, "every item was canceled"
	case count[ClosedIncomplete] == 0 && count[ClosedComplete] > 0:
		action = ActionCloseComplete
	default:
		action = ActionCloseIncomplete
	}
	_, err = s.act(ctx, actor, KindRequest, s.request, req.ID, 0, action, input, Facts{}, nil)
	if errors.Is(err, store.ErrConflict) {
		return nil // closed meanwhile
	}
	return err
}

// ActOnRequest runs an action of a request a client may take: cancel
// (with close_notes), which cancels its open items and their tasks. The
// caller needs update request.
func (s *Service) ActOnRequest(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	if err := auth.Check(ctx, KindRequest, auth.Update); err != nil {
		return store.Node{}, err
	}
	if action != ActionCancelRequest {
		return store.Node{}, store.Invalid("action", "%q: a request closes with its items; a client cancels it", action)
	}
	if err := s.request.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	res, err := s.act(ctx, actor, KindRequest, s.request, id, expected, action, input, Facts{}, nil)
	if err != nil {
		return res.Node, err
	}
	pctx := auth.AsProcess(ctx)
	page, err := s.linkedFrom(pctx, id, RelTaskOf, KindRequestedItem, nil, store.PageRequest{First: MaxRequestItems})
	if err != nil {
		return res.Node, err
	}
	note := fmt.Sprintf("canceled with request %v", res.Node.Attributes["number"])
	for _, it := range page.Items {
		if st, _ := it.Attributes["state"].(string); slices.Contains(requestFinal, st) {
			continue
		}
		if _, err := s.actOnItem(pctx, actor, it.ID, 0, ActionCancelRequest, map[string]any{"close_notes": note}); err != nil && !errors.Is(err, store.ErrConflict) {
			return res.Node, err
		}
	}
	return res.Node, nil
}

// ActOnRequestedItem runs an action of a requested item (close_complete,
// close_incomplete: once its tasks are done, or for an item without
// tasks; cancel: with its open tasks), then closes its request when it
// was the last open item. The caller needs update requested_item.
func (s *Service) ActOnRequestedItem(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	if err := auth.Check(ctx, KindRequestedItem, auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := s.item.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	return s.actOnItem(auth.AsProcess(ctx), actor, id, expected, action, input)
}

// actOnItem writes an item's action (the caller checked permission and
// input), then what follows it. It runs as the process.
func (s *Service) actOnItem(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any) (store.Node, error) {
	var facts Facts
	if action == ActionCloseComplete || action == ActionCloseIncomplete {
		open, err := s.openTaskNumbers(ctx, KindCatalogTask, id)
		if err != nil {
			return store.Node{}, err
		}
		facts.OpenTasks = open
	}
	res, err := s.act(ctx, actor, KindRequestedItem, s.item, id, expected, action, input, facts, s.itemClockFinish)
	if err != nil {
		return res.Node, err
	}
	if action == ActionCancelRequest {
		if err := s.cancelTasks(ctx, actor, KindCatalogTask, res.Node); err != nil {
			return res.Node, err
		}
	}
	return res.Node, s.itemDone(ctx, actor, res.Node)
}

// catalogTaskActed follows an action on a catalog task: a task closed or
// canceled may close its item; a canceled task gives back the asset it
// was allocated (to stock, for the next waiting task).
func (s *Service) catalogTaskActed(ctx context.Context, actor store.Actor, t store.Node) error {
	if taskOpen(t) {
		return nil
	}
	if t.Attributes["state"] == TaskCanceled {
		if tag, _ := t.Attributes["allocated_asset"].(string); tag != "" {
			if err := s.releaseAsset(ctx, actor, tag, t); err != nil {
				return err
			}
		}
	}
	return s.taskDone(ctx, actor, t)
}

// RequestByNumber returns the request numbered number, if there is one.
func (s *Service) RequestByNumber(ctx context.Context, number string) (store.Node, bool, error) {
	return s.byNumber(ctx, KindRequest, number)
}

// RequestedItemByNumber returns the requested item numbered number, if
// there is one.
func (s *Service) RequestedItemByNumber(ctx context.Context, number string) (store.Node, bool, error) {
	return s.byNumber(ctx, KindRequestedItem, number)
}

// ItemsOf returns a page of the items of request id, in the order they
// were requested.
func (s *Service) ItemsOf(ctx context.Context, id store.ID, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindRequestedItem, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFromSorted(ctx, id, RelTaskOf, KindRequestedItem, nil, store.Sort{Field: store.FieldCreatedAt}, p)
}

// RequestOf returns the request requested item id belongs to.
func (s *Service) RequestOf(ctx context.Context, id store.ID) (store.Node, bool, error) {
	if err := auth.Check(ctx, KindRequest, auth.Read); err != nil {
		return store.Node{}, false, err
	}
	return s.parentOf(ctx, id, KindRequest)
}

// RequestsFor returns a page of the requests for person, newest first.
func (s *Service) RequestsFor(ctx context.Context, person store.ID, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindRequest, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFrom(ctx, person, RelRequestedFor, KindRequest, nil, p)
}

// ItemSLA returns the service level of a requested item (its stored
// attributes a) now.
func (s *Service) ItemSLA(a store.Attributes) SLAStatus { return s.sla.status(itemClock, a, s.now()) }

// ItemApprovals returns a requested item's approvers and their decisions.
func ItemApprovals(item store.Node) []Approval { return decodeApprovals(item.Attributes) }

// SetPersonManager records whom person reports to (REPORTS_TO; "" removes
// it): the approver of their requests for items that need a manager's
// approval. A person is not their own manager. The caller needs update
// person.
func (s *Service) SetPersonManager(ctx context.Context, actor store.Actor, person, manager store.ID) error {
	if person != "" && person == manager {
		return store.Invalid("managerId", "a person does not report to themselves")
	}
	return s.setOneLink(ctx, actor, cmdb.KindPerson, person, "personId", RelReportsTo, cmdb.KindPerson, manager, "managerId")
}

// managerOf returns whom person reports to.
func (s *Service) managerOf(ctx context.Context, person store.ID) (store.Node, bool, error) {
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{person}, store.Out, []string{RelReportsTo})
	if err != nil || len(rels[person]) == 0 {
		return store.Node{}, false, err
	}
	found, err := s.cmdb.Nodes(ctx, cmdb.KindPerson, []store.ID{rels[person][0].Target})
	n, ok := found[rels[person][0].Target]
	return n, ok, err
}

// ManagerOf returns whom person reports to. The caller needs read person.
func (s *Service) ManagerOf(ctx context.Context, person store.ID) (store.Node, bool, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return store.Node{}, false, err
	}
	return s.managerOf(ctx, person)
}

// encodeAnswers turns checked answers into the stored variables of a
// requested item (JSON; dates as RFC 3339).
func encodeAnswers(answers map[string]any) string {
	out := make(map[string]any, len(answers))
	for k, v := range answers {
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.RFC3339)
		}
		out[k] = v
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// ItemAnswers returns the answers of a requested item, by question name.
func ItemAnswers(item store.Node) map[string]any {
	s, _ := item.Attributes["variables"].(string)
	out := map[string]any{}
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out) // written by encodeAnswers only
	}
	return out
}
