package store

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A node's provenance says, for each attribute, which source set its value
// (Node.Sources) and when (Node.SetAt). Both backends store it as one JSON
// object, written by AppendProvenance and read by DecodeProvenance:
//
//	{"*":["vcenter",1733151200000000000],"owner":["api",1733151300000000000]}
//
// An attribute's entry is [source, Unix nanoseconds], or a bare source for
// one set before set-times were kept (its SetAt is then unknown, absent).
// The entry "*" is the provenance of every attribute of the node that has
// no entry of its own: most nodes got every attribute from one source in
// one write, and spelling it out per attribute made the stored provenance
// larger than the attributes themselves (480 against 310 bytes on the
// demo estate), which every read of a row paid for. Objects without "*",
// as releases before it wrote them, read the same way.

// provenanceDefault is the key of the entry that applies to every
// attribute without its own.
const provenanceDefault = "*"

// setBy is one attribute's provenance: its source and, if known, when.
type setBy struct {
	source string
	ns     int64
	timed  bool
}

func (p setBy) append(b []byte) []byte {
	if !p.timed {
		return AppendJSONString(b, p.source)
	}
	b = append(b, '[')
	b = AppendJSONString(b, p.source)
	b = append(b, ',')
	b = strconv.AppendInt(b, p.ns, 10)
	return append(b, ']')
}

func setByOf(sources map[string]string, setAt map[string]time.Time, k string) (setBy, bool) {
	src, ok := sources[k]
	if !ok {
		return setBy{}, false
	}
	t, timed := setAt[k]
	p := setBy{source: src, timed: timed}
	if timed {
		p.ns = t.UnixNano()
	}
	return p, true
}

// AppendProvenance appends the provenance object of a node whose attributes
// are attrs to b, keys sorted: the commonest provenance among attrs as "*"
// (when at least two attributes share it), then every entry that differs
// from it or names no attribute of attrs. It is read back with the same
// attributes.
func AppendProvenance(b []byte, attrs Attributes, sources map[string]string, setAt map[string]time.Time) []byte {
	if p, ok := uniformSetBy(attrs, sources, setAt); ok {
		// What the general case writes when every attribute has one
		// provenance and nothing else has any (a node one source wrote in
		// one write, as most are): the "*" entry alone.
		b = append(b, '{')
		b = AppendJSONString(b, provenanceDefault)
		b = append(b, ':')
		b = p.append(b)
		return append(b, '}')
	}
	def, ok := commonSetBy(attrs, sources, setAt)
	keys := make([]string, 0, len(sources))
	for k := range sources {
		if ok {
			if _, isAttr := attrs[k]; isAttr {
				if p, _ := setByOf(sources, setAt, k); p == def {
					continue
				}
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	if ok {
		b = AppendJSONString(b, provenanceDefault)
		b = append(b, ':')
		b = def.append(b)
	}
	for i, k := range keys {
		if i > 0 || ok {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		p, _ := setByOf(sources, setAt, k)
		b = p.append(b)
	}
	return append(b, '}')
}

// uniformSetBy returns the provenance every attribute of attrs has, when
// there are two or more, sources names exactly attrs' keys and they all
// share one provenance (then commonSetBy would answer it and no entry
// would differ).
func uniformSetBy(attrs Attributes, sources map[string]string, setAt map[string]time.Time) (setBy, bool) {
	if len(attrs) < 2 || len(sources) != len(attrs) {
		return setBy{}, false
	}
	var p setBy
	first := true
	for k := range sources {
		if _, isAttr := attrs[k]; !isAttr || k == provenanceDefault {
			return setBy{}, false
		}
		q, _ := setByOf(sources, setAt, k)
		if first {
			p, first = q, false
		} else if q != p {
			return setBy{}, false
		}
	}
	return p, true
}

// commonSetBy returns the provenance most attributes of attrs share, if
// two or more do and "*" can stand for it: every attribute has an entry
// (one without would read back with the default), and no key is "*".
func commonSetBy(attrs Attributes, sources map[string]string, setAt map[string]time.Time) (setBy, bool) {
	if _, clash := sources[provenanceDefault]; clash || len(attrs) < 2 {
		return setBy{}, false
	}
	if _, clash := attrs[provenanceDefault]; clash {
		return setBy{}, false
	}
	// Nodes have a handful of distinct provenances: a short list beats a
	// map.
	type count struct {
		p setBy
		n int
	}
	var counts []count
	for k := range attrs {
		p, ok := setByOf(sources, setAt, k)
		if !ok {
			return setBy{}, false
		}
		i := slices.IndexFunc(counts, func(c count) bool { return c.p == p })
		if i < 0 {
			counts = append(counts, count{p: p})
			i = len(counts) - 1
		}
		counts[i].n++
	}
	best := slices.MaxFunc(counts, func(a, b count) int {
		if a.n != b.n {
			return a.n - b.n
		}
		// Ties break on the provenance, so that one node always encodes
		// the same way.
		return -compareSetBy(a.p, b.p)
	})
	return best.p, best.n >= 2
}

func compareSetBy(a, b setBy) int {
	if c := strings.Compare(a.source, b.source); c != 0 {
		return c
	}
	if a.timed != b.timed {
		if a.timed {
			return 1
		}
		return -1
	}
	return cmp.Compare(a.ns, b.ns)
}

// applyDefault gives every attribute of attrs without an entry of its own
// the provenance of the "*" entry, and removes "*".
func applyDefault(attrs Attributes, sources map[string]string, setAt map[string]time.Time) {
	src, ok := sources[provenanceDefault]
	if !ok {
		return
	}
	t, timed := setAt[provenanceDefault]
	delete(sources, provenanceDefault)
	delete(setAt, provenanceDefault)
	for k := range attrs {
		if _, own := sources[k]; own {
			continue
		}
		sources[k] = src
		if timed {
			setAt[k] = t
		}
	}
}

// decodeProvenanceStd reads what AppendProvenance wrote, or an older object
// of bare sources, with encoding/json: what DecodeProvenance falls back to.
func decodeProvenanceStd(b []byte, attrs Attributes) (map[string]string, map[string]time.Time, error) {
	sources, setAt := map[string]string{}, map[string]time.Time{}
	if len(b) == 0 {
		return sources, setAt, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("decode provenance: %w", err)
	}
	for k, v := range raw {
		if len(v) > 0 && v[0] == '"' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, nil, fmt.Errorf("decode provenance of %q: %w", k, err)
			}
			sources[k] = s
			continue
		}
		var pair [2]json.RawMessage
		if err := json.Unmarshal(v, &pair); err != nil {
			return nil, nil, fmt.Errorf("decode provenance of %q: %w", k, err)
		}
		var s string
		var ns int64
		if err := json.Unmarshal(pair[0], &s); err != nil {
			return nil, nil, fmt.Errorf("decode provenance of %q: %w", k, err)
		}
		if err := json.Unmarshal(pair[1], &ns); err != nil {
			return nil, nil, fmt.Errorf("decode provenance of %q: %w", k, err)
		}
		sources[k], setAt[k] = s, time.Unix(0, ns).UTC()
	}
	applyDefault(attrs, sources, setAt)
	return sources, setAt, nil
}

// NextSetAt returns the set times after a write that made changes to a
// node whose set times were prev, at now: a changed attribute is set now, a
// cleared one has none, the class is not an attribute.
func NextSetAt(prev map[string]time.Time, changes []FieldChange, now time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(prev)+len(changes))
	for k, t := range prev {
		out[k] = t
	}
	for _, c := range changes {
		switch {
		case c.Field == "class":
		case c.After == nil:
			delete(out, c.Field)
		default:
			out[c.Field] = now
		}
	}
	return out
}
