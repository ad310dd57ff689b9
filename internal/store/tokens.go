package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// KindToken is the audit object kind of API tokens: their creation and
// revocation are audited under the token's ID.
const KindToken ObjectKind = "token"

// ActionRevoke is the audit action of a token revocation.
const ActionRevoke Action = "revoke"

// TokenObject is the audit object name of the token with the given ID:
// History(ctx, TokenObject(id), ...) lists its creation and revocation.
func TokenObject(id string) string { return "token:" + id }

// Limits on token records.
const (
	// MaxTokenNameLen is the longest token name, in bytes.
	MaxTokenNameLen = 100
	// MaxTokens is how many tokens a store holds, revoked ones included;
	// creating one more is refused.
	MaxTokens = 10000
	// MaxTokenSources is how many discovery sources one token may be bound
	// to.
	MaxTokenSources = 16
)

// APIToken is the stored record of an API token: everything but the
// secret. The store never sees the token itself, only Hash, the SHA-256
// of the whole token, which internal/auth compares in constant time.
type APIToken struct {
	// ID is the token's public identifier, the part of the token after
	// "skn_" that tells tokens apart in lists, logs and audit records.
	ID string
	// Name says whose or what the token is ("vcenter-discovery").
	Name string
	// Role names what the token may do (internal/auth defines roles).
	Role string
	// Hash is the SHA-256 of the whole token.
	Hash []byte
	// CreatedAt is when the token was made; CreatedBy is the actor who made
	// it.
	CreatedAt time.Time
	CreatedBy string
	// ExpiresAt is when the token stops working; zero means never.
	ExpiresAt time.Time
	// RevokedAt is when the token was revoked; zero means it was not.
	RevokedAt time.Time
	// Sources are the discovery sources an agent token may report as, in
	// the order given (the first is its default); internal/auth decides
	// what they mean. Empty for other roles.
	Sources []string
}

// Active reports whether t may authenticate at time now: neither revoked
// nor expired.
func (t APIToken) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Check validates a token record before it is stored.
func (t APIToken) Check() error {
	switch {
	case !validTokenID(t.ID):
		return Invalid("id", "must be 1 to 32 lowercase letters and digits")
	case len(t.Hash) != 32:
		return Invalid("hash", "must be a SHA-256 (32 bytes), not %d bytes", len(t.Hash))
	case t.Role == "" || !ValidIdentifier(t.Role):
		return Invalid("role", "must be a role name")
	case !t.ExpiresAt.IsZero() && (t.ExpiresAt.Year() < 2000 || t.ExpiresAt.Year() > 2200):
		return Invalid("expiresAt", "must be between the years 2000 and 2200")
	case len(t.Sources) > MaxTokenSources:
		return Invalid("sources", "at most %d sources, not %d", MaxTokenSources, len(t.Sources))
	}
	seen := map[string]bool{}
	for i, s := range t.Sources {
		field := fmt.Sprintf("sources[%d]", i)
		if err := CheckSourceName(field, s); err != nil {
			return err
		}
		k := FoldText(s)
		if seen[k] {
			return Invalid(field, "%q is listed twice", s)
		}
		seen[k] = true
	}
	return CheckTokenName(t.Name)
}

// CheckSourceName validates the name of a data source ("ansible",
// "vcenter-eu"): 1 to 64 letters, digits, '-' and '_', starting with a
// letter. Field names the input in the error.
func CheckSourceName(field, s string) error {
	if len(s) > 64 || !ValidIdentifier(strings.ReplaceAll(s, "-", "_")) {
		return Invalid(field, "must be a name of letters, digits, '-' and '_' (at most 64, starting with a letter), e.g. ansible")
	}
	return nil
}

// CheckTokenCount refuses a new token when the store already holds n of
// them (revoked and expired ones count, and are kept for the audit trail).
func CheckTokenCount(n int) error {
	if n < MaxTokens {
		return nil
	}
	return Invalid("", "this Skein already holds %d API tokens, the most it keeps (revoked and expired ones count); no more can be created", n)
}

// AuditChanges are the audited fields of a new token: name, role and
// expiry, never its hash.
func (t APIToken) AuditChanges() []FieldChange {
	ch := []FieldChange{{Field: "name", After: t.Name}, {Field: "role", After: t.Role}}
	if !t.ExpiresAt.IsZero() {
		ch = append(ch, FieldChange{Field: "expires_at", After: t.ExpiresAt.UTC()})
	}
	if len(t.Sources) > 0 {
		ch = append(ch, FieldChange{Field: "sources", After: append([]string(nil), t.Sources...)})
	}
	return ch
}

// CheckTokenName validates a token name as stored: what CleanTokenName
// returns for it is the name itself.
func CheckTokenName(name string) error {
	clean, err := CleanTokenName(name)
	if err != nil {
		return err
	}
	if clean != name {
		return Invalid("name", "must be in Unicode NFC without surrounding spaces")
	}
	return nil
}

// CleanTokenName returns a token name in the form it is stored: trimmed and
// in NFC by the text rule CI names follow (CleanText), 1 to MaxTokenNameLen
// bytes, or an *InvalidError on "name".
func CleanTokenName(name string) (string, error) {
	if len(name) > 4*MaxTokenNameLen {
		return "", Invalid("name", "must be at most %d bytes, not %d", MaxTokenNameLen, len(name))
	}
	clean, ie := CleanText("name", strings.TrimSpace(name), false)
	switch {
	case ie != nil:
		return "", ie
	case clean == "":
		if name == "" {
			return "", Invalid("name", "must not be empty")
		}
		return "", Invalid("name", "must not be blank")
	case len(clean) > MaxTokenNameLen:
		return "", Invalid("name", "must be at most %d bytes, not %d", MaxTokenNameLen, len(clean))
	}
	for _, r := range clean {
		if !unicode.IsPrint(r) && r != ' ' {
			return "", Invalid("name", "must not contain non-printing characters (U+%04X)", r)
		}
	}
	return clean, nil
}

func validTokenID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// TokenStore keeps API token records. Implementations are safe for
// concurrent use.
type TokenStore interface {
	// CreateToken stores a new token record (see APIToken.Check) with an
	// audit record under its ID that names, role and expiry but never the
	// hash. An ID already used is ErrConflict; a store already holding
	// MaxTokens tokens refuses with an *InvalidError.
	CreateToken(ctx context.Context, actor Actor, t APIToken) error
	// Token returns the record with the given ID, or ErrNotFound.
	Token(ctx context.Context, id string) (APIToken, error)
	// Tokens returns every record, revoked and expired ones included,
	// oldest first.
	Tokens(ctx context.Context) ([]APIToken, error)
	// RevokeToken marks a token revoked at the store's current time, with
	// an audit record, and returns the record. Revoking a revoked token
	// changes nothing and returns it as it is; an unknown ID is
	// ErrNotFound.
	RevokeToken(ctx context.Context, actor Actor, id string) (APIToken, error)
}
