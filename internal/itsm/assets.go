package itsm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Assets (IT asset management): the physical or licensed things the
// organisation owns, each of a model, with its cost, warranty and
// lifecycle, assigned to a person while in use, and realising a CI (the
// server asset and the server CI). An asset is a record of its own kind,
// identified by its asset tag (the label on it), whose state changes only
// through its workflow's actions; its model is configuration (asset
// models, kept like change templates) with a reorder threshold that stock
// levels are read against.
//
// The CI an asset realises is its REALIZES link when one was recorded,
// else the CI discovery reported with the same serial number: the match is
// made when it is read, so a CI discovered after the asset was received
// is found without a write.

// Kinds and links of asset management.
const (
	// KindAsset is the model kind of assets (class Asset).
	KindAsset = "asset"
	// KindAssetModel is the model kind of asset models (class AssetModel).
	KindAssetModel = "asset_model"
	// RelOfModel links an asset to its model.
	RelOfModel = "OF_MODEL"
	// RelRealizes links an asset to the CI it realises.
	RelRealizes = "REALIZES"
)

// Asset states, as stored.
const (
	AssetOrdered       = "ordered"
	AssetInStock       = "in_stock"
	AssetInUse         = "in_use"
	AssetInMaintenance = "in_maintenance"
	AssetRetired       = "retired"
	AssetDisposed      = "disposed"
)

// Asset actions.
const (
	ActionReceive     = "receive"
	ActionAssign      = "assign"
	ActionUnassign    = "unassign"
	ActionRepair      = "repair"
	ActionRepaired    = "return_to_stock"
	ActionRetireAsset = "retire"
	ActionDispose     = "dispose"
)

// assetEditable are the attributes createAsset and updateAsset take.
var assetEditable = []string{"asset_tag", "serial_number", "cost", "currency", "purchase_date", "warranty_end", "vendor", "location", "notes"}

// AssetWorkflow returns the asset lifecycle: Ordered -> In Stock -> In
// Use <-> In Maintenance -> Retired -> Disposed. States carry
// ServiceNow's install_status codes (on order 2, in stock 6, in use 1, in
// maintenance 3, retired 7); disposed is ServiceNow's retired with the
// disposed substate, 7 too.
func AssetWorkflow() *Workflow {
	person := Guard{Name: "person_given", Field: "assignedToId", Check: func(r Record) error {
		if p, _ := r.Input["assigned_to"].(string); p == "" {
			return fmt.Errorf("an asset is assigned to a person")
		}
		return nil
	}}
	return &Workflow{
		Kind:    KindAsset,
		Initial: AssetOrdered,
		States: []State{
			{AssetOrdered, 2, "On Order"}, {AssetInStock, 6, "In Stock"}, {AssetInUse, 1, "In Use"},
			{AssetInMaintenance, 3, "In Maintenance"}, {AssetRetired, 7, "Retired"}, {AssetDisposed, 7, "Disposed"},
		},
		Transitions: []Transition{
			{Action: ActionReceive, From: []string{AssetOrdered}, To: AssetInStock,
				Set: func(r Record) store.Attributes { return store.Attributes{"received_at": r.At} }},
			{Action: ActionAssign, From: []string{AssetInStock}, To: AssetInUse, Inputs: []string{"assigned_to"}, Guards: []Guard{person},
				// A request's allocation also names its item and task
				// (inputs of the workflow's own, not of clients).
				Set: func(r Record) store.Attributes {
					return store.Attributes{"assigned_to": r.Input["assigned_to"], "assigned_at": r.At,
						"request_item": r.Input["request_item"], "catalog_task": r.Input["catalog_task"]}
				}},
			{Action: ActionUnassign, From: []string{AssetInUse}, To: AssetInStock, Set: unassigned},
			{Action: ActionRepair, From: []string{AssetInStock, AssetInUse}, To: AssetInMaintenance, Inputs: []string{"notes"},
				Set: func(r Record) store.Attributes { return withNotes(r, nil) }},
			{Action: ActionRepaired, From: []string{AssetInMaintenance}, To: AssetInStock, Set: unassigned},
			{Action: ActionRetireAsset, From: []string{AssetInStock, AssetInMaintenance}, To: AssetRetired, Inputs: []string{"notes"},
				Set: func(r Record) store.Attributes { return withNotes(r, store.Attributes{"retired_at": r.At}) }},
			{Action: ActionDispose, From: []string{AssetRetired}, To: AssetDisposed, Inputs: []string{"disposal_reason"},
				Guards: []Guard{required("disposal_reason", "how it was disposed of")},
				Set: func(r Record) store.Attributes {
					return store.Attributes{"disposal_reason": r.Input["disposal_reason"], "disposed_at": r.At}
				}},
		},
	}
}

// unassigned clears an asset's assignment and allocation.
func unassigned(Record) store.Attributes {
	return store.Attributes{"assigned_to": nil, "assigned_at": nil, "request_item": nil, "catalog_task": nil}
}

// withNotes adds the action's notes, when given, to out.
func withNotes(r Record, out store.Attributes) store.Attributes {
	if out == nil {
		out = store.Attributes{}
	}
	if v, ok := r.Input["notes"]; ok {
		out["notes"] = v
	}
	return out
}

// AssetWorkflow returns the workflow assets follow.
func (s *Service) AssetWorkflow() *Workflow { return s.asset }

// AssetInput is an asset as a client writes it: Attributes (nil clears
// one), and when not "", its model.
type AssetInput struct {
	Attributes map[string]any
	Model      store.ID
}

// CreateAsset records an asset in state ordered (or in stock, when
// received is true: an asset already on the shelf), of a model (required
// on creation; a model that does not exist is not-found naming
// modelId). The caller needs create asset.
func (s *Service) CreateAsset(ctx context.Context, actor store.Actor, in AssetInput, received bool) (store.Node, error) {
	if err := auth.Check(ctx, KindAsset, auth.Create); err != nil {
		return store.Node{}, err
	}
	if err := checkEditable(s.asset, assetEditable, in.Attributes); err != nil {
		return store.Node{}, err
	}
	if in.Model == "" {
		return store.Node{}, store.Invalid("modelId", "an asset is of a model (assetModels lists them)")
	}
	model, err := s.assetModel(ctx, in.Model)
	if err != nil {
		return store.Node{}, err
	}
	res, err := s.cmdb.WriteNode(ctx, actor, KindAsset, cmdb.NodeWrite{
		Input: in.Attributes, Verb: auth.Create,
		Decide: func(_ *store.Node, input store.Attributes, at time.Time) (store.Attributes, error) {
			out := make(store.Attributes, len(input)+3)
			for k, v := range input {
				if v != nil {
					out[k] = v
				}
			}
			out["state"], out["model"] = AssetOrdered, model.Attributes["name"]
			if received {
				out["state"], out["received_at"] = AssetInStock, at
			}
			return out, checkAssetDates(out)
		},
	})
	if err != nil {
		return store.Node{}, err
	}
	s.emit(actor, KindAsset, res, true)
	if _, err = s.cmdb.SetLinks(ctx, actor, res.Node.ID, RelOfModel, []store.ID{in.Model}, KindAssetModel, "modelId", false); err != nil {
		return res.Node, err
	}
	return s.stockArrived(ctx, actor, res.Node)
}

// assetModel reads asset model id (not-found naming modelId).
func (s *Service) assetModel(ctx context.Context, id store.ID) (store.Node, error) {
	found, err := s.cmdb.Nodes(ctx, KindAssetModel, []store.ID{id})
	if err != nil {
		return store.Node{}, err
	}
	m, ok := found[id]
	if !ok {
		return store.Node{}, store.NoNode("modelId", store.ObjectKind(KindAssetModel))
	}
	return m, nil
}

// checkAssetDates refuses a warranty that ends before the purchase.
func checkAssetDates(a store.Attributes) error {
	bought, ok1 := a["purchase_date"].(time.Time)
	ends, ok2 := a["warranty_end"].(time.Time)
	if ok1 && ok2 && ends.Before(bought) {
		return store.Invalid("attributes.warranty_end", "must not be before purchase_date (%s)", bought.Format(time.DateOnly))
	}
	return nil
}

// UpdateAsset changes an asset's attributes and model until it is
// disposed of.
func (s *Service) UpdateAsset(ctx context.Context, actor store.Actor, id store.ID, expected int64, in AssetInput) (store.Node, error) {
	if err := auth.Check(ctx, KindAsset, auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := checkEditable(s.asset, assetEditable, in.Attributes); err != nil {
		return store.Node{}, err
	}
	var modelName any
	if in.Model != "" {
		m, err := s.assetModel(ctx, in.Model)
		if err != nil {
			return store.Node{}, err
		}
		modelName = m.Attributes["name"]
	}
	res, err := s.cmdb.WriteNode(ctx, actor, KindAsset, cmdb.NodeWrite{
		ID: id, Input: in.Attributes, Expected: expected, Verb: auth.Update,
		Decide: func(cur *store.Node, input store.Attributes, _ time.Time) (store.Attributes, error) {
			if cur.Attributes["state"] == AssetDisposed {
				return nil, fmt.Errorf("asset %v is disposed of and can no longer be changed: %w", cur.Attributes["asset_tag"], store.ErrConflict)
			}
			out := make(store.Attributes, len(input)+1)
			for k, v := range input {
				out[k] = v
			}
			if modelName != nil {
				out["model"] = modelName
			}
			return out, checkAssetDates(overlay(cur.Attributes, out))
		},
	})
	if err != nil || in.Model == "" {
		return res.Node, err
	}
	_, err = s.cmdb.SetLinks(ctx, actor, id, RelOfModel, []store.ID{in.Model}, KindAssetModel, "modelId", false)
	return res.Node, err
}

// ActOnAsset runs one lifecycle action on an asset (receive, assign,
// unassign, repair, return_to_stock, retire, dispose) with what it takes
// (assign: the person, whom the asset is then ASSIGNED_TO; repair and
// retire: notes; dispose: disposal_reason). Leaving use (unassign, repair
// and return to stock) removes the assignment.
func (s *Service) ActOnAsset(ctx context.Context, actor store.Actor, id store.ID, expected int64, action string, input map[string]any, person store.ID) (store.Node, error) {
	if err := auth.Check(ctx, KindAsset, auth.Update); err != nil {
		return store.Node{}, err
	}
	if err := s.asset.checkInputs(action, input); err != nil {
		return store.Node{}, err
	}
	in := map[string]any{}
	for k, v := range input {
		in[k] = v
	}
	if person != "" {
		found, err := s.cmdb.Nodes(ctx, cmdb.KindPerson, []store.ID{person})
		if err != nil {
			return store.Node{}, err
		}
		p, ok := found[person]
		if !ok {
			return store.Node{}, store.NoNode("assignedToId", store.ObjectKind(cmdb.KindPerson))
		}
		in["assigned_to"] = p.Attributes["user_name"]
	}
	res, err := s.act(ctx, actor, KindAsset, s.asset, id, expected, action, in, Facts{}, nil)
	if err != nil {
		return res.Node, err
	}
	switch res.Node.Attributes["state"] {
	case AssetInUse:
		_, err = s.cmdb.SetLinks(ctx, actor, id, RelAssignedTo, []store.ID{person}, cmdb.KindPerson, "assignedToId", false)
	default:
		_, err = s.cmdb.SetLinks(ctx, actor, id, RelAssignedTo, nil, cmdb.KindPerson, "assignedToId", false)
	}
	if err != nil {
		return res.Node, err
	}
	return s.stockArrived(ctx, actor, res.Node)
}

// AssetByTag returns the asset whose asset tag is tag, if there is one.
func (s *Service) AssetByTag(ctx context.Context, tag string) (store.Node, bool, error) {
	page, err := s.cmdb.ListNodes(ctx, KindAsset, cmdb.Filter{Attributes: map[string]any{"asset_tag": tag}}, store.PageRequest{First: 1})
	if err != nil || len(page.Items) == 0 {
		return store.Node{}, false, err
	}
	return page.Items[0], true, nil
}

// AssetCI returns the CI asset a realises: its REALIZES link, else the CI
// with its serial number (as discovery reported it).
func (s *Service) AssetCI(ctx context.Context, a store.Node) (store.Node, bool, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return store.Node{}, false, err
	}
	rels, err := s.st.RelationshipsOf(ctx, []store.ID{a.ID}, store.Out, []string{RelRealizes})
	if err != nil {
		return store.Node{}, false, err
	}
	if len(rels[a.ID]) > 0 {
		found, err := s.cmdb.Nodes(ctx, cmdb.KindCI, []store.ID{rels[a.ID][0].Target})
		n, ok := found[rels[a.ID][0].Target]
		return n, ok, err
	}
	serial, _ := a.Attributes["serial_number"].(string)
	if serial == "" {
		return store.Node{}, false, nil
	}
	page, err := s.cmdb.ListNodes(ctx, cmdb.KindCI, cmdb.Filter{Attributes: map[string]any{"serial_number": serial}}, store.PageRequest{First: 2})
	if err != nil || len(page.Items) != 1 { // none, or ambiguous: say nothing rather than guess
		return store.Node{}, false, err
	}
	return page.Items[0], true, nil
}

// SetAssetCI records the CI asset realises (one REALIZES link; "" removes
// it, and the serial number decides again). The caller needs update
// asset.
func (s *Service) SetAssetCI(ctx context.Context, actor store.Actor, asset, ci store.ID) error {
	return s.setOneLink(ctx, actor, KindAsset, asset, "assetId", RelRealizes, cmdb.KindCI, ci, "ciId")
}

// assetLive are the states of assets the organisation still has.
var assetLive = []any{AssetOrdered, AssetInStock, AssetInUse, AssetInMaintenance}

// MaxWithinDays bounds WarrantiesExpiring: ten years.
const MaxWithinDays = 3650

// WarrantiesExpiring is the filter of the assets still owned (not
// retired or disposed of) whose warranty ends within days from now
// (already expired ones not included).
func (s *Service) WarrantiesExpiring(days int) (*store.Expr, error) {
	if days < 0 || days > MaxWithinDays {
		return nil, store.Invalid("withinDays", "%d; allowed: 0 to %d", days, MaxWithinDays)
	}
	now := s.now().UTC()
	return &store.Expr{Op: store.OpAnd, Args: []store.Expr{
		{Op: store.OpIn, Field: "state", Values: assetLive},
		{Op: store.OpGte, Field: "warranty_end", Value: now.Format(time.RFC3339Nano)},
		{Op: store.OpLte, Field: "warranty_end", Value: now.Add(time.Duration(days) * 24 * time.Hour).Format(time.RFC3339Nano)},
	}}, nil
}

// StockLevel is how many assets of one model are in stock, against its
// reorder threshold.
type StockLevel struct {
	Model     store.Node
	InStock   int
	Threshold int
}

// Low reports whether the stock is at or below the threshold (a model
// without a threshold is never low).
func (l StockLevel) Low() bool { return l.Threshold > 0 && l.InStock <= l.Threshold }

// StockLevels returns the stock of every active asset model (one count
// per model), lowest against its threshold first, then by name; with
// lowOnly, only those at or below their reorder threshold.
func (s *Service) StockLevels(ctx context.Context, lowOnly bool) ([]StockLevel, error) {
	if err := auth.Check(ctx, KindAsset, auth.Read); err != nil {
		return nil, err
	}
	models, err := s.cmdb.AllNodes(ctx, KindAssetModel, cmdb.Filter{Sort: store.Sort{Field: "name"}})
	if err != nil {
		return nil, err
	}
	var out []StockLevel
	for _, m := range models {
		if m.Attributes["active"] == false {
			continue
		}
		n, err := s.InStock(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		threshold, _ := m.Attributes["reorder_threshold"].(int64)
		l := StockLevel{Model: m, InStock: n, Threshold: int(threshold)}
		if !lowOnly || l.Low() {
			out = append(out, l)
		}
	}
	slices.SortStableFunc(out, func(a, b StockLevel) int {
		if a.Low() != b.Low() {
			if a.Low() {
				return -1
			}
			return 1
		}
		return strings.Compare(fmt.Sprint(a.Model.Attributes["name"]), fmt.Sprint(b.Model.Attributes["name"]))
	})
	return out, nil
}

// modelEditable are the attributes of an asset model.
var modelEditable = []string{"name", "manufacturer", "category", "description", "reorder_threshold", "active"}

var assetModelKind = configKind{kind: KindAssetModel, what: "asset model", editable: modelEditable}

// CreateAssetModel records an asset model (admins and change managers
// keep the catalogue of models).
func (s *Service) CreateAssetModel(ctx context.Context, actor store.Actor, attrs map[string]any) (store.Node, error) {
	return s.writeConfig(ctx, actor, assetModelKind, "", 0, attrs, auth.Create)
}

// UpdateAssetModel changes an asset model (retire it with active false).
func (s *Service) UpdateAssetModel(ctx context.Context, actor store.Actor, id store.ID, expected int64, attrs map[string]any) (store.Node, error) {
	return s.writeConfig(ctx, actor, assetModelKind, id, expected, attrs, auth.Update)
}

// AssetsAssignedTo returns a page of the assets assigned to person,
// newest first.
func (s *Service) AssetsAssignedTo(ctx context.Context, person store.ID, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindAsset, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFrom(ctx, person, RelAssignedTo, KindAsset, nil, p)
}

// AssetsOfModel returns a page of the assets of model, oldest first.
func (s *Service) AssetsOfModel(ctx context.Context, model store.ID, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, KindAsset, auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.linkedFromSorted(ctx, model, RelOfModel, KindAsset, nil, store.Sort{Field: store.FieldCreatedAt}, p)
}

// InStock counts the assets of model in stock.
func (s *Service) InStock(ctx context.Context, model store.ID) (int, error) {
	if err := auth.Check(ctx, KindAsset, auth.Read); err != nil {
		return 0, err
	}
	page, err := s.linkedFrom(ctx, model, RelOfModel, KindAsset, &store.Expr{Op: store.OpEq, Field: "state", Value: AssetInStock}, store.PageRequest{First: 1})
	return page.Total, err
}

// AssetModelByName returns the asset model named name (ignoring case).
func (s *Service) AssetModelByName(ctx context.Context, name string) (store.Node, bool, error) {
	return s.nodeNamed(ctx, KindAssetModel, name)
}
