package impact_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// effects renders impacted CIs as name -> "down@depth" / "degraded@depth".
func effects(f *fixture, list []impact.Impacted) map[string]string {
	out := map[string]string{}
	for _, im := range list {
		out[f.names[im.CI.ID]] = fmt.Sprintf("%s@%d", im.Effect, im.Depth)
	}
	return out
}

// checkPaths asserts that every impacted CI's path is a valid explanation:
// Depth hops from a start, each continuing from the previous one, each over
// a type that carries the effect in the direction travelled, every CI on a
// down path down itself.
func checkPaths(t *testing.T, f *fixture, m *cmdb.Model, res *impact.Result) {
	t.Helper()
	starts := map[store.ID]bool{}
	for _, s := range res.Starts {
		starts[s.CI.ID] = true
	}
	byID := map[store.ID]impact.Impacted{}
	for _, im := range res.Impacted {
		byID[im.CI.ID] = im
	}
	for _, im := range res.Impacted {
		name := f.names[im.CI.ID]
		path := res.PathOf(im)
		require.Len(t, path, im.Depth, "%s: one hop per level", name)
		cur := path[0].Rel.Target
		if path[0].Forward {
			cur = path[0].Rel.Source
		}
		assert.True(t, starts[cur], "%s: path starts at a start CI", name)
		for i, st := range path {
			from, to := st.Rel.Source, st.Rel.Target
			if !st.Forward {
				from, to = to, from
			}
			require.Equal(t, cur, from, "%s: hop %d continues the path", name, i)
			assert.Equal(t, store.RelationshipKey{Source: st.Rel.Source, Type: st.Rel.Type, Target: st.Rel.Target}.ID(), st.Rel.ID, "%s: hop %d has its relationship id", name, i)
			rt, ok := m.RelType(st.Rel.Type)
			require.True(t, ok, st.Rel.Type)
			want := cmdb.TargetToSource
			if st.Forward {
				want = cmdb.SourceToTarget
			}
			assert.Equal(t, want, rt.Def.Impact.Propagates, "%s: hop %d over %s travels the way failure does", name, i, st.Rel.Type)
			if im.Effect == impact.Down {
				assert.True(t, rt.Def.Impact.Effect == cmdb.EffectDown || rt.Def.Impact.Redundancy != "", "%s: hop %d over %s can carry down", name, i, st.Rel.Type)
				if i < len(path)-1 {
					assert.Equal(t, impact.Down, byID[to].Effect, "%s: hop %d reaches a down CI", name, i)
				}
			}
			cur = to
		}
		assert.Equal(t, im.CI.ID, cur, "%s: path ends at the CI", name)
	}
}

func TestAnalyze(t *testing.T) {
	hvChain := map[string]string{
		"vm1": "down@1", "vm2": "down@1", "shop-1": "down@2", "bs-report": "down@2",
		"bs-archive": "degraded@2", "shop": "down@3", "bs-shop": "down@4",
	}
	tests := []struct {
		name   string
		starts []string
		depth  int
		assume impact.Effect
		budget int
		want   map[string]string
		// paths gives the relationship types of some CIs' paths.
		paths     map[string][]string
		truncated bool
		// headroom gives some CIs' headroom: "group up/needed".
		headroom       map[string]string
		ignoreStatus   bool
		notOperational []string
	}{
		{name: "hypervisor takes down its VMs, apps and services", starts: []string{"hv1"}, want: hvChain,
			paths: map[string][]string{"bs-shop": {"RUNS_ON", "RUNS_ON", "PROVIDED_BY", "PROVIDED_BY"}, "bs-archive": {"RUNS_ON", "BACKED_UP_BY"}}},
		{name: "duplicate starts count once", starts: []string{"hv1", "hv1"}, want: hvChain},
		{name: "assume degraded degrades everything", starts: []string{"hv1"}, assume: impact.Degraded, want: map[string]string{
			"vm1": "degraded@1", "vm2": "degraded@1", "shop-1": "degraded@2", "bs-report": "degraded@2",
			"bs-archive": "degraded@2", "shop": "degraded@3", "bs-shop": "degraded@4",
		}},
		{name: "depth limit", starts: []string{"hv1"}, depth: 2, want: map[string]string{
			"vm1": "down@1", "vm2": "down@1", "shop-1": "down@2", "bs-report": "down@2", "bs-archive": "degraded@2",
		}},
		{name: "budget truncates, nearest first", starts: []string{"hv1"}, budget: 2, truncated: true, want: map[string]string{
			"vm1": "down@1", "vm2": "down@1",
		}},
		{name: "budget exactly spent is not truncation", starts: []string{"s0"}, budget: 4, want: map[string]string{
			"p1": "down@1", "p2": "down@2", "t0": "down@3", "u0": "down@4",
		}},
		{name: "one of three down, two needed: cluster at risk", starts: []string{"n1"}, want: map[string]string{
			"c3": "at_risk@1", "c3-app": "at_risk@2",
		}, paths: map[string][]string{"c3-app": {"MEMBER_OF", "RUNS_ON"}}, headroom: map[string]string{"c3": "c3 2/2", "c3-app": "c3 2/2"}},
		{name: "two of three down, two needed: cluster down", starts: []string{"n1", "n2"}, want: map[string]string{
			"c3": "down@1", "c3-app": "down@2",
		}, paths: map[string][]string{"c3-app": {"MEMBER_OF", "RUNS_ON"}}},
		{name: "assume degraded members: cluster only degraded", starts: []string{"n1", "n2"}, assume: impact.Degraded, want: map[string]string{
			"c3": "degraded@1", "c3-app": "degraded@2",
		}},
		{name: "a later member failure takes a degraded cluster down", starts: []string{"n1", "x1"}, want: map[string]string{
			"x2": "down@1", "n2": "down@2", "c3": "down@3", "c3-app": "down@4",
		}, paths: map[string][]string{"c3": {"DEPENDS_ON", "DEPENDS_ON", "MEMBER_OF"}, "c3-app": {"DEPENDS_ON", "DEPENDS_ON", "MEMBER_OF", "RUNS_ON"}}},
		{name: "a member failing one level later counts one level later", starts: []string{"n1", "x2"}, want: map[string]string{
			"n2": "down@1", "c3": "down@2", "c3-app": "down@3",
		}, paths: map[string][]string{"c3": {"DEPENDS_ON", "MEMBER_OF"}}},
		{name: "the later failure beyond the depth limit leaves it at risk", starts: []string{"n1", "x1"}, depth: 2, want: map[string]string{
			"x2": "down@1", "n2": "down@2", "c3": "at_risk@1", "c3-app": "at_risk@2",
		}},
		{name: "a cluster as start takes down what runs on it", starts: []string{"c3"}, want: map[string]string{"c3-app": "down@1"}},
		{name: "min_members_up unset: one member down puts it at risk", starts: []string{"m1"}, want: map[string]string{
			"cu": "at_risk@1", "cu-app": "at_risk@2",
		}, headroom: map[string]string{"cu": "cu 1/1"}},
		// c7 has seven members, needs two; q1, q2 and q3 are in
		// maintenance, planned and retired: four are operational.
		{name: "members not operational count as unavailable: redundancy reduced", starts: []string{"q4"}, want: map[string]string{
			"c7": "redundancy_reduced@1", "c7-app": "redundancy_reduced@2", "c7-svc": "redundancy_reduced@3",
			"r1": "redundancy_reduced@4", "c2": "redundancy_reduced@5",
		}, headroom: map[string]string{"c7": "c7 3/2", "c7-svc": "c7 3/2", "c2": "c7 3/2"}},
		{name: "members not operational count as unavailable: one more failure takes it down", starts: []string{"q4", "q5"}, want: map[string]string{
			"c7": "at_risk@1", "c7-app": "at_risk@2", "c7-svc": "at_risk@3", "r1": "at_risk@4", "c2": "at_risk@5",
		}, headroom: map[string]string{"c7": "c7 2/2", "c7-svc": "c7 2/2", "r1": "c7 2/2", "c2": "c2 2/2"}},
		{name: "members not operational count as unavailable: down", starts: []string{"q4", "q5", "q6"}, want: map[string]string{
			"c7": "down@1", "c7-app": "down@2", "c7-svc": "down@3", "r1": "down@4", "c2": "down@5",
		}},
		{name: "ignoring status, every member counts", starts: []string{"q4", "q5"}, ignoreStatus: true, want: map[string]string{
			"c7": "redundancy_reduced@1", "c7-app": "redundancy_reduced@2", "c7-svc": "redundancy_reduced@3", "r1": "redundancy_reduced@4", "c2": "redundancy_reduced@5",
		}, headroom: map[string]string{"c7": "c7 5/2", "c2": "c7 5/2"}},
		{name: "a group that needs no member is never at risk", starts: []string{"z1"}, want: map[string]string{
			"c0": "redundancy_reduced@1",
		}, headroom: map[string]string{"c0": "c0 0/0"}},
		{name: "a start not operational is flagged", starts: []string{"q3", "q4"}, want: map[string]string{
			"c7": "redundancy_reduced@1", "c7-app": "redundancy_reduced@2", "c7-svc": "redundancy_reduced@3", "r1": "redundancy_reduced@4", "c2": "redundancy_reduced@5",
		}, headroom: map[string]string{"c7": "c7 3/2"}, notOperational: []string{"q3"}},
		{name: "min_members_up unset: all members down", starts: []string{"m1", "m2"}, want: map[string]string{
			"cu": "down@1", "cu-app": "down@2",
		}},
		{name: "losing the backup target degrades", starts: []string{"arr"}, want: map[string]string{
			"db-vm": "degraded@1", "dbi": "degraded@2",
		}},
		{name: "down by a longer path beats degraded by a short one", starts: []string{"s0"}, want: map[string]string{
			"p1": "down@1", "p2": "down@2", "t0": "down@3", "u0": "down@4",
		}, paths: map[string][]string{"t0": {"DEPENDS_ON", "DEPENDS_ON", "DEPENDS_ON"}}},
		{name: "cycle", starts: []string{"cy1"}, want: map[string]string{"cy3": "down@1", "cy2": "down@2"}},
		{name: "cycle with every member a start", starts: []string{"cy1", "cy2", "cy3"}, want: map[string]string{}},
		{name: "source_to_target then target_to_source", starts: []string{"dcx"}, want: map[string]string{
			"swx": "down@1", "srvx": "down@2",
		}},
		{name: "type registered at run time", starts: []string{"pdu1"}, want: map[string]string{"srv-p": "down@1"}},
		{name: "type that does not propagate", starts: []string{"doc1"}, want: map[string]string{}},
		{name: "a leaf impacts nothing", starts: []string{"bs-shop"}, want: map[string]string{}},
	}
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a := impact.New(f.st, f.svc.Model, impact.Options{NodeBudget: tt.budget})
				depth := tt.depth
				if depth == 0 {
					depth = 8
				}
				res, err := a.Analyze(t.Context(), impact.Request{CIs: f.idsOf(t, tt.starts...), MaxDepth: depth, Assume: tt.assume, IgnoreStatus: tt.ignoreStatus})
				require.NoError(t, err)
				assert.Equal(t, tt.want, effects(f, res.Impacted))
				for _, im := range res.Impacted {
					name := f.names[im.CI.ID]
					switch im.Effect {
					case impact.AtRisk, impact.RedundancyReduced:
						if assert.NotNil(t, im.Headroom, "%s stays up: its headroom", name) {
							assert.Equal(t, im.Effect == impact.AtRisk, im.Headroom.Up <= im.Headroom.Needed && im.Headroom.Needed > 0, "%s: at risk when no member is spare", name)
						}
					default:
						assert.Nil(t, im.Headroom, "%s: no headroom", name)
					}
					if want, ok := tt.headroom[name]; ok && im.Headroom != nil {
						assert.Equal(t, want, fmt.Sprintf("%s %d/%d", f.names[im.Headroom.Group.ID], im.Headroom.Up, im.Headroom.Needed), "headroom of %s", name)
					}
				}
				for name := range tt.headroom {
					assert.Contains(t, tt.want, name, "headroom of an impacted CI")
				}
				var notOp []string
				for _, ci := range res.NotOperationalStarts {
					notOp = append(notOp, f.names[ci.ID])
				}
				assert.Equal(t, tt.notOperational, notOp, "starts not operational")
				assert.Equal(t, tt.truncated, res.Truncated)
				checkPaths(t, f, f.svc.Model(), res)
				for name, types := range tt.paths {
					for _, im := range res.Impacted {
						if f.names[im.CI.ID] == name {
							var got []string
							for _, st := range res.PathOf(im) {
								got = append(got, st.Rel.Type)
							}
							assert.Equal(t, types, got, "path of %s", name)
						}
					}
				}
				// Starts are reported apart, with the assumed effect.
				assume := tt.assume
				if assume == 0 {
					assume = impact.Down
				}
				seen := map[string]bool{}
				for _, s := range res.Starts {
					assert.Equal(t, assume, s.Effect)
					assert.NotEmpty(t, s.CI.Keys, "a start is read whole")
					seen[f.names[s.CI.ID]] = true
				}
				assert.Len(t, seen, len(res.Starts), "each start once")
				for _, s := range tt.starts {
					assert.True(t, seen[s], "start %s reported", s)
				}
				// Sorted by depth, then name.
				for i := 1; i < len(res.Impacted); i++ {
					p, c := res.Impacted[i-1], res.Impacted[i]
					assert.True(t, p.Depth < c.Depth || p.Depth == c.Depth && p.CI.Name <= c.CI.Name, "sorted at %d", i)
				}
				counts := map[impact.Effect]int{}
				for _, im := range res.Impacted {
					counts[im.Effect]++
				}
				assert.Equal(t, counts[impact.Down], res.Down)
				assert.Equal(t, counts[impact.AtRisk], res.AtRisk)
				assert.Equal(t, counts[impact.RedundancyReduced], res.RedundancyReduced)
				assert.Equal(t, counts[impact.Degraded], res.Degraded)
			})
		}
	})
}

func TestAnalyzeRollUps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := impact.New(f.st, f.svc.Model, impact.Options{})
		res, err := a.Analyze(t.Context(), impact.Request{CIs: f.idsOf(t, "hv1"), MaxDepth: 8})
		require.NoError(t, err)

		var services []string
		for _, bs := range res.BusinessServices {
			services = append(services, fmt.Sprintf("%s %s crit=%v", f.names[bs.CI.ID], bs.Effect, bs.CI.Attr("criticality")))
		}
		assert.Equal(t, []string{"bs-shop down crit=1", "bs-report down crit=3", "bs-archive degraded crit=2"}, services,
			"down first, then by criticality")
		// hv1 is owned by infra-team too, but starts are not counted.
		assert.Equal(t, []impact.Contact{{Name: "infra-team", CIs: 2}, {Name: "shop-team", CIs: 2}, {Name: "biz-team", CIs: 1}}, res.Owners)
		assert.Equal(t, []impact.Contact{{Name: "sg-apps", CIs: 2}, {Name: "sg-compute", CIs: 2}}, res.SupportGroups)
		assert.Equal(t, []impact.ClassCount{
			{Class: "BusinessService", CIs: 3}, {Class: "VirtualMachine", CIs: 2}, {Class: "Application", CIs: 1}, {Class: "ApplicationInstance", CIs: 1},
		}, res.Classes)
		assert.Equal(t, 6, res.Down)
		assert.Equal(t, 1, res.Degraded)
		assert.Equal(t, 8, res.MaxDepth)
		require.Len(t, res.Starts, 1)
		assert.Equal(t, "hv1", res.Starts[0].CI.Attributes["name"])
	})
}

// TestAnalyzeUnordered: Request.Unordered changes nothing but the order
// of Result.Impacted, and Request.SummaryOnly nothing but leaving it out,
// from every CI of the fixture, and paths still explain each CI.
func TestAnalyzeUnordered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := impact.New(f.st, f.svc.Model, impact.Options{})
		for id, name := range f.names {
			req := impact.Request{CIs: []store.ID{id}, MaxDepth: 8}
			ordered, err := a.Analyze(t.Context(), req)
			require.NoError(t, err)
			req.Unordered = true
			unordered, err := a.Analyze(t.Context(), req)
			require.NoError(t, err)
			byID := func(res *impact.Result) []string {
				out := make([]string, len(res.Impacted))
				for i, im := range res.Impacted {
					head := ""
					if h := im.Headroom; h != nil {
						head = fmt.Sprintf(" %s %d/%d", f.names[h.Group.ID], h.Up, h.Needed)
					}
					out[i] = fmt.Sprintf("%s %s %d%s via %v", f.names[im.CI.ID], im.Effect, im.Depth, head, res.PathOf(im))
				}
				slices.Sort(out)
				return out
			}
			assert.Equal(t, byID(ordered), byID(unordered), name)
			assert.Equal(t, ordered.BusinessServices, unordered.BusinessServices, name)
			assert.Equal(t, ordered.Owners, unordered.Owners, name)
			assert.Equal(t, ordered.SupportGroups, unordered.SupportGroups, name)
			assert.Equal(t, ordered.Classes, unordered.Classes, name)
			assert.Equal(t, [4]int{ordered.Down, ordered.AtRisk, ordered.RedundancyReduced, ordered.Degraded},
				[4]int{unordered.Down, unordered.AtRisk, unordered.RedundancyReduced, unordered.Degraded}, name)
			for _, im := range unordered.Impacted {
				assert.Len(t, unordered.PathOf(im), im.Depth, "%s: path to %s", name, f.names[im.CI.ID])
			}
			req.SummaryOnly = true
			for _, batch := range []int{store.MaxBatch, 3} {
				impact.SetRollUpBatch(t, batch)
				summary, err := a.Analyze(t.Context(), req)
				require.NoError(t, err)
				assert.Nil(t, summary.Impacted, name)
				assert.Equal(t, len(ordered.Impacted), summary.Count(), name)
				assert.Equal(t, rolledUp(ordered), rolledUp(summary), "%s, batches of %d", name, batch)
				for _, im := range summary.BusinessServices {
					assert.Len(t, summary.PathOf(im), im.Depth, "%s: path to %s", name, f.names[im.CI.ID])
				}
			}
		}
	})
}

// rolledUp is res without its list of impacted CIs: what a summary-only
// analysis answers.
func rolledUp(res *impact.Result) impact.Result {
	return impact.Result{Starts: res.Starts, BusinessServices: res.BusinessServices, Owners: res.Owners, SupportGroups: res.SupportGroups,
		Classes: res.Classes, Down: res.Down, AtRisk: res.AtRisk, RedundancyReduced: res.RedundancyReduced, Degraded: res.Degraded,
		NotOperationalStarts: res.NotOperationalStarts, MaxDepth: res.MaxDepth, Truncated: res.Truncated}
}

// TestReachUnordered: dependents and dependencies asked for in no order
// reach the same CIs at the same depths with the same paths, count the
// same, and page the same, page after page (PageNodes orders by itself).
func TestReachUnordered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := impact.New(f.st, f.svc.Model, impact.Options{})
		for _, call := range []struct {
			name string
			fn   func(context.Context, store.ID, int, []string, impact.ReachOptions) (*impact.Reach, error)
		}{{"dependents", a.Dependents}, {"dependencies", a.Dependencies}} {
			for id, name := range f.names {
				ordered, err := call.fn(t.Context(), id, 8, nil, impact.ReachOptions{})
				require.NoError(t, err)
				unordered, err := call.fn(t.Context(), id, 8, nil, impact.ReachOptions{Unordered: true})
				require.NoError(t, err)
				require.NoError(t, ordered.Paths(t.Context()))
				require.NoError(t, unordered.Paths(t.Context()))
				nodes := func(r *impact.Reach) []string {
					out := make([]string, len(r.Nodes))
					for i, n := range r.Nodes {
						out[i] = fmt.Sprintf("%s %d %v", f.names[n.CI.ID], n.Depth, n.Path)
					}
					slices.Sort(out)
					return out
				}
				pages := func(r *impact.Reach) []store.ID {
					var out []store.ID
					after := ""
					for range len(r.Nodes) + 1 {
						page, err := impact.PageNodes(r.Nodes, after, 2)
						require.NoError(t, err)
						for _, n := range page.Items {
							out = append(out, n.CI.ID)
						}
						if !page.HasNext {
							break
						}
						after = page.Cursors[len(page.Cursors)-1]
					}
					return out
				}
				what := call.name + " of " + name
				assert.Equal(t, nodes(ordered), nodes(unordered), what)
				assert.Equal(t, ordered.CountsByDepth(), unordered.CountsByDepth(), what)
				assert.Equal(t, ordered.CountsByClass(), unordered.CountsByClass(), what)
				var want []store.ID
				for _, n := range ordered.Nodes {
					want = append(want, n.CI.ID)
				}
				assert.Equal(t, want, pages(unordered), "%s: pages in the order of the ordered list", what)
			}
		}
	})
}

func TestAnalyzeInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := impact.New(f.st, f.svc.Model, impact.Options{})
		many := make([]store.ID, 1001)
		for i := range many {
			many[i] = f.id(t, "hv1")
		}
		tests := []struct {
			name   string
			req    impact.Request
			field  string
			reason string
		}{
			{"no CIs", impact.Request{MaxDepth: 8}, "ciIds", "at least one"},
			{"too many CIs", impact.Request{CIs: many, MaxDepth: 8}, "ciIds", "at most 1000"},
			{"empty id", impact.Request{CIs: []store.ID{f.id(t, "hv1"), ""}, MaxDepth: 8}, "ciIds[1]", "empty"},
			{"unknown CIs listed", impact.Request{CIs: []store.ID{f.id(t, "hv1"), "no-such-ci", "nor-this"}, MaxDepth: 8}, "ciIds", `"no-such-ci", "nor-this"`},
			{"no depth", impact.Request{CIs: []store.ID{f.id(t, "hv1")}}, "maxDepth", "between 1 and 32"},
			{"negative depth", impact.Request{CIs: []store.ID{f.id(t, "hv1")}, MaxDepth: -1}, "maxDepth", "between 1 and 32"},
			{"depth too large", impact.Request{CIs: []store.ID{f.id(t, "hv1")}, MaxDepth: store.MaxDepth + 1}, "maxDepth", "between 1 and 32"},
			{"bad assumption", impact.Request{CIs: []store.ID{f.id(t, "hv1")}, MaxDepth: 8, Assume: 7}, "assume", "down or degraded"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, err := a.Analyze(t.Context(), tt.req)
				assert.Nil(t, res)
				var ie *store.InvalidError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, tt.field, ie.Field)
				assert.Contains(t, ie.Reason, tt.reason)
			})
		}
	})
}

// countingGraph is a real store that counts the calls the analyzer makes.
type countingGraph struct {
	impact.Graph
	expand, cis, relsOf, edges, fields atomic.Int32
}

func (c *countingGraph) Expand(ctx context.Context, t store.Traversal) (store.TraversalResult, error) {
	c.expand.Add(1)
	return c.Graph.Expand(ctx, t)
}

func (c *countingGraph) Nodes(ctx context.Context, kind store.ObjectKind, ids []store.ID) (map[store.ID]store.Node, error) {
	c.cis.Add(1)
	return c.Graph.Nodes(ctx, kind, ids)
}

func (c *countingGraph) NodeFields(ctx context.Context, kind store.ObjectKind, ids []store.ID, fields []string) (map[store.ID]store.Node, error) {
	c.fields.Add(1)
	return c.Graph.NodeFields(ctx, kind, ids, fields)
}

func (c *countingGraph) RelationshipsOf(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (map[store.ID][]store.Relationship, error) {
	c.relsOf.Add(1)
	return c.Graph.RelationshipsOf(ctx, cis, dir, types)
}

func (c *countingGraph) Edges(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (store.Hops, error) {
	c.edges.Add(1)
	return c.Graph.Edges(ctx, cis, dir, types)
}

// TestAnalyzeStoreCalls pins the cost model: per level of phase 1 two
// Edges calls (one per direction failure travels, down, degrades and group
// types at once), plus one Edges and two NodeFields calls (the groups'
// summaries and k, their members' status) when new groups appear; per
// level of phase 2 two Edges calls likewise, plus the loads of groups met
// from a CI at risk; then one NodeFields call for the summaries of the
// result: only the starts are read whole, and no traversal runs.
func TestAnalyzeStoreCalls(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		tests := []struct {
			name                        string
			starts                      []string
			expand, cis, relsOf, fields int32
		}{
			// Levels 0..4 (the last finds nothing): 5 x 2 Edges, then
			// bs-archive (degraded at 2) spreads: 2 Edges; the starts read
			// whole, the result's summaries.
			{"no groups", []string{"hv1"}, 0, 1, 12, 1},
			// Level 0 meets c3 (its members by one Edges call, c3's
			// summary and k, its members' status from their summaries),
			// level 1 finds c3-app, level 2 nothing: 3 x 2 + 1 Edges.
			{"one group", []string{"n1", "n2"}, 0, 1, 7, 3},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				g := &countingGraph{Graph: f.st}
				a := impact.New(g, f.svc.Model, impact.Options{})
				_, err := a.Analyze(t.Context(), impact.Request{CIs: f.idsOf(t, tt.starts...), MaxDepth: 8})
				require.NoError(t, err)
				assert.Equal(t, tt.expand, g.expand.Load(), "Expand calls")
				assert.Equal(t, tt.cis, g.cis.Load(), "Nodes calls: the starts, read whole")
				assert.Equal(t, tt.fields, g.fields.Load(), "NodeFields calls: summaries of groups, of their members and of the CIs reported")
				assert.Equal(t, tt.relsOf, g.edges.Load(), "Edges calls")
				assert.Zero(t, g.relsOf.Load(), "RelationshipsOf calls: the analysis reads the graph's shape only")
			})
		}
	})
}

func TestDependencies(t *testing.T) {
	type call func(a *impact.Analyzer, ctx context.Context, id store.ID, depth int, types []string, opts impact.ReachOptions) (*impact.Reach, error)
	deps, dependents := (*impact.Analyzer).Dependencies, (*impact.Analyzer).Dependents
	raw := func(c call) call {
		return func(a *impact.Analyzer, ctx context.Context, id store.ID, depth int, types []string, opts impact.ReachOptions) (*impact.Reach, error) {
			opts.Follow = impact.FollowRelationships
			return c(a, ctx, id, depth, types, opts)
		}
	}
	tests := []dependencyCase{
		{"what an instance needs", deps, "shop-1", 8, nil, map[string]int{"vm1": 1, "hv1": 2}},
		{"what a service needs over PROVIDED_BY", deps, "bs-shop", 8, []string{"PROVIDED_BY"}, map[string]int{"shop": 1, "shop-1": 2}},
		{"what needs a hypervisor", dependents, "hv1", 8, nil, map[string]int{
			"vm1": 1, "vm2": 1, "shop-1": 2, "bs-report": 2, "bs-archive": 2, "shop": 3, "bs-shop": 4,
		}},
		{"what runs on a hypervisor", dependents, "hv1", 8, []string{"RUNS_ON", "RUNS_ON"}, map[string]int{"vm1": 1, "vm2": 1, "shop-1": 2}},
		{"depth 1", dependents, "hv1", 1, nil, map[string]int{"vm1": 1, "vm2": 1}},
		{"a cluster needs its members", deps, "c3", 8, []string{"MEMBER_OF"}, map[string]int{"n1": 1, "n2": 1, "n3": 1}},
		{"a member's cluster needs it", dependents, "n1", 8, []string{"MEMBER_OF"}, map[string]int{"c3": 1}},
		{"members do not need their cluster", dependents, "c3", 8, []string{"MEMBER_OF"}, map[string]int{}},
		{"raw: members point at their cluster", raw(dependents), "c3", 8, []string{"MEMBER_OF"}, map[string]int{"n1": 1, "n2": 1, "n3": 1}},
		{"raw: a member points at its cluster", raw(deps), "n1", 8, []string{"MEMBER_OF"}, map[string]int{"c3": 1}},
		{"cycle", deps, "cy1", 8, nil, map[string]int{"cy2": 1, "cy3": 2}},
		{"type registered at run time", deps, "srv-p", 8, []string{"POWERED_BY"}, map[string]int{"pdu1": 1}},
		{"nothing", deps, "hv1", 8, []string{"MEMBER_OF"}, map[string]int{}},
		{"raw: a type without impact", raw(deps), "srv-p", 8, []string{"DOCUMENTED_BY"}, map[string]int{"doc1": 1}},
	}
	forEachBackend(t, func(t *testing.T, f *fixture) {
		// As the store answers, and with the predecessors withheld (as the
		// Neo4j store withholds them from one start): Reach.Paths finds them.
		for _, g := range []struct {
			name  string
			graph impact.Graph
		}{{"store", f.st}, {"depths only", depthsOnly{f.st}}} {
			t.Run(g.name, func(t *testing.T) { testDependencies(t, f, impact.New(g.graph, f.svc.Model, impact.Options{}), tests) })
		}
		t.Run("budget", func(t *testing.T) {
			small := impact.New(f.st, f.svc.Model, impact.Options{NodeBudget: 3})
			r, err := small.Dependents(t.Context(), f.id(t, "hv1"), 8, nil, impact.ReachOptions{})
			require.NoError(t, err)
			assert.Len(t, r.Nodes, 3)
			assert.True(t, r.Truncated)
		})
	})
}

type dependencyCase struct {
	name  string
	fn    func(a *impact.Analyzer, ctx context.Context, id store.ID, depth int, types []string, opts impact.ReachOptions) (*impact.Reach, error)
	root  string
	depth int
	types []string
	want  map[string]int // name -> depth
}

func testDependencies(t *testing.T, f *fixture, a *impact.Analyzer, tests []dependencyCase) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.fn(a, t.Context(), f.id(t, tt.root), tt.depth, tt.types, impact.ReachOptions{})
			require.NoError(t, err)
			require.NoError(t, r.Paths(t.Context()))
			assert.Equal(t, tt.root, r.Root.Attributes["name"])
			got := map[string]int{}
			for _, n := range r.Nodes {
				got[f.names[n.CI.ID]] = n.Depth
				require.Len(t, n.Path, n.Depth)
				cur := r.Root.ID
				for _, st := range n.Path {
					from, to := st.Rel.Source, st.Rel.Target
					if !st.Forward {
						from, to = to, from
					}
					require.Equal(t, cur, from)
					if len(tt.types) > 0 {
						assert.Contains(t, tt.types, st.Rel.Type)
					}
					cur = to
				}
				assert.Equal(t, n.CI.ID, cur)
			}
			assert.Equal(t, tt.want, got)
			assert.False(t, r.Truncated)
		})
	}
}

// depthsOnly is a real store whose depth-only traversals report no
// predecessors, as store.Traversal.DepthOnly allows.
type depthsOnly struct{ impact.Graph }

func (d depthsOnly) Expand(ctx context.Context, t store.Traversal) (store.TraversalResult, error) {
	res, err := d.Graph.Expand(ctx, t)
	if t.DepthOnly {
		for i := range res.Nodes {
			res.Nodes[i].Via, res.Nodes[i].Type, res.Nodes[i].Forward = "", "", false
		}
	}
	return res, err
}

// TestPathsAfterAChange: a path whose relationship was deleted between the
// traversal and the paths is ErrChanged, not a shorter answer.
func TestPathsAfterAChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		res, err := f.svc.Upsert(t.Context(), actor, []cmdb.UpsertItem{
			{Class: "Application", Attributes: map[string]any{"name": "paths-db-" + t.Name()}},
			{Class: "Application", Attributes: map[string]any{"name": "paths-app-" + t.Name()}},
		}, true)
		require.NoError(t, err)
		db, app := res[0].Node.ID, res[1].Node.ID
		rels, err := f.svc.CreateRelationships(t.Context(), actor, []cmdb.RelationshipItem{{Source: app, Type: "DEPENDS_ON", Target: db}}, true)
		require.NoError(t, err)
		require.NoError(t, rels[0].Err)
		a := impact.New(depthsOnly{f.st}, f.svc.Model, impact.Options{})
		r, err := a.Dependents(t.Context(), db, 8, nil, impact.ReachOptions{})
		require.NoError(t, err)
		require.Len(t, r.Nodes, 1)
		_, err = f.st.DeleteRelationships(t.Context(), actor, []store.ID{rels[0].Relationship.ID})
		require.NoError(t, err)
		err = r.Paths(t.Context())
		require.ErrorIs(t, err, impact.ErrChanged)
		require.ErrorIs(t, r.Paths(t.Context()), impact.ErrChanged, "asked again, the same answer")
	})
}

func TestShortestPath(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := impact.New(f.st, f.svc.Model, impact.Options{})
		names := func(p *impact.Path) []string {
			var out []string
			for _, ci := range p.CIs {
				out = append(out, f.names[ci.ID])
			}
			return out
		}
		t.Run("against the arrows", func(t *testing.T) {
			p, err := a.ShortestPath(t.Context(), f.id(t, "vm1"), f.id(t, "vm2"), 8, nil)
			require.NoError(t, err)
			assert.Equal(t, []string{"vm1", "hv1", "vm2"}, names(p))
			require.Len(t, p.Steps, 2)
			assert.True(t, p.Steps[0].Forward)
			assert.False(t, p.Steps[1].Forward)
			assert.Equal(t, "RUNS_ON", p.Steps[1].Rel.Type)
		})
		t.Run("long", func(t *testing.T) {
			p, err := a.ShortestPath(t.Context(), f.id(t, "bs-shop"), f.id(t, "hv1"), 8, []string{"PROVIDED_BY", "RUNS_ON"})
			require.NoError(t, err)
			assert.Equal(t, []string{"bs-shop", "shop", "shop-1", "vm1", "hv1"}, names(p))
		})
		t.Run("same CI", func(t *testing.T) {
			p, err := a.ShortestPath(t.Context(), f.id(t, "hv1"), f.id(t, "hv1"), 8, nil)
			require.NoError(t, err)
			assert.Equal(t, []string{"hv1"}, names(p))
			assert.Empty(t, p.Steps)
		})
		t.Run("not over the given types", func(t *testing.T) {
			_, err := a.ShortestPath(t.Context(), f.id(t, "bs-shop"), f.id(t, "hv1"), 8, []string{"PROVIDED_BY"})
			assert.ErrorIs(t, err, store.ErrNotFound)
		})
		t.Run("too far", func(t *testing.T) {
			_, err := a.ShortestPath(t.Context(), f.id(t, "bs-shop"), f.id(t, "hv1"), 3, nil)
			assert.ErrorIs(t, err, store.ErrNotFound)
		})
		t.Run("disconnected", func(t *testing.T) {
			_, err := a.ShortestPath(t.Context(), f.id(t, "cy1"), f.id(t, "hv1"), 8, nil)
			assert.ErrorIs(t, err, store.ErrNotFound)
		})
		t.Run("unknown CI", func(t *testing.T) {
			_, err := a.ShortestPath(t.Context(), "no-such-ci", f.id(t, "hv1"), 8, nil)
			assert.ErrorIs(t, err, store.ErrNotFound)
		})
	})
}

func TestDependenciesInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := impact.New(f.st, f.svc.Model, impact.Options{})
		hv := f.id(t, "hv1")
		tests := []struct {
			name   string
			run    func() error
			field  string
			reason string
		}{
			{"unknown type", func() error {
				_, err := a.Dependencies(t.Context(), hv, 8, []string{"RUNS_ON", "RUNS_0N"}, impact.ReachOptions{})
				return err
			},
				"types[1]", "did you mean RUNS_ON?; valid types: DEPENDS_ON, RUNS_ON"},
			{"depth", func() error { _, err := a.Dependents(t.Context(), hv, 33, nil, impact.ReachOptions{}); return err }, "depth", "between 1 and 32"},
			{"type without impact", func() error {
				_, err := a.Dependents(t.Context(), hv, 8, []string{"RUNS_ON", "DOCUMENTED_BY"}, impact.ReachOptions{})
				return err
			}, "types[1]", "DOCUMENTED_BY carries no impact"},
			{"zero depth", func() error { _, err := a.Dependencies(t.Context(), hv, 0, nil, impact.ReachOptions{}); return err }, "depth", "between 1 and 32"},
			{"no CI", func() error { _, err := a.Dependents(t.Context(), "", 8, nil, impact.ReachOptions{}); return err }, "ciId", "required"},
			{"path type", func() error { _, err := a.ShortestPath(t.Context(), hv, hv, 8, []string{"nope"}); return err }, "types[0]", "valid types"},
			{"path depth", func() error { _, err := a.ShortestPath(t.Context(), hv, hv, -2, nil); return err }, "maxDepth", "between 1 and 32"},
			{"path from", func() error { _, err := a.ShortestPath(t.Context(), "", hv, 8, nil); return err }, "from", "required"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var ie *store.InvalidError
				require.ErrorAs(t, tt.run(), &ie)
				assert.Equal(t, tt.field, ie.Field)
				assert.Contains(t, ie.Reason, tt.reason)
			})
		}
		t.Run("unknown CI", func(t *testing.T) {
			_, err := a.Dependencies(t.Context(), "no-such-ci", 8, nil, impact.ReachOptions{})
			assert.True(t, errors.Is(err, store.ErrNotFound), "%v", err)
		})
	})
}

func TestTimeLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		a := impact.New(f.st, f.svc.Model, impact.Options{Timeout: time.Nanosecond})
		_, err := a.Analyze(t.Context(), impact.Request{CIs: f.idsOf(t, "hv1"), MaxDepth: 8})
		require.Error(t, err)
		var tl *impact.TimeLimitError
		require.ErrorAs(t, err, &tl)
		assert.Equal(t, time.Nanosecond, tl.Limit)
		assert.Contains(t, err.Error(), "time limit")
		// One answer from both stores: the API's TIMEOUT, never "store
		// unavailable" (how Neo4j's driver may report a cut read).
		assert.Equal(t, apierr.Timeout, apierr.From(err, apierr.Refs{}).Code, "%v", err)
		_, err = a.Dependents(t.Context(), f.id(t, "hv1"), 8, nil, impact.ReachOptions{})
		assert.Contains(t, err.Error(), "time limit")
		assert.Equal(t, apierr.Timeout, apierr.From(err, apierr.Refs{}).Code, "%v", err)
		// The caller's own deadline is the caller's: no time limit of ours.
		ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		_, err = impact.New(f.st, f.svc.Model, impact.Options{}).Analyze(ctx, impact.Request{CIs: f.idsOf(t, "hv1"), MaxDepth: 8})
		require.Error(t, err)
		assert.False(t, errors.As(err, &tl), "%v", err)
	})
}

func TestEffectText(t *testing.T) {
	for _, e := range []impact.Effect{impact.Down, impact.AtRisk, impact.RedundancyReduced, impact.Degraded} {
		b, err := e.MarshalText()
		require.NoError(t, err)
		back, err := impact.ParseEffect("assume", string(b))
		require.NoError(t, err)
		assert.Equal(t, e, back)
	}
	_, err := impact.ParseEffect("assume", "broken")
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "assume", ie.Field)
	_, err = impact.Effect(0).MarshalText()
	assert.Error(t, err)
}

// TestReachReadsSummaries: dependents read their root whole and the CIs
// they reach as summaries, once each, whatever their number; the reached
// CIs keep their names (the order needs them) and classes.
func TestReachReadsSummaries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		g := &countingGraph{Graph: f.st}
		a := impact.New(g, f.svc.Model, impact.Options{})
		reach, err := a.Dependents(t.Context(), f.idsOf(t, "hv1")[0], 8, nil, impact.ReachOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, reach.Nodes)
		assert.Equal(t, int32(1), g.cis.Load(), "Nodes calls: the root")
		assert.Equal(t, int32(1), g.fields.Load(), "NodeFields calls: the CIs reached")
		assert.Equal(t, "hv1", reach.Root.Attributes["name"])
		assert.NotEmpty(t, reach.Root.Keys, "the root is read whole")
		for _, n := range reach.Nodes {
			assert.Equal(t, f.names[n.CI.ID], n.CI.Name)
			assert.NotEmpty(t, n.CI.Class)
		}
	})
}

// TestPathsCostFollowsTheQuestion: asked with Paths, the traversal reports
// how it reached each CI and Reach.Paths reads nothing more; asked
// without, a store that reports depths only costs a read of the
// relationships per depth, and only when Paths is called.
func TestPathsCostFollowsTheQuestion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		for _, tt := range []struct {
			name  string
			paths bool
			reads bool // whether Paths reads relationships
		}{{"with paths", true, false}, {"depths only", false, true}} {
			t.Run(tt.name, func(t *testing.T) {
				g := &countingGraph{Graph: depthsOnly{f.st}}
				a := impact.New(g, f.svc.Model, impact.Options{})
				reach, err := a.Dependents(t.Context(), f.id(t, "hv1"), 8, nil, impact.ReachOptions{Paths: tt.paths})
				require.NoError(t, err)
				assert.Zero(t, g.edges.Load(), "no relationships read before paths are asked for")
				require.NoError(t, reach.Paths(t.Context()))
				assert.Equal(t, tt.reads, g.edges.Load() > 0, "Edges calls: %d", g.edges.Load())
				for _, n := range reach.Nodes {
					assert.Len(t, n.Path, n.Depth, "%s", f.names[n.CI.ID])
				}
			})
		}
	})
}
