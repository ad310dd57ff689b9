package host

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	gohost "github.com/shirou/gopsutil/v4/host"
	gonet "github.com/shirou/gopsutil/v4/net"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// web01 is a made-up machine: nginx (two processes sharing port 80) in
// front of app on 127.0.0.1:8080, which uses PostgreSQL on :::5432 through
// the host's own address and a remote HTTPS service; psql, which listens on
// nothing, is connected to PostgreSQL too.
func web01() *snapshot {
	conn := func(pid int32, status, lip string, lport uint32, rip string, rport uint32) gonet.ConnectionStat {
		return gonet.ConnectionStat{Pid: pid, Status: status, Laddr: gonet.Addr{IP: lip, Port: lport}, Raddr: gonet.Addr{IP: rip, Port: rport}}
	}
	return &snapshot{
		info: gohost.InfoStat{Hostname: "web01", OS: "linux", Platform: "debian", PlatformVersion: "12.5",
			KernelVersion: "6.1.0-18-amd64", VirtualizationSystem: "kvm", VirtualizationRole: "guest"},
		fqdn: "web01.example.com", cpus: 4, memoryBytes: 8 << 30,
		dmi: dmi{vendor: "QEMU", product: "Standard PC (Q35 + ICH9, 2009)"},
		interfaces: []gonet.InterfaceStat{
			{Name: "lo", MTU: 65536, Flags: []string{"up", "loopback"}, Addrs: gonet.InterfaceAddrList{{Addr: "127.0.0.1/8"}, {Addr: "::1/128"}}},
			{Name: "eth0", MTU: 1500, HardwareAddr: "52:54:00:aa:bb:cc", Flags: []string{"up", "broadcast"},
				Addrs: gonet.InterfaceAddrList{{Addr: "10.0.0.5/24"}, {Addr: "fe80::5054:ff:feaa:bbcc/64"}}},
			{Name: "docker0", MTU: 1500, HardwareAddr: "02:42:ac:11:00:01", Flags: []string{"broadcast"},
				Addrs: gonet.InterfaceAddrList{{Addr: "172.17.0.1/16"}}},
		},
		processes: map[int32]proc{
			100: {name: "nginx", exe: "/usr/sbin/nginx"}, 101: {name: "nginx", exe: "/usr/sbin/nginx"},
			200: {name: "app", exe: "/opt/app/bin/app"}, 300: {name: "postgres"}, 400: {name: "psql"},
		},
		connections: []gonet.ConnectionStat{
			conn(200, "ESTABLISHED", "10.0.0.5", 40200, "198.51.100.7", 443),
			conn(100, "LISTEN", "0.0.0.0", 80, "0.0.0.0", 0),
			conn(101, "LISTEN", "0.0.0.0", 80, "0.0.0.0", 0),
			conn(200, "LISTEN", "127.0.0.1", 8080, "0.0.0.0", 0),
			conn(300, "LISTEN", "::", 5432, "::", 0),
			conn(0, "LISTEN", "0.0.0.0", 9999, "0.0.0.0", 0), // another user's: no process
			conn(101, "ESTABLISHED", "10.0.0.5", 80, "203.0.113.9", 51234),
			conn(101, "ESTABLISHED", "127.0.0.1", 40001, "127.0.0.1", 8080),
			conn(200, "ESTABLISHED", "127.0.0.1", 8080, "127.0.0.1", 40001),
			conn(200, "ESTABLISHED", "::ffff:10.0.0.5", 40100, "::ffff:10.0.0.5", 5432),
			conn(300, "ESTABLISHED", "::ffff:10.0.0.5", 5432, "::ffff:10.0.0.5", 40100),
			conn(200, "ESTABLISHED", "10.0.0.5", 40201, "198.51.100.7", 443),
			conn(400, "ESTABLISHED", "127.0.0.1", 40300, "127.0.0.1", 5432),
			conn(300, "ESTABLISHED", "127.0.0.1", 5432, "127.0.0.1", 40300),
			conn(200, "TIME_WAIT", "127.0.0.1", 40400, "127.0.0.1", 80),
		},
	}
}

func edges(b discovery.Batch) []string {
	var out []string
	for _, r := range b.Relationships {
		to := r.To.Ref
		if to == "" {
			to = fmt.Sprintf("%s%v", r.To.Class, r.To.Identity)
		}
		out = append(out, r.Type+" "+r.From.Ref+" -> "+to)
	}
	return out
}

func TestMapping(t *testing.T) {
	server := "Server" + fmt.Sprint(map[string]any{"name": "web01", "dns_domain": "example.com", "mac_address": "52:54:00:aa:bb:cc"})
	services := []string{
		"RUNS_ON instance:nginx:80 -> " + server,
		"RUNS_ON instance:postgres:5432 -> " + server,
		"RUNS_ON instance:app:8080 -> " + server,
		"DEPENDS_ON instance:nginx:80 -> instance:app:8080",
		"DEPENDS_ON instance:app:8080 -> instance:postgres:5432",
		"DEPENDS_ON instance:app:8080 -> endpoint:198.51.100.7:443",
	}
	for _, tc := range []struct {
		name       string
		opts       Options
		edges      []string
		interfaces []discovery.CI
	}{
		{"services", Options{}, services, nil},
		{"with interfaces", Options{ProposedClasses: true},
			append([]string{"CONTAINS server -> interface:docker0", "CONTAINS server -> interface:eth0"}, services...),
			[]discovery.CI{
				{Ref: "interface:docker0", Class: "NetworkInterface", Attributes: map[string]any{
					"name": "docker0", "host": "web01.example.com", "mac_address": "02:42:ac:11:00:01", "ip_addresses": []string{"172.17.0.1"}, "mtu": 1500}},
				{Ref: "interface:eth0", Class: "NetworkInterface", Attributes: map[string]any{
					"name": "eth0", "host": "web01.example.com", "mac_address": "52:54:00:aa:bb:cc",
					"ip_addresses": []string{"10.0.0.5", "fe80::5054:ff:feaa:bbcc"}, "mtu": 1500}},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := web01().batch(tc.opts)
			testenv.CheckModel(t, b)
			assert.Nil(t, b.Scope, "port 9999's process is unknown: no complete view")
			assert.Equal(t, discovery.CI{Ref: "server", Class: "LinuxServer", Attributes: map[string]any{
				"name": "web01", "dns_domain": "example.com", "fqdn": "web01.example.com",
				"os_name": "debian", "os_version": "12.5", "kernel_version": "6.1.0-18-amd64",
				"manufacturer": "QEMU", "model": "Standard PC (Q35 + ICH9, 2009)", "cpu_count": 4, "memory_mb": 8192,
				"ip_address": "10.0.0.5", "mac_address": "52:54:00:aa:bb:cc", "tags": []string{"virtual", "virtualization:kvm"},
			}}, b.CIs[0])
			assert.ElementsMatch(t, tc.edges, edges(b))
			byRef := map[string]discovery.CI{}
			for _, ci := range b.CIs {
				byRef[ci.Ref] = ci
			}
			for _, want := range tc.interfaces {
				assert.Equal(t, want, byRef[want.Ref])
			}
			assert.Equal(t, map[string]any{
				"name": "nginx:80", "application": "nginx", "host": "web01.example.com", "port": 80, "install_path": "/usr/sbin/nginx",
			}, byRef["instance:nginx:80"].Attributes)
			assert.Equal(t, map[string]any{
				"name": "postgres:5432", "application": "postgres", "host": "web01.example.com", "port": 5432,
			}, byRef["instance:postgres:5432"].Attributes)
			assert.Equal(t, discovery.CI{Ref: "endpoint:198.51.100.7:443", Class: "Endpoint", Attributes: map[string]any{
				"name": "198.51.100.7:443", "host": "198.51.100.7", "port": 443, "protocol": "tcp",
			}}, byRef["endpoint:198.51.100.7:443"])
			require.Len(t, b.CIs, 1+len(tc.interfaces)+3+1, "server, interfaces, three instances, one endpoint")
		})
	}
}

func TestScopeWhenComplete(t *testing.T) {
	s := web01()
	var readable []gonet.ConnectionStat
	for _, c := range s.connections {
		if c.Pid != 0 {
			readable = append(readable, c)
		}
	}
	s.connections = readable
	assert.Equal(t, &discovery.Scope{Name: "host:web01.example.com"}, s.batch(Options{}).Scope)

	s = web01()
	s.root = true
	assert.Equal(t, &discovery.Scope{Name: "host:web01.example.com"}, s.batch(Options{}).Scope,
		"as root, an unknown process is another namespace's")
}

func TestReadDMI(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]string{"sys_vendor": "Dell Inc.\n", "product_name": "PowerEdge R650\n"} {
		require.NoError(t, writeFile(dir, name, v))
	}
	assert.Equal(t, dmi{vendor: "Dell Inc.", product: "PowerEdge R650"}, readDMI(dir), "product_serial unreadable: empty")
}

func writeFile(dir, name, content string) error {
	return os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
}
