package health

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// CMDB is what a Checker reads through the CMDB service; *cmdb.Service
// has it. Its methods check the caller's permissions.
type CMDB interface {
	Model() *cmdb.Model
	ListNodes(ctx context.Context, kind string, f cmdb.Filter, p store.PageRequest) (store.Page[store.Node], error)
	IdentityConflicts(ctx context.Context, p store.PageRequest) (store.Page[store.IdentityConflict], error)
}

// Edges reads the shape of the graph around CIs (store.Traverser has it):
// enough to tell a CI with relationships from one without.
type Edges interface {
	Edges(ctx context.Context, nodes []store.ID, dir store.Direction, types []string) (store.Hops, error)
}

// Defaults of Options.
const (
	// DefaultStaleAfter is how long a CI may go without a discovery
	// sighting before it is stale, when Options.Stale.After is not set
	// (discovery.stale_after's default).
	DefaultStaleAfter = 30 * 24 * time.Hour
	// DefaultMaxListed is how many offenders a figure lists at most.
	DefaultMaxListed = 100
	// DefaultMaxComparisons bounds the name comparisons of the duplicate
	// scan: a few seconds of work at most.
	DefaultMaxComparisons = 2_000_000
)

// Options configure a Checker; zero fields take the defaults.
type Options struct {
	// Stale is when a CI is stale: the staleness check's own policy
	// (discovery.stale_after, per class), so that the figure and the check
	// agree. Only discovery sightings count (cmdb.DiscoveryLastSeen); a CI
	// no discovery source ever reported is never stale.
	Stale cmdb.StalePolicy
	// MaxListed is the most offenders a figure lists, whatever a caller
	// asks for.
	MaxListed int
	// MaxComparisons bounds the name comparisons of the duplicate scan.
	MaxComparisons int
	// Now is the clock staleness is measured at (time.Now when nil).
	Now func() time.Time
}

// Checker computes health reports. It is safe for concurrent use.
type Checker struct {
	cmdb  CMDB
	edges Edges
	o     Options
}

// New returns a Checker reading through svc and g.
func New(svc CMDB, g Edges, o Options) *Checker {
	if o.Stale.After <= 0 {
		o.Stale.After = DefaultStaleAfter
	}
	if o.MaxListed <= 0 {
		o.MaxListed = DefaultMaxListed
	}
	if o.MaxComparisons <= 0 {
		o.MaxComparisons = DefaultMaxComparisons
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Checker{cmdb: svc, edges: g, o: o}
}

// MaxListed is the most offenders a figure of this Checker lists.
func (c *Checker) MaxListed() int { return c.o.MaxListed }

// Offender is a CI that a figure lists.
type Offender struct {
	ID    store.ID
	Name  string
	Class string
	// Missing names the required and recommended attributes an incomplete
	// CI lacks, sorted.
	Missing []string
	// LastSeenAt is when a source last reported the CI.
	LastSeenAt time.Time
}

// List is a figure's count and the first of its offenders, by CI ID.
type List struct {
	// Total counts every offender.
	Total int
	// Items are the first offenders, at most the number asked for.
	Items []Offender
}

// Truncated reports whether Items holds fewer offenders than Total.
func (l List) Truncated() bool { return len(l.Items) < l.Total }

func (l *List) add(o Offender, limit int) {
	l.Total++
	if len(l.Items) < limit {
		l.Items = append(l.Items, o)
	}
}

// Pair is two CIs a figure says may be one thing.
type Pair struct {
	// CIs are the two CIs, the lower ID first. A CI deleted since has
	// only its ID.
	CIs [2]Offender
	// Shared names the attributes whose values the two share (suspected
	// duplicates); empty for identity conflicts.
	Shared []string
	// Distance is the edit distance between the normalised names
	// (suspected duplicates).
	Distance int
}

// Pairs is a figure made of pairs of CIs.
type Pairs struct {
	// Total counts every pair found.
	Total int
	// Items are the first pairs, at most the number asked for.
	Items []Pair
	// Capped reports that the duplicate scan stopped at its comparison
	// budget: Total is then a lower bound.
	Capped bool
}

// Truncated reports whether Items holds fewer pairs than Total.
func (p Pairs) Truncated() bool { return len(p.Items) < p.Total }

// ClassReport is the health of the CIs of one class (exactly that class,
// not its subclasses, which have their own).
type ClassReport struct {
	Class string
	// Required and Recommended are what a complete CI of the class has.
	Required, Recommended []string
	// ExpectsRelationships says a CI-to-CI relationship type names the
	// class or an ancestor: a CI of it without relationships is an orphan.
	ExpectsRelationships bool
	// CIs counts the class's CIs (retired ones aside); Complete those with
	// every required and recommended attribute.
	CIs      int
	Complete int
	// Incomplete lists CIs missing a required or recommended attribute.
	Incomplete List
	// Orphans lists CIs without relationships (ExpectsRelationships only).
	Orphans List
	// Stale lists CIs no source reported for the report's StaleAfter.
	Stale List
}

// Completeness is Complete / CIs (1 for a class without CIs).
func (c ClassReport) Completeness() float64 {
	if c.CIs == 0 {
		return 1
	}
	return float64(c.Complete) / float64(c.CIs)
}

// Report is the health of the CMDB, or of one class and its subclasses.
type Report struct {
	// At is when the report was computed; StaleAfter the default staleness
	// threshold it used.
	At         time.Time
	StaleAfter time.Duration
	// Class is the class asked for ("" for every CI).
	Class string
	// CIs, Complete, Incomplete, Orphans and Stale sum Classes.
	CIs, Complete, Incomplete, Orphans, Stale int
	// Classes are the classes that have CIs, in model order.
	Classes []ClassReport
	// Duplicates are the suspected duplicates.
	Duplicates Pairs
	// Conflicts are the open identity conflicts (of a report's classes,
	// when it has one).
	Conflicts Pairs
}

// Completeness is Complete / CIs over every class (1 without CIs).
func (r Report) Completeness() float64 {
	if r.CIs == 0 {
		return 1
	}
	return float64(r.Complete) / float64(r.CIs)
}

// Report computes the health of the CIs of class and its subclasses (of
// every CI when class is ""), listing at most first offenders per figure
// (0 or more than MaxListed means MaxListed). The caller needs to read CIs,
// relationships and identity conflicts. An unknown class is an
// *store.InvalidError on "class".
func (c *Checker) Report(ctx context.Context, class string, first int) (Report, error) {
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return Report{}, err
	}
	if err := auth.Check(ctx, auth.KindConflict, auth.Read); err != nil {
		return Report{}, err
	}
	if first <= 0 || first > c.o.MaxListed {
		first = c.o.MaxListed
	}
	m := c.cmdb.Model()
	if class != "" {
		cls, ok := m.Class(class)
		if !ok || cls.Kind != cmdb.KindCI {
			return Report{}, store.Invalid("class", "%q is not a CI class", clip(class))
		}
	}
	now := c.o.Now()
	r := Report{At: now, StaleAfter: c.o.Stale.After, Class: class}
	expects := expectingClasses(m)
	byClass := map[string]*ClassReport{}
	var orphanCandidates []Offender
	dups := newDuplicateScan(m, c.o.MaxComparisons)

	p := store.PageRequest{First: store.MaxPageSize}
	for {
		page, err := c.cmdb.ListNodes(ctx, cmdb.KindCI, cmdb.Filter{Class: class, Status: cmdb.NotRetired}, p) // retired CIs count nowhere
		if err != nil {
			return Report{}, fmt.Errorf("health: list CIs: %w", err)
		}
		for _, n := range page.Items {
			cls, ok := m.Class(n.Class)
			if !ok {
				continue // a class retired while its CIs remain: nothing to measure against
			}
			cr := byClass[n.Class]
			if cr == nil {
				cr = &ClassReport{Class: n.Class, ExpectsRelationships: expects[n.Class]}
				cr.Required, cr.Recommended = cls.Expected()
				byClass[n.Class] = cr
			}
			o := Offender{ID: n.ID, Name: nameOf(n), Class: n.Class, LastSeenAt: n.LastSeenAt}
			cr.CIs++
			var missing []string
			for _, set := range [][]string{cr.Required, cr.Recommended} {
				for _, a := range set {
					if !filled(n.Attributes[a]) {
						missing = append(missing, a)
					}
				}
			}
			if len(missing) == 0 {
				cr.Complete++
			} else {
				slices.Sort(missing)
				inc := o
				inc.Missing = missing
				cr.Incomplete.add(inc, first)
			}
			if last, _ := cmdb.DiscoveryLastSeen(n); !last.IsZero() && now.Sub(last) >= c.o.Stale.Period(m, n.Class) {
				cr.Stale.add(o, first)
			}
			if cr.ExpectsRelationships {
				orphanCandidates = append(orphanCandidates, o)
			}
			dups.add(cls, n, o)
		}
		if !page.HasNext || len(page.Items) == 0 {
			break
		}
		p.After = page.EndCursor
	}
	if err := c.orphans(ctx, m, orphanCandidates, byClass, first); err != nil {
		return Report{}, err
	}
	for _, cls := range m.ClassesOf(cmdb.KindCI) {
		cr, ok := byClass[cls.Def.Name]
		if !ok {
			continue
		}
		r.Classes = append(r.Classes, *cr)
		r.CIs += cr.CIs
		r.Complete += cr.Complete
		r.Incomplete += cr.Incomplete.Total
		r.Orphans += cr.Orphans.Total
		r.Stale += cr.Stale.Total
	}
	r.Duplicates = dups.pairs(first)
	conflicts, err := c.conflicts(ctx, m, class, dups.seen, first)
	if err != nil {
		return Report{}, err
	}
	r.Conflicts = conflicts
	return r, nil
}

// edgeChunk is how many CIs one Edges call asks about.
const edgeChunk = 1000

// orphans lists the candidates that have no relationship with another CI.
func (c *Checker) orphans(ctx context.Context, m *cmdb.Model, cands []Offender, byClass map[string]*ClassReport, first int) error {
	types := ciTypes(m)
	if len(types) == 0 {
		return nil
	}
	for start := 0; start < len(cands); start += edgeChunk {
		part := cands[start:min(len(cands), start+edgeChunk)]
		ids := make([]store.ID, len(part))
		for i, o := range part {
			ids[i] = o.ID
		}
		edges, err := c.edges.Edges(ctx, ids, store.Both, types)
		if err != nil {
			return fmt.Errorf("health: read relationships: %w", err)
		}
		for i, o := range part {
			if lo, hi := edges.Of(i); lo == hi {
				byClass[o.Class].Orphans.add(o, first)
			}
		}
	}
	return nil
}

// conflicts reads every open identity conflict: all of them for a report
// of every class, those whose last report was of one of the report's
// classes (or that involve one of its CIs) otherwise.
func (c *Checker) conflicts(ctx context.Context, m *cmdb.Model, class string, seen map[store.ID]Offender, first int) (Pairs, error) {
	var in map[string]bool
	if class != "" {
		in = map[string]bool{}
		for _, n := range m.WithSubclasses(class) {
			in[n] = true
		}
	}
	var out Pairs
	p := store.PageRequest{First: store.MaxPageSize}
	for {
		page, err := c.cmdb.IdentityConflicts(ctx, p)
		if err != nil {
			return Pairs{}, fmt.Errorf("health: list identity conflicts: %w", err)
		}
		for _, ic := range page.Items {
			a, okA := seen[ic.CIs[0]]
			b, okB := seen[ic.CIs[1]]
			if in != nil && !in[ic.Class] && !okA && !okB {
				continue
			}
			out.Total++
			if len(out.Items) < first {
				if !okA {
					a = Offender{ID: ic.CIs[0]}
				}
				if !okB {
					b = Offender{ID: ic.CIs[1]}
				}
				out.Items = append(out.Items, Pair{CIs: [2]Offender{a, b}})
			}
		}
		if !page.HasNext || len(page.Items) == 0 {
			return out, nil
		}
		p.After = page.EndCursor
	}
}

// expectingClasses returns the CI classes whose CIs are expected to have
// relationships: those a CI-to-CI relationship type names as a source or
// target, and their subclasses. The kind's root class (CI) does not count:
// a type naming it names every CI.
func expectingClasses(m *cmdb.Model) map[string]bool {
	root, _ := m.KindRoot(cmdb.KindCI)
	named := map[string]bool{}
	for _, rt := range m.RelTypes() {
		if !joinsCIs(m, rt) {
			continue
		}
		for _, n := range slices.Concat(rt.Def.Sources, rt.Def.Targets) {
			if root == nil || n != root.Def.Name {
				named[n] = true
			}
		}
	}
	out := map[string]bool{}
	for _, cls := range m.ClassesOf(cmdb.KindCI) {
		for _, n := range append([]string{cls.Def.Name}, cls.Ancestors...) {
			if named[n] {
				out[cls.Def.Name] = true
				break
			}
		}
	}
	return out
}

// ciTypes returns the relationship types that join CIs to CIs.
func ciTypes(m *cmdb.Model) []string {
	var out []string
	for _, rt := range m.RelTypes() {
		if joinsCIs(m, rt) && rt.Def.Name != cmdb.DuplicateOf {
			out = append(out, rt.Def.Name)
		}
	}
	return out
}

// joinsCIs reports whether both ends of rt are CIs: a type that names no
// classes at an end joins CIs there (cmdb's rule).
func joinsCIs(m *cmdb.Model, rt *cmdb.RelType) bool {
	for _, n := range slices.Concat(rt.Def.Sources, rt.Def.Targets) {
		if m.KindOf(n) != cmdb.KindCI {
			return false
		}
	}
	return true
}

// filled reports whether an attribute value counts as given: present and,
// for text and lists, not empty.
func filled(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(x) != ""
	case []string:
		return len(x) > 0
	}
	return true
}

func nameOf(n store.Node) string {
	s, _ := n.Attributes["name"].(string)
	return s
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
