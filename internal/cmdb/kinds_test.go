package cmdb

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

func TestDefaultModelKinds(t *testing.T) {
	m := mustModel(t)
	assert.Equal(t, []string{KindCI, "person", "group", "incident", "change", "problem", "change_task", "problem_task", "catalog_item", "request", "requested_item", "catalog_task", "asset", "asset_model", "knowledge", "knowledge_version", "change_template", "change_window", "webhook", "delivery", "journal"}, m.Kinds())
	for class, kind := range map[string]string{"CI": KindCI, "Server": KindCI, "VirtualMachine": KindCI, "Person": "person", "Group": "group", "Incident": "incident", "Nope": ""} {
		assert.Equal(t, kind, m.KindOf(class), class)
	}
	root, ok := m.KindRoot("person")
	require.True(t, ok)
	assert.Equal(t, "Person", root.Def.Name)
	assert.Equal(t, "Person", root.Family, "people are identified within their own family")
	p, _ := m.Class("Person")
	assert.Equal(t, [][]string{{"user_name"}, {"email"}, {"employee_number"}}, p.Rules)
	_, inherits := p.Attribute("status")
	assert.False(t, inherits, "a person does not inherit CI attributes")

	for _, c := range m.ClassesOf(KindCI) {
		assert.Equal(t, KindCI, c.Kind, c.Def.Name)
	}
	assert.Len(t, m.ClassesOf("group"), 1)
	assert.Empty(t, m.ClassesOf("ticket"))
	inc, ok := m.KindRoot("incident")
	require.True(t, ok)
	assert.True(t, inc.Def.Workflow, "incidents change through their workflow only")

	for _, rt := range []string{"OWNED_BY", "SUPPORTED_BY", "MEMBER_OF_GROUP", "MANAGED_BY", "AFFECTS", "REPORTED_BY", "ASSIGNED_TO", "ASSIGNED_TO_GROUP"} {
		r, ok := m.RelType(rt)
		require.True(t, ok, rt)
		assert.Equal(t, PropagatesNone, r.Def.Impact.Propagates, "impact never travels along %s", rt)
	}
}

func TestKindsInModelFile(t *testing.T) {
	const ci = "classes:\n  - {name: CI, abstract: true, attributes: [{name: name, type: string}]}\n"
	tests := []struct {
		name, yaml, field string
	}{
		{"second root without a kind", ci + "  - {name: Other, identification: [[x]], attributes: [{name: x, type: string}]}\n", "parent"},
		{"second root of kind ci", ci + "  - {name: Other, kind: ci, identification: [[x]], attributes: [{name: x, type: string}]}\n", "parent"},
		{"two roots of one kind", ci + "  - {name: P, kind: person, identification: [[x]], attributes: [{name: x, type: string}]}\n  - {name: Q, kind: person, identification: [[x]], attributes: [{name: x, type: string}]}\n", "kind"},
		{"subclass with another kind", ci + "  - {name: S, parent: CI, kind: person, identification: [[name]]}\n", "kind"},
		{"first root not ci", "classes:\n  - {name: P, kind: person, identification: [[x]], attributes: [{name: x, type: string}]}\n", "kind"},
		{"kind not lower case", ci + "  - {name: P, kind: Person, identification: [[x]], attributes: [{name: x, type: string}]}\n", "kind"},
		{"kind with a space", ci + "  - {name: P, kind: \"per son\", identification: [[x]], attributes: [{name: x, type: string}]}\n", "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseModel([]byte(tt.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
	m, err := ParseModel([]byte(ci + "  - {name: S, parent: CI, identification: [[name]]}\n  - {name: P, kind: person, identification: [[x]], attributes: [{name: x, type: string}]}\n  - {name: Q, parent: P}\n"))
	require.NoError(t, err)
	assert.Equal(t, "person", m.KindOf("Q"), "subclasses inherit the kind")
	assert.Equal(t, KindCI, m.KindOf("S"))
}

func TestRegisteredClassesAreCIClasses(t *testing.T) {
	m := mustModel(t)
	tests := []struct {
		name  string
		def   ClassDef
		field string
	}{
		{"parent of another kind", ClassDef{Name: "Contractor", Parent: "Person"}, "parent"},
		{"a kind of its own", ClassDef{Name: "Ticket", Kind: "ticket", Identification: [][]string{{"name"}}}, "kind"},
		{"a person kind under CI", ClassDef{Name: "Robot", Parent: "CI", Kind: "person", Identification: [][]string{{"name"}}}, "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.WithClass(tt.def)
			var ie *store.InvalidError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.field, ie.Field)
		})
	}
	n, err := m.WithClass(ClassDef{Name: "MessageQueue", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)
	assert.Equal(t, KindCI, n.KindOf("MessageQueue"))
}

func TestLookupClassOfKind(t *testing.T) {
	m := mustModel(t)
	_, err := m.LookupClass("class", "Person")
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "class", ie.Field)
	assert.Contains(t, ie.Error(), "Person is a person class, not a CI class")
	assert.NotContains(t, ie.Error(), "Group", "the valid classes listed are CI classes")

	c, err := m.LookupClassOf("person", "class", "Person")
	require.NoError(t, err)
	assert.Equal(t, "Person", c.Def.Name)
	_, err = m.LookupClassOf("person", "class", "Server")
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Error(), "Server is a ci class, not a person class")
	_, err = m.LookupClassOf("group", "class", "Grup")
	require.ErrorAs(t, err, &ie)
	assert.Contains(t, ie.Error(), "did you mean Group?")
}

func TestEmailAttributes(t *testing.T) {
	m := mustModel(t)
	p, _ := m.Class("Person")
	tests := []struct {
		in   string
		want any
		ok   bool
	}{
		{"Alice.Martin@Example.COM", "alice.martin@example.com", true},
		{"  bob@example.com ", "bob@example.com", true},
		{"root@localhost", "root@localhost", true},
		{"alice", nil, false},
		{"@example.com", nil, false},
		{"alice@", nil, false},
		{"a@b@c", nil, false},
		{"Alice <alice@example.com>", nil, false},
		{"alice @example.com", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			attrs, _, err := validateAttributes(p, "Person", "attributes", map[string]any{"email": tt.in})
			if !tt.ok {
				var ie *store.InvalidError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, "attributes.email", ie.Field)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, attrs["email"])
		})
	}
	keys := p.Keys(store.Attributes{"user_name": "AMartin", "email": "alice.martin@example.com"})
	assert.Equal(t, []string{"Person|user_name|amartin", "Person|email|alice.martin@example.com"}, keys)
}

func TestAttributePrecedence(t *testing.T) {
	m := mustModel(t)
	tests := []struct {
		class, attr, source string
		want                int
	}{
		{"Server", "cpu_count", "vcenter", 90},
		{"VirtualMachine", "memory_mb", "aws", 90},     // inherited from the Server rule
		{"VirtualMachine", "cpu_count", "ansible", 54}, // unlisted source: its global rank
		{"VirtualMachine", "cpu_count", "puppet", 50},  // unknown source: the default
		{"VirtualMachine", "cpu_count", "api", 100},    // unlisted source: global rank
		{"VirtualMachine", "name", "vcenter", 50},      // unlisted attribute
		{"Application", "cpu_count", "vcenter", 50},    // not a Server
		{"Nope", "cpu_count", "vcenter", 50},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, m.AttributePrecedence(tt.class, tt.attr, tt.source), "%s.%s from %s", tt.class, tt.attr, tt.source)
	}

	// The nearest class's rule wins, and reconciliation follows it per
	// attribute.
	const file = `sources: {default: 50, api: 100}
attribute_precedence:
  - {class: Server, attributes: [cpu_count], sources: {vcenter: 120}}
  - {class: VirtualMachine, attributes: [cpu_count], sources: {vcenter: 70}}
classes:
  - {name: CI, abstract: true, attributes: [{name: name, type: string}]}
  - {name: Server, parent: CI, identification: [[name]], attributes: [{name: cpu_count, type: int}, {name: os, type: string}]}
  - {name: VirtualMachine, parent: Server}
`
	m2, err := ParseModel([]byte(file))
	require.NoError(t, err)
	assert.Equal(t, 120, m2.AttributePrecedence("Server", "cpu_count", "vcenter"))
	assert.Equal(t, 70, m2.AttributePrecedence("VirtualMachine", "cpu_count", "vcenter"))

	stored := &store.CI{ID: "x", Class: "Server", Attributes: store.Attributes{"name": "a", "cpu_count": int64(4), "os": "linux"},
		Sources: map[string]string{"name": "vcenter", "cpu_count": "vcenter", "os": "vcenter"}}
	r, err := m2.Reconcile(stored, store.CIUpsert{Class: "Server", Attributes: store.Attributes{"cpu_count": int64(8), "os": "windows"}}, "api")
	require.NoError(t, err)
	assert.Equal(t, int64(4), r.Attributes["cpu_count"], "vcenter (120) owns cpu_count of a Server against api (100)")
	assert.Equal(t, "windows", r.Attributes["os"], "api (100) outranks vcenter (default 50) on other attributes")
	stored.Class = "VirtualMachine"
	r, err = m2.Reconcile(stored, store.CIUpsert{Class: "VirtualMachine", Attributes: store.Attributes{"cpu_count": int64(8)}}, "api")
	require.NoError(t, err)
	assert.Equal(t, int64(8), r.Attributes["cpu_count"], "on a VirtualMachine vcenter ranks 70, below api")
	assert.Equal(t, "api", r.Sources["cpu_count"])
}

func TestAttributePrecedenceRulesAreChecked(t *testing.T) {
	const classes = `classes:
  - {name: CI, abstract: true, attributes: [{name: name, type: string}]}
  - {name: Server, parent: CI, identification: [[name]], attributes: [{name: cpu_count, type: int}]}
`
	tests := []struct{ name, rules, want string }{
		{"unknown class", "  - {class: Servr, attributes: [cpu_count], sources: {a: 1}}", "did you mean Server"},
		{"unknown attribute", "  - {class: Server, attributes: [cpus], sources: {a: 1}}", "attributes[0]"},
		{"no sources", "  - {class: Server, attributes: [cpu_count], sources: {}}", "at least one"},
		{"rank too high", "  - {class: Server, attributes: [cpu_count], sources: {a: 1001}}", "out of range"},
		{"negative rank", "  - {class: Server, attributes: [cpu_count], sources: {a: -1}}", "out of range"},
		{"ranked twice", "  - {class: Server, attributes: [cpu_count], sources: {a: 1}}\n  - {class: Server, attributes: [cpu_count], sources: {a: 2}}", "ranked twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseModel([]byte(classes + "attribute_precedence:\n" + tt.rules + "\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := ParseModel([]byte("sources: {default: 50, api: 5000}\n" + classes))
	require.ErrorContains(t, err, "sources.api")
}

// TestRefreshRule: a value a stronger source set gives way to a weaker
// source once it has not been set for its rule's refresh_days, measured
// at the write's time; a value of unknown age never does.
func TestRefreshRule(t *testing.T) {
	m := mustModel(t)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		class, attr  string
		setAt        time.Time
		stale        bool
		reconcileSet bool // ansible's report replaces vcenter's value
	}{
		{"fresh", "VirtualMachine", "memory_mb", now.Add(-29 * 24 * time.Hour), false, false},
		{"older than 30 days", "VirtualMachine", "memory_mb", now.Add(-31 * 24 * time.Hour), true, true},
		{"unknown age", "VirtualMachine", "memory_mb", time.Time{}, false, false},
		{"attribute without a rule", "VirtualMachine", "os_name", now.Add(-400 * 24 * time.Hour), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.stale, m.Stale(tt.class, tt.attr, tt.setAt, now))
			stored := &store.CI{ID: "x", Class: tt.class, Attributes: store.Attributes{"name": "vm", "vm_uuid": "u", tt.attr: "a"},
				Sources: map[string]string{"name": "vcenter", "vm_uuid": "vcenter", tt.attr: "vcenter"},
				SetAt:   map[string]time.Time{tt.attr: tt.setAt}}
			if tt.attr == "memory_mb" {
				stored.Attributes[tt.attr] = int64(4096)
			}
			var v any = "b"
			if tt.attr == "memory_mb" {
				v = int64(2048)
			}
			if tt.attr == "os_name" {
				// os_name has no rule: equal ranks, so ansible replaces it anyway;
				// make the setter stronger to test that no refresh applies.
				stored.Sources[tt.attr] = "api"
			}
			r, err := m.Reconcile(stored, store.CIUpsert{Class: tt.class, Attributes: store.Attributes{tt.attr: v}, At: now}, "ansible")
			require.NoError(t, err)
			assert.Equal(t, tt.reconcileSet, store.EqualValues(r.Attributes[tt.attr], v), "value %v", r.Attributes[tt.attr])
		})
	}
	_, err := ParseModel([]byte("classes:\n  - {name: CI, abstract: true, attributes: [{name: a, type: string}]}\n" +
		"attribute_precedence:\n  - {class: CI, attributes: [a], refresh_days: 4000}\n"))
	require.ErrorContains(t, err, "refresh_days")
}
