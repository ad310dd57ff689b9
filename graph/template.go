package graph

import (
	"context"
	"strings"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Change templates: the view of a node of kind change_template and the
// parsing of their mutations' inputs. Resolvers in template.resolvers.go
// call these.

func templateView(n store.Node) *model.ChangeTemplate {
	a := n.Attributes
	v := &model.ChangeTemplate{
		ID: globalID(typeTemplate, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		ShortDescription: strAttr(a, "short_description"), Description: strAttr(a, "description"), Category: strAttr(a, "category"),
		ImplementationPlan: strAttr(a, "implementation_plan"), BackoutPlan: strAttr(a, "backout_plan"), TestPlan: strAttr(a, "test_plan"),
		Risk: model.ChangeRisk(strings.ToUpper(strOr(a, "risk", "low"))), Active: a["active"] != false,
	}
	v.Name, _ = a["name"].(string)
	return v
}

func templateConnection(page store.Page[store.Node]) *model.ChangeTemplateConnection {
	return &model.ChangeTemplateConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.ChangeTemplateEdge {
			return model.ChangeTemplateEdge{Cursor: c, Node: templateView(n)}
		})}
}

// templateInputFields are the attributes whose input field is not their
// camelCase name.
var templateInputFields = map[string]string{}

func createTemplateIn(in model.CreateChangeTemplateInput) map[string]any {
	a := map[string]any{"name": in.Name}
	for k, v := range map[string]any{"short_description": derefAnyPtr(in.ShortDescription), "description": derefAnyPtr(in.Description),
		"category": derefAnyPtr(in.Category), "implementation_plan": derefAnyPtr(in.ImplementationPlan), "backout_plan": derefAnyPtr(in.BackoutPlan),
		"test_plan": derefAnyPtr(in.TestPlan), "risk": enumIn(in.Risk)} {
		if v != nil {
			a[k] = v
		}
	}
	return a
}

func updateTemplateIn(in model.UpdateChangeTemplateInput) map[string]any {
	a := map[string]any{}
	setOmittable(a, "name", in.Name)
	setOmittable(a, "short_description", in.ShortDescription)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "category", in.Category)
	setOmittable(a, "implementation_plan", in.ImplementationPlan)
	setOmittable(a, "backout_plan", in.BackoutPlan)
	setOmittable(a, "test_plan", in.TestPlan)
	setOmittable(a, "active", in.Active)
	setEnum(a, "risk", in.Risk)
	return a
}

// templateByIDOrName answers changeTemplate(id|name).
func (r *queryResolver) templateByIDOrName(ctx context.Context, id, name *string) (*model.ChangeTemplate, error) {
	switch {
	case (id == nil) == (name == nil):
		return nil, store.Invalid("id", "give exactly one of id and name")
	case id != nil:
		sid, err := idOf("id", *id, typeTemplate)
		if err != nil {
			return nil, err
		}
		return nodeOf(ctx, r.Resolver, itsm.KindChangeTemplate, sid, templateView)
	}
	n, ok, err := r.ITSM.TemplateByName(ctx, *name)
	if !ok || err != nil {
		return nil, err
	}
	return templateView(n), nil
}
