// Package auth is Skein's authentication and authorisation: API tokens,
// roles, and the default-deny permission table, keyed by (kind, verb),
// that every API shares.
//
// # Tokens
//
// A token is "skn_" + a 10-character ID + "_" + 43 characters of base64url
// secret (32 random bytes). The ID is public: it names the token in lists,
// logs and the audit trail. Stores keep only the SHA-256 of the whole
// token (store.APIToken.Hash); Authenticator looks a token up by its ID and
// compares hashes in constant time. SHA-256 rather than a password hash is
// enough because the secret has 256 bits of entropy: there is nothing to
// guess from a leaked hash.
//
// # Roles and permissions
//
// Roles are viewer, agent, monitor, engineer, change_manager and admin (see Role).
// Permissions is the one table of who may do what, keyed by (kind, verb):
// {ci, read}, {ci, upsert}, {token, create}. Anonymous stands for a request
// without a token. A (kind, verb) without a row is refused to everyone.
// Services call Check first thing, so every API calling them is covered;
// an API maps its own operations to permissions (graph/permissions.go for
// GraphQL, where a test walks the schema so that a field without one fails
// the build). See docs/SECURITY.md for the table and the role matrix.
package auth
