package itsm

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// Snapshot is what the impact analysis of a change's CIs said at one
// time: kept on the change when it is assessed (what the CAB approved),
// and taken again on request to compare.
type Snapshot struct {
	At               time.Time       `json:"at"`
	CIs              int             `json:"cis"`
	Impacted         int             `json:"impacted"`
	Down             int             `json:"down"`
	AtRisk           int             `json:"at_risk"`
	Degraded         int             `json:"degraded"`
	BusinessServices []ServiceEffect `json:"business_services,omitempty"`
	// BusinessServiceCount is how many business services would be
	// affected; BusinessServices lists the first maxSnapshotServices.
	BusinessServiceCount int      `json:"business_service_count"`
	Truncated            bool     `json:"truncated,omitempty"`
	FailedChanges        int      `json:"failed_changes"`
	Risk                 string   `json:"risk"`
	Factors              []string `json:"factors,omitempty"`
}

// ServiceEffect is a business service a change may hit and how.
type ServiceEffect struct {
	Name   string `json:"name"`
	Effect string `json:"effect"`
}

// RiskLookback is how far back failed changes on the same CIs count.
const RiskLookback = 90 * 24 * time.Hour

// maxSnapshotServices bounds the business services a snapshot names.
const maxSnapshotServices = 20

// snapshotDepth is the depth of a change's impact analysis.
const snapshotDepth = 12

// TakeSnapshot analyses what a failure of change c's CIs would impact,
// counts the changes on them that failed (closed unsuccessful or backed
// out) in the last 90 days, and computes the change's risk from both:
//
//   - high: a business service would go down, or 100 CIs or more would be
//     impacted, or a change on these CIs failed;
//   - moderate: a business service would be affected otherwise, or 10 CIs
//     or more would be impacted;
//   - low: otherwise (a change without CIs is low).
//
// Factors say which of these held.
func (s *Service) TakeSnapshot(ctx context.Context, c store.Node, now time.Time) (Snapshot, error) {
	snap := Snapshot{At: now.UTC(), Risk: "low"}
	cis, err := s.affected(ctx, c.ID)
	if err != nil {
		return snap, err
	}
	snap.CIs = len(cis)
	if len(cis) == 0 || s.impact == nil {
		return snap, nil
	}
	depth := min(snapshotDepth, s.impact.Options().MaxDepth)
	starts := cis[:min(len(cis), s.impact.Options().MaxStarts)] // the analysis takes at most MaxStarts: say so below
	// Counts and business services only: the impacted CIs are not kept.
	res, err := s.impact.Analyze(ctx, impact.Request{CIs: starts, MaxDepth: depth, SummaryOnly: true})
	if err != nil {
		return snap, err
	}
	snap.Impacted, snap.Down, snap.AtRisk, snap.Degraded = res.Count(), res.Down, res.AtRisk, res.Degraded
	snap.Truncated = res.Truncated || len(starts) < len(cis)
	downService := false
	for i, b := range res.BusinessServices {
		downService = downService || b.Effect == impact.Down
		if i < maxSnapshotServices { // worst first: the ones that matter
			snap.BusinessServices = append(snap.BusinessServices, ServiceEffect{Name: b.CI.Name, Effect: b.Effect.String()})
		}
	}
	snap.BusinessServiceCount = len(res.BusinessServices)
	since := now.Add(-RiskLookback)
	failed, err := s.recordsOn(ctx, cis, KindChange, func(n store.Node) bool {
		if n.ID == c.ID || !closedSince(n, since) {
			return false
		}
		for _, ci := range cis { // failed on one of these CIs
			if code := CloseCodeOn(n, ci); code == "unsuccessful" || code == "backed_out" {
				return true
			}
		}
		return false
	})
	if err != nil {
		return snap, err
	}
	snap.FailedChanges = len(failed)
	switch {
	case downService:
		snap.Factors = append(snap.Factors, "a business service would go down")
	}
	if snap.Impacted >= 100 {
		snap.Factors = append(snap.Factors, fmt.Sprintf("%d CIs would be impacted", snap.Impacted))
	}
	if snap.FailedChanges > 0 {
		snap.Factors = append(snap.Factors, fmt.Sprintf("%d change(s) on these CIs failed in the last 90 days", snap.FailedChanges))
	}
	if len(snap.Factors) > 0 {
		snap.Risk = "high"
		return snap, nil
	}
	if snap.BusinessServiceCount > 0 {
		snap.Factors = append(snap.Factors, fmt.Sprintf("%d business service(s) would be affected", snap.BusinessServiceCount))
	}
	if snap.Impacted >= 10 {
		snap.Factors = append(snap.Factors, fmt.Sprintf("%d CIs would be impacted", snap.Impacted))
	}
	if len(snap.Factors) > 0 {
		snap.Risk = "moderate"
	}
	return snap, nil
}

// Encode returns the snapshot as stored.
func (sn Snapshot) Encode() string {
	b, _ := json.Marshal(sn)
	return string(b)
}

// StoredSnapshot returns the snapshot kept on change c, if any.
func StoredSnapshot(c store.Node) (Snapshot, bool) {
	s, _ := c.Attributes["impact_snapshot"].(string)
	var sn Snapshot
	if s == "" || json.Unmarshal([]byte(s), &sn) != nil {
		return sn, false
	}
	return sn, true
}

// snapshotAttributes are what a snapshot sets on a change: the snapshot,
// the computed risk, and the risk itself unless someone overrode it.
func snapshotAttributes(r Record) store.Attributes {
	if r.Facts.Snapshot == nil {
		return nil
	}
	out := store.Attributes{"impact_snapshot": r.Facts.Snapshot.Encode(), "computed_risk": r.Facts.Snapshot.Risk}
	if reason, _ := r.Attributes["risk_override_reason"].(string); reason == "" {
		out["risk"] = r.Facts.Snapshot.Risk
	}
	return out
}
