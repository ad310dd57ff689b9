package cmdb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Graph batches: what a discovery source reports in one go, CIs and the
// relationships between them, written in one transaction. A relationship
// names each end by a batch-local reference to one of the batch's CIs, by
// identity (a class and the attributes its identification rules read: the
// CI is found the way an upsert finds it, never created), or by ID. So an
// agent reports "this instance RUNS_ON the server with serial X" without
// reading IDs back first, and a relationship never points at a CI the same
// batch failed to write.

// GraphItem is a CI of a graph batch.
type GraphItem struct {
	// Ref names the item within its batch, for the batch's relationships
	// ("" when nothing points at it).
	Ref string
	UpsertItem
}

// EdgeEndpoint names one end of a GraphRelationship: Ref (an item of the
// batch), else Class and Identity (the node of that class's family whose
// identity the attributes give), else ID.
type EdgeEndpoint struct {
	Ref      string
	Class    string
	Identity map[string]any
	ID       store.ID
}

// GraphRelationship is a relationship of a graph batch.
type GraphRelationship struct {
	Type     string
	From, To EdgeEndpoint
	// Attributes replace the stored ones; nil reports a sighting only.
	Attributes map[string]any
}

// GraphBatch is a graph batch: CIs, then relationships between them.
type GraphBatch struct {
	Items         []GraphItem
	Relationships []GraphRelationship
	// Atomic makes the batch all-or-nothing.
	Atomic bool
}

// MaxRefLength bounds a batch-local reference.
const MaxRefLength = 255

// UpsertGraph validates a graph batch against the model (each CI as
// Upsert does; each relationship's type, attributes, and the classes of
// both ends), then writes it in one transaction: the CIs, identified and
// merged, then the relationships between the nodes their ends name.
// Results follow input order; field paths start with items[i] or
// relationships[i]. The caller needs upsert ci and create relationship.
// With Atomic, any failure fails the call with an *store.ItemError (its
// Index counts the items, then the relationships) and nothing is written.
func (s *Service) UpsertGraph(ctx context.Context, actor store.Actor, b GraphBatch) (store.GraphResult, error) {
	if err := auth.Check(ctx, auth.KindCI, auth.Upsert); err != nil {
		return store.GraphResult{}, err
	}
	if err := auth.Check(ctx, auth.KindRelationship, auth.Create); err != nil {
		return store.GraphResult{}, err
	}
	switch {
	case len(b.Items) == 0 && len(b.Relationships) == 0:
		return store.GraphResult{}, store.Invalid("items", "a batch holds at least one CI or relationship")
	case len(b.Items) > store.MaxBatch:
		return store.GraphResult{}, store.Invalid("items", "at most %d entries, got %d", store.MaxBatch, len(b.Items))
	case len(b.Relationships) > store.MaxBatch:
		return store.GraphResult{}, store.Invalid("relationships", "at most %d entries, got %d", store.MaxBatch, len(b.Relationships))
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return store.GraphResult{}, err
	}
	refs := map[string]int{}
	for i, it := range b.Items {
		switch {
		case it.Ref == "":
			continue
		case len(it.Ref) > MaxRefLength:
			return store.GraphResult{}, store.Invalid(fmt.Sprintf("items[%d].ref", i), "at most %d bytes", MaxRefLength)
		}
		if j, dup := refs[it.Ref]; dup {
			return store.GraphResult{}, store.Invalid(fmt.Sprintf("items[%d].ref", i), "%q already names items[%d]", clip(it.Ref), j)
		}
		refs[it.Ref] = i
	}
	classes := make([]string, 0, len(b.Items)+2*len(b.Relationships))
	types := make([]string, len(b.Relationships))
	for _, it := range b.Items {
		classes = append(classes, it.Class)
	}
	for i, r := range b.Relationships {
		types[i] = r.Type
		classes = append(classes, r.From.Class, r.To.Class)
	}
	m := s.modelFor(ctx, classes, types)
	out := store.GraphResult{Items: make([]store.UpsertResult, len(b.Items)), Edges: make([]store.RelationshipResult, len(b.Relationships))}
	fail := func(index int, err error) error {
		if b.Atomic {
			return &store.ItemError{Index: index, Err: err}
		}
		return nil
	}

	// The items, as Upsert prepares them.
	var batch store.UpsertBatch
	pos := make([]int, len(b.Items)) // input -> batch position, -1 when invalid
	var index []int                  // batch position -> input
	for i, it := range b.Items {
		u, err := m.prepareOf(KindCI, it.UpsertItem)
		if err != nil {
			err = store.PrefixField(err, fmt.Sprintf("items[%d]", i))
			if e := fail(i, err); e != nil {
				return store.GraphResult{}, e
			}
			out.Items[i], pos[i] = store.UpsertResult{Status: store.StatusInvalid, Err: err}, -1
			continue
		}
		pos[i] = len(batch.Items)
		batch.Items = append(batch.Items, u)
		index = append(index, i)
	}

	// The relationships: type, attributes, ends and their classes.
	var edgeIndex []int // batch edge -> input
	ends, err := s.endClasses(ctx, b.Relationships)
	if err != nil {
		return store.GraphResult{}, err
	}
	for i, r := range b.Relationships {
		e, err := m.prepareEdge(r, refs, pos, batch.Items, ends)
		if err != nil {
			err = store.PrefixField(err, fmt.Sprintf("relationships[%d]", i))
			if e := fail(len(b.Items)+i, err); e != nil {
				return store.GraphResult{}, e
			}
			status := store.StatusInvalid
			if errors.Is(err, store.ErrNotFound) {
				status = store.StatusNotFound
			}
			out.Edges[i] = store.RelationshipResult{Status: status, Err: err}
			continue
		}
		batch.Edges = append(batch.Edges, e)
		edgeIndex = append(edgeIndex, i)
	}
	if len(batch.Items) == 0 && len(batch.Edges) == 0 {
		return out, nil
	}
	batch.Kind, batch.Reconcile, batch.Atomic = store.KindCI, m.Reconcile, b.Atomic
	res, err := s.st.UpsertGraph(ctx, actor, batch)
	if err != nil {
		var ie *store.ItemError
		if errors.As(err, &ie) {
			n := len(batch.Items)
			switch {
			case ie.Index >= 0 && ie.Index < n:
				s.recordConflicts(ctx, actor, []error{ie.Err}, []string{batch.Items[ie.Index].Class})
				return store.GraphResult{}, &store.ItemError{Index: index[ie.Index], Err: reprefix(ie.Err, ie.Index, index[ie.Index])}
			case ie.Index >= n && ie.Index-n < len(edgeIndex):
				j := ie.Index - n
				return store.GraphResult{}, &store.ItemError{Index: len(b.Items) + edgeIndex[j], Err: reprefixRel(ie.Err, j, edgeIndex[j])}
			}
		}
		return store.GraphResult{}, err
	}
	errs := make([]error, len(res.Items))
	cls := make([]string, len(res.Items))
	for j, r := range res.Items {
		errs[j], cls[j] = r.Err, batch.Items[j].Class
		r.Err = reprefix(r.Err, j, index[j])
		out.Items[index[j]] = r
	}
	s.recordConflicts(ctx, actor, errs, cls)
	for j, r := range res.Edges {
		if r.Status == store.StatusInvalid && errors.Is(r.Err, store.ErrNotFound) {
			r.Status = store.StatusNotFound // an end naming nothing, as the backends hand it back
		}
		r.Err = reprefixRel(r.Err, j, edgeIndex[j])
		out.Edges[edgeIndex[j]] = r
	}
	if err := s.linkAfterUpsert(ctx, actor, KindCI, out.Items); err != nil {
		return store.GraphResult{}, err
	}
	return out, nil
}

// endClasses reads the classes of the nodes the relationships' ID ends
// name (any kind: a CI OWNED_BY a person).
func (s *Service) endClasses(ctx context.Context, rels []GraphRelationship) (map[store.ID]store.CI, error) {
	set := map[store.ID]bool{}
	for _, r := range rels {
		for _, e := range []EdgeEndpoint{r.From, r.To} {
			if e.Ref == "" && e.Class == "" && e.ID != "" {
				set[e.ID] = true
			}
		}
	}
	if len(set) == 0 {
		return nil, nil
	}
	ids := make([]store.ID, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return s.st.NodeFields(ctx, store.AnyKind, ids, nil)
}

// prepareEdge checks one relationship of a graph batch and names its ends
// for the store: items (by their batch position), identity keys, or IDs.
func (m *Model) prepareEdge(r GraphRelationship, refs map[string]int, pos []int, prepared []store.NodeUpsert, ids map[store.ID]store.CI) (store.GraphEdge, error) {
	rt, err := m.LookupRelType("type", r.Type)
	if err != nil {
		return store.GraphEdge{}, err
	}
	attrs, _, err := validateAttributes(rt, rt.Def.Name, "attributes", r.Attributes)
	if err != nil {
		return store.GraphEdge{}, err
	}
	e := store.GraphEdge{Type: rt.Def.Name, Attributes: attrs}
	if r.Attributes == nil {
		e.Attributes = nil
	}
	for _, end := range []struct {
		field   string
		in      EdgeEndpoint
		out     *store.EdgeEnd
		allowed []string
	}{{"from", r.From, &e.From, rt.Def.Sources}, {"to", r.To, &e.To, rt.Def.Targets}} {
		end.out.Item = -1
		var class, kind string
		switch in := end.in; {
		case in.Ref != "":
			i, ok := refs[in.Ref]
			if !ok {
				return store.GraphEdge{}, store.Invalid(end.field+".ref", "%q names no item of the batch", clip(in.Ref))
			}
			if pos[i] < 0 {
				return store.GraphEdge{}, store.AtField(end.field+".ref", fmt.Errorf("names items[%d], which is invalid: %w", i, store.ErrNotFound))
			}
			end.out.Item, class, kind = pos[i], prepared[pos[i]].Class, KindCI
		case in.Class != "":
			cls, err := m.LookupClassOf(KindCI, end.field+".class", in.Class)
			if err != nil {
				return store.GraphEdge{}, err
			}
			a, _, err := validateAttributes(cls, cls.Def.Name, end.field+".identity", in.Identity)
			if err != nil {
				return store.GraphEdge{}, err
			}
			if end.out.Keys = cls.Keys(a); len(end.out.Keys) == 0 {
				return store.GraphEdge{}, cls.noKeyError(end.field + ".identity")
			}
			class, kind = cls.Def.Name, KindCI
		case in.ID != "":
			n, ok := ids[in.ID]
			if !ok {
				return store.GraphEdge{}, store.AtField(end.field+".id", fmt.Errorf("no node has this ID: %w", store.ErrNotFound))
			}
			end.out.ID, class, kind = in.ID, n.Class, m.KindOf(n.Class)
		default:
			return store.GraphEdge{}, store.Invalid(end.field, "names no CI: give ref, class and identity, or id")
		}
		if err := m.checkEndClass(rt, end.field, class, kind, end.allowed); err != nil {
			return store.GraphEdge{}, err
		}
	}
	return e, nil
}

// checkEndClass checks that a node of class (of kind) may be the end
// field of relationship type rt, whose classes at that end are allowed.
func (m *Model) checkEndClass(rt *RelType, field, class, kind string, allowed []string) error {
	if len(allowed) == 0 {
		if kind != KindCI {
			return store.Invalid(field, "a %s, and %s joins CIs only", kind, rt.Def.Name)
		}
		return nil
	}
	for _, a := range allowed {
		if m.IsA(class, a) {
			return nil
		}
	}
	return store.Invalid(field, "a CI of class %s cannot be the %s of %s; allowed %s classes: %s (and their subclasses)",
		class, field, rt.Def.Name, field, strings.Join(allowed, ", "))
}
