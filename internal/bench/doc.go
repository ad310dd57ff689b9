// Package bench measures Skein's graph core side by side in one run: it
// generates a realistic estate, loads it into the embedded store and into
// Neo4j, and times the same traversals on a plain in-memory CSR (the
// floor), on each store, and as naive variable-length Cypher, plus batched
// identified upserts with one and many writers. `skein bench graph` and the
// package's Go benchmarks both use it. It also drives a running server as
// discovery does (RunUpsert: batches through skein-agent's pusher;
// RunImport: the streaming import), for `skein bench upsert` and `skein
// bench import`.
package bench
