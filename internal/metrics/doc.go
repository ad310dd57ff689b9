// Package metrics owns Skein's Prometheus metrics: GraphQL operations and
// errors, HTTP requests, store call latency, traversal sizes, and the CMDB
// health figures a periodic refresh sets (CMDBHealth). Collectors
// live on a registry the caller provides (never the global one), so tests
// and several servers in one process do not collide.
//
// Label values that come from clients (GraphQL operation names) are checked
// and capped, so no client can make the number of time series grow without
// bound.
package metrics
