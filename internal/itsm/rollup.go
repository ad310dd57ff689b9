package itsm

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Records on a set of CIs, as impact analysis rolls them up: the open
// incidents already hurting what a failure or a change would reach, and the
// changes planned on it in a window.

// recordsOn returns the records of kind with an AFFECTS relationship to
// any of cis that keep says to keep, each once.
func (s *Service) recordsOn(ctx context.Context, cis []store.ID, kind string, keep func(store.Node) bool) ([]store.Node, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return nil, err
	}
	if err := auth.Check(ctx, auth.Kind(kind), auth.Read); err != nil {
		return nil, err
	}
	seen := map[store.ID]bool{}
	var ids []store.ID
	for lo := 0; lo < len(cis); lo += store.MaxBatch {
		batch := cis[lo:min(lo+store.MaxBatch, len(cis))]
		rels, err := s.st.RelationshipsOf(ctx, batch, store.In, []string{RelAffects})
		if err != nil {
			return nil, err
		}
		for _, ci := range batch {
			for _, r := range rels[ci] {
				if !seen[r.Source] {
					seen[r.Source] = true
					ids = append(ids, r.Source)
				}
			}
		}
	}
	nodes, err := s.nodesOf(ctx, kind, ids)
	if err != nil {
		return nil, err
	}
	var out []store.Node
	for _, id := range ids {
		if n, ok := nodes[id]; ok && keep(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// OpenIncidentsOn returns the open incidents (new, in progress, on hold)
// on any of cis, most urgent first: by priority, then oldest first.
func (s *Service) OpenIncidentsOn(ctx context.Context, cis []store.ID) ([]store.Node, error) {
	out, err := s.recordsOn(ctx, cis, KindIncident, func(n store.Node) bool {
		st, _ := n.Attributes["state"].(string)
		return slices.Contains(OpenStates, st)
	})
	slices.SortFunc(out, func(a, b store.Node) int {
		pa, _ := a.Attributes["priority"].(int64)
		pb, _ := b.Attributes["priority"].(int64)
		if pa != pb {
			return int(pa - pb)
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out, err
}

// ChangesOn returns the changes on any of cis that are planned (not
// closed or canceled) with a window overlapping [from, to), soonest first.
func (s *Service) ChangesOn(ctx context.Context, cis []store.ID, from, to time.Time) ([]store.Node, error) {
	if !from.Before(to) {
		return nil, store.Invalid("to", "must be after from")
	}
	out, err := s.recordsOn(ctx, cis, KindChange, func(n store.Node) bool {
		st, _ := n.Attributes["state"].(string)
		start, ok1 := n.Attributes["planned_start_at"].(time.Time)
		end, ok2 := n.Attributes["planned_end_at"].(time.Time)
		return st != ChangeClosed && st != ChangeCanceled && ok1 && ok2 && start.Before(to) && from.Before(end)
	})
	slices.SortFunc(out, func(a, b store.Node) int {
		sa, _ := a.Attributes["planned_start_at"].(time.Time)
		sb, _ := b.Attributes["planned_start_at"].(time.Time)
		if c := sa.Compare(sb); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out, err
}
