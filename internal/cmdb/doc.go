// Package cmdb owns the configuration model and its rules: CI classes with
// single inheritance and typed attributes, relationship types with their
// impact rules, attribute validation with field paths, identification (the
// normalised identity keys that make an upsert find the CI it describes,
// across a class family), and reconciliation (how a report merges into a
// stored CI, by source precedence).
//
// The model is data: a default model file is embedded in the binary
// (model.yaml) and run-time extensions are persisted in the store and
// replayed at start. Service is the entry point for writes; it prepares
// each item (validated, typed, keyed) and hands the store a ReconcileFunc
// that runs inside the store's write transaction, so the backends stay free
// of business rules.
//
// Every Service method checks its caller first (auth.Check on the (kind,
// verb) it is, with the identity the request's context carries; a context
// without one is the process itself), then its input's limits, and records
// the caller as the actor (auth.WriteActor, which binds agent tokens to
// their sources). An API calling it only parses arguments and shapes
// answers, so the GraphQL API and the REST table API enforce the same
// rules. ADR 0014.
package cmdb
