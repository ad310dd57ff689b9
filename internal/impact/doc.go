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
// Over a type whose effect is "down", a down CI makes its neighbour down and
// a degraded CI makes it degraded; over a "degrades" type the neighbour is
// at most degraded. A type with a redundancy rule (MEMBER_OF, redundancy
// min_members_up) makes the receiving CI a group of the CIs on the other end
// (its members): the group is down only when fewer than k of its n members
// are up, k being the group's attribute named by the rule (unset means 1, so
// a group is down only when all its members are down). Otherwise a group
// with any member down or degraded is degraded. Degraded members count as
// up.
//
// # Algorithm
//
// Analyze works in two phases, both bounded by the request's depth and the
// analyzer's node budget:
//
//  1. Down, level by level. The CIs that went down at depth d (the starts at
//     depth 0) are expanded one hop, in one Expand call over the "down"
//     types without redundancy (each in the direction failure travels), and
//     one Expand call over the redundancy types, which names the groups
//     those CIs belong to. Groups seen for the first time have their
//     members listed (one RelationshipsOf call per redundancy type) and
//     their k read (one CIs call), batched for the level. A group whose up
//     members fall below k goes down at depth d+1, explained through a
//     member that went down at depth d. Because each group is re-counted
//     whenever one of its members goes down, a group first seen degraded
//     goes down as soon as a later failure crosses its threshold, and its
//     own impact then travels as down. A level costs two Expand calls, plus
//     one RelationshipsOf per redundancy type and one CIs call when new
//     groups appear (frontiers above store.MaxBatch are split).
//  2. Degraded, in one multi-level Expand from the starts over every type
//     that propagates: each CI it reaches is at least degraded (down and
//     degraded CIs both pass on at least a degradation), at its minimum
//     depth, along a shortest explaining path. CIs found down in phase 1
//     keep their down effect, depth and path.
//
// Finally one batched CIs call loads every CI reported (group CIs read in
// phase 1 are reused). With Request.Assume set to Degraded, phase 1 is
// skipped: nothing can be down.
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
//     only a longer chain would take down is reported degraded when a
//     chain within reach degrades it.
//   - The node budget bounds the CIs reported beyond the starts; reaching
//     it sets Truncated and keeps the nearest CIs.
//   - ShortestPath follows relationships in either direction: "how are
//     these two CIs connected?" asks for any chain. Dependencies and
//     Dependents follow them out of and into the CI asked about.
package impact
