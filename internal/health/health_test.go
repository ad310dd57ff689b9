package health

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

// backends returns an empty store of each backend, as subtests: embedded,
// and the test Neo4j emptied (skipped without NEO4J_URI, failed in CI).
func backends() map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"embedded": func(t *testing.T) store.Store {
			st, err := embedded.Open(t.Context(), t.TempDir(), embedded.Options{})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return st
		},
		"neo4j": func(t *testing.T) store.Store {
			env := neo4jtest.Require(t)
			st, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URI: env.URI, User: env.User, Password: env.Password, Database: env.Database})
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			require.NoError(t, st.Reset(t.Context()))
			return st
		},
	}
}

var actor = store.Actor{Name: "health-test", Source: "test"}

// complete are the attributes every CI of the default model should have.
func complete(attrs map[string]any) map[string]any {
	out := map[string]any{"environment": "production", "owner": "ops", "support_group": "Unix"}
	for k, v := range attrs {
		out[k] = v
	}
	return out
}

// planted is the estate the tests measure: one CI per figure, and a clean
// one that no figure lists.
type planted struct {
	stale, clean, web01a, web01b, web02, orphan, instance, retired, conflictA, conflictB store.ID
	// freshFrom is the LastSeenAt of the first CI written after the stale
	// one: a clock StaleAfter past it makes the stale CI, and only it,
	// stale.
	freshFrom time.Time
}

func plant(t *testing.T, svc *cmdb.Service) planted {
	t.Helper()
	ctx := t.Context()
	upsert := func(class string, attrs map[string]any) store.Node {
		t.Helper()
		res, err := svc.Upsert(ctx, actor, []cmdb.UpsertItem{{Class: class, Attributes: attrs}}, true)
		require.NoError(t, err)
		require.Equal(t, store.StatusCreated, res[0].Status, "%v", res[0].Err)
		return res[0].Node
	}
	var p planted
	srv := func(name, ip string, more map[string]any) map[string]any {
		a := complete(map[string]any{"name": name, "dns_domain": "example.com", "ip_address": ip, "os_name": "Debian"})
		for k, v := range more {
			a[k] = v
		}
		return a
	}
	p.stale = upsert("Server", srv("old-01", "10.0.9.1", nil)).ID
	time.Sleep(20 * time.Millisecond) // the stale CI is the only one seen before freshFrom
	clean := upsert("Server", srv("db-01", "10.0.0.9", nil))
	p.clean, p.freshFrom = clean.ID, clean.LastSeenAt
	// A duplicate: two names for one machine, one address.
	p.web01a = upsert("Server", srv("web-01", "10.0.0.1", map[string]any{"os_name": nil})).ID
	p.web01b = upsert("Server", srv("web01", "10.0.0.1", nil)).ID
	// A series, not a duplicate, even with the same address.
	p.web02 = upsert("Server", srv("web-02", "10.0.0.1", nil)).ID
	// An orphan, and an instance that runs on a server.
	p.orphan = upsert("ApplicationInstance", complete(map[string]any{"name": "orphan-app", "host": "nowhere.example.com", "application": "shop"})).ID
	p.instance = upsert("ApplicationInstance", complete(map[string]any{"name": "shop-1", "host": "db-01.example.com", "application": "shop"})).ID
	items := []cmdb.RelationshipItem{{Type: "RUNS_ON", Source: p.instance, Target: p.clean}}
	for _, id := range []store.ID{p.stale, p.web01a, p.web01b, p.web02} {
		items = append(items, cmdb.RelationshipItem{Type: "RUNS_ON", Source: p.instance, Target: id})
	}
	_, err := svc.CreateRelationships(ctx, actor, items, true)
	require.NoError(t, err)
	// A retired CI counts nowhere, though it is incomplete and alone.
	p.retired = upsert("ApplicationInstance", map[string]any{"name": "gone", "host": "gone.example.com"}).ID
	_, err = svc.RetireCIs(ctx, actor, []store.ID{p.retired})
	require.NoError(t, err)
	// An identity conflict: a report whose serial is one CI's and whose
	// name and domain are another's.
	p.conflictA = upsert("Server", srv("ha-1", "10.0.1.1", map[string]any{"serial_number": "SN-HA-1"})).ID
	p.conflictB = upsert("Server", srv("ha-2", "10.0.1.2", nil)).ID
	res, err := svc.Upsert(ctx, actor, []cmdb.UpsertItem{{Class: "Server", Attributes: map[string]any{"name": "ha-2", "dns_domain": "example.com", "serial_number": "SN-HA-1"}}}, false)
	require.NoError(t, err)
	require.Equal(t, store.StatusConflict, res[0].Status)
	return p
}

func ids(l List) []store.ID {
	out := []store.ID{}
	for _, o := range l.Items {
		out = append(out, o.ID)
	}
	return out
}

func classOf(t *testing.T, r Report, class string) ClassReport {
	t.Helper()
	for _, c := range r.Classes {
		if c.Class == class {
			return c
		}
	}
	t.Fatalf("no class %s in the report", class)
	return ClassReport{}
}

// TestReport plants a duplicate, an orphan, an incomplete CI, a stale one
// and an identity conflict on each backend, and finds each listed and a
// clean CI listed nowhere.
func TestReport(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			model, err := cmdb.DefaultModel()
			require.NoError(t, err)
			svc, err := cmdb.NewService(t.Context(), st, model)
			require.NoError(t, err)
			p := plant(t, svc)
			var now atomic.Int64
			now.Store(p.freshFrom.Add(time.Hour - time.Millisecond).UnixNano())
			c := New(svc, st, Options{Stale: cmdb.StalePolicy{After: time.Hour}, Now: func() time.Time { return time.Unix(0, now.Load()) }})

			r, err := c.Report(t.Context(), "", 0)
			require.NoError(t, err)
			servers := classOf(t, r, "Server")
			instances := classOf(t, r, "ApplicationInstance")

			assert.Equal(t, 7, servers.CIs)
			assert.Equal(t, 2, instances.CIs, "the retired instance counts nowhere")
			assert.True(t, servers.ExpectsRelationships)
			assert.Equal(t, []string{"environment", "ip_address", "os_name", "owner", "support_group"}, servers.Recommended)

			// Incomplete: web-01 lacks its OS; the clean CI lacks nothing.
			require.Equal(t, 1, servers.Incomplete.Total)
			assert.Equal(t, p.web01a, servers.Incomplete.Items[0].ID)
			assert.Equal(t, []string{"os_name"}, servers.Incomplete.Items[0].Missing)
			assert.InDelta(t, 6.0/7.0, servers.Completeness(), 1e-9)

			// Orphans: the lone instance and the conflict's servers (nothing
			// runs on them); never a CI with a relationship.
			assert.Equal(t, []store.ID{p.orphan}, ids(instances.Orphans))
			assert.ElementsMatch(t, []store.ID{p.conflictA, p.conflictB}, ids(servers.Orphans))

			// Stale: the CI last seen before the threshold, only.
			assert.Equal(t, []store.ID{p.stale}, ids(servers.Stale))
			assert.Equal(t, 1, r.Stale)

			// Duplicates: web-01 and web01 (one address); web-02 is a series.
			require.Equal(t, 1, r.Duplicates.Total, "%+v", r.Duplicates.Items)
			d := r.Duplicates.Items[0]
			assert.ElementsMatch(t, []store.ID{p.web01a, p.web01b}, []store.ID{d.CIs[0].ID, d.CIs[1].ID})
			assert.Equal(t, []string{"ip_address"}, d.Shared)
			assert.Equal(t, 0, d.Distance, "web-01 and web01 normalise alike")
			assert.False(t, r.Duplicates.Capped)

			// The identity conflict, with its CIs named.
			require.Equal(t, 1, r.Conflicts.Total)
			assert.ElementsMatch(t, []store.ID{p.conflictA, p.conflictB}, []store.ID{r.Conflicts.Items[0].CIs[0].ID, r.Conflicts.Items[0].CIs[1].ID})
			assert.NotEmpty(t, r.Conflicts.Items[0].CIs[0].Name)

			// The clean CI is listed nowhere.
			for _, cr := range r.Classes {
				for _, l := range []List{cr.Incomplete, cr.Orphans, cr.Stale} {
					assert.NotContains(t, ids(l), p.clean)
					assert.NotContains(t, ids(l), p.retired)
				}
			}

			// Totals sum the classes.
			assert.Equal(t, 9, r.CIs)
			assert.Equal(t, 3, r.Orphans)
			assert.Equal(t, r.CIs-r.Incomplete, r.Complete)

			// One class: only its CIs and the conflicts about them.
			one, err := c.Report(t.Context(), "ApplicationInstance", 0)
			require.NoError(t, err)
			require.Len(t, one.Classes, 1)
			assert.Equal(t, 0, one.Duplicates.Total)
			assert.Equal(t, 0, one.Conflicts.Total)

			// A short list says so.
			short, err := c.Report(t.Context(), "", 1)
			require.NoError(t, err)
			o := classOf(t, short, "Server").Orphans
			assert.Equal(t, 2, o.Total)
			assert.Len(t, o.Items, 1)
			assert.True(t, o.Truncated())

			// Later, everything is stale.
			now.Store(p.freshFrom.Add(2 * time.Hour).UnixNano())
			later, err := c.Report(t.Context(), "", 0)
			require.NoError(t, err)
			assert.Equal(t, later.CIs, later.Stale)

			_, err = c.Report(t.Context(), "Person", 0)
			var ie *store.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, "class", ie.Field)
		})
	}
}

func TestNormaliseName(t *testing.T) {
	tests := []struct{ name, norm, numbers string }{
		{"web-01", "web01", "1"},
		{"Web01", "web01", "1"},
		{"web-1", "web1", "1"},
		{"db 10 eu-2", "db10eu2", "10.2"},
		{"srv-000", "srv000", "0"},
		{"---", "", ""},
		{"Ünïcode-Box", "ünïcodebox", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			norm, nums := normaliseName(tt.name)
			assert.Equal(t, tt.norm, norm)
			assert.Equal(t, tt.numbers, nums)
		})
	}
}

func TestSuspect(t *testing.T) {
	cand := func(id, name string, values map[string]string) candidate {
		norm, nums := normaliseName(name)
		return candidate{o: Offender{ID: store.ID(id), Name: name}, norm: norm, numbers: nums, values: values}
	}
	ip := map[string]string{"ip_address": "10.0.0.1"}
	tests := []struct {
		name string
		a, b candidate
		want bool
	}{
		{"same normalised name, shared address", cand("1", "web-01", ip), cand("2", "web01", ip), true},
		{"one typo, shared address", cand("1", "mailhost", ip), cand("2", "mailhots", ip), false},
		{"one letter off, shared address", cand("1", "mailhost", ip), cand("2", "mailhist", ip), true},
		{"a series", cand("1", "web-01", ip), cand("2", "web-02", ip), false},
		{"nothing shared", cand("1", "web-01", ip), cand("2", "web01", map[string]string{"ip_address": "10.0.0.2"}), false},
		{"names too far apart", cand("1", "web-01", ip), cand("2", "wobble-01", ip), false},
		{"long names allow two edits", cand("1", "payments-gateway", ip), cand("2", "payment-gatway", ip), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := suspect(tt.a, tt.b)
			assert.Equal(t, tt.want, ok)
			if ok {
				assert.Equal(t, store.ID("1"), p.CIs[0].ID, "lower ID first")
			}
		})
	}
}

// TestDuplicateBudget checks that a scan cut short by its budget says so.
func TestDuplicateBudget(t *testing.T) {
	m, err := cmdb.DefaultModel()
	require.NoError(t, err)
	srv, _ := m.Class("Server")
	d := newDuplicateScan(m, 3)
	for i, name := range []string{"web-01", "web01", "web-1", "web_01", "WEB01"} {
		id := store.ID(string(rune('a' + i)))
		d.add(srv, store.Node{ID: id, Class: "Server", Attributes: store.Attributes{"name": name, "ip_address": "10.0.0.1"}}, Offender{ID: id, Name: name, Class: "Server"})
	}
	p := d.pairs(100)
	assert.True(t, p.Capped)
	assert.Equal(t, 3, p.Total, "three comparisons, each a pair")
	full := newDuplicateScan(m, 0)
	full.budget = DefaultMaxComparisons
	for i, name := range []string{"web-01", "web01", "web-1", "web_01", "WEB01"} {
		id := store.ID(string(rune('a' + i)))
		full.add(srv, store.Node{ID: id, Class: "Server", Attributes: store.Attributes{"name": name, "ip_address": "10.0.0.1"}}, Offender{ID: id, Name: name, Class: "Server"})
	}
	all := full.pairs(2)
	assert.False(t, all.Capped)
	assert.Equal(t, 10, all.Total, "every pair of five")
	assert.Len(t, all.Items, 2)
	assert.True(t, all.Truncated())
}

// TestDuplicateEvidence: what counts as a shared value is compared as
// identity keys compare it: one MAC in two spellings is shared; a
// placeholder serial is no evidence; a host name, shared by every CI on
// the host, is none either.
func TestDuplicateEvidence(t *testing.T) {
	m, err := cmdb.DefaultModel()
	require.NoError(t, err)
	tests := []struct {
		name, class string
		a, b        store.Attributes
		pairs       int
	}{
		{"one MAC, two spellings", "Server",
			store.Attributes{"name": "lab-a", "mac_address": "AA:BB:CC:00:11:22"}, store.Attributes{"name": "lab-b", "mac_address": "aa-bb-cc-00-11-22"}, 1},
		{"placeholder serials", "Server",
			store.Attributes{"name": "lab-a", "serial_number": "To be filled by O.E.M."}, store.Attributes{"name": "lab-b", "serial_number": "To be filled by O.E.M."}, 0},
		{"two instances on one host", "ApplicationInstance",
			store.Attributes{"name": "api-a", "host": "web1.example.com"}, store.Attributes{"name": "api-b", "host": "web1.example.com"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cls, ok := m.Class(tt.class)
			require.True(t, ok)
			d := newDuplicateScan(m, DefaultMaxComparisons)
			for i, a := range []store.Attributes{tt.a, tt.b} {
				id := store.ID(string(rune('a' + i)))
				d.add(cls, store.Node{ID: id, Class: tt.class, Attributes: a}, Offender{ID: id, Name: a["name"].(string), Class: tt.class})
			}
			assert.Equal(t, tt.pairs, d.pairs(10).Total)
		})
	}
}
