package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// Token format: Prefix + ID (idLen) + "_" + secret (secretLen).
const (
	// Prefix starts every Skein token, so scanners can recognise one.
	Prefix    = "skn_"
	idLen     = 10
	secretLen = 43 // base64url of 32 bytes, unpadded
	tokenLen  = len(Prefix) + idLen + 1 + secretLen
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewToken makes a token for a new API token record: it returns the token,
// to be shown once, and the record to store (ID, hash, name, role and
// expiry; a zero expires means never).
func NewToken(name string, role Role, expires time.Time) (string, store.APIToken) {
	var idBytes [7]byte // 56 bits, of which the first 50 make the ID
	var secret [32]byte
	_, _ = rand.Read(idBytes[:]) // crypto/rand.Read never fails
	_, _ = rand.Read(secret[:])
	id := idEncoding.EncodeToString(idBytes[:])[:idLen]
	tok := Prefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	return tok, store.APIToken{ID: id, Name: name, Role: string(role), Hash: Hash(tok), ExpiresAt: expires}
}

// Hash is what a store keeps of a token: its SHA-256.
func Hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// ParseToken returns the ID of a well-formed token, and false for anything
// else. It reads the token's shape only; Authenticator checks it.
func ParseToken(tok string) (id string, ok bool) {
	if len(tok) != tokenLen || !strings.HasPrefix(tok, Prefix) || tok[len(Prefix)+idLen] != '_' {
		return "", false
	}
	id = tok[len(Prefix) : len(Prefix)+idLen]
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return "", false
		}
	}
	for _, c := range []byte(tok[len(Prefix)+idLen+1:]) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return "", false
		}
	}
	return id, true
}

// matches reports whether tok hashes to hash, in constant time.
func matches(tok string, hash []byte) bool {
	return subtle.ConstantTimeCompare(Hash(tok), hash) == 1
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header value, and false when the header is not a bearer credential.
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Issue makes a token, stores its record as made by actor, and returns
// the token (to show once) with the record as stored.
func Issue(ctx context.Context, ts store.TokenStore, actor store.Actor, name string, role Role, expires time.Time) (string, store.APIToken, error) {
	return IssueBound(ctx, ts, actor, name, role, expires, nil)
}

// IssueBound is Issue for a token bound to discovery sources (agent tokens
// only; see CheckTokenSources and Identity.WriteSource). A request's
// caller must hold {token, create} and is recorded as the actor
// (WriteActor).
func IssueBound(ctx context.Context, ts store.TokenStore, actor store.Actor, name string, role Role, expires time.Time, sources []string) (string, store.APIToken, error) {
	if err := Check(ctx, KindToken, Create); err != nil {
		return "", store.APIToken{}, err
	}
	actor, err := WriteActor(ctx, actor)
	if err != nil {
		return "", store.APIToken{}, err
	}
	name, err = store.CleanTokenName(name)
	if err != nil {
		return "", store.APIToken{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", store.APIToken{}, store.Invalid("role", "%s", err.Error())
	}
	if err := CheckTokenSources(role, sources); err != nil {
		return "", store.APIToken{}, err
	}
	tok, rec := NewToken(name, role, expires)
	rec.Sources = sources
	if err := ts.CreateToken(ctx, actor, rec); err != nil {
		return "", store.APIToken{}, err
	}
	stored, err := ts.Token(ctx, rec.ID)
	if err != nil {
		return "", store.APIToken{}, err
	}
	return tok, stored, nil
}

// Revoke revokes the token with the public ID id, for a caller who may
// delete tokens; store.ErrNotFound if there is none.
func Revoke(ctx context.Context, ts store.TokenStore, actor store.Actor, id string) (store.APIToken, error) {
	if err := Check(ctx, KindToken, Delete); err != nil {
		return store.APIToken{}, err
	}
	actor, err := WriteActor(ctx, actor)
	if err != nil {
		return store.APIToken{}, err
	}
	return ts.RevokeToken(ctx, actor, id)
}

// List returns every token record, for a caller who may read tokens.
func List(ctx context.Context, ts store.TokenStore) ([]store.APIToken, error) {
	if err := Check(ctx, KindToken, Read); err != nil {
		return nil, err
	}
	return ts.Tokens(ctx)
}
