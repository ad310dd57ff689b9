package store

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

const cursorPrefix = "c1:"

// EncodeCursor makes the opaque cursor for a page that ends at key (the sort
// key of the last item, usually its ID).
func EncodeCursor(key string) string {
	if key == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + key))
}

// DecodeCursor returns the sort key of a cursor made by EncodeCursor, "" for
// an empty cursor, or an *InvalidError on "after".
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != c || !strings.HasPrefix(string(b), cursorPrefix) || len(b) == len(cursorPrefix) {
		return "", Invalid("after", "not a cursor returned by this API")
	}
	return string(b[len(cursorPrefix):]), nil
}

// DecodeIDCursor returns the CI ID a cursor of a list ordered by ID ends
// at, "" for an empty cursor, or an *InvalidError on "after" for anything
// else, a cursor of another list included.
func DecodeIDCursor(c string) (string, error) {
	key, err := DecodeCursor(c)
	if err != nil || key == "" {
		return key, err
	}
	if _, perr := uuid.Parse(key); perr != nil || len(key) != 36 {
		return "", Invalid("after", "not a cursor of this list")
	}
	return key, nil
}

// NewID returns a new unique ID. IDs are UUIDv7: they sort by creation time,
// which gives lists a stable, natural order.
func NewID() ID {
	return ID(uuid.Must(uuid.NewV7()).String())
}

// EncodeRelCursor returns the cursor of a relationship in a CI's
// relationship pages (see RelationshipStore.RelationshipPages): whether it
// is an outgoing one, and its type and other end as the backend orders
// them.
func EncodeRelCursor(out bool, typ, other string) string {
	d := "i"
	if out {
		d = "o"
	}
	return EncodeCursor(d + "\x1f" + typ + "\x1f" + other)
}

// DecodeRelCursor reverses EncodeRelCursor; set is false for an empty
// cursor. A cursor it did not make is an *InvalidError on "after".
func DecodeRelCursor(c string) (out bool, typ, other string, set bool, err error) {
	key, err := DecodeCursor(c)
	if err != nil || key == "" {
		return false, "", "", false, err
	}
	parts := strings.Split(key, "\x1f")
	if len(parts) != 3 || (parts[0] != "o" && parts[0] != "i") {
		return false, "", "", false, Invalid("after", "not a cursor of a CI's relationships")
	}
	return parts[0] == "o", parts[1], parts[2], true, nil
}

// EncodeConflictCursor returns the cursor of the identity conflict between
// CIs ci1 and ci2 (see ConflictStore), ordered by that pair.
func EncodeConflictCursor(ci1, ci2 ID) string {
	return EncodeCursor(string(ci1) + "/" + string(ci2))
}

// DecodeConflictCursor reverses EncodeConflictCursor; both are "" for an
// empty cursor. Anything else, a cursor of another list included, is an
// *InvalidError on "after".
func DecodeConflictCursor(c string) (ci1, ci2 string, err error) {
	key, err := DecodeCursor(c)
	if err != nil || key == "" {
		return "", "", err
	}
	a, b, ok := strings.Cut(key, "/")
	if !ok || !canonicalUUID(a) || !canonicalUUID(b) {
		return "", "", Invalid("after", "not a cursor of this list")
	}
	return a, b, nil
}

func canonicalUUID(s string) bool {
	u, err := uuid.Parse(s)
	return err == nil && u.String() == s
}

// EncodeAuditCursor returns the cursor of an audit record in lists ordered
// by time, then record ID (History, Audit): the same on every backend.
func EncodeAuditCursor(t time.Time, id ID) string {
	return EncodeCursor(strconv.FormatInt(t.UnixNano(), 10) + "/" + string(id))
}

// DecodeAuditCursor reverses EncodeAuditCursor; set is false for an empty
// cursor. Anything else, a cursor of another list included, is an
// *InvalidError on "after".
func DecodeAuditCursor(c string) (t time.Time, id string, set bool, err error) {
	key, err := DecodeCursor(c)
	if err != nil || key == "" {
		return time.Time{}, "", false, err
	}
	ts, id, ok := strings.Cut(key, "/")
	n, perr := strconv.ParseInt(ts, 10, 64)
	if !ok || perr != nil || !canonicalUUID(id) {
		return time.Time{}, "", false, Invalid("after", "not a cursor of this list")
	}
	return time.Unix(0, n).UTC(), id, true, nil
}

// SetCursors fills p's Cursors and EndCursor from its items.
func (p *Page[T]) SetCursors(cursor func(T) string) {
	p.Cursors = make([]string, len(p.Items))
	for i, it := range p.Items {
		p.Cursors[i] = cursor(it)
	}
	p.EndCursor = ""
	if n := len(p.Cursors); n > 0 {
		p.EndCursor = p.Cursors[n-1]
	}
}

// SortCursors returns the cursor of each node of a page listed in order
// s (EncodeSortCursor), for Page.Cursors.
func SortCursors(s Sort, nodes []Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = EncodeSortCursor(s, n)
	}
	return out
}
