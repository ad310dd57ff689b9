package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var identificationCases = []testCase{
	{"IdentifyNormalisesKeys", testIdentifyNormalises},
	{"IdentifyAcrossClassFamily", testIdentifyAcrossFamily},
	{"IdentifyCIMatchingTwoRules", testIdentifyTwoRules},
	{"IdentifyBatchThatWouldMergeTwoCIsConflicts", testMergeConflict},
	{"IdentifyPlaceholderSerialNeverMerges", testPlaceholderSerial},
	{"IdentifyRespectsSourcePrecedence", testSourcePrecedence},
}

func server(class string, attrs ...any) cmdb.UpsertItem {
	a := map[string]any{}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i].(string)] = attrs[i+1]
	}
	return cmdb.UpsertItem{Class: class, Attributes: a}
}

func testIdentifyNormalises(t *testing.T, st store.Store) {
	svc := newService(t, st)
	first := upsertOK(t, svc, agent,
		server("Server", "name", "web01", "dns_domain", "Example.COM.", "serial_number", "abc-123 45"),
		server("Switch", "name", "sw1", "mac_address", "00:1A:2B:3C:4D:5E"),
	)
	again := upsertOK(t, svc, agent,
		server("Server", "name", "  WEB01 ", "dns_domain", "example.com"),   // name+domain, case and dot
		server("Server", "name", "web01", "serial_number", "ABC12345"),      // serial without separators
		server("Switch", "name", "sw1", "mac_address", "001a.2b3c.4d5e"),    // Cisco MAC notation
		server("Switch", "name", "sw1", "mac_address", "00-1a-2b-3c-4d-5e"), // Windows MAC notation
	)
	assert.Equal(t, first[0].Node.ID, again[0].Node.ID)
	assert.Equal(t, first[0].Node.ID, again[1].Node.ID)
	assert.Equal(t, first[1].Node.ID, again[2].Node.ID)
	assert.Equal(t, first[1].Node.ID, again[3].Node.ID)
	assert.Equal(t, 2, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testIdentifyAcrossFamily(t *testing.T, st store.Store) {
	svc := newService(t, st)
	r := upsertOK(t, svc, agent, server("Server", "name", "db01", "serial_number", "XYZ1"))[0]
	r2 := upsertOK(t, svc, store.Actor{Name: "ansible", Source: "ansible"}, server("LinuxServer", "name", "db01", "serial_number", "xyz-1", "kernel_version", "6.1"))[0]
	assert.Equal(t, r.Node.ID, r2.Node.ID, "a Server and a LinuxServer with one serial number are one CI")
	assert.Equal(t, "LinuxServer", r2.Node.Class, "the most specific class wins")
	assert.Contains(t, r2.Changes, store.FieldChange{Field: "class", Before: "Server", After: "LinuxServer"})
	r3 := upsertOK(t, svc, agent, server("Server", "name", "db01", "serial_number", "xyz-1"))[0]
	assert.Equal(t, store.StatusUnchanged, r3.Status)
	assert.Equal(t, "LinuxServer", r3.Node.Class, "a less specific report does not demote the class")
	// A sibling class is a conflict, not a silent re-class or a duplicate.
	res, err := svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{server("WindowsServer", "name", "db01", "serial_number", "XYZ1")}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusConflict, res[0].Status)
	assert.ErrorIs(t, res[0].Err, store.ErrConflict)
	// Classes of different families never share keys: an Application named
	// like a BusinessService is another CI.
	a := upsertOK(t, svc, agent, app("Payments"))[0]
	b := upsertOK(t, svc, agent, cmdb.UpsertItem{Class: "BusinessService", Attributes: map[string]any{"name": "Payments"}})[0]
	assert.NotEqual(t, a.Node.ID, b.Node.ID)
	assert.Equal(t, 3, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testIdentifyTwoRules(t *testing.T, st store.Store) {
	svc := newService(t, st)
	r := upsertOK(t, svc, agent, server("LinuxServer", "name", "app01", "dns_domain", "corp", "serial_number", "S-1"))[0]
	assert.Len(t, r.Node.Keys, 2)
	// Found by serial, renamed: the old name key is released, the new one claimed.
	r2 := upsertOK(t, svc, agent, server("LinuxServer", "name", "app01-renamed", "dns_domain", "corp", "serial_number", "S-1"))[0]
	assert.Equal(t, r.Node.ID, r2.Node.ID)
	assert.Contains(t, r2.Node.Keys, "Server|name+dns_domain|app01-renamed\x1fcorp")
	assert.NotContains(t, r2.Node.Keys, "Server|name+dns_domain|app01\x1fcorp")
	// The released name can now identify a different machine.
	r3 := upsertOK(t, svc, agent, server("LinuxServer", "name", "app01", "dns_domain", "corp", "serial_number", "S-2"))[0]
	assert.NotEqual(t, r.Node.ID, r3.Node.ID)
	// Found by name+domain only, a serial is learnt and becomes a key.
	r4 := upsertOK(t, svc, agent, server("LinuxServer", "name", "app02", "dns_domain", "corp"))[0]
	r5 := upsertOK(t, svc, agent, server("LinuxServer", "name", "app02", "dns_domain", "corp", "serial_number", "S-3"))[0]
	assert.Equal(t, r4.Node.ID, r5.Node.ID)
	r6 := upsertOK(t, svc, agent, server("Server", "name", "other-name", "serial_number", "s3"))[0]
	assert.Equal(t, r4.Node.ID, r6.Node.ID, "now found by the serial it learnt")
	assert.Equal(t, 3, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testMergeConflict(t *testing.T, st store.Store) {
	svc := newService(t, st)
	a := upsertOK(t, svc, agent, server("Server", "name", "a", "dns_domain", "d", "serial_number", "A1"))[0]
	b := upsertOK(t, svc, agent, server("Server", "name", "b", "dns_domain", "d", "serial_number", "B1"))[0]
	// Serial of a, name of b: two CIs match, so nothing merges.
	res, err := svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{
		server("Server", "name", "b", "dns_domain", "d", "serial_number", "A1", "os_name", "Linux"),
		app("unrelated"),
	}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusConflict, res[0].Status)
	require.ErrorIs(t, res[0].Err, store.ErrConflict)
	assert.Contains(t, res[0].Err.Error(), string(a.Node.ID))
	assert.Contains(t, res[0].Err.Error(), string(b.Node.ID))
	assert.Equal(t, store.StatusCreated, res[1].Status, "a conflict does not sink other items")
	got, err := st.Nodes(t.Context(), store.KindCI, []store.ID{a.Node.ID, b.Node.ID})
	require.NoError(t, err)
	assert.NotContains(t, got[a.Node.ID].Attributes, "os_name")
	assert.NotContains(t, got[b.Node.ID].Attributes, "os_name")
	assert.Equal(t, a.Node.Keys, got[a.Node.ID].Keys)
	// Renaming a onto b's name (found by a's serial) would steal b's key.
	res, err = svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{server("Server", "name", "b", "dns_domain", "d", "serial_number", "A1")}, false)
	require.NoError(t, err)
	assert.Equal(t, store.StatusConflict, res[0].Status)
	assert.Equal(t, 3, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testPlaceholderSerial(t *testing.T, st store.Store) {
	svc := newService(t, st)
	res := upsertOK(t, svc, agent,
		server("Server", "name", "white1", "dns_domain", "lab", "serial_number", "To be filled by O.E.M."),
		server("Server", "name", "white2", "dns_domain", "lab", "serial_number", "To Be Filled By O.E.M."),
	)
	assert.NotEqual(t, res[0].Node.ID, res[1].Node.ID)
	assert.Equal(t, 2, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
	_, err := svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{server("Server", "name", "white3", "serial_number", "0000000000")}, true)
	requireInvalid(t, err, "items[0].attributes")
}

func testSourcePrecedence(t *testing.T, st store.Store) {
	svc := newService(t, st)
	upsertOK(t, svc, agent, app("erp", "owner", "discovered-owner", "version", "1"))
	upsertOK(t, svc, api, app("erp", "owner", "Finance IT"))
	r := upsertOK(t, svc, agent, app("erp", "owner", "discovered-owner", "version", "2"))[0]
	assert.Equal(t, store.StatusUpdated, r.Status)
	assert.Equal(t, "Finance IT", r.Node.Attributes["owner"], "discovery does not revert a value set through the API")
	assert.Equal(t, "2", r.Node.Attributes["version"], "discovery still updates what it owns")
	assert.Equal(t, "api", r.Node.Sources["owner"])
	assert.Equal(t, "ansible", r.Node.Sources["version"])

	// Per attribute: the hypervisor's figure for a VM's memory outranks
	// an agent in the guest, not the agent's other attributes, and a
	// deliberate edit through the API still wins (model.yaml,
	// attribute_precedence).
	vcenter := store.Actor{Name: "agent:vcenter", Source: "vcenter"}
	upsertOK(t, svc, vcenter, server("VirtualMachine", "name", "vm-prec", "vm_uuid", "4f0c-prec", "memory_mb", 4096, "os_name", "Linux"))
	r = upsertOK(t, svc, agent, server("VirtualMachine", "name", "vm-prec", "vm_uuid", "4f0c-prec", "memory_mb", 4000, "os_name", "Ubuntu"))[0]
	assert.Equal(t, int64(4096), r.Node.Attributes["memory_mb"], "vcenter (90) owns memory_mb against ansible (50)")
	assert.Equal(t, "vcenter", r.Node.Sources["memory_mb"])
	assert.Equal(t, "Ubuntu", r.Node.Attributes["os_name"], "no rule on os_name: equal ranks, the latest report wins")
	r = upsertOK(t, svc, api, server("VirtualMachine", "name", "vm-prec", "vm_uuid", "4f0c-prec", "memory_mb", 8192))[0]
	assert.Equal(t, int64(8192), r.Node.Attributes["memory_mb"], "api (100) outranks vcenter (90)")
	r = upsertOK(t, svc, vcenter, server("VirtualMachine", "name", "vm-prec", "vm_uuid", "4f0c-prec", "memory_mb", 4096))[0]
	assert.Equal(t, int64(8192), r.Node.Attributes["memory_mb"], "and vcenter does not revert it")
}
