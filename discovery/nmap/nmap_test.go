package nmap

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// The expectations are read off testdata/network.xml.
func TestParseReport(t *testing.T) {
	router := discovery.Batch{Source: "nmap", Scope: &discovery.Scope{Name: "host:10.1.1.1"}, CIs: []discovery.CI{
		{Ref: "device", Class: "Router", Attributes: map[string]any{
			"name": "gw1", "dns_domain": "net.example.com", "mac_address": "00:1B:54:AA:BB:CC", "management_ip": "10.1.1.1",
			"manufacturer": "Cisco", "tags": []string{"mac_vendor:Cisco Systems"}, "description": "nmap OS match: Cisco IOS 15.2 (98%)",
		}},
		{Ref: "port:tcp/22", Class: "ApplicationInstance", Attributes: map[string]any{
			"name": "ssh:22", "host": "gw1.net.example.com", "port": 22, "application": "Cisco SSH", "version": "1.25",
		}},
		{Ref: "port:udp/161", Class: "ApplicationInstance", Attributes: map[string]any{
			"name": "snmp:161/udp", "host": "gw1.net.example.com", "port": 161, "application": "Cisco SNMP service",
		}},
	}}
	routerID := discovery.ByIdentity("NetworkDevice", map[string]any{"mac_address": "00:1B:54:AA:BB:CC", "name": "gw1", "dns_domain": "net.example.com"})
	router.Relationships = []discovery.Relationship{
		{Type: "HOSTED_ON", From: discovery.ByRef("port:tcp/22"), To: routerID},
		{Type: "HOSTED_ON", From: discovery.ByRef("port:udp/161"), To: routerID},
	}

	app01 := discovery.Batch{Source: "nmap", Scope: &discovery.Scope{Name: "host:10.1.1.20"}, CIs: []discovery.CI{
		{Ref: "device", Class: "LinuxServer", Attributes: map[string]any{
			"name": "app01", "dns_domain": "example.com", "fqdn": "app01.example.com", "ip_address": "10.1.1.20",
			"os_name": "Linux", "os_version": "5.X", "description": "nmap OS match: Linux 5.0 - 5.14 (95%)",
		}},
		{Ref: "port:tcp/22", Class: "ApplicationInstance", Attributes: map[string]any{
			"name": "ssh:22", "host": "app01.example.com", "port": 22, "application": "OpenSSH", "version": "8.9p1 Ubuntu 3ubuntu0.10",
		}},
		{Ref: "port:tcp/443", Class: "ApplicationInstance", Attributes: map[string]any{
			"name": "https:443", "host": "app01.example.com", "port": 443, "application": "nginx", "version": "1.24.0",
		}},
	}}
	app01ID := discovery.ByIdentity("Server", map[string]any{"name": "app01", "dns_domain": "example.com"})
	app01.Relationships = []discovery.Relationship{
		{Type: "RUNS_ON", From: discovery.ByRef("port:tcp/22"), To: app01ID},
		{Type: "RUNS_ON", From: discovery.ByRef("port:tcp/443"), To: app01ID},
	}

	vm := discovery.Batch{Source: "nmap", Scope: &discovery.Scope{Name: "host:10.1.1.30"}, CIs: []discovery.CI{
		{Ref: "device", Class: "Server", Attributes: map[string]any{
			"name": "10.1.1.30", "mac_address": "52:54:00:12:34:56", "ip_address": "10.1.1.30", "tags": []string{"mac_vendor:QEMU virtual NIC"},
		}},
		{Ref: "port:tcp/3306", Class: "ApplicationInstance", Attributes: map[string]any{
			"name": "mysql:3306", "host": "10.1.1.30", "port": 3306, "application": "MySQL", "version": "8.0.36",
		}},
	}, Relationships: []discovery.Relationship{
		{Type: "RUNS_ON", From: discovery.ByRef("port:tcp/3306"), To: discovery.ByIdentity("Server", map[string]any{"mac_address": "52:54:00:12:34:56", "name": "10.1.1.30"})},
	}}

	printer := discovery.Batch{Source: "nmap", Scope: &discovery.Scope{Name: "host:10.1.1.60"}, CIs: []discovery.CI{
		{Ref: "device", Class: "Server", Attributes: map[string]any{ // the 85% printer match is below 90
			"name": "printer7", "dns_domain": "example.com", "fqdn": "printer7.example.com", "ip_address": "10.1.1.60",
		}},
		{Ref: "port:tcp/9100", Class: "ApplicationInstance", Attributes: map[string]any{
			"name": "jetdirect:9100", "host": "printer7.example.com", "port": 9100,
		}},
	}, Relationships: []discovery.Relationship{
		{Type: "RUNS_ON", From: discovery.ByRef("port:tcp/9100"), To: discovery.ByIdentity("Server", map[string]any{"name": "printer7", "dns_domain": "example.com"})},
	}}

	for _, tc := range []struct {
		name    string
		opts    Options
		want    []discovery.Batch
		skipped []string
	}{
		{"bare names unidentified", Options{}, []discovery.Batch{router, app01, vm}, []string{"10.1.1.40", "10.1.1.60"}},
		{"default domain", Options{Domain: "example.com"}, []discovery.Batch{router, app01, vm, printer}, []string{"10.1.1.40"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := New("testdata/network.xml", tc.opts)
			got, err := src.Collect(context.Background())
			require.NoError(t, err)
			testenv.CheckModel(t, got...)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.skipped, src.Skipped)
		})
	}
}

func TestParseErrors(t *testing.T) {
	_, _, err := Parse([]byte("<nmaprun><host>"), Options{})
	require.ErrorContains(t, err, "parse report")
	_, err = New("testdata/none.xml", Options{}).Collect(context.Background())
	require.ErrorIs(t, err, os.ErrNotExist)
}
