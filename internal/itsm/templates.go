package itsm

import (
	"context"
	"fmt"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Change templates: the pre-approved procedures standard changes come
// from (the standard change catalog). A change manager records a template
// once the CAB has approved the procedure; a change opened from it is a
// standard change, takes the template's description, plans, category and
// risk where the client gives none, and is scheduled without approval. A
// standard change comes from a template or not at all: that is what makes
// it pre-approved.

// KindChangeTemplate is the model kind of change templates (class
// ChangeTemplate); RelFromTemplate links a change to its template.
const (
	KindChangeTemplate = "change_template"
	RelFromTemplate    = "FROM_TEMPLATE"
)

// templateEditable are the attributes of a change template a change
// manager writes.
var templateEditable = []string{"name", "short_description", "description", "category", "implementation_plan", "backout_plan", "test_plan", "risk", "active"}

// templateCopied are the attributes a change takes from its template when
// the client gives none.
var templateCopied = []string{"short_description", "description", "category", "implementation_plan", "backout_plan", "test_plan", "risk"}

var templateKind = configKind{kind: KindChangeTemplate, what: "change template", editable: templateEditable}

// CreateTemplate records a change template. The caller needs create
// change_template (change managers and admins).
func (s *Service) CreateTemplate(ctx context.Context, actor store.Actor, attrs map[string]any) (store.Node, error) {
	return s.writeConfig(ctx, actor, templateKind, "", 0, attrs, auth.Create)
}

// UpdateTemplate changes a change template (retire it with active
// false). The caller needs update change_template.
func (s *Service) UpdateTemplate(ctx context.Context, actor store.Actor, id store.ID, expected int64, attrs map[string]any) (store.Node, error) {
	return s.writeConfig(ctx, actor, templateKind, id, expected, attrs, auth.Update)
}

// TemplateByName returns the change template named name (ignoring case).
func (s *Service) TemplateByName(ctx context.Context, name string) (store.Node, bool, error) {
	return s.nodeNamed(ctx, KindChangeTemplate, name)
}

// fromTemplate completes the attributes of a change opened from template
// id, and returns the template's name: a standard change with, for what the
// client left out, its description, plans, category and risk. A template
// that does not exist is not-found naming templateId, a retired one or a
// type other than standard INVALID.
func (s *Service) fromTemplate(ctx context.Context, id store.ID, attrs map[string]any) (map[string]any, string, error) {
	found, err := s.cmdb.Nodes(ctx, KindChangeTemplate, []store.ID{id})
	if err != nil {
		return nil, "", err
	}
	t, ok := found[id]
	if !ok {
		return nil, "", store.NoNode("templateId", store.ObjectKind(KindChangeTemplate))
	}
	if t.Attributes["active"] == false {
		return nil, "", store.Invalid("templateId", "template %v is retired", t.Attributes["name"])
	}
	if typ, given := attrs["type"]; given && typ != nil && typ != ChangeStandard {
		return nil, "", store.Invalid("attributes.type", "a change from a template is standard, not %v", typ)
	}
	out := make(map[string]any, len(attrs)+len(templateCopied)+2)
	for k, v := range attrs {
		out[k] = v
	}
	for _, k := range templateCopied {
		if v, given := out[k]; (!given || v == nil || v == "") && t.Attributes[k] != nil {
			out[k] = t.Attributes[k]
		}
	}
	out["type"] = ChangeStandard
	name, _ := t.Attributes["name"].(string)
	return out, name, nil
}

// standardNeedsTemplate refuses a standard change without a template.
func standardNeedsTemplate(a store.Attributes) error {
	if a["type"] == ChangeStandard {
		if name, _ := a["template"].(string); name == "" {
			return store.Invalid("attributes.type", "a standard change comes from a pre-approved template: open it with templateId (changeTemplates lists them)")
		}
	}
	return nil
}

// ChangesFromTemplate returns a page of the changes opened from template
// id, newest first.
func (s *Service) ChangesFromTemplate(ctx context.Context, id store.ID, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindChange, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFrom(ctx, id, RelFromTemplate, KindChange, nil, p)
}

// linkTemplate links change to the template it was opened from.
func (s *Service) linkTemplate(ctx context.Context, actor store.Actor, change, template store.ID) error {
	_, err := s.cmdb.SetLinks(ctx, actor, change, RelFromTemplate, []store.ID{template}, KindChangeTemplate, "templateId", false)
	if err != nil {
		return fmt.Errorf("itsm: linking the change to its template: %w", err)
	}
	return nil
}
