package impact

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Graph is the part of a store the analyzer reads: bounded breadth-first
// expansions and shortest paths, CIs by id, and the relationships of a
// batch of CIs. Both store backends implement it.
type Graph interface {
	store.Traverser
	// Nodes returns the nodes of kind with the given ids; absent ids are
	// absent from the map. See store.NodeReader.
	Nodes(ctx context.Context, kind store.ObjectKind, ids []store.ID) (map[store.ID]store.Node, error)
	// NodeFields returns partial nodes: ID, kind, class, version and the
	// named attributes. See store.NodeReader.
	NodeFields(ctx context.Context, kind store.ObjectKind, ids []store.ID, fields []string) (map[store.ID]store.Node, error)
	// RelationshipsOf returns, for each CI, its relationships in direction
	// dir whose type is in types. See store.RelationshipStore.
	RelationshipsOf(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (map[store.ID][]store.Relationship, error)
}

// Defaults and limits of Options.
const (
	// DefaultNodeBudget is the number of CIs one analysis may report.
	DefaultNodeBudget = 50_000
	// DefaultMaxStarts is the number of start CIs one request may name.
	DefaultMaxStarts = 1000
	// DefaultTimeout bounds one analysis, all its store calls included.
	DefaultTimeout = time.Minute
	// DefaultBusinessServiceClass is the class (with its subclasses) that
	// Result.BusinessServices rolls up.
	DefaultBusinessServiceClass = "BusinessService"
)

// Options configure an Analyzer. Zero fields take their defaults; values
// beyond the store's limits are lowered to them.
//
// Requests have no default depth: every depth a request gives must be
// between 1 and MaxDepth. Defaults belong to the caller (the GraphQL
// schema declares each argument's).
type Options struct {
	// MaxDepth is the largest depth a request may ask for (default and at
	// most store.MaxDepth).
	MaxDepth int
	// NodeBudget bounds the CIs one call reports beyond its starts (default
	// 50,000, at most store.MaxNodes). Reaching it stops the analysis and
	// sets Truncated.
	NodeBudget int
	// MaxStarts bounds the start CIs of one impact request (default 1000,
	// at most store.MaxBatch).
	MaxStarts int
	// Timeout bounds one call, all its store calls included (default one
	// minute).
	Timeout time.Duration
	// BusinessServiceClass names the class whose impacted CIs (its
	// subclasses' too) Result.BusinessServices lists (default
	// "BusinessService").
	BusinessServiceClass string
}

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 || o.MaxDepth > store.MaxDepth {
		o.MaxDepth = store.MaxDepth
	}
	if o.NodeBudget <= 0 {
		o.NodeBudget = DefaultNodeBudget
	}
	o.NodeBudget = min(o.NodeBudget, store.MaxNodes)
	if o.MaxStarts <= 0 {
		o.MaxStarts = DefaultMaxStarts
	}
	o.MaxStarts = min(o.MaxStarts, store.MaxBatch)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.BusinessServiceClass == "" {
		o.BusinessServiceClass = DefaultBusinessServiceClass
	}
	return o
}

// Analyzer answers impact and dependency questions over a Graph. It keeps
// no state between calls and is safe for concurrent use.
type Analyzer struct {
	g     Graph
	model func() *cmdb.Model
	opts  Options
}

// New returns an Analyzer over g. model returns the current class model; it
// is called once per request, so relationship types registered at run time
// are used as soon as the model has them (pass cmdb.Service.Model).
func New(g Graph, model func() *cmdb.Model, opts Options) *Analyzer {
	return &Analyzer{g: g, model: model, opts: opts.withDefaults()}
}

// Options returns the analyzer's effective options, defaults applied.
func (a *Analyzer) Options() Options { return a.opts }

// Effect is what happens to an impacted CI.
type Effect int

// Effects, from worst to mildest.
const (
	// Down means the CI no longer works.
	Down Effect = iota + 1
	// AtRisk means the CI stays up, but one more failure takes it down: a
	// group it depends on (over relationships that carry failure as down)
	// has no member to spare.
	AtRisk
	// RedundancyReduced means the CI stays up and the groups it depends on
	// lost members (or have members at risk) but can each lose one more.
	RedundancyReduced
	// Degraded means the CI works with reduced capacity or recoverability:
	// it is reached only over relationships that degrade (BACKED_UP_BY) or
	// from start CIs assumed degraded.
	Degraded
)

var effectNames = map[Effect]string{Down: "down", AtRisk: "at_risk", RedundancyReduced: "redundancy_reduced", Degraded: "degraded"}

// String returns "down", "at_risk", "redundancy_reduced" or "degraded".
func (e Effect) String() string {
	if s, ok := effectNames[e]; ok {
		return s
	}
	return fmt.Sprintf("Effect(%d)", int(e))
}

// MarshalText encodes the effect as its String.
func (e Effect) MarshalText() ([]byte, error) {
	if _, ok := effectNames[e]; !ok {
		return nil, fmt.Errorf("impact: invalid effect %d", int(e))
	}
	return []byte(e.String()), nil
}

// ParseEffect returns the effect named by its String, or an
// *store.InvalidError on field.
func ParseEffect(field, s string) (Effect, error) {
	for e, name := range effectNames {
		if name == s {
			return e, nil
		}
	}
	return 0, store.Invalid(field, "must be down, at_risk, redundancy_reduced or degraded")
}

// Headroom is how much redundancy is left to an impacted CI that stays up:
// the group (a CI that receives failure over a redundancy type, such as a
// cluster) that explains its effect, with the group's members up and
// needed. Members that are down or not operational are not up.
type Headroom struct {
	// Group is the group's ID, kind, class, version and SummaryFields
	// attributes, and its k attribute (read the rest by ID).
	Group  store.CI
	Up     int
	Needed int
}

// CheckDepth is the one rule of every depth a request gives: from 1 to
// the analyzer's MaxDepth. It returns nil or an *store.InvalidError on
// field, the argument as the caller named it ("maxDepth", "depth").
func (a *Analyzer) CheckDepth(field string, depth int) error {
	if depth < 1 || depth > a.opts.MaxDepth {
		return store.Invalid(field, "must be between 1 and %d (traversal.max_depth), got %d", a.opts.MaxDepth, depth)
	}
	return nil
}

// typeRules returns an edge rule in direction dir for each named type
// (every type of the model when types is empty), or an *store.InvalidError
// on "types[i]" naming the valid types.
func typeRules(m *cmdb.Model, types []string, dir store.Direction) ([]store.EdgeRule, error) {
	if len(types) == 0 {
		rts := m.RelTypes()
		rules := make([]store.EdgeRule, len(rts))
		for i, rt := range rts {
			rules[i] = store.EdgeRule{Type: rt.Def.Name, Dir: dir}
		}
		return rules, nil
	}
	if len(types) > 256 {
		return nil, store.Invalid("types", "at most 256 relationship types, got %d", len(types))
	}
	var rules []store.EdgeRule
	seen := map[string]bool{}
	for i, t := range types {
		rt, err := m.LookupRelType(fmt.Sprintf("types[%d]", i), t)
		if err != nil {
			return nil, err
		}
		if !seen[rt.Def.Name] {
			seen[rt.Def.Name] = true
			rules = append(rules, store.EdgeRule{Type: rt.Def.Name, Dir: dir})
		}
	}
	return rules, nil
}

// groupRule is a relationship type with a redundancy rule: the CI failure
// travels to is a group of the CIs on the other end.
type groupRule struct {
	typ  string
	dir  store.Direction // from a member to its group
	attr string          // the group's attribute holding k
}

// impactRules are the edge rules of the model's impact semantics, each in
// the direction failure travels.
type impactRules struct {
	groups []groupRule
	// sides are the types that propagate an effect by the direction
	// failure travels along them (In: from target to source, read as a
	// CI's incoming relationships), each with how it carries the effect.
	sides []side
	// groupSides are the sides along which each of groups is read from
	// the group: its members, one type each.
	groupSides []side
	// types are the names of the types of sides and groupSides, sorted:
	// a link names its type by its place here, so that comparing two
	// places compares the names.
	types []string
	// groupFields are the attributes a group is read with: SummaryFields
	// and the groups' k attributes.
	groupFields []string
}

// side is one direction in which an analysis reads relationships (In or
// Out) and the types it reads that way.
type side struct {
	dir   store.Direction
	types []string
	// kinds says how each of types carries an effect, and idx is the place
	// of each in impactRules.types.
	kinds []hopKind
	idx   []uint32
}

func compileRules(m *cmdb.Model) impactRules {
	var r impactRules
	in, out := side{dir: store.In}, side{dir: store.Out}
	for _, rt := range m.RelTypes() {
		imp := rt.Def.Impact
		name := rt.Def.Name
		var sd *side
		switch imp.Propagates {
		case cmdb.TargetToSource:
			sd = &in
		case cmdb.SourceToTarget:
			sd = &out
		default:
			continue
		}
		kind := hopDegrades
		switch {
		case imp.Redundancy != "":
			r.groups = append(r.groups, groupRule{typ: name, dir: sd.dir, attr: imp.Redundancy})
			kind = hopGroup
		case imp.Effect == cmdb.EffectDown:
			kind = hopDown
		}
		sd.types = append(sd.types, name)
		sd.kinds = append(sd.kinds, kind)
	}
	for _, g := range r.groups {
		r.groupSides = append(r.groupSides, side{dir: reverse(g.dir), types: []string{g.typ}})
	}
	for _, sd := range []side{in, out} {
		if len(sd.types) > 0 {
			r.sides = append(r.sides, sd)
		}
	}
	for _, sd := range r.sides {
		r.types = append(r.types, sd.types...)
	}
	slices.Sort(r.types)
	r.types = slices.Compact(r.types)
	place := func(sd *side) {
		sd.idx = make([]uint32, len(sd.types))
		for t, typ := range sd.types {
			i, _ := slices.BinarySearch(r.types, typ)
			sd.idx[t] = uint32(i)
		}
	}
	for i := range r.sides {
		place(&r.sides[i])
	}
	for i := range r.groupSides {
		place(&r.groupSides[i])
	}
	r.groupFields = slices.Clone(SummaryFields)
	for _, g := range r.groups {
		if !slices.Contains(r.groupFields, g.attr) {
			r.groupFields = append(r.groupFields, g.attr)
		}
	}
	return r
}

// reverse returns the opposite direction of Out or In.
func reverse(d store.Direction) store.Direction {
	if d == store.Out {
		return store.In
	}
	return store.Out
}

// withTimeout bounds one call by the analyzer's timeout.
func (a *Analyzer) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, a.opts.Timeout)
}

// failed says so when an error comes from the analyzer's own time limit
// running out (ctx is the bounded context, parent the caller's).
func (a *Analyzer) failed(parent, ctx context.Context, err error) error {
	if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeLimitError{Limit: a.opts.Timeout, Err: err}
	}
	return err
}

// TimeLimitError is a call that ran past Options.Timeout. It matches
// context.DeadlineExceeded whatever the store made of the deadline (Neo4j's
// driver may report a read cut short as a failed connection), so that
// every API says "took too long" for it, on both stores.
type TimeLimitError struct {
	Limit time.Duration
	Err   error // what the store answered when the time ran out
}

func (e *TimeLimitError) Error() string {
	return fmt.Sprintf("impact: gave up after the time limit of %s: %v", e.Limit, e.Err)
}

// Unwrap gives context.DeadlineExceeded and the store's error.
func (e *TimeLimitError) Unwrap() []error { return []error{context.DeadlineExceeded, e.Err} }

// loadCIs reads CIs in batches of store.MaxBatch.
func (a *Analyzer) loadCIs(ctx context.Context, ids []store.ID) (map[store.ID]store.CI, error) {
	out := make(map[store.ID]store.CI, len(ids))
	for chunk := range slices.Chunk(ids, store.MaxBatch) {
		got, err := a.g.Nodes(ctx, store.KindCI, chunk)
		if err != nil {
			return nil, fmt.Errorf("impact: load CIs: %w", err)
		}
		for id, ci := range got {
			out[id] = ci
		}
	}
	return out, nil
}

// SummaryFields are the attributes of an impacted CI that an analysis
// reads (Impacted.CI holds only these): its name for the order, what the
// roll-ups count (owner, support group, criticality of business services)
// and what a reader of a long list scans (status, environment).
var SummaryFields = store.SummaryAttributes

// summaries reads the summaries of CIs: a traversal reaching tens of
// thousands of CIs reads their summaries, not the CIs (their identity
// keys, provenance and sightings, most of the cost of a node read). It
// calls set with each that is a CI and its index in ids (s is set's to
// copy). A store that serves graph views answers from one view a batch;
// any other through NodeFields.
func (a *Analyzer) summaries(ctx context.Context, ids []store.ID, set func(i int, s *store.Summary)) error {
	if v, ok := a.g.(store.GraphViewer); ok {
		err := summariesByView(ctx, v, ids, set)
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
	}
	err := fieldsByCalls(ctx, a.g, ids, SummaryFields, func(i int, ci store.CI) {
		s := store.SummaryOf(ci)
		set(i, &s)
	})
	if err != nil {
		return fmt.Errorf("impact: load CIs: %w", err)
	}
	return nil
}

// summariesByView is summaries through views of v, one a batch.
func summariesByView(ctx context.Context, v store.GraphViewer, ids []store.ID, set func(i int, s *store.Summary)) error {
	ns := make([]int32, 0, min(len(ids), store.MaxBatch))
	at := make([]int, 0, cap(ns))
	out := make([]store.Summary, cap(ns))
	for lo := 0; lo < len(ids); lo += store.MaxBatch {
		chunk := ids[lo:min(lo+store.MaxBatch, len(ids))]
		err := v.ViewGraph(ctx, func(gv store.GraphView) error {
			ns, at = ns[:0], at[:0]
			for j, id := range chunk {
				if n, ok := gv.Node(id); ok {
					ns, at = append(ns, n), append(at, lo+j)
				}
			}
			got := out[:len(ns)]
			if err := gv.Summaries(ctx, store.KindCI, ns, got); err != nil {
				return err
			}
			for k := range got {
				if got[k].ID != "" {
					set(at[k], &got[k])
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// byDepthNameID returns the order of n CIs (at returns the depth and CI of
// the i-th) by depth, then name, then ID. It sorts indexes, not the CIs:
// they are large, and moving them (or keys holding strings) while the
// garbage collector runs costs a write barrier a pointer, which profiles
// of busy servers show.
func byDepthNameID(n int, at func(i int) (depth int, name string, id store.ID)) []int32 {
	depths := make([]int, n)
	names := make([]string, n)
	ids := make([]store.ID, n)
	idx := make([]int32, n)
	for i := range n {
		depths[i], names[i], ids[i] = at(i)
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(x, y int32) int {
		return cmp.Or(cmp.Compare(depths[x], depths[y]), strings.Compare(names[x], names[y]), strings.Compare(string(ids[x]), string(ids[y])))
	})
	return idx
}

// permute puts list in the order given (a permutation of its indexes).
func permute[T any](list []T, order []int32) {
	sorted := make([]T, len(list))
	for i, k := range order {
		sorted[i] = list[k]
	}
	copy(list, sorted)
}

// pred is how a CI was reached: from via over step, at depth.
type pred struct {
	depth int
	via   store.ID
	step  hop
}

// hop is a step of a path as an analysis keeps it: the relationship's type
// and ends, and its ID only when the store gave one. A store.Step holds a
// whole store.Relationship (about 150 bytes) and its ID costs an encoding;
// an analysis keeps a hop for every CI it reaches and every relationship
// it reads, and builds steps only for the paths it returns.
type hop struct {
	typ      string
	src, dst store.ID
	id       store.ID
	fwd      bool
}

// hopOf keeps the parts of s that name its relationship.
func hopOf(s store.Step) hop { return hopAlong(s.Rel, s.Forward) }

// hopAlong is the hop over r, forward (from its source to its target) or
// not.
func hopAlong(r store.Relationship, forward bool) hop {
	return hop{typ: r.Type, src: r.Source, dst: r.Target, id: r.ID, fwd: forward}
}

// relID returns the relationship's ID, derived from its key when the store
// gave none.
func (h hop) relID() store.ID {
	if h.id != "" {
		return h.id
	}
	return store.RelationshipKey{Type: h.typ, Source: h.src, Target: h.dst}.ID()
}

// step returns h as a path step: the relationship's type, ends and ID, so
// paths look the same whichever call found them.
func (h hop) step() store.Step {
	return store.Step{Rel: store.Relationship{ID: h.relID(), Type: h.typ, Source: h.src, Target: h.dst}, Forward: h.fwd}
}

// pathTo returns the explaining path to id by following preds back to a
// start (a CI with no pred, or depth 0).
func pathTo(preds map[store.ID]pred, id store.ID) []store.Step {
	p, ok := preds[id]
	if !ok || p.depth == 0 {
		return nil
	}
	path := make([]store.Step, p.depth)
	for i := len(path) - 1; i >= 0 && ok; i-- {
		path[i] = p.step.step()
		p, ok = preds[p.via]
	}
	return path
}

// ciName is the name attribute of a CI ("" when unset).
func ciName(ci store.CI) string {
	s, _ := ci.Attributes["name"].(string)
	return s
}

// intValue reads an int attribute's value, reporting whether it is one.
func intValue(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		return int64(v), true
	}
	return 0, false
}

// listIDs formats ids for an error message, at most ten of them.
// UnknownCIsError reports start CIs that do not exist. It is an
// *store.InvalidError on "ciIds" (errors.As finds one through Unwrap);
// callers that know the IDs by other names (the API's global IDs) can list
// IDs themselves.
type UnknownCIsError struct {
	IDs []store.ID
}

func (e *UnknownCIsError) Error() string { return e.invalid().Error() }

// Unwrap returns the *store.InvalidError the error stands for.
func (e *UnknownCIsError) Unwrap() error { return e.invalid() }

func (e *UnknownCIsError) invalid() *store.InvalidError {
	return store.Invalid("ciIds", "unknown CIs: %s", listIDs(e.IDs))
}

func listIDs(ids []store.ID) string {
	const show = 10
	parts := make([]string, 0, min(len(ids), show))
	for _, id := range ids[:min(len(ids), show)] {
		parts = append(parts, fmt.Sprintf("%q", clipID(id)))
	}
	out := strings.Join(parts, ", ")
	if len(ids) > show {
		out += fmt.Sprintf(" and %d more", len(ids)-show)
	}
	return out
}

// checkRead refuses a caller who may not read CIs and relationships, which
// every analysis reads (auth.Check; the process itself may).
func checkRead(ctx context.Context) error {
	if err := auth.Check(ctx, auth.KindCI, auth.Read); err != nil {
		return err
	}
	return auth.Check(ctx, auth.KindRelationship, auth.Read)
}
