package store

import (
	"encoding/base64"
	"slices"
	"strings"
)

// A relationship is identified by its source, type and target, so its ID is
// derived from them: both backends give the same relationship the same ID,
// and a backend can find it through the (indexed) source CI without an index
// on relationship properties.

// RelationshipKey is the natural key of a relationship.
type RelationshipKey struct {
	Source ID
	Type   string
	Target ID
}

const relIDPrefix = "r1."

// ID returns the relationship's opaque ID.
// (Reads make one per relationship: it is built in one buffer, the key on
// the stack when it fits.)
func (k RelationshipKey) ID() ID {
	var stack [256]byte
	raw := append(append(append(append(append(stack[:0], k.Source...), 0x1f), k.Type...), 0x1f), k.Target...)
	enc := base64.RawURLEncoding
	b := make([]byte, len(relIDPrefix), len(relIDPrefix)+enc.EncodedLen(len(raw)))
	copy(b, relIDPrefix)
	return ID(enc.AppendEncode(b, raw))
}

// Key returns the relationship's natural key.
func (r Relationship) Key() RelationshipKey {
	return RelationshipKey{Source: r.Source, Type: r.Type, Target: r.Target}
}

// ParseRelationshipID returns the key of a relationship ID made by
// RelationshipKey.ID, or an *InvalidError on field "id".
func ParseRelationshipID(id ID) (RelationshipKey, error) {
	bad := Invalid("id", "%q is not a relationship id", clip(string(id), 80))
	s, ok := strings.CutPrefix(string(id), relIDPrefix)
	if !ok {
		return RelationshipKey{}, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || base64.RawURLEncoding.EncodeToString(b) != s {
		return RelationshipKey{}, bad // one key, one spelling
	}
	parts := strings.Split(string(b), "\x1f")
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" || !ValidIdentifier(parts[1]) {
		return RelationshipKey{}, bad
	}
	return RelationshipKey{Source: ID(parts[0]), Type: parts[1], Target: ID(parts[2])}, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// SortSteps fills each step's relationship ID (RelationshipKey.ID) and
// sorts the steps by it, the order of RelationshipsOf.
func SortSteps(steps []Step) {
	for i := range steps {
		steps[i].Rel.ID = steps[i].Rel.Key().ID()
	}
	slices.SortFunc(steps, func(a, b Step) int { return strings.Compare(string(a.Rel.ID), string(b.Rel.ID)) })
}
