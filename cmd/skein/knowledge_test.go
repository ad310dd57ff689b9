package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

const articleFields = `id number title body keywords category state allowedActions currentVersion reviewNotes publishedAt retiredAt
  viewCount helpfulCount notHelpfulCount version`

// TestKnowledgeAPI: knowledge articles over GraphQL on both backends:
// their whole life with every refused action and guard, versions kept
// readable, links to CIs, problems and incidents, articles for a CI and
// what it depends on, views and votes, and the audit trail read back.
func TestKnowledgeAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			testKnowledgeLife(t, srv.URL)
			testKnowledgeVoters(t, srv.URL, a)
		})
	}
}

// kbDo runs an article mutation and returns the answer.
func kbDo(t *testing.T, url, mutation, input string, in map[string]any) gqlResponse {
	t.Helper()
	return gql(t, url, fmt.Sprintf(`mutation($in: %s!) { %s(input: $in) { knowledgeArticle { %s } } }`, input, mutation, articleFields), map[string]any{"in": in})
}

func kbOK(t *testing.T, url, mutation, input string, in map[string]any) map[string]any {
	t.Helper()
	r := kbDo(t, url, mutation, input, in)
	require.Empty(t, r.Errors, r.raw)
	return get(r.Data, mutation, "knowledgeArticle").(map[string]any)
}

// kbAct runs an article action (submitKnowledgeArticle...) on id.
func kbAct(t *testing.T, url, mutation string, id any) gqlResponse {
	t.Helper()
	return kbDo(t, url, mutation, "KnowledgeArticleActionInput", map[string]any{"id": id})
}

func testKnowledgeLife(t *testing.T, url string) {
	cis := upsertIDs(t, url, item("Application", map[string]any{"name": "kb-vpn"}), item("Server", map[string]any{"name": "kb-vpn-gw", "serial_number": "KBVPNGW"}))
	ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`, map[string]any{"in": map[string]any{"items": []any{
		map[string]any{"type": "DEPENDS_ON", "source": cis[0], "target": cis[1]}}}})
	d := ok(t, url, `mutation { createProblem(input: {shortDescription: "VPN drops every hour"}) { problem { id } } }`, nil)
	prb := get(d, "createProblem", "problem", "id")
	d = ok(t, url, `mutation { createIncident(input: {shortDescription: "Cannot reach the VPN"}) { incident { id } } }`, nil)
	inc := get(d, "createIncident", "incident", "id")

	// Bad input, nothing written.
	refusedWith(t, kbDo(t, url, "createKnowledgeArticle", "CreateKnowledgeArticleInput", map[string]any{"title": ""}), "INVALID", "input.title")
	refusedWith(t, kbDo(t, url, "createKnowledgeArticle", "CreateKnowledgeArticleInput", map[string]any{"title": "x", "ciIds": []any{prb}}), "INVALID", "input.ciIds[0]")
	refusedWith(t, kbDo(t, url, "createKnowledgeArticle", "CreateKnowledgeArticleInput", map[string]any{"title": "x", "problemIds": []any{inc}}), "INVALID", "input.problemIds[0]")
	d = ok(t, url, `{ knowledgeArticles { totalCount } }`, nil)
	assert.Equal(t, 0.0, get(d, "knowledgeArticles", "totalCount"), "refused articles left nothing")

	// A draft without a body is not submitted.
	a := kbOK(t, url, "createKnowledgeArticle", "CreateKnowledgeArticleInput", map[string]any{"title": "VPN disconnects every hour",
		"keywords": []any{"vpn", "tunnel"}, "category": "network", "ciIds": []any{cis[1]}, "problemIds": []any{prb}, "incidentIds": []any{inc}})
	id := a["id"]
	assert.Regexp(t, `^KB00\d{5}$`, a["number"])
	assert.Equal(t, "DRAFT", a["state"])
	assert.Equal(t, []any{"SUBMIT"}, a["allowedActions"])
	assert.Equal(t, 0.0, a["currentVersion"])
	msg := refusedWith(t, kbAct(t, url, "submitKnowledgeArticle", id), "INVALID", "input.body")
	assert.Contains(t, msg, "guard body_given failed")
	// Actions the state does not allow are conflicts naming what it allows.
	for _, m := range []string{"publishKnowledgeArticle", "reviseKnowledgeArticle", "retireKnowledgeArticle"} {
		msg := refusedWith(t, kbAct(t, url, m, id), "CONFLICT", "input.id")
		assert.Contains(t, msg, "allowed actions: submit", m)
	}
	refusedWith(t, kbDo(t, url, "sendBackKnowledgeArticle", "SendBackKnowledgeArticleInput", map[string]any{"id": id, "reviewNotes": "no"}), "CONFLICT", "input.id")
	refusedWith(t, gql(t, url, `mutation($id: ID!) { voteArticle(input: {id: $id, helpful: true}) { knowledgeArticle { id } } }`, map[string]any{"id": id}), "CONFLICT", "")

	kbOK(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "body": "# Fix\n\nRenew the **tunnel** certificate on the gateway."})
	a = kbOK(t, url, "submitKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": id})
	assert.Equal(t, "REVIEW", a["state"])
	assert.Equal(t, []any{"PUBLISH", "SEND_BACK"}, a["allowedActions"])
	for _, m := range []string{"submitKnowledgeArticle", "reviseKnowledgeArticle", "retireKnowledgeArticle"} {
		msg := refusedWith(t, kbAct(t, url, m, id), "CONFLICT", "input.id")
		assert.Contains(t, msg, "allowed actions: publish, send_back", m)
	}
	refusedWith(t, kbDo(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "body": "changed under review"}), "CONFLICT", "")
	// Sending back needs a reason.
	refusedWith(t, kbDo(t, url, "sendBackKnowledgeArticle", "SendBackKnowledgeArticleInput", map[string]any{"id": id, "reviewNotes": ""}), "INVALID", "input.reviewNotes")
	a = kbOK(t, url, "sendBackKnowledgeArticle", "SendBackKnowledgeArticleInput", map[string]any{"id": id, "reviewNotes": "Say which gateway."})
	assert.Equal(t, "DRAFT", a["state"])
	assert.Equal(t, "Say which gateway.", a["reviewNotes"])
	// A blank body is refused at submit too.
	kbOK(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "body": nil})
	refusedWith(t, kbAct(t, url, "submitKnowledgeArticle", id), "INVALID", "input.body")
	v1 := "# Fix\n\nRenew the **tunnel** certificate on kb-vpn-gw."
	kbOK(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "body": v1})
	kbOK(t, url, "submitKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": id})
	a = kbOK(t, url, "publishKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": id})
	assert.Equal(t, "PUBLISHED", a["state"])
	assert.Equal(t, 1.0, a["currentVersion"])
	assert.Nil(t, a["reviewNotes"], "publishing clears the review notes")
	assert.NotNil(t, a["publishedAt"])
	assert.Equal(t, []any{"RETIRE", "REVISE"}, a["allowedActions"])
	for _, m := range []string{"submitKnowledgeArticle", "publishKnowledgeArticle"} {
		msg := refusedWith(t, kbAct(t, url, m, id), "CONFLICT", "input.id")
		assert.Contains(t, msg, "allowed actions: retire, revise", m)
	}
	refusedWith(t, kbDo(t, url, "sendBackKnowledgeArticle", "SendBackKnowledgeArticleInput", map[string]any{"id": id, "reviewNotes": "late"}), "CONFLICT", "input.id")
	refusedWith(t, kbDo(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "title": "edited while published"}), "CONFLICT", "")

	// Views and votes.
	for range 3 {
		ok(t, url, `mutation($id: ID!) { recordArticleView(input: {id: $id}) { knowledgeArticle { id } } }`, map[string]any{"id": id})
	}
	// One vote per caller: the same vote again changes nothing, the other
	// vote moves it.
	vote := func(helpful bool) any {
		d := ok(t, url, `mutation($id: ID!, $h: Boolean!) { voteArticle(input: {id: $id, helpful: $h}) { knowledgeArticle { viewCount helpfulCount notHelpfulCount } } }`,
			map[string]any{"id": id, "h": helpful})
		return get(d, "voteArticle", "knowledgeArticle")
	}
	assert.Equal(t, map[string]any{"viewCount": 3.0, "helpfulCount": 1.0, "notHelpfulCount": 0.0}, vote(true))
	assert.Equal(t, map[string]any{"viewCount": 3.0, "helpfulCount": 1.0, "notHelpfulCount": 0.0}, vote(true), "the same vote again")
	assert.Equal(t, map[string]any{"viewCount": 3.0, "helpfulCount": 0.0, "notHelpfulCount": 1.0}, vote(false), "the vote moved")

	// Revise: the published version stays readable, the next publish is
	// version 2.
	a = kbOK(t, url, "reviseKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": id})
	assert.Equal(t, "DRAFT", a["state"])
	assert.Equal(t, 1.0, a["currentVersion"])
	v2 := v1 + "\n\nThen restart the tunnel service."
	kbOK(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "body": v2, "title": "VPN drops every hour: renew the certificate"})
	kbOK(t, url, "submitKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": id})
	a = kbOK(t, url, "publishKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": id})
	assert.Equal(t, 2.0, a["currentVersion"])
	d = ok(t, url, `query($id: ID!) { node(id: $id) { ... on KnowledgeArticle { number versions { number title body publishedBy publishedAt }
	  v1: publishedVersion(number: 1) { title body } v3: publishedVersion(number: 3) { number } } } }`, map[string]any{"id": id})
	vs := get(d, "node", "versions").([]any)
	require.Len(t, vs, 2)
	assert.Equal(t, 2.0, get(vs[0], "number"))
	assert.Equal(t, v2, get(vs[0], "body"))
	assert.Equal(t, "VPN drops every hour: renew the certificate", get(vs[0], "title"))
	assert.Equal(t, map[string]any{"title": "VPN disconnects every hour", "body": v1}, get(d, "node", "v1"), "the first version is kept as published")
	assert.Nil(t, get(d, "node", "v3"))

	// Links, both ways; articles for a CI and what it depends on.
	d = ok(t, url, `query($n: String!, $p: ID!, $i: ID!, $app: ID!, $gw: ID!) {
	  knowledgeArticle(number: $n) { cis { name } problems { shortDescription } incidents { shortDescription } }
	  p: node(id: $p) { ... on Problem { articles { totalCount edges { node { number } } } } }
	  i: node(id: $i) { ... on Incident { articles { totalCount } } }
	  app: ci(id: $app) { articles(depth: 2) { article { number } ci { name } distance } near: articles(depth: 1, publishedOnly: false) { distance } }
	  gw: ci(id: $gw) { articles { distance } relationships(direction: IN, types: ["ABOUT"]) { edges { node { type source { id } sourceNode { __typename ... on KnowledgeArticle { number } } } } } } }`,
		map[string]any{"n": a["number"], "p": prb, "i": inc, "app": cis[0], "gw": cis[1]})
	assert.Equal(t, []any{map[string]any{"name": "kb-vpn-gw"}}, get(d, "knowledgeArticle", "cis"))
	assert.Equal(t, []any{map[string]any{"shortDescription": "VPN drops every hour"}}, get(d, "knowledgeArticle", "problems"))
	assert.Equal(t, []any{map[string]any{"shortDescription": "Cannot reach the VPN"}}, get(d, "knowledgeArticle", "incidents"))
	assert.Equal(t, 1.0, get(d, "p", "articles", "totalCount"))
	assert.Equal(t, a["number"], get(d, "p", "articles", "edges", 0, "node", "number"))
	assert.Equal(t, 1.0, get(d, "i", "articles", "totalCount"))
	assert.Equal(t, []any{map[string]any{"article": map[string]any{"number": a["number"]}, "ci": map[string]any{"name": "kb-vpn-gw"}, "distance": 1.0}}, get(d, "app", "articles"),
		"the application's article list holds the article about the gateway it depends on")
	assert.Equal(t, []any{map[string]any{"distance": 0.0}}, get(d, "gw", "articles"))
	assert.Equal(t, map[string]any{"type": "ABOUT", "source": nil, "sourceNode": map[string]any{"__typename": "KnowledgeArticle", "number": a["number"]}},
		get(d, "gw", "relationships", "edges", 0, "node"), "the CI's relationships show the article as an article: %v", get(d, "gw"))
	refusedWith(t, gql(t, url, `query($app: ID!) { ci(id: $app) { articles(depth: 0) { distance } } }`, map[string]any{"app": cis[0]}), "INVALID", "depth")

	// Links change in any state but retired; then retire.
	kbOK(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "incidentIds": []any{}})
	a = kbOK(t, url, "retireKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": id})
	assert.Equal(t, "RETIRED", a["state"])
	assert.NotNil(t, a["retiredAt"])
	assert.Equal(t, []any{}, a["allowedActions"])
	for _, m := range []string{"submitKnowledgeArticle", "publishKnowledgeArticle", "reviseKnowledgeArticle", "retireKnowledgeArticle"} {
		msg := refusedWith(t, kbAct(t, url, m, id), "CONFLICT", "input.id")
		assert.Contains(t, msg, "allowed actions: none", m)
	}
	refusedWith(t, kbDo(t, url, "updateKnowledgeArticle", "UpdateKnowledgeArticleInput", map[string]any{"id": id, "ciIds": []any{}}), "CONFLICT", "")
	refusedWith(t, gql(t, url, `mutation($id: ID!) { recordArticleView(input: {id: $id}) { knowledgeArticle { id } } }`, map[string]any{"id": id}), "CONFLICT", "")
	refusedWith(t, kbAct(t, url, "submitKnowledgeArticle", prb), "INVALID", "input.id")

	// Every mutation left its audit record.
	d = ok(t, url, `query($id: ID!) { node(id: $id) { ... on KnowledgeArticle { history(first: 100) { totalCount edges { node { actor action changes { field after } } } } } } }`, map[string]any{"id": id})
	var states []string
	counters := map[string]int{}
	for _, e := range get(d, "node", "history", "edges").([]any) {
		for _, c := range get(e, "node", "changes").([]any) {
			f := get(c, "field").(string)
			switch f {
			case "state":
				states = append(states, fmt.Sprint(get(c, "after")))
			case "view_count", "helpful_count", "not_helpful_count", "body", "short_description", "incident_ids":
				counters[f]++
			}
		}
	}
	slicesReverse(states)
	assert.Equal(t, "draft review draft review published draft review published retired", strings.Join(states, " "), "the create and every transition are audited, oldest first")
	assert.Equal(t, map[string]int{"view_count": 1 + 3, "helpful_count": 1 + 2, "not_helpful_count": 1 + 1, "body": 4, "short_description": 2}, counters,
		"the create (its zeros and title), every edit (the body written, cleared, rewritten, revised; the new title), view and vote (up, then moved) are audited")
	// The links' writes are in the trail too: ABOUT, DOCUMENTS and ANSWERS
	// made, ANSWERS removed.
	d = ok(t, url, `{ auditRecords(filter: {kinds: ["relationship"]}, first: 1000) { edges { node { action changes { field after } } } } }`, nil)
	rels := map[string]int{}
	for _, e := range get(d, "auditRecords", "edges").([]any) {
		for _, c := range get(e, "node", "changes").([]any) {
			if get(c, "field") == "type" {
				if typ, _ := get(c, "after").(string); typ == "ABOUT" || typ == "DOCUMENTS" || typ == "ANSWERS" {
					rels[get(e, "node", "action").(string)+" "+typ]++
				}
			}
		}
	}
	assert.Equal(t, 1, rels["create ANSWERS"], "%v", rels)
	assert.Equal(t, 1, rels["create DOCUMENTS"], "%v", rels)
	assert.Equal(t, 1, rels["create ABOUT"], "%v", rels)
	d = ok(t, url, `{ auditRecords(filter: {kinds: ["knowledge_version"]}) { totalCount } }`, nil)
	assert.GreaterOrEqual(t, get(d, "auditRecords", "totalCount"), 2.0, "each version is written with its audit record")
}

// testKnowledgeVoters: each caller (token) has one vote; that anonymous
// callers do not vote is TestRoleMatrix's.
func testKnowledgeVoters(t *testing.T, url string, a *app) {
	art := kbOK(t, url, "createKnowledgeArticle", "CreateKnowledgeArticleInput", map[string]any{"title": "Voted on", "body": "text"})
	kbOK(t, url, "submitKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": art["id"]})
	kbOK(t, url, "publishKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": art["id"]})
	viewer, engineer := issueToken(t, a, "kb viewer", auth.Viewer), issueToken(t, a, "kb engineer", auth.Engineer)
	vote := func(tok string, helpful bool) gqlResponse {
		body, err := json.Marshal(map[string]any{"query": `mutation($id: ID!, $h: Boolean!) { voteArticle(input: {id: $id, helpful: $h}) { knowledgeArticle { helpfulCount notHelpfulCount } } }`,
			"variables": map[string]any{"id": art["id"], "h": helpful}})
		require.NoError(t, err)
		return postAs(t, url, tok, string(body))
	}
	counts := func(r gqlResponse) any {
		require.Empty(t, r.Errors, r.raw)
		return get(r.Data, "voteArticle", "knowledgeArticle")
	}
	assert.Equal(t, map[string]any{"helpfulCount": 1.0, "notHelpfulCount": 0.0}, counts(vote(viewer, true)))
	assert.Equal(t, map[string]any{"helpfulCount": 2.0, "notHelpfulCount": 0.0}, counts(vote(engineer, true)), "another caller's vote counts")
	assert.Equal(t, map[string]any{"helpfulCount": 2.0, "notHelpfulCount": 0.0}, counts(vote(viewer, true)), "the viewer's second vote does not")
	assert.Equal(t, map[string]any{"helpfulCount": 1.0, "notHelpfulCount": 1.0}, counts(vote(engineer, false)), "the engineer changed their mind")
}

func slicesReverse(s []string) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// kbCorpus is the knowledge base of TestKnowledgeSearch: ten articles of
// a service desk, near enough to one another that words are shared.
var kbCorpus = []struct {
	key, title, category, body string
	keywords                   []string
}{
	{"password", "Reset a forgotten password", "accounts", "Open the self-service portal, choose *Forgot password* and follow the link sent to your e-mail. The new password must have 12 characters.", []string{"password", "login", "account"}},
	{"vpn", "VPN disconnects every hour", "network", "The tunnel certificate on the VPN gateway expired. Renew it, then reconnect the client; the network stays up meanwhile.", []string{"vpn", "tunnel", "certificate"}},
	{"printer", "Printer shows offline", "hardware", "Restart the print spooler service on the print server, then remove and add the printer again.", []string{"printer", "spooler"}},
	{"outlook", "Outlook does not sync mail", "email", "Check the Exchange connection status; rebuild the offline mail cache if it stays disconnected.", []string{"email", "outlook", "exchange"}},
	{"disk", "Disk full on the database server", "database", "Postgres stops writing when the data disk is full: remove old WAL files and extend the volume.", []string{"disk", "postgres", "storage"}},
	{"laptop", "Request a new laptop", "hardware", "Ask through the service catalog; a laptop is delivered within five days with the standard image.", []string{"laptop", "request"}},
	{"mfa", "Configure multi-factor authentication", "accounts", "Install the authenticator app, scan the code shown after login and keep the recovery codes. After a password reset you enroll again.", []string{"mfa", "authenticator", "login"}},
	{"wifi", "Wi-Fi keeps dropping in the office", "network", "Forget the office network and join it again; if the wireless signal is weak, report the access point.", []string{"wifi", "wireless"}},
	{"payments", "Payments API returns HTTP 502", "application", "The nginx gateway in front of the payments service answers 502 when the upstream pods are down: check the deployment.", []string{"payments", "gateway", "nginx"}},
	{"slow", "Slow database queries", "database", "Find the slow queries in pg_stat_statements and add the missing index; a full disk also slows Postgres down.", []string{"postgres", "index", "performance"}},
}

// kbQueries are the questions of TestKnowledgeSearch and the article each
// must find first.
var kbQueries = []struct{ text, want string }{
	{"password reset", "password"},
	{"vpn", "vpn"},
	{"printer offline", "printer"},
	{"outlook mail", "outlook"},
	{"disk full", "disk"},
	{"new laptop", "laptop"},
	{"mfa login", "mfa"},
	{"wifi", "wifi"},
	{"payments 502", "payments"},
	{"slow postgres", "slow"},
	{"cert*", "vpn"},
	{"disk", "disk"},
	{"gateway", "payments"},
	{"offline", "printer"},
}

// TestKnowledgeSearch: the queries of kbQueries, run over the articles of
// kbCorpus on both backends, each find the relevant article first (the
// test logs every rank); highlights mark the words matched; the state and
// CI filters keep what they say.
func TestKnowledgeSearch(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, _ := apiServer(t, mk(t))
			url := srv.URL
			ci := upsertIDs(t, url, item("Server", map[string]any{"name": "kb-search-db", "serial_number": "KBSEARCHDB"}))[0]
			numbers := map[string]string{}
			for i, a := range kbCorpus {
				in := map[string]any{"title": a.title, "category": a.category, "body": a.body, "keywords": a.keywords}
				if a.key == "disk" || a.key == "slow" {
					in["ciIds"] = []any{ci}
				}
				art := kbOK(t, url, "createKnowledgeArticle", "CreateKnowledgeArticleInput", in)
				numbers[a.key] = art["number"].(string)
				if i == len(kbCorpus)-1 {
					continue // the last stays a draft
				}
				kbOK(t, url, "submitKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": art["id"]})
				kbOK(t, url, "publishKnowledgeArticle", "KnowledgeArticleActionInput", map[string]any{"id": art["id"]})
			}
			const q = `query($t: String!, $s: [KnowledgeState!], $ci: ID) { knowledgeSearch(text: $t, state: $s, ciId: $ci) { totalCount truncated
			  hits { score article { number title state } highlights { attribute fragments { text match } } } } }`
			rankOf := func(d map[string]any, number string) int {
				for i, h := range get(d, "knowledgeSearch", "hits").([]any) {
					if get(h, "article", "number") == number {
						return i + 1
					}
				}
				return 0
			}
			for _, kq := range kbQueries {
				d := ok(t, url, q, map[string]any{"t": kq.text})
				rank := rankOf(d, numbers[kq.want])
				t.Logf("%s: %q -> %s (%s) at rank %d of %v", name, kq.text, kq.want, numbers[kq.want], rank, get(d, "knowledgeSearch", "totalCount"))
				assert.Equal(t, 1, rank, "%q should find %q first: %v", kq.text, kq.want, get(d, "knowledgeSearch", "hits"))
				assert.Equal(t, false, get(d, "knowledgeSearch", "truncated"), "%q: ten articles are all considered", kq.text)
			}

			// Highlights mark the matched words in the title and body.
			d := ok(t, url, q, map[string]any{"t": "tunnel certificate"})
			hl := get(d, "knowledgeSearch", "hits", 0, "highlights").([]any)
			var marked []string
			for _, h := range hl {
				for _, f := range get(h, "fragments").([]any) {
					if get(f, "match") == true {
						marked = append(marked, get(h, "attribute").(string)+":"+get(f, "text").(string))
					}
				}
			}
			assert.Contains(t, marked, "keywords:certificate", "a list highlights its first matching value")
			assert.Contains(t, marked, "body:tunnel")
			assert.Contains(t, marked, "body:certificate")

			// Filters: by state, by the CI articles are about.
			d = ok(t, url, q, map[string]any{"t": "postgres"})
			assert.Equal(t, 2.0, get(d, "knowledgeSearch", "totalCount"))
			d = ok(t, url, q, map[string]any{"t": "postgres", "s": []any{"PUBLISHED"}})
			assert.Equal(t, 1.0, get(d, "knowledgeSearch", "totalCount"), "the draft is left out")
			assert.Equal(t, numbers["disk"], get(d, "knowledgeSearch", "hits", 0, "article", "number"))
			d = ok(t, url, q, map[string]any{"t": "postgres", "s": []any{"DRAFT"}})
			assert.Equal(t, numbers["slow"], get(d, "knowledgeSearch", "hits", 0, "article", "number"))
			d = ok(t, url, q, map[string]any{"t": "disk", "ci": ci})
			assert.Equal(t, 2.0, get(d, "knowledgeSearch", "totalCount"), "both articles about the database server mention disks")
			d = ok(t, url, q, map[string]any{"t": "network", "ci": ci})
			assert.Equal(t, 0.0, get(d, "knowledgeSearch", "totalCount"), "no article about the database server mentions the network")
			refusedWith(t, gql(t, url, q, map[string]any{"t": "disk", "ci": numbers["disk"]}), "INVALID", "ciId")
			refusedWith(t, gql(t, url, q, map[string]any{"t": ""}), "INVALID", "")
		})
	}
}
