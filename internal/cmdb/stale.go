package cmdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Staleness: a CI that discovery reported once and that no discovery source
// has reported for its class's period is stale. The check (SweepStale)
// marks it (stale_since: when a source last reported it) and, when the
// policy says so, retires it; both are writes of the check's actor,
// audited. A CI that a source reports again is unmarked by the next check.
// A CI no discovery source ever reported (a business service kept by hand)
// is never stale: only sightings of sources other than "api" count, and
// the check's own writes are the api's.

// AttrStaleSince is the attribute the staleness check marks a stale CI
// with.
const AttrStaleSince = "stale_since"

// NotRetired are the statuses of CIs the organisation still has: a filter
// of every CI but the retired ones.
var NotRetired = []string{"planned", "live", "maintenance"}

// StaleActor is who the staleness check writes as.
var StaleActor = store.Actor{Name: "skein-staleness", Source: "api"}

// StalePolicy is when a CI is stale and what the check does about it.
type StalePolicy struct {
	// After is the period without a discovery sighting after which a CI
	// is stale.
	After time.Duration
	// ByClass overrides After for a class and its subclasses (the nearest
	// class wins).
	ByClass map[string]time.Duration
	// Retire retires stale CIs; otherwise they are only marked.
	Retire bool
}

// Period returns the staleness period of class under m.
func (p StalePolicy) Period(m *Model, class string) time.Duration {
	for c, ok := m.Class(class); ok; {
		if d, set := p.ByClass[c.Def.Name]; set {
			return d
		}
		if c.Def.Parent == "" {
			break
		}
		c, ok = m.Class(c.Def.Parent)
	}
	return p.After
}

// DiscoveryLastSeen returns when a discovery source (any but "api") last
// reported n, and which; zero when none ever did.
func DiscoveryLastSeen(n store.Node) (time.Time, string) {
	var at time.Time
	var by string
	for src, t := range n.SeenBy {
		if src == "api" {
			continue
		}
		if t.After(at) || t.Equal(at) && src < by {
			at, by = t, src
		}
	}
	return at, by
}

// StaleSweep is what one check did.
type StaleSweep struct {
	// Marked are the CIs found stale now, Retired those of them retired,
	// Cleared the CIs a source reported again since they were marked.
	Marked, Retired, Cleared int
}

// SweepStale checks every CI not retired against policy at now: a CI
// whose last discovery sighting is older than its class's period is
// marked stale_since (and retired, when the policy retires), as actor; a
// marked CI that a source has reported since is unmarked. It reads and
// writes as the process (a job of the service). A CI that cannot be
// written does not stop the others: the errors are returned joined.
func (s *Service) SweepStale(ctx context.Context, actor store.Actor, policy StalePolicy, now time.Time) (StaleSweep, error) {
	ctx = auth.AsProcess(ctx)
	m := s.Model()
	var out StaleSweep
	var errs []error
	f := Filter{Status: NotRetired}
	p := store.PageRequest{First: store.MaxPageSize}
	for {
		if err := ctx.Err(); err != nil {
			return out, errors.Join(append(errs, err)...)
		}
		page, err := s.ListNodes(ctx, KindCI, f, p)
		if err != nil {
			return out, errors.Join(append(errs, fmt.Errorf("list CIs: %w", err))...)
		}
		var retire []store.ID
		for _, n := range page.Items {
			last, _ := DiscoveryLastSeen(n)
			marked, isMarked := n.Attributes[AttrStaleSince].(time.Time)
			if last.IsZero() {
				if !isMarked {
					continue // never discovered
				}
				// Every source that reported it stopped (scoped sync
				// marked it when the last one did): stale since then.
				last = marked
			}
			switch {
			case isMarked && last.After(marked):
				if _, err := s.UpdateNode(ctx, actor, KindCI, n.ID, map[string]any{AttrStaleSince: nil}, 0); err != nil {
					errs = append(errs, fmt.Errorf("unmark CI %s: %w", n.ID, err))
					continue
				}
				out.Cleared++
			case now.Sub(last) < policy.Period(m, n.Class):
				continue
			case !isMarked:
				if _, err := s.UpdateNode(ctx, actor, KindCI, n.ID, map[string]any{AttrStaleSince: last.UTC().Format(time.RFC3339Nano)}, 0); err != nil {
					errs = append(errs, fmt.Errorf("mark CI %s stale: %w", n.ID, err))
					continue
				}
				out.Marked++
				fallthrough
			default:
				if policy.Retire {
					retire = append(retire, n.ID)
				}
			}
		}
		if len(retire) > 0 { // one write for the page's stale CIs
			res, err := s.RetireCIs(ctx, actor, retire)
			if err != nil {
				errs = append(errs, fmt.Errorf("retire %d stale CIs: %w", len(retire), err))
			}
			for _, r := range res {
				if r.Status == store.StatusUpdated {
					out.Retired++
				}
			}
		}
		if !page.HasNext || len(page.Items) == 0 {
			return out, errors.Join(errs...)
		}
		p.After = page.Cursors[len(page.Cursors)-1]
	}
}
