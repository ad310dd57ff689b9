package impact

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"slices"

	"github.com/skein-cmdb/skein/internal/store"
)

// OrderField is what Page sorts impacted CIs by; ties are broken by
// depth, then name, then ID, in the same direction.
type OrderField string

// The orders of Page.
const (
	ByDepth       OrderField = "depth"
	ByName        OrderField = "name"
	ByEffect      OrderField = "effect" // worst first (down, at risk, redundancy reduced, degraded)
	ByClass       OrderField = "class"
	ByCriticality OrderField = "criticality" // 1 (most critical) first, unset last
)

// Order is an order of impacted CIs.
type Order struct {
	Field OrderField
	Desc  bool
}

// ImpactedPage is one page of impacted CIs.
type ImpactedPage struct {
	Items []Impacted
	// Cursors holds one cursor per item, for Page's after.
	Cursors []string
	HasNext bool
	// Total is the number of CIs paged over.
	Total int
}

// pageKey is what an order compares; a cursor holds the key of the CI it
// points after, so that a page follows the previous one even when the
// analysis, run again for it, reaches a different set of CIs.
type pageKey struct {
	Order OrderField `json:"o"`
	Desc  bool       `json:"d,omitempty"`
	Depth int        `json:"p"`
	Name  string     `json:"n"`
	// Effect, Class and Crit are the key of the order that uses them.
	Effect int      `json:"e,omitempty"` // an Effect, as a number
	Class  string   `json:"c,omitempty"`
	Crit   int64    `json:"k,omitempty"`
	ID     store.ID `json:"i"`
}

func keyOf(o Order, im Impacted) pageKey {
	k := pageKey{Order: o.Field, Desc: o.Desc, Depth: im.Depth, Name: im.CI.Name, ID: im.CI.ID}
	switch o.Field {
	case ByEffect:
		k.Effect = int(im.Effect)
	case ByClass:
		k.Class = im.CI.Class
	case ByCriticality:
		k.Crit = criticality(&im.CI)
	}
	return k
}

// compareKeys compares two keys of one order: by the order's field, then
// depth, then name, then ID. Each comparison is made only when those
// before it tie (cmp.Or would make them all: a page of a hub's CIs
// compares tens of thousands of keys).
func compareKeys(x, y *pageKey) int {
	var c int
	switch x.Order {
	case ByName:
		c = cmp.Compare(x.Name, y.Name)
	case ByEffect:
		c = cmp.Compare(x.Effect, y.Effect)
	case ByClass:
		c = cmp.Compare(x.Class, y.Class)
	case ByCriticality:
		c = cmp.Compare(x.Crit, y.Crit)
	}
	if c == 0 {
		c = cmp.Compare(x.Depth, y.Depth)
	}
	if c == 0 && x.Order != ByName {
		c = cmp.Compare(x.Name, y.Name)
	}
	if c == 0 {
		c = cmp.Compare(x.ID, y.ID)
	}
	if x.Desc {
		return -c
	}
	return c
}

// Page returns up to first CIs of list (Result.Impacted, or part of it) in
// order o, starting after the CI whose cursor is after (from the start
// when empty). A cursor of another order, or not a cursor, is an
// *store.InvalidError on "after"; first must be 1 to store.MaxPageSize
// ("first"), and the order one of the OrderField constants ("orderBy").
func Page(list []Impacted, o Order, after string, first int) (ImpactedPage, error) {
	var page ImpactedPage
	switch o.Field {
	case ByDepth, ByName, ByEffect, ByClass, ByCriticality:
	default:
		return page, store.Invalid("orderBy", "unknown order %q", o.Field)
	}
	idx, cursors, hasNext, err := pageOf(len(list), func(i int) pageKey { return keyOf(o, list[i]) }, o, after, first)
	if err != nil {
		return page, err
	}
	page.Total, page.HasNext, page.Cursors = len(list), hasNext, cursors
	for _, i := range idx {
		page.Items = append(page.Items, list[i])
	}
	return page, nil
}

// ReachPage is one page of the CIs a traversal reached.
type ReachPage struct {
	Items []Node
	// Indexes are the items' places in the nodes paged.
	Indexes []int
	// Cursors holds one cursor per item, for PageNodes's after.
	Cursors []string
	HasNext bool
	// Total is the number of CIs paged over.
	Total int
}

// PageNodes returns up to first CIs of nodes (Reach.Nodes) by depth, then
// name, then ID, starting after the CI whose cursor is after (from the
// start when empty). Bad input is an *store.InvalidError on "first" or
// "after", as for Page; a cursor of Page's depth order is one of these.
func PageNodes(nodes []Node, after string, first int) (ReachPage, error) {
	o := Order{Field: ByDepth}
	keyAt := func(i int) pageKey {
		return pageKey{Order: o.Field, Depth: nodes[i].Depth, Name: nodes[i].CI.Name, ID: nodes[i].CI.ID}
	}
	idx, cursors, hasNext, err := pageOf(len(nodes), keyAt, o, after, first)
	if err != nil {
		return ReachPage{}, err
	}
	page := ReachPage{Total: len(nodes), HasNext: hasNext, Cursors: cursors, Indexes: idx}
	for _, i := range idx {
		page.Items = append(page.Items, nodes[i])
	}
	return page, nil
}

// pageOf returns the indexes (0 to n-1) of up to first items in order o
// after the cursor after, their cursors, and whether more follow; keyAt
// is an item's key.
//
// It selects the page instead of sorting every key: a hub's analysis
// pages tens of thousands of CIs to show fifty, and sorting them all
// (keys of strings, compared field by field) cost more than the analysis's
// own reads. The items after the cursor are kept in a bounded max-heap of
// first+1 (the extra one tells whether more follow), O(n log first); only
// the kept items' keys are kept (an array of every key was 5 MB for a
// hub's 50,000 CIs).
func pageOf(n int, keyAt func(i int) pageKey, o Order, after string, first int) (idx []int, cursors []string, hasNext bool, err error) {
	if first < 1 || first > store.MaxPageSize {
		return nil, nil, false, store.Invalid("first", "must be between 1 and %d, got %d", store.MaxPageSize, first)
	}
	var cursor *pageKey
	if after != "" {
		if len(after) > maxCursor {
			return nil, nil, false, store.Invalid("after", "not a cursor of this order of CIs")
		}
		k, err := decodeCursor(after)
		if err != nil || k.Order != o.Field || k.Desc != o.Desc {
			return nil, nil, false, store.Invalid("after", "not a cursor of this order of CIs")
		}
		cursor = &k
	}
	// The cursor's own CI, and every CI equal to its key, came before.
	h := &topKeys{max: first + 1}
	for i := range n {
		k := keyAt(i)
		if cursor == nil || compareKeys(&k, cursor) > 0 {
			h.offer(i, &k)
		}
	}
	kept := h.sorted()
	if len(kept) > first {
		kept, hasNext = kept[:first], true
	}
	for _, e := range kept {
		idx = append(idx, e.i)
		cursors = append(cursors, encodeCursor(e.k))
	}
	return idx, cursors, hasNext, nil
}

// topKeys keeps the max smallest keys offered, with their items'
// indexes, as a max-heap (the largest kept at the root, to be replaced
// first).
type topKeys struct {
	max  int
	heap []keptKey
}

// keptKey is an item kept by topKeys: its index and key.
type keptKey struct {
	i int
	k pageKey
}

func (t *topKeys) less(a, b int) bool { return compareKeys(&t.heap[a].k, &t.heap[b].k) < 0 }

// offer keeps item i, of key k, if it is among the max smallest offered
// so far.
func (t *topKeys) offer(i int, k *pageKey) {
	if len(t.heap) < t.max {
		t.heap = append(t.heap, keptKey{i, *k})
		for c := len(t.heap) - 1; c > 0; { // sift up
			p := (c - 1) / 2
			if !t.less(p, c) {
				break
			}
			t.heap[p], t.heap[c] = t.heap[c], t.heap[p]
			c = p
		}
		return
	}
	if compareKeys(k, &t.heap[0].k) >= 0 {
		return
	}
	t.heap[0] = keptKey{i, *k}
	for p := 0; ; { // sift down
		c := 2*p + 1
		if c >= len(t.heap) {
			break
		}
		if c+1 < len(t.heap) && t.less(c, c+1) {
			c++
		}
		if !t.less(p, c) {
			break
		}
		t.heap[p], t.heap[c] = t.heap[c], t.heap[p]
		p = c
	}
}

// sorted returns the kept items by key.
func (t *topKeys) sorted() []keptKey {
	slices.SortFunc(t.heap, func(a, b keptKey) int { return compareKeys(&a.k, &b.k) })
	return t.heap
}

// maxCursor bounds the cursors Page decodes (names are at most a few
// hundred bytes).
const maxCursor = 4096

func encodeCursor(k pageKey) string {
	b, _ := json.Marshal(k) // a struct of strings and numbers: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (pageKey, error) {
	var k pageKey
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return k, err
	}
	return k, json.Unmarshal(b, &k)
}

// DepthCount is the number of impacted CIs at one depth.
type DepthCount struct {
	Depth, CIs int
}

// CountsByDepth counts list by depth, nearest first.
func CountsByDepth(list []Impacted) []DepthCount {
	return countsByDepth(len(list), func(i int) int { return list[i].Depth })
}

// CountsByDepth counts the CIs reached by depth, nearest first.
func (r *Reach) CountsByDepth() []DepthCount {
	return countsByDepth(len(r.Nodes), func(i int) int { return r.Nodes[i].Depth })
}

// CountsByClass counts the CIs reached by class, most frequent first,
// then by class.
func (r *Reach) CountsByClass() []ClassCount {
	classes := map[string]int{}
	for _, n := range r.Nodes {
		classes[n.CI.Class]++
	}
	return classCounts(classes)
}

// countsByDepth counts n items by the depth of each, nearest first.
func countsByDepth(n int, depth func(i int) int) []DepthCount {
	var out []DepthCount
	for i := range n {
		d := depth(i)
		j, found := slices.BinarySearchFunc(out, d, func(c DepthCount, depth int) int { return cmp.Compare(c.Depth, depth) })
		if !found {
			out = slices.Insert(out, j, DepthCount{Depth: d})
		}
		out[j].CIs++
	}
	return out
}
