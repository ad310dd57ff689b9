package main

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/demo"
)

// demoImpactQuery selects what demoGolden projects, for one start CI and a
// maxDepth given in the text of the query ("" for none).
func demoImpactQuery(depthArg string) string {
	return fmt.Sprintf(`query($ids: [ID!]!) { impactAnalysis(ciIds: $ids%s) {
    starts { name class } downCount degradedCount truncated
    impacted { ci { name class } depth effect path { from { name } to { name } type forward } }
    businessServices { ci { name criticality } effect depth }
    owners { name ciCount } supportGroups { name ciCount } countsByClass { class count } } }`, depthArg)
}

// assertInvalidArg checks that resp failed with INVALID on the argument
// named field, as the client wrote it.
func assertInvalidArg(t *testing.T, resp demoResponse, code, field string) {
	t.Helper()
	require.NotEmpty(t, resp.Errors, "an error")
	assert.Equal(t, code, resp.Errors[0].code(), resp.Errors[0].Message)
	assert.Equal(t, field, resp.Errors[0].Extensions["field"], resp.Errors[0].Message)
}

// TestDemoDepthArguments checks the one rule of every depth argument on the
// demo estate: null means the schema's default, 0 and values out of range
// are INVALID on the argument as the client spelled it.
func TestDemoDepthArguments(t *testing.T) {
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			fw := s.id(t, demo.FirewallExample)
			vars := map[string]any{"ids": []string{fw}}

			t.Run("impactAnalysis maxDepth null is the default", func(t *testing.T) {
				var def, null, twelve struct {
					ImpactAnalysis demoImpact `json:"impactAnalysis"`
				}
				s.data(t, demoImpactQuery(""), vars, &def)
				s.data(t, demoImpactQuery(", maxDepth: null"), vars, &null)
				s.data(t, demoImpactQuery(", maxDepth: 12"), vars, &twelve)
				assert.Equal(t, string(demoGolden(def.ImpactAnalysis)), string(demoGolden(null.ImpactAnalysis)))
				assert.Equal(t, string(demoGolden(twelve.ImpactAnalysis)), string(demoGolden(def.ImpactAnalysis)), "the default is 12")
				var services []string
				for _, bs := range null.ImpactAnalysis.BusinessServices {
					services = append(services, bs.CI.Name)
				}
				assert.Contains(t, services, demo.BusinessServiceExample, "the Online Shop outage is not dropped")
				assert.Len(t, services, 10)
			})
			t.Run("dependents and dependencies depth null is the default", func(t *testing.T) {
				q := `query($id: ID!) { ci(id: $id) { d: dependencies%s { nodes { depth ci { name } } } e: dependents%s { nodes { depth ci { name } } } } }`
				var def, null, three map[string]any
				s.data(t, fmt.Sprintf(q, "", ""), map[string]any{"id": fw}, &def)
				s.data(t, fmt.Sprintf(q, "(depth: null)", "(depth: null)"), map[string]any{"id": fw}, &null)
				s.data(t, fmt.Sprintf(q, "(depth: 3)", "(depth: 3)"), map[string]any{"id": fw}, &three)
				assert.Equal(t, def, null)
				assert.Equal(t, three, def)
			})
			t.Run("shortestPath and pathTo maxDepth null is the default", func(t *testing.T) {
				to := s.id(t, demo.BusinessServiceExample)
				var def, null map[string]any
				s.data(t, `query($a: ID!, $b: ID!) { shortestPath(from: $a, to: $b) { length } ci(id: $a) { pathTo(ci: $b) { length } } }`,
					map[string]any{"a": fw, "b": to}, &def)
				s.data(t, `query($a: ID!, $b: ID!) { shortestPath(from: $a, to: $b, maxDepth: null) { length } ci(id: $a) { pathTo(ci: $b, maxDepth: null) { length } } }`,
					map[string]any{"a": fw, "b": to}, &null)
				assert.Equal(t, def, null)
				assert.NotNil(t, get(def, "shortestPath"))
			})

			invalid := []struct {
				name, query, field string
			}{
				{"impactAnalysis 0", `query($a: ID!) { impactAnalysis(ciIds: [$a], maxDepth: 0) { downCount } }`, "maxDepth"},
				{"impactAnalysis negative", `query($a: ID!) { impactAnalysis(ciIds: [$a], maxDepth: -1) { downCount } }`, "maxDepth"},
				{"impactAnalysis beyond the limit", `query($a: ID!) { impactAnalysis(ciIds: [$a], maxDepth: 17) { downCount } }`, "maxDepth"},
				{"dependents 0", `query($a: ID!) { ci(id: $a) { dependents(depth: 0) { truncated } } }`, "depth"},
				{"dependencies 0", `query($a: ID!) { ci(id: $a) { dependencies(depth: 0) { truncated } } }`, "depth"},
				{"dependents beyond the limit", `query($a: ID!) { ci(id: $a) { dependents(depth: 99) { truncated } } }`, "depth"},
				{"shortestPath 0", `query($a: ID!) { shortestPath(from: $a, to: $a, maxDepth: 0) { length } }`, "maxDepth"},
				{"pathTo 0", `query($a: ID!) { ci(id: $a) { pathTo(ci: $a, maxDepth: 0) { length } } }`, "maxDepth"},
			}
			for _, tt := range invalid {
				t.Run(tt.name, func(t *testing.T) {
					assertInvalidArg(t, s.post(t, tt.query, map[string]any{"a": fw}), "INVALID", tt.field)
				})
			}
		})
	}
}

// TestDemoPathToMissingCI checks that a path to or from a CI that does not
// exist is NOT_FOUND on the argument, not a null path.
func TestDemoPathToMissingCI(t *testing.T) {
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			fw := s.id(t, demo.FirewallExample)
			ghost := graph.CIGlobalID("00000000-0000-4000-8000-000000000000")
			tests := []struct {
				name, query, field string
			}{
				{"shortestPath from", `query($a: ID!, $g: ID!) { shortestPath(from: $g, to: $a) { length } }`, "from"},
				{"shortestPath to", `query($a: ID!, $g: ID!) { shortestPath(from: $a, to: $g) { length } }`, "to"},
				{"pathTo", `query($a: ID!, $g: ID!) { ci(id: $a) { pathTo(ci: $g) { length } } }`, "ci"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					resp := s.post(t, tt.query, map[string]any{"a": fw, "g": ghost})
					assertInvalidArg(t, resp, "NOT_FOUND", tt.field)
					assert.Contains(t, resp.Errors[0].Message, ghost, "names the ID as sent")
				})
			}
			// No path between two CIs that exist is still null.
			var d map[string]any
			s.data(t, `query($a: ID!) { shortestPath(from: $a, to: $a, types: ["BACKED_UP_BY"]) { length } }`, map[string]any{"a": fw}, &d)
			assert.Equal(t, 0.0, get(d, "shortestPath", "length"))
		})
	}
}

// TestDemoDependentsFollowImpact checks that dependents and dependencies
// follow the direction failure travels, and the relationships' own
// direction on request.
func TestDemoDependentsFollowImpact(t *testing.T) {
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			names := func(v any) map[string]float64 {
				out := map[string]float64{}
				list, _ := v.([]any)
				for _, n := range list {
					out[get(n, "ci", "name").(string)] = get(n, "depth").(float64)
				}
				return out
			}
			q := `query($id: ID!) { ci(id: $id) {
				dependents { nodes { depth ci { name } } }
				dependencies { nodes { depth ci { name } } }
				rawDependents: dependents(follow: RELATIONSHIP) { nodes { depth ci { name } } }
				rawDependencies: dependencies(follow: RELATIONSHIP) { nodes { depth ci { name } } } } }`
			var sw, core map[string]any
			s.data(t, q, map[string]any{"id": s.id(t, "sw-fra1-core-01")}, &sw)
			deps := names(get(sw, "ci", "dependents", "nodes"))
			assert.NotEmpty(t, deps, "what needs a core switch")
			assert.Equal(t, 1.0, deps["net-fra1-core"], "its group needs it")
			assert.Empty(t, names(get(sw, "ci", "rawDependents", "nodes")), "nothing points at it")
			assert.Contains(t, names(get(sw, "ci", "rawDependencies", "nodes")), "net-fra1-core", "it points at its group")

			s.data(t, q, map[string]any{"id": s.id(t, "net-fra1-core")}, &core)
			deps = names(get(core, "ci", "dependents", "nodes"))
			assert.NotContains(t, deps, "sw-fra1-core-01", "a group's members do not need it")
			assert.Equal(t, 1.0, deps["sw-fra1-acc-01"], "what DEPENDS_ON the group needs it")
			needs := names(get(core, "ci", "dependencies", "nodes"))
			assert.Equal(t, 1.0, needs["sw-fra1-core-01"], "a group needs its members")
			assert.Equal(t, 1.0, names(get(core, "ci", "rawDependents", "nodes"))["sw-fra1-core-01"], "raw: members point at the group")

		})
	}
}

// TestDependentsSummaryAndPages: a CI's dependents as counts and as pages.
// The pages, followed by their cursors, hold the nodes list in its order,
// paths included; the counts agree with the list; a bad cursor or page
// size is a typed error on the argument.
func TestDependentsSummaryAndPages(t *testing.T) {
	type node struct {
		CI    struct{ Name string }
		Depth int
		Path  []struct{ Type string }
	}
	type count struct {
		Depth int
		Class string
		Count int
	}
	const whole = `query($id: ID!) { ci(id: $id) { dependents(depth: 8) {
  totalCount truncated countsByDepth { depth count } countsByClass { class count }
  nodes { ci { name } depth path { type } } } } }`
	const paged = `query($id: ID!, $first: Int, $after: String) { ci(id: $id) { dependents(depth: 8) {
  nodesPage(first: $first, after: $after) { totalCount edges { cursor node { ci { name } depth path { type } } }
  pageInfo { hasNextPage endCursor } } } } }`
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			id := s.id(t, "esx-fra1-03")
			var all struct {
				CI struct {
					Dependents struct {
						TotalCount    int
						Truncated     bool
						CountsByDepth []count
						CountsByClass []count
						Nodes         []node
					}
				}
			}
			s.data(t, whole, map[string]any{"id": id}, &all)
			d := all.CI.Dependents
			require.Greater(t, len(d.Nodes), 5)
			assert.Equal(t, len(d.Nodes), d.TotalCount)
			byDepth, byClass := map[int]int{}, 0
			for _, n := range d.Nodes {
				byDepth[n.Depth]++
			}
			for i, c := range d.CountsByDepth {
				assert.Equal(t, byDepth[c.Depth], c.Count, "depth %d", c.Depth)
				if i > 0 {
					assert.Less(t, d.CountsByDepth[i-1].Depth, c.Depth, "nearest first")
				}
			}
			assert.Len(t, d.CountsByDepth, len(byDepth))
			for _, c := range d.CountsByClass {
				byClass += c.Count
			}
			assert.Equal(t, d.TotalCount, byClass)

			var pages []node
			after := any(nil)
			for range 100 {
				var p struct {
					CI struct {
						Dependents struct {
							NodesPage struct {
								TotalCount int
								Edges      []struct{ Node node }
								PageInfo   struct {
									HasNextPage bool
									EndCursor   *string
								}
							}
						}
					}
				}
				s.data(t, paged, map[string]any{"id": id, "first": 4, "after": after}, &p)
				page := p.CI.Dependents.NodesPage
				assert.Equal(t, d.TotalCount, page.TotalCount)
				for _, e := range page.Edges {
					pages = append(pages, e.Node)
				}
				if !page.PageInfo.HasNextPage {
					break
				}
				require.NotNil(t, page.PageInfo.EndCursor)
				after = *page.PageInfo.EndCursor
			}
			assert.Equal(t, d.Nodes, pages, "the pages hold the list, paths included")

			for _, bad := range []struct {
				vars  map[string]any
				field string
			}{
				{map[string]any{"id": id, "first": 0}, "first"},
				{map[string]any{"id": id, "first": 1001}, "first"},
				{map[string]any{"id": id, "first": 4, "after": "not-a-cursor"}, "after"},
			} {
				// Without edges, so that the complexity limit (which counts
				// an out-of-range first as the default) lets it through.
				r := s.post(t, `query($id: ID!, $first: Int, $after: String) { ci(id: $id) { dependents(depth: 8) {
  nodesPage(first: $first, after: $after) { totalCount } } } }`, bad.vars)
				require.NotEmpty(t, r.Errors, "%v", bad.vars)
				assert.Equal(t, "INVALID", r.Errors[0].code(), "%v", bad.vars)
				assert.Equal(t, bad.field, r.Errors[0].Extensions["field"], "%v", bad.vars)
			}
		})
	}
}

// TestImpactedOrderWhateverIsSelected: the server leaves an analysis's
// CIs unordered when the query does not list them (impact.Request.Unordered),
// so the list, whether selected directly or through a fragment, and the
// default page must still come by depth, then name, and agree.
func TestImpactedOrderWhateverIsSelected(t *testing.T) {
	type item struct {
		CI    struct{ Name string }
		Depth int
	}
	queries := map[string]string{
		"direct":   `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { impacted { ci { name } depth } } }`,
		"fragment": `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { downCount ...list } } fragment list on ImpactAnalysis { impacted { ci { name } depth } }`,
		"page":     `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { downCount impactedPage(first: 20) { edges { node { ci { name } depth } } } } }`,
	}
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			vars := map[string]any{"ids": []string{s.id(t, "esx-fra1-03")}}
			lists := map[string][]item{}
			for name, q := range queries {
				var out struct {
					ImpactAnalysis struct {
						Impacted     []item
						ImpactedPage struct{ Edges []struct{ Node item } }
					}
				}
				s.data(t, q, vars, &out)
				list := out.ImpactAnalysis.Impacted
				for _, e := range out.ImpactAnalysis.ImpactedPage.Edges {
					list = append(list, e.Node)
				}
				require.Greater(t, len(list), 5, name)
				assert.True(t, slices.IsSortedFunc(list, func(x, y item) int {
					return cmp.Or(cmp.Compare(x.Depth, y.Depth), cmp.Compare(x.CI.Name, y.CI.Name))
				}), "%s: by depth, then name: %v", name, list)
				lists[name] = list
			}
			assert.Equal(t, lists["direct"], lists["fragment"])
			// A page of 20 (the complexity limit allows no more here).
			assert.Equal(t, lists["direct"][:min(20, len(lists["direct"]))], lists["page"])
		})
	}
}

// TestImpactSummaryWhateverIsSelected: a query selecting only counts and
// roll-ups gets a summary-only analysis (impact.Request.SummaryOnly), one
// that also lists the CIs (directly, through a fragment spread or an
// inline fragment) gets them all; the counts and roll-ups are the same
// either way, and the lists hold as many CIs as the counts say.
func TestImpactSummaryWhateverIsSelected(t *testing.T) {
	const summary = `downCount atRiskCount redundancyReducedCount degradedCount truncated
  businessServices { ci { name } effect depth } owners { name ciCount } supportGroups { name ciCount } countsByClass { class count }`
	queries := map[string]string{
		"summary":  `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { __typename ` + summary + ` } }`,
		"direct":   `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { ` + summary + ` impacted { ci { name } } } }`,
		"fragment": `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { ...s ...l } } fragment s on ImpactAnalysis { ` + summary + ` } fragment l on ImpactAnalysis { impacted { ci { name } } }`,
		"inline":   `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { ` + summary + ` ... on ImpactAnalysis { countsByDepth { depth count } } } }`,
	}
	type rollUps struct {
		DownCount, AtRiskCount, RedundancyReducedCount, DegradedCount int
		Truncated                                                     bool
		BusinessServices                                              []struct {
			CI     struct{ Name string }
			Effect string
			Depth  int
		}
		Owners, SupportGroups []struct {
			Name    string
			CICount int
		}
		CountsByClass []struct {
			Class string
			Count int
		}
	}
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			vars := map[string]any{"ids": []string{s.id(t, "esx-fra1-03")}}
			got := map[string]rollUps{}
			for name, q := range queries {
				var out struct {
					ImpactAnalysis struct {
						rollUps
						Impacted      []struct{ CI struct{ Name string } }
						CountsByDepth []struct{ Depth, Count int }
					}
				}
				s.data(t, q, vars, &out)
				a := out.ImpactAnalysis
				total := a.DownCount + a.AtRiskCount + a.RedundancyReducedCount + a.DegradedCount
				require.Greater(t, total, 5, name)
				require.NotEmpty(t, a.BusinessServices, name)
				switch name {
				case "direct", "fragment":
					assert.Len(t, a.Impacted, total, name)
				case "inline":
					n := 0
					for _, d := range a.CountsByDepth {
						n += d.Count
					}
					assert.Equal(t, total, n, name)
				}
				got[name] = a.rollUps
			}
			for name, r := range got {
				assert.Equal(t, got["summary"], r, name)
			}
			// The people and groups behind owners and support groups are
			// resolved from the impacted CIs' edges: a query asking for them
			// gets the full analysis, and them.
			var contacts struct {
				ImpactAnalysis struct {
					SupportGroups []struct {
						Name  string
						Group *struct{ Name string }
					}
				}
			}
			s.data(t, `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { downCount supportGroups { name group { name } } } }`, vars, &contacts)
			resolved := 0
			for _, g := range contacts.ImpactAnalysis.SupportGroups {
				if g.Group != nil {
					resolved++
				}
			}
			assert.Positive(t, resolved, "support groups resolved to groups: %+v", contacts.ImpactAnalysis.SupportGroups)
		})
	}
}

// TestDemoImpactHeadroom checks on the demo estate that losing one of the
// four DNS resolvers (one needed) reduces redundancy without putting
// anything at risk, that the effects filter lists what matters, and that
// resolvers not in service count as unavailable unless ignoreStatus.
func TestDemoImpactHeadroom(t *testing.T) {
	const q = `query($ids: [ID!]!, $ignore: Boolean, $effects: [ImpactOutcome!]) {
  impactAnalysis(ciIds: $ids, ignoreStatus: $ignore, effects: $effects) {
    downCount atRiskCount redundancyReducedCount degradedCount
    notOperationalStarts { name }
    businessServices { ci { name } effect headroom { group { name } membersUp membersNeeded } }
    impacted { ci { name } effect headroom { group { name } membersUp membersNeeded } } } }`
	type answer struct {
		ImpactAnalysis struct {
			DownCount, AtRiskCount, RedundancyReducedCount, DegradedCount int
			NotOperationalStarts                                          []demoCIRef
			BusinessServices, Impacted                                    []demoImpacted
		}
	}
	effects := func(list []demoImpacted) map[string]string {
		out := map[string]string{}
		for _, im := range list {
			out[im.CI.Name] = im.Effect + " " + im.headroom()
		}
		return out
	}
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			start := []string{s.id(t, "dns@dns-fra1-01")}

			var one answer
			s.data(t, q, map[string]any{"ids": start}, &one)
			a := one.ImpactAnalysis
			assert.Equal(t, "REDUNDANCY_REDUCED dns-resolvers 3/1", effects(a.Impacted)["dns-resolvers"])
			assert.GreaterOrEqual(t, len(a.BusinessServices), 9, "nearly every business service needs DNS")
			for _, bs := range a.BusinessServices {
				assert.Equal(t, "REDUNDANCY_REDUCED", bs.Effect, bs.CI.Name)
			}
			assert.Zero(t, a.DownCount)
			assert.Zero(t, a.AtRiskCount)
			assert.Positive(t, a.RedundancyReducedCount)

			// The group is the whole CI, not the summary the analysis
			// kept: a field outside the summary is the stored one.
			var whole struct {
				ImpactAnalysis struct {
					Impacted []struct {
						Headroom *struct {
							Group struct {
								Name      string
								CreatedAt time.Time
							}
						}
					}
				}
			}
			s.data(t, `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { impacted { headroom { group { name createdAt } } } } }`, map[string]any{"ids": start}, &whole)
			groups := 0
			for _, im := range whole.ImpactAnalysis.Impacted {
				if h := im.Headroom; h != nil {
					groups++
					assert.Less(t, time.Since(h.Group.CreatedAt), time.Hour, "%s: createdAt is the stored one", h.Group.Name)
				}
			}
			assert.Positive(t, groups)

			var filtered answer
			s.data(t, q, map[string]any{"ids": start, "effects": []string{"DOWN", "AT_RISK"}}, &filtered)
			assert.Empty(t, filtered.ImpactAnalysis.BusinessServices, "nothing that matters to a CAB")
			assert.Empty(t, filtered.ImpactAnalysis.Impacted)
			assert.Equal(t, a.RedundancyReducedCount, filtered.ImpactAnalysis.RedundancyReducedCount, "counts cover everything")

			// Two of the other three resolvers are not in service.
			for name, status := range map[string]string{"dns@dns-fra1-02": "maintenance", "dns@dns-dub1-01": "retired"} {
				var d map[string]any
				s.data(t, `mutation($in: UpdateCIInput!) { updateCI(input: $in) { ci { status } } }`,
					map[string]any{"in": map[string]any{"id": s.id(t, name), "attributes": map[string]any{"status": status}}}, &d)
			}
			var risky answer
			s.data(t, q, map[string]any{"ids": start}, &risky)
			a = risky.ImpactAnalysis
			assert.Equal(t, "AT_RISK dns-resolvers 1/1", effects(a.Impacted)["dns-resolvers"], "one resolver left")
			assert.GreaterOrEqual(t, len(a.BusinessServices), 9)
			for _, bs := range a.BusinessServices {
				assert.Equal(t, "AT_RISK", bs.Effect, bs.CI.Name)
			}
			assert.Empty(t, a.NotOperationalStarts)

			var ignoring answer
			s.data(t, q, map[string]any{"ids": start, "ignore": true}, &ignoring)
			assert.Equal(t, "REDUNDANCY_REDUCED dns-resolvers 3/1", effects(ignoring.ImpactAnalysis.Impacted)["dns-resolvers"])

			// A start that is not in service is flagged.
			var flagged answer
			s.data(t, q, map[string]any{"ids": []string{s.id(t, "dns@dns-fra1-02")}}, &flagged)
			require.Len(t, flagged.ImpactAnalysis.NotOperationalStarts, 1)
			assert.Equal(t, "dns@dns-fra1-02", flagged.ImpactAnalysis.NotOperationalStarts[0].Name)
		})
	}
}

// TestListedCIsAsSelected: the CIs of a traversal's lists (dependents'
// nodes and pages, an impact analysis's impacted CIs, their page and its
// business services) come whole when the query asks for a field their
// summary does not hold (attributes), as ci(id:) answers them, and
// with the same names when it asks only for summary fields; a list that
// selects no CI is as long. On both backends.
func TestListedCIsAsSelected(t *testing.T) {
	lists := []struct {
		name, query string
		items       []any // the path to the list's items in the answer
	}{
		{"dependents", `query($id: ID!) { ci(id: $id) { dependents(depth: 8) { nodes { depth %s } } } }`, []any{"ci", "dependents", "nodes"}},
		{"dependents page", `query($id: ID!) { ci(id: $id) { dependents(depth: 8) { nodesPage(first: 8) { edges { node { depth %s } } } } } }`, []any{"ci", "dependents", "nodesPage", "edges"}},
		{"impacted", `query($id: ID!) { impactAnalysis(ciIds: [$id]) { impacted { depth %s } } }`, []any{"impactAnalysis", "impacted"}},
		{"impacted page", `query($id: ID!) { impactAnalysis(ciIds: [$id]) { impactedPage(first: 8) { edges { node { depth %s } } } } }`, []any{"impactAnalysis", "impactedPage", "edges"}},
		{"business services", `query($id: ID!) { impactAnalysis(ciIds: [$id]) { businessServices { depth %s } } }`, []any{"impactAnalysis", "businessServices"}},
	}
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			vars := map[string]any{"id": s.id(t, "esx-fra1-03")}
			items := func(query string, path []any) []map[string]any {
				var d map[string]any
				s.data(t, query, vars, &d)
				var out []map[string]any
				for _, it := range get(d, path...).([]any) {
					m := it.(map[string]any)
					if n, ok := m["node"]; ok {
						m = n.(map[string]any)
					}
					out = append(out, m)
				}
				return out
			}
			beyondSummary := 0
			for _, l := range lists {
				bare := items(fmt.Sprintf(l.query, ""), l.items)
				names := items(fmt.Sprintf(l.query, "ci { id name }"), l.items)
				whole := items(fmt.Sprintf(l.query, "ci { id name attributes }"), l.items)
				require.NotEmpty(t, bare, l.name)
				require.Len(t, names, len(bare), l.name)
				require.Len(t, whole, len(bare), l.name)
				for i := range whole {
					ci, named := whole[i]["ci"].(map[string]any), names[i]["ci"].(map[string]any)
					assert.Equal(t, named["name"], ci["name"], "%s %d", l.name, i)
					var one map[string]any
					s.data(t, `query($id: ID!) { ci(id: $id) { attributes } }`, map[string]any{"id": ci["id"]}, &one)
					want := get(one, "ci", "attributes").(map[string]any)
					assert.Equal(t, want, ci["attributes"], "%s %d: %s", l.name, i, ci["name"])
					for k := range want {
						if k != "name" && k != "status" && k != "environment" && k != "owner" && k != "support_group" && k != "criticality" {
							beyondSummary++
							break
						}
					}
				}
			}
			assert.Positive(t, beyondSummary, "some listed CI has an attribute its summary does not hold")
		})
	}
}
