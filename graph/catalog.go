package graph

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// The service catalog: the view of a node of kind catalog_item and the
// parsing of its mutations' inputs. Resolvers in catalog.resolvers.go
// call these.

func catalogItemView(n store.Node) *model.CatalogItem {
	a := n.Attributes
	v := &model.CatalogItem{
		ID: globalID(typeCatalogItem, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		ShortDescription: strAttr(a, "short_description"), Description: strAttr(a, "description"), Category: strAttr(a, "category"),
		Approval: model.CatalogApproval(strings.ToUpper(strOr(a, "approval", itsm.ApprovalNone))), Active: a["active"] != false,
		Variables: []model.CatalogVariable{},
	}
	v.Name, _ = a["name"].(string)
	for _, q := range itsm.Variables(n) {
		out := model.CatalogVariable{Name: q.Name, Type: model.VariableType(strings.ToUpper(q.Type)), Required: q.Required, Choices: q.Choices}
		if q.Label != "" {
			out.Label = &q.Label
		}
		if q.MaxLength > 0 {
			out.MaxLength = &q.MaxLength
		}
		if q.Min != nil {
			m := int(*q.Min)
			out.Min = &m
		}
		if q.Max != nil {
			m := int(*q.Max)
			out.Max = &m
		}
		v.Variables = append(v.Variables, out)
	}
	return v
}

func catalogItemConnection(page store.Page[store.Node]) *model.CatalogItemConnection {
	return &model.CatalogItemConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.CatalogItemEdge {
			return model.CatalogItemEdge{Cursor: c, Node: catalogItemView(n)}
		})}
}

// catalogInputFields are the attributes whose input field is not their
// camelCase name.
var catalogInputFields = map[string]string{}

// variablesIn turns the questions of an input into the stored attribute.
func variablesIn(in []model.CatalogVariableInput) string {
	vs := make([]itsm.Variable, len(in))
	for i, q := range in {
		v := itsm.Variable{Name: q.Name, Label: deref(q.Label, ""), Type: strings.ToLower(string(q.Type)), Required: deref(q.Required, false),
			Choices: q.Choices, MaxLength: deref(q.MaxLength, 0)}
		if q.Min != nil {
			m := int64(*q.Min)
			v.Min = &m
		}
		if q.Max != nil {
			m := int64(*q.Max)
			v.Max = &m
		}
		vs[i] = v
	}
	return itsm.EncodeVariables(vs)
}

// linkIDIn reads an optional link's ID of type typ (nil: none).
func linkIDIn(field string, gid *string, typ string) (*store.ID, error) {
	if gid == nil {
		return nil, nil
	}
	id, err := idOf(field, *gid, typ)
	return &id, err
}

// omittableLinkIn reads an omittable link's ID: nil when left out, a
// pointer to "" when null.
func omittableLinkIn(field string, v graphql.Omittable[*string], typ string) (*store.ID, error) {
	if !v.IsSet() {
		return nil, nil
	}
	if v.Value() == nil {
		empty := store.ID("")
		return &empty, nil
	}
	return linkIDIn(field, v.Value(), typ)
}

func createCatalogItemIn(in model.CreateCatalogItemInput) (map[string]any, itsm.CatalogLinks, error) {
	a := map[string]any{"name": in.Name}
	for k, v := range map[string]any{"short_description": derefAnyPtr(in.ShortDescription), "description": derefAnyPtr(in.Description),
		"category": derefAnyPtr(in.Category), "approval": enumIn(in.Approval)} {
		if v != nil {
			a[k] = v
		}
	}
	if len(in.Variables) > 0 {
		a["variables"] = variablesIn(in.Variables)
	}
	var l itsm.CatalogLinks
	var err error
	if l.ApprovalGroup, err = linkIDIn("input.approvalGroupId", in.ApprovalGroupID, typeGroup); err != nil {
		return nil, l, err
	}
	if l.FulfillmentGroup, err = linkIDIn("input.fulfillmentGroupId", in.FulfillmentGroupID, typeGroup); err != nil {
		return nil, l, err
	}
	l.AssetModel, err = linkIDIn("input.assetModelId", in.AssetModelID, typeAssetModel)
	return a, l, err
}

func updateCatalogItemIn(in model.UpdateCatalogItemInput) (map[string]any, itsm.CatalogLinks, error) {
	a := map[string]any{}
	setOmittable(a, "name", in.Name)
	setOmittable(a, "short_description", in.ShortDescription)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "category", in.Category)
	setOmittable(a, "active", in.Active)
	setEnum(a, "approval", in.Approval)
	if in.Variables.IsSet() {
		a["variables"] = nil
		if vs := variablesIn(in.Variables.Value()); vs != "" {
			a["variables"] = vs
		}
	}
	var l itsm.CatalogLinks
	var err error
	if l.ApprovalGroup, err = omittableLinkIn("input.approvalGroupId", in.ApprovalGroupID, typeGroup); err != nil {
		return nil, l, err
	}
	if l.FulfillmentGroup, err = omittableLinkIn("input.fulfillmentGroupId", in.FulfillmentGroupID, typeGroup); err != nil {
		return nil, l, err
	}
	l.AssetModel, err = omittableLinkIn("input.assetModelId", in.AssetModelID, typeAssetModel)
	return a, l, err
}

// writeCatalogItem writes a catalog item (id "" creates it).
func (r *mutationResolver) writeCatalogItem(ctx context.Context, gid string, id store.ID, expected int64, attrs map[string]any, l itsm.CatalogLinks) (*model.CatalogItemPayload, error) {
	n, err := r.ITSM.WriteCatalogItem(ctx, writeAs(ctx, nil), id, expected, attrs, l)
	if err != nil {
		return nil, recordErr(err, gid, "catalog item", catalogInputFields)
	}
	return &model.CatalogItemPayload{CatalogItem: catalogItemView(n)}, nil
}
