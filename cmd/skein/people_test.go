package main

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const upsertPeopleMutation = `mutation($in: UpsertPeopleInput!) { upsertPeople(input: $in) {
  created updated unchanged failed
  results { index status changedFields error { code field message } person { id userName name email active version } } } }`

const upsertGroupsMutation = `mutation($in: UpsertGroupsInput!) { upsertGroups(input: $in) {
  created updated unchanged failed
  results { index status error { code field message } group { id name type } } } }`

// upsertNodeIDs upserts people or groups (mutation, payload field) and
// returns their global IDs.
func upsertNodeIDs(t *testing.T, url, mutation, field, obj string, items ...map[string]any) []string {
	t.Helper()
	its := make([]any, len(items))
	for i, a := range items {
		its[i] = map[string]any{"attributes": a}
	}
	d := ok(t, url, mutation, map[string]any{"in": map[string]any{"source": "ldap", "items": its}})
	var ids []string
	for i := range items {
		require.Nil(t, get(d, field, "results", i, "error"), "item %d", i)
		ids = append(ids, get(d, field, "results", i, obj, "id").(string))
	}
	return ids
}

// TestPeopleAPI: people and groups over GraphQL on both backends: a
// directory sync that never duplicates, membership and managers kept
// idempotently, updates at a version, deactivation that keeps history and
// links, lists, search and node(id:).
func TestPeopleAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			t.Run("Lifecycle", func(t *testing.T) { testPeopleLifecycle(t, url) })
			t.Run("Errors", func(t *testing.T) { testPeopleErrors(t, url) })
			t.Run("CILinks", func(t *testing.T) { testCILinks(t, url) })
			t.Run("ImpactContacts", func(t *testing.T) { testImpactContacts(t, url) })
		})
	}
}

func testPeopleLifecycle(t *testing.T, url string) {
	people := upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person",
		map[string]any{"user_name": "amartin", "name": "Alice Martin", "email": "Alice.Martin@example.com", "department": "Platform", "mobile": "+33 6 00 00 00 01"},
		map[string]any{"user_name": "bdupont", "name": "Bruno Dupont", "department": "Finance"},
	)
	alice, bob := people[0], people[1]
	groups := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group",
		map[string]any{"name": "DBA", "type": "support", "email": "dba@example.com"},
		map[string]any{"name": "CAB", "type": "cab"},
	)
	dba := groups[0]

	// A second sync spelling the login in capitals finds Alice.
	d := ok(t, url, upsertPeopleMutation, map[string]any{"in": map[string]any{"source": "ldap", "items": []any{
		map[string]any{"attributes": map[string]any{"user_name": "AMARTIN", "name": "Alice Martin", "title": "DBA lead"}}}}})
	assert.Equal(t, "UPDATED", get(d, "upsertPeople", "results", 0, "status"))
	assert.Equal(t, alice, get(d, "upsertPeople", "results", 0, "person", "id"))
	assert.Equal(t, 2.0, get(ok(t, url, `{ people { totalCount } }`, nil), "people", "totalCount"), "no duplicate")
	assert.Equal(t, "AMARTIN", get(d, "upsertPeople", "results", 0, "person", "userName"), "the last report's spelling is kept")
	upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person", map[string]any{"user_name": "amartin", "name": "Alice Martin"})

	members := `mutation($in: GroupMembersInput!) { %s(input: $in) { changed group { members { totalCount edges { node { userName } } } } } }`
	in := map[string]any{"in": map[string]any{"groupId": dba, "personIds": []any{alice, bob}}}
	for i, want := range []float64{2, 0} {
		d = ok(t, url, fmt.Sprintf(members, "addGroupMembers"), in)
		assert.Equal(t, want, get(d, "addGroupMembers", "changed"), "call %d: idempotent", i)
		assert.Equal(t, 2.0, get(d, "addGroupMembers", "group", "members", "totalCount"))
	}
	d = ok(t, url, `query($id: ID!) { person(id: $id) { groups { edges { node { name } } } } }`, map[string]any{"id": alice})
	assert.Equal(t, "DBA", get(d, "person", "groups", "edges", 0, "node", "name"))

	manager := `mutation($in: SetGroupManagerInput!) { setGroupManager(input: $in) { group { manager { userName } } } }`
	for _, tt := range []struct {
		person any
		want   any
	}{{alice, "amartin"}, {alice, "amartin"}, {bob, "bdupont"}, {nil, nil}} {
		d = ok(t, url, manager, map[string]any{"in": map[string]any{"groupId": dba, "personId": tt.person}})
		assert.Equal(t, tt.want, get(d, "setGroupManager", "group", "manager", "userName"))
	}
	ok(t, url, manager, map[string]any{"in": map[string]any{"groupId": dba, "personId": bob}})
	d = ok(t, url, `query($a: ID!, $b: ID!) { a: person(id: $a) { manages { totalCount } } b: person(id: $b) { manages { totalCount } } }`, map[string]any{"a": alice, "b": bob})
	assert.Equal(t, 0.0, get(d, "a", "manages", "totalCount"), "one manager: alice's MANAGED_BY was moved")
	assert.Equal(t, 1.0, get(d, "b", "manages", "totalCount"))

	in = map[string]any{"in": map[string]any{"groupId": dba, "personIds": []any{bob}}}
	for i, want := range []float64{1, 0} {
		d = ok(t, url, fmt.Sprintf(members, "removeGroupMembers"), in)
		assert.Equal(t, want, get(d, "removeGroupMembers", "changed"), "call %d: idempotent", i)
		assert.Equal(t, 1.0, get(d, "removeGroupMembers", "group", "members", "totalCount"))
	}

	// An update at a stale version is a conflict naming the current one.
	d = ok(t, url, `query($id: ID!) { person(id: $id) { version } }`, map[string]any{"id": alice})
	v := get(d, "person", "version").(float64)
	upd := `mutation($in: UpdateNodeInput!) { updatePerson(input: $in) { changedFields person { version title active } } }`
	d = ok(t, url, upd, map[string]any{"in": map[string]any{"id": alice, "attributes": map[string]any{"title": "Head of data"}, "expectedVersion": v}})
	assert.Equal(t, []any{"title"}, get(d, "updatePerson", "changedFields"))
	r := gql(t, url, upd, map[string]any{"in": map[string]any{"id": alice, "attributes": map[string]any{"title": "CTO"}, "expectedVersion": v}})
	require.Len(t, r.Errors, 1, r.raw)
	assert.Equal(t, "CONFLICT", r.Errors[0].Extensions["code"])
	assert.Equal(t, v+1, r.Errors[0].Extensions["currentVersion"])

	// Deactivating keeps the person, its memberships and history.
	d = ok(t, url, `mutation($in: DeactivateInput!) { deactivatePerson(input: $in) { person { active groups { totalCount } history { totalCount } } } }`, map[string]any{"in": map[string]any{"id": alice}})
	assert.Equal(t, false, get(d, "deactivatePerson", "person", "active"))
	assert.Equal(t, 1.0, get(d, "deactivatePerson", "person", "groups", "totalCount"))
	assert.GreaterOrEqual(t, get(d, "deactivatePerson", "person", "history", "totalCount"), 3.0)
	d = ok(t, url, upd, map[string]any{"in": map[string]any{"id": alice, "attributes": map[string]any{"active": true}}})
	assert.Equal(t, true, get(d, "updatePerson", "person", "active"), "reactivated by an update")

	lists := []struct {
		name  string
		query string
		path  []any
		want  any
	}{
		{"where", `{ people(where: {attribute: "department", eq: "platform"}) { edges { node { userName } } } }`, []any{"people", "edges", 0, "node", "userName"}, "amartin"},
		{"order", `{ people(orderBy: {field: NAME, direction: DESC}, first: 1) { edges { node { userName } } pageInfo { hasNextPage } } }`, []any{"people", "edges", 0, "node", "userName"}, "bdupont"},
		{"offset", `{ people(orderBy: {field: NAME}, offset: 1) { edges { node { userName } } } }`, []any{"people", "edges", 0, "node", "userName"}, "bdupont"},
		{"search", `{ people(search: "alice") { totalCount edges { node { userName email mobile } } } }`, []any{"people", "edges", 0, "node", "mobile"}, "+33 6 00 00 00 01"},
		{"groups by type", `{ groups(where: {attribute: "type", eq: "cab"}) { edges { node { name } } } }`, []any{"groups", "edges", 0, "node", "name"}, "CAB"},
		{"group search", `{ groups(search: "dba") { edges { node { email manager { userName } } } } }`, []any{"groups", "edges", 0, "node", "manager", "userName"}, "bdupont"},
		{"cis are not people", `{ cis { totalCount } }`, []any{"cis", "totalCount"}, 0.0},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, get(ok(t, url, tt.query, nil), tt.path...))
		})
	}

	d = ok(t, url, `query($p: ID!, $g: ID!) { p: node(id: $p) { __typename ... on Person { userName } } g: node(id: $g) { __typename ... on Group { name } } }`, map[string]any{"p": alice, "g": dba})
	assert.Equal(t, "Person", get(d, "p", "__typename"))
	assert.Equal(t, "amartin", get(d, "p", "userName"))
	assert.Equal(t, "DBA", get(d, "g", "name"))
	d = ok(t, url, `query($id: String!) { auditRecords(filter: {objects: [$id], kinds: ["person"]}) { totalCount edges { node { object } } } }`, map[string]any{"id": alice})
	assert.Equal(t, alice, get(d, "auditRecords", "edges", 0, "node", "object"), "audit records name people by their global ID")
}

func testPeopleErrors(t *testing.T, url string) {
	person := upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person", map[string]any{"user_name": "err-p", "name": "Err P"})[0]
	group := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group", map[string]any{"name": "err-g"})[0]
	ci := upsertIDs(t, url, item("Application", map[string]any{"name": "err-app"}))[0]
	const missingPerson = "UGVyc29uOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA" // Person:00000000-0000-0000-0000-000000000000

	tests := []struct {
		name, query string
		vars        map[string]any
		code, field string
	}{
		{"update a group as a person", `mutation($in: UpdateNodeInput!) { updatePerson(input: $in) { person { id } } }`,
			map[string]any{"in": map[string]any{"id": group, "attributes": map[string]any{"title": "x"}}}, "INVALID", "input.id"},
		{"a CI ID for a person", `query($id: ID!) { person(id: $id) { id } }`, map[string]any{"id": ci}, "INVALID", "id"},
		{"a bad bool", `mutation($in: UpdateNodeInput!) { updatePerson(input: $in) { person { id } } }`,
			map[string]any{"in": map[string]any{"id": person, "attributes": map[string]any{"active": "maybe"}}}, "INVALID", "input.attributes.active"},
		{"an unknown person", `mutation($in: UpdateNodeInput!) { updatePerson(input: $in) { person { id } } }`,
			map[string]any{"in": map[string]any{"id": missingPerson, "attributes": map[string]any{"title": "x"}}}, "NOT_FOUND", "input.id"},
		{"member not found", `mutation($in: GroupMembersInput!) { addGroupMembers(input: $in) { changed } }`,
			map[string]any{"in": map[string]any{"groupId": group, "personIds": []any{person, missingPerson}}}, "NOT_FOUND", "input.personIds[1]"},
		{"a group as a member", `mutation($in: GroupMembersInput!) { addGroupMembers(input: $in) { changed } }`,
			map[string]any{"in": map[string]any{"groupId": group, "personIds": []any{group}}}, "INVALID", "input.personIds[0]"},
		{"no members", `mutation($in: GroupMembersInput!) { addGroupMembers(input: $in) { changed } }`,
			map[string]any{"in": map[string]any{"groupId": group, "personIds": []any{}}}, "INVALID", "input.personIds"},
		{"manager not found", `mutation($in: SetGroupManagerInput!) { setGroupManager(input: $in) { group { id } } }`,
			map[string]any{"in": map[string]any{"groupId": group, "personId": missingPerson}}, "NOT_FOUND", "input.personId"},
		{"search with offset", `{ people(search: "x", offset: 5) { totalCount } }`, nil, "INVALID", "search"},
		{"empty search", `{ people(search: "") { totalCount } }`, nil, "INVALID", "search"},
		{"a CI attribute", `{ people(where: {attribute: "cpu_count", gte: 2}) { totalCount } }`, nil, "INVALID", "where.attribute"},
		{"a CI class", `{ groups(where: {field: CLASS, eq: "Server"}) { totalCount } }`, nil, "INVALID", "where.eq"},
		{"page size", `{ groups(first: 0) { totalCount } }`, nil, "INVALID", "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := gql(t, url, tt.query, tt.vars)
			require.Len(t, r.Errors, 1, r.raw)
			assert.Equal(t, tt.code, r.Errors[0].Extensions["code"], r.raw)
			assert.Equal(t, tt.field, r.Errors[0].Extensions["field"], r.raw)
		})
	}

	// A bad item of a batch is reported on its own, named as written.
	d := ok(t, url, upsertPeopleMutation, map[string]any{"in": map[string]any{"items": []any{
		map[string]any{"attributes": map[string]any{"name": "No Login"}},
		map[string]any{"attributes": map[string]any{"user_name": "err-q", "name": "Q", "email": "not-an-address"}},
		map[string]any{"class": "Server", "attributes": map[string]any{"user_name": "err-r", "name": "R"}},
		map[string]any{"attributes": map[string]any{"user_name": "err-s", "name": "S"}},
	}}})
	for i, field := range []string{"input.items[0].attributes.user_name", "input.items[1].attributes.email", "input.items[2].class"} {
		assert.Equal(t, "INVALID", get(d, "upsertPeople", "results", i, "error", "code"), "item %d", i)
		assert.Equal(t, field, get(d, "upsertPeople", "results", i, "error", "field"), "item %d", i)
	}
	assert.Equal(t, "CREATED", get(d, "upsertPeople", "results", 3, "status"))
}

// testCILinks: a CI's owner and support_group attributes are kept as
// OWNED_BY and SUPPORTED_BY edges to the people and groups they name,
// whichever is written first; edges made by hand are left alone.
func testCILinks(t *testing.T, url string) {
	cis := upsertIDs(t, url,
		item("Application", map[string]any{"name": "link-a", "owner": "JDoe", "support_group": "SG-Links"}),
		item("Application", map[string]any{"name": "link-b", "owner": "links team"}),
		item("Application", map[string]any{"name": "link-c", "owner": "Jane.Doe@example.com"}),
		item("Application", map[string]any{"name": "link-d", "owner": "nobody-we-know"}),
	)
	a, b, c, dd := cis[0], cis[1], cis[2], cis[3]
	const links = `query($ids: [ID!]!) { cis(filter: {ids: $ids}) { edges { node { name
	  ownedBy { __typename ... on Person { userName mobile } ... on Group { name } }
	  supportedBy { name manager { userName } } } } } }`
	check := func(t *testing.T, want map[string][2]any) {
		t.Helper()
		d := ok(t, url, links, map[string]any{"ids": cis})
		got := map[string][2]any{}
		for _, e := range get(d, "cis", "edges").([]any) {
			n := get(e, "node")
			owner := get(n, "ownedBy", "userName")
			if owner == nil {
				owner = get(n, "ownedBy", "name")
			}
			got[get(n, "name").(string)] = [2]any{owner, get(n, "supportedBy", "name")}
		}
		assert.Equal(t, want, got)
	}
	check(t, map[string][2]any{"link-a": {nil, nil}, "link-b": {nil, nil}, "link-c": {nil, nil}, "link-d": {nil, nil}})

	// People and groups created later link the CIs naming them, ignoring case.
	upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person",
		map[string]any{"user_name": "jdoe", "name": "Jane Doe", "email": "jane.doe@example.com", "mobile": "+44 7700 900001"})
	groups := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group",
		map[string]any{"name": "SG-Links"}, map[string]any{"name": "Links Team"})
	check(t, map[string][2]any{"link-a": {"jdoe", "SG-Links"}, "link-b": {"Links Team", nil}, "link-c": {"jdoe", nil}, "link-d": {nil, nil}})

	// A CI written after them is linked at once.
	e := upsertIDs(t, url, item("Application", map[string]any{"name": "link-e", "owner": "jdoe", "support_group": "sg-links"}))[0]
	d := ok(t, url, `query($id: ID!) { ci(id: $id) { ownedBy { ... on Person { userName } } supportedBy { name } } }`, map[string]any{"id": e})
	assert.Equal(t, "jdoe", get(d, "ci", "ownedBy", "userName"))
	assert.Equal(t, "SG-Links", get(d, "ci", "supportedBy", "name"))

	// Changing the attribute moves the edge; clearing it removes it.
	upd := `mutation($in: UpdateCIInput!) { updateCI(input: $in) { ci { id } } }`
	ok(t, url, upd, map[string]any{"in": map[string]any{"id": a, "attributes": map[string]any{"owner": "Links Team", "support_group": nil}}})
	ok(t, url, upd, map[string]any{"in": map[string]any{"id": b, "attributes": map[string]any{"owner": "nobody-we-know"}}})
	check(t, map[string][2]any{"link-a": {"Links Team", nil}, "link-b": {nil, nil}, "link-c": {"jdoe", nil}, "link-d": {nil, nil}})

	// An OWNED_BY made by hand is never moved nor removed by the rule.
	ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`,
		map[string]any{"in": map[string]any{"items": []any{map[string]any{"type": "OWNED_BY", "source": c, "target": groups[0]}}}})
	ok(t, url, upd, map[string]any{"in": map[string]any{"id": c, "attributes": map[string]any{"owner": nil}}})
	check(t, map[string][2]any{"link-a": {"Links Team", nil}, "link-b": {nil, nil}, "link-c": {"SG-Links", nil}, "link-d": {nil, nil}})
	d = ok(t, url, `query($id: ID!) { ci(id: $id) { relationships(direction: OUT, types: ["OWNED_BY"]) { totalCount } } }`, map[string]any{"id": c})
	assert.Equal(t, 1.0, get(d, "ci", "relationships", "totalCount"), "the attribute's edge went, the one made by hand stayed")

	// From the other side: what a person and a group own and support.
	d = ok(t, url, `{ people(search: "jdoe") { edges { node { ownedCIs { totalCount } } } }
	  groups(where: {attribute: "name", eq: "sg-links"}) { edges { node { supportedCIs { edges { node { name } } } ownedCIs { totalCount } } } } }`, nil)
	assert.Equal(t, 1.0, get(d, "people", "edges", 0, "node", "ownedCIs", "totalCount"), "link-e only")
	assert.Equal(t, "link-e", get(d, "groups", "edges", 0, "node", "supportedCIs", "edges", 0, "node", "name"))
	assert.Equal(t, 1.0, get(d, "groups", "edges", 0, "node", "ownedCIs", "totalCount"), "link-c, by hand")
	_ = dd
}

// testImpactContacts: impactAnalysis rolls owners and support groups up to
// the people and groups their names resolve to, with their contact data
// and a group's manager; a name resolving to nobody stays a name.
func testImpactContacts(t *testing.T, url string) {
	kim := upsertNodeIDs(t, url, upsertPeopleMutation, "upsertPeople", "person",
		map[string]any{"user_name": "imp-kim", "name": "Kim Imp", "email": "kim.imp@example.com", "phone": "+1 555 0101", "mobile": "+1 555 0102"})[0]
	sg := upsertNodeIDs(t, url, upsertGroupsMutation, "upsertGroups", "group", map[string]any{"name": "SG-Imp", "email": "sg-imp@example.com"})[0]
	ok(t, url, `mutation($in: SetGroupManagerInput!) { setGroupManager(input: $in) { group { id } } }`, map[string]any{"in": map[string]any{"groupId": sg, "personId": kim}})
	ids := upsertIDs(t, url,
		item("Application", map[string]any{"name": "imp-db"}),
		item("Application", map[string]any{"name": "imp-app", "owner": "imp-kim", "support_group": "sg-imp"}),
		item("Application", map[string]any{"name": "imp-web", "owner": "imp-ghost", "support_group": "SG-Imp"}),
	)
	var rels []any
	for _, src := range ids[1:] {
		rels = append(rels, map[string]any{"type": "DEPENDS_ON", "source": src, "target": ids[0]})
	}
	ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": rels}})
	d := ok(t, url, `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) {
	  owners { name ciCount person { userName email phone mobile } group { name } }
	  supportGroups { name ciCount person { userName } group { name email manager { userName mobile } } } } }`, map[string]any{"ids": ids[:1]})
	want := map[string]any{
		"owners": []any{
			map[string]any{"name": "imp-ghost", "ciCount": 1.0, "person": nil, "group": nil},
			map[string]any{"name": "imp-kim", "ciCount": 1.0, "group": nil,
				"person": map[string]any{"userName": "imp-kim", "email": "kim.imp@example.com", "phone": "+1 555 0101", "mobile": "+1 555 0102"}},
		},
		"supportGroups": []any{
			map[string]any{"name": "SG-Imp", "ciCount": 1.0, "person": nil,
				"group": map[string]any{"name": "SG-Imp", "email": "sg-imp@example.com", "manager": map[string]any{"userName": "imp-kim", "mobile": "+1 555 0102"}}},
			map[string]any{"name": "sg-imp", "ciCount": 1.0, "person": nil,
				"group": map[string]any{"name": "SG-Imp", "email": "sg-imp@example.com", "manager": map[string]any{"userName": "imp-kim", "mobile": "+1 555 0102"}}},
		},
	}
	assert.Equal(t, want, get(d, "impactAnalysis"))
}
