package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The role matrix's operations on requests, requested items and catalog
// tasks (see matrixOps): each prepared as admin, run as every role, its
// effect checked as admin.

// matrixItem makes, as admin, a catalog item fulfilled by a fresh group:
// approved by the CAB group (every matrix token's person is a member)
// when approval is true; handing out a fresh asset model without stock
// when hardware is true.
func (m *matrixEnv) matrixItem(t *testing.T, approval, hardware bool) string {
	in := map[string]any{"name": m.name("matrix-catalog-"), "fulfillmentGroupId": m.group(t)}
	if approval {
		in["approval"], in["approvalGroupId"] = "GROUP", m.cab(t)
	}
	if hardware {
		d := ok(t, m.url, `mutation($n: String!) { createAssetModel(input: {name: $n}) { assetModel { id } } }`, map[string]any{"n": m.name("matrix-model-")})
		in["assetModelId"] = get(d, "createAssetModel", "assetModel", "id")
	}
	d := ok(t, m.url, `mutation($in: CreateCatalogItemInput!) { createCatalogItem(input: $in) { catalogItem { id } } }`, map[string]any{"in": in})
	return get(d, "createCatalogItem", "catalogItem", "id").(string)
}

// matrixRequest submits, as admin, a request for a fresh person for one
// item made by matrixItem; it returns the request's, the item's and its
// first task's IDs (no task while the item awaits approval).
func (m *matrixEnv) matrixRequest(t *testing.T, approval, hardware bool) (req, item, task string) {
	d := ok(t, m.url, `mutation($in: SubmitRequestInput!) { submitRequest(input: $in) { request { id } items { id tasks { edges { node { id } } } } } }`,
		map[string]any{"in": map[string]any{"requestedForId": m.person(t), "items": []any{map[string]any{"catalogItemId": m.matrixItem(t, approval, hardware)}}}})
	req = get(d, "submitRequest", "request", "id").(string)
	item = get(d, "submitRequest", "items", 0, "id").(string)
	if edges := get(d, "submitRequest", "items", 0, "tasks", "edges").([]any); len(edges) > 0 {
		task = get(edges[0], "node", "id").(string)
	}
	return req, item, task
}

// stateOf reads, as admin, the state of a request, item or task (field
// request, requestedItem, catalogTask) and its journal's size.
func (m *matrixEnv) stateOf(t *testing.T, field, id string) (string, float64) {
	d := ok(t, m.url, fmt.Sprintf(`query($id: ID!) { %s(id: $id) { state journal { totalCount } } }`, field), map[string]any{"id": id})
	return get(d, field, "state").(string), get(d, field, "journal", "totalCount").(float64)
}

// requestOp is the matrix operation of a mutation on a request (field
// request), its item (requestedItem) or its task (catalogTask): allowed,
// it leaves that record in state want ("NOTE": with one journal entry).
func requestOp(mutation, input, field, want string, extra map[string]any, approval bool, prep ...string) matrixOp {
	payload := map[string]string{"request": "request", "requestedItem": "requestedItem", "catalogTask": "catalogTask"}[field]
	if want == "NOTE" {
		payload = "entry"
	}
	sel := "state"
	if want == "NOTE" {
		sel = "id"
	}
	return matrixOp{query: fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { %s { %s } } }`, input, mutation, payload, sel),
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			req, item, task := m.matrixRequest(t, approval, false)
			id := map[string]string{"request": req, "requestedItem": item, "catalogTask": task}[field]
			for _, a := range prep {
				ok(t, m.url, `mutation($id: ID!) { `+a+`(input: {id: $id, waitReason: "matrix"}) { catalogTask { id } } }`, map[string]any{"id": id})
			}
			in := map[string]any{"id": id}
			for k, v := range extra {
				in[k] = v
			}
			return map[string]any{"in": in}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			state, notes := m.stateOf(t, field, vars["in"].(map[string]any)["id"].(string))
			if want == "NOTE" {
				assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], notes, "%s", mutation)
				return
			}
			assert.Equal(t, allowed, state == want, "%s: %v", mutation, state)
		}}
}

// requestMatrixOps are the role-matrix operations of requests.
var requestMatrixOps = map[string]matrixOp{
	"Query.request": {query: `query($id: ID!) { request(id: $id) { number state items { totalCount } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			req, _, _ := m.matrixRequest(t, false, false)
			return map[string]any{"id": req}
		}},
	"Query.requests": {query: `{ requests(first: 1) { totalCount } }`},
	"Query.requestedItem": {query: `query($id: ID!) { requestedItem(id: $id) { number state approvals { userName } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			_, item, _ := m.matrixRequest(t, true, false)
			return map[string]any{"id": item}
		}},
	"Query.requestedItems": {query: `{ requestedItems(first: 1) { totalCount } }`},
	"Query.catalogTask": {query: `query($id: ID!) { catalogTask(id: $id) { number state requestedItem { number } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			_, _, task := m.matrixRequest(t, false, false)
			return map[string]any{"id": task}
		}},
	"Query.catalogTasks": {query: `{ catalogTasks(first: 1) { totalCount } }`},
	"Mutation.submitRequest": {query: `mutation($in: SubmitRequestInput!) { submitRequest(input: $in) { request { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"requestedForId": m.person(t), "items": []any{map[string]any{"catalogItemId": m.matrixItem(t, false, false)}}}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { node(id: $id) { ... on Person { requests { totalCount } } } }`,
				map[string]any{"id": vars["in"].(map[string]any)["requestedForId"]})
			assert.Equal(t, map[bool]float64{true: 1, false: 0}[allowed], get(d, "node", "requests", "totalCount"))
		}},
	"Mutation.cancelRequest":        requestOp("cancelRequest", "CancelRecordInput", "request", "CLOSED_CANCELED", map[string]any{"closeNotes": "matrix"}, false),
	"Mutation.approveRequestedItem": requestOp("approveRequestedItem", "DecisionInput", "requestedItem", "FULFILLMENT", map[string]any{"comment": "matrix"}, true),
	"Mutation.rejectRequestedItem":  requestOp("rejectRequestedItem", "DecisionInput", "requestedItem", "CLOSED_REJECTED", map[string]any{"comment": "matrix"}, true),
	"Mutation.cancelRequestedItem":  requestOp("cancelRequestedItem", "CancelRecordInput", "requestedItem", "CLOSED_CANCELED", map[string]any{"closeNotes": "matrix"}, true),
	"Mutation.addRequestNote":       requestOp("addRequestNote", "AddNoteInput", "request", "NOTE", map[string]any{"text": "matrix", "type": "WORK_NOTE"}, false),
	"Mutation.addRequestedItemNote": requestOp("addRequestedItemNote", "AddNoteInput", "requestedItem", "NOTE", map[string]any{"text": "matrix", "type": "COMMENT"}, false),
	"Mutation.addCatalogTaskNote":   requestOp("addCatalogTaskNote", "AddNoteInput", "catalogTask", "NOTE", map[string]any{"text": "matrix", "type": "WORK_NOTE"}, false),
	"Mutation.startCatalogTask":     requestOp("startCatalogTask", "TaskActionInput", "catalogTask", "WORK_IN_PROGRESS", nil, false),
	"Mutation.holdCatalogTask":      requestOp("holdCatalogTask", "HoldCatalogTaskInput", "catalogTask", "PENDING", map[string]any{"waitReason": "the user is away"}, false),
	"Mutation.resumeCatalogTask":    requestOp("resumeCatalogTask", "TaskActionInput", "catalogTask", "OPEN", nil, false, "holdCatalogTask"),
	"Mutation.closeCatalogTask":     requestOp("closeCatalogTask", "CloseTaskInput", "catalogTask", "CLOSED", map[string]any{"closeCode": "COMPLETED"}, false),
	"Mutation.cancelCatalogTask":    requestOp("cancelCatalogTask", "CancelTaskInput", "catalogTask", "CANCELED", nil, false),
	"Mutation.createCatalogTask": {query: `mutation($in: CreateCatalogTaskInput!) { createCatalogTask(input: $in) { catalogTask { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			_, item, _ := m.matrixRequest(t, false, false)
			return map[string]any{"in": map[string]any{"requestedItemId": item, "shortDescription": m.name("matrix-sctask-")}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { requestedItem(id: $id) { tasks { totalCount } } }`, map[string]any{"id": vars["in"].(map[string]any)["requestedItemId"]})
			assert.Equal(t, map[bool]float64{true: 2, false: 1}[allowed], get(d, "requestedItem", "tasks", "totalCount"))
		}},
	"Mutation.updateCatalogTask": {query: `mutation($in: UpdateTaskInput!) { updateCatalogTask(input: $in) { catalogTask { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			_, _, task := m.matrixRequest(t, false, false)
			return map[string]any{"in": map[string]any{"id": task, "description": "updated by the matrix"}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { catalogTask(id: $id) { description } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "catalogTask", "description") == "updated by the matrix")
		}},
	// A hardware task found no stock (pending), was taken back to open by
	// hand, then stock arrived (which serves only tasks waiting for it):
	// allocating now hands it the asset.
	"Mutation.allocateCatalogTaskAsset": {query: `mutation($in: TaskActionInput!) { allocateCatalogTaskAsset(input: $in) { catalogTask { state } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			d := ok(t, m.url, `mutation($in: SubmitRequestInput!) { submitRequest(input: $in) { items { tasks { edges { node { id state assetModel { id } } } } } } }`,
				map[string]any{"in": map[string]any{"requestedForId": m.person(t), "items": []any{map[string]any{"catalogItemId": m.matrixItem(t, false, true)}}}})
			task := get(d, "submitRequest", "items", 0, "tasks", "edges", 0, "node").(map[string]any)
			assert.Equal(t, "PENDING", task["state"], "no stock yet")
			ok(t, m.url, `mutation($id: ID!) { resumeCatalogTask(input: {id: $id}) { catalogTask { id } } }`, map[string]any{"id": task["id"]})
			ok(t, m.url, `mutation($in: CreateAssetInput!) { createAsset(input: $in) { asset { id } } }`,
				map[string]any{"in": map[string]any{"modelId": get(task, "assetModel", "id"), "assetTag": m.name("MATRIX-"), "received": true}})
			return map[string]any{"in": map[string]any{"id": task["id"]}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { catalogTask(id: $id) { allocatedAsset { id } } }`, map[string]any{"id": vars["in"].(map[string]any)["id"]})
			assert.Equal(t, allowed, get(d, "catalogTask", "allocatedAsset") != nil)
		}},
	"Mutation.setPersonManager": {query: `mutation($in: SetPersonManagerInput!) { setPersonManager(input: $in) { person { id } } }`,
		prepare: func(t *testing.T, m *matrixEnv) map[string]any {
			return map[string]any{"in": map[string]any{"personId": m.person(t), "managerId": m.person(t)}}
		},
		after: func(t *testing.T, m *matrixEnv, vars map[string]any, allowed bool) {
			d := ok(t, m.url, `query($id: ID!) { node(id: $id) { ... on Person { manager { id } } } }`, map[string]any{"id": vars["in"].(map[string]any)["personId"]})
			assert.Equal(t, allowed, get(d, "node", "manager") != nil)
		}},
}

func init() {
	for f, op := range requestMatrixOps {
		matrixOps[f] = op
	}
}
