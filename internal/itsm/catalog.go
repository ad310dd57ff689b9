package itsm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// The service catalog: what people may request (a new laptop, access to
// an application), each item configuration that admins keep: its
// category, the questions a request for it answers (typed variables with
// their validation), who approves it (nobody, the requester's manager, or
// a group), the group that fulfils it, and for hardware the asset model
// it hands out. Requests (REQ, RITM, SCTASK) are built on these.

// KindCatalogItem is the model kind of catalog items (class CatalogItem).
const KindCatalogItem = "catalog_item"

// Links of catalog items.
const (
	// RelApprovalGroup links a catalog item to the group that approves
	// its requests.
	RelApprovalGroup = "APPROVAL_GROUP"
	// RelFulfilledBy links a catalog item to the group that fulfils it.
	RelFulfilledBy = "FULFILLED_BY"
	// RelAllocates links a hardware catalog item to the asset model it
	// hands out.
	RelAllocates = "ALLOCATES"
)

// Approval rules of catalog items.
const (
	ApprovalNone    = "none"
	ApprovalManager = "manager"
	ApprovalGroup   = "group"
)

// Variable is one question of a catalog item.
type Variable struct {
	// Name is the answer's key (an identifier), unique in the item.
	Name string `json:"name"`
	// Label is the question as people read it.
	Label string `json:"label,omitempty"`
	// Type is string, text, int, bool, choice or date.
	Type     string `json:"type"`
	Required bool   `json:"required,omitempty"`
	// Choices are the answers a choice takes.
	Choices []string `json:"choices,omitempty"`
	// MaxLength bounds a string or text answer (0: the type's bound).
	MaxLength int `json:"max_length,omitempty"`
	// Min and Max bound an int answer, when set.
	Min *int64 `json:"min,omitempty"`
	Max *int64 `json:"max,omitempty"`
}

// Variable types, and the longest answers of string and text.
var variableTypes = []string{"string", "text", "int", "bool", "choice", "date"}

const (
	maxStringAnswer = 255
	maxTextAnswer   = 16384
	// MaxVariables bounds the questions of one catalog item.
	MaxVariables = 50
)

// checkVariables checks a catalog item's questions: at most MaxVariables,
// each named by a unique identifier, of a known type, a choice with its
// choices, bounds that make sense. Errors name variables[i].field.
func checkVariables(vs []Variable) error {
	if len(vs) > MaxVariables {
		return store.Invalid("variables", "at most %d questions, got %d", MaxVariables, len(vs))
	}
	seen := map[string]bool{}
	for i, v := range vs {
		at := func(f string) string { return fmt.Sprintf("variables[%d].%s", i, f) }
		switch {
		case !store.ValidIdentifier(v.Name):
			return store.Invalid(at("name"), "%q is not a name: a letter, then up to 63 letters, digits or underscores", v.Name)
		case seen[strings.ToLower(v.Name)]:
			return store.Invalid(at("name"), "%q is asked twice", v.Name)
		case !slices.Contains(variableTypes, v.Type):
			return store.Invalid(at("type"), "%q; allowed: %s", v.Type, strings.Join(variableTypes, ", "))
		case v.Type == "choice" && len(v.Choices) == 0:
			return store.Invalid(at("choices"), "a choice needs its choices")
		case v.Type != "choice" && len(v.Choices) > 0:
			return store.Invalid(at("choices"), "only a choice has choices")
		case v.MaxLength < 0 || v.MaxLength > maxTextAnswer:
			return store.Invalid(at("maxLength"), "%d; allowed: 0 to %d", v.MaxLength, maxTextAnswer)
		case (v.Min != nil || v.Max != nil) && v.Type != "int":
			return store.Invalid(at("min"), "only an int has bounds")
		case v.Min != nil && v.Max != nil && *v.Min > *v.Max:
			return store.Invalid(at("max"), "must not be below min (%d)", *v.Min)
		}
		seen[strings.ToLower(v.Name)] = true
	}
	return nil
}

// CheckAnswers checks the answers to a catalog item's questions, as a
// request for it gives them: every required question answered, every
// answer to a question the item asks, of its type and within its bounds.
// It returns the answers as stored (ints as int64, dates as UTC times);
// errors name variables.<name>.
func CheckAnswers(vs []Variable, answers map[string]any) (map[string]any, error) {
	out := map[string]any{}
	byName := map[string]Variable{}
	for _, v := range vs {
		byName[v.Name] = v
	}
	names := make([]string, 0, len(answers))
	for k := range answers {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v, ok := byName[k]
		if !ok {
			asked := make([]string, len(vs))
			for i, x := range vs {
				asked[i] = x.Name
			}
			return nil, store.Invalid("variables."+k, "is not a question of this item; it asks: %s", strings.Join(asked, ", "))
		}
		a, err := v.answer(answers[k])
		if err != nil {
			return nil, store.Invalid("variables."+k, "%v", err)
		}
		if a != nil {
			out[k] = a
		}
	}
	for _, v := range vs {
		if _, ok := out[v.Name]; v.Required && !ok {
			return nil, store.Invalid("variables."+v.Name, "is required (%s)", v.label())
		}
	}
	return out, nil
}

func (v Variable) label() string {
	if v.Label != "" {
		return v.Label
	}
	return v.Name
}

// answer checks one answer (nil or "" is no answer).
func (v Variable) answer(a any) (any, error) {
	if a == nil || a == "" {
		return nil, nil
	}
	switch v.Type {
	case "string", "text", "choice":
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("must be text, got %T", a)
		}
		limit := maxStringAnswer
		if v.Type == "text" {
			limit = maxTextAnswer
		}
		if v.MaxLength > 0 {
			limit = v.MaxLength
		}
		if len([]rune(s)) > limit {
			return nil, fmt.Errorf("at most %d characters", limit)
		}
		if v.Type == "choice" && !slices.Contains(v.Choices, s) {
			return nil, fmt.Errorf("%q; allowed: %s", s, strings.Join(v.Choices, ", "))
		}
		return s, nil
	case "int":
		var n int64
		switch x := a.(type) {
		case int:
			n = int64(x)
		case int64:
			n = x
		case float64:
			if x != float64(int64(x)) {
				return nil, fmt.Errorf("must be a whole number, got %v", x)
			}
			n = int64(x)
		case json.Number:
			var err error
			if n, err = x.Int64(); err != nil {
				return nil, fmt.Errorf("must be a whole number, got %v", x)
			}
		default:
			return nil, fmt.Errorf("must be a whole number, got %T", a)
		}
		if v.Min != nil && n < *v.Min || v.Max != nil && n > *v.Max {
			return nil, fmt.Errorf("%d is out of range: %s", n, v.bounds())
		}
		return n, nil
	case "bool":
		b, ok := a.(bool)
		if !ok {
			return nil, fmt.Errorf("must be true or false, got %T", a)
		}
		return b, nil
	case "date":
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("must be a date (2026-12-24 or RFC 3339), got %T", a)
		}
		for _, layout := range []string{time.DateOnly, time.RFC3339} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), nil
			}
		}
		return nil, fmt.Errorf("%q is not a date (2026-12-24 or RFC 3339)", s)
	}
	return nil, fmt.Errorf("unknown question type %q", v.Type)
}

func (v Variable) bounds() string {
	switch {
	case v.Min != nil && v.Max != nil:
		return fmt.Sprintf("%d to %d", *v.Min, *v.Max)
	case v.Min != nil:
		return fmt.Sprintf("at least %d", *v.Min)
	}
	return fmt.Sprintf("at most %d", *v.Max)
}

// Variables returns a catalog item's questions.
func Variables(item store.Node) []Variable {
	s, _ := item.Attributes["variables"].(string)
	var out []Variable
	if s != "" {
		_ = json.Unmarshal([]byte(s), &out)
	}
	return out
}

// EncodeVariables turns questions into the stored variables attribute.
func EncodeVariables(vs []Variable) string {
	if len(vs) == 0 {
		return ""
	}
	b, _ := json.Marshal(vs)
	return string(b)
}

// catalogEditable are the attributes of a catalog item an admin writes.
var catalogEditable = []string{"name", "short_description", "description", "category", "approval", "variables", "active"}

// checkCatalogItem checks a catalog item as it will be stored: its
// questions, and a group approval has its group (checked by the caller,
// who knows the links).
func checkCatalogItem(a store.Attributes) error {
	s, _ := a["variables"].(string)
	if s == "" {
		return nil
	}
	var vs []Variable
	if err := json.Unmarshal([]byte(s), &vs); err != nil {
		return store.Invalid("variables", "not a list of questions: %v", err)
	}
	return checkVariables(vs)
}

var catalogKind = configKind{kind: KindCatalogItem, what: "catalog item", editable: catalogEditable, check: checkCatalogItem}

// CatalogLinks are the links of a catalog item a write sets: nil leaves
// one as it is, a pointer to "" removes it.
type CatalogLinks struct {
	ApprovalGroup, FulfillmentGroup, AssetModel *store.ID
}

// WriteCatalogItem creates (id "") or updates a catalog item and its
// links. The caller needs create or update catalog_item (admins). A group
// approval needs its approval group.
func (s *Service) WriteCatalogItem(ctx context.Context, actor store.Actor, id store.ID, expected int64, attrs map[string]any, l CatalogLinks) (store.Node, error) {
	verb := auth.Update
	if id == "" {
		verb = auth.Create
	}
	if err := auth.Check(ctx, KindCatalogItem, verb); err != nil {
		return store.Node{}, err
	}
	for _, one := range []struct {
		id          *store.ID
		kind, field string
	}{{l.ApprovalGroup, cmdb.KindGroup, "approvalGroupId"}, {l.FulfillmentGroup, cmdb.KindGroup, "fulfillmentGroupId"}, {l.AssetModel, KindAssetModel, "assetModelId"}} {
		if one.id == nil || *one.id == "" {
			continue
		}
		found, err := s.cmdb.Nodes(ctx, one.kind, []store.ID{*one.id})
		if err != nil {
			return store.Node{}, err
		}
		if _, ok := found[*one.id]; !ok {
			return store.Node{}, store.NoNode(one.field, store.ObjectKind(one.kind))
		}
	}
	// A group approval needs its group, as the item will be.
	approval, given := attrs["approval"]
	hasGroup := l.ApprovalGroup != nil && *l.ApprovalGroup != ""
	if id != "" && (!given || l.ApprovalGroup == nil) {
		found, err := s.cmdb.Nodes(ctx, KindCatalogItem, []store.ID{id})
		if err != nil {
			return store.Node{}, err
		}
		if !given {
			approval = found[id].Attributes["approval"]
		}
		if l.ApprovalGroup == nil {
			rels, err := s.st.RelationshipsOf(ctx, []store.ID{id}, store.Out, []string{RelApprovalGroup})
			if err != nil {
				return store.Node{}, err
			}
			hasGroup = len(rels[id]) > 0
		}
	}
	if approval == ApprovalGroup && !hasGroup {
		return store.Node{}, store.Invalid("approvalGroupId", "a group approval needs the group that approves")
	}
	n, err := s.writeConfig(ctx, actor, catalogKind, id, expected, attrs, verb)
	if err != nil {
		return n, err
	}
	for _, one := range []struct {
		id        *store.ID
		rel, kind string
		field     string
	}{{l.ApprovalGroup, RelApprovalGroup, cmdb.KindGroup, "approvalGroupId"}, {l.FulfillmentGroup, RelFulfilledBy, cmdb.KindGroup, "fulfillmentGroupId"}, {l.AssetModel, RelAllocates, KindAssetModel, "assetModelId"}} {
		if one.id == nil {
			continue
		}
		var targets []store.ID
		if *one.id != "" {
			targets = []store.ID{*one.id}
		}
		if _, err := s.cmdb.SetLinks(ctx, actor, n.ID, one.rel, targets, one.kind, one.field, false); err != nil {
			return n, err
		}
	}
	return n, nil
}

// CatalogItemByName returns the catalog item named name (ignoring case).
func (s *Service) CatalogItemByName(ctx context.Context, name string) (store.Node, bool, error) {
	return s.nodeNamed(ctx, KindCatalogItem, name)
}
