package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// Sentinel errors; every *Error wraps one.
var (
	// ErrUnauthenticated: the request has no valid token and needs one.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: the token's role may not do what was asked.
	ErrForbidden = errors.New("forbidden")
)

// Error is an authentication or authorisation failure. Its message says
// what is wrong and what would be accepted; it never holds a token.
type Error struct {
	Kind   error // ErrUnauthenticated or ErrForbidden
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Unwrap returns the sentinel, so errors.Is(err, ErrForbidden) works.
func (e *Error) Unwrap() error { return e.Kind }

func unauthenticated(format string, args ...any) error {
	return &Error{Kind: ErrUnauthenticated, Reason: fmt.Sprintf(format, args...)}
}

// Forbidden returns the error for role calling field.
func Forbidden(role Role, field string) error {
	if role == Anonymous {
		return unauthenticated("%s needs an API token (send \"Authorization: Bearer skn_...\")", field)
	}
	return &Error{Kind: ErrForbidden, Reason: fmt.Sprintf("the %s role may not call %s", role, field)}
}

// Authenticator checks bearer tokens against a store.
type Authenticator struct {
	// Tokens is where token records are.
	Tokens store.TokenStore
	// AnonymousRead lets requests without a token through, as Anonymous
	// (whom Rules allow reads only). When false they are refused.
	AnonymousRead bool
}

// Authenticate returns the identity an Authorization header value stands
// for, for a request naming host (its Host header). An empty header is
// Anonymous when AnonymousRead allows it and host is a loopback name (see
// Request). A failure is an *Error (ErrUnauthenticated); a store failure is
// returned as it is (typically store.ErrUnavailable).
func (a *Authenticator) Authenticate(ctx context.Context, header, host string) (Identity, error) {
	if header == "" {
		if !a.AnonymousRead {
			return Identity{}, unauthenticated("authentication required: send an API token as \"Authorization: Bearer skn_...\"")
		}
		if !loopbackHost(host) {
			return Identity{}, unauthenticated("authentication required: send an API token as \"Authorization: Bearer skn_...\" (requests without one are allowed only to a loopback address such as 127.0.0.1)")
		}
		return anonymous, nil
	}
	tok, ok := BearerToken(header)
	if !ok {
		return Identity{}, unauthenticated("the Authorization header must be \"Bearer skn_...\"")
	}
	id, ok := ParseToken(tok)
	if !ok {
		return Identity{}, unauthenticated("the bearer token is not a Skein API token (skn_ followed by 54 characters)")
	}
	rec, err := a.Tokens.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, unauthenticated("the API token %s is not valid", id)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("auth: look up token %s: %w", id, err)
	}
	if !matches(tok, rec.Hash) {
		return Identity{}, unauthenticated("the API token %s is not valid", id)
	}
	switch {
	case !rec.RevokedAt.IsZero():
		return Identity{}, unauthenticated("the API token %s was revoked at %s", id, rec.RevokedAt.UTC().Format(time.RFC3339))
	case !rec.Active(time.Now()):
		return Identity{}, unauthenticated("the API token %s expired at %s", id, rec.ExpiresAt.UTC().Format(time.RFC3339))
	}
	role, err := ParseRole(rec.Role)
	if err != nil { // a record written by a newer or tampered store
		return Identity{}, unauthenticated("the API token %s has an unknown role", id)
	}
	return Identity{TokenID: id, Name: rec.Name, Role: role, Sources: rec.Sources}, nil
}

// Request authenticates r by its Authorization header and returns r's
// context carrying the identity (see internal/server's Deps.Authenticate).
// A request with several Authorization headers is refused: which one a
// proxy or a server reads differs, so none is trusted.
//
// A request without a token is read-only Anonymous only if it also names a
// loopback host (Host: 127.0.0.1:8080, localhost:8080, [::1]:8080). A web
// page on another site cannot send such a request to a loopback server and
// read the answer, except by DNS rebinding (its own name made to resolve to
// 127.0.0.1), and then the Host header carries its name, not a loopback
// one.
func (a *Authenticator) Request(r *http.Request) (context.Context, error) {
	if n := len(r.Header.Values("Authorization")); n > 1 {
		return nil, unauthenticated("send one Authorization header, not %d", n)
	}
	id, err := a.Authenticate(r.Context(), r.Header.Get("Authorization"), r.Host)
	if err != nil {
		return nil, err
	}
	return WithIdentity(r.Context(), id), nil
}

// loopbackHost reports whether a Host header names this machine by a
// loopback address or "localhost".
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
