package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// FuzzCredentials feeds arbitrary Authorization header values and token
// lifetimes to the parsers. Invariants: no panic; a token ParseToken
// accepts has the exact shape of a Skein token and its ID is a valid
// store token ID; ParseExpiry either fails with an *InvalidError on its
// field or returns never (zero) or a time after now within MaxLifetime.
func FuzzCredentials(f *testing.F) {
	good, _ := NewToken("seed", Viewer, time.Time{})
	for _, s := range []string{
		"Bearer " + good, good, "bearer " + good + " ", "Basic dXNlcjpwYXNz", "Bearer", "",
		"Bearer skn_' OR 1=1 --", "Bearer skn_aaaaaaaaaa_" + strings.Repeat("A", 43) + "\x00",
		"90d", "never", "2027-03-31", "2027-03-31T10:00:00+02:00", "-1d", "99999999999999999999d", "1e9h",
		"'; MATCH (n) DETACH DELETE n //",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		tok, _ := BearerToken(s)
		for _, cand := range []string{s, tok} {
			if id, ok := ParseToken(cand); ok {
				if len(cand) != tokenLen || !strings.HasPrefix(cand, Prefix+id+"_") {
					t.Fatalf("accepted %q with id %q", cand, id)
				}
				rec := store.APIToken{ID: id, Name: "n", Role: "viewer", Hash: Hash(cand)}
				if err := rec.Check(); err != nil {
					t.Fatalf("accepted token %q makes an invalid record: %v", cand, err)
				}
			}
		}
		at, err := ParseExpiry("expires", s, now)
		if err != nil {
			var ie *store.InvalidError
			if !errors.As(err, &ie) || ie.Field != "expires" {
				t.Fatalf("%q: error %v is not an InvalidError on expires", s, err)
			}
			return
		}
		if !at.IsZero() && (!at.After(now) || at.Sub(now) > MaxLifetime) {
			t.Fatalf("%q: expiry %v out of range", s, at)
		}
	})
}
