package itsm

import (
	"context"
	"errors"
	"fmt"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Allocation: how a hardware catalog task gets its asset (see the package
// notes of requests.go). The asset's own assign action, decided in the
// asset's write, is the allocation: it names the task and item, so two
// tasks racing for one asset never both get it, and nothing is lost
// between two writes.

// AllocateAsset hands catalog task id one in-stock asset of its model,
// now (a task waiting for stock is also served when stock arrives). A task
// that allocated one already, or is closed, is a CONFLICT; a task of an
// item that hands out no asset is INVALID. It returns the task as it now
// is: open with its asset, or pending, out of stock. The caller needs
// update catalog_task.
func (s *Service) AllocateAsset(ctx context.Context, actor store.Actor, id store.ID) (store.Node, error) {
	if err := auth.Check(ctx, KindCatalogTask, auth.Update); err != nil {
		return store.Node{}, err
	}
	found, err := s.cmdb.Nodes(ctx, KindCatalogTask, []store.ID{id})
	if err != nil {
		return store.Node{}, err
	}
	t, ok := found[id]
	switch {
	case !ok:
		return store.Node{}, store.NoNode("id", store.ObjectKind(KindCatalogTask))
	case t.Attributes["asset_model"] == nil:
		return store.Node{}, store.Invalid("id", "%v hands out no asset: its catalog item allocates no asset model", t.Attributes["number"])
	case t.Attributes["allocated_asset"] != nil:
		return store.Node{}, fmt.Errorf("%v has asset %v allocated already: %w", t.Attributes["number"], t.Attributes["allocated_asset"], store.ErrConflict)
	case !taskOpen(t):
		return store.Node{}, fmt.Errorf("%v is %v: %w", t.Attributes["number"], t.Attributes["state"], store.ErrConflict)
	}
	return s.allocate(auth.AsProcess(ctx), actor, t)
}

// allocate tries the in-stock assets of task t's model, oldest first,
// each through the asset's own assign, decided in the asset's write: the
// first it assigns is t's, recorded on t (open); an asset someone else
// took meanwhile is a conflict and the next is tried. With none left, t
// waits, pending, out of stock. It runs as the process.
func (s *Service) allocate(ctx context.Context, actor store.Actor, t store.Node) (store.Node, error) {
	models, err := s.st.RelationshipsOf(ctx, []store.ID{t.ID}, store.Out, []string{RelOfModel})
	if err != nil || len(models[t.ID]) == 0 {
		return t, err
	}
	model := models[t.ID][0].Target
	item, ok, err := s.parentOf(ctx, t.ID, KindRequestedItem)
	if err != nil || !ok {
		return t, err
	}
	people, err := s.st.RelationshipsOf(ctx, []store.ID{item.ID}, store.Out, []string{RelRequestedFor})
	if err != nil || len(people[item.ID]) == 0 {
		return t, err
	}
	person := people[item.ID][0].Target
	inStock := &store.Expr{Op: store.OpEq, Field: "state", Value: AssetInStock}
	tried := map[store.ID]bool{}
	for {
		page, err := s.linkedFromSorted(ctx, model, RelOfModel, KindAsset, inStock, store.Sort{Field: store.FieldCreatedAt}, store.PageRequest{First: 20})
		if err != nil {
			return t, err
		}
		fresh := false
		for _, a := range page.Items {
			if tried[a.ID] {
				continue
			}
			fresh, tried[a.ID] = true, true
			input := map[string]any{"assigned_to": item.Attributes["requested_for"], "request_item": item.Attributes["number"], "catalog_task": t.Attributes["number"]}
			_, err := s.act(ctx, actor, KindAsset, s.asset, a.ID, 0, ActionAssign, input, Facts{}, nil)
			if errors.Is(err, store.ErrConflict) {
				continue // taken meanwhile: the next one
			}
			if err != nil {
				return t, err
			}
			if _, err := s.cmdb.SetLinks(ctx, actor, a.ID, RelAssignedTo, []store.ID{person}, cmdb.KindPerson, "assignedToId", false); err != nil {
				return t, err
			}
			res, err := s.act(ctx, actor, KindCatalogTask, s.catalogTask, t.ID, 0, ActionAllocate, map[string]any{"allocated_asset": a.Attributes["asset_tag"]}, Facts{}, nil)
			if errors.Is(err, store.ErrConflict) {
				// The task was closed or canceled while its asset was being
				// allocated: the asset goes back to stock.
				return t, s.releaseAsset(ctx, actor, fmt.Sprint(a.Attributes["asset_tag"]), t)
			}
			return res.Node, err
		}
		if !fresh {
			break
		}
	}
	if t.Attributes["state"] == TaskPending {
		return t, nil // waiting already
	}
	reason := fmt.Sprintf("%s: no %v in stock; waiting for one", outOfStock, t.Attributes["asset_model"])
	res, err := s.act(ctx, actor, KindCatalogTask, s.catalogTask, t.ID, 0, ActionHoldTask, map[string]any{"wait_reason": reason}, Facts{}, nil)
	if errors.Is(err, store.ErrConflict) {
		return t, nil // moved meanwhile (closed, canceled)
	}
	return res.Node, err
}

// serveWaiting allocates stock of model to the tasks waiting for it,
// oldest first, until one finds none. It runs as the process, after an
// asset of model came into stock.
func (s *Service) serveWaiting(ctx context.Context, actor store.Actor, model store.ID) error {
	waiting := &store.Expr{Op: store.OpAnd, Args: []store.Expr{
		{Op: store.OpEq, Field: "state", Value: TaskPending},
		{Op: store.OpPrefix, Field: "wait_reason", Value: outOfStock},
		{Op: store.OpExists, Field: "allocated_asset", Value: false},
	}}
	served := map[store.ID]bool{}
	for {
		page, err := s.linkedFromSorted(ctx, model, RelOfModel, KindCatalogTask, waiting, store.Sort{Field: store.FieldCreatedAt}, store.PageRequest{First: 20})
		if err != nil {
			return err
		}
		var next *store.Node
		for i := range page.Items {
			if !served[page.Items[i].ID] {
				next = &page.Items[i]
				break
			}
		}
		if next == nil {
			return nil
		}
		served[next.ID] = true
		t, err := s.allocate(ctx, actor, *next)
		if err != nil {
			return err
		}
		if t.Attributes["allocated_asset"] == nil {
			return nil // out of stock again
		}
	}
}

// releaseAsset returns the asset tagged tag, which task t allocated and
// no longer needs, to stock (when it is still in use by t's allocation).
func (s *Service) releaseAsset(ctx context.Context, actor store.Actor, tag string, t store.Node) error {
	a, ok, err := s.AssetByTag(ctx, tag)
	if err != nil || !ok || a.Attributes["catalog_task"] != t.Attributes["number"] || a.Attributes["state"] != AssetInUse {
		return err
	}
	_, err = s.ActOnAsset(ctx, actor, a.ID, a.Version, ActionUnassign, nil, "")
	if errors.Is(err, store.ErrConflict) {
		return nil // moved meanwhile: left as it is
	}
	return err
}

// AllocatedAsset returns the asset catalog task t allocated: the asset
// whose allocation names t.
func (s *Service) AllocatedAsset(ctx context.Context, t store.Node) (store.Node, bool, error) {
	number, _ := t.Attributes["number"].(string)
	if number == "" || t.Attributes["allocated_asset"] == nil {
		return store.Node{}, false, nil
	}
	page, err := s.cmdb.ListNodes(ctx, KindAsset, cmdb.Filter{Attributes: map[string]any{"catalog_task": number}, CaseSensitive: true}, store.PageRequest{First: 1})
	if err != nil || len(page.Items) == 0 {
		return store.Node{}, false, err
	}
	return page.Items[0], true, nil
}

// stockArrived serves the tasks waiting for the model of asset a, which
// was just written, when it came into stock, and returns a as it then is
// (allocated, when a task was waiting). An error is the allocation's: the
// asset's own write stands.
func (s *Service) stockArrived(ctx context.Context, actor store.Actor, a store.Node) (store.Node, error) {
	if a.Attributes["state"] != AssetInStock {
		return a, nil
	}
	pctx := auth.AsProcess(ctx)
	rels, err := s.st.RelationshipsOf(pctx, []store.ID{a.ID}, store.Out, []string{RelOfModel})
	if err != nil || len(rels[a.ID]) == 0 {
		return a, err
	}
	if err := s.serveWaiting(pctx, actor, rels[a.ID][0].Target); err != nil {
		return a, fmt.Errorf("asset %v is in stock; serving the requests waiting for it failed: %w", a.Attributes["asset_tag"], err)
	}
	found, err := s.cmdb.Nodes(ctx, KindAsset, []store.ID{a.ID})
	if n, ok := found[a.ID]; ok {
		a = n
	}
	return a, err
}
