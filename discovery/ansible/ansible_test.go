package ansible

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// The expected values below are read off the fact files in testdata/tree.
func TestCollectFactTree(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		servers map[string]map[string]any // scope -> server attributes
		classes map[string]string         // scope -> server class
		others  map[string][]discovery.CI // scope -> the other CIs, in order
	}{
		{
			name: "servers only",
			classes: map[string]string{
				"host:db01.example.com": "LinuxServer", "host:vm-app.corp.local": "LinuxServer", "host:win01.ad.example.com": "WindowsServer",
			},
			servers: map[string]map[string]any{
				"host:db01.example.com": {
					"name": "db01", "fqdn": "db01.example.com", "dns_domain": "example.com", "serial_number": "7XK2J83",
					"os_name": "Rocky", "os_version": "9.4", "kernel_version": "5.14.0-427.13.1.el9_4.x86_64",
					"cpu_count": 48, "memory_mb": 257431, "manufacturer": "Dell Inc.", "model": "PowerEdge R650",
					"ip_address": "10.20.0.15", "mac_address": "b0:7b:25:c1:0e:2a",
				},
				"host:vm-app.corp.local": {
					"name": "vm-app", "fqdn": "vm-app.corp.local", "dns_domain": "corp.local",
					"os_name": "Ubuntu", "os_version": "24.04", "kernel_version": "6.8.0-45-generic",
					"cpu_count": 4, "memory_mb": 7940, "manufacturer": "QEMU", "model": "Standard PC (Q35 + ICH9, 2009)",
					"ip_address": "192.168.122.40", "mac_address": "52:54:00:6b:3c:58",
					"tags": []string{"virtual", "virtualization:kvm"},
				},
				"host:win01.ad.example.com": {
					"name": "WIN01", "fqdn": "win01.ad.example.com", "dns_domain": "ad.example.com", "windows_domain": "ad.example.com",
					"serial_number": "VMware-42 1c 3e 8f 5a 6b 7c 8d-9e 0f 1a 2b 3c 4d 5e 6f",
					"os_name":       "Microsoft Windows Server 2022 Datacenter", "os_version": "10.0.20348.0",
					"cpu_count": 8, "memory_mb": 16383, "manufacturer": "VMware, Inc.", "model": "VMware7,1",
					"ip_address": "10.30.1.21", "mac_address": "00:50:56:9C:11:22",
					"tags": []string{"virtual", "virtualization:VMware"},
				},
			},
		},
		{
			name: "with interfaces and disks",
			opts: Options{ProposedClasses: true},
			others: map[string][]discovery.CI{
				"host:db01.example.com": {
					{Ref: "interface:bond0", Class: "NetworkInterface", Attributes: map[string]any{
						"name": "bond0", "host": "db01.example.com", "mac_address": "b0:7b:25:c1:0e:2a", "interface_type": "bonding",
						"ip_addresses": []string{"10.20.0.15", "10.20.0.16", "fe80::b27b:25ff:fec1:e2a"}, "mtu": 9000, "speed_mbps": 50000,
					}},
					{Ref: "interface:bond0.200", Class: "NetworkInterface", Attributes: map[string]any{
						"name": "bond0.200", "host": "db01.example.com", "mac_address": "b0:7b:25:c1:0e:2a", "interface_type": "ether",
						"ip_addresses": []string{"10.200.0.15"}, "mtu": 1500,
					}},
					{Ref: "interface:eno1", Class: "NetworkInterface", Attributes: map[string]any{
						"name": "eno1", "host": "db01.example.com", "mac_address": "b0:7b:25:c1:0e:2a", "interface_type": "ether",
						"mtu": 9000, "speed_mbps": 25000,
					}},
					{Ref: "disk:nvme0n1", Class: "Disk", Attributes: map[string]any{
						"name": "nvme0n1", "host": "db01.example.com", "model": "Dell Ent NVMe P5600 MU U.2 1.6TB",
						"serial_number": "PHAB1234005K1P6AGN", "size_gb": 1600.32, "rotational": false,
					}},
					{Ref: "disk:sda", Class: "Disk", Attributes: map[string]any{
						"name": "sda", "host": "db01.example.com", "model": "PERC H755 Front", "manufacturer": "DELL",
						"serial_number": "6f4ee080b3c0a8002c1f0b4a2e3d9f01", "size_gb": 1000.2, "rotational": true,
					}},
				},
				"host:vm-app.corp.local": {
					{Ref: "interface:enp1s0", Class: "NetworkInterface", Attributes: map[string]any{
						"name": "enp1s0", "host": "vm-app.corp.local", "mac_address": "52:54:00:6b:3c:58", "interface_type": "ether",
						"ip_addresses": []string{"192.168.122.40"}, "mtu": 1500,
					}},
					{Ref: "disk:vda", Class: "Disk", Attributes: map[string]any{
						"name": "vda", "host": "vm-app.corp.local", "manufacturer": "0x1af4", "size_gb": 42.94, "rotational": true,
					}},
				},
				"host:win01.ad.example.com": nil, // Windows facts describe no interface or disk in detail
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := New("testdata/tree", tc.opts)
			batches, err := src.Collect(context.Background())
			require.NoError(t, err)
			require.Len(t, batches, 3)
			assert.Equal(t, []string{"unreachable-host"}, src.Skipped)
			testenv.CheckModel(t, batches...)
			for _, b := range batches {
				require.NotNil(t, b.Scope)
				scope := b.Scope.Name
				assert.Equal(t, "ansible", b.Source)
				server := b.CIs[0]
				assert.Equal(t, "server", server.Ref)
				if want, ok := tc.classes[scope]; ok {
					assert.Equal(t, want, server.Class, scope)
				}
				if want, ok := tc.servers[scope]; ok {
					assert.Equal(t, want, server.Attributes, scope)
				}
				if tc.others == nil {
					assert.Len(t, b.CIs, 1, "%s: the server alone", scope)
					assert.Empty(t, b.Relationships)
					continue
				}
				want, ok := tc.others[scope]
				require.True(t, ok, "unexpected scope %s", scope)
				if len(want) == 0 {
					assert.Empty(t, b.CIs[1:], scope)
				} else {
					assert.Equal(t, want, b.CIs[1:], scope)
				}
				require.Len(t, b.Relationships, len(want))
				for i, r := range b.Relationships {
					assert.Equal(t, discovery.Relationship{Type: "CONTAINS", From: discovery.ByRef("server"), To: discovery.ByRef(want[i].Ref)}, r)
				}
			}
		})
	}
}

func TestHostBatchErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		ok         bool
		err        string
	}{
		{"not JSON", `{"ansible_facts": `, false, "parse facts"},
		{"no host name", `{"ansible_facts": {"ansible_system": "Linux"}}`, false, "no ansible_hostname"},
		{"failed host", `{"failed": true, "msg": "module failure"}`, false, ""},
		{"a fact of another type is left out", `{"ansible_facts": {"ansible_hostname": "h", "ansible_processor_vcpus": "4", "ansible_memtotal_mb": 512}}`, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ok, err := HostBatch([]byte(tc.data), Options{})
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.ok, ok)
			if ok {
				assert.Equal(t, map[string]any{"name": "h", "fqdn": "h", "memory_mb": 512}, b.CIs[0].Attributes)
			}
		})
	}
}

func TestCollectMissingDirectory(t *testing.T) {
	_, err := New(filepath.Join(t.TempDir(), "nope"), Options{}).Collect(context.Background())
	require.ErrorIs(t, err, os.ErrNotExist)
}
