package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Times of the fixture's estate: the edges of the range a time attribute
// may take (store.MinTime, store.MaxTime), and token expiries.
var (
	releaseMinTime  = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	releaseMaxTime  = time.Date(2261, 12, 31, 23, 59, 59, 999999999, time.UTC)
	releaseExpiry   = time.Date(2035, 12, 31, 23, 59, 59, 0, time.UTC)
	releaseExpiryNs = time.Date(2030, 6, 30, 12, 0, 0, 500000000, time.UTC)
)

// The actor that made the first tokens, as the CLI (skein token create)
// names it.
var releaseCLI = store.Actor{Name: "cli:root", Source: "cli"}

// BuildReleaseFixture writes the previous-release fixture's estate into
// st, an empty store, through this release's services as the API would
// (internal/cmdb for CIs, relationships, the model and merges, internal/auth
// for tokens), and returns what the store then holds with the estate's
// names. Contents are deterministic; IDs and write times are not.
//
// The estate: 18 CIs of 13 classes, with identifying attributes that
// normalisation rewrites (serial numbers, MAC addresses, domain names), an
// integral float, a multi-line Unicode description, tags, and time values
// at both edges of the allowed range; a registered class and relationship
// type; relationships of ten types, some with attributes, one updated and
// one deleted; a CI updated, one with an attribute cleared, one deleted, one
// seen by three sources; five API tokens (admin, two agents bound to sources,
// an engineer's expiring one, a viewer's revoked one); a merged duplicate
// and an open identity conflict; and the audit records of all of it.
func BuildReleaseFixture(t *testing.T, st store.Store, commit string) *ReleaseManifest {
	t.Helper()
	ctx := t.Context()
	svc := newService(t, st)
	names := map[string]string{}
	secrets := map[string]string{}

	// Tokens first, as a new installation makes them; the writes below are
	// made as the tokens' identities.
	issue := func(by store.Actor, name string, role auth.Role, expires time.Time, sources ...string) store.Actor {
		tok, rec, err := auth.IssueBound(ctx, st, by, name, role, expires, sources)
		require.NoError(t, err, "token %s", name)
		secrets[name] = tok
		names["token:"+name] = rec.ID
		id := auth.Identity{TokenID: rec.ID, Name: rec.Name, Role: role, Sources: rec.Sources}
		a := id.Actor()
		if len(sources) > 0 {
			a.Source, err = id.WriteSource("")
			require.NoError(t, err)
		}
		return a
	}
	admin := issue(releaseCLI, "admin bootstrap", auth.Admin, time.Time{})
	vcenter := issue(admin, "vcenter discovery", auth.Agent, time.Time{}, "vcenter", "vcenter-dmz")
	ansible := issue(admin, "ansible", auth.Agent, releaseExpiry, "ansible")
	issue(admin, "ci pipeline ✓", auth.Engineer, releaseExpiryNs)
	issue(admin, "old laptop", auth.Viewer, time.Time{})
	_, err := st.RevokeToken(ctx, admin, names["token:old laptop"])
	require.NoError(t, err)

	// The model extensions.
	_, err = svc.RegisterClass(ctx, admin, cmdb.ClassDef{
		Name: "PostgresCluster", Parent: "Cluster", Description: "A Patroni-managed PostgreSQL cluster",
		Attributes: []cmdb.AttributeDef{
			{Name: "patroni_scope", Type: cmdb.TypeString, MaxLength: 64},
			{Name: "last_failover", Type: cmdb.TypeTime},
			{Name: "synchronous", Type: cmdb.TypeBool},
		},
	})
	require.NoError(t, err)
	_, err = svc.RegisterRelationshipType(ctx, admin, cmdb.RelTypeDef{
		Name: "REPLICATES_TO", Description: "The source database instance streams its changes to the target.",
		Sources: []string{"DatabaseInstance"}, Targets: []string{"DatabaseInstance"},
		Impact:     cmdb.Impact{Propagates: cmdb.PropagatesNone},
		Attributes: []cmdb.AttributeDef{{Name: "mode", Type: cmdb.TypeEnum, Values: []string{"async", "sync"}}},
	})
	require.NoError(t, err)

	upsert := func(actor store.Actor, items ...cmdb.UpsertItem) {
		t.Helper()
		for _, r := range upsertOK(t, svc, actor, items...) {
			names[r.Node.Attributes["name"].(string)] = string(r.Node.ID)
		}
	}
	ci := func(class string, attrs ...any) cmdb.UpsertItem {
		it := app("", attrs...)
		it.Class = class
		delete(it.Attributes, "")
		return it
	}
	upsert(admin,
		ci("BusinessService", "name", "Online payments", "service_level", "gold", "criticality", 1,
			"owner", "payments-team", "tags", []any{"pci", "customer-facing"}),
		ci("Application", "name", "payments-api", "vendor", "Skein Labs", "version", "2.4.1", "url", "https://pay.example.com/api",
			"description", "Handles card payments.\nÉquipe paiements ✓ — 決済"),
		ci("Datacenter", "name", "dc-paris", "tier", 3, "city", "Paris", "country", "FR"),
		ci("PostgresCluster", "name", "pg-main", "patroni_scope", "main", "min_members_up", 1,
			"last_failover", releaseMinTime.Format(time.RFC3339Nano), "synchronous", true),
		ci("PostgresCluster", "name", "pg-archive", "patroni_scope", "archive",
			"last_failover", releaseMaxTime.Format(time.RFC3339Nano), "synchronous", false),
		ci("Application", "name", "legacy-billing", "version", "0.9"),
	)
	upsert(vcenter,
		ci("Hypervisor", "name", "esx-01", "serial_number", "hv-0001 x", "hypervisor_type", "esxi", "cpu_count", 64,
			"dns_domain", "Example.COM."),
		ci("VirtualMachine", "name", "vm-web-01", "vm_uuid", "4237a1b2-c3d4-e5f6-0718-293a4b5c6d7e", "memory_mb", 8192),
		ci("StorageArray", "name", "backup-array", "serial_number", "SA-1", "capacity_tb", 100.0),
	)
	upsert(ansible,
		ci("LinuxServer", "name", "db01", "dns_domain", "Example.COM.", "serial_number", "sn-0042 a",
			"mac_address", "00-1A-2B-3C-4D-5E", "cpu_count", 16, "memory_mb", 65536, "ip_address", "10.0.0.11",
			"kernel_version", "6.1.0", "environment", "production"),
		ci("DatabaseInstance", "name", "pg-main-1", "host", "DB01.example.com.", "port", 5432, "engine", "postgresql", "role", "primary"),
		ci("DatabaseInstance", "name", "pg-main-2", "host", "db02.example.com", "port", 5432, "engine", "postgresql", "role", "replica"),
		ci("ApplicationInstance", "name", "payments-api", "host", "VM-WEB-01.Example.com", "port", 8443, "application", "payments-api"),
		ci("Switch", "name", "sw-core-1", "serial_number", "SW-CORE-1", "mac_address", "0011.2233.4455", "dns_domain", "example.com"),
		ci("KubernetesCluster", "name", "k8s-prod", "cluster_uid", "7f0c3c1e-uid", "version", "1.31"),
	)
	// The ApplicationInstance shares its name with the Application: the
	// names map keeps the last one, so name it apart.
	names["payments-api instance"] = names["payments-api"]
	res, err := svc.Upsert(ctx, admin, []cmdb.UpsertItem{ci("Application", "name", "payments-api")}, false)
	require.NoError(t, err)
	names["payments-api"] = string(res[0].Node.ID)

	// db01 is seen by a second source; an agent's new version updates the
	// application; an engineer's edit sets and clears attributes.
	upsert(vcenter, ci("LinuxServer", "name", "db01", "serial_number", "SN0042A", "memory_mb", 65536))
	upsert(ansible, ci("Application", "name", "payments-api", "version", "2.5.0"))
	_, err = svc.UpdateCI(ctx, admin, store.ID(names["db01"]), map[string]any{"owner": "dba-team", "status": "maintenance", "ip_address": nil})
	require.NoError(t, err)

	// Relationships.
	rel := func(actor store.Actor, label, from, typ, to string, attrs map[string]any) {
		t.Helper()
		out, err := svc.CreateRelationships(ctx, actor, []cmdb.RelationshipItem{{
			Type: typ, Source: store.ID(names[from]), Target: store.ID(names[to]), Attributes: attrs,
		}}, true)
		require.NoError(t, err, label)
		names[label] = string(out[0].Relationship.ID)
	}
	rel(admin, "service provided by app", "Online payments", "PROVIDED_BY", "payments-api", nil)
	rel(admin, "app depends on db", "payments-api", "DEPENDS_ON", "pg-main-1", nil)
	rel(ansible, "instance runs on vm", "payments-api instance", "RUNS_ON", "vm-web-01", nil)
	rel(vcenter, "vm runs on hypervisor", "vm-web-01", "RUNS_ON", "esx-01", nil)
	rel(ansible, "db runs on server", "pg-main-1", "RUNS_ON", "db01", nil)
	rel(ansible, "primary member", "pg-main-1", "MEMBER_OF", "pg-main", nil)
	rel(ansible, "replica member", "pg-main-2", "MEMBER_OF", "pg-main", nil)
	rel(ansible, "replication", "pg-main-1", "REPLICATES_TO", "pg-main-2", map[string]any{"mode": "sync"})
	rel(ansible, "server port", "db01", "CONNECTS_TO", "sw-core-1", map[string]any{"port": "Gi1/0/12"})
	rel(vcenter, "hypervisor port", "esx-01", "CONNECTS_TO", "sw-core-1", map[string]any{"port": "Gi1/0/1"})
	rel(admin, "dc contains switch", "dc-paris", "CONTAINS", "sw-core-1", nil)
	rel(admin, "hypervisor located", "esx-01", "LOCATED_IN", "dc-paris", nil)
	rel(vcenter, "server backed up", "db01", "BACKED_UP_BY", "backup-array", nil)
	rel(admin, "legacy depends on db", "legacy-billing", "DEPENDS_ON", "pg-main-1", nil)
	rel(ansible, "server port", "db01", "CONNECTS_TO", "sw-core-1", map[string]any{"port": "Gi1/0/13"}) // an update
	rel(vcenter, "vm backed up", "vm-web-01", "BACKED_UP_BY", "backup-array", nil)
	_, err = st.DeleteRelationships(ctx, admin, []store.ID{store.ID(names["vm backed up"])})
	require.NoError(t, err)

	// A deleted CI (with its relationship, by cascade).
	_, err = svc.PurgeCIs(ctx, admin, []store.ID{store.ID(names["legacy-billing"])}, true)
	require.NoError(t, err)

	// A duplicate merged: db02 known by name and domain, and by its serial
	// number as an asset, reported with both (a conflict), then merged.
	upsert(ansible, ci("LinuxServer", "name", "db02", "dns_domain", "example.com", "owner", "dba-team"))
	upsert(admin, ci("Server", "name", "db02-asset", "serial_number", "SN-77", "cpu_count", 8))
	rel(admin, "asset backed up", "db02-asset", "BACKED_UP_BY", "backup-array", nil)
	db02 := ci("LinuxServer", "name", "db02", "dns_domain", "example.com", "serial_number", "SN-77", "memory_mb", 32768)
	res, err = svc.Upsert(ctx, ansible, []cmdb.UpsertItem{db02}, false)
	require.NoError(t, err)
	require.Equal(t, store.StatusConflict, res[0].Status)
	m, err := svc.MergeCIs(ctx, admin, store.ID(names["db02"]), store.ID(names["db02-asset"]))
	require.NoError(t, err)
	require.Equal(t, 1, m.MovedRelationships)
	names["merge survivor"], names["merge duplicate"] = names["db02"], names["db02-asset"]

	// An open conflict, hit twice.
	upsert(ansible, ci("LinuxServer", "name", "db03", "dns_domain", "example.com"))
	upsert(admin, ci("Server", "name", "db03-asset", "serial_number", "SN-99"))
	db03 := ci("LinuxServer", "name", "db03", "dns_domain", "example.com", "serial_number", "SN-99")
	for range 2 {
		res, err = svc.Upsert(ctx, ansible, []cmdb.UpsertItem{db03}, false)
		require.NoError(t, err)
		require.Equal(t, store.StatusConflict, res[0].Status)
	}
	pair := store.ConflictPair(store.ID(names["db03"]), store.ID(names["db03-asset"]))
	names["conflict 0"], names["conflict 1"] = string(pair[0]), string(pair[1])
	names["deleted"] = names["legacy-billing"]

	out := readState(t, st)
	out.Commit, out.Names, out.Secrets = commit, names, secrets
	return &out
}
