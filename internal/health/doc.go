// Package health owns the CMDB health figures (issue 14, item 4): how
// complete, correct and fresh the configuration items are, per class, with
// the offending CIs listed.
//
//   - Completeness: the share of a class's CIs that have every required and
//     every recommended attribute of their class (cmdb.Class.Expected).
//   - Orphans: CIs of a class that a CI-to-CI relationship type names
//     explicitly, as a source or target (the class or an ancestor below the
//     kind's root), that have no relationship with another CI at all: an
//     ApplicationInstance that RUNS_ON nothing. Links to people, groups and
//     records (OWNED_BY, AFFECTS) do not place a CI in the configuration
//     graph and do not count; nor do types that name only the root class CI,
//     which would make every CI an expected end.
//   - Suspected duplicates: pairs of CIs of one class family whose names are
//     nearly the same and that share the value of an attribute that points
//     at one thing (see evidence), which identification did not merge.
//   - Identity conflicts: the open conflicts the store keeps.
//   - Staleness: CIs no discovery source has reported for their class's
//     period (Options.Stale: the staleness check's policy,
//     discovery.stale_after), as the check (cmdb.SweepStale) finds them.
//
// Retired CIs count nowhere. A Report is computed through the CMDB
// service's reads (ListNodes, IdentityConflicts, the model) and the store's
// shape-only Edges, so no backend needs anything new; it reads every CI
// once, page by page, which is why serve computes it on a timer for the
// metrics (cmd/skein) and the API bounds its concurrency.
//
// Every figure is a total with at most a requested number of offenders
// listed: a list shorter than its total says so, never silently.
// Duplicate detection is bounded: CIs are blocked by family and the first
// letters of their normalised name, compared within a sliding window of a
// block sorted by name, and the comparisons stop at a budget; a report cut
// short by the budget says so (Pairs.Capped). Names that differ only in
// their numbers (web-01, web-02) are a series, not duplicates.
package health
