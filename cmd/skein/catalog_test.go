package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogAPI: the service catalog over GraphQL on both backends: an
// admin adds items with their questions, approval rule, groups and asset
// model; bad questions and links are refused naming the field, nothing
// written; updates replace the questions; the audit trail is read back.
func TestCatalogAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			groups := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group", map[string]any{"name": "IT Hardware"}, map[string]any{"name": "Line Managers"})
			hw, mgrs := groups[0], groups[1]
			model := get(ok(t, url, `mutation { createAssetModel(input: {name: "Latitude 7450", reorderThreshold: 2}) { assetModel { id } } }`, nil), "createAssetModel", "assetModel", "id")
			cq := `mutation($in: CreateCatalogItemInput!) { createCatalogItem(input: $in) { catalogItem { id name approval category active
			  approvalGroup { name } fulfillmentGroup { name } assetModel { name } variables { name label type required choices min max } } } }`
			laptop := map[string]any{"name": "Standard laptop", "category": "Hardware", "approval": "GROUP", "approvalGroupId": mgrs,
				"fulfillmentGroupId": hw, "assetModelId": model, "variables": []any{
					map[string]any{"name": "screen", "label": "Screen size", "type": "CHOICE", "choices": []any{"14-inch", "16-inch"}, "required": true},
					map[string]any{"name": "needed_by", "type": "DATE"},
					map[string]any{"name": "monitors", "type": "INT", "min": 0, "max": 2},
				}}
			bad := []struct {
				change func(map[string]any)
				field  string
			}{
				{func(in map[string]any) { delete(in, "approvalGroupId") }, "input.approvalGroupId"},
				{func(in map[string]any) { in["fulfillmentGroupId"] = model }, "input.fulfillmentGroupId"},
				{func(in map[string]any) {
					in["variables"] = []any{map[string]any{"name": "screen", "type": "CHOICE"}}
				}, "input.variables[0].choices"},
				{func(in map[string]any) {
					in["variables"] = []any{map[string]any{"name": "x", "type": "INT", "min": 3, "max": 1}}
				}, "input.variables[0].max"},
				{func(in map[string]any) { in["name"] = "" }, "input.name"},
			}
			for _, b := range bad {
				in := map[string]any{}
				for k, v := range laptop {
					in[k] = v
				}
				b.change(in)
				refusedWith(t, gql(t, url, cq, map[string]any{"in": in}), "INVALID", b.field)
			}
			require.Equal(t, 0.0, get(ok(t, url, `{ catalogItems { totalCount } }`, nil), "catalogItems", "totalCount"), "nothing written")

			item := get(ok(t, url, cq, map[string]any{"in": laptop}), "createCatalogItem", "catalogItem").(map[string]any)
			assert.Equal(t, "GROUP", item["approval"])
			assert.Equal(t, "Line Managers", get(item, "approvalGroup", "name"))
			assert.Equal(t, "IT Hardware", get(item, "fulfillmentGroup", "name"))
			assert.Equal(t, "Latitude 7450", get(item, "assetModel", "name"))
			assert.Equal(t, []any{
				map[string]any{"name": "screen", "label": "Screen size", "type": "CHOICE", "required": true, "choices": []any{"14-inch", "16-inch"}, "min": nil, "max": nil},
				map[string]any{"name": "needed_by", "label": nil, "type": "DATE", "required": false, "choices": nil, "min": nil, "max": nil},
				map[string]any{"name": "monitors", "label": nil, "type": "INT", "required": false, "choices": nil, "min": 0.0, "max": 2.0},
			}, item["variables"])
			refusedWith(t, gql(t, url, cq, map[string]any{"in": map[string]any{"name": "standard LAPTOP"}}), "CONFLICT", "")
			ok(t, url, cq, map[string]any{"in": map[string]any{"name": "VPN access", "category": "Access"}})

			uq := `mutation($in: UpdateCatalogItemInput!) { updateCatalogItem(input: $in) { catalogItem { approval approvalGroup { name } variables { name } active version } } }`
			refusedWith(t, gql(t, url, uq, map[string]any{"in": map[string]any{"id": item["id"], "approvalGroupId": nil}}), "INVALID", "input.approvalGroupId")
			d := ok(t, url, uq, map[string]any{"in": map[string]any{"id": item["id"], "approval": "MANAGER", "approvalGroupId": nil,
				"variables": []any{map[string]any{"name": "screen", "type": "CHOICE", "choices": []any{"14-inch"}}}}})
			got := get(d, "updateCatalogItem", "catalogItem").(map[string]any)
			assert.Equal(t, "MANAGER", got["approval"])
			assert.Nil(t, got["approvalGroup"])
			assert.Equal(t, []any{map[string]any{"name": "screen"}}, got["variables"], "the questions replaced")
			d = ok(t, url, uq, map[string]any{"in": map[string]any{"id": item["id"], "active": false, "expectedVersion": got["version"]}})
			assert.Equal(t, false, get(d, "updateCatalogItem", "catalogItem", "active"))

			// A knowledge article helps with the laptop.
			kq := `mutation($in: CreateKnowledgeArticleInput!) { createKnowledgeArticle(input: $in) { knowledgeArticle { number catalogItems { name } } } }`
			refusedWith(t, gql(t, url, kq, map[string]any{"in": map[string]any{"title": "x", "catalogItemIds": []any{hw}}}), "INVALID", "input.catalogItemIds[0]")
			d = ok(t, url, kq, map[string]any{"in": map[string]any{"title": "Your new laptop: first steps", "body": "Sign in, enrol, encrypt.", "catalogItemIds": []any{item["id"]}}})
			assert.Equal(t, []any{map[string]any{"name": "Standard laptop"}}, get(d, "createKnowledgeArticle", "knowledgeArticle", "catalogItems"))
			number := get(d, "createKnowledgeArticle", "knowledgeArticle", "number")
			d = ok(t, url, `query($id: ID!) { catalogItem(id: $id) { articles { totalCount edges { node { number } } } } }`, map[string]any{"id": item["id"]})
			assert.Equal(t, 1.0, get(d, "catalogItem", "articles", "totalCount"))
			assert.Equal(t, number, get(d, "catalogItem", "articles", "edges", 0, "node", "number"))

			d = ok(t, url, `{ catalogItems(where: {attribute: "category", eq: "Hardware"}) { totalCount edges { node { name } } } catalogItem(name: "vpn ACCESS") { name history { totalCount } } }`, nil)
			assert.Equal(t, 1.0, get(d, "catalogItems", "totalCount"))
			assert.Equal(t, "VPN access", get(d, "catalogItem", "name"))
			assert.Equal(t, 1.0, get(d, "catalogItem", "history", "totalCount"), "its creation, audited")
		})
	}
}
