package impact

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Request asks for an impact analysis.
type Request struct {
	// CIs are the start CIs, assumed to fail (1..Options.MaxStarts;
	// duplicates are ignored). Every one must exist.
	CIs []store.ID
	// MaxDepth bounds the hops from a start (1..Options.MaxDepth). Effects
	// are those established within it: a CI that would go down only through
	// a longer chain is reported with the worst effect a chain within reach
	// gives it.
	MaxDepth int
	// Assume is what happens to the start CIs: Down (the default when zero)
	// or Degraded. Assuming Degraded, nothing can go down.
	Assume Effect
	// IgnoreStatus evaluates redundancy as if every CI were operational.
	// By default a member whose status is not operational (see
	// cmdb.Operational: planned, maintenance, retired) already counts as
	// unavailable.
	IgnoreStatus bool
	// Unordered leaves Result.Impacted in no set order, sparing the sort of
	// every CI reached, for a caller that counts, rolls up or pages them
	// (Page orders by itself) but does not list them in order. Every other
	// part of the result is the same.
	Unordered bool
	// SummaryOnly asks for the counts, roll-ups and business services
	// only: Result.Impacted is left nil, and the CIs reached are rolled
	// up as their summaries are read, a batch at a time, not kept (on a
	// hub, tens of thousands of summaries the caller would not read).
	// Every other part of the result is the same.
	SummaryOnly bool
}

// Impacted is one CI an analysis reached, reported once, with its worst
// effect.
type Impacted struct {
	// CI is the CI's summary: its ID, kind, class, version and
	// SummaryFields attributes (read the rest by ID for the CIs a reader
	// shows).
	CI store.Summary
	// Depth is the number of hops at which the CI reached Effect (the
	// minimum over every explanation); 0 for a start CI.
	Depth int
	// Effect is the worst that happens to the CI.
	Effect Effect
	// Headroom is, for AtRisk and RedundancyReduced, the group on the
	// CI's path (Result.PathOf) whose redundancy explains the effect; nil
	// otherwise.
	Headroom *Headroom
}

// Start is a start CI of an analysis, whole, with the effect assumed.
type Start struct {
	CI     store.CI
	Effect Effect
}

// Contact is an owner or support group with the number of impacted CIs it
// answers for.
type Contact struct {
	// Name is the value of the CIs' owner or support_group attribute.
	Name string
	CIs  int
	// Node is the person or group Name resolves to, once ResolveContacts
	// ran: the target of the OWNED_BY or SUPPORTED_BY edge the CMDB keeps
	// from that attribute. Nil for a name that resolves to nobody.
	Node *store.Node
}

// ClassCount is the number of impacted CIs of one class (exact class, not
// counting subclasses into their parents).
type ClassCount struct {
	Class string
	CIs   int
}

// Result is the outcome of Analyze.
type Result struct {
	// Starts are the start CIs with the assumed effect, sorted by name,
	// then ID.
	Starts []Start
	// Impacted are the CIs reached beyond the starts, sorted by depth, then
	// name, then id (in no set order with Request.Unordered; nil with
	// Request.SummaryOnly: Count says how many there are).
	Impacted []Impacted
	// BusinessServices are the impacted CIs of Options.BusinessServiceClass
	// or a subclass (start CIs excluded): by effect, worst first (down, at
	// risk, redundancy reduced, degraded), then by criticality (1 first,
	// unset last), then name. Their criticality,
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
	// Down, AtRisk, RedundancyReduced and Degraded count the impacted CIs
	// by effect.
	Down, AtRisk, RedundancyReduced, Degraded int
	// NotOperationalStarts are the start CIs whose status is not
	// operational (planned, maintenance, retired): assuming they fail
	// changes less than it seems, since they are not in service.
	NotOperationalStarts []store.CI
	// MaxDepth is the depth the analysis used.
	MaxDepth int
	// Truncated reports that the node budget stopped the analysis: more CIs
	// may be impacted, and some reported up may in fact be down.
	Truncated bool
	// an is the finished analysis, which PathOf reads.
	an *analysis
}

// Count is the number of impacted CIs (start CIs excluded): the length
// of Impacted, whether or not the analysis listed them.
func (r *Result) Count() int { return r.Down + r.AtRisk + r.RedundancyReduced + r.Degraded }

// PathOf returns what explains im's effect: the hops from a start CI to
// im's CI, im.Depth of them, each over a relationship type that carries
// the effect in the direction travelled; empty for a start CI. Paths are
// built when asked, for the CIs a reader shows, not for every CI reached.
func (r *Result) PathOf(im Impacted) []store.Step {
	if r.an == nil || im.Depth == 0 {
		return nil
	}
	return r.an.path(im.CI.ID, im.Effect)
}

// Analyze assumes req.CIs fail and reports what else goes down or degrades,
// why, and whom it concerns (see the package documentation for the rules
// and the algorithm).
//
// Bad input is an *store.InvalidError: on "ciIds" (none, too many, or CIs
// that do not exist, which it lists), "ciIds[i]" (an empty id), "maxDepth"
// or "assume" (only Down or Degraded may be assumed). Store failures are returned wrapped.
func (a *Analyzer) Analyze(ctx context.Context, req Request) (*Result, error) {
	if err := checkRead(ctx); err != nil {
		return nil, err
	}
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
	list := listOrdered
	switch {
	case req.SummaryOnly:
		list = listNone
	case req.Unordered:
		list = listUnordered
	}
	res, err := a.analyze(bounded, m, depth, assume, starts, !req.IgnoreStatus, list, true)
	if errors.Is(err, errViewChanged) {
		// A node the analysis had met was purged and its number reused
		// while it ran, or a subgraph read at its start did not hold what
		// it asked for: again through the store's calls, which name CIs by
		// ID.
		res, err = a.analyze(bounded, m, depth, assume, starts, !req.IgnoreStatus, list, false)
	}
	return res, a.failed(ctx, bounded, err)
}

// listing is how a result lists the impacted CIs (Result.Impacted).
type listing uint8

const (
	listOrdered   listing = iota // sorted by depth, name, id
	listUnordered                // in no set order (Request.Unordered)
	listNone                     // not at all (Request.SummaryOnly)
)

// analyze runs an analysis; views says whether it may read through graph
// views (reader.go).
func (a *Analyzer) analyze(ctx context.Context, m *cmdb.Model, depth int, assume Effect, starts []store.ID, useStatus bool, list listing, views bool) (*Result, error) {
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

	an := &analysis{
		a: a, r: compileRules(m), maxDepth: depth, useStatus: useStatus,
		of: map[store.ID]handle{},
	}
	hs := make([]handle, len(starts))
	for i, id := range starts {
		hs[i] = an.intern(id)
		an.st[hs[i]].flags |= isStart
		if useStatus && !cmdb.Operational(startCIs[id].Attributes) {
			an.st[hs[i]].flags |= isUnavailable
		}
	}
	rd, done, err := a.readerFor(ctx, an, starts, views)
	if err != nil {
		return nil, err
	}
	defer done()
	an.rd = rd
	if assume == Down {
		if err := an.propagateDown(ctx, hs); err != nil {
			return nil, err
		}
		if err := an.seedFromDown(ctx); err != nil {
			return nil, err
		}
	} else {
		for _, h := range hs {
			an.offer(h, Degraded, label{})
		}
	}
	if err := an.propagateUp(ctx); err != nil {
		return nil, err
	}
	an.releaseHops()
	return an.result(ctx, m, assume, startCIs, starts, list)
}

// hopBufs pools the hop arrays of analyses (hopsOf): an analysis's
// lasts as long as its phases, its result as long as its caller keeps it.
var hopBufs = sync.Pool{New: func() any { return new([]hopTo) }}

// releaseHops returns the analysis's hop array to hopBufs once its phases
// are over.
func (an *analysis) releaseHops() {
	if an.hopBuf != nil {
		b := an.hopBuf[:0]
		hopBufs.Put(&b)
		an.hopBuf = nil
	}
	an.sortBuf = nil // a result keeps its analysis: not its sorting room
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

// analysis is the state of one Analyze call. It numbers the CIs it meets
// (handles, in the order it meets them) and keeps what it knows of each in
// a slice by handle: a CI's ID is hashed once, when a relationship first
// names it, and every later question (is it down, its labels, its group)
// is an index, not a lookup by a 36-byte string.
type analysis struct {
	a        *Analyzer
	rd       reader
	r        impactRules
	maxDepth int
	// ids and st are the CIs met, by handle; of finds a CI's handle (the
	// handles a viewReader numbers are added to it when a path is first
	// asked for, by ofAll).
	ids []store.ID
	// keys order ids (idKeyOf), by handle; textKeys: not every ID met is
	// shaped like a UUID, so keys are the IDs' first bytes.
	keys     []idKey
	textKeys bool
	st       []node
	of       map[store.ID]handle
	// count is the number of CIs down beyond the starts.
	count int
	// sums holds the summaries already read (groups and their members),
	// by node.sum.
	sums      []store.Summary
	truncated bool
	useStatus bool
	// touched holds the groups a down CI is a member of, with how they were
	// first reached (phase 1), and degradedBy the CIs a down CI reaches
	// over a "degrades" type.
	touched, degradedBy map[handle]apred
	// reached counts the CIs labelled (down or not) beyond the starts.
	reached int
	// epoch numbers the passes that mark the CIs they have seen (node.mark).
	epoch uint32
	// labelArena and labelsArena hold phase 2's labels and label arrays
	// (newLabel, newLabels); filled, each is replaced, not grown, so that
	// pointers into them stay valid.
	labelArena  []label
	labelsArena [][nEffects]*label
	// hopBuf holds the hops of the level being read (hopsOf).
	hopBuf []hopTo
	// sortBuf is sortByID's room for keys.
	sortBuf []keyed
	// ofAll completes of, once, for the paths of a finished analysis.
	ofAll sync.Once
}

// handle numbers a CI within one analysis: its index in analysis.st.
type handle int32

// node is what an analysis knows of one CI.
type node struct {
	// down is how the CI went down, when flags has isDown (the starts at
	// depth 0 when they are assumed down).
	down apred
	// labels holds, for a CI reached in phase 2, the best label of each
	// effect (by depth) that no worse effect at a smaller or equal depth
	// dominates.
	labels *[nEffects]*label
	// group is the CI's members and k, once read (groups only).
	group *group
	// mark is the epoch of the last pass that saw the CI.
	mark uint32
	// sum is 1 + the index of the CI's summary in analysis.sums, 0 while
	// it is not read.
	sum   int32
	flags uint8
}

// Flags of a node.
const (
	isStart uint8 = 1 << iota
	isDown
	// isUnavailable: the CI is not operational (a start or a group member),
	// so it counts as down when redundancy is evaluated.
	isUnavailable
	// inFrontier: the CI is in phase 1's current frontier.
	inFrontier
)

// apred is how the analysis reached a CI: from via over step, at depth.
type apred struct {
	depth int
	via   handle
	step  link
}

// intern returns the handle of id, numbering it if it is new. It may grow
// an.st: pointers into it do not survive a call.
func (an *analysis) intern(id store.ID) handle {
	if h, ok := an.of[id]; ok {
		return h
	}
	h := an.add(id)
	an.of[id] = h
	return h
}

// add numbers a CI met for the first time.
func (an *analysis) add(id store.ID) handle {
	h := handle(len(an.ids))
	an.ids = push(an.ids, id)
	if !an.textKeys && !uuidShaped(id) {
		// The first ID not shaped like a UUID: every key becomes the
		// ID's first 16 bytes.
		an.textKeys = true
		for i, met := range an.ids[:h] {
			an.keys[i] = idKeyOf(met, false)
		}
	}
	an.keys = push(an.keys, idKeyOf(id, !an.textKeys))
	an.st = push(an.st, node{})
	return h
}

// push appends v to s, doubling its capacity when it is full: append
// grows a large slice by a quarter at a time, which copied an analysis's
// arrays by CI about five times over on a hub (50,000 CIs: 21 MB
// allocated for 4 MB kept).
func push[T any](s []T, v T) []T {
	if len(s) == cap(s) {
		s = slices.Grow(s, max(len(s), 64))
	}
	return append(s, v)
}

// idKey is two numbers that order IDs as comparing them does, unless they
// are equal.
type idKey [2]uint64

// uuidShaped reports whether id is shaped like a UUID as Skein writes them
// (store.NewID): 36 bytes, dashes at 8, 13, 18 and 23.
func uuidShaped(id store.ID) bool {
	return len(id) == 36 && id[8] == '-' && id[13] == '-' && id[18] == '-' && id[23] == '-'
}

// idKeyOf returns the key of id: its first 16 bytes, big-endian (zeros past
// its end), or, if uuid (id is uuidShaped), its first 16 bytes that are
// not dashes. Keys of one form order their IDs as comparing the IDs does
// unless they are equal. Node IDs are version 7 UUIDs, whose first 12
// digits are the millisecond they were made in, then the version, then a
// counter: the CIs of one batch share their first 14 bytes, and the second
// form still tells them apart.
func idKeyOf(id store.ID, uuid bool) idKey {
	var b [16]byte
	if uuid {
		copy(b[:8], id[:8])
		copy(b[8:12], id[9:13])
		copy(b[12:], id[14:18])
	} else {
		copy(b[:], id)
	}
	return idKey{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// cmpID compares the IDs of two CIs (the analysis orders by ID wherever
// both stores must agree): by their keys, then, if those are equal, whole.
func (an *analysis) cmpID(x, y handle) int {
	a, b := &an.keys[x], &an.keys[y]
	if a[0] != b[0] {
		return cmp.Compare(a[0], b[0])
	}
	if a[1] != b[1] {
		return cmp.Compare(a[1], b[1])
	}
	return cmp.Compare(an.ids[x], an.ids[y])
}

// keepSummary keeps a copy of the CI's summary (once read, a group's or
// a member's is not read again).
func (an *analysis) keepSummary(h handle, s *store.Summary) {
	if an.st[h].sum == 0 {
		an.sums = push(an.sums, *s)
		an.st[h].sum = int32(len(an.sums))
	}
}

// summary returns the CI's summary kept by keepSummary, nil if none.
func (an *analysis) summary(h handle) *store.Summary {
	if i := an.st[h].sum; i > 0 {
		return &an.sums[i-1]
	}
	return nil
}

// is reports whether the CI has flag f.
func (an *analysis) is(h handle, f uint8) bool { return an.st[h].flags&f != 0 }

// setDown records that the CI went down as p says.
func (an *analysis) setDown(h handle, p apred) {
	an.st[h].down = p
	an.st[h].flags |= isDown
}

// downBy reports whether the CI is down at depth d or less.
func (an *analysis) downBy(h handle, d int) bool {
	return an.is(h, isDown) && an.st[h].down.depth <= d
}

// newEpoch starts a pass that marks the CIs it sees.
func (an *analysis) newEpoch() uint32 {
	an.epoch++
	return an.epoch
}

// seen marks the CI for the pass ep, reporting whether it was marked
// already.
func (an *analysis) seen(h handle, ep uint32) bool {
	if an.st[h].mark == ep {
		return true
	}
	an.st[h].mark = ep
	return false
}

// sortByID sorts handles by their CIs' IDs: every order an analysis
// depends on is the IDs', so both stores give the same answer.
//
// Long lists (a hub's frontier is tens of thousands of CIs) are sorted by
// their keys with a radix sort: comparing keys fetched by handle missed
// the cache on most comparisons and took a tenth of a hub's analysis.
func (an *analysis) sortByID(hs []handle) {
	if len(hs) < radixMin {
		slices.SortFunc(hs, an.cmpID)
		return
	}
	a := slices.Grow(an.sortBuf[:0], 2*len(hs))[:2*len(hs)]
	an.sortBuf = a[:0]
	src, dst := a[:len(hs)], a[len(hs):]
	// One pass counts every byte of the keys; a byte all keys share (the
	// hours of a batch's timestamps) needs no pass of its own.
	var counts [16][256]int32
	for i, h := range hs {
		k := an.keys[h]
		src[i] = keyed{k: k, h: h}
		for b := range 8 {
			counts[b][byte(k[1]>>(8*b))]++
			counts[8+b][byte(k[0]>>(8*b))]++
		}
	}
	n := int32(len(hs))
	for b := range 16 {
		word, shift := 1-b/8, 8*(b%8)
		c := &counts[b]
		if c[byte(src[0].k[word]>>shift)] == n {
			continue
		}
		var at int32
		for d := range c {
			at, c[d] = at+c[d], at
		}
		for _, x := range src {
			d := byte(x.k[word] >> shift)
			dst[c[d]] = x
			c[d]++
		}
		src, dst = dst, src
	}
	for i := range src {
		hs[i] = src[i].h
	}
	// Equal keys (IDs that share their first 16 bytes) are ordered whole.
	for i := 0; i < len(src); {
		j := i + 1
		for j < len(src) && src[j].k == src[i].k {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(hs[i:j], an.cmpID)
		}
		i = j
	}
}

// radixMin is the shortest list sortByID sorts by radix.
const radixMin = 512

// keyed is a handle with its key, as sortByID sorts them.
type keyed struct {
	k idKey
	h handle
}

// sortedKeys returns the handles of m by their CIs' IDs.
func (an *analysis) sortedKeys(m map[handle]apred) []handle {
	hs := slices.Collect(maps.Keys(m))
	an.sortByID(hs)
	return hs
}

// idsOf returns the IDs of the CIs.
func (an *analysis) idsOf(hs []handle) []store.ID {
	ids := make([]store.ID, len(hs))
	for i, h := range hs {
		ids[i] = an.ids[h]
	}
	return ids
}

// nEffects sizes arrays indexed by Effect.
const nEffects = int(Degraded) + 1

// label is how phase 2 reached a CI with one effect: at depth, from via
// (itself reached with effect viaEffect) over step, and the headroom that
// explains the effect.
type label struct {
	depth     int
	via       handle
	viaEffect Effect
	step      link
	head      *Headroom
}

// group is a CI that receives failure over a redundancy type, with its
// members and its k, by index of impactRules.groups.
type group struct {
	members [][]member
	k       []int64
	ci      store.CI
	// head and atRisk are the group's headroom once headSet.
	head    *Headroom
	atRisk  bool
	headSet bool
}

// member is one member of a group and the hop from it to the group.
type member struct {
	h    handle
	step link
}

// propagateDown runs phase 1: it spreads "down" level by level from the
// starts, re-counting groups whose members go down.
func (an *analysis) propagateDown(ctx context.Context, starts []handle) error {
	an.touched, an.degradedBy = map[handle]apred{}, map[handle]apred{}
	for _, h := range starts {
		an.setDown(h, apred{})
	}
	budget := an.a.opts.NodeBudget
	frontier := slices.Clone(starts)
	for level := 0; level < an.maxDepth && len(frontier) > 0 && !an.truncated; level++ {
		// One read of the frontier's relationships along which failure
		// travels (two Edges calls per batch), then three passes over
		// them in a fixed order (frontier by ID, each CI's hops by type
		// and far end), so that every CI reached keeps the smallest
		// (predecessor, type): the same answer from both stores.
		an.sortByID(frontier)
		hops, err := an.hopsOf(ctx, frontier)
		if err != nil {
			return fmt.Errorf("impact: level %d: %w", level+1, err)
		}
		for _, h := range frontier {
			an.st[h].flags |= inFrontier
		}
		each := func(kind hopKind, visit func(via handle, h hopTo) bool) {
			for i, via := range frontier {
				for _, h := range hops[i] {
					if h.kind == kind && !an.is(h.to, inFrontier) && !visit(via, h) {
						return
					}
				}
			}
		}
		var next []handle
		// Direct hops over "down" types.
		each(hopDown, func(via handle, h hopTo) bool {
			if an.is(h.to, isDown) {
				return true
			}
			if an.count == budget {
				an.truncated = true
				return false
			}
			an.setDown(h.to, apred{depth: level + 1, via: via, step: h.step})
			an.count++
			next = append(next, h.to)
			return true
		})
		if an.truncated {
			an.clearFrontier(frontier)
			break
		}
		// CIs that a CI down at this level degrades.
		each(hopDegrades, func(via handle, h hopTo) bool {
			if _, ok := an.degradedBy[h.to]; !ok {
				an.degradedBy[h.to] = apred{depth: level + 1, via: via, step: h.step}
			}
			return true
		})
		// Groups that a CI down at this level is a member of.
		var touched []handle
		ep := an.newEpoch()
		each(hopGroup, func(via handle, h hopTo) bool {
			if !an.is(h.to, isDown) && !an.seen(h.to, ep) {
				touched = append(touched, h.to)
				if _, ok := an.touched[h.to]; !ok {
					an.touched[h.to] = apred{depth: level + 1, via: via, step: h.step}
				}
			}
			return true
		})
		an.clearFrontier(frontier)
		if err := an.loadGroups(ctx, touched); err != nil {
			return err
		}
		for _, h := range touched {
			via, ok := an.broken(an.st[h].group, level)
			if !ok {
				continue
			}
			if an.count == budget {
				an.truncated = true
				break
			}
			an.setDown(h, apred{depth: level + 1, via: via.h, step: via.step})
			an.count++
			next = append(next, h)
		}
		frontier = next
	}
	return nil
}

// clearFrontier takes the CIs out of phase 1's current frontier.
func (an *analysis) clearFrontier(hs []handle) {
	for _, h := range hs {
		an.st[h].flags &^= inFrontier
	}
}

// loadGroups reads the members and the k of the groups not seen before:
// one Edges call per redundancy type and one NodeFields call per batch
// (the groups' summaries and k attributes, which the embedded store keeps
// in memory for the default model).
func (an *analysis) loadGroups(ctx context.Context, hs []handle) error {
	var fresh []handle
	for _, h := range hs {
		if an.st[h].group == nil {
			fresh = append(fresh, h)
			an.st[h].group = &group{members: make([][]member, len(an.r.groups)), k: make([]int64, len(an.r.groups))}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	err := an.rd.hops(ctx, fresh, an.r.groupSides, func(j, i, t int, to handle) {
		g := an.st[fresh[j]].group
		g.members[i] = append(g.members[i], member{h: to, step: link{typ: an.r.groupSides[i].idx[0], fwd: an.r.groups[i].dir == store.Out}})
	})
	if err != nil {
		return fmt.Errorf("impact: group members: %w", err)
	}
	err = an.rd.fields(ctx, fresh, an.r.groupFields, func(j int, ci store.CI) {
		s := store.SummaryOf(ci)
		an.keepSummary(fresh[j], &s)
		an.st[fresh[j]].group.ci = ci
	})
	if err != nil {
		return fmt.Errorf("impact: groups: %w", err)
	}
	for _, h := range fresh {
		g := an.st[h].group
		for i, rule := range an.r.groups {
			k, ok := intValue(g.ci.Attributes[rule.attr])
			if !ok {
				k = 1
			}
			g.k[i] = max(k, 0)
		}
	}
	if an.useStatus {
		return an.loadMembers(ctx, fresh)
	}
	return nil
}

// loadMembers reads the summaries of the members of groups not read
// before, to learn which are not operational (their status); they are
// kept for the result.
func (an *analysis) loadMembers(ctx context.Context, groups []handle) error {
	var hs []handle
	ep := an.newEpoch()
	for _, gh := range groups {
		for _, ms := range an.st[gh].group.members {
			for _, m := range ms {
				if an.st[m.h].sum == 0 && !an.seen(m.h, ep) {
					hs = append(hs, m.h)
				}
			}
		}
	}
	err := an.rd.summaries(ctx, hs, func(j int, s *store.Summary) { an.keepSummary(hs[j], s) })
	if err != nil {
		return fmt.Errorf("impact: group members: %w", err)
	}
	for _, gh := range groups {
		for _, ms := range an.st[gh].group.members {
			for _, m := range ms {
				if s := an.summary(m.h); s != nil && !cmdb.OperationalStatus(s.Attr("status")) {
					an.st[m.h].flags |= isUnavailable
				}
			}
		}
	}
	return nil
}

// broken reports whether a group's redundancy is broken at level: for some
// redundancy type, an operational member went down at this level and fewer
// than k of the type's members are up counting every member down so far
// and every member not operational. It returns that member (the one with
// the smallest ID, if several), which explains the group going down at
// level+1. A group whose threshold was already broken at an earlier level
// was found then, so requiring a member down at this level loses nothing.
func (an *analysis) broken(g *group, level int) (member, bool) {
	for i, ms := range g.members {
		failed := 0
		var via *member
		for j := range ms {
			n := &an.st[ms[j].h]
			downNow := n.flags&isDown != 0 && n.down.depth <= level
			unavailable := n.flags&isUnavailable != 0
			if downNow || unavailable {
				failed++
			}
			// A member that was not in service changes nothing by failing.
			// Of those that went down at this level, the one with the
			// smallest ID explains the group: the store lists members in
			// no particular order.
			if downNow && n.down.depth == level && !unavailable && (via == nil || an.cmpID(ms[j].h, via.h) < 0) {
				via = &ms[j]
			}
		}
		if via != nil && int64(len(ms)-failed) < g.k[i] {
			return *via, true
		}
	}
	return member{}, false
}

// spare returns how many more members a group can lose, for the
// redundancy type with the fewest to spare (counting members down and
// members not operational as lost), and that type's members up and
// needed. ok is false for a group without members.
func (an *analysis) spare(g *group) (spare, up, needed int, ok bool) {
	for i, ms := range g.members {
		if len(ms) == 0 {
			continue
		}
		n := 0
		for _, m := range ms {
			if an.st[m.h].flags&(isDown|isUnavailable) == 0 {
				n++
			}
		}
		s := n - int(g.k[i])
		if !ok || s < spare {
			spare, up, needed, ok = s, n, int(g.k[i]), true
		}
	}
	return spare, up, needed, ok
}

// headroom returns the group's headroom and whether no member is spare
// (one more failure takes it down).
//
// It is asked once phase 1 is over (which CIs are down no longer changes)
// and of groups whose members were read, so it is computed once a group
// and shared by every label that names it.
func (an *analysis) headroom(h handle) (*Headroom, bool) {
	g := an.st[h].group
	if g.headSet {
		return g.head, g.atRisk
	}
	g.headSet = true
	s, up, needed, ok := an.spare(g)
	if !ok {
		return nil, false
	}
	// A group that needs no member (min_members_up 0) never goes down.
	g.head, g.atRisk = &Headroom{Group: g.ci, Up: up, Needed: needed}, s <= 0 && needed > 0
	return g.head, g.atRisk
}

// offer records that CI h can be reached with effect e as l says, unless
// it is a start, or a worse or equal effect reaches it at a smaller or
// equal depth, or the node budget is spent on other CIs.
func (an *analysis) offer(h handle, e Effect, l label) {
	n := &an.st[h]
	if n.flags&isStart != 0 && l.depth > 0 {
		return
	}
	if n.flags&isDown != 0 && n.down.depth <= l.depth {
		return
	}
	ls := n.labels
	if ls == nil {
		if n.flags&(isDown|isStart) == 0 {
			if an.count+an.reached >= an.a.opts.NodeBudget {
				an.truncated = true
				return
			}
			an.reached++
		}
		ls = an.newLabels()
		n.labels = ls
	}
	for worse := Down + 1; worse <= e; worse++ {
		if o := ls[worse]; o != nil && o.depth <= l.depth {
			return
		}
	}
	ls[e] = an.newLabel(l)
}

// arenaSize is the number of labels (and label arrays) allocated at once:
// phase 2 labels thousands of CIs, each with one array and a label or two,
// and one allocation each was most of an analysis's allocations.
const arenaSize = 512

// newLabel returns l, placed in the analysis's label arena.
func (an *analysis) newLabel(l label) *label {
	if len(an.labelArena) == cap(an.labelArena) {
		an.labelArena = make([]label, 0, arenaSize)
	}
	an.labelArena = append(an.labelArena, l)
	return &an.labelArena[len(an.labelArena)-1]
}

// newLabels returns an empty array of labels from the analysis's arena.
func (an *analysis) newLabels() *[nEffects]*label {
	if len(an.labelsArena) == cap(an.labelsArena) {
		an.labelsArena = make([][nEffects]*label, 0, arenaSize)
	}
	an.labelsArena = append(an.labelsArena, [nEffects]*label{})
	return &an.labelsArena[len(an.labelsArena)-1]
}

// seedFromDown starts phase 2 from phase 1: groups that a down member
// reached but that stayed up are at risk (no member to spare) or have
// reduced redundancy, and CIs a down CI reaches over a "degrades" type
// are degraded.
func (an *analysis) seedFromDown(ctx context.Context) error {
	touched := an.sortedKeys(an.touched)
	if err := an.loadGroups(ctx, touched); err != nil {
		return err
	}
	for _, h := range touched {
		p := an.touched[h]
		head, atRisk := an.headroom(h)
		e := RedundancyReduced
		if atRisk {
			e = AtRisk
		}
		an.offer(h, e, label{depth: p.depth, via: p.via, viaEffect: Down, step: p.step, head: head})
	}
	for _, h := range an.sortedKeys(an.degradedBy) {
		p := an.degradedBy[h]
		an.offer(h, Degraded, label{depth: p.depth, via: p.via, viaEffect: Down, step: p.step})
	}
	return nil
}

// propagateUp runs phase 2: it spreads the effects of CIs that stay up,
// level by level, keeping for each CI the smallest depth of each effect
// that no worse effect reaches at a smaller or equal depth, so that each
// CI ends with its worst effect at the smallest depth that effect reaches
// it. Over a "down" type an effect travels unchanged; over a "degrades"
// type it becomes Degraded; a group reached from a member at risk is at
// risk when it has no member to spare and has reduced redundancy
// otherwise, and a group reached from a member with reduced redundancy or
// degraded takes that effect. Every combination is monotone, so a label a
// worse one dominates has nothing to add.
//
// Each level reads the relationships of its frontier (two Edges
// calls, one per direction failure travels, for every effect at once) and
// loads the groups it meets for the first time.
func (an *analysis) propagateUp(ctx context.Context) error {
	for d := 0; d < an.maxDepth && !an.truncated; d++ {
		var frontier []handle
		for i := range an.st {
			h := handle(i)
			ls := an.st[h].labels
			if ls == nil {
				continue
			}
			for e := AtRisk; e <= Degraded; e++ {
				if l := ls[e]; l != nil && l.depth == d && !an.dominated(h, e, d) {
					frontier = append(frontier, h)
					break
				}
			}
		}
		if len(frontier) == 0 {
			continue // seeds may start deeper
		}
		an.sortByID(frontier)
		hops, err := an.hopsOf(ctx, frontier)
		if err != nil {
			return err
		}
		// Only an AtRisk member needs its group's count.
		var fresh []handle
		ep := an.newEpoch()
		for i, h := range frontier {
			if l := an.st[h].labels[AtRisk]; l == nil || l.depth != d {
				continue
			}
			for _, x := range hops[i] {
				if x.kind == hopGroup && an.st[x.to].group == nil && !an.seen(x.to, ep) {
					fresh = append(fresh, x.to)
				}
			}
		}
		if err := an.loadGroups(ctx, fresh); err != nil {
			return err
		}
		for e := AtRisk; e <= Degraded; e++ {
			for i, h := range frontier {
				l := an.st[h].labels[e]
				if l == nil || l.depth != d || an.dominated(h, e, d) {
					continue
				}
				for _, x := range hops[i] {
					an.offerHop(h, e, d, l.head, x)
				}
			}
		}
	}
	return nil
}

// link is a hop as an analysis keeps it: its relationship's type (by its
// place in impactRules.types, whose order is the names') and whether the
// relationship runs from the CI the hop leaves to the one it reaches
// (forward). The two CIs are those the link sits between (a CI and the CI
// it was reached from, a member and its group), so a link is 8 bytes where
// a hop naming both ends is 72, and an analysis keeps one for every CI it
// reaches and every relationship it reads.
type link struct {
	typ uint32
	fwd bool
}

// stepOf returns the link from CI from to CI to as a path step.
func (an *analysis) stepOf(from, to handle, l link) store.Step {
	src, dst := an.ids[from], an.ids[to]
	if !l.fwd {
		src, dst = dst, src
	}
	return hop{typ: an.r.types[l.typ], src: src, dst: dst, fwd: l.fwd}.step()
}

// hopKind is how a relationship type carries an effect.
type hopKind uint8

const (
	hopDown     hopKind = iota // unchanged
	hopDegrades                // at most Degraded
	hopGroup                   // into a group, by its count
)

// hopTo is one relationship from a CI along which failure travels.
type hopTo struct {
	to   handle
	step link
	kind hopKind
}

// hopsOf reads, for each CI, the relationships along which its failure
// travels: incoming ones of the types that carry it from target to source
// (in), outgoing ones of those that carry it from source to target (out).
// hops[i] are those of hs[i], valid until the next call.
func (an *analysis) hopsOf(ctx context.Context, hs []handle) ([][]hopTo, error) {
	// One array for the hops, each CI's a part of it: starts[j] is where
	// hs[j]'s begin (the reader gives them CI by CI). A level's hops are
	// used up before the next level reads its own, so the array is the
	// analysis's, reused from level to level.
	if an.hopBuf == nil {
		an.hopBuf = *hopBufs.Get().(*[]hopTo)
	}
	flat := an.hopBuf[:0]
	defer func() { an.hopBuf = flat[:0] }()
	starts := make([]int, len(hs)+1)
	next := 0 // the next CI whose start is not set
	err := an.rd.hops(ctx, hs, an.r.sides, func(j, s, t int, to handle) {
		for ; next <= j; next++ {
			starts[next] = len(flat)
		}
		sd := &an.r.sides[s]
		flat = append(flat, hopTo{to: to, kind: sd.kinds[t], step: link{typ: sd.idx[t], fwd: sd.dir == store.Out}})
	})
	if err != nil {
		return nil, fmt.Errorf("impact: relationships: %w", err)
	}
	for ; next <= len(hs); next++ {
		starts[next] = len(flat)
	}
	hops := make([][]hopTo, len(hs))
	for j := range hs {
		hops[j] = flat[starts[j]:starts[j+1]:starts[j+1]]
	}
	// Edges come in no particular order: each CI's hops by type and far
	// end, so that ties break the same way on every store.
	// (Each comparison returns at its first difference: cmp.Or would
	// compare all three first.)
	for i, list := range hops {
		via := hs[i]
		source := func(h hopTo) handle {
			if h.step.fwd {
				return via
			}
			return h.to
		}
		slices.SortFunc(list, func(x, y hopTo) int {
			if c := cmp.Compare(x.step.typ, y.step.typ); c != 0 {
				return c
			}
			if c := an.cmpID(x.to, y.to); c != 0 {
				return c
			}
			return an.cmpID(source(x), source(y))
		})
	}
	return hops, nil
}

// offerHop offers the CI at the end of h the effect that e at depth d of
// CI via (with headroom head) gives it.
func (an *analysis) offerHop(via handle, e Effect, d int, head *Headroom, h hopTo) {
	l := label{depth: d + 1, via: via, viaEffect: e, step: h.step, head: head}
	ge := e
	switch {
	case h.kind == hopDegrades || e == Degraded:
		ge, l.head = Degraded, nil
	case h.kind == hopGroup && e == AtRisk:
		gh, atRisk := an.headroom(h.to)
		ge, l.head = RedundancyReduced, gh
		if atRisk {
			ge = AtRisk
		}
	}
	an.offer(h.to, ge, l)
}

// dominated reports whether a worse effect reaches h at depth d or less.
func (an *analysis) dominated(h handle, e Effect, d int) bool {
	if an.downBy(h, d) {
		return true
	}
	ls := an.st[h].labels
	for worse := AtRisk; worse < e; worse++ {
		if o := ls[worse]; o != nil && o.depth <= d {
			return true
		}
	}
	return false
}

// worst returns the worst effect a phase 2 label gives h, and the label.
func (an *analysis) worst(h handle) (Effect, *label) {
	ls := an.st[h].labels
	if ls == nil {
		return 0, nil
	}
	for e := AtRisk; e <= Degraded; e++ {
		if ls[e] != nil {
			return e, ls[e]
		}
	}
	return 0, nil
}

// path returns the explaining path of the CI id reached with effect e,
// following labels back across effects to a start.
func (an *analysis) path(id store.ID, e Effect) []store.Step {
	an.ofAll.Do(func() {
		// Readers of a finished analysis may ask concurrently (a
		// GraphQL list resolves its items in parallel).
		if len(an.of) == len(an.ids) {
			return // numbered by ID: every handle is in it
		}
		for h, id := range an.ids {
			an.of[id] = handle(h)
		}
	})
	h, ok := an.of[id]
	if !ok {
		return nil
	}
	var back []store.Step // from h backwards
	for len(back) <= store.MaxDepth {
		if e == Down {
			return append(an.pathDown(h), reversed(back)...)
		}
		ls := an.st[h].labels
		if ls == nil || ls[e] == nil || ls[e].depth == 0 {
			break
		}
		l := ls[e]
		back = append(back, an.stepOf(l.via, h, l.step))
		h, e = l.via, l.viaEffect
	}
	return reversed(back)
}

// pathDown returns the path by which phase 1 took the CI down.
func (an *analysis) pathDown(h handle) []store.Step {
	if !an.is(h, isDown) || an.st[h].down.depth == 0 {
		return nil
	}
	p := an.st[h].down
	path := make([]store.Step, p.depth)
	for i := len(path) - 1; i >= 0; i-- {
		path[i] = an.stepOf(p.via, h, p.step)
		if !an.is(p.via, isDown) {
			break
		}
		h, p = p.via, an.st[p.via].down
	}
	return path
}

// reversed returns the steps in reverse order.
func reversed(steps []store.Step) []store.Step {
	out := slices.Clone(steps)
	slices.Reverse(out)
	return out
}

// entry is one impacted CI before its CI is loaded.
type entry struct {
	h      handle
	effect Effect
	depth  int
}

// entryBufs pools result's list of entries, which it drops once the
// result is made.
var entryBufs = sync.Pool{New: func() any { return new([]entry) }}

// result merges both phases, applies the budget, loads the CIs'
// summaries and rolls up; list says whether the CIs are kept in
// Result.Impacted (and in which order) or only rolled up.
func (an *analysis) result(ctx context.Context, m *cmdb.Model, assume Effect, startCIs map[store.ID]store.CI, starts []store.ID, list listing) (*Result, error) {
	pooled := entryBufs.Get().(*[]entry)
	entries := slices.Grow((*pooled)[:0], an.count+an.reached)
	defer func() {
		*pooled = entries[:0]
		entryBufs.Put(pooled)
	}()
	for i := range an.st {
		h := handle(i)
		switch n := &an.st[h]; {
		case n.flags&isDown != 0:
			if n.down.depth > 0 {
				entries = append(entries, entry{h: h, effect: Down, depth: n.down.depth})
			}
		case n.flags&isStart != 0:
		default:
			if e, l := an.worst(h); l != nil {
				entries = append(entries, entry{h: h, effect: e, depth: l.depth})
			}
		}
	}
	budget := an.a.opts.NodeBudget
	if len(entries) > budget {
		// Both phases stayed within the budget but together exceed it:
		// keep the nearest CIs.
		slices.SortFunc(entries, func(x, y entry) int {
			return cmp.Or(cmp.Compare(x.depth, y.depth), cmp.Compare(x.effect, y.effect), cmp.Compare(an.ids[x.h], an.ids[y.h]))
		})
		entries = entries[:budget]
		an.truncated = true
	}
	res := &Result{MaxDepth: an.maxDepth, Truncated: an.truncated, an: an}
	for _, id := range starts {
		res.Starts = append(res.Starts, Start{CI: startCIs[id], Effect: assume})
		if !cmdb.Operational(startCIs[id].Attributes) {
			res.NotOperationalStarts = append(res.NotOperationalStarts, startCIs[id])
		}
	}
	byNameID := func(x, y store.CI) int { return cmp.Or(cmp.Compare(ciName(x), ciName(y)), cmp.Compare(x.ID, y.ID)) }
	slices.SortFunc(res.Starts, func(x, y Start) int { return byNameID(x.CI, y.CI) })
	slices.SortFunc(res.NotOperationalStarts, byNameID)
	t := newTally(m, an.a.opts.BusinessServiceClass)
	if list == listNone {
		if err := an.rollUpOnly(ctx, entries, res, t); err != nil {
			return nil, err
		}
		t.finish(res)
		return res, nil
	}
	res.Impacted = make([]Impacted, len(entries))
	if err := an.fill(ctx, entries, res.Impacted); err != nil {
		return nil, err
	}
	// Drop the CIs deleted while the analysis ran.
	res.Impacted = slices.DeleteFunc(res.Impacted, func(im Impacted) bool { return im.CI.ID == "" })
	if list == listOrdered {
		sortImpacted(res.Impacted)
	}
	for i := range res.Impacted {
		t.add(res, &res.Impacted[i])
	}
	t.finish(res)
	return res, nil
}

// fill sets out[i] to entries[i] with its CI's summary: those read before
// (groups and their members) at once, the others read. A CI deleted while
// the analysis ran is left with an empty ID.
func (an *analysis) fill(ctx context.Context, entries []entry, out []Impacted) error {
	var hs []handle
	var at []int // hs[j] is out[at[j]]
	for i, e := range entries {
		im := &out[i]
		*im = Impacted{Depth: e.depth, Effect: e.effect}
		if e.effect == AtRisk || e.effect == RedundancyReduced {
			im.Headroom = an.st[e.h].labels[e.effect].head
		}
		if s := an.summary(e.h); s != nil {
			im.CI = *s
		} else {
			hs, at = append(hs, e.h), append(at, i)
		}
	}
	if err := an.rd.summaries(ctx, hs, func(j int, s *store.Summary) { out[at[j]].CI = *s }); err != nil {
		return fmt.Errorf("impact: load CIs: %w", err)
	}
	return nil
}

// rollUpBatch is how many impacted CIs rollUpOnly reads at a time: as
// many as the store's calls read in one (a variable for the tests).
var rollUpBatch = store.MaxBatch

// impactedBufs pools rollUpOnly's batch of impacted CIs.
var impactedBufs = sync.Pool{New: func() any { return new([]Impacted) }}

// rollUpOnly rolls entries up into res through t without keeping them
// (Request.SummaryOnly): their summaries are read a batch at a time
// (rollUpBatch) into one buffer.
func (an *analysis) rollUpOnly(ctx context.Context, entries []entry, res *Result, t *tally) error {
	pooled := impactedBufs.Get().(*[]Impacted)
	buf := slices.Grow((*pooled)[:0], min(len(entries), rollUpBatch))
	defer func() {
		clear(buf[:cap(buf)]) // no summaries or headrooms kept alive by the pool
		*pooled = buf[:0]
		impactedBufs.Put(pooled)
	}()
	for lo := 0; lo < len(entries); lo += rollUpBatch {
		part := entries[lo:min(lo+rollUpBatch, len(entries))]
		buf = buf[:len(part)]
		if err := an.fill(ctx, part, buf); err != nil {
			return err
		}
		for i := range buf {
			if buf[i].CI.ID != "" {
				t.add(res, &buf[i])
			}
		}
	}
	return nil
}

// sortImpacted sorts by depth, then name, then id.
func sortImpacted(list []Impacted) {
	permute(list, byDepthNameID(len(list), func(i int) (int, string, store.ID) { return list[i].Depth, list[i].CI.Name, list[i].CI.ID }))
}

// tally rolls impacted CIs up, one at a time (add), into a Result's
// business services, contacts, class counts and effect counts (finish).
type tally struct {
	m       *cmdb.Model
	bsClass string
	// owners, groups and classes count CIs by owner, support group and
	// class; bs says whether a class is a business service (the class tree
	// is asked once a class, not once a CI).
	owners, groups, classes map[string]int
	bs                      map[string]bool
	owner, supportGroup     int
}

func newTally(m *cmdb.Model, bsClass string) *tally {
	return &tally{m: m, bsClass: bsClass, owners: map[string]int{}, groups: map[string]int{}, classes: map[string]int{},
		bs: map[string]bool{}, owner: store.SummaryIndex("owner"), supportGroup: store.SummaryIndex("support_group")}
}

// add counts im into r's effect counts and t, and appends it to r's
// business services when it is one (a copy: im may be reused).
func (t *tally) add(r *Result, im *Impacted) {
	switch im.Effect {
	case Down:
		r.Down++
	case AtRisk:
		r.AtRisk++
	case RedundancyReduced:
		r.RedundancyReduced++
	case Degraded:
		r.Degraded++
	}
	t.classes[im.CI.Class]++
	bs, known := t.bs[im.CI.Class]
	if !known {
		bs = t.m.IsA(im.CI.Class, t.bsClass)
		t.bs[im.CI.Class] = bs
	}
	if bs {
		r.BusinessServices = append(r.BusinessServices, *im)
	}
	if s, _ := im.CI.Values[t.owner].(string); s != "" {
		t.owners[s]++
	}
	if s, _ := im.CI.Values[t.supportGroup].(string); s != "" {
		t.groups[s]++
	}
}

// finish sorts r's business services and sets its contacts and class
// counts.
func (t *tally) finish(r *Result) {
	// The order is total (IDs last): no stable sort needed.
	slices.SortFunc(r.BusinessServices, func(x, y Impacted) int {
		return cmp.Or(cmp.Compare(x.Effect, y.Effect), cmp.Compare(criticality(&x.CI), criticality(&y.CI)),
			cmp.Compare(x.CI.Name, y.CI.Name), cmp.Compare(x.CI.ID, y.CI.ID))
	})
	r.Owners = contacts(t.owners)
	r.SupportGroups = contacts(t.groups)
	r.Classes = classCounts(t.classes)
}

// classCounts lists counts by class, most frequent first, then by class.
func classCounts(classes map[string]int) []ClassCount {
	out := make([]ClassCount, 0, len(classes))
	for c, n := range classes {
		out = append(out, ClassCount{Class: c, CIs: n})
	}
	slices.SortFunc(out, func(x, y ClassCount) int { return cmp.Or(cmp.Compare(y.CIs, x.CIs), cmp.Compare(x.Class, y.Class)) })
	return out
}

// criticality orders a CI by its criticality attribute, unset last.
func criticality(ci *store.Summary) int64 {
	if c, ok := intValue(ci.Attr("criticality")); ok {
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
