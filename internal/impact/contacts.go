package impact

import (
	"context"
	"errors"
	"fmt"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// ResolveContacts fills the Node of res's owners and support groups with
// the people and groups their names resolve to. It reads the OWNED_BY and
// SUPPORTED_BY edges that the CMDB keeps from the impacted CIs' owner and
// support_group attributes (cmdb.FromAttribute): one RelationshipsOf call
// for the impacted CIs (per store.MaxBatch of them) and one Nodes call for
// the people and groups they lead to, whatever the number of CIs. A name
// no edge resolves stays a name only; a name the edges of several CIs
// resolve differently (two people of one name) takes the node of the CI
// with the smallest ID, whatever the order of res.Impacted. It is separate
// from Analyze so that an analysis that does not show contacts does not
// pay for it, and needs a result that lists the impacted CIs (not
// Request.SummaryOnly). The caller must be allowed to read people and
// groups.
func (a *Analyzer) ResolveContacts(ctx context.Context, res *Result) error {
	for _, k := range []auth.Kind{auth.KindPerson, auth.KindGroup} {
		if err := auth.Check(ctx, k, auth.Read); err != nil {
			return err
		}
	}
	if len(res.Owners) == 0 && len(res.SupportGroups) == 0 {
		return nil
	}
	if res.Impacted == nil && res.Count() > 0 {
		// A summary-only result: the names are counted, the CIs whose edges
		// resolve them are not kept. Resolving none would answer less than
		// was asked without saying so.
		return errors.New("impact contacts: the result lists no impacted CIs (Request.SummaryOnly)")
	}
	var ids []store.ID
	names := map[store.ID][2]string{} // the CI's owner and support group
	for i := range res.Impacted {
		ci := &res.Impacted[i].CI
		o, g := ci.Text("owner"), ci.Text("support_group")
		if o != "" || g != "" {
			ids = append(ids, ci.ID)
			names[ci.ID] = [2]string{o, g}
		}
	}
	// name -> node, per attribute, from the CI with the smallest ID whose
	// edge resolves it (whatever the order of res.Impacted)
	byName := map[[2]string]store.ID{}
	from := map[[2]string]store.ID{}
	for start := 0; start < len(ids); start += store.MaxBatch {
		part := ids[start:min(start+store.MaxBatch, len(ids))]
		edges, err := a.g.RelationshipsOf(ctx, part, store.Out, []string{cmdb.RelOwnedBy, cmdb.RelSupportedBy})
		if err != nil {
			return fmt.Errorf("impact contacts: %w", err)
		}
		for _, id := range part {
			for _, e := range edges[id] {
				if !cmdb.FromAttribute(e) {
					continue
				}
				attr, name := "owner", names[id][0]
				if e.Type == cmdb.RelSupportedBy {
					attr, name = "support_group", names[id][1]
				}
				key := [2]string{attr, name}
				if prev, ok := from[key]; name != "" && (!ok || id < prev || id == prev && e.Target < byName[key]) {
					byName[key], from[key] = e.Target, id
				}
			}
		}
	}
	if len(byName) == 0 {
		return nil
	}
	targets := make([]store.ID, 0, len(byName))
	seen := map[store.ID]bool{}
	for _, id := range byName {
		if !seen[id] {
			seen[id] = true
			targets = append(targets, id)
		}
	}
	nodes, err := a.g.Nodes(ctx, store.AnyKind, targets)
	if err != nil {
		return fmt.Errorf("impact contacts: %w", err)
	}
	for attr, list := range map[string][]Contact{"owner": res.Owners, "support_group": res.SupportGroups} {
		for i := range list {
			if n, ok := nodes[byName[[2]string{attr, list[i].Name}]]; ok {
				list[i].Node = &n
			}
		}
	}
	return nil
}
