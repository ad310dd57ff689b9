package itsm

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/impact"
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

// RecordNear is a record on a CI near another one.
type RecordNear struct {
	Record store.Node
	// CI is the CI the record concerns; Distance its hops from the CI asked
	// about (0: the CI itself).
	CI       store.ID
	Distance int
}

// RecordsAround returns the records still open (incidents and problems
// not resolved or closed, changes not closed or canceled) on CI ci and on
// what it depends on, up to depth hops by the impact rules: nearest first,
// then by kind (incidents, problems, changes), then number; each record
// once, at its nearest CI.
func (s *Service) RecordsAround(ctx context.Context, ci store.ID, depth int) ([]RecordNear, error) {
	for _, k := range []auth.Kind{KindIncident, KindProblem, KindChange} {
		if err := auth.Check(ctx, k, auth.Read); err != nil {
			return nil, err
		}
	}
	dist := map[store.ID]int{ci: 0}
	cis := []store.ID{ci}
	if s.impact != nil {
		res, err := s.impact.Dependencies(ctx, ci, depth, nil, impact.ReachOptions{})
		if err != nil {
			return nil, err
		}
		for _, n := range res.Nodes {
			dist[n.CI.ID] = n.Depth
			cis = append(cis, n.CI.ID)
		}
	}
	open := map[string]func(store.Node) bool{
		KindIncident: func(n store.Node) bool {
			st, _ := n.Attributes["state"].(string)
			return slices.Contains(OpenStates, st)
		},
		KindProblem: func(n store.Node) bool {
			st, _ := n.Attributes["state"].(string)
			return slices.Contains(problemOpen, st)
		},
		KindChange: func(n store.Node) bool {
			st, _ := n.Attributes["state"].(string)
			return st != ChangeClosed && st != ChangeCanceled
		},
	}
	nearest := map[store.ID]store.ID{} // record -> its nearest CI
	for lo := 0; lo < len(cis); lo += store.MaxBatch {
		batch := cis[lo:min(lo+store.MaxBatch, len(cis))]
		rels, err := s.st.RelationshipsOf(ctx, batch, store.In, []string{RelAffects})
		if err != nil {
			return nil, err
		}
		for _, c := range batch {
			for _, r := range rels[c] {
				if cur, seen := nearest[r.Source]; !seen || dist[c] < dist[cur] {
					nearest[r.Source] = c
				}
			}
		}
	}
	ids := make([]store.ID, 0, len(nearest))
	for id := range nearest {
		ids = append(ids, id)
	}
	var out []RecordNear
	for _, kind := range []string{KindIncident, KindProblem, KindChange} {
		nodes, err := s.nodesOf(ctx, kind, ids)
		if err != nil {
			return nil, err
		}
		for id, n := range nodes {
			if open[kind](n) {
				out = append(out, RecordNear{Record: n, CI: nearest[id], Distance: dist[nearest[id]]})
			}
		}
	}
	rank := map[string]int{KindIncident: 0, KindProblem: 1, KindChange: 2}
	slices.SortFunc(out, func(a, b RecordNear) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		if ka, kb := rank[string(a.Record.Kind)], rank[string(b.Record.Kind)]; ka != kb {
			return ka - kb
		}
		return strings.Compare(numberOf(a.Record), numberOf(b.Record))
	})
	return out, nil
}
