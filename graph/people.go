package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/vikstrous/dataloadgen"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// People and groups: views of nodes of kinds person and group, their lists
// and the pages of what their relationships lead to. Resolvers in
// people.resolvers.go parse arguments and call these.

func personView(n store.Node) *model.Person {
	v := &model.Person{
		ID: globalID(typePerson, n.ID), Class: n.Class, Attributes: attributesOut(n.Attributes),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Email: strAttr(n.Attributes, "email"), Title: strAttr(n.Attributes, "title"),
		Department: strAttr(n.Attributes, "department"), Location: strAttr(n.Attributes, "location"),
		Phone: strAttr(n.Attributes, "phone"), Mobile: strAttr(n.Attributes, "mobile"),
		EmployeeNumber: strAttr(n.Attributes, "employee_number"), TimeZone: strAttr(n.Attributes, "time_zone"),
	}
	v.UserName, _ = n.Attributes["user_name"].(string)
	v.Name, _ = n.Attributes["name"].(string)
	v.Active = activeOf(n)
	return v
}

func groupView(n store.Node) *model.Group {
	v := &model.Group{
		ID: globalID(typeGroup, n.ID), Class: n.Class, Attributes: attributesOut(n.Attributes),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Type: strAttr(n.Attributes, "type"), Email: strAttr(n.Attributes, "email"),
		Phone: strAttr(n.Attributes, "phone"), Description: strAttr(n.Attributes, "description"),
	}
	v.Name, _ = n.Attributes["name"].(string)
	v.Active = activeOf(n)
	return v
}

// activeOf is a person's or group's active flag: true unless set false
// (nodes written before the attribute had a default have none).
func activeOf(n store.Node) bool {
	a, ok := n.Attributes["active"].(bool)
	return a || !ok
}

// person reads one person through the service (which checks the caller
// may read people); nil when there is none.
func (r *Resolver) person(ctx context.Context, id store.ID) (*model.Person, error) {
	return nodeOf(ctx, r, cmdb.KindPerson, id, personView)
}

// group reads one group as person reads a person.
func (r *Resolver) group(ctx context.Context, id store.ID) (*model.Group, error) {
	return nodeOf(ctx, r, cmdb.KindGroup, id, groupView)
}

// nodeOrderIn converts a people or groups order.
func nodeOrderIn(o *model.NodeOrder) store.Sort {
	if o == nil {
		return store.Sort{}
	}
	return store.Sort{Field: strings.ToLower(string(o.Field)), Desc: o.Direction != nil && *o.Direction == model.SortDirectionDesc}
}

// listNodes answers people(...) and groups(...): one page of nodes of kind
// with a cursor each, listed by where and orderBy or found by search.
func (r *Resolver) listNodes(ctx context.Context, kind string, search *string, where *model.CIWhere, orderBy *model.NodeOrder, first *int, after *string, offset *int) (store.Page[store.Node], error) {
	return r.listNodesAnd(ctx, kind, search, where, nil, orderBy, first, after, offset)
}

// listNodesAnd is listNodes with a condition of the API's own (and, a
// nil one is none) ANDed to the client's where; it does not combine with
// search.
func (r *Resolver) listNodesAnd(ctx context.Context, kind string, search *string, where *model.CIWhere, and *store.Expr, orderBy *model.NodeOrder, first *int, after *string, offset *int) (store.Page[store.Node], error) {
	p, err := pageIn(first, 50, after)
	if err != nil {
		return store.Page[store.Node]{}, err
	}
	p.Offset = deref(offset, 0)
	if search != nil {
		if where != nil || orderBy != nil || p.Offset != 0 || and != nil {
			return store.Page[store.Node]{}, store.Invalid("search", "ranks by relevance: not together with where, orderBy, offset or a filter argument")
		}
		res, err := r.CMDB.SearchNodes(ctx, kind, *search, cmdb.SearchFilter{}, store.PageRequest{First: countOnly(ctx, p.First), After: p.After})
		if err != nil {
			return store.Page[store.Node]{}, renamePath(err, "text", "search")
		}
		out := store.Page[store.Node]{Items: make([]store.Node, len(res.Items)), Cursors: res.Cursors, HasNext: res.HasNext, Total: res.Total}
		for i, h := range res.Items {
			out.Items[i] = h.CI
		}
		return out, nil
	}
	f := cmdb.Filter{Sort: nodeOrderIn(orderBy)}
	if where != nil {
		if f.Where, err = whereIn(where, "where"); err != nil {
			return store.Page[store.Node]{}, err
		}
	}
	if and != nil {
		if f.Where != nil {
			and = &store.Expr{Op: store.OpAnd, Args: []store.Expr{*f.Where, *and}}
		}
		f.Where = and
	}
	if _, err := p.CheckOffset(); err != nil {
		return store.Page[store.Node]{}, err
	}
	page, err := r.CMDB.ListNodes(ctx, kind, f, store.PageRequest{First: countOnly(ctx, p.First), After: p.After, Offset: p.Offset})
	if err != nil {
		return page, err
	}
	page.Cursors = store.SortCursors(f.Sort, page.Items)
	return page, nil
}

// related returns one page of the nodes at the other end of id's
// relationships of type typ in direction dir, with the relationships'
// cursors: two batched loads (the relationship pages of every node the
// query asks about, then their other ends).
func (r *Resolver) related(ctx context.Context, id store.ID, dir store.Direction, typ string, first *int, after *string) (store.Page[store.Node], error) {
	p, err := pageIn(first, 50, after)
	if err != nil {
		return store.Page[store.Node]{}, err
	}
	l := loadersFor(ctx, r.Store)
	rels, err := l.RelPages.Load(ctx, relPageKey{CI: id, Dir: dir, Types: typ, First: countOnly(ctx, p.First), After: p.After})
	if err != nil {
		return store.Page[store.Node]{}, err
	}
	ends := make([]store.ID, len(rels.Items))
	for i, rel := range rels.Items {
		ends[i] = rel.Target
		if dir == store.In {
			ends[i] = rel.Source
		}
	}
	nodes, err := l.Node.LoadAll(ctx, ends)
	var errs dataloadgen.ErrorSlice
	if err != nil && !errors.As(err, &errs) {
		return store.Page[store.Node]{}, err
	}
	out := store.Page[store.Node]{Total: rels.Total, HasNext: rels.HasNext}
	for i, n := range nodes {
		if i < len(errs) && errs[i] != nil {
			if errors.Is(errs[i], store.ErrNotFound) {
				continue // purged between the two reads
			}
			return store.Page[store.Node]{}, errs[i]
		}
		out.Items = append(out.Items, n)
		out.Cursors = append(out.Cursors, rels.Cursors[i])
	}
	return out, nil
}

// pageInfoOf is the pageInfo of a page with one cursor per item.
func pageInfoOf(page store.Page[store.Node]) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: page.HasNext}
	setPageInfo(pi, len(page.Cursors), func(i int) string { return page.Cursors[i] })
	return pi
}

func personConnection(page store.Page[store.Node]) *model.PersonConnection {
	return &model.PersonConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.PersonEdge { return model.PersonEdge{Cursor: c, Node: personView(n)} })}
}

func groupConnection(page store.Page[store.Node]) *model.GroupConnection {
	return &model.GroupConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.GroupEdge { return model.GroupEdge{Cursor: c, Node: groupView(n)} })}
}

func ciConnection(page store.Page[store.Node]) *model.CIConnection {
	return &model.CIConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.CIEdge { return model.CIEdge{Cursor: c, Node: ciView(n)} })}
}

// edgesOf makes the edges of a page with one cursor per item.
func edgesOf[E any](page store.Page[store.Node], edge func(cursor string, n store.Node) E) []E {
	out := make([]E, len(page.Items))
	for i, n := range page.Items {
		out[i] = edge(page.Cursors[i], n)
	}
	return out
}

// upsertNodes runs upsertPeople and upsertGroups: the batch of kind, then
// one result each made by result (with its status), and the counts.
func upsertNodes[R any](ctx context.Context, r *mutationResolver, kind string, source *string, items []model.UpsertNodeItem, atomic *bool,
	result func(i int, st model.UpsertStatus, u store.UpsertResult) R) (out []R, created, updated, unchanged, failed int, err error) {
	in := make([]cmdb.UpsertItem, len(items))
	for i, it := range items {
		attrs, err := objectIn(fmt.Sprintf("input.items[%d].attributes", i), it.Attributes)
		if err != nil {
			return nil, 0, 0, 0, 0, err
		}
		in[i] = cmdb.UpsertItem{Class: deref(it.Class, ""), Attributes: attrs}
	}
	res, err := r.CMDB.UpsertNodes(ctx, writeAs(ctx, source), kind, in, deref(atomic, false))
	if err != nil {
		return nil, 0, 0, 0, 0, prefixInput(err)
	}
	out = make([]R, len(res))
	for i, u := range res {
		st, err := upsertStatus(u.Status)
		if err != nil {
			return nil, 0, 0, 0, 0, err
		}
		switch u.Status {
		case store.StatusCreated:
			created++
		case store.StatusUpdated:
			updated++
		case store.StatusUnchanged:
			unchanged++
		default:
			failed++
		}
		u.Err = prefixInput(u.Err)
		out[i] = result(i, st, u)
	}
	return out, created, updated, unchanged, failed, nil
}

// updateNode runs updatePerson and updateGroup: the node of kind (API
// type typ) named by in.ID, changed at in.ExpectedVersion.
func (r *mutationResolver) updateNode(ctx context.Context, kind, typ string, in model.UpdateNodeInput) (store.UpsertResult, error) {
	id, err := idOf("input.id", in.ID, typ)
	if err != nil {
		return store.UpsertResult{}, err
	}
	attrs, err := objectIn("input.attributes", in.Attributes)
	if err != nil {
		return store.UpsertResult{}, err
	}
	var expected int64
	if in.ExpectedVersion != nil {
		if *in.ExpectedVersion < 1 {
			return store.UpsertResult{}, store.Invalid("input.expectedVersion", "%d is not a version; allowed: 1 or more", *in.ExpectedVersion)
		}
		expected = int64(*in.ExpectedVersion)
	}
	res, err := r.CMDB.UpdateNode(ctx, writeAs(ctx, nil), kind, id, attrs, expected)
	var ve *store.VersionConflictError
	switch {
	case errors.As(err, &ve):
		return res, store.AtField("input.expectedVersion", err)
	case isNotFound(err):
		return res, notFoundAt("input.id", strings.ToLower(typ), in.ID)
	case err != nil:
		return res, store.PrefixField(err, "input")
	}
	return res, nil
}

// deactivate runs deactivatePerson and deactivateGroup.
func (r *mutationResolver) deactivate(ctx context.Context, kind, typ string, in model.DeactivateInput) (store.Node, error) {
	id, err := idOf("input.id", in.ID, typ)
	if err != nil {
		return store.Node{}, err
	}
	res, err := r.CMDB.SetActive(ctx, writeAs(ctx, nil), kind, []store.ID{id}, false)
	if err != nil {
		return store.Node{}, err
	}
	if res[0].Status == store.StatusNotFound {
		return store.Node{}, notFoundAt("input.id", strings.ToLower(typ), in.ID)
	}
	if res[0].Err != nil {
		return store.Node{}, store.WithField(res[0].Err, "input.id")
	}
	return res[0].Node, nil
}

// members runs addGroupMembers and removeGroupMembers with change.
func (r *mutationResolver) members(ctx context.Context, in model.GroupMembersInput,
	change func(context.Context, store.Actor, store.ID, []store.ID) (int, error)) (*model.GroupMembersPayload, error) {
	group, err := idOf("input.groupId", in.GroupID, typeGroup)
	if err != nil {
		return nil, err
	}
	if len(in.PersonIds) > store.MaxBatch {
		return nil, store.Invalid("input.personIds", "at most %d people", store.MaxBatch)
	}
	people := make([]store.ID, len(in.PersonIds))
	for i, gid := range in.PersonIds {
		if people[i], err = idOf(fmt.Sprintf("input.personIds[%d]", i), gid, typePerson); err != nil {
			return nil, err
		}
	}
	n, err := change(ctx, writeAs(ctx, nil), group, people)
	if err != nil {
		return nil, prefixInput(err)
	}
	g, err := r.group(ctx, group)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, notFoundAt("input.groupId", "group", in.GroupID)
	}
	return &model.GroupMembersPayload{Group: g, Changed: n}, nil
}

// history is a person's or group's audit trail.
func (r *Resolver) history(ctx context.Context, id store.ID, first *int, after *string) (*model.AuditConnection, error) {
	p, err := pageIn(first, 50, after)
	if err != nil {
		return nil, err
	}
	page, err := r.CMDB.History(ctx, id, p)
	if err != nil {
		return nil, err
	}
	return auditConnection(page), nil
}

// maxLinks is how many OWNED_BY or SUPPORTED_BY relationships of a CI
// ownedBy and supportedBy look at (one from the attribute, the rest made
// by hand; a CI rarely has more than two).
const maxLinks = 16

// linkOf returns the node a CI's OWNED_BY or SUPPORTED_BY (relType)
// relationship leads to: the first made by hand, else the one kept from
// the CI's attribute; false when there is none. Two batched loads, shared
// by every CI of the query.
func (r *Resolver) linkOf(ctx context.Context, ci store.ID, relType string) (store.Node, bool, error) {
	l := loadersFor(ctx, r.Store)
	rels, err := l.RelPages.Load(ctx, relPageKey{CI: ci, Dir: store.Out, Types: relType, First: maxLinks})
	if err != nil || len(rels.Items) == 0 {
		return store.Node{}, false, err
	}
	pick := rels.Items[0]
	for _, rel := range rels.Items {
		if !cmdb.FromAttribute(rel) {
			pick = rel
			break
		}
	}
	n, err := l.Node.Load(ctx, pick.Target)
	if isNotFound(err) {
		return store.Node{}, false, nil
	}
	return n, err == nil, err
}

// endID returns the store ID of a relationship end's global ID: a CI, a
// person or a group (the model's types decide which may be joined).
func endID(field, gid string) (store.ID, error) {
	typ, id, err := parseGlobalID(field, gid)
	if err != nil {
		return "", err
	}
	if typ != typeCI && typ != typePerson && typ != typeGroup {
		return "", store.Invalid(field, "is the ID of a %s; a relationship joins CIs, people and groups", typ)
	}
	return id, nil
}

// nodeView is the API's view of a node of any kind.
func nodeView(n store.Node) model.Node {
	switch n.Kind {
	case cmdb.KindPerson:
		return personView(n)
	case cmdb.KindGroup:
		return groupView(n)
	case itsm.KindIncident:
		return incidentView(n)
	case itsm.KindJournal:
		return journalView(n)
	case itsm.KindChange:
		return changeView(n)
	case itsm.KindProblem:
		return problemView(n)
	case itsm.KindChangeTask:
		return changeTaskView(n)
	case itsm.KindProblemTask:
		return problemTaskView(n)
	case itsm.KindChangeWindow:
		return windowView(n)
	case itsm.KindChangeTemplate:
		return templateView(n)
	case itsm.KindAsset:
		return assetView(n)
	case itsm.KindAssetModel:
		return assetModelView(n)
	case itsm.KindCatalogItem:
		return catalogItemView(n)
	case itsm.KindRequest:
		return requestView(n)
	case itsm.KindRequestedItem:
		return requestedItemView(n)
	case itsm.KindCatalogTask:
		return catalogTaskView(n)
	case itsm.KindKnowledge:
		return articleView(itsm.KnowledgeWorkflow())(n)
	}
	return ciView(n)
}

// endNode loads a relationship's end, of any kind.
func (r *Resolver) endNode(ctx context.Context, id store.ID) (model.Node, error) {
	n, err := loadersFor(ctx, r.Store).Node.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	return nodeView(n), nil
}

// endCI loads a relationship's end if it is a CI (nil for a person or
// group).
func (r *Resolver) endCI(ctx context.Context, id store.ID) (*model.CI, error) {
	n, err := loadersFor(ctx, r.Store).Node.Load(ctx, id)
	if err != nil || (n.Kind != store.KindCI && n.Kind != "") {
		return nil, err
	}
	return ciView(n), nil
}
