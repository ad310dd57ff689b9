package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

// TestRequestAPI: service requests over GraphQL on both backends, as the
// people who use them: an employee (a viewer token) asks for a phone, a
// mouse and VPN access; bad input is refused naming the field, nothing
// written; the manager approves the phone (which allocates the one phone in
// stock to the employee), a security approver rejects VPN; nobody else may
// decide, nor decide twice; the mouse is fulfilled by two tasks and closes
// with the last; the request closes with its last item. A second employee's
// phone waits out of stock (and cannot be closed completed without one)
// until a phone is received; canceling that request gives the phone back
// to stock. Every write is read back from the audit trail.
func TestRequestAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			testRequests(t, srv.URL, a)
		})
	}
}

const requestFields = `id number state stateCode priority requestedBy requestedFor { userName } allowedActions closeNotes
  items(first: 20) { totalCount edges { node { ` + itemFields + ` } } }`

const itemFields = `id number state approval variables quantity request { number } approvals { userName reason state comment }
  sla { responseDueAt respondedAt stopped } closeNotes allowedActions catalogItem { name } requestedFor { userName }
  tasks(first: 5) { totalCount edges { node { ` + sctaskFields + ` } } }`

const sctaskFields = `id number state stateCode waitReason allowedActions assignmentGroup { name } assetModel { name }
  allocatedAsset { assetTag state assignedTo { userName } } closeCode version`

// as runs a GraphQL operation with token tok.
func as(t *testing.T, url, tok, query string, vars map[string]any) gqlResponse {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	return postAs(t, url, tok, string(b))
}

func asOK(t *testing.T, url, tok, query string, vars map[string]any) map[string]any {
	t.Helper()
	r := as(t, url, tok, query, vars)
	require.Empty(t, r.Errors, r.raw)
	return r.Data
}

// nodes are the nodes of a connection.
func nodes(conn any) []map[string]any {
	var out []map[string]any
	for _, e := range get(conn, "edges").([]any) {
		out = append(out, get(e, "node").(map[string]any))
	}
	return out
}

func testRequests(t *testing.T, url string, a *app) {
	people := upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person",
		map[string]any{"user_name": "ana", "name": "Ana New-Hire"}, map[string]any{"user_name": "mia", "name": "Mia Manager"},
		map[string]any{"user_name": "ben", "name": "Ben Security"}, map[string]any{"user_name": "zoe", "name": "Zoe Second-Hire"})
	ana, mia, ben, zoe := people[0], people[1], people[2], people[3]
	tokAna, tokMia := issueToken(t, a, "ana", auth.Viewer), issueToken(t, a, "mia", auth.Viewer)
	tokBen, tokZoe := issueToken(t, a, "ben", auth.Engineer), issueToken(t, a, "zoe", auth.Viewer)
	groups := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group", map[string]any{"name": "Workplace"}, map[string]any{"name": "Security approvers"})
	workplace, security := groups[0], groups[1]
	ok(t, url, `mutation($in: GroupMembersInput!) { addGroupMembers(input: $in) { changed } }`,
		map[string]any{"in": map[string]any{"groupId": security, "personIds": []any{ben, mia}}})
	pixel := get(ok(t, url, `mutation { createAssetModel(input: {name: "Pixel 8a", category: "phone"}) { assetModel { id } } }`, nil), "createAssetModel", "assetModel", "id")
	newAsset := func(tag string) map[string]any {
		d := ok(t, url, `mutation($in: CreateAssetInput!) { createAsset(input: $in) { asset { id assetTag state } } }`,
			map[string]any{"in": map[string]any{"modelId": pixel, "assetTag": tag, "received": true}})
		return get(d, "createAsset", "asset").(map[string]any)
	}
	newAsset("PHN-001")
	cat := func(in map[string]any) string {
		d := ok(t, url, `mutation($in: CreateCatalogItemInput!) { createCatalogItem(input: $in) { catalogItem { id } } }`, map[string]any{"in": in})
		return get(d, "createCatalogItem", "catalogItem", "id").(string)
	}
	phone := cat(map[string]any{"name": "Mobile phone", "category": "Hardware", "approval": "MANAGER", "fulfillmentGroupId": workplace, "assetModelId": pixel,
		"variables": []any{map[string]any{"name": "carrier", "type": "CHOICE", "choices": []any{"orange", "sfr"}, "required": true}}})
	mouse := cat(map[string]any{"name": "Mouse", "category": "Hardware", "fulfillmentGroupId": workplace})
	vpn := cat(map[string]any{"name": "VPN access", "category": "Access", "approval": "GROUP", "approvalGroupId": security,
		"variables": []any{map[string]any{"name": "reason", "type": "TEXT", "required": true}}})

	submit := `mutation($in: SubmitRequestInput!) { submitRequest(input: $in) { request { ` + requestFields + ` } items { id } } }`
	good := func() map[string]any {
		return map[string]any{"items": []any{
			map[string]any{"catalogItemId": phone, "variables": map[string]any{"carrier": "orange"}},
			map[string]any{"catalogItemId": mouse},
			map[string]any{"catalogItemId": vpn, "variables": map[string]any{"reason": "remote work"}},
		}}
	}
	// Bad input is refused naming the field as the client wrote it;
	// nothing is written. Ana has no manager yet: the phone needs one.
	for _, b := range []struct {
		change func(in map[string]any)
		code   string
		field  string
	}{
		{func(in map[string]any) { in["items"] = []any{} }, "INVALID", "input.items"},
		{func(in map[string]any) { in["items"].([]any)[1].(map[string]any)["catalogItemId"] = ana }, "INVALID", "input.items[1].catalogItemId"},
		{func(in map[string]any) {
			in["items"].([]any)[0].(map[string]any)["variables"] = map[string]any{"carrier": "free"}
		}, "INVALID", "input.items[0].variables.carrier"},
		{func(in map[string]any) { in["items"].([]any)[0].(map[string]any)["variables"] = map[string]any{} }, "INVALID", "input.items[0].variables.carrier"},
		{func(in map[string]any) {
			in["items"].([]any)[2].(map[string]any)["variables"] = map[string]any{"reason": "x", "color": "red"}
		}, "INVALID", "input.items[2].variables.color"},
		{func(in map[string]any) { in["items"].([]any)[1].(map[string]any)["quantity"] = 0 }, "INVALID", "input.items[1].quantity"},
		{func(in map[string]any) { in["items"].([]any)[1].(map[string]any)["quantity"] = 21 }, "INVALID", "input.items[1].quantity"},
		{func(in map[string]any) { in["priority"] = 9 }, "INVALID", "input.priority"},
		{func(in map[string]any) { in["requestedForId"] = workplace }, "INVALID", "input.requestedForId"},
		{func(in map[string]any) {}, "INVALID", "input.requestedForId"}, // no manager to approve the phone
	} {
		in := good()
		b.change(in)
		refusedWith(t, as(t, url, tokAna, submit, map[string]any{"in": in}), b.code, b.field)
	}
	assert.Equal(t, 0.0, get(ok(t, url, `{ requests { totalCount } requestedItems { totalCount } }`, nil), "requests", "totalCount"), "nothing written")

	refusedWith(t, gql(t, url, `mutation($p: ID!) { setPersonManager(input: {personId: $p, managerId: $p}) { person { id } } }`, map[string]any{"p": ana}), "INVALID", "input.managerId")
	refusedWith(t, as(t, url, tokAna, `mutation($p: ID!, $m: ID!) { setPersonManager(input: {personId: $p, managerId: $m}) { person { id } } }`, map[string]any{"p": ana, "m": mia}), "FORBIDDEN", "")
	for _, p := range []string{ana, zoe} {
		d := ok(t, url, `mutation($p: ID!, $m: ID!) { setPersonManager(input: {personId: $p, managerId: $m}) { person { manager { userName } } } }`, map[string]any{"p": p, "m": mia})
		assert.Equal(t, "mia", get(d, "setPersonManager", "person", "manager", "userName"))
	}

	// Ana asks for herself (requestedForId left out: her own person).
	d := asOK(t, url, tokAna, submit, map[string]any{"in": good()})
	req := get(d, "submitRequest", "request").(map[string]any)
	assert.Regexp(t, `^REQ\d{7}$`, req["number"])
	assert.Equal(t, "IN_PROCESS", req["state"], "the mouse needs no approval: it is being fulfilled")
	assert.Equal(t, "ana", req["requestedBy"])
	assert.Equal(t, "ana", get(req, "requestedFor", "userName"))
	assert.Equal(t, "Mobile phone", get(req, "items", "edges", 0, "node", "catalogItem", "name"), "the first item names the request")
	items := nodes(get(req, "items"))
	require.Len(t, items, 3)
	ph, mo, vp := items[0], items[1], items[2]
	assert.Regexp(t, `^RITM\d{7}$`, ph["number"])
	assert.Equal(t, "WAITING_FOR_APPROVAL", ph["state"])
	assert.Equal(t, req["number"], get(ph, "request", "number"))
	assert.Equal(t, map[string]any{"carrier": "orange"}, ph["variables"])
	assert.Equal(t, []any{map[string]any{"userName": "mia", "reason": "MANAGER", "state": "REQUESTED", "comment": nil}}, ph["approvals"])
	assert.NotNil(t, get(ph, "sla", "responseDueAt"))
	assert.Equal(t, 0.0, get(ph, "tasks", "totalCount"), "no task before approval")
	assert.Equal(t, "FULFILLMENT", mo["state"])
	assert.Equal(t, "NOT_REQUIRED", mo["approval"])
	mouseTasks := nodes(get(mo, "tasks"))
	require.Len(t, mouseTasks, 1)
	assert.Regexp(t, `^SCTASK\d{7}$`, mouseTasks[0]["number"])
	assert.Equal(t, "OPEN", mouseTasks[0]["state"])
	assert.Equal(t, "Workplace", get(mouseTasks[0], "assignmentGroup", "name"))
	assert.Equal(t, "WAITING_FOR_APPROVAL", vp["state"])
	assert.Len(t, vp["approvals"], 2, "every active member of the approval group")

	// Decisions: only an approver, once; the first decision decides.
	decide := func(tok, mutation, id, comment string) gqlResponse {
		return as(t, url, tok, `mutation($in: DecisionInput!) { `+mutation+`(input: $in) { requestedItem { `+itemFields+` } } }`,
			map[string]any{"in": map[string]any{"id": id, "comment": comment}})
	}
	refusedWith(t, decide(tokZoe, "approveRequestedItem", ph["id"].(string), "me too"), "FORBIDDEN", "")
	refusedWith(t, decide(tokAna, "approveRequestedItem", ph["id"].(string), "my own"), "FORBIDDEN", "")
	r := decide(tokMia, "approveRequestedItem", ph["id"].(string), "welcome aboard")
	require.Empty(t, r.Errors, r.raw)
	ph = get(r.Data, "approveRequestedItem", "requestedItem").(map[string]any)
	assert.Equal(t, "FULFILLMENT", ph["state"])
	assert.Equal(t, "APPROVED", ph["approval"])
	assert.NotNil(t, get(ph, "sla", "respondedAt"), "the approval is the response")
	phoneTasks := nodes(get(ph, "tasks"))
	require.Len(t, phoneTasks, 1)
	pt := phoneTasks[0]
	assert.Equal(t, "OPEN", pt["state"])
	assert.Equal(t, "Pixel 8a", get(pt, "assetModel", "name"))
	assert.Equal(t, "PHN-001", get(pt, "allocatedAsset", "assetTag"), "the one phone in stock")
	assert.Equal(t, "IN_USE", get(pt, "allocatedAsset", "state"))
	assert.Equal(t, "ana", get(pt, "allocatedAsset", "assignedTo", "userName"))
	assert.NotContains(t, pt["allowedActions"], "ALLOCATE", "allocated already")
	refusedWith(t, decide(tokMia, "approveRequestedItem", ph["id"].(string), "again"), "CONFLICT", "")
	r = decide(tokBen, "rejectRequestedItem", vp["id"].(string), "contractors only")
	require.Empty(t, r.Errors, r.raw)
	vp = get(r.Data, "rejectRequestedItem", "requestedItem").(map[string]any)
	assert.Equal(t, "CLOSED_REJECTED", vp["state"])
	assert.Contains(t, vp["closeNotes"], "contractors only")
	assert.Equal(t, true, get(vp, "sla", "stopped"))
	refusedWith(t, decide(tokMia, "approveRequestedItem", vp["id"].(string), "too late"), "CONFLICT", "")

	// Fulfilment: tasks are worked by the desk (not by the requester).
	task := func(tok, mutation, input string, in map[string]any) gqlResponse {
		return as(t, url, tok, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { catalogTask { %s } } }`, input, mutation, sctaskFields), map[string]any{"in": in})
	}
	taskOK := func(tok, mutation, input string, in map[string]any) map[string]any {
		r := task(tok, mutation, input, in)
		require.Empty(t, r.Errors, r.raw)
		return get(r.Data, mutation, "catalogTask").(map[string]any)
	}
	mt := mouseTasks[0]["id"].(string)
	refusedWith(t, task(tokAna, "startCatalogTask", "TaskActionInput", map[string]any{"id": mt}), "FORBIDDEN", "")
	assert.Equal(t, "WORK_IN_PROGRESS", taskOK(tokBen, "startCatalogTask", "TaskActionInput", map[string]any{"id": mt})["state"])
	refusedWith(t, task(tokBen, "startCatalogTask", "TaskActionInput", map[string]any{"id": mt}), "CONFLICT", "")
	refusedWith(t, task(tokBen, "holdCatalogTask", "HoldCatalogTaskInput", map[string]any{"id": mt, "waitReason": ""}), "INVALID", "input.waitReason")
	held := taskOK(tokBen, "holdCatalogTask", "HoldCatalogTaskInput", map[string]any{"id": mt, "waitReason": "Ana is at a training until Monday"})
	assert.Equal(t, "PENDING", held["state"])
	assert.Equal(t, -5.0, held["stateCode"])
	assert.Equal(t, "OPEN", taskOK(tokBen, "resumeCatalogTask", "TaskActionInput", map[string]any{"id": mt})["state"])
	refusedWith(t, task(tokBen, "allocateCatalogTaskAsset", "TaskActionInput", map[string]any{"id": mt}), "INVALID", "input.id")
	second := get(asOK(t, url, tokBen, `mutation($in: CreateCatalogTaskInput!) { createCatalogTask(input: $in) { catalogTask { id number } } }`,
		map[string]any{"in": map[string]any{"requestedItemId": mo["id"], "shortDescription": "Pair the mouse with Ana's laptop"}}), "createCatalogTask", "catalogTask", "id").(string)
	refusedWith(t, as(t, url, tokBen, `mutation($in: CreateCatalogTaskInput!) { createCatalogTask(input: $in) { catalogTask { id } } }`,
		map[string]any{"in": map[string]any{"requestedItemId": vp["id"], "shortDescription": "late"}}), "CONFLICT", "")
	taskOK(tokBen, "closeCatalogTask", "CloseTaskInput", map[string]any{"id": mt, "closeCode": "COMPLETED", "closeNotes": "on her desk"})
	itemState := func(id any) string {
		return get(ok(t, url, `query($id: ID!) { requestedItem(id: $id) { state } }`, map[string]any{"id": id}), "requestedItem", "state").(string)
	}
	assert.Equal(t, "FULFILLMENT", itemState(mo["id"]), "its second task is still open")
	refusedWith(t, task(tokBen, "cancelCatalogTask", "CancelTaskInput", map[string]any{"id": mt}), "CONFLICT", "")
	taskOK(tokBen, "closeCatalogTask", "CloseTaskInput", map[string]any{"id": second, "closeCode": "COMPLETED"})
	assert.Equal(t, "CLOSED_COMPLETE", itemState(mo["id"]), "the item closes with its last task")
	reqState := func(id any) string {
		return get(ok(t, url, `query($id: ID!) { request(id: $id) { state } }`, map[string]any{"id": id}), "request", "state").(string)
	}
	assert.Equal(t, "IN_PROCESS", reqState(req["id"]), "the phone is still being delivered")
	taskOK(tokBen, "closeCatalogTask", "CloseTaskInput", map[string]any{"id": pt["id"], "closeCode": "COMPLETED"})
	assert.Equal(t, "CLOSED_COMPLETE", itemState(ph["id"]))
	assert.Equal(t, "CLOSED_COMPLETE", reqState(req["id"]), "delivered what was approved; the rejected VPN does not make it incomplete")
	refusedWith(t, gql(t, url, `mutation($id: ID!) { cancelRequest(input: {id: $id, closeNotes: "late"}) { request { id } } }`, map[string]any{"id": req["id"]}), "CONFLICT", "")

	// Zoe's phone: no stock left, her task waits; it cannot close
	// completed without a phone; the next phone received is hers.
	d = asOK(t, url, tokZoe, submit, map[string]any{"in": map[string]any{"items": []any{map[string]any{"catalogItemId": phone, "variables": map[string]any{"carrier": "sfr"}}}}})
	zreq := get(d, "submitRequest", "request").(map[string]any)
	zitem := nodes(get(zreq, "items"))[0]
	asOK(t, url, tokMia, `mutation($id: ID!) { approveRequestedItem(input: {id: $id}) { requestedItem { id } } }`, map[string]any{"id": zitem["id"]})
	zt := nodes(get(ok(t, url, `query($id: ID!) { requestedItem(id: $id) { tasks { edges { node { `+sctaskFields+` } } } } }`, map[string]any{"id": zitem["id"]}), "requestedItem", "tasks"))[0]
	assert.Equal(t, "PENDING", zt["state"])
	assert.Contains(t, zt["waitReason"], "out of stock")
	assert.Nil(t, zt["allocatedAsset"])
	assert.Contains(t, zt["allowedActions"], "ALLOCATE")
	msg := refusedWith(t, task(tokBen, "closeCatalogTask", "CloseTaskInput", map[string]any{"id": zt["id"], "closeCode": "COMPLETED"}), "INVALID", "")
	assert.Contains(t, msg, "asset_allocated")
	assert.Equal(t, "PENDING", taskOK(tokBen, "allocateCatalogTaskAsset", "TaskActionInput", map[string]any{"id": zt["id"]})["state"], "still none in stock")
	phn2 := newAsset("PHN-002")
	assert.Equal(t, "IN_USE", phn2["state"], "received, and handed to the waiting task at once")
	zt = taskOK(tokBen, "updateCatalogTask", "UpdateTaskInput", map[string]any{"id": zt["id"], "description": "ship to Lyon"})
	assert.Equal(t, "OPEN", zt["state"])
	assert.Nil(t, zt["waitReason"])
	assert.Equal(t, "PHN-002", get(zt, "allocatedAsset", "assetTag"))
	assert.Equal(t, "zoe", get(zt, "allocatedAsset", "assignedTo", "userName"))
	refusedWith(t, task(tokBen, "allocateCatalogTaskAsset", "TaskActionInput", map[string]any{"id": zt["id"]}), "CONFLICT", "")

	// Zoe leaves before day one: canceling her request cancels the item
	// and its task, and the phone goes back to stock.
	refusedWith(t, as(t, url, tokZoe, `mutation($id: ID!) { cancelRequest(input: {id: $id, closeNotes: "left"}) { request { id } } }`, map[string]any{"id": zreq["id"]}), "FORBIDDEN", "")
	refusedWith(t, gql(t, url, `mutation($id: ID!) { cancelRequest(input: {id: $id, closeNotes: ""}) { request { id } } }`, map[string]any{"id": zreq["id"]}), "INVALID", "input.closeNotes")
	d = asOK(t, url, tokBen, `mutation($id: ID!) { cancelRequest(input: {id: $id, closeNotes: "Zoe left before day one"}) { request { state allowedActions } } }`, map[string]any{"id": zreq["id"]})
	assert.Equal(t, "CLOSED_CANCELED", get(d, "cancelRequest", "request", "state"))
	assert.Equal(t, []any{}, get(d, "cancelRequest", "request", "allowedActions"))
	assert.Equal(t, "CLOSED_CANCELED", itemState(zitem["id"]))
	d = ok(t, url, `query($id: ID!) { catalogTask(id: $id) { state closeNotes } asset: assets(where: {attribute: "asset_tag", eq: "PHN-002"}) { edges { node { state assignedTo { userName } } } } }`, map[string]any{"id": zt["id"]})
	assert.Equal(t, "CANCELED", get(d, "catalogTask", "state"))
	assert.Contains(t, get(d, "catalogTask", "closeNotes"), zitem["number"])
	assert.Equal(t, "IN_STOCK", get(d, "asset", "edges", 0, "node", "state"), "the phone is back in stock")
	assert.Nil(t, get(d, "asset", "edges", 0, "node", "assignedTo"))

	// Notes, people, and the audit trail of every write, with its author.
	asOK(t, url, tokBen, `mutation($id: ID!) { addRequestedItemNote(input: {id: $id, text: "ordered a case too", type: COMMENT}) { entry { id } } }`, map[string]any{"id": ph["id"]})
	d = ok(t, url, `query($a: ID!, $r: ID!, $i: ID!, $t: ID!) {
	  node(id: $a) { ... on Person { requests { totalCount } manager { userName } } }
	  request(id: $r) { history { edges { node { actor action changes { field after } } } } }
	  requestedItem(id: $i) { journal { totalCount } history { edges { node { actor changes { field after } } } } }
	  catalogTask(id: $t) { history { edges { node { actor } } } } }`, map[string]any{"a": ana, "r": req["id"], "i": ph["id"], "t": pt["id"]})
	assert.Equal(t, 1.0, get(d, "node", "requests", "totalCount"))
	assert.Equal(t, "mia", get(d, "node", "manager", "userName"))
	assert.Equal(t, 1.0, get(d, "requestedItem", "journal", "totalCount"))
	actors := func(path ...any) []string { // user names: "ana (token ...)" is ana
		var out []string
		for _, n := range nodes(get(d, path...)) {
			out = append(out, strings.Fields(n["actor"].(string))[0])
		}
		return out
	}
	assert.Contains(t, actors("request", "history"), "ana", "submitted by Ana")
	assert.Contains(t, actors("request", "history"), "ben", "closed with the task Ben closed")
	assert.Contains(t, actors("requestedItem", "history"), "mia", "approved by Mia")
	assert.Contains(t, actors("catalogTask", "history"), "mia", "opened by the approval Mia gave")
	assert.Contains(t, actors("catalogTask", "history"), "ben", "closed by Ben")
	d = ok(t, url, `{ assets(first: 1, where: {attribute: "asset_tag", eq: "PHN-001"}) { edges { node { history(first: 20) { edges { node { actor changes { field after } } } } } } } }`, nil)
	var allocated bool
	for _, h := range nodes(get(d, "assets", "edges", 0, "node", "history")) {
		for _, c := range h["changes"].([]any) {
			if get(c, "field") == "catalog_task" && get(c, "after") == pt["number"] {
				allocated = true
				assert.Equal(t, "mia", strings.Fields(h["actor"].(string))[0], "the allocation is audited under whoever set it off")
			}
		}
	}
	assert.True(t, allocated, "the asset's audit trail holds its allocation to the task")
}
