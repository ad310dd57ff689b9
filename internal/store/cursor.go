package store

import (
	"encoding/base64"
	"strings"

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
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) || len(b) == len(cursorPrefix) {
		return "", Invalid("after", "not a cursor returned by this API")
	}
	return string(b[len(cursorPrefix):]), nil
}

// NewID returns a new unique ID. IDs are UUIDv7: they sort by creation time,
// which gives lists a stable, natural order.
func NewID() ID {
	return ID(uuid.Must(uuid.NewV7()).String())
}
