package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// Helpers the resolvers share. They live outside the *.resolvers.go files,
// which gqlgen rewrites.

// loadCI loads one CI through the request's loader.
func (r *Resolver) loadCI(ctx context.Context, id store.ID) (*model.CI, error) {
	c, err := loadersFor(ctx, r.Store).CI.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	return ciView(c), nil
}

// summaryCIFields are the fields of the CI type that a store.Summary
// answers: what ciView makes of the summary attributes, the ID, the class
// and the version.
var summaryCIFields = map[string]bool{"__typename": true, "id": true, "name": true, "class": true, "status": true,
	"environment": true, "owner": true, "supportGroup": true, "criticality": true, "version": true}

// listCIs returns the CIs of a list's n items (summary(i) is item i's, from
// an answer that holds them: an impact analysis, dependents) for the "ci"
// field under chain (from the current field, through fragments), which the
// list's resolver sets on its items: nil when the query selects no ci; made
// from the summaries when every field selected under ci is one a summary
// answers (summaryCIFields: a CAB's list of names and classes, a page of
// impacted CIs); loaded otherwise, in one batch of the CI loader. The
// summary is what the answer was computed from, read in the same view of
// the graph as its traversal; a load reads the CI again, later.
//
// The items' ci is a plain field, not a resolver: gqlgen runs each
// resolver of a list's items in a goroutine of its own, whose stack grew
// while it built the CI (a third of a hub's list of dependents went there).
func (r *Resolver) listCIs(ctx context.Context, n int, summary func(i int) *store.Summary, chain ...string) ([]*model.CI, error) {
	fields, ok := fieldsDown(ctx, append(chain, "ci")...)
	if (ok && len(fields) == 0) || n == 0 {
		return nil, nil
	}
	out := make([]*model.CI, n)
	if ok && onlyAllowed(fields, summaryCIFields) {
		for i := range out {
			out[i] = ciSummaryView(summary(i))
		}
		return out, nil
	}
	ids := make([]store.ID, n)
	for i := range ids {
		ids[i] = summary(i).ID
	}
	cis, err := loadersFor(ctx, r.Store).CI.LoadAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i := range cis {
		out[i] = ciView(cis[i])
	}
	return out, nil
}

// followIn converts the follow argument of dependencies and dependents.
func followIn(f *model.Follow) impact.Follow {
	if f != nil && *f == model.FollowRelationship {
		return impact.FollowRelationships
	}
	return impact.FollowImpact
}

// pathEnd is one end of a path question: the argument that names it, the
// ID the client sent, and the CI's store ID.
type pathEnd struct {
	field string
	sent  string
	id    store.ID
}

// shortestPath answers pathTo and shortestPath; no path is null, not an
// error, but a CI that does not exist is NOT_FOUND on the argument that
// names it.
func (r *Resolver) shortestPath(ctx context.Context, from, to pathEnd, depth int, types []string) (*model.Path, error) {
	done, err := r.traversal(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	p, err := r.Impact.ShortestPath(ctx, from.id, to.id, depth, types)
	var missing *impact.MissingCIError
	if errors.As(err, &missing) {
		end := from
		if missing.Field == "to" {
			end = to
		}
		return nil, notFoundAt(end.field, "CI", end.sent)
	}
	if isNotFound(err) {
		return nil, nil // no path within maxDepth
	}
	if err != nil {
		return nil, err
	}
	r.primeCIs(ctx, p.CIs...)
	return pathView(p.Steps, from.id), nil
}

// outcomes maps the analyzer's effects to the API's.
var outcomes = map[impact.Effect]model.ImpactOutcome{
	impact.Down: model.ImpactOutcomeDown, impact.AtRisk: model.ImpactOutcomeAtRisk,
	impact.RedundancyReduced: model.ImpactOutcomeRedundancyReduced, impact.Degraded: model.ImpactOutcomeDegraded,
}

// effects maps the API's outcomes back to the analyzer's effects.
var effects = func() map[model.ImpactOutcome]impact.Effect {
	m := make(map[model.ImpactOutcome]impact.Effect, len(outcomes))
	for e, o := range outcomes {
		m[o] = e
	}
	return m
}()

// impactOrders maps the API's orders of impacted CIs to the analyzer's.
var impactOrders = map[model.ImpactOrderField]impact.OrderField{
	model.ImpactOrderFieldDepth: impact.ByDepth, model.ImpactOrderFieldName: impact.ByName,
	model.ImpactOrderFieldEffect: impact.ByEffect, model.ImpactOrderFieldClass: impact.ByClass,
	model.ImpactOrderFieldCriticality: impact.ByCriticality,
}

// keepEffects returns the CIs of list whose effect is in keep (all when
// keep is empty), in list's order.
func keepEffects(list []impact.Impacted, keep []model.ImpactOutcome) []impact.Impacted {
	if len(keep) == 0 {
		return list
	}
	out := make([]impact.Impacted, 0, len(list))
	for _, it := range list {
		if slices.Contains(keep, outcomes[it.Effect]) {
			out = append(out, it)
		}
	}
	return out
}

// impactedView converts impacted CIs of res, with their CIs as the query
// selects them (listCIs); their paths are built when a query selects them.
func (r *Resolver) impactedView(ctx context.Context, res *impact.Result, list []impact.Impacted) ([]model.ImpactedCI, error) {
	cis, err := r.listCIs(ctx, len(list), func(i int) *store.Summary { return &list[i].CI })
	if err != nil {
		return nil, err
	}
	out := make([]model.ImpactedCI, len(list))
	for i := range list {
		out[i] = impactedCIView(res, &list[i], at(cis, i))
	}
	return out, nil
}

// at returns cis[i], or nil when cis is nil (the query selects no CI).
func at(cis []*model.CI, i int) *model.CI {
	if cis == nil {
		return nil
	}
	return cis[i]
}

func impactedCIView(res *impact.Result, it *impact.Impacted, ci *model.CI) model.ImpactedCI {
	v := model.ImpactedCI{Summary: &it.CI, Ci: ci, Depth: it.Depth, Effect: outcomes[it.Effect], Result: res}
	if h := it.Headroom; h != nil {
		v.Headroom = &model.Headroom{GroupID: h.Group.ID, MembersUp: h.Up, MembersNeeded: h.Needed}
	}
	return v
}

// impactedPathView is the path of an impacted CI, built when a query
// selects it: an analysis keeps how each CI was reached, not every path.
func impactedPathView(v *model.ImpactedCI) []model.PathStep {
	path := v.Result.PathOf(impact.Impacted{CI: store.Summary{ID: v.Summary.ID}, Depth: v.Depth, Effect: effects[v.Effect]})
	from := v.Summary.ID
	if len(path) > 0 {
		first := path[0]
		from = first.Rel.Source
		if !first.Forward {
			from = first.Rel.Target
		}
	}
	return stepsView(path, from)
}

// depthCountsView converts counts by depth.
func depthCountsView(counts []impact.DepthCount) []model.DepthCount {
	out := make([]model.DepthCount, len(counts))
	for i, c := range counts {
		out[i] = model.DepthCount{Depth: c.Depth, Count: c.CIs}
	}
	return out
}

func contactsView(list []impact.Contact) []model.Contact {
	out := make([]model.Contact, len(list))
	for i, c := range list {
		out[i] = model.Contact{Name: c.Name, CiCount: c.CIs}
		switch {
		case c.Node == nil:
		case c.Node.Kind == cmdb.KindPerson:
			out[i].Person = personView(*c.Node)
		case c.Node.Kind == cmdb.KindGroup:
			out[i].Group = groupView(*c.Node)
		}
	}
	return out
}

// wantsContactNodes reports whether an impactAnalysis selects the person
// or group of its owners or support groups, which costs two more store
// reads (impact.Analyzer.ResolveContacts).
func wantsContactNodes(ctx context.Context) bool {
	for _, list := range []string{"owners", "supportGroups"} {
		if selectsDown(ctx, list, "person") || selectsDown(ctx, list, "group") {
			return true
		}
	}
	return false
}

// reachOptions are the options of a dependents or dependencies query: the
// paths when it shows them, the CIs in order only when it lists them
// (counts and nodesPage, which orders by itself, need no order).
func reachOptions(ctx context.Context, follow *model.Follow) impact.ReachOptions {
	return impact.ReachOptions{Follow: followIn(follow), Paths: wantsPaths(ctx), Unordered: !selectsDown(ctx, "nodes")}
}

// wantsPaths reports whether a dependents or dependencies field selects
// its nodes' paths (impact.ReachOptions.Paths), in the list or in a page.
func wantsPaths(ctx context.Context) bool {
	return selectsDown(ctx, "nodes", "path") || selectsDown(ctx, "nodesPage", "edges", "node", "path")
}

// selectsDown reports whether the current field selects the chain of
// fields given, each under the one before (through fragments too); true
// when it cannot tell.
func selectsDown(ctx context.Context, chain ...string) bool {
	fields, ok := fieldsDown(ctx, chain[:len(chain)-1]...)
	if !ok {
		return true
	}
	return slices.ContainsFunc(fields, func(f graphql.CollectedField) bool { return f.Name == chain[len(chain)-1] })
}

// summaryFields are the fields of ImpactAnalysis that a summary-only
// analysis (impact.Request.SummaryOnly) answers: a query selecting no
// other (impacted, impactedPage, countsByDepth, openIncidents,
// changesInWindow, or a field added later) does not need every impacted
// CI kept, unless it asks for the person or group behind an owner or
// support group (wantsContactNodes), which the impacted CIs' edges name.
var summaryFields = map[string]bool{"__typename": true, "starts": true, "notOperationalStarts": true, "businessServices": true,
	"owners": true, "supportGroups": true, "countsByClass": true, "downCount": true, "atRiskCount": true,
	"redundancyReducedCount": true, "degradedCount": true, "truncated": true}

// selectsOnly reports whether every field selected under the current one
// is one of allowed; false when there is no field to tell.
func selectsOnly(ctx context.Context, allowed map[string]bool) bool {
	fields, ok := fieldsDown(ctx)
	return ok && onlyAllowed(fields, allowed)
}

// onlyAllowed reports whether every one of fields is one of allowed.
func onlyAllowed(fields []graphql.CollectedField, allowed map[string]bool) bool {
	return !slices.ContainsFunc(fields, func(f graphql.CollectedField) bool { return !allowed[f.Name] })
}

// fieldsDown returns the fields selected under the chain of fields given,
// each under the one before, from the current field (through fragments,
// along every branch the chain names: two aliases of one field are two
// branches); false when there is no field to tell.
func fieldsDown(ctx context.Context, chain ...string) ([]graphql.CollectedField, bool) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return nil, false
	}
	oc := graphql.GetOperationContext(ctx)
	var out []graphql.CollectedField
	var down func(set ast.SelectionSet, chain []string)
	down = func(set ast.SelectionSet, chain []string) {
		for _, f := range graphql.CollectFields(oc, set, nil) {
			switch {
			case len(chain) == 0:
				out = append(out, f)
			case f.Name == chain[0]:
				down(f.Selections, chain[1:])
			}
		}
	}
	down(fc.Field.Selections, chain)
	return out, true
}

// unknownStarts names the unknown start CIs of an impact analysis by the
// IDs the client sent, not by store IDs; other errors pass through.
func unknownStarts(err error, ids []store.ID, sent []string) error {
	var u *impact.UnknownCIsError
	if !errors.As(err, &u) {
		return err
	}
	unknown := map[store.ID]bool{}
	for _, id := range u.IDs {
		unknown[id] = true
	}
	var missing []string
	for i, id := range ids {
		if unknown[id] {
			missing = append(missing, sent[i])
			unknown[id] = false // each once
		}
	}
	more := ""
	if len(missing) > 10 {
		more = fmt.Sprintf(" and %d more", len(missing)-10)
		missing = missing[:10]
	}
	return store.Invalid("ciIds", "no CI has these IDs: %s%s", strings.Join(missing, ", "), more)
}

// primeCIs hands CIs a traversal has already loaded to the request's CI
// loader, so that the fields resolving them (ReachedCI.ci, Path.cis,
// PathStep.from/to) do not read them again.
func (r *Resolver) primeCIs(ctx context.Context, cis ...store.CI) {
	l := loadersFor(ctx, r.Store).CI
	for _, c := range cis {
		l.Prime(c.ID, c)
	}
}

// reachView is a traversal's answer, its root primed in the loader; the
// CIs reached, which the analyzer read as summaries only, are read whole
// through the loader when a query shows them (ReachedCI.ci).
func (r *Resolver) reachView(ctx context.Context, reach *impact.Reach) *model.Reachability {
	r.primeCIs(ctx, reach.Root)
	return reachView(reach)
}

func reachView(r *impact.Reach) *model.Reachability {
	return &model.Reachability{Reach: r, Truncated: r.Truncated, TotalCount: len(r.Nodes)}
}

func relResult(i int, rr store.RelationshipResult) (model.RelationshipResult, error) {
	st, err := relStatus(rr.Status)
	if err != nil {
		return model.RelationshipResult{}, err
	}
	out := model.RelationshipResult{Index: i, Status: st, Error: fieldError(relPaths(rr.Err))}
	if rr.Relationship.Source != "" && rr.Err == nil {
		out.Relationship = relView(rr.Relationship)
	}
	return out, nil
}

// relPaths roots relationship field paths at input.items, as the mutation
// names them ("relationships[2].target" becomes "input.items[2].target",
// "relationships" "input.items").
func relPaths(err error) error {
	field, ok := store.FieldOf(err)
	if !ok || field != "relationships" && !strings.HasPrefix(field, "relationships[") {
		return err
	}
	return renamePath(err, "relationships", "input.items")
}

// analysis runs impact analysis req under the traversal limit and makes
// the API's view of it, listing only the effects asked for (all when
// none).
func (r *Resolver) analysis(ctx context.Context, req impact.Request, effects []model.ImpactOutcome) (*model.ImpactAnalysis, error) {
	done, err := r.traversal(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	// Only the impacted list needs the CIs in order: counts, roll-ups and
	// impactedPage (which orders by itself) do not; and a query asking
	// for the summary only does not need them kept at all.
	req.Unordered = !selectsDown(ctx, "impacted")
	contactNodes := wantsContactNodes(ctx)
	req.SummaryOnly = selectsOnly(ctx, summaryFields) && !contactNodes // contacts resolve from the impacted CIs' edges
	res, err := r.Impact.Analyze(ctx, req)
	if err != nil {
		return nil, err
	}
	if contactNodes {
		if err := r.Impact.ResolveContacts(ctx, res); err != nil {
			return nil, err
		}
	}
	out := &model.ImpactAnalysis{
		Starts: make([]model.CI, len(res.Starts)), NotOperationalStarts: make([]model.CI, len(res.NotOperationalStarts)),
		Result: res, Kept: keepEffects(res.Impacted, effects), BusinessServices: keepEffects(res.BusinessServices, effects),
		Owners: contactsView(res.Owners), SupportGroups: contactsView(res.SupportGroups), CountsByClass: make([]model.ClassCount, len(res.Classes)),
		DownCount: res.Down, AtRiskCount: res.AtRisk, RedundancyReducedCount: res.RedundancyReduced, DegradedCount: res.Degraded,
		Truncated: res.Truncated,
	}
	for i, s := range res.Starts {
		out.Starts[i] = *ciView(s.CI)
	}
	for i, c := range res.NotOperationalStarts {
		out.NotOperationalStarts[i] = *ciView(c)
	}
	for i, c := range res.Classes {
		out.CountsByClass[i] = model.ClassCount{Class: c.Class, Count: c.CIs}
	}
	return out, nil
}

// recordAnalysis is the impact analysis of the CIs an incident affects
// (maxDepth as the client wrote it); nil when it affects none. It takes
// at most the analyzer's start limit of CIs, and says so (truncated) when
// it has more.
func (r *Resolver) recordAnalysis(ctx context.Context, id store.ID, maxDepth *int) (*model.ImpactAnalysis, error) {
	depth, err := r.depthArg(ctx, "Incident", "impactAnalysis", "maxDepth", maxDepth)
	if err != nil {
		return nil, err
	}
	cis, err := r.ITSM.AffectedCIs(ctx, id)
	if err != nil || len(cis) == 0 {
		return nil, err
	}
	starts := cis[:min(len(cis), r.Impact.Options().MaxStarts)]
	a, err := r.analysis(ctx, impact.Request{CIs: starts, MaxDepth: depth, Assume: impact.Down}, nil)
	if err != nil {
		return nil, err
	}
	a.Truncated = a.Truncated || len(starts) < len(cis)
	return a, nil
}
