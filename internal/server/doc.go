// Package server owns Skein's HTTP surface: the chi router that mounts the
// GraphQL handler at /graphql, the Playground (GraphiQL, embedded in the
// binary) at /, the probes /healthz and /readyz and Prometheus' /metrics;
// the middleware every request goes through (request id, security headers,
// access log and metrics, panic recovery, CORS allowlist, per-client rate
// limit, body size limit, request timeout; and on /graphql, load shedding
// and the refusal of batched requests);
// and Run, which listens and shuts down gracefully.
//
// Errors the server itself answers (400, 413, 429, 500, 503, 504, 404, 405) are JSON in the
// GraphQL response shape, {"errors":[{"message":..,"extensions":{"code":..}}]},
// so GraphQL clients and the Playground display them like any other error.
package server
