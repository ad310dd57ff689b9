package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
)

// limitsConfig is the default configuration on a fresh embedded store,
// without the per-client rate limit (every test request comes from
// 127.0.0.1) unless a test turns it on.
func limitsConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Store.DataDir = t.TempDir()
	cfg.Server.RateLimit = 0
	return cfg
}

func aliases(n int, prefix string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%s%d: version ", prefix, i)
	}
	return b.String()
}

func operations(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "query Q%d { version }\n", i)
	}
	return b.String()
}

func postOp(t *testing.T, url, query, op string) gqlResponse {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "operationName": op})
	require.NoError(t, err)
	return post(t, url, string(b))
}

// refused asserts that r is one error with code that names key. It only
// asserts, so goroutines may call it.
func refused(t *testing.T, r gqlResponse, code, key string) {
	t.Helper()
	if !assert.Len(t, r.Errors, 1, r.raw) {
		return
	}
	assert.Equal(t, code, r.Errors[0].Extensions["code"], r.raw)
	assert.Contains(t, r.Errors[0].Message, key, r.raw)
	assert.Nil(t, r.Data, "nothing ran: %s", r.raw)
	assert.NotEqual(t, http.StatusInternalServerError, r.status)
}

func TestLimitsGraphQL(t *testing.T) {
	srv, _ := apiServer(t, limitsConfig(t))
	u := srv.URL

	t.Run("fragments that double at each level", func(t *testing.T) {
		// Fragment i spreads fragment i+1 twice: 40 fragments expand to
		// 2^40 fields from a 1.5 KB document. The shape check measures each
		// fragment once, so this is refused before anything expands it
		// (before the fix, 26 fragments took 11 s of CPU).
		var doc strings.Builder
		doc.WriteString("{ ...F0 }\n")
		for i := range 40 {
			fmt.Fprintf(&doc, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
		}
		doc.WriteString("fragment F40 on Query { version }\n")
		r := gql(t, u, doc.String(), nil)
		refused(t, r, "COMPLEXITY_LIMIT_EXCEEDED", "graphql.max_complexity")
		ok(t, u, "{ ...A }\nfragment A on Query { ...B ...B }\nfragment B on Query { version }", nil)
	})

	t.Run("aliases", func(t *testing.T) {
		ok(t, u, "{ "+aliases(30, "a")+"}", nil)
		ok(t, u, "{ version version __typename version }", nil) // repeated fields are not aliases
		r := gql(t, u, "{ "+aliases(31, "a")+"}", nil)
		refused(t, r, "TOO_MANY_ALIASES", "graphql.max_aliases")
		assert.Equal(t, 30.0, r.Errors[0].Extensions["limit"])

		// Ten aliases in a fragment spread four times through another: 40.
		frag := "query { ...B ...B } fragment B on Query { ...A ...A } fragment A on Query { " + aliases(10, "x") + "}"
		refused(t, gql(t, u, frag, nil), "TOO_MANY_ALIASES", "graphql.max_aliases")
		ok(t, u, "query { ...A ...A } fragment A on Query { "+aliases(10, "x")+"}", nil)

		// A spread bomb: 2^20 expansions of one alias, refused quickly.
		var bomb strings.Builder
		bomb.WriteString("query { ...F0 } ")
		for i := 0; i < 20; i++ {
			fmt.Fprintf(&bomb, "fragment F%d on Query { ...F%d ...F%d } ", i, i+1, i+1)
		}
		bomb.WriteString("fragment F20 on Query { v: version }")
		refused(t, gql(t, u, bomb.String(), nil), "TOO_MANY_ALIASES", "graphql.max_aliases")

		// GET is limited the same way.
		resp, err := http.Get(u + "/graphql?query=" + url.QueryEscape("{ "+aliases(31, "g")+"}"))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Contains(t, string(body), "TOO_MANY_ALIASES")
	})

	t.Run("operations", func(t *testing.T) {
		d := ok(t, u, operations(1), nil)
		assert.NotEmpty(t, d["version"])
		r := postOp(t, u, operations(10), "Q9")
		require.Empty(t, r.Errors, r.raw)
		assert.NotEmpty(t, r.Data["version"], "ten operations, operationName chooses one")

		r = postOp(t, u, operations(11), "Q0")
		refused(t, r, "TOO_MANY_OPERATIONS", "graphql.max_operations")
		assert.Equal(t, 10.0, r.Errors[0].Extensions["limit"])
		// Shorthand queries count too; fragments and nested braces do not.
		refused(t, gql(t, u, strings.Repeat("{ version } ", 11), nil), "TOO_MANY_OPERATIONS", "graphql.max_operations")
		r = postOp(t, u, `query Q($x: String = "query { a } { b } subscription") {
			cis(filter: {namePrefix: $x}) { totalCount } ...F } fragment F on Query { version } `+operations(9), "Q")
		require.Empty(t, r.Errors, r.raw)
		assert.Equal(t, 0.0, get(r.Data, "cis", "totalCount"))
	})

	t.Run("repeated fields", func(t *testing.T) {
		// The same field written 20,000 times without aliases (160 KB):
		// validation compares every pair of same-named fields, so before
		// the document was measured first this burned a core for 40 s.
		// It is refused by counting selections as the document is lexed.
		r := gql(t, u, "{ "+strings.Repeat("version ", 20000)+"}", nil)
		refused(t, r, "TOO_MANY_SELECTIONS", "graphql.max_selections")
		assert.Equal(t, 2000.0, r.Errors[0].Extensions["limit"])
		// Fragment spreads and inline fragments are selections too.
		r = gql(t, u, "{ ...F "+strings.Repeat("... on Query { version } ", 2000)+"} fragment F on Query { version }", nil)
		refused(t, r, "TOO_MANY_SELECTIONS", "graphql.max_selections")
		// Aliases, arguments, directives and type conditions are not.
		d := ok(t, u, `query Q($p: String = "a b c") { n: version @include(if: true) cis(filter: {namePrefix: $p}) { totalCount }
			... on Query @skip(if: false) { version } ...F } fragment F on Query { __typename }`, nil)
		assert.NotEmpty(t, d["n"])
		ok(t, u, "{ "+strings.Repeat("version ", 2000)+"}", nil)
		// Validation compares the arguments of each pair of same-named
		// fields too: 1,000 selections of a field with a 60-key object
		// argument (a minute of validation) weigh far more than 2,000
		// bare fields, and are refused, naming the field.
		var obj strings.Builder
		for i := range 60 {
			fmt.Fprintf(&obj, "k%d: %d ", i, i)
		}
		heavy := "cis(filter: {attributes: {" + obj.String() + "}}) { totalCount } "
		r = gql(t, u, "{ "+strings.Repeat(heavy, 1000)+"}", nil)
		refused(t, r, "TOO_MANY_SELECTIONS", "graphql.max_selections")
		assert.Contains(t, r.Errors[0].Message, `"cis", 1000 times`)
		// A few repeats are fine (validated, then refused for its own reason).
		r = gql(t, u, "{ "+strings.Repeat(heavy, 3)+"}", nil)
		require.Len(t, r.Errors, 1, r.raw)
		assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], r.raw)
		refused(t, gql(t, u, "{ "+strings.Repeat("version ", 2001)+"}", nil), "TOO_MANY_SELECTIONS", "graphql.max_selections")
	})

	t.Run("complexity reflects work", func(t *testing.T) {
		// The documented largest page, with a count and a few fields each:
		// 1000 CIs cost 1000, the count and pageInfo once.
		ok(t, u, `{ cis(first: 1000) { totalCount pageInfo { hasNextPage endCursor }
			edges { cursor node { id name class status environment attributes tags } } } }`, nil)
		// A count is not a page: relationships { totalCount } on each of
		// 1000 CIs is one unit each, not a default page of 100.
		ok(t, u, `{ cis(first: 1000) { edges { node { id relationships { totalCount } } } } }`, nil)
		// Ten relationships with their targets for each of 1000 CIs is
		// 22,000 items (CIs, pages, relationships, targets): refused, naming
		// the key, before anything runs.
		r := gql(t, u, `{ cis(first: 1000) { edges { node { relationships(first: 10) { edges { node { type target { id } } } } } } } }`, nil)
		refused(t, r, "COMPLEXITY_LIMIT_EXCEEDED", "graphql.max_complexity")
		assert.Equal(t, 5000.0, r.Errors[0].Extensions["limit"], r.raw)
		assert.Contains(t, r.Errors[0].Message, "complexity 22001", r.raw)
		// Page sizes come from variables too, and the schema's defaults
		// (50 CIs) when first is left out.
		r = gql(t, u, `query($n: Int) { cis(first: $n) { edges { node { relationships(first: 10) { edges { node { target { id } } } } } } } }`, map[string]any{"n": 300})
		refused(t, r, "COMPLEXITY_LIMIT_EXCEEDED", "graphql.max_complexity")
		ok(t, u, `{ cis { edges { node { relationships(first: 10) { edges { node { target { id } } } } } } } }`, nil)
		// A page of a traversal's answer costs a page, not a hundred
		// times one (15,100 and more before): the default pages of an
		// impact analysis and of a CI's dependents pass the limit (and
		// run: the unknown CI is the only error).
		for _, q := range []string{
			`{ impactAnalysis(ciIds: ["Q0k6bm9uZQ"]) { impactedPage { totalCount edges { cursor node { depth effect ci { name class } } } } } }`,
			`{ ci(id: "Q0k6bm9uZQ") { dependents(depth: 8) { totalCount nodesPage { edges { cursor node { depth ci { name class } } } } } } }`,
		} {
			r := gql(t, u, q, nil)
			for _, e := range r.Errors {
				assert.NotEqual(t, "COMPLEXITY_LIMIT_EXCEEDED", e.Extensions["code"], r.raw)
			}
		}
	})

	t.Run("batched request", func(t *testing.T) {
		r := post(t, u, `[{"query":"{ version }"},{"query":"{ version }"}]`)
		assert.Equal(t, http.StatusBadRequest, r.status, r.raw)
		require.Len(t, r.Errors, 1, r.raw)
		assert.Equal(t, "BATCH_NOT_SUPPORTED", r.Errors[0].Extensions["code"])
		assert.Contains(t, r.Errors[0].Message, "batched requests")
		assert.NotContains(t, r.raw, "version", "the body is not echoed")
	})

	t.Run("introspection on", func(t *testing.T) {
		d := ok(t, u, `{ __schema { queryType { name } } }`, nil)
		assert.Equal(t, "Query", get(d, "__schema", "queryType", "name"))
	})
}

func TestLimitsIntrospectionOff(t *testing.T) {
	cfg := limitsConfig(t)
	cfg.GraphQL.Introspection = false
	srv, _ := apiServer(t, cfg)
	for _, q := range []string{
		`{ __schema { queryType { name } } }`,
		`{ __type(name: "CI") { name } }`,
		`query { ...I } fragment I on Query { ... on Query { __schema { types { name } } } }`,
	} {
		r := gql(t, srv.URL, q, nil)
		refused(t, r, "INTROSPECTION_DISABLED", "graphql.introspection")
	}
	d := ok(t, srv.URL, `{ __typename version }`, nil)
	assert.Equal(t, "Query", d["__typename"], "__typename is not introspection")
}

func TestLimitsHTTP(t *testing.T) {
	t.Run("rate limit", func(t *testing.T) {
		cfg := limitsConfig(t)
		cfg.Server.RateLimit, cfg.Server.RateBurst = 0.01, 3
		srv, a := apiServer(t, cfg)
		for i := 0; i < 3; i++ {
			ok(t, srv.URL, `{ version }`, nil)
		}
		r := gql(t, srv.URL, `{ version }`, nil)
		assert.Equal(t, http.StatusTooManyRequests, r.status, r.raw)
		require.Len(t, r.Errors, 1, r.raw)
		assert.Equal(t, "RATE_LIMITED", r.Errors[0].Extensions["code"])
		assert.Contains(t, r.Errors[0].Message, "server.rate_limit")
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(`{"query":"{ version }"}`))
		require.NoError(t, err)
		tok, _ := clientTokens.Load(srv.URL)
		req.Header.Set("Authorization", "Bearer "+tok.(string))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, "100", resp.Header.Get("Retry-After"))

		// The budget is the token's: another token, and requests without
		// one (keyed by address), have their own.
		other := issueToken(t, a, "other", auth.Viewer)
		assert.Equal(t, http.StatusOK, postAs(t, srv.URL, other, `{"query":"{ version }"}`).status, "another token")
		assert.Equal(t, http.StatusOK, postAs(t, srv.URL, "", `{"query":"{ version }"}`).status, "no token: the address's budget")
		// Requests with a bad token spend the address's budget too, so
		// guessing tokens is rate limited.
		bad := "skn_aaaaaaaaaa_" + strings.Repeat("A", 43)
		assert.Equal(t, http.StatusUnauthorized, postAs(t, srv.URL, bad, `{"query":"{ version }"}`).status)
		assert.Equal(t, http.StatusUnauthorized, postAs(t, srv.URL, bad, `{"query":"{ version }"}`).status)
		assert.Equal(t, http.StatusTooManyRequests, postAs(t, srv.URL, bad, `{"query":"{ version }"}`).status, "a fourth request from the address")
		assert.Equal(t, http.StatusTooManyRequests, postAs(t, srv.URL, "", `{"query":"{ version }"}`).status)
		resp, err = http.Get(srv.URL + "/readyz")
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "probes are not limited")
	})

	t.Run("CORS", func(t *testing.T) {
		cfg := limitsConfig(t)
		cfg.Server.CORSAllowedOrigins = []string{"https://cmdb.example.com"}
		srv, _ := apiServer(t, cfg)
		for origin, want := range map[string]string{"https://cmdb.example.com": "https://cmdb.example.com", "https://evil.example.net": ""} {
			req, err := http.NewRequest(http.MethodOptions, srv.URL+"/graphql", nil)
			require.NoError(t, err)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, want, resp.Header.Get("Access-Control-Allow-Origin"), origin)
		}
	})
}

// TestLimitsServerStaysResponsive floods the server with requests that trip
// the GraphQL limits while a client keeps asking an ordinary question,
// which must keep being answered.
func TestLimitsServerStaysResponsive(t *testing.T) {
	srv, _ := apiServer(t, limitsConfig(t))
	u := srv.URL
	tok, _ := clientTokens.Load(u)
	// The floods run in goroutines, so they only assert (never require).
	send := func(t *testing.T, body string) gqlResponse {
		r, err := tryPost(u, tok.(string), body)
		assert.NoError(t, err)
		return r
	}
	body := func(query, op string) string {
		b, _ := json.Marshal(map[string]any{"query": query, "operationName": op})
		return string(b)
	}
	floods := []func(t *testing.T){
		func(t *testing.T) {
			refused(t, send(t, body("{ "+aliases(500, "a")+"}", "")), "TOO_MANY_ALIASES", "graphql.max_aliases")
		},
		func(t *testing.T) {
			refused(t, send(t, body(operations(2000), "Q1")), "TOO_MANY_OPERATIONS", "graphql.max_operations")
		},
		func(t *testing.T) {
			refused(t, send(t, body("{ "+strings.Repeat("version ", 20000)+"}", "")), "TOO_MANY_SELECTIONS", "graphql.max_selections")
		},
		func(t *testing.T) {
			assert.Equal(t, http.StatusBadRequest, send(t, "["+strings.Repeat(`{"query":"{ version }"},`, 500)+`{}]`).status)
		},
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 6; i++ {
		flood := floods[i%len(floods)]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					flood(t)
				}
			}
		})
	}
	for i := 0; i < 50; i++ {
		d := ok(t, u, `{ version ciClasses { name } }`, nil)
		require.NotEmpty(t, d["version"])
	}
	close(stop)
	wg.Wait()
}

// TestDeferIsNotSupported: @defer (gqlparser's built-in directive) made
// gqlgen answer non-null fields with null and "hasNext": true, then send
// nothing more. Skein does not support incremental delivery: the schema
// does not declare @defer, so a query using it fails validation, naming it,
// and introspection does not advertise it.
func TestDeferIsNotSupported(t *testing.T) {
	srv, _ := apiServer(t, limitsConfig(t))
	for _, q := range []string{
		`{ ... @defer { version } }`,
		`{ ...F @defer(label: "v") } fragment F on Query { version }`,
		`{ cis(first: 1) { edges { node { id ... @defer { name } } } } }`,
	} {
		r := gql(t, srv.URL, q, nil)
		require.Len(t, r.Errors, 1, r.raw)
		assert.Equal(t, "GRAPHQL_VALIDATION_FAILED", r.Errors[0].Extensions["code"], r.raw)
		assert.Contains(t, r.Errors[0].Message, `Unknown directive "@defer"`, r.raw)
		assert.Nil(t, r.Data, r.raw)
		assert.NotContains(t, r.raw, "hasNext")
	}
	d := ok(t, srv.URL, `{ __schema { directives { name } } }`, nil)
	var names []string
	for _, dir := range get(d, "__schema", "directives").([]any) {
		names = append(names, dir.(map[string]any)["name"].(string))
	}
	assert.NotContains(t, names, "defer")
	assert.Contains(t, names, "include", "the other built-in directives stay")
}
