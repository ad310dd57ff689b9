package graph

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph/generated"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestGlobalIDsHaveOneForm checks that an ID is accepted only as the API
// wrote it: padded, standard-alphabet, line-broken or otherwise respelled
// forms that decode to the same bytes are INVALID naming the argument.
func TestGlobalIDsHaveOneForm(t *testing.T) {
	ci := store.ID("01a23456-7890-7abc-8def-0123456789ab")
	rel := store.RelationshipKey{Source: ci, Type: "HOSTED_ON", Target: store.ID("01a23456-7890-7abc-8def-0123456789ac")}.ID() // 83 bytes: the last base64 character has unused bits
	for _, gid := range []string{globalID(typeCI, ci), globalID(typeRelationship, rel), globalID(typeAuditRecord, ci)} {
		typ, id, err := parseGlobalID("id", gid)
		require.NoError(t, err, gid)
		assert.Equal(t, gid, globalID(typ, id))
		raw, _ := base64.RawURLEncoding.DecodeString(gid)
		variants := map[string]string{
			"padded":         base64.URLEncoding.EncodeToString(raw),
			"std alphabet":   base64.StdEncoding.EncodeToString(raw),
			"raw std":        base64.RawStdEncoding.EncodeToString(raw),
			"line break":     gid[:4] + "\n" + gid[4:],
			"carriage ret":   gid[:4] + "\r" + gid[4:],
			"trailing bits":  flipTrailingBits(gid),
			"upper-case uid": globalID(typeCI, store.ID(strings.ToUpper(string(ci)))),
			"braced uid":     globalID(typeCI, "{"+ci+"}"),
			"not a uid":      globalID(typeCI, "x"),
			"inner respelt":  globalID(typeRelationship, store.ID(flipTrailingBits(string(rel)))),
		}
		for name, v := range variants {
			if v == gid {
				continue // this spelling coincides with the canonical one
			}
			_, _, err := parseGlobalID("id", v)
			var ie *store.InvalidError
			if assert.ErrorAs(t, err, &ie, "%s: %q accepted for %q", name, v, gid) {
				assert.Equal(t, "id", ie.Field)
			}
		}
	}
}

// flipTrailingBits changes the unused low bits of the last character of a
// raw base64 string, which a lenient decoder ignores.
func flipTrailingBits(s string) string {
	if len(s)%4 == 0 {
		return s
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}

// TestEveryNodeTypeLoads: node(id:) resolves every type that implements
// Node in the schema (CIs, relationships, audit records, and any type
// added later), and nothing else.
func TestEveryNodeTypeLoads(t *testing.T) {
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	var implementors []string
	for _, def := range s.GetPossibleTypes(s.Types["Node"]) {
		implementors = append(implementors, def.Name)
	}
	require.NotEmpty(t, implementors)
	var loaders []string
	for typ := range nodeLoaders {
		loaders = append(loaders, typ)
	}
	assert.ElementsMatch(t, implementors, loaders, "each Node type needs a nodeLoaders entry (graph/globalid.go) and a case in canonicalID")
	assert.Contains(t, implementors, typeAuditRecord)
}
