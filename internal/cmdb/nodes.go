package cmdb

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// The generic node service: upsert, update, read, list and search nodes of
// any kind the model declares. CIs are the kind ci (Upsert, UpdateCI,
// ListCIs and Search are these methods with KindCI); people and groups are
// the kinds person and group; record kinds reuse the same methods. Each
// checks the caller's permission on (kind, verb) with auth.Check, the batch
// size and the actor itself, so an API only parses and shapes.

// Kinds of node besides KindCI that the default model declares.
const (
	// KindPerson is people (class Person).
	KindPerson = "person"
	// KindGroup is groups of people (class Group).
	KindGroup = "group"
)

// batchWriter checks a batch write of n items (named field) on kind: the
// caller's permission for verb, the batch size, and the actor the write is
// recorded under (auth.WriteActor), which it returns.
func batchWriter(ctx context.Context, actor store.Actor, kind auth.Kind, verb auth.Verb, field string, n int) (store.Actor, error) {
	if err := auth.Check(ctx, kind, verb); err != nil {
		return store.Actor{}, err
	}
	if err := store.CheckBatch(field, n); err != nil {
		return store.Actor{}, err
	}
	return auth.WriteActor(ctx, actor)
}

// checkKind returns an *store.InvalidError on "kind" unless m declares kind.
func (m *Model) checkKind(kind string) error {
	if _, ok := m.KindRoot(kind); !ok {
		return store.Invalid("kind", "%q is not a kind of node; allowed: %s", clip(kind), strings.Join(m.Kinds(), ", "))
	}
	return nil
}

// checkReported is checkKind for the writes that merge reported or
// edited attributes (UpsertNodes, UpdateNode, SetActive): a kind whose
// records belong to a workflow is refused, naming "kind".
func (m *Model) checkReported(kind string) error {
	if err := m.checkKind(kind); err != nil {
		return err
	}
	if root, _ := m.KindRoot(kind); root.Def.Workflow {
		return store.Invalid("kind", "%s records change through their workflow (open, update and act on them with their own operations), not by upsert or update", kindLabel(kind))
	}
	return nil
}

// UpsertNodes validates, identifies and merges a batch of nodes of kind,
// as a source reports them (discovery for CIs, a directory sync for people
// and groups). Each item is validated against its class (an item of
// another kind that names no class gets kind's root class, when that one
// is concrete), identified by the identity keys the model computes, and
// created or merged by source precedence. Results follow input order; an
// invalid item gets StatusInvalid with an *InvalidError whose field path
// starts with "items[i]". With atomic, any failing item fails the whole
// batch with an *store.ItemError and nothing is written. After the write,
// the links that follow from it are kept (see linkAfterUpsert): a failure
// there is returned, though the nodes are written.
func (s *Service) UpsertNodes(ctx context.Context, actor store.Actor, kind string, items []UpsertItem, atomic bool) ([]store.UpsertResult, error) {
	actor, err := batchWriter(ctx, actor, auth.Kind(kind), auth.Upsert, "items", len(items))
	if err != nil {
		return nil, err
	}
	classes := make([]string, len(items))
	for i, it := range items {
		classes[i] = it.Class
	}
	m := s.modelFor(ctx, classes, nil)
	if err := m.checkReported(kind); err != nil {
		return nil, err
	}
	results := make([]store.UpsertResult, len(items))
	var batch []store.NodeUpsert
	var index []int // batch position -> input position
	for i, it := range items {
		u, err := m.prepareOf(kind, it)
		if err != nil {
			err = store.PrefixField(err, fmt.Sprintf("items[%d]", i))
			if atomic {
				return nil, &store.ItemError{Index: i, Err: err}
			}
			results[i] = store.UpsertResult{Status: store.StatusInvalid, Err: err}
			continue
		}
		batch = append(batch, u)
		index = append(index, i)
	}
	if len(batch) == 0 {
		return results, nil
	}
	res, err := s.st.UpsertNodes(ctx, actor, store.UpsertBatch{Kind: store.ObjectKind(kind), Items: batch, Reconcile: m.Reconcile, Atomic: atomic})
	if err != nil {
		var ie *store.ItemError
		if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(index) {
			if kind == KindCI {
				s.recordConflicts(ctx, actor, []error{ie.Err}, []string{batch[ie.Index].Class})
			}
			return nil, &store.ItemError{Index: index[ie.Index], Err: reprefix(ie.Err, ie.Index, index[ie.Index])}
		}
		return nil, err
	}
	if kind == KindCI {
		// Identity conflicts are a CI matter: two CIs one report matched,
		// which mergeCIs resolves.
		errs := make([]error, len(res))
		cls := make([]string, len(res))
		for j, r := range res {
			errs[j], cls[j] = r.Err, batch[j].Class
		}
		s.recordConflicts(ctx, actor, errs, cls)
	}
	for j, r := range res {
		r.Err = reprefix(r.Err, j, index[j])
		results[index[j]] = r
	}
	if err := s.linkAfterUpsert(ctx, actor, kind, results); err != nil {
		return nil, err
	}
	return results, nil
}

// prepareOf validates one item of kind and computes its identity keys.
func (m *Model) prepareOf(kind string, it UpsertItem) (store.NodeUpsert, error) {
	name := it.Class
	if name == "" && kind != KindCI {
		if root, ok := m.KindRoot(kind); ok && !root.Def.Abstract {
			name = root.Def.Name
		}
	}
	cls, err := m.LookupClassOf(kind, "class", name)
	if err != nil {
		return store.NodeUpsert{}, err
	}
	attrs, clears, err := validateAttributes(cls, cls.Def.Name, "attributes", it.Attributes)
	if err != nil {
		return store.NodeUpsert{}, err
	}
	if err := checkRequired(cls, "attributes", attrs); err != nil {
		return store.NodeUpsert{}, err
	}
	keys := cls.Keys(attrs)
	if len(keys) == 0 {
		return store.NodeUpsert{}, cls.noKeyError("attributes")
	}
	for _, c := range clears {
		attrs[c] = nil
	}
	return store.NodeUpsert{Class: cls.Def.Name, Attributes: attrs, Keys: keys}, nil
}

// UpdateNode changes attributes of one node of kind named by id (nil
// clears), merged like an upsert from the actor's source, so precedence
// applies. With expected not 0, a node at another version is not changed
// and the error is a *store.VersionConflictError (wrapping
// store.ErrConflict) naming the current version; the version is compared
// inside the write transaction. A node that does not exist, or is of
// another kind, is store.ErrNotFound (never created). The read before the
// write only finds the class to validate the patch against. Errors on the
// patch name "attributes.<name>"; a bad expected version "expectedVersion".
func (s *Service) UpdateNode(ctx context.Context, actor store.Actor, kind string, id store.ID, attrs map[string]any, expected int64) (store.UpsertResult, error) {
	if err := auth.Check(ctx, auth.Kind(kind), auth.Update); err != nil {
		return store.UpsertResult{}, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return store.UpsertResult{}, err
	}
	if expected < 0 {
		return store.UpsertResult{}, store.Invalid("expectedVersion", "%d is not a version; allowed: 1 or more", expected)
	}
	m := s.Model()
	if err := m.checkReported(kind); err != nil {
		return store.UpsertResult{}, err
	}
	if len(attrs) > maxPatch {
		return store.UpsertResult{}, store.Invalid("attributes", "at most %d attributes", maxPatch)
	}
	found, err := s.st.Nodes(ctx, store.ObjectKind(kind), []store.ID{id})
	if err != nil {
		return store.UpsertResult{}, err
	}
	n, ok := found[id]
	if !ok {
		return store.UpsertResult{}, fmt.Errorf("%s %s: %w", kindLabel(kind), id, store.ErrNotFound)
	}
	cls, err := m.LookupClassOf(kind, "class", n.Class)
	if err != nil {
		return store.UpsertResult{}, err
	}
	patch, clears, err := validateAttributes(cls, cls.Def.Name, "attributes", attrs)
	if err != nil {
		return store.UpsertResult{}, err
	}
	for _, c := range clears {
		patch[c] = nil
	}
	u := store.NodeUpsert{ID: id, Class: n.Class, Attributes: patch, ExpectedVersion: expected}
	res, err := s.st.UpsertNodes(ctx, actor, store.UpsertBatch{Kind: store.ObjectKind(kind), Items: []store.NodeUpsert{u}, Reconcile: m.Reconcile, Atomic: true})
	if err != nil {
		var ie *store.ItemError
		var ve *store.VersionConflictError
		switch {
		case errors.As(err, &ie) && errors.Is(ie.Err, store.ErrNotFound):
			return store.UpsertResult{}, fmt.Errorf("%s %s: %w", kindLabel(kind), id, store.ErrNotFound)
		case errors.As(err, &ve):
			return store.UpsertResult{}, ve
		case errors.As(err, &ie):
			return store.UpsertResult{}, unprefix(ie.Err, "items[0]")
		}
		return store.UpsertResult{}, err
	}
	if err := s.linkAfterUpsert(ctx, actor, kind, res); err != nil {
		return store.UpsertResult{}, err
	}
	return res[0], nil
}

// maxPatch bounds the attributes one update names: no class has nearly
// that many.
const maxPatch = 256

// Nodes returns the nodes of kind with the given ids (absent ids, and
// nodes of another kind, are absent from the map), for a caller who may
// read that kind; at most store.MaxBatch ids, named "ids".
func (s *Service) Nodes(ctx context.Context, kind string, ids []store.ID) (map[store.ID]store.Node, error) {
	if err := auth.Check(ctx, auth.Kind(kind), auth.Read); err != nil {
		return nil, err
	}
	if len(ids) > store.MaxBatch {
		return nil, store.Invalid("ids", "at most %d ids", store.MaxBatch)
	}
	if err := s.Model().checkKind(kind); err != nil {
		return nil, err
	}
	return s.st.Nodes(ctx, store.ObjectKind(kind), ids)
}

// AllNodes returns every node of kind matching f, page after page, in
// f.Sort's order: for kinds that are configuration (webhooks, change
// windows), of which there are few.
func (s *Service) AllNodes(ctx context.Context, kind string, f Filter) ([]store.Node, error) {
	var out []store.Node
	p := store.PageRequest{First: store.MaxPageSize}
	for {
		page, err := s.ListNodes(ctx, kind, f, p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if !page.HasNext || len(page.Items) == 0 {
			return out, nil
		}
		p.After = store.EncodeSortCursor(f.Sort, page.Items[len(page.Items)-1])
	}
}

// ListNodes returns a page of the nodes of kind matching f, in f.Sort's
// order, with the filter language of ListCIs (where, orderBy, cursor and
// offset pages). Shorthands a kind has no attribute for (a person's
// status) are INVALID; those it may lack values for match nothing.
func (s *Service) ListNodes(ctx context.Context, kind string, f Filter, p store.PageRequest) (store.Page[store.Node], error) {
	if err := auth.Check(ctx, auth.Kind(kind), auth.Read); err != nil {
		return store.Page[store.Node]{}, err
	}
	sf, err := s.storeFilter(ctx, kind, f)
	if err != nil {
		return store.Page[store.Node]{}, err
	}
	return s.st.ListNodes(ctx, sf, p)
}

// SetActive sets the active attribute of nodes of kind (person, group)
// named by ids: deactivating keeps the node, its history and its edges
// (a deactivated person still owns what it owned, for the record), and
// reactivating is the same call with true, or an update. Results follow
// input order: updated, unchanged (already so), or not_found.
func (s *Service) SetActive(ctx context.Context, actor store.Actor, kind string, ids []store.ID, active bool) ([]store.UpsertResult, error) {
	verb := auth.Delete
	if active {
		verb = auth.Update
	}
	actor, err := batchWriter(ctx, actor, auth.Kind(kind), verb, "ids", len(ids))
	if err != nil {
		return nil, err
	}
	m := s.Model()
	if err := m.checkReported(kind); err != nil {
		return nil, err
	}
	root, _ := m.KindRoot(kind)
	if _, ok := root.Attribute("active"); !ok {
		return nil, store.Invalid("kind", "a %s has no active attribute", kindLabel(kind))
	}
	items := make([]store.NodeUpsert, len(ids))
	for i, id := range ids {
		items[i] = store.NodeUpsert{ID: id, Class: root.Def.Name, Attributes: store.Attributes{"active": active}}
	}
	// Reconcile keeps the stored (most specific) class: the root is an
	// ancestor of every class of the kind.
	res, err := s.st.UpsertNodes(ctx, actor, store.UpsertBatch{Kind: store.ObjectKind(kind), Items: items, Reconcile: m.Reconcile})
	if err != nil {
		return nil, err
	}
	for i := range res {
		res[i].Err = renumber(res[i].Err, "items", i, i)
		if f, ok := store.FieldOf(res[i].Err); ok {
			res[i].Err = store.WithField(res[i].Err, strings.Replace(f, "items[", "ids[", 1))
		}
	}
	return res, nil
}
