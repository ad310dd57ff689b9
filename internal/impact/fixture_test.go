package impact_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

// fixture is the test estate loaded into one backend: several small,
// disconnected scenarios whose CIs have unique names.
type fixture struct {
	st    store.Store
	svc   *cmdb.Service
	ids   map[string]store.ID
	names map[store.ID]string
}

// id returns the ID of the CI named name.
func (f *fixture) id(t testing.TB, name string) store.ID {
	t.Helper()
	id, ok := f.ids[name]
	require.True(t, ok, "no CI named %s in the fixture", name)
	return id
}

func (f *fixture) idsOf(t testing.TB, names ...string) []store.ID {
	t.Helper()
	out := make([]store.ID, len(names))
	for i, n := range names {
		out[i] = f.id(t, n)
	}
	return out
}

var actor = store.Actor{Name: "impact-test", Source: "api"}

// fixtureCIs are the CIs of the estate: name, class, extra attributes.
var fixtureCIs = []struct {
	name, class string
	attrs       map[string]any
}{
	// A hypervisor and what runs on it, up to business services.
	{"hv1", "Hypervisor", map[string]any{"owner": "infra-team", "support_group": "sg-compute"}},
	{"vm1", "VirtualMachine", map[string]any{"owner": "infra-team", "support_group": "sg-compute"}},
	{"vm2", "VirtualMachine", map[string]any{"owner": "infra-team", "support_group": "sg-compute"}},
	{"shop-1", "ApplicationInstance", map[string]any{"owner": "shop-team", "support_group": "sg-apps"}},
	{"shop", "Application", map[string]any{"owner": "shop-team", "support_group": "sg-apps"}},
	{"bs-shop", "BusinessService", map[string]any{"criticality": 1, "owner": "biz-team"}},
	{"bs-report", "BusinessService", map[string]any{"criticality": 3}},
	{"bs-archive", "BusinessService", map[string]any{"criticality": 2}},
	// A cluster of three that needs two up, a member that fails late.
	{"c3", "Cluster", map[string]any{"min_members_up": 2}},
	{"n1", "LinuxServer", nil},
	{"n2", "LinuxServer", nil},
	{"n3", "LinuxServer", nil},
	{"c3-app", "ApplicationInstance", nil},
	{"x1", "Application", nil},
	{"x2", "Application", nil},
	// A cluster without min_members_up.
	{"cu", "Cluster", nil},
	{"m1", "LinuxServer", nil},
	{"m2", "LinuxServer", nil},
	{"cu-app", "ApplicationInstance", nil},
	// A cluster of seven that needs two up, three of them not operational.
	{"c7", "Cluster", map[string]any{"min_members_up": 2}},
	{"q1", "LinuxServer", map[string]any{"status": "maintenance"}},
	{"q2", "LinuxServer", map[string]any{"status": "planned"}},
	{"q3", "LinuxServer", map[string]any{"status": "retired"}},
	{"q4", "LinuxServer", nil},
	{"q5", "LinuxServer", map[string]any{"status": "live"}},
	{"q6", "LinuxServer", nil},
	{"q7", "LinuxServer", nil},
	{"c7-app", "ApplicationInstance", nil},
	{"c7-svc", "Application", nil},
	// A cluster of two that needs both: one of them relies on c7.
	{"c2", "Cluster", map[string]any{"min_members_up": 2}},
	{"r1", "LinuxServer", nil},
	{"r2", "LinuxServer", nil},
	// A cluster that needs no member up.
	{"c0", "Cluster", map[string]any{"min_members_up": 0}},
	{"z1", "LinuxServer", nil},
	// Backups.
	{"arr", "StorageArray", nil},
	{"db-vm", "VirtualMachine", nil},
	{"dbi", "DatabaseInstance", nil},
	// Degraded by a short path, down by a longer one.
	{"s0", "Application", nil},
	{"p1", "Application", nil},
	{"p2", "Application", nil},
	{"t0", "Application", nil},
	{"u0", "Application", nil},
	// A cycle.
	{"cy1", "Application", nil},
	{"cy2", "Application", nil},
	{"cy3", "Application", nil},
	// Both directions: CONTAINS travels source to target.
	{"dcx", "Datacenter", nil},
	{"swx", "Switch", nil},
	{"srvx", "LinuxServer", nil},
	// Types and classes registered at run time.
	{"pdu1", "PowerUnit", nil},
	{"srv-p", "LinuxServer", nil},
	{"doc1", "Application", nil},
}

// fixtureRels are "source TYPE target" triples.
var fixtureRels = [][3]string{
	{"vm1", "RUNS_ON", "hv1"},
	{"vm2", "RUNS_ON", "hv1"},
	{"shop-1", "RUNS_ON", "vm1"},
	{"shop", "PROVIDED_BY", "shop-1"},
	{"bs-shop", "PROVIDED_BY", "shop"},
	{"bs-report", "PROVIDED_BY", "vm2"},
	{"bs-archive", "BACKED_UP_BY", "vm1"},

	{"n1", "MEMBER_OF", "c3"},
	{"n2", "MEMBER_OF", "c3"},
	{"n3", "MEMBER_OF", "c3"},
	{"c3-app", "RUNS_ON", "c3"},
	{"x2", "DEPENDS_ON", "x1"},
	{"n2", "DEPENDS_ON", "x2"},

	{"m1", "MEMBER_OF", "cu"},
	{"m2", "MEMBER_OF", "cu"},
	{"cu-app", "RUNS_ON", "cu"},

	{"q1", "MEMBER_OF", "c7"},
	{"q2", "MEMBER_OF", "c7"},
	{"q3", "MEMBER_OF", "c7"},
	{"q4", "MEMBER_OF", "c7"},
	{"q5", "MEMBER_OF", "c7"},
	{"q6", "MEMBER_OF", "c7"},
	{"q7", "MEMBER_OF", "c7"},
	{"c7-app", "RUNS_ON", "c7"},
	{"c7-svc", "DEPENDS_ON", "c7-app"},
	{"r1", "MEMBER_OF", "c2"},
	{"r2", "MEMBER_OF", "c2"},
	{"r1", "DEPENDS_ON", "c7-svc"},

	{"z1", "MEMBER_OF", "c0"},

	{"db-vm", "BACKED_UP_BY", "arr"},
	{"dbi", "RUNS_ON", "db-vm"},

	{"t0", "BACKED_UP_BY", "s0"},
	{"p1", "DEPENDS_ON", "s0"},
	{"p2", "DEPENDS_ON", "p1"},
	{"t0", "DEPENDS_ON", "p2"},
	{"u0", "DEPENDS_ON", "t0"},

	{"cy1", "DEPENDS_ON", "cy2"},
	{"cy2", "DEPENDS_ON", "cy3"},
	{"cy3", "DEPENDS_ON", "cy1"},

	{"dcx", "CONTAINS", "swx"},
	{"srvx", "CONNECTS_TO", "swx"},

	{"srv-p", "POWERED_BY", "pdu1"},
	{"srv-p", "DOCUMENTED_BY", "doc1"},
}

// identity gives each class the attributes its identification rules need.
func identity(class, name string) map[string]any {
	switch class {
	case "Hypervisor", "VirtualMachine", "LinuxServer", "Switch":
		return map[string]any{"dns_domain": "test.example"}
	case "ApplicationInstance", "DatabaseInstance":
		return map[string]any{"host": name + ".test.example"}
	}
	return nil
}

// build loads the fixture into st, registering the run-time extensions.
func build(ctx context.Context, st store.Store) (*fixture, error) {
	base, err := cmdb.DefaultModel()
	if err != nil {
		return nil, err
	}
	svc, err := cmdb.NewService(ctx, st, base)
	if err != nil {
		return nil, err
	}
	if _, err := svc.RegisterClass(ctx, actor, cmdb.ClassDef{Name: "PowerUnit", Parent: "CI", Identification: [][]string{{"name"}}}); err != nil {
		return nil, err
	}
	for _, rt := range []cmdb.RelTypeDef{
		{Name: "POWERED_BY", Impact: cmdb.Impact{Propagates: cmdb.TargetToSource, Effect: cmdb.EffectDown}},
		{Name: "DOCUMENTED_BY", Impact: cmdb.Impact{Propagates: cmdb.PropagatesNone}},
	} {
		if _, err := svc.RegisterRelationshipType(ctx, actor, rt); err != nil {
			return nil, err
		}
	}
	items := make([]cmdb.UpsertItem, len(fixtureCIs))
	for i, c := range fixtureCIs {
		attrs := map[string]any{"name": c.name}
		for k, v := range identity(c.class, c.name) {
			attrs[k] = v
		}
		for k, v := range c.attrs {
			attrs[k] = v
		}
		items[i] = cmdb.UpsertItem{Class: c.class, Attributes: attrs}
	}
	res, err := svc.Upsert(ctx, actor, items, true)
	if err != nil {
		return nil, err
	}
	f := &fixture{st: st, svc: svc, ids: map[string]store.ID{}, names: map[store.ID]string{}}
	for i, r := range res {
		if r.Status != store.StatusCreated {
			return nil, fmt.Errorf("CI %s: %s %v", fixtureCIs[i].name, r.Status, r.Err)
		}
		f.ids[fixtureCIs[i].name] = r.Node.ID
		f.names[r.Node.ID] = fixtureCIs[i].name
	}
	rels := make([]cmdb.RelationshipItem, len(fixtureRels))
	for i, tr := range fixtureRels {
		rels[i] = cmdb.RelationshipItem{Source: f.ids[tr[0]], Type: tr[1], Target: f.ids[tr[2]]}
	}
	if _, err := svc.CreateRelationships(ctx, actor, rels, true); err != nil {
		return nil, err
	}
	return f, nil
}

// once builds a backend's fixture once per test binary.
type once struct {
	sync.Once
	f   *fixture
	err error
}

var (
	embeddedFixture, neo4jFixture once
	closers                       []func() error
	closersMu                     sync.Mutex
)

func onExit(fn func() error) {
	closersMu.Lock()
	defer closersMu.Unlock()
	closers = append(closers, fn)
}

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(closers) - 1; i >= 0; i-- {
		_ = closers[i]()
	}
	os.Exit(code)
}

// openEmbedded opens an empty embedded store, closed and removed when the
// test binary exits.
func openEmbedded(ctx context.Context) (store.Store, error) {
	dir, err := os.MkdirTemp("", "skein-impact-")
	if err != nil {
		return nil, err
	}
	onExit(func() error { return os.RemoveAll(dir) })
	st, err := embedded.Open(ctx, dir, embedded.Options{Synchronous: "NORMAL"})
	if err != nil {
		return nil, err
	}
	onExit(st.Close)
	return st, nil
}

var (
	neo4jOnce  sync.Once
	neo4jStore *neo4jstore.Store
	neo4jErr   error
)

// openNeo4j opens the test Neo4j (skipping tb without one, failing it in
// CI) and empties it; the store is shared by the test binary.
func openNeo4j(tb testing.TB) (store.Store, error) {
	tb.Helper()
	env := neo4jtest.Require(tb)
	neo4jOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		neo4jStore, neo4jErr = neo4jstore.Open(ctx, neo4jstore.Config{URI: env.URI, User: env.User, Password: env.Password, Database: env.Database, QueryTimeout: time.Minute})
		if neo4jErr == nil {
			onExit(neo4jStore.Close)
		}
	})
	if neo4jErr != nil {
		return nil, neo4jErr
	}
	if err := neo4jStore.Reset(context.Background()); err != nil {
		return nil, err
	}
	return neo4jStore, nil
}

// forEachBackend runs fn on the fixture of each backend, as subtests
// "embedded" and "neo4j" (skipped without NEO4J_URI, failed in CI).
func forEachBackend(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Run("embedded", func(t *testing.T) {
		embeddedFixture.Do(func() {
			st, err := openEmbedded(context.Background())
			if err != nil {
				embeddedFixture.err = err
				return
			}
			embeddedFixture.f, embeddedFixture.err = build(context.Background(), st)
		})
		require.NoError(t, embeddedFixture.err)
		fn(t, embeddedFixture.f)
	})
	t.Run("neo4j", func(t *testing.T) { fn(t, neo4jFixtureOf(t)) })
}

// neo4jFixtureOf returns the Neo4j fixture, built at the first call
// (skipped without NEO4J_URI, failed in CI). Tests may add CIs of their
// own beside it, never reset it.
func neo4jFixtureOf(t *testing.T) *fixture {
	t.Helper()
	neo4jtest.Require(t)
	neo4jFixture.Do(func() {
		st, err := openNeo4j(t)
		if err != nil {
			neo4jFixture.err = err
			return
		}
		neo4jFixture.f, neo4jFixture.err = build(context.Background(), st)
	})
	require.NoError(t, neo4jFixture.err)
	return neo4jFixture.f
}
