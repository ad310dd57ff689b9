package cmdb

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func mustModel(t testing.TB) *Model {
	t.Helper()
	m, err := DefaultModel()
	require.NoError(t, err)
	return m
}

func TestDefaultModelHasRequiredClasses(t *testing.T) {
	m := mustModel(t)
	for _, name := range []string{"BusinessService", "Application", "ApplicationInstance", "Database", "DatabaseInstance",
		"Server", "LinuxServer", "WindowsServer", "VirtualMachine", "Hypervisor", "Container", "KubernetesCluster",
		"KubernetesNode", "KubernetesWorkload", "LoadBalancer", "NetworkDevice", "Switch", "Router", "Firewall",
		"StorageArray", "Cluster", "Location", "Datacenter", "Endpoint"} {
		c, ok := m.Class(name)
		require.True(t, ok, name)
		for _, common := range []string{"name", "status", "environment", "owner", "support_group", "criticality", "tags"} {
			_, ok := c.Attribute(common)
			assert.True(t, ok, "%s.%s", name, common)
		}
		assert.NotEmpty(t, c.Rules, name)
	}
	for _, rt := range []string{"DEPENDS_ON", "RUNS_ON", "HOSTED_ON", "CONNECTS_TO", "MEMBER_OF", "CONTAINS", "PROVIDED_BY", "LOCATED_IN", "BACKED_UP_BY"} {
		_, ok := m.RelType(rt)
		assert.True(t, ok, rt)
	}
	ls, _ := m.Class("LinuxServer")
	assert.Equal(t, "Server", ls.Family)
	vm, _ := m.Class("VirtualMachine")
	assert.Equal(t, "Server", vm.Family)
	assert.Len(t, vm.Rules, 5, "inherited rules plus vm_uuid")
	assert.ElementsMatch(t, []string{"Server", "LinuxServer", "WindowsServer", "Hypervisor", "VirtualMachine"}, m.WithSubclasses("Server"))
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, kind string
		in         any
		want       string
		ok         bool
	}{
		{"serial case and separators", NormSerial, " abc-123 45 ", "ABC12345", true},
		{"serial placeholder", NormSerial, "To be filled by O.E.M.", "", false},
		{"serial zeros", NormSerial, "0000-0000", "", false},
		{"mac colon upper", NormMAC, "00:1A:2B:3C:4D:5E", "00:1a:2b:3c:4d:5e", true},
		{"mac dashes", NormMAC, "00-1a-2b-3c-4d-5e", "00:1a:2b:3c:4d:5e", true},
		{"mac cisco dots", NormMAC, "001a.2b3c.4d5e", "00:1a:2b:3c:4d:5e", true},
		{"mac bare", NormMAC, "001A2B3C4D5E", "00:1a:2b:3c:4d:5e", true},
		{"mac garbage", NormMAC, "zz:1a:2b:3c:4d:5e", "", false},
		{"mac zero", NormMAC, "00:00:00:00:00:00", "", false},
		{"fqdn", NormFQDN, "Example.COM.", "example.com", true},
		{"text folds spaces", NormText, "  Web   Server 01 ", "web server 01", true},
		{"exact keeps case", NormExact, " i-0AbC ", "i-0AbC", true},
		{"int", NormText, int64(42), "42", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := normalize(tt.kind, tt.in)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestKeysAcrossFamily(t *testing.T) {
	m := mustModel(t)
	srv, _ := m.Class("Server")
	lin, _ := m.Class("LinuxServer")
	a := store.Attributes{"name": "web01", "serial_number": "abc 123", "dns_domain": "Example.com"}
	b := store.Attributes{"name": "WEB01", "serial_number": "ABC-123", "dns_domain": "example.com."}
	assert.Equal(t, srv.Keys(a), lin.Keys(b))
	assert.Equal(t, []string{"Server|serial_number|ABC123", "Server|name+dns_domain|web01\x1fexample.com"}, srv.Keys(a))
	// A placeholder serial does not identify; the next rule does.
	assert.Equal(t, []string{"Server|name+dns_domain|web01\x1fexample.com"},
		srv.Keys(store.Attributes{"name": "web01", "serial_number": "System Serial Number", "dns_domain": "example.com"}))
}

func TestPrepareErrors(t *testing.T) {
	m := mustModel(t)
	tests := []struct {
		name      string
		item      UpsertItem
		field     string
		reasonHas string
	}{
		{"unknown class lists valid", UpsertItem{Class: "Sever", Attributes: map[string]any{"name": "x"}}, "class", "did you mean Server"},
		{"abstract class", UpsertItem{Class: "CI", Attributes: map[string]any{"name": "x"}}, "class", "abstract"},
		{"missing name", UpsertItem{Class: "Application", Attributes: map[string]any{"vendor": "x"}}, "attributes.name", "required"},
		{"unknown attribute", UpsertItem{Class: "Application", Attributes: map[string]any{"name": "x", "serial": "1"}}, "attributes.serial", "allowed:"},
		{"bad enum", UpsertItem{Class: "Application", Attributes: map[string]any{"name": "x", "status": "dead"}}, "attributes.status", "planned, live, maintenance, retired"},
		{"int range", UpsertItem{Class: "Application", Attributes: map[string]any{"name": "x", "criticality": 9}}, "attributes.criticality", "1 to 4"},
		{"int type", UpsertItem{Class: "Application", Attributes: map[string]any{"name": "x", "criticality": "high"}}, "attributes.criticality", "whole number"},
		{"list type", UpsertItem{Class: "Application", Attributes: map[string]any{"name": "x", "tags": []any{"a", 1.0}}}, "attributes.tags[1]", "string"},
		{"cannot identify", UpsertItem{Class: "LinuxServer", Attributes: map[string]any{"name": "x"}}, "attributes", "serial_number"},
		{"control char", UpsertItem{Class: "Application", Attributes: map[string]any{"name": "a\x00b"}}, "attributes.name", "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.prepareOf(KindCI, tt.item)
			var ie *store.InvalidError
			require.True(t, errors.As(err, &ie), "got %v", err)
			assert.Equal(t, tt.field, ie.Field)
			assert.Contains(t, ie.Reason, tt.reasonHas)
		})
	}
}

func TestPrepareConverts(t *testing.T) {
	m := mustModel(t)
	u, err := m.prepareOf(KindCI, UpsertItem{Class: "LinuxServer", Attributes: map[string]any{
		"name": " web01 ", "serial_number": "X1", "cpu_count": "8", "memory_mb": 2048.0, "status": "LIVE",
		"tags": []any{"b", "a", "b"}, "description": "",
	}})
	require.NoError(t, err)
	assert.Equal(t, "web01", u.Attributes["name"])
	assert.Equal(t, int64(8), u.Attributes["cpu_count"])
	assert.Equal(t, int64(2048), u.Attributes["memory_mb"])
	assert.Equal(t, "live", u.Attributes["status"])
	assert.Equal(t, []string{"a", "b"}, u.Attributes["tags"])
	assert.Contains(t, u.Attributes, "description")
	assert.Nil(t, u.Attributes["description"], "empty string clears")
}

func TestReconcile(t *testing.T) {
	m := mustModel(t)
	now := time.Now().UTC()
	existing := &store.CI{ID: "1", Class: "Server",
		Attributes: store.Attributes{"name": "web01", "serial_number": "X1", "owner": "alice", "status": "live"},
		Sources:    map[string]string{"name": "ansible", "serial_number": "ansible", "owner": "api", "status": "ansible"},
		CreatedAt:  now}
	tests := []struct {
		name        string
		in          store.CIUpsert
		source      string
		wantClass   string
		wantChanged []string
		wantAttrs   store.Attributes
		wantErr     error
	}{
		{"more specific class wins", store.CIUpsert{Class: "LinuxServer", Attributes: store.Attributes{"name": "web01"}}, "ansible",
			"LinuxServer", []string{"class"}, nil, nil},
		{"less specific keeps class", store.CIUpsert{Class: "Server", Attributes: store.Attributes{"name": "web01"}}, "ansible",
			"Server", nil, nil, nil},
		{"sibling conflict", store.CIUpsert{Class: "Switch", Attributes: store.Attributes{"name": "web01"}}, "ansible",
			"", nil, nil, store.ErrConflict},
		{"lower precedence cannot overwrite api", store.CIUpsert{Class: "Server", Attributes: store.Attributes{"owner": "bob", "os_name": "Debian"}}, "ansible",
			"Server", []string{"os_name"}, store.Attributes{"owner": "alice", "os_name": "Debian"}, nil},
		{"api overwrites discovery", store.CIUpsert{Class: "Server", Attributes: store.Attributes{"status": "retired"}}, "api",
			"Server", []string{"status"}, store.Attributes{"status": "retired"}, nil},
		{"nil clears", store.CIUpsert{Class: "Server", Attributes: store.Attributes{"owner": nil}}, "api",
			"Server", []string{"owner"}, store.Attributes{"owner": nil}, nil},
		{"required cannot be cleared", store.CIUpsert{Class: "Server", Attributes: store.Attributes{"name": nil}}, "api",
			"", nil, nil, &store.InvalidError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := m.Reconcile(existing, tt.in, tt.source)
			if tt.wantErr != nil {
				require.Error(t, err)
				var ie *store.InvalidError
				if errors.As(tt.wantErr, &ie) {
					assert.True(t, errors.As(err, &ie))
				} else {
					assert.ErrorIs(t, err, tt.wantErr)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantClass, r.Class)
			var changed []string
			for _, c := range r.Changes {
				changed = append(changed, c.Field)
			}
			assert.Equal(t, tt.wantChanged, changed)
			for k, v := range tt.wantAttrs {
				if v == nil {
					assert.NotContains(t, r.Attributes, k)
				} else {
					assert.Equal(t, v, r.Attributes[k], k)
				}
			}
			assert.NotEmpty(t, r.Keys)
		})
	}
	// Unchanged input from the same source changes nothing.
	r, err := m.Reconcile(existing, store.CIUpsert{Class: "Server", Attributes: store.Attributes{"name": "web01", "serial_number": "X1"}}, "ansible")
	require.NoError(t, err)
	assert.Empty(t, r.Changes)
	// Create applies defaults and lists every field.
	r, err = m.Reconcile(nil, store.CIUpsert{Class: "Application", Attributes: store.Attributes{"name": "pay"}}, "api")
	require.NoError(t, err)
	assert.Equal(t, "live", r.Attributes["status"])
	assert.Len(t, r.Changes, 3) // class, name, status
}

func TestExtendModel(t *testing.T) {
	m := mustModel(t)
	m2, err := m.WithClass(ClassDef{Name: "PostgresCluster", Parent: "Cluster", Attributes: []AttributeDef{{Name: "patroni_scope", Type: TypeString}}})
	require.NoError(t, err)
	assert.True(t, m2.IsA("PostgresCluster", "Cluster"))
	_, ok := m.Class("PostgresCluster")
	assert.False(t, ok, "the original model is unchanged")

	_, err = m.WithClass(ClassDef{Name: "Server", Parent: "CI"})
	assert.ErrorIs(t, err, store.ErrConflict)
	_, err = m.WithClass(ClassDef{Name: "X", Parent: "Nope", Identification: [][]string{{"name"}}})
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "parent", ie.Field)
	_, err = m.WithClass(ClassDef{Name: "Bad;DROP", Parent: "CI"})
	require.ErrorAs(t, err, &ie)
	_, err = m.WithRelType(RelTypeDef{Name: "REPLICATES_TO", Sources: []string{"DatabaseInstance"}, Targets: []string{"DatabaseInstance"},
		Impact: Impact{Propagates: "sideways"}})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "impact.propagates", ie.Field)
}

// TestClassNamesAreChecked: UpperCamel, no case-insensitive clash; yet an
// extension an older Skein persisted under today's refused name still loads.
func TestClassNamesAreChecked(t *testing.T) {
	m, err := DefaultModel()
	require.NoError(t, err)
	for _, name := range []string{"server", "messageQueue", "Bad-Name", "_X", ""} {
		_, err := m.WithClass(ClassDef{Name: name, Parent: "CI", Identification: [][]string{{"name"}}})
		var ie *store.InvalidError
		if assert.ErrorAs(t, err, &ie, name) {
			assert.Equal(t, "name", ie.Field)
		}
	}
	for _, name := range []string{"SERVER", "Server", "LINUXSERVER", "Businessservice"} {
		_, err := m.WithClass(ClassDef{Name: name, Parent: "CI", Identification: [][]string{{"name"}}})
		assert.ErrorIs(t, err, store.ErrConflict, name)
	}
	_, err = m.WithClass(ClassDef{Name: "MessageQueue", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)

	legacy, err := m.Extend([]store.ModelExtension{{Kind: store.KindClass, Name: "server",
		Definition: []byte(`{"name":"server","parent":"CI","identification":[["name"]]}`)}})
	require.NoError(t, err)
	_, ok := legacy.Class("server")
	assert.True(t, ok)
}
