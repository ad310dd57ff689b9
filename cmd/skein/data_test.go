package main

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

// TestAPIDataRules checks, over HTTP on both backends, how the API reads
// the values clients send: Time values, class names, identifying
// attributes in another spelling, text and ids.
func TestAPIDataRules(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			logs := &lockedBuffer{}
			a, err := newApp(t.Context(), mk(t), slog.New(slog.NewTextHandler(logs, nil)))
			require.NoError(t, err)
			srv := httptest.NewServer(a.Handler)
			t.Cleanup(func() { srv.Close(); a.Close() })
			useToken(t, srv.URL, issueToken(t, a, "data-test", auth.Admin))
			url := srv.URL
			t.Run("TimeValues", func(t *testing.T) { testAPITimeValues(t, url) })
			t.Run("ClassNames", func(t *testing.T) { testAPIClassNames(t, url) })
			t.Run("RetireExtensions", func(t *testing.T) { testAPIRetireExtensions(t, url) })
			t.Run("IdentifyingSpellings", func(t *testing.T) { testAPIIdentifyingSpellings(t, url) })
			t.Run("TextRule", func(t *testing.T) { testAPITextRule(t, url) })
			t.Run("OneIDForm", func(t *testing.T) { testAPIOneIDForm(t, url) })
			assert.NotContains(t, logs.String(), "level=ERROR", "a client's mistake is not an error of ours")
		})
	}
}

// requireCode runs a request that must fail with code on field.
func requireCode(t *testing.T, url, query string, vars map[string]any, code, field string) string {
	t.Helper()
	r := gql(t, url, query, vars)
	require.NotEmpty(t, r.Errors, r.raw)
	assert.Equal(t, code, r.Errors[0].Extensions["code"], r.raw)
	if field != "" {
		assert.Equal(t, field, r.Errors[0].Extensions["field"], r.raw)
	}
	return r.Errors[0].Message
}

func testAPITimeValues(t *testing.T, url string) {
	upsertIDs(t, url, item("Application", map[string]any{"name": "time-app"}))
	// A plain date is midnight UTC.
	d := ok(t, url, `{ a: cis(filter: {notSeenSince: "2024-01-01"}) { totalCount } b: cis(filter: {notSeenSince: "2200-01-01"}) { totalCount }
		c: cis(filter: {notSeenSince: "2024-01-01T00:00:00+02:00"}) { totalCount } }`, nil)
	assert.Equal(t, float64(0), get(d, "a", "totalCount"))
	assert.Equal(t, float64(0), get(d, "c", "totalCount"))
	require.NotNil(t, get(d, "b", "totalCount"))
	for _, bad := range []string{"yesterday", "2024-13-01", "01/02/2024", "2024-01-01 10:00"} {
		msg := requireCode(t, url, `query($t: Time) { cis(filter: {notSeenSince: $t}) { totalCount } }`, map[string]any{"t": bad}, "INVALID", "filter.notSeenSince")
		assert.Contains(t, msg, "RFC 3339", bad)
		msg = requireCode(t, url, `query { cis(filter: {notSeenSince: "`+bad+`"}) { totalCount } }`, nil, "INVALID", "filter.notSeenSince")
		assert.Contains(t, msg, "2024-05-01", bad)
	}
	for _, far := range []string{"0000-01-01", "1677-12-31T23:59:59Z", "9999-12-31T00:00:00Z"} {
		msg := requireCode(t, url, `query($t: Time) { cis(filter: {notSeenSince: $t}) { totalCount } }`, map[string]any{"t": far}, "INVALID", "filter.notSeenSince")
		assert.Contains(t, msg, "1678 to 2261", far)
	}
	requireCode(t, url, `mutation($in: CreateAPITokenInput!) { createAPIToken(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"name": "bad-expiry", "role": "VIEWER", "expiresAt": "next week"}}, "INVALID", "input.expiresAt")
	requireCode(t, url, `mutation($in: CreateAPITokenInput!) { createAPIToken(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"name": "number-expiry", "role": "VIEWER", "expiresAt": 1714564800}}, "INVALID", "input.expiresAt")
	d = ok(t, url, `mutation($in: CreateAPITokenInput!) { createAPIToken(input: $in) { apiToken { expiresAt } } }`,
		map[string]any{"in": map[string]any{"name": "dated-expiry", "role": "VIEWER", "expiresAt": "2030-06-30"}})
	assert.Equal(t, "2030-06-30T00:00:00Z", get(d, "createAPIToken", "apiToken", "expiresAt"))
}

const registerClass = `mutation($in: RegisterCIClassInput!) { registerCIClass(input: $in) { ciClass { name } } }`

func testAPIClassNames(t *testing.T, url string) {
	for _, name := range []string{"server", "messageQueue", "_Thing", "9Lives", "Bad-Name"} {
		requireCode(t, url, registerClass, map[string]any{"in": map[string]any{"name": name, "parent": "CI", "identificationRules": []any{[]any{"name"}}}}, "INVALID", "input.name")
	}
	for _, name := range []string{"SERVER", "LinuxSERVER", "Server"} {
		msg := requireCode(t, url, registerClass, map[string]any{"in": map[string]any{"name": name, "parent": "CI", "identificationRules": []any{[]any{"name"}}}}, "CONFLICT", "input.name")
		assert.Contains(t, msg, "Server", name)
	}
	ok(t, url, registerClass, map[string]any{"in": map[string]any{"name": "MessageQueue", "parent": "CI", "identificationRules": []any{[]any{"name"}}}})
	requireCode(t, url, registerClass, map[string]any{"in": map[string]any{"name": "Messagequeue", "parent": "CI", "identificationRules": []any{[]any{"name"}}}}, "CONFLICT", "input.name")
	d := ok(t, url, `{ ciClasses { name } }`, nil)
	seen := map[string]bool{}
	for _, c := range get(d, "ciClasses").([]any) {
		n := strings.ToLower(c.(map[string]any)["name"].(string))
		assert.False(t, seen[n], "two classes named %s", n)
		seen[n] = true
	}
	// A redundancy attribute must be an int attribute of the receiving classes.
	const regType = `mutation($in: RegisterRelationshipTypeInput!) { registerRelationshipType(input: $in) { relationshipType { name redundancyAttribute } } }`
	for _, in := range []map[string]any{
		{"name": "POOLED_IN", "propagates": "SOURCE_TO_TARGET", "effect": "DEGRADED", "redundancyAttribute": "no_such_attribute"},
		{"name": "POOLED_IN", "propagates": "SOURCE_TO_TARGET", "effect": "DEGRADED", "targetClasses": []any{"Cluster", "Application"}, "redundancyAttribute": "min_members_up"},
		{"name": "POOLED_IN", "propagates": "SOURCE_TO_TARGET", "effect": "DEGRADED", "targetClasses": []any{"Cluster"}, "redundancyAttribute": "name"},
		{"name": "POOLED_IN", "propagates": "NONE", "redundancyAttribute": "min_members_up"},
	} {
		msg := requireCode(t, url, regType, map[string]any{"in": in}, "INVALID", "input.redundancyAttribute")
		assert.Contains(t, msg, "redundancy", in)
	}
	d = ok(t, url, regType, map[string]any{"in": map[string]any{"name": "POOLED_IN", "propagates": "SOURCE_TO_TARGET", "effect": "DEGRADED", "targetClasses": []any{"Cluster"}, "redundancyAttribute": "min_members_up"}})
	assert.Equal(t, "min_members_up", get(d, "registerRelationshipType", "relationshipType", "redundancyAttribute"))
}

func testAPIRetireExtensions(t *testing.T, url string) {
	ok(t, url, registerClass, map[string]any{"in": map[string]any{"name": "Printer", "parent": "CI", "identificationRules": []any{[]any{"name"}}}})
	ids := upsertIDs(t, url, item("Printer", map[string]any{"name": "prn-1"}))
	const retire = `mutation($n: String!) { retireCIClass(input: {name: $n}) { name } }`
	requireCode(t, url, retire, map[string]any{"n": "Printer"}, "CONFLICT", "")
	requireCode(t, url, retire, map[string]any{"n": "Server"}, "INVALID", "input.name")
	requireCode(t, url, retire, map[string]any{"n": "NoSuchClass"}, "NOT_FOUND", "")
	ok(t, url, `mutation($id: ID!) { purgeCI(input: {id: $id}) { purgedId } }`, map[string]any{"id": ids[0]})
	d := ok(t, url, retire, map[string]any{"n": "Printer"})
	assert.Equal(t, "Printer", get(d, "retireCIClass", "name"))
	d = ok(t, url, `{ ciClass(name: "Printer") { name } }`, nil)
	assert.Nil(t, get(d, "ciClass"))
	r := gql(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{item("Printer", map[string]any{"name": "prn-2"})}}})
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, "INVALID", get(r.Data, "upsertCIs", "results", 0, "status"))

	ok(t, url, `mutation { registerRelationshipType(input: {name: "PRINTS_FOR", propagates: NONE}) { relationshipType { name } } }`, nil)
	d = ok(t, url, `mutation { retireRelationshipType(input: {name: "PRINTS_FOR"}) { name } }`, nil)
	assert.Equal(t, "PRINTS_FOR", get(d, "retireRelationshipType", "name"))
	requireCode(t, url, `mutation { retireRelationshipType(input: {name: "DEPENDS_ON"}) { name } }`, nil, "INVALID", "input.name")
}

func testAPIIdentifyingSpellings(t *testing.T, url string) {
	const up = `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { results { status changedFields ci { id attributes } } } }`
	first := ok(t, url, up, map[string]any{"in": map[string]any{"source": "scanner-a", "items": []any{
		item("Server", map[string]any{"name": "mac-host", "mac_address": "AA:BB:CC:00:11:22", "serial_number": "sn-77 01"})}}})
	id := get(first, "upsertCIs", "results", 0, "ci", "id")
	assert.Equal(t, "aa:bb:cc:00:11:22", get(first, "upsertCIs", "results", 0, "ci", "attributes", "mac_address"))
	for _, mac := range []string{"aa-bb-cc-00-11-22", "aabb.cc00.1122"} {
		d := ok(t, url, up, map[string]any{"in": map[string]any{"source": "scanner-b", "items": []any{
			item("Server", map[string]any{"name": "mac-host", "mac_address": mac, "serial_number": "SN7701"})}}})
		assert.Equal(t, id, get(d, "upsertCIs", "results", 0, "ci", "id"))
		assert.Equal(t, "UNCHANGED", get(d, "upsertCIs", "results", 0, "status"), mac)
	}
	d := ok(t, url, `query($id: ID!) { ci(id: $id) { history { totalCount } } }`, map[string]any{"id": id})
	assert.Equal(t, float64(1), get(d, "ci", "history", "totalCount"), "only the creation is recorded")
	for _, mac := range []string{"aa:bb:cc:00:11:22", "AA-BB-CC-00-11-22", "aabb.cc00.1122"} {
		d := ok(t, url, `query($a: JSON) { cis(filter: {attributes: $a}) { totalCount edges { node { id } } } }`, map[string]any{"a": map[string]any{"mac_address": mac}})
		assert.Equal(t, float64(1), get(d, "cis", "totalCount"), mac)
	}
}

func testAPITextRule(t *testing.T, url string) {
	a := upsertIDs(t, url, item("Application", map[string]any{"name": "s\u00e9ver"}))
	b := upsertIDs(t, url, item("Application", map[string]any{"name": "se\u0301ver"}))
	assert.Equal(t, a, b, "one name, typed two ways")
	for _, name := range []string{"line\nbreak", "tab\there", "bidi\u202eevil", "zero\u200bwidth"} {
		d := ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"source": "test", "items": []any{item("Application", map[string]any{"name": name})}}})
		assert.Equal(t, "INVALID", get(d, "upsertCIs", "results", 0, "status"), "%q", name)
		assert.Equal(t, "input.items[0].attributes.name", get(d, "upsertCIs", "results", 0, "error", "field"), "%q", name)
	}
	// Invalid UTF-8 in the request body is not silently rewritten into a name.
	body := `{"query":"mutation { upsertCIs(input: {source: \"test\", items: [{class: \"Application\", attributes: {name: \"bad\xffbyte\"}}]}) { results { status error { field } } } }"}`
	r := post(t, url, body)
	if len(r.Errors) == 0 {
		assert.Equal(t, "INVALID", get(r.Data, "upsertCIs", "results", 0, "status"), r.raw)
	}
	d := ok(t, url, `{ cis(filter: {namePrefix: "bad"}) { totalCount } }`, nil)
	assert.Equal(t, float64(0), get(d, "cis", "totalCount"))
}

func testAPIOneIDForm(t *testing.T, url string) {
	id := upsertIDs(t, url, item("Application", map[string]any{"name": "id-form"}))[0]
	ok(t, url, `query($id: ID!) { ci(id: $id) { name } }`, map[string]any{"id": id})
	for _, v := range []string{id + "=", id + "==", id[:4] + "\n" + id[4:], id[:4] + "\r\n" + id[4:]} {
		if v == id {
			continue
		}
		requireCode(t, url, `query($id: ID!) { ci(id: $id) { name } }`, map[string]any{"id": v}, "INVALID", "id")
		requireCode(t, url, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": v}, "INVALID", "id")
	}
}
