package embedded

import (
	"fmt"
	"slices"

	"github.com/skein-cmdb/skein/internal/store"
)

// The node summary cache.
//
// Readers of many nodes need a few attributes of each: an impact analysis
// reaching 20,000 CIs reads their store.SummaryAttributes, which through
// SQLite cost about 7 µs a node (a B-tree lookup, a row and a JSON decode),
// 40 to 70 times the traversal that found them. The adjacency index
// already keeps a slot per node, so it keeps the summary there too: kind,
// class, version and the summary attributes, as decoded from the stored
// attributes, so that NodeFields naming only summary attributes answers
// from memory exactly what the database would.
//
// It is compact: the kind and class share one small table, the other
// values one table of distinct values (statuses, environments, owners,
// support groups, criticalities and group sizes repeat across nodes), and
// the names one array of text (names), so a slot costs 48 bytes and its
// name's bytes, and holds no pointer: the garbage collector neither marks
// a million names nor scans the slots (a string a name, at a million nodes,
// was 24 more bytes a node and a million objects). Values of the table are
// never dropped: it grows with the distinct values ever written, not with
// the nodes. A node whose summary holds a value the table does not key (a
// list, a time, NaN), or a name that is not a string, is marked uncached
// and read from the database.
//
// Like the edges, a summary is set by the writer goroutine under the
// index's lock once the write call that made it has committed, so it
// changes with the committed state of the database, and a write call
// answers its caller only after its patch is applied.

// sumSlot is the cached summary of one node slot.
type sumSlot struct {
	version int64
	name    nameRef              // the name's bytes in graph.names
	kc      uint32               // index into graph.kcs; 0 = no summary
	vals    [nSummary - 1]uint32 // index into graph.vals; 0 = absent
	hasName bool                 // name is set (it may be "")
}

// nSummary is the number of store.SummaryAttributes, the first of which
// is "name" (TestSummaryAttributesFitTheSlot checks both).
const nSummary = 7

// summaryRest are the summary attributes after "name", in the order of
// sumSlot.vals.
var summaryRest = store.SummaryAttributes[1:]

// kindClass is a node's kind and class.
type kindClass struct {
	kind  store.ObjectKind
	class string
}

// nodeSum is a node's summary as the writer computes it: the attributes
// are decoded from the stored encoding, so they are what a read returns.
type nodeSum struct {
	kind    store.ObjectKind
	class   string
	version int64
	present uint64        // bit i: the node has store.SummaryAttributes[i]
	vals    [nSummary]any // the value of store.SummaryAttributes[i]
}

// sumOf returns the summary of the node of kind, class and version whose
// stored attribute encoding is encoded.
func sumOf(kind store.ObjectKind, class string, version int64, encoded []byte) (nodeSum, error) {
	s := nodeSum{kind: kind, class: class, version: version}
	var err error
	s.present, err = store.DecodeAttributesInto(encoded, store.SummaryAttributes, s.vals[:])
	return s, err
}

// addSum records the summary of the node n written at row, encoded its
// stored attribute encoding, for the index.
func (p *patch) addSum(row int64, n *store.Node, encoded []byte) error {
	sum, err := sumOf(n.Kind, n.Class, n.Version, encoded)
	if err != nil {
		return fmt.Errorf("embedded: decode attributes of %s: %w", n.ID, err)
	}
	p.sums = append(p.sums, sumDef{slot: int32(row), sum: sum})
	return nil
}

// setSum caches the summary of the node at slot; the caller holds mu (or
// is building the index).
func (g *graph) setSum(slot int32, s nodeSum) {
	if int(slot) >= len(g.sums) {
		g.sums = slices.Grow(g.sums, int(slot)+1-len(g.sums))[:slot+1]
	}
	kc := kindClass{s.kind, s.class}
	k, ok := g.kcID[kc]
	if !ok {
		k = uint32(len(g.kcs))
		g.kcs = append(g.kcs, kc)
		g.kcID[kc] = k
	}
	slotSum := sumSlot{version: s.version, kc: k}
	cacheable := true
	var name string
	if s.present&1 != 0 {
		name, cacheable = s.vals[0].(string)
		slotSum.hasName = true
	}
	for i := 1; i < nSummary && cacheable; i++ {
		if s.present&(1<<i) != 0 {
			slotSum.vals[i-1], cacheable = g.valueID(s.vals[i])
		}
	}
	if old := g.sums[slot].name; cacheable {
		slotSum.name, cacheable = g.names.put(old, name)
	} else {
		g.names.drop(old)
	}
	if !cacheable {
		slotSum = sumSlot{}
	}
	g.sums[slot] = slotSum
	g.uncached = setBit(g.uncached, slot, !cacheable)
	g.compactNames()
}

// valueID interns v; false when v cannot be a map key.
func (g *graph) valueID(v any) (uint32, bool) {
	switch x := v.(type) {
	case string, int64, bool:
	case float64:
		if x != x { // NaN is never equal to itself: no map finds it
			return 0, false
		}
	default:
		// Lists (and anything else a codec may add) are read from the
		// database; times are too, since equal instants may differ in
		// representation.
		return 0, false
	}
	if id, ok := g.valID[v]; ok {
		return id, true
	}
	id := uint32(len(g.vals))
	g.vals = append(g.vals, v)
	g.valID[v] = id
	return id, true
}

// clearSum forgets the summary of slot; the caller holds mu.
func (g *graph) clearSum(slot int32) {
	if int(slot) < len(g.sums) {
		g.names.drop(g.sums[slot].name)
		g.sums[slot] = sumSlot{}
	}
	g.uncached = setBit(g.uncached, slot, false)
}

// summaryServes reports whether the cache holds every attribute of fields.
func summaryServes(fields []string) bool {
	for _, f := range fields {
		if !slices.Contains(store.SummaryAttributes, f) {
			return false
		}
	}
	return true
}

// cachedFields answers NodeFields from the cache for the ids it holds; it
// returns the ids whose node it cannot answer for (uncached summaries),
// which the caller reads from the database. Ids of no node are absent.
func (g *graph) cachedFields(ids []store.ID, kind store.ObjectKind, fields []string, out map[store.ID]store.Node) []store.ID {
	idx := fieldIndexes(fields)
	var miss []store.ID
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, id := range ids {
		slot, ok := g.canonical(id)
		if !ok {
			continue
		}
		switch n, st := g.slotFields(slot, kind, fields, idx); st {
		case fromCache:
			out[n.ID] = n
		case fromDB:
			miss = append(miss, id)
		}
	}
	return miss
}

// fieldIndexes returns the position in summaryRest of each of fields, -1
// for "name"; fields are summary attributes (summaryServes).
func fieldIndexes(fields []string) []int {
	idx := make([]int, len(fields))
	for i, f := range fields {
		idx[i] = slices.Index(summaryRest, f)
	}
	return idx
}

// fieldsFrom is where slotFields found a node's fields.
type fieldsFrom int

const (
	notOfKind fieldsFrom = iota // no node of the kind asked for
	fromCache                   // the summary cache: the node is answered
	fromDB                      // the node's summary is not cached: read it from the database
)

// cachedSum returns the cached summary of the node at slot, with its kind
// and class, when the node is of kind (any kind for store.AnyKind) and its
// summary is cached. The caller holds mu.
func (g *graph) cachedSum(slot int32, kind store.ObjectKind) (*sumSlot, kindClass, fieldsFrom) {
	if !g.has(slot) {
		return nil, kindClass{}, notOfKind
	}
	if hasBit(g.uncached, slot) || int(slot) >= len(g.sums) || g.sums[slot].kc == 0 {
		return nil, kindClass{}, fromDB
	}
	sum := &g.sums[slot]
	kc := g.kcs[sum.kc]
	if kind != store.AnyKind && kc.kind != kind {
		return nil, kindClass{}, notOfKind
	}
	return sum, kc, fromCache
}

// slotFields answers NodeFields for the node at slot from the cache:
// fields are summary attributes and idx their fieldIndexes. The caller
// holds mu.
func (g *graph) slotFields(slot int32, kind store.ObjectKind, fields []string, idx []int) (store.Node, fieldsFrom) {
	sum, kc, from := g.cachedSum(slot, kind)
	if from != fromCache {
		return store.Node{}, from
	}
	attrs := make(store.Attributes, len(fields))
	for i, f := range fields {
		if idx[i] < 0 {
			if sum.hasName {
				attrs[f] = g.names.at(sum.name)
			}
		} else if v := sum.vals[idx[i]]; v != 0 {
			attrs[f] = g.vals[v]
		}
	}
	return store.Node{ID: g.id(slot), Kind: kc.kind, Class: kc.class, Version: sum.version, Attributes: attrs}, fromCache
}

// slotSummary answers GraphView.Summaries for the node at slot from the
// cache, into out (which it sets whole when it answers). The caller holds
// mu.
func (g *graph) slotSummary(slot int32, kind store.ObjectKind, out *store.Summary) fieldsFrom {
	sum, kc, from := g.cachedSum(slot, kind)
	if from != fromCache {
		return from
	}
	*out = store.Summary{ID: g.id(slot), Kind: kc.kind, Class: kc.class, Version: sum.version, Name: g.names.at(sum.name)}
	for i, v := range sum.vals {
		if v != 0 {
			out.Values[i] = g.vals[v]
		}
	}
	return fromCache
}
