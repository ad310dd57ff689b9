package graph

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// authorize is the root-field middleware that enforces fieldPermissions: a
// root field of Query or Mutation runs only if the caller's role holds the
// permissions it needs, and a field without an entry runs for no one. Introspection fields
// (__schema, __type, __typename) are governed by graphql.introspection
// instead.
func authorize(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if fc == nil || strings.HasPrefix(fc.Field.Name, "__") {
		return next(ctx)
	}
	// RootFieldContext.Object holds the field's name; the type is here.
	typ := "?"
	if fc.Field.ObjectDefinition != nil {
		typ = fc.Field.ObjectDefinition.Name
	}
	name := typ + "." + fc.Field.Name
	if id := auth.FromContext(ctx); !allowedField(id.Role, name) {
		graphql.AddError(ctx, auth.Forbidden(id.Role, name))
		return graphql.Null
	}
	return next(ctx)
}

// authorizeNested is the field middleware that enforces fieldPermissions
// on fields below the root, wherever they appear (in a query or in a
// mutation's payload).
func authorizeNested(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return next(ctx)
	}
	name, guarded := nestedGuarded[[2]string{fc.Object, fc.Field.Name}]
	if guarded {
		if id := auth.FromContext(ctx); !allowedNested(id.Role, name) {
			return nil, auth.Forbidden(id.Role, name)
		}
	}
	return next(ctx)
}

// writeAs is the actor a resolver hands a service: the caller as the
// audit trail names it, asking to write as source (nil: the default). The
// service decides what the caller's token allows (auth.WriteActor: an
// agent token writes only as the discovery sources it is bound to, never
// as "api", which outranks discovery so that corrections made by hand
// stick); its error names "source".
func writeAs(ctx context.Context, source *string) store.Actor {
	a := auth.FromContext(ctx).Actor()
	a.Source = deref(source, "")
	return a
}

// roleOut and roleIn convert between auth roles and the schema's Role.
func roleOut(r auth.Role) model.Role {
	return model.Role(strings.ToUpper(string(r)))
}

func roleIn(r model.Role) (auth.Role, error) {
	if r == model.RoleAnonymous || !r.IsValid() {
		return "", store.Invalid("role", "must be one of VIEWER, AGENT, ENGINEER, CHANGE_MANAGER, ADMIN")
	}
	return auth.ParseRole(strings.ToLower(string(r)))
}

// viewerOf describes the caller: identity and the root fields it may use.
func viewerOf(id auth.Identity) *model.Viewer {
	v := &model.Viewer{Authenticated: id.Authenticated(), Name: id.Name, Role: roleOut(id.Role), Allowed: []string{}, Sources: append([]string{}, id.AgentSources()...)}
	if v.Authenticated {
		v.TokenID = &id.TokenID
	}
	for field := range fieldPermissions {
		if isRootField(field) && allowedField(id.Role, field) {
			v.Allowed = append(v.Allowed, field)
		}
	}
	sort.Strings(v.Allowed)
	return v
}

// tokenView is a token record as the API shows it: never the hash.
func tokenView(t store.APIToken, now time.Time) model.APIToken {
	role, err := auth.ParseRole(t.Role)
	if err != nil {
		role = auth.Role(t.Role) // shown as it is stored; such a token cannot authenticate
	}
	v := model.APIToken{
		TokenID: t.ID, Name: t.Name, Role: roleOut(role), CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy,
		Active: t.Active(now) && err == nil, Sources: append([]string{}, t.Sources...),
	}
	if !t.ExpiresAt.IsZero() {
		v.ExpiresAt = &t.ExpiresAt
	}
	if !t.RevokedAt.IsZero() {
		v.RevokedAt = &t.RevokedAt
	}
	return v
}

// tokenExpiry is the expiry a CreateAPITokenInput asks for.
func tokenExpiry(in model.CreateAPITokenInput, now time.Time) (time.Time, error) {
	switch {
	case in.ExpiresIn != nil && in.ExpiresAt != nil:
		return time.Time{}, store.Invalid("input.expiresIn", "give expiresIn or expiresAt, not both")
	case in.ExpiresAt != nil:
		return auth.CheckExpiry("input.expiresAt", *in.ExpiresAt, now)
	case in.ExpiresIn != nil:
		return auth.ParseExpiry("input.expiresIn", *in.ExpiresIn, now)
	}
	return auth.ParseExpiry("input.expiresIn", "", now)
}

// createToken makes, stores and returns a token for the API.
func (r *Resolver) createToken(ctx context.Context, in model.CreateAPITokenInput) (*model.CreateAPITokenPayload, error) {
	role, err := roleIn(in.Role)
	if err != nil {
		return nil, store.PrefixField(err, "input")
	}
	now := time.Now()
	expires, err := tokenExpiry(in, now)
	if err != nil {
		return nil, err
	}
	tok, stored, err := auth.IssueBound(ctx, r.Store, writeAs(ctx, nil), in.Name, role, expires, in.Sources)
	if err != nil {
		return nil, store.PrefixField(err, "input")
	}
	return &model.CreateAPITokenPayload{Token: tok, APIToken: ptr(tokenView(stored, now))}, nil
}

// tokenStore is where token records are revoked and listed.
func (r *Resolver) tokenStore() store.TokenStore {
	if r.Tokens != nil {
		return r.Tokens
	}
	return r.Store
}
