package health

import (
	"cmp"
	"slices"
	"strings"
	"unicode"

	"github.com/agnivade/levenshtein"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Duplicate scan bounds.
const (
	// blockPrefix is how many leading runes of a normalised name block
	// candidates: names differing there are not compared.
	blockPrefix = 3
	// window is how many following CIs of its block (sorted by normalised
	// name) each CI is compared with.
	window = 50
)

// candidate is what the duplicate scan keeps of a CI.
type candidate struct {
	o       Offender
	norm    string            // normalised name
	numbers string            // the numbers in the name, leading zeros dropped
	values  map[string]string // evidence attribute -> folded value
}

// duplicateScan collects CIs and finds the suspected duplicates among
// them.
type duplicateScan struct {
	m        *cmdb.Model
	budget   int
	blocks   map[string][]candidate // family + name prefix -> CIs
	evidence map[string][]string    // class -> its evidence attributes
	seen     map[store.ID]Offender  // every CI of the report
}

func newDuplicateScan(m *cmdb.Model, budget int) *duplicateScan {
	return &duplicateScan{m: m, budget: budget, blocks: map[string][]candidate{},
		evidence: map[string][]string{}, seen: map[store.ID]Offender{}}
}

// evidenceOf returns the attributes of cls whose shared value says two CIs
// may be one thing: attributes that point at one thing, that is string
// attributes searchable with a weight of 2 or more (addresses, serial
// numbers, host names: the model ranks them so because they find one CI)
// or normalised as serial, mac or exact (identifiers), the name aside, and
// host names aside (shared by every CI on a host).
func (d *duplicateScan) evidenceOf(cls *cmdb.Class) []string {
	if ev, ok := d.evidence[cls.Def.Name]; ok {
		return ev
	}
	ev := []string{}
	for _, n := range cls.AttributeNames() {
		a, _ := cls.Attribute(n)
		if n == "name" || a.Type != cmdb.TypeString {
			continue
		}
		switch {
		case a.Normalize == cmdb.NormFQDN:
			// A host name is shared by every CI on that host: it points
			// at the host, not at one of them (an instance is identified
			// by its name and its host).
		case a.Searchable && a.SearchWeight >= 2,
			a.Normalize == cmdb.NormSerial, a.Normalize == cmdb.NormMAC, a.Normalize == cmdb.NormExact:
			ev = append(ev, n)
		}
	}
	d.evidence[cls.Def.Name] = ev
	return ev
}

// add takes one CI of class cls.
func (d *duplicateScan) add(cls *cmdb.Class, n store.Node, o Offender) {
	d.seen[o.ID] = o
	norm, numbers := normaliseName(o.Name)
	ev := d.evidenceOf(cls)
	if norm == "" || len(ev) == 0 {
		return
	}
	values := map[string]string{}
	for _, a := range ev {
		def, _ := cls.Attribute(a)
		// Compared as identity keys compare them: placeholder serials and
		// unparsable MACs are no evidence; one MAC in two spellings is.
		if v, ok := cmdb.NormalizeValue(def.Normalize, n.Attributes[a]); ok && v != "" {
			values[a] = strings.ToLower(v)
		}
	}
	if len(values) == 0 {
		return // nothing to share
	}
	family := cls.Family
	if family == "" {
		family = cls.Def.Name
	}
	key := family + "\x1f" + string([]rune(norm)[:min(blockPrefix, len([]rune(norm)))])
	d.blocks[key] = append(d.blocks[key], candidate{o: o, norm: norm, numbers: numbers, values: values})
}

// pairs compares the CIs of each block within the window and returns the
// suspected duplicates, the first of them (by the lower CI ID) listed.
func (d *duplicateScan) pairs(first int) Pairs {
	var out Pairs
	var found []Pair
	keys := make([]string, 0, len(d.blocks))
	for k := range d.blocks {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	left := d.budget
scan:
	for _, k := range keys {
		b := d.blocks[k]
		slices.SortFunc(b, func(x, y candidate) int { return cmp.Or(cmp.Compare(x.norm, y.norm), cmp.Compare(x.o.ID, y.o.ID)) })
		for i := range b {
			for j := i + 1; j < len(b) && j <= i+window; j++ {
				if left == 0 {
					out.Capped = true
					break scan
				}
				left--
				if p, ok := suspect(b[i], b[j]); ok {
					found = append(found, p)
				}
			}
		}
	}
	slices.SortFunc(found, func(x, y Pair) int {
		return cmp.Or(cmp.Compare(x.CIs[0].ID, y.CIs[0].ID), cmp.Compare(x.CIs[1].ID, y.CIs[1].ID))
	})
	out.Total = len(found)
	out.Items = found[:min(first, len(found))]
	return out
}

// suspect reports whether a and b look like one thing: nearly the same
// name with the same numbers in it, and a shared evidence value.
func suspect(a, b candidate) (Pair, bool) {
	if a.numbers != b.numbers {
		return Pair{}, false // web-01 and web-02 are a series
	}
	dist := 0
	if a.norm != b.norm {
		longest := max(len([]rune(a.norm)), len([]rune(b.norm)))
		allowed := 1
		if longest > 10 {
			allowed = 2
		}
		if abs(len([]rune(a.norm))-len([]rune(b.norm))) > allowed {
			return Pair{}, false
		}
		if dist = levenshtein.ComputeDistance(a.norm, b.norm); dist > allowed {
			return Pair{}, false
		}
	}
	var shared []string
	for k, v := range a.values {
		if b.values[k] == v {
			shared = append(shared, k)
		}
	}
	if len(shared) == 0 {
		return Pair{}, false
	}
	slices.Sort(shared)
	if b.o.ID < a.o.ID {
		a, b = b, a
	}
	return Pair{CIs: [2]Offender{a.o, b.o}, Shared: shared, Distance: dist}, true
}

// normaliseName folds a name for comparison: lower case letters and
// digits only ("Web-01.example" and "web01example" are one), and the
// numbers it holds without leading zeros ("web-01" and "web-1" hold 1).
func normaliseName(name string) (norm, numbers string) {
	var b, nums strings.Builder
	var digits []rune
	flush := func() {
		if len(digits) == 0 {
			return
		}
		n := strings.TrimLeft(string(digits), "0")
		if n == "" {
			n = "0"
		}
		if nums.Len() > 0 {
			nums.WriteByte('.')
		}
		nums.WriteString(n)
		digits = digits[:0]
	}
	for _, r := range strings.ToLower(name) {
		switch {
		case unicode.IsDigit(r):
			b.WriteRune(r)
			digits = append(digits, r)
		case unicode.IsLetter(r):
			flush()
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return b.String(), nums.String()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
