package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFindByNameIgnoringCase: a CI is found by its whole name or a prefix
// in any case, and owner, support group, tag and attribute filters ignore
// case too, unless caseSensitive says otherwise; on both backends.
func TestFindByNameIgnoringCase(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			upsertIDs(t, url,
				item("Hypervisor", map[string]any{"name": "esx-fra1-03", "serial_number": "LK-1", "owner": "Tomasz Nowak", "tags": []any{"pci"}, "manufacturer": "Dell"}),
				item("Hypervisor", map[string]any{"name": "esx-fra1-030", "serial_number": "LK-2", "support_group": "SG-Compute"}),
				item("Application", map[string]any{"name": "ESXi-inventory"}),
			)
			count := func(filter string) float64 {
				t.Helper()
				d := ok(t, url, `{ cis(filter: `+filter+`) { totalCount edges { node { name } } } }`, nil)
				n, _ := get(d, "cis", "totalCount").(float64)
				return n
			}
			for _, tt := range []struct {
				filter string
				want   float64
			}{
				{`{name: "ESX-FRA1-03"}`, 1},
				{`{name: "esx-fra1-03", caseSensitive: true}`, 1},
				{`{name: "ESX-FRA1-03", caseSensitive: true}`, 0},
				{`{namePrefix: "ESX"}`, 3},
				{`{namePrefix: "ESX", caseSensitive: true}`, 1},
				{`{owner: "tomasz nowak"}`, 1},
				{`{supportGroup: "sg-compute"}`, 1},
				{`{tag: "PCI"}`, 1},
				{`{tag: "PCI", caseSensitive: true}`, 0},
				{`{attributes: {manufacturer: "DELL"}}`, 1},
				{`{class: "Hypervisor", namePrefix: "esx-FRA1-03"}`, 2},
			} {
				assert.Equal(t, tt.want, count(tt.filter), tt.filter)
			}
		})
	}
}
