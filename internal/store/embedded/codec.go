package embedded

import (
	"database/sql"
	"encoding/json"
	"math"
	"sort"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// Times are stored as int64 unix nanoseconds (UTC), which round-trip
// exactly for the years 1678-2261 (store.MinTime to store.MaxTime).

func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// normalizeAttrs returns a copy of a holding exactly store's value types in
// their canonical form (UTC times without monotonic reading, non-nil string
// lists), or an *InvalidError on "attributes.<name>".
func normalizeAttrs(a store.Attributes) (store.Attributes, error) {
	out := make(store.Attributes, len(a))
	for k, v := range a {
		switch x := v.(type) {
		case string, bool, int64:
			out[k] = x
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, store.Invalid("attributes."+k, "float %v cannot be stored", x)
			}
			out[k] = x
		case time.Time:
			if err := store.CheckTime("attributes."+k, x); err != nil {
				return nil, err
			}
			out[k] = x.UTC()
		case []string:
			out[k] = append(make([]string, 0, len(x)), x...)
		default:
			return nil, store.Invalid("attributes."+k, "unsupported value type %T", v)
		}
	}
	return out, nil
}

// tagsOf returns the "tags" attribute when it is a string list.
func tagsOf(a store.Attributes) []string {
	t, _ := a["tags"].([]string)
	return t
}

// stringAttr returns attribute k when it is a string, else nil (SQL NULL).
func stringAttr(a store.Attributes, k string) any {
	if s, ok := a[k].(string); ok {
		return s
	}
	return nil
}

// ciCols are the columns scanCI reads, in order.
const ciCols = "id, uid, kind, class, attrs, keys, sources, seen_by, version, created_at, updated_at, last_seen_at"

// ciScanner scans ciCols rows, reusing its buffers.
type ciScanner struct {
	uid, kind, attrs, keys, sources, seen sql.RawBytes
}

func (sc *ciScanner) scan(rows *sql.Rows) (int64, store.CI, error) {
	var (
		row                int64
		ci                 store.CI
		created, upd, seen int64
	)
	if err := rows.Scan(&row, &sc.uid, &sc.kind, &ci.Class, &sc.attrs, &sc.keys, &sc.sources, &sc.seen, &ci.Version, &created, &upd, &seen); err != nil {
		return 0, ci, err
	}
	ci.ID = store.ID(sc.uid)
	ci.Kind = internKind(sc.kind)
	var err error
	if ci.Attributes, err = store.DecodeAttributes(sc.attrs); err != nil {
		return 0, ci, corrupt("attributes of CI "+string(ci.ID), err)
	}
	if ci.Keys, err = store.DecodeStrings(sc.keys); err != nil {
		return 0, ci, corrupt("keys of CI "+string(ci.ID), err)
	}
	if ci.Sources, ci.SetAt, err = store.DecodeProvenance(sc.sources, ci.Attributes); err != nil {
		return 0, ci, corrupt("sources of CI "+string(ci.ID), err)
	}
	if ci.SeenBy, err = store.DecodeSeen(sc.seen); err != nil {
		return 0, ci, corrupt("seen_by of CI "+string(ci.ID), err)
	}
	ci.CreatedAt, ci.UpdatedAt, ci.LastSeenAt = fromNanos(created), fromNanos(upd), fromNanos(seen)
	return row, ci, nil
}

// internKind returns a stored kind without allocating for the common one.
func internKind(b []byte) store.ObjectKind {
	if string(b) == string(store.KindCI) {
		return store.KindCI
	}
	return store.ObjectKind(b)
}

// jsonList encodes values as a JSON array, the single parameter of the
// "IN (SELECT value FROM json_each(?))" pattern.
func jsonList[T ~string | ~int64 | ~int32](vals []T) string {
	b, _ := json.Marshal(vals)
	return string(b)
}

// sortedKeys returns the keys of a map in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
