package discovery

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	server := CI{Ref: "srv", Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "cpu_count": 4}}
	app := CI{Ref: "app", Class: "ApplicationInstance", Attributes: map[string]any{"name": "nginx", "host": "web01", "port": int64(80)}}
	valid := func() Batch {
		return Batch{
			Source: "host",
			Scope:  &Scope{Name: "host:web01"},
			CIs:    []CI{server, app},
			Relationships: []Relationship{
				{Type: "RUNS_ON", From: ByRef("app"), To: ByRef("srv")},
				{Type: "DEPENDS_ON", From: ByRef("app"), To: ByIdentity("Endpoint", map[string]any{"host": "10.0.0.9", "port": 5432, "protocol": "tcp"})},
			},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(b *Batch)
		fields []string // the fields named, in any order; none for a valid batch
	}{
		{"valid", func(*Batch) {}, nil},
		{"no source", func(b *Batch) { b.Source = "" }, []string{"source"}},
		{"empty scope name", func(b *Batch) { b.Scope = &Scope{} }, []string{"scope.name"}},
		{"no class", func(b *Batch) { b.CIs[1].Class = "" }, []string{"cis[1].class"}},
		{"duplicate ref", func(b *Batch) { b.CIs[1].Ref = "srv" }, []string{"cis[1].ref", "relationships[0].from.ref", "relationships[1].from.ref"}},
		{"bad attribute name", func(b *Batch) { b.CIs[0].Attributes["cpuCount"] = 2 }, []string{"cis[0].attributes.cpuCount"}},
		{"bad attribute type", func(b *Batch) { b.CIs[0].Attributes["tags"] = []int{1} }, []string{"cis[0].attributes.tags"}},
		{"no type", func(b *Batch) { b.Relationships[0].Type = "" }, []string{"relationships[0].type"}},
		{"unknown ref", func(b *Batch) { b.Relationships[0].To = ByRef("nope") }, []string{"relationships[0].to.ref"}},
		{"empty end", func(b *Batch) { b.Relationships[1].From = End{} }, []string{"relationships[1].from"}},
		{"ref and identity", func(b *Batch) { b.Relationships[1].To.Ref = "srv" }, []string{"relationships[1].to"}},
		{"identity without class", func(b *Batch) { b.Relationships[1].To.Class = "" }, []string{"relationships[1].to.class"}},
		{"class without identity", func(b *Batch) { b.Relationships[1].To.Identity = nil }, []string{"relationships[1].to.identity"}},
		{"bad identity value", func(b *Batch) { b.Relationships[1].To.Identity["port"] = struct{}{} }, []string{"relationships[1].to.identity.port"}},
		{"several at once", func(b *Batch) {
			b.Source = ""
			b.Relationships[0].To = ByRef("gone")
		}, []string{"source", "relationships[0].to.ref"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := valid()
			b.CIs[0].Attributes = map[string]any{"name": "web01", "cpu_count": 4}
			tc.change(&b)
			err := b.Validate()
			if tc.fields == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var first *InvalidError
			require.True(t, errors.As(err, &first), "an *InvalidError: %v", err)
			var fields []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var ie *InvalidError
				require.True(t, errors.As(e, &ie))
				fields = append(fields, ie.Field)
			}
			assert.ElementsMatch(t, tc.fields, fields, "%v", err)
		})
	}
}

func TestRelateSkipsRepeats(t *testing.T) {
	var b Batch
	b.Relate("DEPENDS_ON", ByRef("a"), ByRef("b"))
	b.Relate("DEPENDS_ON", ByRef("a"), ByRef("b"))
	b.Relate("RUNS_ON", ByRef("a"), ByRef("b"))
	b.Relate("DEPENDS_ON", ByRef("a"), ByIdentity("Endpoint", map[string]any{"host": "db", "port": 5432}))
	b.Relate("DEPENDS_ON", ByRef("a"), ByIdentity("Endpoint", map[string]any{"port": 5432, "host": "db"}))
	b.Relate("DEPENDS_ON", ByRef("a"), ByIdentity("Endpoint", map[string]any{"port": 5433, "host": "db"}))
	assert.Len(t, b.Relationships, 4)
}

func TestAddCIAndIdentityLeaveOutEmptyValues(t *testing.T) {
	var b Batch
	ref := b.AddCI(CI{Ref: "s", Class: "LinuxServer", Attributes: map[string]any{
		"name": "web01", "serial_number": "", "tags": []string{}, "mac_address": "aa:bb:cc:dd:ee:ff", "cpu_count": 0,
	}})
	assert.Equal(t, "s", ref)
	assert.Equal(t, map[string]any{"name": "web01", "mac_address": "aa:bb:cc:dd:ee:ff", "cpu_count": 0}, b.CIs[0].Attributes)

	end := IdentityOf(b.CIs[0], "Server", ServerIdentity())
	assert.Equal(t, End{Class: "Server", Identity: map[string]any{"name": "web01", "mac_address": "aa:bb:cc:dd:ee:ff"}}, end)
}

func TestNDJSONRoundTrip(t *testing.T) {
	in := []Batch{
		{Source: "host", Scope: &Scope{Name: "host:web01"}, CIs: []CI{
			{Ref: "srv", Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "cpu_count": int64(4), "tags": []string{"a", "b"}, "ratio": 0.5, "virtual": true}},
		}},
		{Source: "host", CIs: []CI{{Class: "Application", Attributes: map[string]any{"name": "x"}}}, Relationships: []Relationship{
			{Type: "DEPENDS_ON", From: ByRef("x"), To: ByIdentity("Endpoint", map[string]any{"port": int64(80), "host": "h"})},
		}},
	}
	var buf bytes.Buffer
	require.NoError(t, WriteNDJSON(&buf, in))
	assert.Equal(t, 2, bytes.Count(buf.Bytes(), []byte("\n")), "one line a batch")
	assert.Contains(t, buf.String(), `"relationships":[{"type":"DEPENDS_ON","from":{"ref":"x"},"to":{"class":"Endpoint","identity":{"host":"h","port":80}}}]`)
	out, err := ReadNDJSON(&buf)
	require.NoError(t, err)
	assert.Equal(t, in, out)
}
