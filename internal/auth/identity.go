package auth

import (
	"context"

	"github.com/skein-cmdb/skein/internal/store"
)

// Identity is who a request acts as: a token's ID, name and role, or
// Anonymous.
type Identity struct {
	TokenID string
	Name    string
	Role    Role
	// Sources are the discovery sources an agent token is bound to (see
	// WriteSource).
	Sources []string
}

// anonymous is the identity of a request without a token.
var anonymous = Identity{Name: "anonymous", Role: Anonymous}

// Authenticated reports whether the identity comes from a token.
func (i Identity) Authenticated() bool { return i.TokenID != "" && i.Role != Anonymous }

// Actor is the identity as the audit trail records it: the token's name
// and ID ("vcenter discovery (token abcdefgh23)"), with source "api".
func (i Identity) Actor() store.Actor {
	if !i.Authenticated() {
		return store.Actor{Name: "anonymous", Source: "api"}
	}
	return store.Actor{Name: i.Name + " (token " + i.TokenID + ")", Source: "api"}
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity ctx carries, or the anonymous identity.
func FromContext(ctx context.Context) Identity {
	if id, ok := ctx.Value(identityKey{}).(Identity); ok {
		return id
	}
	return anonymous
}

// Caller returns the identity ctx carries and true, or false when it
// carries none: the caller is the process itself (see Check).
func Caller(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

// Attached returns ctx carrying the anonymous identity unless it carries
// one already. API adapters call it (or WithIdentity) on every request, so
// that a request is never taken for the process itself (see Check).
func Attached(ctx context.Context) context.Context {
	if _, ok := Caller(ctx); ok {
		return ctx
	}
	return WithIdentity(ctx, anonymous)
}

// processIdentity marks a context that acts as the process itself.
type processIdentity struct{}

// AsProcess returns ctx acting as the process itself, whoever the caller
// was: Check allows everything on it. A service uses it for the reads and
// writes an operation needs once it has checked the caller may run that
// operation (an alert from a monitor token opens an incident on the CI its
// labels name, though the monitor role may read no CI), passing the
// caller's actor explicitly so that the audit trail still names them. It
// must never return to the caller what the caller may not read.
func AsProcess(ctx context.Context) context.Context {
	return context.WithValue(ctx, identityKey{}, processIdentity{})
}
