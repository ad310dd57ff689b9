package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
)

func TestNewTokenShape(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		tok, rec := NewToken("n", Agent, time.Time{})
		id, ok := ParseToken(tok)
		require.True(t, ok, tok)
		assert.Equal(t, rec.ID, id)
		assert.Len(t, tok, tokenLen)
		assert.True(t, strings.HasPrefix(tok, Prefix+id+"_"))
		assert.Equal(t, Hash(tok), rec.Hash)
		assert.True(t, matches(tok, rec.Hash))
		assert.NoError(t, rec.Check(), "a new token's record is valid")
		assert.False(t, seen[tok], "tokens are random")
		seen[tok] = true
	}
}

func TestParseToken(t *testing.T) {
	good, _ := NewToken("n", Viewer, time.Time{})
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"good", good, true},
		{"empty", "", false},
		{"short", good[:len(good)-1], false},
		{"long", good + "A", false},
		{"other prefix", "ghp_" + good[4:], false},
		{"upper-case id", Prefix + "ABCDEFGHIJ" + good[len(Prefix)+idLen:], false},
		{"id with 0", Prefix + "abcdefghi0" + good[len(Prefix)+idLen:], false},
		{"no separator", good[:len(Prefix)+idLen] + "x" + good[len(Prefix)+idLen+1:], false},
		{"bad secret char", good[:len(good)-1] + "=", false},
		{"injection", Prefix + "aaaaaaaaaa_" + strings.Repeat("'", secretLen), false},
	}
	for _, tt := range tests {
		_, ok := ParseToken(tt.tok)
		assert.Equal(t, tt.ok, ok, tt.name)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header, tok string
		ok          bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"abc", "", false},
	}
	for _, tt := range tests {
		tok, ok := BearerToken(tt.header)
		assert.Equal(t, tt.ok, ok, tt.header)
		assert.Equal(t, tt.tok, tok, tt.header)
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"", now.Add(DefaultLifetime), ""},
		{"never", time.Time{}, ""},
		{"NEVER", time.Time{}, ""},
		{"90d", now.Add(90 * 24 * time.Hour), ""},
		{"12h", now.Add(12 * time.Hour), ""},
		{"30m", now.Add(30 * time.Minute), ""},
		{"2027-03-31", time.Date(2027, 3, 31, 0, 0, 0, 0, time.UTC), ""},
		{"2027-03-31T10:00:00+02:00", time.Date(2027, 3, 31, 8, 0, 0, 0, time.UTC), ""},
		{"0d", time.Time{}, "must be in the future"},
		{"2020-01-01", time.Time{}, "must be in the future"},
		{"3651d", time.Time{}, "longest lifetime"},
		{"99999999999d", time.Time{}, "not a lifetime"},
		{"2099-01-01", time.Time{}, "within 3650d"},
		{"-5d", time.Time{}, "not a lifetime"},
		{"5 days", time.Time{}, "not a lifetime"},
		{"d", time.Time{}, "not a lifetime"},
	}
	for _, tt := range tests {
		got, err := ParseExpiry("expires", tt.in, now)
		if tt.err != "" {
			var ie *store.InvalidError
			if assert.True(t, errors.As(err, &ie), "%q: %v", tt.in, err) {
				assert.Equal(t, "expires", ie.Field)
				assert.Contains(t, ie.Reason, tt.err, tt.in)
			}
			continue
		}
		require.NoError(t, err, tt.in)
		assert.True(t, tt.want.Equal(got), "%q: got %v, want %v", tt.in, got, tt.want)
	}
}

func TestRoles(t *testing.T) {
	for _, r := range TokenRoles {
		got, err := ParseRole(strings.ToUpper(string(r)))
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
	_, err := ParseRole("anonymous")
	assert.ErrorContains(t, err, "valid roles are viewer, agent, monitor, engineer, change_manager, admin")
	_, err = ParseRole("root")
	assert.Error(t, err)
}

// TestPermissionsDefaultDeny: a kind or verb without a row is refused to
// every role, admins included; no row lets an unauthenticated request
// write; every row names known roles.
func TestPermissionsDefaultDeny(t *testing.T) {
	for _, r := range append([]Role{Anonymous}, TokenRoles...) {
		assert.False(t, Can(r, "knowledge_article", Read), "%s: a kind without rules", r)
		assert.False(t, Can(r, KindCI, "explode"), "%s: a verb without a rule", r)
		assert.False(t, Can(r, KindGroup, Purge), "%s: purging groups has no rule yet", r)
		assert.Equal(t, r == Admin, Can(r, KindCI, Purge), "%s: only admins purge CIs", r)
	}
	known := append([]Role{Anonymous}, TokenRoles...)
	for _, p := range SortedPermissions() {
		roles := Permissions[p]
		assert.NotEmpty(t, roles, p.String())
		for _, r := range roles {
			assert.Contains(t, known, r, p.String())
		}
		if p.Verb != Read {
			assert.NotContains(t, roles, Anonymous, "%s: an unauthenticated request never writes", p)
		}
	}
}

// TestCheck: services refuse by the caller's role; a context without any
// identity is the process itself (command-line tools, tests).
func TestCheck(t *testing.T) {
	ctx := t.Context()
	as := func(r Role) context.Context {
		id := Identity{TokenID: "abc", Name: "n", Role: r}
		if r == Anonymous {
			id = anonymous
		}
		return WithIdentity(ctx, id)
	}
	tests := []struct {
		name string
		ctx  context.Context
		perm Permission
		want error
	}{
		{"process", ctx, Permission{KindToken, Create}, nil},
		{"attached anonymous reads", Attached(ctx), Permission{KindCI, Read}, nil},
		{"attached anonymous writes", Attached(ctx), Permission{KindCI, Upsert}, ErrUnauthenticated},
		{"agent upserts", as(Agent), Permission{KindCI, Upsert}, nil},
		{"agent reads", as(Agent), Permission{KindCI, Read}, ErrForbidden},
		{"agent deletes relationships", as(Agent), Permission{KindRelationship, Delete}, ErrForbidden},
		{"viewer upserts", as(Viewer), Permission{KindCI, Upsert}, ErrForbidden},
		{"engineer merges", as(Engineer), Permission{KindCI, Merge}, nil},
		{"change manager registers a class", as(ChangeManager), Permission{KindClass, Create}, ErrForbidden},
		{"admin makes a token", as(Admin), Permission{KindToken, Create}, nil},
		{"anonymous reads tokens", as(Anonymous), Permission{KindToken, Read}, ErrUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.ctx, tt.perm.Kind, tt.perm.Verb)
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.perm.String(), "the refusal names the permission")
		})
	}
	assert.True(t, MayReadAudit(Viewer, KindCI))
	assert.False(t, MayReadAudit(Viewer, KindToken), "token records name tokens and roles: admins only")
	assert.True(t, MayReadAudit(Admin, KindToken))
	assert.False(t, MayReadAudit(Agent, KindClass), "agents read the model, not the audit trail")
}

// TestAuthenticate checks every outcome against a real (embedded) store.
func TestAuthenticate(t *testing.T) {
	ctx := t.Context()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	defer st.Close()
	actor := store.Actor{Name: "test", Source: "api"}
	now := time.Now()
	valid, rec, err := Issue(ctx, st, actor, "ops laptop", Engineer, now.Add(time.Hour))
	require.NoError(t, err)
	revoked, revRec, err := Issue(ctx, st, actor, "old", Admin, time.Time{})
	require.NoError(t, err)
	_, err = st.RevokeToken(ctx, actor, revRec.ID)
	require.NoError(t, err)
	expired, expRec := NewToken("expired", Viewer, now.Add(-time.Minute))
	require.NoError(t, st.CreateToken(ctx, actor, expRec))
	forged := valid[:len(Prefix)+idLen+1] + strings.Repeat("A", secretLen) // right ID, wrong secret
	unknown, _ := NewToken("never stored", Admin, time.Time{})

	a := &Authenticator{Tokens: st, AnonymousRead: true}
	id, err := a.Authenticate(ctx, "Bearer "+valid, "127.0.0.1:8080")
	require.NoError(t, err)
	assert.Equal(t, Identity{TokenID: rec.ID, Name: "ops laptop", Role: Engineer}, id)
	assert.Equal(t, store.Actor{Name: "ops laptop (token " + rec.ID + ")", Source: "api"}, id.Actor())
	assert.True(t, id.Authenticated())

	id, err = a.Authenticate(ctx, "", "127.0.0.1:8080")
	require.NoError(t, err)
	assert.Equal(t, Anonymous, id.Role)
	assert.False(t, id.Authenticated())
	assert.Equal(t, "anonymous", id.Actor().Name)

	refused := []struct {
		name, header, reason string
		anonymousRead        bool
	}{
		{"no token, anonymous reads off", "", "authentication required", false},
		{"basic auth", "Basic dXNlcjpwYXNz", `must be "Bearer skn_..."`, true},
		{"not a Skein token", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", "not a Skein API token", true},
		{"unknown token", "Bearer " + unknown, "is not valid", true},
		{"wrong secret", "Bearer " + forged, "is not valid", true},
		{"revoked", "Bearer " + revoked, "was revoked", true},
		{"expired", "Bearer " + expired, "expired at", true},
	}
	for _, tt := range refused {
		a := &Authenticator{Tokens: st, AnonymousRead: tt.anonymousRead}
		_, err := a.Authenticate(ctx, tt.header, "127.0.0.1:8080")
		require.ErrorIs(t, err, ErrUnauthenticated, tt.name)
		assert.Contains(t, err.Error(), tt.reason, tt.name)
		if tok, ok := BearerToken(tt.header); ok && len(tok) > 20 {
			assert.NotContains(t, err.Error(), tok[len(tok)-20:], "%s: the error never echoes the secret", tt.name)
		}
	}

	// A store that cannot answer is not an authentication failure.
	require.NoError(t, st.Close())
	_, err = a.Authenticate(ctx, "Bearer "+valid, "127.0.0.1:8080")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrUnauthenticated)
	assert.ErrorIs(t, err, store.ErrUnavailable)
}

func TestForbidden(t *testing.T) {
	err := Forbidden(Viewer, "Mutation.deleteCI")
	assert.ErrorIs(t, err, ErrForbidden)
	assert.Equal(t, "the viewer role may not call Mutation.deleteCI", err.Error())
	err = Forbidden(Anonymous, "Mutation.deleteCI")
	assert.ErrorIs(t, err, ErrUnauthenticated)
}

func TestRequestAnonymousNeedsLoopbackHost(t *testing.T) {
	a := &Authenticator{AnonymousRead: true} // no store: anonymous requests never reach it
	for host, ok := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "LOCALHOST": true, "[::1]:8080": true, "127.9.9.9": true,
		"evil.example.com:8080": false, "10.0.0.5:8080": false, "": false, "[::]:8080": false, "0.0.0.0:8080": false,
	} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Host = host
		ctx, err := a.Request(r)
		if ok {
			require.NoError(t, err, host)
			assert.Equal(t, Anonymous, FromContext(ctx).Role, host)
		} else {
			assert.ErrorIs(t, err, ErrUnauthenticated, "Host %q (DNS rebinding)", host)
		}
	}
}

// TestTokenCache: a revocation through the cache takes effect at once; one
// made behind its back, once the entry is older than the TTL.
func TestTokenCache(t *testing.T) {
	ctx := t.Context()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	defer st.Close()
	actor := store.Actor{Name: "test", Source: "api"}
	now := time.Now()
	cache := NewTokenCache(st, time.Second)
	cache.now = func() time.Time { return now }
	a := &Authenticator{Tokens: cache}

	tok1, rec1, err := Issue(ctx, st, actor, "one", Viewer, time.Time{})
	require.NoError(t, err)
	tok2, rec2, err := Issue(ctx, st, actor, "two", Viewer, time.Time{})
	require.NoError(t, err)
	for _, tok := range []string{tok1, tok2} {
		_, err := a.Authenticate(ctx, "Bearer "+tok, "127.0.0.1:8080")
		require.NoError(t, err)
	}

	_, err = cache.RevokeToken(ctx, actor, rec1.ID)
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, "Bearer "+tok1, "127.0.0.1:8080")
	assert.ErrorIs(t, err, ErrUnauthenticated, "revoked through the cache: refused at once")

	_, err = st.RevokeToken(ctx, actor, rec2.ID) // behind the cache's back
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, "Bearer "+tok2, "127.0.0.1:8080")
	assert.NoError(t, err, "still cached")
	now = now.Add(time.Second)
	_, err = a.Authenticate(ctx, "Bearer "+tok2, "127.0.0.1:8080")
	assert.ErrorIs(t, err, ErrUnauthenticated, "refused once the entry is a TTL old")

	tok3, _, err := Issue(ctx, st, actor, "three", Viewer, time.Time{})
	require.NoError(t, err)
	_, err = a.Authenticate(ctx, "Bearer "+tok3, "127.0.0.1:8080")
	require.NoError(t, err)
	forged := tok3[:len(tok3)-1] + string("AB"[int(tok3[len(tok3)-1])%2])
	if forged == tok3 {
		forged = tok3[:len(tok3)-1] + "C"
	}
	_, err = a.Authenticate(ctx, "Bearer "+forged, "127.0.0.1:8080")
	assert.ErrorIs(t, err, ErrUnauthenticated, "a cached record still needs the right secret")
}

// TestIssueTokenNameRule checks that token names follow the text rule of CI
// names: stored in NFC, invisible and control characters refused.
func TestIssueTokenNameRule(t *testing.T) {
	ctx := t.Context()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	defer st.Close()
	actor := store.Actor{Name: "test", Source: "api"}
	_, rec, err := Issue(ctx, st, actor, " se\u0301ver ", Viewer, time.Time{})
	require.NoError(t, err)
	assert.Equal(t, "s\u00e9ver", rec.Name, "trimmed, in NFC")
	for _, name := range []string{"a\u202eb", "a\u200bb", "\ufeffa", "a\nb", "a\tb", "a\ufffdb"} {
		_, _, err := Issue(ctx, st, actor, name, Viewer, time.Time{})
		var ie *store.InvalidError
		if assert.ErrorAs(t, err, &ie, "%q", name) {
			assert.Equal(t, "name", ie.Field)
		}
	}
}

// BenchmarkCheck measures what a service pays to check its caller.
func BenchmarkCheck(b *testing.B) {
	ctx := WithIdentity(b.Context(), Identity{TokenID: "abcdefgh23", Name: "n", Role: Engineer})
	b.ReportAllocs()
	for b.Loop() {
		if err := Check(ctx, KindCI, Upsert); err != nil {
			b.Fatal(err)
		}
	}
}
