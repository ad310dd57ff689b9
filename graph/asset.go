package graph

import (
	"context"
	"strings"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Assets and asset models: the views of nodes of kinds asset and
// asset_model and the parsing of their mutations' inputs. Resolvers in
// asset.resolvers.go call these.

var assetStates = itsm.AssetWorkflow()

// assetInputFields are the attributes whose input field is not their
// camelCase name.
var assetInputFields = map[string]string{"disposal_reason": "reason"}

func assetView(n store.Node) *model.Asset {
	a := n.Attributes
	v := &model.Asset{
		ID: globalID(typeAsset, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		SerialNumber: strAttr(a, "serial_number"), Currency: strAttr(a, "currency"), Vendor: strAttr(a, "vendor"),
		Location: strAttr(a, "location"), Notes: strAttr(a, "notes"), DisposalReason: strAttr(a, "disposal_reason"),
		PurchaseDate: timeAttr(a, "purchase_date"), WarrantyEnd: timeAttr(a, "warranty_end"), ReceivedAt: timeAttr(a, "received_at"),
		AssignedAt: timeAttr(a, "assigned_at"), RetiredAt: timeAttr(a, "retired_at"), DisposedAt: timeAttr(a, "disposed_at"),
	}
	v.AssetTag, _ = a["asset_tag"].(string)
	if c, ok := a["cost"].(float64); ok {
		v.Cost = &c
	}
	state := strOr(a, "state", assetStates.Initial)
	v.State = model.AssetState(strings.ToUpper(state))
	if s, ok := assetStates.State(state); ok {
		v.StateCode = s.Code
	}
	return v
}

func assetConnection(page store.Page[store.Node]) *model.AssetConnection {
	return &model.AssetConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.AssetEdge {
			return model.AssetEdge{Cursor: c, Node: assetView(n)}
		})}
}

func assetModelView(n store.Node) *model.AssetModel {
	a := n.Attributes
	v := &model.AssetModel{
		ID: globalID(typeAssetModel, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Manufacturer: strAttr(a, "manufacturer"), Category: strAttr(a, "category"), Description: strAttr(a, "description"),
		ReorderThreshold: intAttr(a, "reorder_threshold", 0), Active: a["active"] != false,
	}
	v.Name, _ = a["name"].(string)
	return v
}

func assetModelConnection(page store.Page[store.Node]) *model.AssetModelConnection {
	return &model.AssetModelConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.AssetModelEdge {
			return model.AssetModelEdge{Cursor: c, Node: assetModelView(n)}
		})}
}

func createAssetIn(in model.CreateAssetInput) (itsm.AssetInput, error) {
	a := map[string]any{"asset_tag": in.AssetTag}
	for k, v := range map[string]any{"serial_number": derefAnyPtr(in.SerialNumber), "currency": derefAnyPtr(in.Currency),
		"purchase_date": derefAnyPtr(in.PurchaseDate), "warranty_end": derefAnyPtr(in.WarrantyEnd), "vendor": derefAnyPtr(in.Vendor),
		"location": derefAnyPtr(in.Location), "notes": derefAnyPtr(in.Notes)} {
		if v != nil {
			a[k] = v
		}
	}
	if in.Cost != nil {
		a["cost"] = *in.Cost
	}
	m, err := idOf("input.modelId", in.ModelID, typeAssetModel)
	return itsm.AssetInput{Attributes: a, Model: m}, err
}

func updateAssetIn(in model.UpdateAssetInput) (itsm.AssetInput, error) {
	a := map[string]any{}
	setOmittable(a, "asset_tag", in.AssetTag)
	setOmittable(a, "serial_number", in.SerialNumber)
	setOmittable(a, "cost", in.Cost)
	setOmittable(a, "currency", in.Currency)
	setOmittable(a, "purchase_date", in.PurchaseDate)
	setOmittable(a, "warranty_end", in.WarrantyEnd)
	setOmittable(a, "vendor", in.Vendor)
	setOmittable(a, "location", in.Location)
	setOmittable(a, "notes", in.Notes)
	out := itsm.AssetInput{Attributes: a}
	if in.ModelID != nil {
		var err error
		if out.Model, err = idOf("input.modelId", *in.ModelID, typeAssetModel); err != nil {
			return out, err
		}
	}
	return out, nil
}

func createAssetModelIn(in model.CreateAssetModelInput) map[string]any {
	a := map[string]any{"name": in.Name}
	for k, v := range map[string]any{"manufacturer": derefAnyPtr(in.Manufacturer), "category": derefAnyPtr(in.Category),
		"description": derefAnyPtr(in.Description), "reorder_threshold": derefAnyPtr(in.ReorderThreshold)} {
		if v != nil {
			a[k] = v
		}
	}
	return a
}

func updateAssetModelIn(in model.UpdateAssetModelInput) map[string]any {
	a := map[string]any{}
	setOmittable(a, "name", in.Name)
	setOmittable(a, "manufacturer", in.Manufacturer)
	setOmittable(a, "category", in.Category)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "reorder_threshold", in.ReorderThreshold)
	setOmittable(a, "active", in.Active)
	return a
}

// actOnAsset runs one asset action with its inputs (person: the
// assignee's store ID, for assign).
func (r *mutationResolver) actOnAsset(ctx context.Context, gid string, expected *int, action string, input map[string]any, person store.ID) (*model.AssetPayload, error) {
	id, err := idOf("input.id", gid, typeAsset)
	if err != nil {
		return nil, err
	}
	exp, err := expectedIn(expected)
	if err != nil {
		return nil, err
	}
	n, err := r.ITSM.ActOnAsset(ctx, writeAs(ctx, nil), id, exp, action, input, person)
	if err != nil {
		return nil, recordErr(err, gid, "asset", assetInputFields)
	}
	return &model.AssetPayload{Asset: assetView(n)}, nil
}

// notesIn is the input of an action that takes notes.
func notesIn(notes *string) map[string]any {
	if notes == nil {
		return nil
	}
	return map[string]any{"notes": *notes}
}
