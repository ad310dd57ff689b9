// Package push is the client of Skein's discovery API: it sends
// discovery.Batch values to POST /api/v1/batches, split into the server's
// limits along identity (a CI and the relationships that name it travel
// together), retried with backoff on overload and outages (honouring
// Retry-After) and never on an answer a retry cannot change, and it opens,
// completes and abandons discovery runs (POST /api/v1/runs) for scoped
// sync. Its answers are typed: a Status for each CI and relationship, a
// *RejectedError for a refused batch.
//
// It was split out of package agent so that the server binary, whose
// benchmarks push batches, no longer links the discovery sources (the
// Kubernetes client among them: 13 MiB of the server's resident memory at
// start and a third of its binary; ADR 34).
package push
