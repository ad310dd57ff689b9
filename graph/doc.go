// Package graph is Skein's GraphQL layer: the gqlgen resolvers (thin: args
// → service → result), conversions between API and domain types
// (convert.go), per-request dataloaders (loaders.go), opaque global IDs
// (globalid.go), limits (limits.go), the map from fields to the (kind,
// verb) permissions of internal/auth (permissions.go) and where domain
// errors become GraphQL errors through the one error table of
// internal/apierr (errors.go). The executable schema is
// generated into graph/generated from schema/*.graphqls by `make generate`.
package graph

//go:generate go -C .. tool gqlgen generate
