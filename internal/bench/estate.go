package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/skein-cmdb/skein/internal/cmdb"
)

// Edge is a relationship between two CIs of an estate, by index.
type Edge struct {
	From, To int32
	Type     string
}

// Estate is a generated configuration graph.
type Estate struct {
	CIs   []cmdb.UpsertItem
	Edges []Edge
	// Hubs names shared infrastructure CIs (index into CIs) that very many
	// CIs depend on: the DNS and directory services, the storage arrays, a
	// core switch, a datacenter.
	Hubs []Named
	// Typical are ordinary CIs (VMs, hypervisors, database instances).
	Typical []Named
}

// Named is a CI index with a label for reports.
type Named struct {
	Label string
	Index int32
}

// Generate builds an estate of about n CIs (at least a few hundred) with
// about four and a half relationships per CI, deterministically from seed.
//
// Its shape follows a typical enterprise: business services PROVIDED_BY
// applications; each application DEPENDS_ON a load balancer whose pool has
// three instances (MEMBER_OF) and on a database HOSTED_ON a database
// instance; instances and database instances RUN_ON their own VMs; VMs
// RUN_ON hypervisors (16 per host) that are MEMBER_OF compute clusters (8
// hosts each), CONNECT_TO two access switches, are LOCATED_IN one of two
// datacenters and DEPEND_ON a storage array. Every VM and instance depends
// on DNS and the directory (LDAP); instances call other applications' load
// balancers and databases; VMs are BACKED_UP_BY a storage array. Those
// shared services are the hubs.
func Generate(n int, seed uint64) *Estate {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	e := &Estate{}
	add := func(class string, attrs map[string]any) int32 {
		e.CIs = append(e.CIs, cmdb.UpsertItem{Class: class, Attributes: attrs})
		return int32(len(e.CIs) - 1)
	}
	link := func(from, to int32, typ string) { e.Edges = append(e.Edges, Edge{from, to, typ}) }
	named := func(label string, i int32) Named { return Named{Label: label, Index: i} }

	dcs := []int32{
		add("Datacenter", map[string]any{"name": "dc-east", "city": "Frankfurt", "tier": 3}),
		add("Datacenter", map[string]any{"name": "dc-west", "city": "Dublin", "tier": 3}),
	}
	cores := []int32{
		add("Switch", map[string]any{"name": "core-sw-1", "serial_number": "CORE0001", "criticality": 1}),
		add("Switch", map[string]any{"name": "core-sw-2", "serial_number": "CORE0002", "criticality": 1}),
	}
	arrays := []int32{
		add("StorageArray", map[string]any{"name": "array-1", "serial_number": "ARR0001", "capacity_tb": 512.0}),
		add("StorageArray", map[string]any{"name": "array-2", "serial_number": "ARR0002", "capacity_tb": 512.0}),
	}
	dns := add("Application", map[string]any{"name": "dns", "criticality": 1, "owner": "network-team"})
	ldap := add("Application", map[string]any{"name": "ldap", "criticality": 1, "owner": "identity-team"})
	e.Hubs = []Named{named("dns service", dns), named("ldap service", ldap), named("storage array", arrays[0]),
		named("core switch", cores[0]), named("datacenter", dcs[0])}

	// Per application: app, LB, 3 instances, database, db instance, endpoint,
	// 4 VMs, a quarter of a hypervisor and a little of a cluster and an
	// access switch: about 12.3 CIs.
	apps := max(4, int(float64(n)/12.3))
	nBS := max(1, apps/8)
	var access []int32
	var hvs []int32
	var cluster int32 = -1
	vmsOnHV := 0
	newHV := func() int32 {
		h := int32(len(hvs))
		if len(hvs)%8 == 0 {
			cluster = add("Cluster", map[string]any{"name": fmt.Sprintf("compute-%04d", len(hvs)/8), "cluster_type": "compute", "min_members_up": 6})
		}
		if len(hvs)%24 == 0 {
			sw := add("Switch", map[string]any{"name": fmt.Sprintf("access-sw-%04d", len(access)), "serial_number": fmt.Sprintf("ACC%06d", len(access))})
			link(sw, cores[0], "CONNECTS_TO")
			link(sw, cores[1], "CONNECTS_TO")
			access = append(access, sw)
		}
		hv := add("Hypervisor", map[string]any{"name": fmt.Sprintf("esx-%05d", h), "serial_number": fmt.Sprintf("HV%07d", h),
			"dns_domain": "infra.example.com", "hypervisor_type": "esxi", "cpu_count": 64, "memory_mb": 524288})
		link(hv, cluster, "MEMBER_OF")
		link(hv, access[len(access)-1], "CONNECTS_TO")
		if len(access) > 1 {
			link(hv, access[len(access)-2], "CONNECTS_TO")
		}
		link(hv, dcs[len(hvs)%2], "LOCATED_IN")
		link(hv, arrays[len(hvs)%2], "DEPENDS_ON")
		hvs = append(hvs, hv)
		vmsOnHV = 0
		return hv
	}
	vm := func(name string) int32 {
		if len(hvs) == 0 || vmsOnHV == 16 {
			newHV()
		}
		vmsOnHV++
		v := add("VirtualMachine", map[string]any{"name": name, "dns_domain": "svc.example.com",
			"vm_uuid": fmt.Sprintf("4200%08X", len(e.CIs)), "cpu_count": 4, "memory_mb": 16384, "os_name": "Linux"})
		link(v, hvs[len(hvs)-1], "RUNS_ON")
		link(v, access[len(access)-1], "CONNECTS_TO")
		link(v, dcs[(len(hvs)-1)%2], "LOCATED_IN")
		link(v, dns, "DEPENDS_ON")
		link(v, ldap, "DEPENDS_ON")
		link(v, arrays[rng.IntN(2)], "BACKED_UP_BY")
		return v
	}
	bss := make([]int32, nBS)
	for i := range bss {
		bss[i] = add("BusinessService", map[string]any{"name": fmt.Sprintf("business-service-%04d", i), "criticality": 1 + i%4, "service_level": "gold"})
	}
	type appCIs struct{ app, lb, db int32 }
	all := make([]appCIs, 0, apps)
	var instances []int32
	for a := 0; a < apps; a++ {
		name := fmt.Sprintf("app-%05d", a)
		env := []string{"production", "staging", "test"}[a%3]
		ap := add("Application", map[string]any{"name": name, "owner": fmt.Sprintf("team-%03d", a%150), "support_group": fmt.Sprintf("sg-%02d", a%40), "environment": env})
		lb := add("LoadBalancer", map[string]any{"name": name + "-lb", "dns_domain": "svc.example.com", "min_members_up": 2})
		link(ap, lb, "DEPENDS_ON")
		link(bss[a%nBS], ap, "PROVIDED_BY")
		ep := add("Endpoint", map[string]any{"name": name + "-https", "url": fmt.Sprintf("https://%s.example.com/", name), "protocol": "https", "port": 443})
		link(ep, lb, "HOSTED_ON")
		for i := 0; i < 3; i++ {
			inst := add("ApplicationInstance", map[string]any{"name": fmt.Sprintf("%s-%d", name, i), "host": fmt.Sprintf("%s-vm%d.svc.example.com", name, i), "application": name, "port": 8080})
			link(inst, lb, "MEMBER_OF")
			link(inst, vm(fmt.Sprintf("%s-vm%d", name, i)), "RUNS_ON")
			link(inst, dns, "DEPENDS_ON")
			link(inst, ldap, "DEPENDS_ON")
			instances = append(instances, inst)
		}
		dbi := add("DatabaseInstance", map[string]any{"name": name + "-pg", "host": name + "-db.svc.example.com", "engine": "postgresql", "port": 5432, "role": "primary"})
		link(dbi, vm(name+"-db"), "RUNS_ON")
		link(dbi, arrays[a%2], "BACKED_UP_BY")
		db := add("Database", map[string]any{"name": name + "_db", "db_instance": name + "-pg", "engine": "postgresql"})
		link(db, dbi, "HOSTED_ON")
		link(ap, db, "DEPENDS_ON")
		all = append(all, appCIs{ap, lb, db})
		if len(e.Typical) < 12 && a%7 == 3 {
			e.Typical = append(e.Typical, named("db instance", dbi))
		}
	}
	// Calls between applications: each instance calls three other
	// applications' load balancers and one other database; applications
	// depend on one or two others.
	for i, inst := range instances {
		for k := 0; k < 3; k++ {
			if o := all[rng.IntN(len(all))]; o.lb != all[i/3].lb {
				link(inst, o.lb, "DEPENDS_ON")
			}
		}
		if o := all[rng.IntN(len(all))]; o.db != all[i/3].db {
			link(inst, o.db, "DEPENDS_ON")
		}
	}
	for i, a := range all {
		for k := 0; k < 1+i%2; k++ {
			if o := all[rng.IntN(len(all))]; o.app != a.app {
				link(a.app, o.app, "DEPENDS_ON")
			}
		}
	}
	e.Edges = dedupe(e.Edges)
	// Typical CIs: a few hypervisors and VMs spread over the estate.
	for k := 1; k <= 4; k++ {
		e.Typical = append(e.Typical, named("hypervisor", hvs[k*len(hvs)/5]))
	}
	for i := range e.CIs {
		if e.CIs[i].Class == "VirtualMachine" && i%97 == 0 && len(e.Typical) < 24 {
			e.Typical = append(e.Typical, named("vm", int32(i)))
		}
	}
	return e
}

func dedupe(edges []Edge) []Edge {
	seen := make(map[Edge]bool, len(edges))
	out := edges[:0]
	for _, e := range edges {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}
