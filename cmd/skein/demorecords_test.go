package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/demo"
)

// TestDemoRecords checks, through the GraphQL API on each backend, the
// story the demo's records tell (demo.SeedRecords): the planted change is
// the first suspect of the payments incident, the upgrade's window
// conflicts with the patches, the known error is listed with its two
// incidents, and the open incidents are open in the states and with the
// people the story gives them.
func TestDemoRecords(t *testing.T) {
	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)

			// Which change broke the payments incident?
			var sus struct {
				Incident struct {
					Number, State   string
					Priority        int
					AssignedTo      struct{ UserName string }
					AssignmentGroup struct{ Name string }
					Caller          struct{ UserName string }
					SuspectChanges  []struct {
						Change     struct{ Number, State string }
						CI         struct{ Name string }
						IncidentCI struct{ Name string }
						Distance   int
						Path       []struct {
							Type     string
							From, To struct{ Name string }
						}
					}
				}
			}
			s.data(t, `query($n: String!) { incident(number: $n) {
				number state priority assignedTo { userName } assignmentGroup { name } caller { userName }
				suspectChanges { change { number state } ci { name } incidentCI { name } distance path { type from { name } to { name } } }
			} }`, map[string]any{"n": demo.SuspectIncident}, &sus)
			inc := sus.Incident
			assert.Equal(t, demo.SuspectIncident, inc.Number)
			assert.Equal(t, "IN_PROGRESS", inc.State)
			assert.Equal(t, 2, inc.Priority)
			assert.Equal(t, demo.PaymentsEngineer, inc.AssignedTo.UserName)
			assert.Equal(t, demo.PaymentsGroup, inc.AssignmentGroup.Name)
			assert.Equal(t, demo.ServiceDeskAnalyst, inc.Caller.UserName)
			require.NotEmpty(t, inc.SuspectChanges, "the planted change is a suspect")
			first := inc.SuspectChanges[0]
			assert.Equal(t, demo.CulpritChange, first.Change.Number, "the planted change comes first")
			assert.Equal(t, "IMPLEMENT", first.Change.State)
			assert.Equal(t, "paydb", first.CI.Name)
			assert.Equal(t, demo.ApplicationExample, first.IncidentCI.Name)
			assert.Equal(t, 1, first.Distance)
			require.Len(t, first.Path, 1)
			assert.Equal(t, "DEPENDS_ON", first.Path[0].Type)
			assert.Equal(t, demo.ApplicationExample, first.Path[0].From.Name)
			assert.Equal(t, "paydb", first.Path[0].To.Name)

			// The CAB approved the planted change.
			var culprit struct {
				Change struct {
					Approval  string
					Approvals []struct{ UserName, State string }
				}
			}
			s.data(t, `query($n: String!) { change(number: $n) { approval approvals { userName state } } }`,
				map[string]any{"n": demo.CulpritChange}, &culprit)
			assert.Equal(t, "APPROVED", culprit.Change.Approval)
			var approvers []string
			for _, a := range culprit.Change.Approvals {
				approvers = append(approvers, a.UserName)
				assert.Equal(t, "APPROVED", a.State, a.UserName)
			}
			assert.Equal(t, []string{demo.ChangeManager, demo.PaymentsEngineer, demo.DatabaseAdministrator}, approvers)

			// The upgrade was scheduled past its conflict with the patches.
			type conflicts struct {
				Change struct {
					Number, Type, State    string
					ConflictOverrideReason *string
					Conflicts              []struct {
						Kind, Number string
						CIs          []struct{ Name string }
					}
				}
			}
			q := `query($n: String!) { change(number: $n) { number type state conflictOverrideReason conflicts { kind number cis { name } } } }`
			var up, patch conflicts
			s.data(t, q, map[string]any{"n": demo.UpgradeChange}, &up)
			assert.Equal(t, "NORMAL", up.Change.Type)
			assert.Equal(t, "SCHEDULED", up.Change.State)
			require.NotNil(t, up.Change.ConflictOverrideReason)
			assert.Contains(t, *up.Change.ConflictOverrideReason, "same outage")
			require.Len(t, up.Change.Conflicts, 1)
			assert.Equal(t, "CHANGE", up.Change.Conflicts[0].Kind)
			assert.Equal(t, demo.PatchChange, up.Change.Conflicts[0].Number)
			require.Len(t, up.Change.Conflicts[0].CIs, 1)
			assert.Equal(t, demo.DatabasePrimaryExample, up.Change.Conflicts[0].CIs[0].Name)
			s.data(t, q, map[string]any{"n": demo.PatchChange}, &patch)
			assert.Equal(t, "STANDARD", patch.Change.Type)
			assert.Equal(t, "SCHEDULED", patch.Change.State)
			assert.Nil(t, patch.Change.ConflictOverrideReason, "scheduled first, without a conflict")
			require.Len(t, patch.Change.Conflicts, 1)
			assert.Equal(t, demo.UpgradeChange, patch.Change.Conflicts[0].Number)

			// The known error, its incidents and their common cause.
			var ke struct {
				KnownErrors struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							Number, State, RootCause, Workaround string
							KnownError                           bool
							Incidents                            struct {
								TotalCount int
								Edges      []struct {
									Node struct{ Number, State string }
								}
							}
							CommonCauses struct {
								Items []struct {
									CI        struct{ Name string }
									Incidents int
								}
							}
						}
					}
				}
			}
			s.data(t, `{ knownErrors { totalCount edges { node { number state knownError rootCause workaround
				incidents { totalCount edges { node { number state } } }
				commonCauses(first: 1) { items { ci { name } incidents } } } } } }`, nil, &ke)
			require.Equal(t, 1, ke.KnownErrors.TotalCount)
			prb := ke.KnownErrors.Edges[0].Node
			assert.Equal(t, demo.KnownError, prb.Number)
			assert.Equal(t, "ROOT_CAUSE_ANALYSIS", prb.State)
			assert.True(t, prb.KnownError)
			assert.Contains(t, prb.RootCause, "inventory-sync")
			assert.Contains(t, prb.Workaround, "pg-shop-01")
			assert.Equal(t, 2, prb.Incidents.TotalCount)
			var linked []string
			for _, e := range prb.Incidents.Edges {
				linked = append(linked, e.Node.Number)
				assert.Equal(t, "NEW", e.Node.State)
			}
			assert.ElementsMatch(t, []string{demo.StaleCatalogIncident, demo.StaleExtractIncident}, linked)
			require.NotEmpty(t, prb.CommonCauses.Items)
			assert.Equal(t, demo.ReplicaClusterExample, prb.CommonCauses.Items[0].CI.Name)
			assert.Equal(t, 2, prb.CommonCauses.Items[0].Incidents)

			// Every incident of the demo is open; one is on hold awaiting
			// the vendor.
			var open struct {
				Incidents struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							Number, State string
							OnHoldReason  *string
							AssignedTo    *struct{ UserName string }
						}
					}
				}
			}
			s.data(t, `{ incidents(where: {attribute: "state", in: ["new", "in_progress", "on_hold"]}) {
				totalCount edges { node { number state onHoldReason assignedTo { userName } } } } }`, nil, &open)
			assert.Equal(t, 4, open.Incidents.TotalCount)
			states := map[string]string{}
			for _, e := range open.Incidents.Edges {
				states[e.Node.Number] = e.Node.State
				if e.Node.Number == demo.OnHoldIncident {
					require.NotNil(t, e.Node.OnHoldReason)
					assert.Equal(t, "AWAITING_VENDOR", *e.Node.OnHoldReason)
					require.NotNil(t, e.Node.AssignedTo)
					assert.Equal(t, demo.NetworkEngineer, e.Node.AssignedTo.UserName)
				}
			}
			assert.Equal(t, map[string]string{
				demo.SuspectIncident: "IN_PROGRESS", demo.StaleCatalogIncident: "NEW", demo.StaleExtractIncident: "NEW", demo.OnHoldIncident: "ON_HOLD",
			}, states)
		})
	}
}
