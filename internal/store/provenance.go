package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// A node's provenance says, for each attribute, which source set its value
// (Node.Sources) and when (Node.SetAt). Both backends store it as one JSON
// object, written by AppendProvenance and read by DecodeProvenance:
//
//	{"cpu_count":["vcenter",1733151200000000000],"name":"api"}
//
// An attribute's entry is [source, Unix nanoseconds], or a bare source for
// one set before set-times were kept (its SetAt is then unknown, absent).

// AppendProvenance appends the provenance object of sources and setAt to b,
// keys sorted.
func AppendProvenance(b []byte, sources map[string]string, setAt map[string]time.Time) []byte {
	return appendObject(b, sources, func(b []byte, k string) []byte {
		t, ok := setAt[k]
		if !ok {
			return AppendJSONString(b, sources[k])
		}
		b = append(b, '[')
		b = AppendJSONString(b, sources[k])
		b = append(b, ',')
		b = strconv.AppendInt(b, t.UnixNano(), 10)
		return append(b, ']')
	})
}

// decodeProvenanceStd reads what AppendProvenance wrote, or an older object
// of bare sources, with encoding/json: what DecodeProvenance falls back to.
func decodeProvenanceStd(b []byte) (map[string]string, map[string]time.Time, error) {
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
