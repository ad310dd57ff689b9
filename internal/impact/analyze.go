package impact

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Request asks for an impact analysis.
type Request struct {
	// CIs are the start CIs, assumed to fail (1..Options.MaxStarts;
	// duplicates are ignored). Every one must exist.
	CIs []store.ID
	// MaxDepth bounds the hops from a start (1..Options.MaxDepth). Effects are those established within it: a CI
	// that would go down only through a longer chain is reported degraded if
	// a chain within reach degrades it.
	MaxDepth int
	// Assume is what happens to the start CIs: Down (the default when zero)
	// or Degraded. Assuming Degraded, nothing can go down.
	Assume Effect
}

// Impacted is one CI an analysis reached, reported once, with its worst
// effect.
type Impacted struct {
	CI store.CI
	// Depth is the number of hops at which the CI reached Effect (the
	// minimum over every explanation); 0 for a start CI.
	Depth int
	// Effect is the worst that happens to the CI.
	Effect Effect
	// Path explains Effect: the hops from a start CI to this one, Depth of
	// them, each over a relationship type that carries the effect in the
	// direction travelled. Empty for a start CI.
	Path []store.Step
}

// Contact is an owner or support group with the number of impacted CIs it
// answers for.
type Contact struct {
	Name string
	CIs  int
}

// ClassCount is the number of impacted CIs of one class (exact class, not
// counting subclasses into their parents).
type ClassCount struct {
	Class string
	CIs   int
}

// Result is the outcome of Analyze.
type Result struct {
	// Starts are the start CIs with the assumed effect, sorted by name.
	Starts []Impacted
	// Impacted are the CIs reached beyond the starts, sorted by depth, then
	// name, then id.
	Impacted []Impacted
	// BusinessServices are the impacted CIs of Options.BusinessServiceClass
	// or a subclass (start CIs excluded): down before degraded, then by
	// criticality (1 first, unset last), then name. Their criticality,
	// service level and owners are in their CI attributes.
	BusinessServices []Impacted
	// Owners and SupportGroups are the distinct values of the "owner" and
	// "support_group" attributes of the impacted CIs (start CIs excluded),
	// each with its number of impacted CIs, sorted by that number
	// (descending), then name.
	Owners        []Contact
	SupportGroups []Contact
	// Classes counts the impacted CIs by class, most frequent first, then
	// by class name.
	Classes []ClassCount
	// Down and Degraded count Impacted by effect.
	Down, Degraded int
	// MaxDepth is the depth the analysis used.
	MaxDepth int
	// Truncated reports that the node budget stopped the analysis: more CIs
	// may be impacted, and some reported degraded may in fact be down.
	Truncated bool
}

// Analyze assumes req.CIs fail and reports what else goes down or degrades,
// why, and whom it concerns (see the package documentation for the rules
// and the algorithm).
//
// Bad input is an *store.InvalidError: on "ciIds" (none, too many, or CIs
// that do not exist, which it lists), "ciIds[i]" (an empty id), "maxDepth"
// or "assume". Store failures are returned wrapped.
func (a *Analyzer) Analyze(ctx context.Context, req Request) (*Result, error) {
	if err := a.CheckDepth("maxDepth", req.MaxDepth); err != nil {
		return nil, err
	}
	depth := req.MaxDepth
	assume := req.Assume
	if assume == 0 {
		assume = Down
	}
	if assume != Down && assume != Degraded {
		return nil, store.Invalid("assume", "must be down or degraded")
	}
	starts, err := a.checkStarts(req.CIs)
	if err != nil {
		return nil, err
	}
	m := a.model()
	if m == nil {
		return nil, errors.New("impact: no class model")
	}
	bounded, cancel := a.withTimeout(ctx)
	defer cancel()
	res, err := a.analyze(bounded, m, depth, assume, starts)
	return res, a.failed(ctx, bounded, err)
}

func (a *Analyzer) analyze(ctx context.Context, m *cmdb.Model, depth int, assume Effect, starts []store.ID) (*Result, error) {
	startCIs, err := a.loadCIs(ctx, starts)
	if err != nil {
		return nil, err
	}
	var missing []store.ID
	for _, id := range starts {
		if _, ok := startCIs[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, &UnknownCIsError{IDs: missing}
	}

	an := &analysis{a: a, r: compileRules(m), maxDepth: depth, down: map[store.ID]pred{}, groups: map[store.ID]*group{}, cis: map[store.ID]store.CI{}}
	if assume == Down {
		if err := an.propagateDown(ctx, starts); err != nil {
			return nil, err
		}
	}
	degraded := map[store.ID]pred{}
	if len(an.r.all) > 0 {
		res, err := a.g.Expand(ctx, store.Traversal{Start: starts, Rules: an.r.all, MaxDepth: depth, MaxNodes: a.opts.NodeBudget})
		if err != nil {
			return nil, fmt.Errorf("impact: expand: %w", err)
		}
		an.truncated = an.truncated || res.Truncated
		for _, n := range res.Nodes {
			if n.Depth > 0 {
				degraded[n.ID] = pred{depth: n.Depth, via: n.Via, step: cleanStep(n.Step)}
			}
		}
	}
	return an.result(ctx, m, assume, startCIs, starts, degraded)
}

// checkStarts validates and deduplicates the start CIs.
func (a *Analyzer) checkStarts(ids []store.ID) ([]store.ID, error) {
	if len(ids) == 0 {
		return nil, store.Invalid("ciIds", "at least one CI is required")
	}
	if len(ids) > a.opts.MaxStarts {
		return nil, store.Invalid("ciIds", "at most %d CIs, got %d", a.opts.MaxStarts, len(ids))
	}
	out := make([]store.ID, 0, len(ids))
	seen := make(map[store.ID]bool, len(ids))
	for i, id := range ids {
		if id == "" {
			return nil, store.Invalid(fmt.Sprintf("ciIds[%d]", i), "must not be empty")
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// analysis is the state of one Analyze call.
type analysis struct {
	a        *Analyzer
	r        impactRules
	maxDepth int
	// down holds every CI known to be down (the starts at depth 0 when they
	// are assumed down) with how it went down.
	down      map[store.ID]pred
	count     int // CIs in down beyond the starts
	groups    map[store.ID]*group
	cis       map[store.ID]store.CI // CIs already loaded (groups)
	truncated bool
}

// group is a CI that receives failure over a redundancy type, with its
// members and its k, by index of impactRules.groups.
type group struct {
	members [][]member
	k       []int64
}

// member is one member of a group and the hop from it to the group.
type member struct {
	id   store.ID
	step store.Step
}

// propagateDown runs phase 1: it spreads "down" level by level from the
// starts, re-counting groups whose members go down.
func (an *analysis) propagateDown(ctx context.Context, starts []store.ID) error {
	for _, id := range starts {
		an.down[id] = pred{}
	}
	budget := an.a.opts.NodeBudget
	frontier := starts
	for level := 0; level < an.maxDepth && len(frontier) > 0 && !an.truncated; level++ {
		var next []store.ID
		// Direct hops over "down" types.
		if len(an.r.down) > 0 {
			err := an.expandLevel(ctx, frontier, an.r.down, func(n store.Reached) bool {
				if _, ok := an.down[n.ID]; ok {
					return true
				}
				if an.count == budget {
					an.truncated = true
					return false
				}
				an.down[n.ID] = pred{depth: level + 1, via: n.Via, step: cleanStep(n.Step)}
				an.count++
				next = append(next, n.ID)
				return true
			})
			if err != nil {
				return fmt.Errorf("impact: level %d: %w", level+1, err)
			}
		}
		// Groups that a CI down at this level is a member of.
		if len(an.r.group) > 0 && !an.truncated {
			var touched []store.ID
			seen := map[store.ID]bool{}
			err := an.expandLevel(ctx, frontier, an.r.group, func(n store.Reached) bool {
				if _, ok := an.down[n.ID]; !ok && !seen[n.ID] {
					seen[n.ID] = true
					touched = append(touched, n.ID)
				}
				return true
			})
			if err != nil {
				return fmt.Errorf("impact: level %d groups: %w", level+1, err)
			}
			if err := an.loadGroups(ctx, touched); err != nil {
				return err
			}
			for _, id := range touched {
				via, ok := an.broken(an.groups[id], level)
				if !ok {
					continue
				}
				if an.count == budget {
					an.truncated = true
					break
				}
				an.down[id] = pred{depth: level + 1, via: via.id, step: via.step}
				an.count++
				next = append(next, id)
			}
		}
		frontier = next
	}
	return nil
}

// expandLevel expands the frontier one hop over rules, in batches the
// store accepts, and calls visit for each CI reached until it returns
// false. The budget of each Expand call leaves room for the CIs already
// down, which it may reach again, so a truncated expansion means the
// analysis's own budget is spent.
func (an *analysis) expandLevel(ctx context.Context, frontier []store.ID, rules []store.EdgeRule, visit func(store.Reached) bool) error {
	for chunk := range slices.Chunk(frontier, store.MaxBatch) {
		left := an.a.opts.NodeBudget - an.count // visit reports a new CI beyond it
		res, err := an.a.g.Expand(ctx, store.Traversal{Start: chunk, Rules: rules, MaxDepth: 1, MaxNodes: min(store.MaxNodes, left+len(an.down))})
		if err != nil {
			return err
		}
		for _, n := range res.Nodes {
			if n.Depth == 1 && !visit(n) {
				return nil
			}
		}
		if res.Truncated {
			an.truncated = true
			return nil
		}
	}
	return nil
}

// loadGroups reads the members and the k of the groups not seen before:
// one RelationshipsOf call per redundancy type and one CIs call per batch.
func (an *analysis) loadGroups(ctx context.Context, ids []store.ID) error {
	var fresh []store.ID
	for _, id := range ids {
		if _, ok := an.groups[id]; !ok {
			fresh = append(fresh, id)
			an.groups[id] = &group{members: make([][]member, len(an.r.groups)), k: make([]int64, len(an.r.groups))}
		}
	}
	for chunk := range slices.Chunk(fresh, store.MaxBatch) {
		for i, rule := range an.r.groups {
			rels, err := an.a.g.RelationshipsOf(ctx, chunk, reverse(rule.dir), []string{rule.typ})
			if err != nil {
				return fmt.Errorf("impact: group members: %w", err)
			}
			for gid, rs := range rels {
				g := an.groups[gid]
				if g == nil {
					continue
				}
				for _, rel := range rs {
					mid := rel.Source
					if rule.dir == store.In {
						mid = rel.Target
					}
					g.members[i] = append(g.members[i], member{id: mid, step: cleanStep(store.Step{Rel: rel, Forward: rule.dir == store.Out})})
				}
			}
		}
		cis, err := an.a.g.CIs(ctx, chunk)
		if err != nil {
			return fmt.Errorf("impact: groups: %w", err)
		}
		for _, gid := range chunk {
			if ci, ok := cis[gid]; ok {
				an.cis[gid] = ci
			}
			g := an.groups[gid]
			for i, rule := range an.r.groups {
				k, ok := intAttr(cis[gid], rule.attr)
				if !ok {
					k = 1
				}
				g.k[i] = max(k, 0)
			}
		}
	}
	return nil
}

// broken reports whether a group's redundancy is broken at level: for some
// redundancy type, a member went down at this level and fewer than k of the
// type's members are up counting every member down so far. It returns that
// member, which explains the group going down at level+1. A group whose
// threshold was already broken at an earlier level was found then, so
// requiring a member down at this level loses nothing.
func (an *analysis) broken(g *group, level int) (member, bool) {
	for i, ms := range g.members {
		failed := 0
		var via *member
		for j := range ms {
			p, ok := an.down[ms[j].id]
			if !ok || p.depth > level {
				continue
			}
			failed++
			if p.depth == level && via == nil {
				via = &ms[j]
			}
		}
		if via != nil && int64(len(ms)-failed) < g.k[i] {
			return *via, true
		}
	}
	return member{}, false
}

// entry is one impacted CI before its CI is loaded.
type entry struct {
	id     store.ID
	effect Effect
	depth  int
}

// result merges both phases, applies the budget, loads the CIs and rolls
// up.
func (an *analysis) result(ctx context.Context, m *cmdb.Model, assume Effect, startCIs map[store.ID]store.CI, starts []store.ID, degraded map[store.ID]pred) (*Result, error) {
	entries := make([]entry, 0, len(an.down)+len(degraded))
	for id, p := range an.down {
		if p.depth > 0 {
			entries = append(entries, entry{id: id, effect: Down, depth: p.depth})
		}
	}
	for id, p := range degraded {
		if _, ok := an.down[id]; !ok {
			entries = append(entries, entry{id: id, effect: Degraded, depth: p.depth})
		}
	}
	budget := an.a.opts.NodeBudget
	if len(entries) > budget {
		// Both phases stayed within the budget but together exceed it:
		// keep the nearest CIs.
		slices.SortFunc(entries, func(x, y entry) int {
			return cmp.Or(cmp.Compare(x.depth, y.depth), cmp.Compare(x.effect, y.effect), cmp.Compare(x.id, y.id))
		})
		entries = entries[:budget]
		an.truncated = true
	}
	ids := make([]store.ID, 0, len(entries))
	for _, e := range entries {
		if _, ok := an.cis[e.id]; !ok {
			ids = append(ids, e.id)
		}
	}
	cis, err := an.a.loadCIs(ctx, ids)
	if err != nil {
		return nil, err
	}
	maps.Copy(cis, an.cis)

	res := &Result{MaxDepth: an.maxDepth, Truncated: an.truncated}
	for _, id := range starts {
		res.Starts = append(res.Starts, Impacted{CI: startCIs[id], Effect: assume})
	}
	sortImpacted(res.Starts)
	res.Impacted = make([]Impacted, 0, len(entries))
	for _, e := range entries {
		ci, ok := cis[e.id]
		if !ok {
			continue // deleted while the analysis ran
		}
		preds := degraded
		if e.effect == Down {
			preds = an.down
		}
		res.Impacted = append(res.Impacted, Impacted{CI: ci, Depth: e.depth, Effect: e.effect, Path: pathTo(preds, e.id)})
	}
	sortImpacted(res.Impacted)
	res.rollUp(m, an.a.opts.BusinessServiceClass)
	return res, nil
}

// sortImpacted sorts by depth, then name, then id. It sorts small keys
// and permutes once: CIs are large and their names sit in maps.
func sortImpacted(list []Impacted) {
	type key struct {
		depth int
		name  string
		id    store.ID
		i     int
	}
	keys := make([]key, len(list))
	for i, im := range list {
		keys[i] = key{im.Depth, ciName(im.CI), im.CI.ID, i}
	}
	slices.SortFunc(keys, func(x, y key) int {
		return cmp.Or(cmp.Compare(x.depth, y.depth), cmp.Compare(x.name, y.name), cmp.Compare(x.id, y.id))
	})
	sorted := make([]Impacted, len(list))
	for i, k := range keys {
		sorted[i] = list[k.i]
	}
	copy(list, sorted)
}

// rollUp fills the business services, contacts, class counts and effect
// counts from Impacted.
func (r *Result) rollUp(m *cmdb.Model, bsClass string) {
	owners, groups, classes := map[string]int{}, map[string]int{}, map[string]int{}
	for _, im := range r.Impacted {
		switch im.Effect {
		case Down:
			r.Down++
		case Degraded:
			r.Degraded++
		}
		if m.IsA(im.CI.Class, bsClass) {
			r.BusinessServices = append(r.BusinessServices, im)
		}
		if s, _ := im.CI.Attributes["owner"].(string); s != "" {
			owners[s]++
		}
		if s, _ := im.CI.Attributes["support_group"].(string); s != "" {
			groups[s]++
		}
		classes[im.CI.Class]++
	}
	slices.SortStableFunc(r.BusinessServices, func(x, y Impacted) int {
		return cmp.Or(cmp.Compare(x.Effect, y.Effect), cmp.Compare(criticality(x.CI), criticality(y.CI)),
			cmp.Compare(ciName(x.CI), ciName(y.CI)), cmp.Compare(x.CI.ID, y.CI.ID))
	})
	r.Owners = contacts(owners)
	r.SupportGroups = contacts(groups)
	for c, n := range classes {
		r.Classes = append(r.Classes, ClassCount{Class: c, CIs: n})
	}
	slices.SortFunc(r.Classes, func(x, y ClassCount) int { return cmp.Or(cmp.Compare(y.CIs, x.CIs), cmp.Compare(x.Class, y.Class)) })
}

// criticality orders a CI by its criticality attribute, unset last.
func criticality(ci store.CI) int64 {
	if c, ok := intAttr(ci, "criticality"); ok {
		return c
	}
	return 1 << 62
}

func contacts(counts map[string]int) []Contact {
	out := make([]Contact, 0, len(counts))
	for name, n := range counts {
		out = append(out, Contact{Name: name, CIs: n})
	}
	slices.SortFunc(out, func(x, y Contact) int { return cmp.Or(cmp.Compare(y.CIs, x.CIs), cmp.Compare(x.Name, y.Name)) })
	return out
}
