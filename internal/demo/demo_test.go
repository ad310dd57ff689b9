package demo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/demo"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
)

var actor = store.Actor{Name: "demo-test", Source: "demo"}

func newService(t *testing.T) *cmdb.Service {
	t.Helper()
	ctx := context.Background()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	model, err := cmdb.DefaultModel()
	require.NoError(t, err)
	svc, err := cmdb.NewService(ctx, st, model)
	require.NoError(t, err)
	return svc
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
	assert.Equal(t, demo.Summary{
		CIs: len(e.CIs), Relationships: len(e.Relationships),
		Created: len(e.CIs), RelationshipsCreated: len(e.Relationships),
	}, first)

	page, err := svc.ListCIs(ctx, cmdb.Filter{}, store.PageRequest{First: 1})
	require.NoError(t, err)
	assert.Equal(t, len(e.CIs), page.Total, "every CI of the estate is one CI in the store")

	second, err := demo.Seed(ctx, svc, actor)
	require.NoError(t, err)
	assert.Equal(t, demo.Summary{
		CIs: len(e.CIs), Relationships: len(e.Relationships),
		Unchanged: len(e.CIs), RelationshipsUnchanged: len(e.Relationships),
	}, second)
	assert.Equal(t, fmt.Sprintf("%d CIs (%d unchanged), %d relationships (%d unchanged)", len(e.CIs), len(e.CIs), len(e.Relationships), len(e.Relationships)),
		second.String())
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

func TestSummaryString(t *testing.T) {
	assert.Equal(t, "3 CIs (2 created, 1 unchanged), 4 relationships (4 updated)",
		demo.Summary{CIs: 3, Created: 2, Unchanged: 1, Relationships: 4, RelationshipsUpdated: 4}.String())
	assert.Equal(t, "0 CIs, 0 relationships", demo.Summary{}.String())
}
