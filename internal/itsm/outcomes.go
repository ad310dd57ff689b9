package itsm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// How changes went, per CI: a change is closed with one close code, and
// may name a different one for some of its CIs (ci_close_codes: the
// database was backed out, the two web servers went through). The unit of
// the success rates is a change on a CI: per CI, the changes closed on
// it; per class, the (change, CI) pairs whose CI is of that class.

// CloseCodes are the close codes of a change.
var CloseCodes = []string{"successful", "successful_with_issues", "unsuccessful", "backed_out"}

// attrCICloseCodes holds a closed change's close codes by CI (JSON of CI
// ID to code) where they differ from its close code.
const attrCICloseCodes = "ci_close_codes"

// CICloseCodes returns the close codes a closed change names for some of
// its CIs.
func CICloseCodes(change store.Node) map[store.ID]string {
	s, _ := change.Attributes[attrCICloseCodes].(string)
	if s == "" {
		return nil
	}
	var out map[store.ID]string
	if json.Unmarshal([]byte(s), &out) != nil {
		return nil
	}
	return out
}

// CloseCodeOn returns how closed change went on CI ci: the code it names
// for ci, else its close code ("" when it is not closed).
func CloseCodeOn(change store.Node, ci store.ID) string {
	if c, ok := CICloseCodes(change)[ci]; ok {
		return c
	}
	c, _ := change.Attributes["close_code"].(string)
	return c
}

// EncodeCICloseCodes turns close codes by CI into the input of
// closeChange's ci_close_codes.
func EncodeCICloseCodes(codes map[store.ID]string) string {
	if len(codes) == 0 {
		return ""
	}
	b, _ := json.Marshal(codes)
	return string(b)
}

// ciCloseCodesValid is the close guard on ci_close_codes: each names one
// of the change's CIs (Facts.CIs) and a close code.
var ciCloseCodesValid = Guard{Name: "ci_close_codes_valid", Field: "attributes." + attrCICloseCodes, Check: func(r Record) error {
	s, _ := r.Input[attrCICloseCodes].(string)
	if s == "" {
		return nil
	}
	var codes map[store.ID]string
	if err := json.Unmarshal([]byte(s), &codes); err != nil {
		return fmt.Errorf("not close codes by CI: %v", err)
	}
	ids := make([]store.ID, 0, len(codes))
	for id := range codes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !slices.Contains(r.Facts.CIs, id) {
			return fmt.Errorf("CI %s is not one the change affects", id)
		}
		if !slices.Contains(CloseCodes, codes[id]) {
			return fmt.Errorf("%q is not a close code; allowed: %s", codes[id], strings.Join(CloseCodes, ", "))
		}
	}
	return nil
}}

// Outcomes counts changes on CIs by how they went.
type Outcomes struct {
	Successful, SuccessfulWithIssues, Unsuccessful, BackedOut int
}

// Total is how many were counted.
func (o Outcomes) Total() int {
	return o.Successful + o.SuccessfulWithIssues + o.Unsuccessful + o.BackedOut
}

// SuccessRate is the share that succeeded (with or without issues), and
// false when there are none.
func (o Outcomes) SuccessRate() (float64, bool) {
	if o.Total() == 0 {
		return 0, false
	}
	return float64(o.Successful+o.SuccessfulWithIssues) / float64(o.Total()), true
}

func (o *Outcomes) add(code string) {
	switch code {
	case "successful":
		o.Successful++
	case "successful_with_issues":
		o.SuccessfulWithIssues++
	case "unsuccessful":
		o.Unsuccessful++
	case "backed_out":
		o.BackedOut++
	}
}

// closedSince says whether change n was closed at or after since.
func closedSince(n store.Node, since time.Time) bool {
	at, ok := n.Attributes["closed_at"].(time.Time)
	return n.Attributes["state"] == ChangeClosed && ok && !at.Before(since)
}

// ChangeOutcomesOn counts how the changes closed on CI ci since since
// went on it.
func (s *Service) ChangeOutcomesOn(ctx context.Context, ci store.ID, since time.Time) (Outcomes, error) {
	var o Outcomes
	changes, err := s.recordsOn(ctx, []store.ID{ci}, KindChange, func(n store.Node) bool { return closedSince(n, since) })
	if err != nil {
		return o, err
	}
	for _, c := range changes {
		o.add(CloseCodeOn(c, ci))
	}
	return o, nil
}

// ClassOutcomes are the outcomes of changes on the CIs of one class.
type ClassOutcomes struct {
	Class string
	Outcomes
}

// ChangeOutcomesByClass counts, for each class of CI, how the changes
// closed since since went on the CIs of that class (a change on two
// servers counts twice for Server), most counted first, then by class.
func (s *Service) ChangeOutcomesByClass(ctx context.Context, since time.Time) ([]ClassOutcomes, error) {
	for _, k := range []auth.Kind{KindChange, auth.KindCI, auth.KindRelationship} {
		if err := auth.Check(ctx, k, auth.Read); err != nil {
			return nil, err
		}
	}
	f := cmdb.Filter{Where: &store.Expr{Op: store.OpAnd, Args: []store.Expr{
		{Op: store.OpEq, Field: "state", Value: ChangeClosed},
		{Op: store.OpGte, Field: "closed_at", Value: since.UTC().Format(time.RFC3339Nano)},
	}}, Sort: store.Sort{Field: store.FieldCreatedAt}}
	changes, err := s.cmdb.AllNodes(ctx, KindChange, f)
	if err != nil {
		return nil, err
	}
	byClass := map[string]*Outcomes{}
	for lo := 0; lo < len(changes); lo += store.MaxBatch {
		batch := changes[lo:min(lo+store.MaxBatch, len(changes))]
		ids := make([]store.ID, len(batch))
		for i, c := range batch {
			ids[i] = c.ID
		}
		rels, err := s.st.RelationshipsOf(ctx, ids, store.Out, []string{RelAffects})
		if err != nil {
			return nil, err
		}
		var cis []store.ID
		for _, id := range ids {
			for _, r := range rels[id] {
				cis = append(cis, r.Target)
			}
		}
		nodes, err := s.nodesOf(ctx, cmdb.KindCI, cis)
		if err != nil {
			return nil, err
		}
		for _, c := range batch {
			for _, r := range rels[c.ID] {
				n, ok := nodes[r.Target]
				if !ok {
					continue
				}
				if byClass[n.Class] == nil {
					byClass[n.Class] = &Outcomes{}
				}
				byClass[n.Class].add(CloseCodeOn(c, r.Target))
			}
		}
	}
	out := make([]ClassOutcomes, 0, len(byClass))
	for class, o := range byClass {
		out = append(out, ClassOutcomes{Class: class, Outcomes: *o})
	}
	slices.SortFunc(out, func(a, b ClassOutcomes) int {
		if a.Total() != b.Total() {
			return b.Total() - a.Total()
		}
		return strings.Compare(a.Class, b.Class)
	})
	return out, nil
}

// CIOutcome is how a closed change went on one of its CIs.
type CIOutcome struct {
	CI   store.ID
	Code string
}

// CloseCodesByCI returns how closed change c went on each of its CIs,
// in the order of their IDs; none while it is not closed.
func (s *Service) CloseCodesByCI(ctx context.Context, c store.Node) ([]CIOutcome, error) {
	if c.Attributes["state"] != ChangeClosed {
		return nil, nil
	}
	if err := auth.Check(ctx, auth.KindRelationship, auth.Read); err != nil {
		return nil, err
	}
	cis, err := s.affected(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	slices.Sort(cis)
	out := make([]CIOutcome, len(cis))
	for i, ci := range cis {
		out[i] = CIOutcome{CI: ci, Code: CloseCodeOn(c, ci)}
	}
	return out, nil
}
