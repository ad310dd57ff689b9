package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var tokenCases = []testCase{
	{"TokensRoundTrip", testTokensRoundTrip},
	{"TokensRevoke", testTokensRevoke},
	{"TokensRefuseBadRecords", testTokensInvalid},
	{"TokensConcurrentRevokeAuditsOnce", testTokensConcurrentRevoke},
}

func tokenRecord(id, name, role string) store.APIToken {
	h := sha256.Sum256([]byte("skn_" + id + "_secret"))
	return store.APIToken{ID: id, Name: name, Role: role, Hash: h[:]}
}

func testTokensRoundTrip(t *testing.T, st store.Store) {
	ctx := t.Context()
	expires := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)
	a := tokenRecord("abc123", "vcenter discovery ✓", "agent")
	a.ExpiresAt = expires
	a.Sources = []string{"vcenter", "vcenter-dmz"}
	b := tokenRecord("zz9", "alice's laptop", "admin")
	before := time.Now().Add(-time.Second)
	require.NoError(t, st.CreateToken(ctx, api, a))
	require.NoError(t, st.CreateToken(ctx, api, b))

	got, err := st.Token(ctx, "abc123")
	require.NoError(t, err)
	assert.Equal(t, a.ID, got.ID)
	assert.Equal(t, a.Name, got.Name)
	assert.Equal(t, a.Role, got.Role)
	assert.Equal(t, a.Hash, got.Hash)
	assert.Equal(t, a.Sources, got.Sources, "bound sources, in order")
	assert.Equal(t, api.Name, got.CreatedBy)
	assert.True(t, got.ExpiresAt.Equal(expires), "expiry %v, want %v", got.ExpiresAt, expires)
	assert.True(t, got.RevokedAt.IsZero())
	assert.True(t, got.CreatedAt.After(before) && got.CreatedAt.Before(time.Now().Add(time.Second)), "created %v", got.CreatedAt)
	assert.True(t, got.Active(time.Now()))
	assert.False(t, got.Active(expires), "expired at its expiry")

	got, err = st.Token(ctx, "zz9")
	require.NoError(t, err)
	assert.True(t, got.ExpiresAt.IsZero(), "no expiry")
	assert.Empty(t, got.Sources, "no sources")

	all, err := st.Tokens(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, []string{"abc123", "zz9"}, []string{all[0].ID, all[1].ID}, "oldest first")

	_, err = st.Token(ctx, "nope")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = st.Token(ctx, "' OR 1=1 --")
	assert.ErrorIs(t, err, store.ErrNotFound)

	err = st.CreateToken(ctx, api, tokenRecord("abc123", "again", "viewer"))
	assert.ErrorIs(t, err, store.ErrConflict, "an ID is used once")
	got, err = st.Token(ctx, "abc123")
	require.NoError(t, err)
	assert.Equal(t, a.Name, got.Name, "the conflict changed nothing")

	h := history(t, st, store.TokenObject("abc123"))
	require.Len(t, h, 1)
	assert.Equal(t, store.KindToken, h[0].Kind)
	assert.Equal(t, store.ActionCreate, h[0].Action)
	assert.Equal(t, api, h[0].Actor)
	assert.ElementsMatch(t, []store.FieldChange{
		{Field: "name", After: a.Name}, {Field: "role", After: "agent"}, {Field: "expires_at", After: expires},
		{Field: "sources", After: []string{"vcenter", "vcenter-dmz"}},
	}, h[0].Changes, "name, role, expiry and sources are audited; the hash never is")
}

func testTokensRevoke(t *testing.T, st store.Store) {
	ctx := t.Context()
	require.NoError(t, st.CreateToken(ctx, api, tokenRecord("rev1", "to revoke", "engineer")))
	_, err := st.RevokeToken(ctx, agent, "missing")
	assert.ErrorIs(t, err, store.ErrNotFound)

	r, err := st.RevokeToken(ctx, agent, "rev1")
	require.NoError(t, err)
	require.False(t, r.RevokedAt.IsZero())
	assert.False(t, r.Active(time.Now()))
	got, err := st.Token(ctx, "rev1")
	require.NoError(t, err)
	assert.True(t, got.RevokedAt.Equal(r.RevokedAt), "stored %v, returned %v", got.RevokedAt, r.RevokedAt)

	again, err := st.RevokeToken(ctx, agent, "rev1")
	require.NoError(t, err, "revoking twice is not an error")
	assert.True(t, again.RevokedAt.Equal(r.RevokedAt), "the first revocation stands")

	h := history(t, st, store.TokenObject("rev1"))
	require.Len(t, h, 2, "one create, one revoke")
	assert.Equal(t, store.ActionRevoke, h[0].Action)
	assert.Equal(t, agent, h[0].Actor)
	all, err := st.Tokens(ctx)
	require.NoError(t, err)
	require.Len(t, all, 1, "revoked tokens stay listed")
}

func testTokensInvalid(t *testing.T, st store.Store) {
	ctx := t.Context()
	good := tokenRecord("good", "ok", "viewer")
	tests := []struct {
		name  string
		edit  func(*store.APIToken)
		field string
	}{
		{"empty id", func(tk *store.APIToken) { tk.ID = "" }, "id"},
		{"uppercase id", func(tk *store.APIToken) { tk.ID = "ABC" }, "id"},
		{"injection id", func(tk *store.APIToken) { tk.ID = "a'}) DETACH DELETE n //" }, "id"},
		{"short hash", func(tk *store.APIToken) { tk.Hash = tk.Hash[:16] }, "hash"},
		{"no role", func(tk *store.APIToken) { tk.Role = "" }, "role"},
		{"bad role", func(tk *store.APIToken) { tk.Role = "admin`" }, "role"},
		{"empty name", func(tk *store.APIToken) { tk.Name = "" }, "name"},
		{"blank name", func(tk *store.APIToken) { tk.Name = "  \t" }, "name"},
		{"control name", func(tk *store.APIToken) { tk.Name = "a\x00b" }, "name"},
		{"bidi override name", func(tk *store.APIToken) { tk.Name = "a\u202eb" }, "name"},
		{"zero-width name", func(tk *store.APIToken) { tk.Name = "a\u200bb" }, "name"},
		{"decomposed name", func(tk *store.APIToken) { tk.Name = "se\u0301ver" }, "name"},
		{"long name", func(tk *store.APIToken) { tk.Name = string(bytes.Repeat([]byte("n"), store.MaxTokenNameLen+1)) }, "name"},
		{"far expiry", func(tk *store.APIToken) { tk.ExpiresAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }, "expiresAt"},
		{"injection source", func(tk *store.APIToken) { tk.Sources = []string{"nmap", "x'}) DETACH DELETE n //"} }, "sources[1]"},
		{"duplicate source", func(tk *store.APIToken) { tk.Sources = []string{"nmap", "NMAP"} }, "sources[1]"},
		{"too many sources", func(tk *store.APIToken) { tk.Sources = make([]string, store.MaxTokenSources+1) }, "sources"},
	}
	for _, tt := range tests {
		tk := good
		tk.Hash = bytes.Clone(good.Hash)
		tt.edit(&tk)
		err := st.CreateToken(ctx, api, tk)
		var ie *store.InvalidError
		if assert.True(t, errors.As(err, &ie), "%s: %v", tt.name, err) {
			assert.Equal(t, tt.field, ie.Field, tt.name)
		}
	}
	all, err := st.Tokens(ctx)
	require.NoError(t, err)
	assert.Empty(t, all, "nothing invalid was stored")
}

func testTokensConcurrentRevoke(t *testing.T, st store.Store) {
	ctx := t.Context()
	require.NoError(t, st.CreateToken(ctx, api, tokenRecord("race", "raced", "viewer")))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.RevokeToken(ctx, api, "race")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	h := history(t, st, store.TokenObject("race"))
	assert.Len(t, h, 2, "one revocation is audited, however many raced")
}
