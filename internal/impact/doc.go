// Package impact answers the CMDB's graph questions: impact analysis ("if
// these CIs fail, what else fails or degrades, and why?") and dependency
// analysis ("what does this CI need, what needs it, how are two CIs
// connected?").
//
// It works over Graph, a narrow slice of the store (breadth-first
// expansion, batched CI and relationship reads), and over the class model
// of internal/cmdb, which says for each relationship type how failure
// travels along it (cmdb.Impact). It knows nothing of GraphQL or of which
// database runs underneath.
//
// # Impact rules
//
// A relationship type whose impact propagates target_to_source carries
// failure from its target to its source (app DEPENDS_ON db: the db failing
// impacts the app); source_to_target carries it the other way; none never.
// Over a type whose effect is "down", a neighbour takes the CI's effect;
// over a "degrades" type it is at most Degraded. A type with a redundancy
// rule (MEMBER_OF, redundancy min_members_up) makes the receiving CI a
// group of the CIs on the other end (its members): the group is down only
// when fewer than k of its n members are up, k being the group's attribute
// named by the rule (unset means 1). Members down, and members whose status
// is not operational (cmdb.Operational; unless Request.IgnoreStatus), are
// not up. A group that stays up reports its headroom (members up and
// needed): AtRisk when no member is spare, RedundancyReduced otherwise;
// what depends on it over "down" types takes that effect and headroom. A
// group reached from an AtRisk member is AtRisk when no member is spare
// and RedundancyReduced otherwise; from a RedundancyReduced or Degraded
// member it takes that effect. Every combination is monotone: a worse
// effect never yields a milder one.
//
// # Algorithm
//
// Analyze works in two phases, both bounded by the request's depth and the
// analyzer's node budget:
//
//  1. Down, level by level. The CIs that went down at depth d (the starts at
//     depth 0) have the relationships along which their failure travels
//     read, in two Edges calls (one per direction) for the "down" types
//     without redundancy, the "degrades" types without redundancy (whose
//     CIs are kept as Degraded seeds) and the redundancy types, which name
//     the groups those CIs belong to, at once; each CI reached keeps the
//     smallest (predecessor, type) that reaches it, whichever store
//     answered. (Three one-hop Expand calls per level before: every
//     frontier CI was looked up six times a level on Neo4j.) Groups seen
//     for the first time
//     have their members listed (one Edges call per redundancy
//     type), their summary and k read (one NodeFields call) and their
//     members' status read (one NodeFields call), batched for the level. A group whose up members fall
//     below k goes down at depth d+1, explained through an operational
//     member that went down at depth d (of several, the one with the
//     smallest ID: stores list members in no particular order, and the
//     order relationships were created in must not change the answer).
//     Because each group is re-counted
//     whenever one of its members goes down, a group first seen up goes
//     down as soon as a later failure crosses its threshold.
//  2. The rest, level by level. Groups phase 1 touched but did not take
//     down (AtRisk or RedundancyReduced, by their final count) and the
//     Degraded seeds start it. At each depth, the CIs reached with some
//     effect at that depth (not dominated by a worse effect at a smaller
//     or equal depth) have the relationships along which their failure
//     travels read, in two Edges calls (one per direction) for
//     every effect at once, and their neighbours are offered the combined
//     effect at the next depth; groups met from a CI at risk have their
//     members, k and members' status loaded as in phase 1. Each CI keeps,
//     per effect, its smallest depth; it is reported with its worst
//     effect, the path that explains it (which may cross effects: a down
//     path to a group, then an at-risk path from it), and that path's
//     headroom. Since combining effects is monotone, processing by depth
//     with this dominance rule is exact.
//
// Finally one batched NodeFields call reads the summary (SummaryFields) of
// every CI reported, which the order and the roll-ups need; the summaries
// of groups and members read before are reused. A caller that wants the
// counts and roll-ups only (Request.SummaryOnly: the API, when a query
// lists no impacted CI) has them read a batch at a time into one buffer
// and rolled up, not kept. A CI is read whole only by a
// reader that shows it, and its explaining path is built only when asked
// (Result.PathOf); Page pages the reported CIs in several orders (ADR 19).
// With Request.Assume set to Degraded, phase 1 is skipped: the starts are
// Degraded seeds and nothing can be down.
//
// # Choices
//
//   - Start CIs that do not exist make the whole request an
//     *store.InvalidError on "ciIds" that lists them: a change advisory
//     board asking about a CI that is not there has made a mistake that a
//     partial answer would hide.
//   - Start CIs are reported apart (Result.Starts) and never counted in
//     the roll-ups: those describe the consequences, not the cause.
//   - Effects are those established within the requested depth: a CI that
//     only a longer chain would take down is reported with the worst effect
//     a chain within reach gives it (a group whose breaking member fails
//     beyond the depth is at risk, its members up below those needed).
//   - The node budget bounds the CIs reported beyond the starts; reaching
//     it sets Truncated and keeps the nearest CIs.
//   - ShortestPath follows relationships in either direction: "how are
//     these two CIs connected?" asks for any chain. Dependencies and
//     Dependents follow each type against and along the way failure
//     travels (FollowImpact), or the stored direction (FollowRelationships).
//   - No call has a default depth: every depth is checked by CheckDepth
//     (1 to Options.MaxDepth); defaults belong to the API schema.
//   - An analysis keys its state by handles it numbers itself (ADR 27):
//     a CI's ID is hashed once, when a relationship first names it, and
//     every later question is an index into one slice. The handles are the
//     analysis's, not a store's, so one algorithm serves both backends; every
//     order the answer depends on is still the IDs' (compared by an 8-byte
//     prefix first, whole only on a tie).
//   - It reads the graph through a reader (ADR 29): the store's calls
//     above (Edges, NodeFields; Neo4j's way), or, when the store serves
//     graph views (store.GraphViewer: the embedded store), views of its
//     in-memory index that name CIs by the store's own numbers, so that a
//     hop costs no parse, lookup or hash of an ID. "One Edges call" above
//     is then one view per batch of CIs. Both readers hand the analysis
//     each hop and each CI's fields as they read them; the answer is the
//     same either way (TestViewsAndCallsAgree), and a view whose nodes
//     changed under a running analysis sends it back to the calls.
//   - On a store that reads subgraphs (store.SubgraphReader: Neo4j) the
//     analysis first reads, in one transaction, every CI within its depth
//     of the starts along the types that carry an effect, with those
//     relationships, its groups' members and their summaries, and walks
//     that snapshot through the view reader (ADR 30): two statements
//     instead of a round trip per level, side and batch. A snapshot is
//     read only within the node budget; beyond it, and should the snapshot
//     lack what the analysis asks for, the analysis reads level by level
//     (TestSubgraphAndCallsAgree compares both on Neo4j). Dependents and
//     dependencies that need no paths read their CIs and summaries there
//     the same way, in one subgraph read without relationships.
//   - Reported CIs carry a store.Summary (their SummaryFields as fields,
//     not a map): from the embedded store's summary cache it costs no
//     allocation (ADR 30).
package impact
