package graph

import (
	"context"
	"errors"
	"github.com/vikstrous/dataloadgen"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/health"
	"github.com/skein-cmdb/skein/internal/store"
)

// healthFirst checks cmdbHealth's first argument: 1 to max (the health
// checker's MaxListed).
func healthFirst(first *int, max int) (int, error) {
	n := deref(first, healthDefaultFirst)
	if n < 1 || n > max {
		return 0, store.Invalid("first", "must be between 1 and %d, got %d", max, n)
	}
	return n, nil
}

// loadCIsPresent loads CIs through the request's loader, leaving out those
// deleted since a health report named them.
func (r *Resolver) loadCIsPresent(ctx context.Context, ids ...[]store.ID) ([]model.CI, error) {
	var all []store.ID
	for _, part := range ids {
		all = append(all, part...)
	}
	// One batched read for the whole list (the loader's), each ID's own
	// error in an ErrorSlice.
	cis, err := loadersFor(ctx, r.Store).CI.LoadAll(ctx, all)
	var each dataloadgen.ErrorSlice
	if err != nil && !errors.As(err, &each) {
		return nil, err
	}
	out := []model.CI{}
	for i, c := range cis {
		if i < len(each) && each[i] != nil {
			if errors.Is(each[i], store.ErrNotFound) {
				continue
			}
			return nil, each[i]
		}
		out = append(out, *ciView(c))
	}
	return out, nil
}

// healthView is the API's view of a health report.
func healthView(r health.Report) *model.CMDBHealth {
	v := &model.CMDBHealth{
		ComputedAt: r.At, StaleAfterSeconds: int(r.StaleAfter.Seconds()),
		CiCount: r.CIs, CompleteCount: r.Complete, Completeness: r.Completeness(),
		IncompleteCount: r.Incomplete, OrphanCount: r.Orphans, StaleCount: r.Stale,
		Classes:           make([]model.ClassHealth, 0, len(r.Classes)),
		Duplicates:        pairsView(r.Duplicates),
		IdentityConflicts: pairsView(r.Conflicts),
	}
	if r.Class != "" {
		v.Class = &r.Class
	}
	for _, c := range r.Classes {
		inc := &model.IncompleteCIList{TotalCount: c.Incomplete.Total, Truncated: c.Incomplete.Truncated(), Items: make([]model.IncompleteCI, len(c.Incomplete.Items))}
		for i, o := range c.Incomplete.Items {
			inc.Items[i] = model.IncompleteCI{CIID: o.ID, MissingAttributes: o.Missing}
		}
		v.Classes = append(v.Classes, model.ClassHealth{
			Class: c.Class, RequiredAttributes: nonNil(c.Required), RecommendedAttributes: nonNil(c.Recommended),
			ExpectsRelationships: c.ExpectsRelationships, CiCount: c.CIs, CompleteCount: c.Complete, Completeness: c.Completeness(),
			Incomplete: inc, Orphans: listView(c.Orphans), Stale: listView(c.Stale),
		})
	}
	return v
}

func listView(l health.List) *model.HealthCIList {
	v := &model.HealthCIList{TotalCount: l.Total, Truncated: l.Truncated(), CIIDs: make([]store.ID, len(l.Items))}
	for i, o := range l.Items {
		v.CIIDs[i] = o.ID
	}
	return v
}

func pairsView(p health.Pairs) *model.HealthCIPairList {
	v := &model.HealthCIPairList{TotalCount: p.Total, Truncated: p.Truncated(), Capped: p.Capped, Pairs: make([]model.HealthCIPair, len(p.Items))}
	for i, x := range p.Items {
		v.Pairs[i] = model.HealthCIPair{CIIDs: [2]store.ID{x.CIs[0].ID, x.CIs[1].ID}, SharedAttributes: nonNil(x.Shared), NameDistance: x.Distance}
	}
	return v
}
