package testenv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/skein-cmdb/skein/discovery"
)

func TestProposedClassesLoad(t *testing.T) {
	m := Model(t)
	for _, c := range []string{"NetworkInterface", "Disk", "KubernetesNamespace"} {
		_, ok := m.Class(c)
		assert.True(t, ok, "proposed class %s", c)
	}
}

// recorder is a testing.TB that keeps the errors reported to it.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func TestCheckModel(t *testing.T) {
	good := discovery.Batch{Source: "test", CIs: []discovery.CI{
		{Ref: "s", Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "serial_number": "ABC123", "cpu_count": 4}},
		{Ref: "a", Class: "ApplicationInstance", Attributes: map[string]any{"name": "nginx", "host": "web01", "port": int64(80)}},
	}, Relationships: []discovery.Relationship{
		{Type: "RUNS_ON", From: discovery.ByRef("a"), To: discovery.ByIdentity("Server", map[string]any{"serial_number": "ABC123"})},
	}}
	for _, tc := range []struct {
		name   string
		change func(b *discovery.Batch)
		errors int
	}{
		{"good", func(*discovery.Batch) {}, 0},
		{"unknown class", func(b *discovery.Batch) { b.CIs[0].Class = "Toaster" }, 1},
		{"abstract class", func(b *discovery.Batch) { b.CIs[1].Class = "CI" }, 5}, // abstract, lacks host and port, no rule, not a RUNS_ON source
		{"unknown attribute", func(b *discovery.Batch) { b.CIs[0].Attributes["colour"] = "red" }, 1},
		{"wrong type", func(b *discovery.Batch) { b.CIs[0].Attributes["cpu_count"] = "four" }, 1},
		{"out of range", func(b *discovery.Batch) { b.CIs[1].Attributes["port"] = int64(70000) }, 1},
		{"not identified", func(b *discovery.Batch) { delete(b.CIs[1].Attributes, "host") }, 1},
		{"placeholder serial does not identify", func(b *discovery.Batch) { b.CIs[0].Attributes["serial_number"] = "To be filled by O.E.M." }, 1},
		{"end class not allowed", func(b *discovery.Batch) { b.Relationships[0].To = discovery.ByRef("a") }, 1},
		{"unknown relationship type", func(b *discovery.Batch) { b.Relationships[0].Type = "LIKES" }, 1},
		{"end not identified", func(b *discovery.Batch) { b.Relationships[0].To.Identity = map[string]any{"os_name": "Linux"} }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good
			b.CIs = []discovery.CI{
				{Ref: "s", Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "serial_number": "ABC123", "cpu_count": 4}},
				{Ref: "a", Class: "ApplicationInstance", Attributes: map[string]any{"name": "nginx", "host": "web01", "port": int64(80)}},
			}
			b.Relationships = []discovery.Relationship{good.Relationships[0]}
			b.Relationships[0].To.Identity = map[string]any{"serial_number": "ABC123"}
			tc.change(&b)
			r := &recorder{TB: t}
			CheckModel(r, b)
			assert.Len(t, r.errors, tc.errors, "%q", r.errors)
		})
	}
}
