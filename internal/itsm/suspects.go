package itsm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// Suspect is a change that may have caused an incident: implemented on
// one of the incident's CIs, or on a CI they depend on, shortly before the
// incident was opened.
type Suspect struct {
	Change store.Node
	// CI is the changed CI that links the change to the incident; Root is
	// the incident's CI that depends on it (the same CI at distance 0).
	CI, Root store.ID
	// Distance is the number of hops from Root to CI.
	Distance int
	// Path is the chain of hops from Root to CI (empty at distance 0).
	Path []store.Step
	// At is when the change's implementation started (its planned start
	// when that was not recorded).
	At time.Time
}

// Bounds of SuspectChanges' arguments.
const (
	DefaultSuspectHours = 24
	MaxSuspectHours     = 24 * 30
)

// implementedStates are the states of a change whose implementation has
// started.
var implementedStates = []string{ChangeImplement, ChangeReview, ChangeClosed}

// SuspectChanges answers "which change broke this?" for incident id: the
// changes whose implementation started within hours before the incident
// was opened, on one of its CIs or on a CI those depend on (what their
// failure reaches, up to depth hops, by the impact rules), each with the
// path that links it. Ranked nearest first (fewest hops), then most
// recent first, then by number. The caller needs read incident, change,
// CI and relationship.
func (s *Service) SuspectChanges(ctx context.Context, id store.ID, hours, depth int) ([]Suspect, error) {
	for _, k := range []auth.Kind{KindIncident, KindChange, auth.KindCI, auth.KindRelationship} {
		if err := auth.Check(ctx, k, auth.Read); err != nil {
			return nil, err
		}
	}
	if hours < 1 || hours > MaxSuspectHours {
		return nil, store.Invalid("hours", "%d; allowed: 1 to %d", hours, MaxSuspectHours)
	}
	if depth < 1 || depth > store.MaxDepth {
		return nil, store.Invalid("depth", "%d; allowed: 1 to %d", depth, store.MaxDepth)
	}
	if s.impact == nil {
		return nil, fmt.Errorf("itsm: no impact analyzer configured")
	}
	found, err := s.cmdb.Nodes(ctx, KindIncident, []store.ID{id})
	if err != nil {
		return nil, err
	}
	inc, ok := found[id]
	if !ok {
		return nil, fmt.Errorf("incident %s: %w", id, store.ErrNotFound)
	}
	opened, ok := inc.Attributes["opened_at"].(time.Time)
	if !ok {
		opened = inc.CreatedAt
	}
	from := opened.Add(-time.Duration(hours) * time.Hour)

	// How near each CI is to the incident: its own CIs at 0, then what
	// they depend on.
	type reach struct {
		root  store.ID
		depth int
		path  []store.Step
	}
	near := map[store.ID]reach{}
	roots, err := s.affected(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		near[r] = reach{root: r}
	}
	for _, r := range roots {
		res, err := s.impact.Dependencies(ctx, r, depth, nil, impact.ReachOptions{Paths: true})
		if err != nil {
			return nil, store.WithField(err, "depth")
		}
		if err := res.Paths(ctx); err != nil {
			return nil, err
		}
		for _, n := range res.Nodes {
			if cur, seen := near[n.CI.ID]; !seen || n.Depth < cur.depth {
				near[n.CI.ID] = reach{root: r, depth: n.Depth, path: n.Path}
			}
		}
	}
	if len(near) == 0 {
		return nil, nil
	}
	cis := make([]store.ID, 0, len(near))
	for ci := range near {
		cis = append(cis, ci)
	}
	slices.Sort(cis)
	best := map[store.ID]Suspect{}
	for lo := 0; lo < len(cis); lo += store.MaxBatch {
		batch := cis[lo:min(lo+store.MaxBatch, len(cis))]
		rels, err := s.st.RelationshipsOf(ctx, batch, store.In, []string{RelAffects})
		if err != nil {
			return nil, err
		}
		var changeIDs []store.ID
		for _, ci := range batch {
			for _, r := range rels[ci] {
				changeIDs = append(changeIDs, r.Source)
			}
		}
		changes, err := s.nodesOf(ctx, KindChange, changeIDs)
		if err != nil {
			return nil, err
		}
		for _, ci := range batch {
			for _, r := range rels[ci] {
				c, ok := changes[r.Source]
				state, _ := c.Attributes["state"].(string)
				if !ok || !slices.Contains(implementedStates, state) {
					continue
				}
				at, ok := c.Attributes["implemented_at"].(time.Time)
				if !ok {
					if at, ok = c.Attributes["planned_start_at"].(time.Time); !ok {
						continue
					}
				}
				if at.Before(from) || at.After(opened) {
					continue
				}
				n := near[ci]
				if cur, seen := best[c.ID]; seen && cur.Distance <= n.depth {
					continue
				}
				best[c.ID] = Suspect{Change: c, CI: ci, Root: n.root, Distance: n.depth, Path: n.path, At: at}
			}
		}
	}
	out := make([]Suspect, 0, len(best))
	for _, sp := range best {
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b Suspect) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		an, _ := a.Change.Attributes["number"].(string)
		bn, _ := b.Change.Attributes["number"].(string)
		return strings.Compare(an, bn)
	})
	return out, nil
}

// nodesOf reads the nodes of kind among ids (any number), in batches.
func (s *Service) nodesOf(ctx context.Context, kind string, ids []store.ID) (map[store.ID]store.Node, error) {
	out := map[store.ID]store.Node{}
	for lo := 0; lo < len(ids); lo += store.MaxBatch {
		found, err := s.cmdb.Nodes(ctx, kind, ids[lo:min(lo+store.MaxBatch, len(ids))])
		if err != nil {
			return nil, err
		}
		for id, n := range found {
			out[id] = n
		}
	}
	return out, nil
}
