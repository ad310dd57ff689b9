package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// valueCases pin how values are stored: the time range every backend
// keeps faithfully, canonical identifying attributes, and the text rule.
var valueCases = []testCase{
	{"TimeValuesAtTheRangeLimits", testTimeRange},
	{"NormalisedAttributesAreStoredCanonical", testCanonicalAttributes},
	{"TextRuleForNamesAndIdentifiers", testTextRule},
	{"ModelExtensionsCanBeRetired", testRetireExtensions},
}

// timedClass registers a class with a time attribute (the default model
// has none) and returns a service that knows it.
func timedClass(t *testing.T, st store.Store) *cmdb.Service {
	t.Helper()
	svc := newService(t, st)
	_, err := svc.RegisterClass(t.Context(), api, cmdb.ClassDef{
		Name: "Certificate", Parent: "CI", Identification: [][]string{{"name"}},
		Attributes: []cmdb.AttributeDef{{Name: "expires_on", Type: cmdb.TypeTime}},
	})
	require.NoError(t, err)
	return svc
}

func testTimeRange(t *testing.T, st store.Store) {
	svc := timedClass(t, st)
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		in   any
		want time.Time
	}{
		{"first instant", "1678-01-01T00:00:00Z", store.MinTime},
		{"last instant", "2261-12-31T23:59:59.999999999Z", store.MaxTime},
		{"last instant as time", store.MaxTime, store.MaxTime},
		{"plain date", "2261-12-31", time.Date(2261, 12, 31, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := upsertOK(t, svc, api, cmdb.UpsertItem{Class: "Certificate", Attributes: map[string]any{"name": "cert-" + tt.name, "expires_on": tt.in}})[0]
			got, err := st.Nodes(ctx, store.KindCI, []store.ID{r.Node.ID})
			require.NoError(t, err)
			v, ok := got[r.Node.ID].Attributes["expires_on"].(time.Time)
			require.True(t, ok, "%#v", got[r.Node.ID].Attributes["expires_on"])
			assert.True(t, tt.want.Equal(v), "stored %s, read back %s", tt.want, v)
			// A change at the limit is recorded, and the record decodes.
			r2 := upsertOK(t, svc, api, cmdb.UpsertItem{Class: "Certificate", Attributes: map[string]any{"name": "cert-" + tt.name, "expires_on": "2000-01-01"}})[0]
			require.Equal(t, store.StatusUpdated, r2.Status)
			h := history(t, st, string(r.Node.ID))
			require.Len(t, h, 2)
			var before any
			for _, c := range h[0].Changes {
				if c.Field == "expires_on" {
					before = c.Before
				}
			}
			bt, ok := before.(time.Time)
			require.True(t, ok, "before value %#v", before)
			assert.True(t, tt.want.Equal(bt), "history keeps %s, got %s", tt.want, bt)
		})
	}
	for _, tt := range []struct {
		name string
		in   any
	}{
		{"year 0", "0000-01-01T00:00:00Z"},
		{"year 1", "0001-01-01"},
		{"just before", "1677-12-31T23:59:59.999999999Z"},
		{"just after", "2262-01-01T00:00:00Z"},
		{"year 9999", "9999-12-31"},
		{"far time value", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run("refused "+tt.name, func(t *testing.T) {
			_, err := svc.Upsert(ctx, api, []cmdb.UpsertItem{{Class: "Certificate", Attributes: map[string]any{"name": "bad", "expires_on": tt.in}}}, true)
			ie := requireInvalid(t, err, "items[0].attributes.expires_on")
			assert.Contains(t, ie.Reason, "1678")
			assert.Contains(t, ie.Reason, "2261")
		})
	}
	// The backend applies the same rule to what reaches it directly.
	far := time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
	res, err := st.UpsertNodes(ctx, api, store.UpsertBatch{
		Items:     []store.CIUpsert{{Class: "Application", Keys: []string{"Application|name|far"}, Attributes: store.Attributes{"name": "far", "when": far}}},
		Reconcile: mustModel(t).Reconcile,
	})
	if err == nil {
		require.Len(t, res, 1)
		err = res[0].Err
	}
	requireInvalid(t, err, "items[0].attributes.when")
	assert.Equal(t, 0, countCIs(t, st, store.NodeFilter{Kind: store.KindCI, Classes: []string{"Application"}}), "nothing out of range was stored")
}

func mustModel(t *testing.T) *cmdb.Model {
	t.Helper()
	m, err := cmdb.DefaultModel()
	require.NoError(t, err)
	return m
}

func testCanonicalAttributes(t *testing.T, st store.Store) {
	svc := newService(t, st)
	ctx := t.Context()
	first := upsertOK(t, svc, agent, server("Server", "name", "web01", "mac_address", "AA:BB:CC:00:11:22",
		"serial_number", "abc-123 45", "dns_domain", "Example.COM."))[0]
	assert.Equal(t, "aa:bb:cc:00:11:22", first.Node.Attributes["mac_address"], "stored in canonical form")
	assert.Equal(t, "ABC12345", first.Node.Attributes["serial_number"])
	assert.Equal(t, "example.com", first.Node.Attributes["dns_domain"])
	for _, spelling := range []map[string]any{
		{"mac_address": "aa-bb-cc-00-11-22", "serial_number": "ABC-12345", "dns_domain": "example.com"},
		{"mac_address": "aabb.cc00.1122", "serial_number": "abc 123 45", "dns_domain": "EXAMPLE.com."},
		{"mac_address": "aabbcc001122", "serial_number": "abc:12345", "dns_domain": " example.com "},
	} {
		spelling["name"] = "web01"
		r := upsertOK(t, svc, agent, cmdb.UpsertItem{Class: "Server", Attributes: spelling})[0]
		assert.Equal(t, first.Node.ID, r.Node.ID)
		assert.Equal(t, store.StatusUnchanged, r.Status, "%v: another spelling of the same values changes nothing", spelling)
		assert.Empty(t, r.Changes)
	}
	assert.Len(t, history(t, st, string(first.Node.ID)), 1, "no audit record for a respelling")
	// A malformed MAC address is kept as given (it identifies nothing).
	odd := upsertOK(t, svc, agent, server("Server", "name", "odd", "dns_domain", "corp", "mac_address", "not-a-mac"))[0]
	assert.Equal(t, "not-a-mac", odd.Node.Attributes["mac_address"])

	// Filters on these attributes normalise the value the same way.
	for _, f := range []map[string]any{
		{"mac_address": "aa:bb:cc:00:11:22"},
		{"mac_address": "AA-BB-CC-00-11-22"},
		{"mac_address": "aabb.cc00.1122"},
		{"serial_number": "abc-123-45"},
		{"dns_domain": "EXAMPLE.COM."},
	} {
		p, err := svc.ListCIs(ctx, cmdb.Filter{Attributes: f}, store.PageRequest{})
		require.NoError(t, err)
		if assert.Len(t, p.Items, 1, "filter %v", f) {
			assert.Equal(t, first.Node.ID, p.Items[0].ID)
		}
	}
}

func testTextRule(t *testing.T, st store.Store) {
	svc := newService(t, st)
	ctx := t.Context()
	// "séver" typed precomposed (U+00E9) and decomposed (e + U+0301) is
	// one name, stored in NFC.
	a := upsertOK(t, svc, agent, app("s\u00e9ver"))[0]
	b := upsertOK(t, svc, agent, app("se\u0301ver"))[0]
	assert.Equal(t, a.Node.ID, b.Node.ID)
	assert.Equal(t, store.StatusUnchanged, b.Status)
	assert.Equal(t, "s\u00e9ver", a.Node.Attributes["name"])
	p, err := svc.ListCIs(ctx, cmdb.Filter{NamePrefix: "se\u0301"}, store.PageRequest{})
	require.NoError(t, err)
	assert.Len(t, p.Items, 1, "a name filter typed the other way finds it")
	for _, tt := range []struct {
		name, value string
	}{
		{"newline", "web\n01"},
		{"tab", "web\t01"},
		{"bidi override", "web\u202e10"},
		{"zero-width space", "web\u200b01"},
		{"zero-width joiner", "web\u200d01"},
		{"byte order mark", "\ufeffweb01"},
		{"invalid UTF-8", "web\xff01"},
		{"NUL", "web\x0001"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Upsert(ctx, agent, []cmdb.UpsertItem{app(tt.value)}, true)
			requireInvalid(t, err, "items[0].attributes.name")
			_, err = svc.Upsert(ctx, agent, []cmdb.UpsertItem{server("Server", "name", "x", "serial_number", tt.value)}, true)
			requireInvalid(t, err, "items[0].attributes.serial_number")
		})
	}
	// Free text keeps line breaks and tabs, still in NFC.
	d := upsertOK(t, svc, agent, app("notes", "description", "line one\n\tline two, se\u0301ver"))[0]
	assert.Equal(t, "line one\n\tline two, s\u00e9ver", d.Node.Attributes["description"])
	_, err = svc.Upsert(ctx, agent, []cmdb.UpsertItem{app("notes", "description", "a\u202eb")}, true)
	requireInvalid(t, err, "items[0].attributes.description")
	assert.Equal(t, 2, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testRetireExtensions(t *testing.T, st store.Store) {
	svc := newService(t, st)
	ctx := t.Context()
	_, err := svc.RegisterClass(ctx, api, cmdb.ClassDef{Name: "MessageQueue", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)
	_, err = svc.RegisterClass(ctx, api, cmdb.ClassDef{Name: "KafkaTopic", Parent: "MessageQueue"})
	require.NoError(t, err)
	_, err = svc.RegisterRelationshipType(ctx, api, cmdb.RelTypeDef{Name: "PUBLISHES_TO", Impact: cmdb.Impact{Propagates: cmdb.PropagatesNone}})
	require.NoError(t, err)

	// The default model's classes are not extensions.
	err = svc.RetireClass(ctx, api, "Server")
	requireInvalid(t, err, "input.name")
	err = svc.RetireRelationshipType(ctx, api, "DEPENDS_ON")
	requireInvalid(t, err, "input.name")
	err = svc.RetireClass(ctx, api, "NoSuchClass")
	assert.ErrorIs(t, err, store.ErrNotFound)
	// A class with subclasses stays; so do a class with CIs and a type
	// with relationships.
	err = svc.RetireClass(ctx, api, "MessageQueue")
	requireInvalid(t, err, "input.name")
	topics := upsertOK(t, svc, api,
		cmdb.UpsertItem{Class: "KafkaTopic", Attributes: map[string]any{"name": "orders"}},
		cmdb.UpsertItem{Class: "KafkaTopic", Attributes: map[string]any{"name": "payments"}})
	ids := []store.ID{topics[0].Node.ID, topics[1].Node.ID}
	link(t, st, ids, edge{0, 1, "PUBLISHES_TO"})
	err = svc.RetireClass(ctx, api, "KafkaTopic")
	assert.ErrorIs(t, err, store.ErrConflict)
	err = svc.RetireRelationshipType(ctx, api, "PUBLISHES_TO")
	assert.ErrorIs(t, err, store.ErrConflict)
	_, err = svc.PurgeCIs(ctx, api, ids, false)
	require.NoError(t, err)
	require.NoError(t, svc.RetireClass(ctx, api, "KafkaTopic"))
	require.NoError(t, svc.RetireClass(ctx, api, "MessageQueue"))
	require.NoError(t, svc.RetireRelationshipType(ctx, api, "PUBLISHES_TO"))
	_, ok := svc.Model().Class("MessageQueue")
	assert.False(t, ok)

	// Another process (a new service on the same store) no longer sees them,
	// and the names can be registered again.
	svc2 := newService(t, st)
	_, ok = svc2.Model().Class("KafkaTopic")
	assert.False(t, ok)
	_, ok = svc2.Model().RelType("PUBLISHES_TO")
	assert.False(t, ok)
	_, err = svc2.RegisterClass(ctx, api, cmdb.ClassDef{Name: "MessageQueue", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)
	// Retirements are audited.
	h := history(t, st, "PUBLISHES_TO")
	require.Len(t, h, 2)
	assert.Equal(t, store.ActionDelete, h[0].Action)
	assert.Equal(t, api, h[0].Actor)
	err = st.RetireModelExtension(ctx, api, store.KindClass, "KafkaTopic")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
