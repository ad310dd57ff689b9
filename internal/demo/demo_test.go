package demo_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/demo"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
)

var actor = store.Actor{Name: "demo-test", Source: "demo"}

func newService(t *testing.T) *cmdb.Service {
	svc, _ := newServices(t)
	return svc
}

// newServices returns the CMDB and the service desk (with its default
// configuration) over an empty embedded store.
func newServices(t *testing.T) (*cmdb.Service, *itsm.Service) {
	return newServicesWith(t, itsm.Config{})
}

// newServicesWith is newServices with the service desk configured as cfg
// (its impact analyzer set).
func newServicesWith(t *testing.T, cfg itsm.Config) (*cmdb.Service, *itsm.Service) {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	model, err := cmdb.DefaultModel()
	require.NoError(t, err)
	svc, err := cmdb.NewService(ctx, st, model)
	require.NoError(t, err)
	cfg.Impact = impact.New(st, svc.Model, impact.Options{})
	desk, err := itsm.NewService(svc, st, cfg)
	require.NoError(t, err)
	return svc, desk
}

func TestEstateShape(t *testing.T) {
	e, err := demo.Default()
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(e.CIs), 300, "a few hundred CIs")
	assert.LessOrEqual(t, len(e.CIs), 450, "a few hundred CIs")

	counts := e.CountByClass()
	for class, atLeast := range map[string]int{
		"Datacenter": 2, "Router": 2, "Firewall": 2, "Switch": 4, "Hypervisor": 6, "VirtualMachine": 50,
		"KubernetesCluster": 1, "KubernetesNode": 3, "KubernetesWorkload": 10, "LoadBalancer": 2,
		"DatabaseInstance": 6, "Database": 6, "StorageArray": 1, "Cluster": 4, "BusinessService": 10,
		"Application": 10, "ApplicationInstance": 20,
	} {
		assert.GreaterOrEqual(t, counts[class], atLeast, "CIs of class %s", class)
	}

	classOf := map[string]string{}
	for _, c := range e.CIs {
		classOf[c.Name()] = c.Class
	}
	notable := map[string]string{
		demo.PrimaryDatacenter: "Datacenter", demo.SecondaryDatacenter: "Datacenter",
		demo.HypervisorExample: "Hypervisor", demo.ComputeClusterExample: "Cluster",
		demo.VirtualMachineExample: "VirtualMachine", demo.ApplicationExample: "Application",
		demo.LoadBalancerExample: "LoadBalancer", demo.BusinessServiceExample: "BusinessService",
		demo.KubernetesClusterExample: "KubernetesCluster", demo.KubernetesNodeExample: "KubernetesNode",
		demo.DatabasePrimaryExample: "DatabaseInstance", demo.DatabaseReplicaExample: "DatabaseInstance",
		demo.ReplicaClusterExample: "Cluster", demo.DatabaseExample: "Database",
		demo.FirewallExample: "Firewall", demo.SinglePointOfFailureExample: "ApplicationInstance",
	}
	for _, n := range demo.KubernetesNodes() {
		notable[n] = "KubernetesNode"
	}
	for name, class := range notable {
		assert.Equal(t, class, classOf[name], "notable CI %q", name)
	}

	// The relationships the documentation describes.
	has := map[demo.Relationship]bool{}
	for _, r := range e.Relationships {
		has[r] = true
	}
	for _, r := range []demo.Relationship{
		{Source: demo.HypervisorExample, Type: "MEMBER_OF", Target: demo.ComputeClusterExample},
		{Source: demo.VirtualMachineExample, Type: "RUNS_ON", Target: demo.HypervisorExample},
		{Source: demo.ApplicationExample, Type: "PROVIDED_BY", Target: demo.LoadBalancerExample},
		{Source: demo.DatabaseReplicaExample, Type: "MEMBER_OF", Target: demo.ReplicaClusterExample},
		{Source: demo.DatabaseExample, Type: "HOSTED_ON", Target: demo.DatabasePrimaryExample},
		{Source: demo.KubernetesNodeExample, Type: "MEMBER_OF", Target: demo.KubernetesClusterExample},
		{Source: "support-desk", Type: "PROVIDED_BY", Target: demo.SinglePointOfFailureExample},
	} {
		assert.True(t, has[r], "relationship %v", r)
	}
}

func TestEstateCheck(t *testing.T) {
	tests := []struct {
		name  string
		e     demo.Estate
		wants []string
	}{
		{"no name", demo.Estate{CIs: []demo.CI{{Class: "Application", Attributes: map[string]any{}}}}, []string{"no name"}},
		{"duplicate name", demo.Estate{CIs: []demo.CI{
			{Class: "Application", Attributes: map[string]any{"name": "a"}},
			{Class: "Application", Attributes: map[string]any{"name": "a"}},
		}}, []string{`duplicate name "a"`}},
		{"unknown end", demo.Estate{
			CIs:           []demo.CI{{Class: "Application", Attributes: map[string]any{"name": "a"}}},
			Relationships: []demo.Relationship{{Source: "a", Type: "DEPENDS_ON", Target: "b"}},
		}, []string{`no CI named "b"`}},
		{"duplicate relationship", demo.Estate{
			CIs: []demo.CI{
				{Class: "Application", Attributes: map[string]any{"name": "a"}},
				{Class: "Application", Attributes: map[string]any{"name": "b"}},
			},
			Relationships: []demo.Relationship{{Source: "a", Type: "DEPENDS_ON", Target: "b"}, {Source: "a", Type: "DEPENDS_ON", Target: "b"}},
		}, []string{"duplicate"}},
		{"people and groups", demo.Estate{
			People: []demo.Person{{"user_name": "ann"}, {"user_name": "ANN"}, {"name": "Nobody"}},
			Groups: []demo.Group{
				{Attributes: map[string]any{"name": "CAB"}, Members: []string{"ann", "bob"}},
				{Attributes: map[string]any{"name": "cab"}},
			},
		}, []string{`duplicate user_name "ANN"`, "people[2]: no user_name", `member "bob" is not a person`, `duplicate name "cab"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Check()
			require.Error(t, err)
			for _, w := range tt.wants {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSeedIsIdempotent(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	e, err := demo.Default()
	require.NoError(t, err)

	first, err := demo.Seed(ctx, svc, actor)
	require.NoError(t, err)
	members := 0
	for _, g := range e.Groups {
		members += len(g.Members)
	}
	assert.Equal(t, demo.Summary{
		CIs: len(e.CIs), Relationships: len(e.Relationships),
		Created: len(e.CIs), RelationshipsCreated: len(e.Relationships),
		People: len(e.People), Groups: len(e.Groups), Members: members,
	}, first)

	page, err := svc.ListCIs(ctx, cmdb.Filter{}, store.PageRequest{First: 1})
	require.NoError(t, err)
	assert.Equal(t, len(e.CIs), page.Total, "every CI of the estate is one CI in the store")

	second, err := demo.Seed(ctx, svc, actor)
	require.NoError(t, err)
	assert.Equal(t, demo.Summary{
		CIs: len(e.CIs), Relationships: len(e.Relationships),
		Unchanged: len(e.CIs), RelationshipsUnchanged: len(e.Relationships),
		People: len(e.People), Groups: len(e.Groups),
	}, second, "people and groups merged, no member added twice")
	assert.Equal(t, fmt.Sprintf("%d CIs (%d unchanged), %d relationships (%d unchanged), %d people, %d groups",
		len(e.CIs), len(e.CIs), len(e.Relationships), len(e.Relationships), len(e.People), len(e.Groups)),
		second.String())
	people, err := svc.ListNodes(ctx, cmdb.KindPerson, cmdb.Filter{}, store.PageRequest{First: 1})
	require.NoError(t, err)
	assert.Equal(t, len(e.People), people.Total, "every person of the estate is one person in the store")
}

func TestSeedRefusesWhatTheModelRefuses(t *testing.T) {
	ctx := context.Background()
	svc := newService(t)
	tests := []struct {
		name string
		e    *demo.Estate
		want string
	}{
		{"unknown class", &demo.Estate{CIs: []demo.CI{{Class: "Mainframe", Attributes: map[string]any{"name": "zos-01"}}}}, `CI "zos-01" (Mainframe)`},
		{"wrong target class", &demo.Estate{
			CIs: []demo.CI{
				{Class: "Application", Attributes: map[string]any{"name": "app-x"}},
				{Class: "Application", Attributes: map[string]any{"name": "app-y"}},
			},
			Relationships: []demo.Relationship{{Source: "app-x", Type: "MEMBER_OF", Target: "app-y"}},
		}, "relationship app-x MEMBER_OF app-y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := demo.SeedEstate(ctx, svc, actor, tt.e)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSeedRecords(t *testing.T) {
	ctx := context.Background()
	svc, desk := newServices(t)
	_, err := demo.Seed(ctx, svc, actor)
	require.NoError(t, err)

	recs, err := demo.SeedRecords(ctx, desk, svc, time.Now())
	require.NoError(t, err)
	assert.Equal(t, demo.Records{
		Incidents:    []string{demo.SuspectIncident, demo.StaleCatalogIncident, demo.StaleExtractIncident, demo.OnHoldIncident},
		Problems:     []string{demo.KnownError},
		Changes:      []string{demo.CulpritChange, demo.PatchChange, demo.UpgradeChange},
		Assets:       9,
		CatalogItems: 3,
		Requests:     []string{demo.WaitingRequest, demo.LaptopRequest, demo.PhoneRequest},
		Articles: []string{"KB0010001", "KB0010002", "KB0010003", "KB0010004", "KB0010005", "KB0010006",
			"KB0010007", "KB0010008", "KB0010009", "KB0010010", "KB0010011", "KB0010012"},
	}, recs)
	assert.Equal(t, "4 incidents, 1 problem, 3 changes, 9 assets, 3 catalog items, 3 requests, 12 articles", recs.String())
	levels, err := desk.StockLevels(ctx, false)
	require.NoError(t, err)
	stock := map[string]int{}
	for _, l := range levels {
		stock[l.Model.Attributes["name"].(string)] = l.InStock
		assert.False(t, l.Low(), "the demo's stock is above its thresholds")
	}
	assert.Equal(t, map[string]int{demo.PhoneModel: 3, demo.LaptopModel: 3}, stock, "the assigned laptop and the two allocated to requests are not in stock")

	// The requests in flight: one item awaiting the manager, the others
	// being fulfilled, the hardware allocated from stock.
	states := map[string][]string{}
	for _, number := range recs.Requests {
		req, ok, err := desk.RequestByNumber(ctx, number)
		require.NoError(t, err)
		require.True(t, ok, number)
		items, err := desk.ItemsOf(ctx, req.ID, store.PageRequest{First: 10})
		require.NoError(t, err)
		for _, it := range items.Items {
			tasks, err := desk.TasksOf(ctx, itsm.KindCatalogTask, it.ID, false, store.PageRequest{First: 10})
			require.NoError(t, err)
			st := fmt.Sprintf("%v %v:", req.Attributes["state"], it.Attributes["state"])
			for _, task := range tasks.Items {
				st += fmt.Sprintf(" %v/%v", task.Attributes["state"], task.Attributes["allocated_asset"])
			}
			states[number] = append(states[number], st)
		}
	}
	assert.Equal(t, map[string][]string{
		demo.WaitingRequest: {"in_process waiting_for_approval:", "in_process fulfillment: open/<nil>"},
		demo.LaptopRequest:  {"in_process fulfillment: work_in_progress/LAP-0101"},
		demo.PhoneRequest:   {"in_process fulfillment: open/PHN-0101"},
	}, states)

	inc, ok, err := desk.IncidentByNumber(ctx, demo.SuspectIncident)
	require.NoError(t, err)
	require.True(t, ok)
	suspects, err := desk.SuspectChanges(ctx, inc.ID, itsm.DefaultSuspectHours, 4)
	require.NoError(t, err)
	require.NotEmpty(t, suspects)
	assert.Equal(t, demo.CulpritChange, suspects[0].Change.Attributes["number"])

	// The knowledge base: published, linked, found.
	hits, err := desk.SearchArticles(ctx, itsm.KnowledgeQuery{Text: "replica lag", States: []string{itsm.ArticlePublished}, First: 5})
	require.NoError(t, err)
	require.NotEmpty(t, hits.Hits)
	assert.Equal(t, "Replica lag during the nightly import", hits.Hits[0].CI.Attributes["short_description"])
	prb, ok, err := desk.ProblemByNumber(ctx, demo.KnownError)
	require.NoError(t, err)
	require.True(t, ok)
	docs, err := desk.ArticlesLinkedTo(ctx, prb.ID, itsm.RelDocuments, store.PageRequest{First: 5})
	require.NoError(t, err)
	assert.Len(t, docs.Items, 1, "the known error has its article")

	again, err := demo.SeedRecords(ctx, desk, svc, time.Now())
	require.NoError(t, err)
	assert.Equal(t, demo.Records{Skipped: true}, again, "the story is told once")
	assert.Equal(t, "records already there, none added", again.String())
}

func TestSeedRecordsNeedsTheDemoCAB(t *testing.T) {
	ctx := context.Background()
	svc, desk := newServicesWith(t, itsm.Config{CABGroup: "Change Board"})
	_, err := demo.Seed(ctx, svc, actor)
	require.NoError(t, err)
	_, err = demo.SeedRecords(ctx, desk, svc, time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "approvers_found")
	assert.Contains(t, err.Error(), "is itsm.cab_group another group?")
}

func TestSeedRecordsNeedsTheEstate(t *testing.T) {
	svc, desk := newServices(t)
	_, err := demo.SeedRecords(context.Background(), desk, svc, time.Now())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "seed the estate first")
}

func TestSummaryString(t *testing.T) {
	assert.Equal(t, "3 CIs (2 created, 1 unchanged), 4 relationships (4 updated)",
		demo.Summary{CIs: 3, Created: 2, Unchanged: 1, Relationships: 4, RelationshipsUpdated: 4}.String())
	assert.Equal(t, "0 CIs, 0 relationships", demo.Summary{}.String())
	assert.Equal(t, "1 CIs (1 created), 0 relationships, 2 people, 1 groups", demo.Summary{CIs: 1, Created: 1, People: 2, Groups: 1}.String())
}
