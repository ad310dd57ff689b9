package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestAssetAPI: asset models and assets over GraphQL on both backends:
// the lifecycle with every refused action and guard, bad input named,
// stock levels against reorder thresholds, expiring warranties, the CI an
// asset realises (by serial, then by link), assignment to people, the
// audit trail, and two people assigning one asset at once.
func TestAssetAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			testAssets(t, srv.URL)
		})
	}
}

const assetFields = `id assetTag state stateCode allowedActions model { name } assignedTo { userName } version`

func assetDo(t *testing.T, url, mutation, input string, in map[string]any) gqlResponse {
	t.Helper()
	return gql(t, url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { asset { %s } } }`, input, mutation, assetFields), map[string]any{"in": in})
}

func assetOK(t *testing.T, url, mutation, input string, in map[string]any) map[string]any {
	t.Helper()
	r := assetDo(t, url, mutation, input, in)
	require.Empty(t, r.Errors, r.raw)
	return get(r.Data, mutation, "asset").(map[string]any)
}

func testAssets(t *testing.T, url string) {
	mq := `mutation($in: CreateAssetModelInput!) { createAssetModel(input: $in) { assetModel { id name reorderThreshold inStock } } }`
	laptop := get(ok(t, url, mq, map[string]any{"in": map[string]any{"name": "ThinkPad T14", "manufacturer": "Lenovo", "category": "laptop", "reorderThreshold": 2}}), "createAssetModel", "assetModel").(map[string]any)
	phone := get(ok(t, url, mq, map[string]any{"in": map[string]any{"name": "Pixel 8", "manufacturer": "Google", "category": "phone"}}), "createAssetModel", "assetModel").(map[string]any)
	refusedWith(t, gql(t, url, mq, map[string]any{"in": map[string]any{"name": "Bad", "reorderThreshold": -1}}), "INVALID", "input.reorderThreshold")
	people := upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person",
		map[string]any{"user_name": "ana", "name": "Ana New-Hire"}, map[string]any{"user_name": "ben", "name": "Ben Builder"})
	ana, ben := people[0], people[1]

	now := time.Now().UTC().Truncate(time.Second)
	day := func(n int) string { return now.Add(time.Duration(n) * 24 * time.Hour).Format(time.RFC3339) }
	create := func(in map[string]any) gqlResponse {
		return assetDo(t, url, "createAsset", "CreateAssetInput", in)
	}
	// Bad input is refused, naming the field; nothing is written.
	refusedWith(t, create(map[string]any{"modelId": ana, "assetTag": "X"}), "INVALID", "input.modelId")
	refusedWith(t, create(map[string]any{"modelId": graph.RecordGlobalID("asset_model", store.ID(uuid.NewString())), "assetTag": "X"}), "NOT_FOUND", "input.modelId")
	refusedWith(t, create(map[string]any{"modelId": laptop["id"], "assetTag": "X", "purchaseDate": day(0), "warrantyEnd": day(-1)}), "INVALID", "input.warrantyEnd")
	refusedWith(t, create(map[string]any{"modelId": laptop["id"], "assetTag": "X", "cost": -5.0}), "INVALID", "input.cost")
	require.Equal(t, 0.0, get(ok(t, url, `{ assets { totalCount } }`, nil), "assets", "totalCount"))

	r := create(map[string]any{"modelId": laptop["id"], "assetTag": "LAP-001", "serialNumber": "PF-1A2B3C", "received": true, "cost": 1249.5, "currency": "EUR",
		"purchaseDate": day(-1075), "warrantyEnd": day(20), "location": "FRA1 store room"})
	require.Empty(t, r.Errors, r.raw)
	a1 := get(r.Data, "createAsset", "asset").(map[string]any)
	assert.Equal(t, "IN_STOCK", a1["state"])
	assert.Equal(t, 6.0, a1["stateCode"])
	assert.Equal(t, "ThinkPad T14", get(a1, "model", "name"))
	assert.Equal(t, []any{"ASSIGN", "REPAIR", "RETIRE"}, a1["allowedActions"])
	refusedWith(t, create(map[string]any{"modelId": laptop["id"], "assetTag": "LAP-001"}), "CONFLICT", "")
	a2 := assetOK(t, url, "createAsset", "CreateAssetInput", map[string]any{"modelId": laptop["id"], "assetTag": "LAP-002"})
	assert.Equal(t, "ORDERED", a2["state"])
	assert.Equal(t, 2.0, a2["stateCode"])
	assetOK(t, url, "createAsset", "CreateAssetInput", map[string]any{"modelId": laptop["id"], "assetTag": "LAP-003", "received": true, "warrantyEnd": day(400)})
	assetOK(t, url, "createAsset", "CreateAssetInput", map[string]any{"modelId": phone["id"], "assetTag": "PHN-001", "received": true, "warrantyEnd": day(-3)})

	// Stock against reorder thresholds.
	sq := `query($low: Boolean) { stockLevels(lowOnly: $low) { model { name } inStock reorderThreshold low } }`
	assert.Equal(t, []any{
		map[string]any{"model": map[string]any{"name": "ThinkPad T14"}, "inStock": 2.0, "reorderThreshold": 2.0, "low": true},
		map[string]any{"model": map[string]any{"name": "Pixel 8"}, "inStock": 1.0, "reorderThreshold": 0.0, "low": false},
	}, get(ok(t, url, sq, nil), "stockLevels"))
	refusedWith(t, assetDo(t, url, "assignAsset", "AssignAssetInput", map[string]any{"id": a2["id"], "assignedToId": ana}), "CONFLICT", "input.id")
	assert.Equal(t, "IN_STOCK", assetOK(t, url, "receiveAsset", "AssetActionInput", map[string]any{"id": a2["id"]})["state"])
	assert.Equal(t, []any{}, get(ok(t, url, sq, map[string]any{"low": true}), "stockLevels"), "three laptops in stock: above the threshold")

	// Warranties ending within 30 days, still owned: the first laptop only
	// (the phone's has ended, the third laptop's is far).
	d := ok(t, url, `{ assets(warrantyExpiringWithinDays: 30) { totalCount edges { node { assetTag } } } }`, nil)
	assert.Equal(t, 1.0, get(d, "assets", "totalCount"))
	assert.Equal(t, "LAP-001", get(d, "assets", "edges", 0, "node", "assetTag"))
	refusedWith(t, gql(t, url, `{ assets(warrantyExpiringWithinDays: -1) { totalCount } }`, nil), "INVALID", "warrantyExpiringWithinDays")
	d = ok(t, url, `{ assets(where: {attribute: "location", eq: "FRA1 store room"}) { totalCount } }`, nil)
	assert.Equal(t, 1.0, get(d, "assets", "totalCount"))

	// Assigned to a person while in use.
	got := assetOK(t, url, "assignAsset", "AssignAssetInput", map[string]any{"id": a1["id"], "assignedToId": ana})
	assert.Equal(t, "IN_USE", got["state"])
	assert.Equal(t, "ana", get(got, "assignedTo", "userName"))
	r = assetDo(t, url, "assignAsset", "AssignAssetInput", map[string]any{"id": a1["id"], "assignedToId": ben})
	refusedWith(t, r, "CONFLICT", "input.id")
	assert.Equal(t, []any{"repair", "unassign"}, r.Errors[0].Extensions["allowedActions"])
	refusedWith(t, assetDo(t, url, "assignAsset", "AssignAssetInput", map[string]any{"id": a2["id"], "assignedToId": graph.PersonGlobalID(store.ID(uuid.NewString()))}), "NOT_FOUND", "input.assignedToId")
	pq := `query($id: ID!) { person(id: $id) { assets { totalCount edges { node { assetTag } } } } }`
	assert.Equal(t, 1.0, get(ok(t, url, pq, map[string]any{"id": ana}), "person", "assets", "totalCount"))

	// The CI it realises: the one discovery reports with its serial
	// number, until a link says otherwise.
	cis := upsertIDs(t, url, item("Server", map[string]any{"name": "lap-001-as-ci", "serial_number": "PF-1A2B3C"}), item("Server", map[string]any{"name": "other-ci", "serial_number": "OTHER9"}))
	ciq := `query($id: ID!) { asset(id: $id) { ci { name } } }`
	assert.Equal(t, "lap-001-as-ci", get(ok(t, url, ciq, map[string]any{"id": a1["id"]}), "asset", "ci", "name"))
	lq := `mutation($in: SetAssetCIInput!) { setAssetCI(input: $in) { asset { ci { name } } } }`
	assert.Equal(t, "other-ci", get(ok(t, url, lq, map[string]any{"in": map[string]any{"assetId": a1["id"], "ciId": cis[1]}}), "setAssetCI", "asset", "ci", "name"))
	assert.Equal(t, "lap-001-as-ci", get(ok(t, url, lq, map[string]any{"in": map[string]any{"assetId": a1["id"], "ciId": nil}}), "setAssetCI", "asset", "ci", "name"))
	refusedWith(t, gql(t, url, lq, map[string]any{"in": map[string]any{"assetId": a1["id"], "ciId": ana}}), "INVALID", "input.ciId")

	// Repair ends the assignment; then retired and disposed of, with a
	// reason, and no longer changed.
	got = assetOK(t, url, "repairAsset", "AssetNotesInput", map[string]any{"id": a1["id"], "notes": "keyboard"})
	assert.Equal(t, "IN_MAINTENANCE", got["state"])
	assert.Nil(t, got["assignedTo"])
	assert.Equal(t, 0.0, get(ok(t, url, pq, map[string]any{"id": ana}), "person", "assets", "totalCount"))
	assert.Equal(t, "IN_STOCK", assetOK(t, url, "returnAssetToStock", "AssetActionInput", map[string]any{"id": a1["id"]})["state"])
	assert.Equal(t, "RETIRED", assetOK(t, url, "retireAsset", "AssetNotesInput", map[string]any{"id": a1["id"], "notes": "end of life"})["state"])
	refusedWith(t, assetDo(t, url, "disposeAsset", "DisposeAssetInput", map[string]any{"id": a1["id"], "reason": ""}), "INVALID", "input.reason")
	got = assetOK(t, url, "disposeAsset", "DisposeAssetInput", map[string]any{"id": a1["id"], "reason": "recycled by the vendor"})
	assert.Equal(t, "DISPOSED", got["state"])
	assert.Equal(t, []any{}, got["allowedActions"])
	refusedWith(t, assetDo(t, url, "updateAsset", "UpdateAssetInput", map[string]any{"id": a1["id"], "location": "bin"}), "CONFLICT", "")
	d = ok(t, url, `query($id: ID!) { asset(id: $id) { history { totalCount } } }`, map[string]any{"id": a1["id"]})
	assert.GreaterOrEqual(t, get(d, "asset", "history", "totalCount"), 8.0, "created, linked to its model, assigned (and linked), repaired, returned, retired, disposed")

	// Two people handed the same laptop at once: one gets it.
	for round := range 4 {
		a := assetOK(t, url, "createAsset", "CreateAssetInput", map[string]any{"modelId": laptop["id"], "assetTag": fmt.Sprintf("RACE-%d", round), "received": true})
		var wg sync.WaitGroup
		results := make([]gqlResponse, 2)
		for i, who := range []string{ana, ben} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = assetDo(t, url, "assignAsset", "AssignAssetInput", map[string]any{"id": a["id"], "assignedToId": who})
			}()
		}
		wg.Wait()
		winners := map[string]bool{}
		for i, res := range results {
			if len(res.Errors) == 0 {
				winners[[]string{"ana", "ben"}[i]] = true
			} else {
				assert.Equal(t, "CONFLICT", res.Errors[0].Extensions["code"], res.raw)
			}
		}
		require.Len(t, winners, 1, "round %d: one assignment", round)
		d = ok(t, url, `query($id: ID!) { asset(id: $id) { state assignedTo { userName } version } }`, map[string]any{"id": a["id"]})
		assert.True(t, winners[get(d, "asset", "assignedTo", "userName").(string)], "round %d: the winner holds it", round)
		assert.Equal(t, 2.0, get(d, "asset", "version"), "round %d: one write of the asset", round)
	}
}
