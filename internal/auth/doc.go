// Package auth is Skein's authentication and authorisation: API tokens,
// roles, and the default-deny rule table that says which roles may call
// each GraphQL root field.
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
// # Roles and rules
//
// Roles are viewer, agent, engineer, change_manager and admin (see Role).
// Rules maps every root field of Query and Mutation ("Mutation.upsertCIs")
// to the roles allowed to call it; Anonymous stands for a request without a
// token. A field without a rule is refused to everyone, so a new mutation is
// unreachable until someone decides who may call it, and a test walks the
// schema so that the omission fails the build. See docs/SECURITY.md for the
// matrix.
package auth
