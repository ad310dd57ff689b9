package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/store"
)

// stackTrace matches what a leaked Go stack trace or panic looks like.
var stackTrace = regexp.MustCompile(`goroutine \d+|\.go:\d+|panic:|runtime\.`)

// FuzzGraphQLRequest POSTs arbitrary bodies to the real router (newApp
// over an embedded store holding a few CIs). Whatever the body, the answer
// is not a 5xx, is JSON, every error has an extensions.code, none is
// INTERNAL, and no stack trace leaks. The app is built once per fuzzing process. With raw, query is the
// whole body; otherwise it is wrapped in a well-formed request (with vars
// as its variables when they are JSON), so mutations explore GraphQL text
// rather than stopping at the JSON decoder.
func FuzzGraphQLRequest(f *testing.F) {
	cfg := config.Default()
	cfg.Store.DataDir = f.TempDir()
	a, err := newApp(f.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close() })
	_, err = a.CMDB.Upsert(f.Context(), store.Actor{Name: "fuzz", Source: "test"}, []cmdb.UpsertItem{
		{Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "serial_number": "S1", "environment": "production"}},
		{Class: "Database", Attributes: map[string]any{"name": "orders", "db_instance": "pg1", "environment": "production"}},
		{Class: "Switch", Attributes: map[string]any{"name": "core", "serial_number": "CORE"}},
	}, true)
	if err != nil {
		f.Fatal(err)
	}

	for _, q := range []string{
		`{ cis(first: 5) { totalCount edges { cursor node { id name class attributes } } } }`,
		`{ cis(filter: {class: "Server", status: ["active"], attributes: {cpu_count: 8}}) { totalCount } }`,
		`query Q($f: CIFilter) { cis(filter: $f) { totalCount } }`,
		`{ node(id: "Q0k6eA") { id } }`,
		`mutation { upsertCIs(input: {items: [{class: "LinuxServer", attributes: {name: "x", serial_number: "X1"}}]}) { results { status error { code field message } } } }`,
		`{ __schema { types { name } } }`,
		`{ cis(filter: {class: "x'}) MATCH (n) DETACH DELETE n //"}) { totalCount } }`,
		`{ cis(filter: {namePrefix: "'; DROP TABLE cis; --", tag: "$param", owner: "` + "`n`" + `"}) { totalCount } }`,
		`{ cis(after: "!!!", first: -1) { totalCount } }`,
		`{ ` + strings.Repeat("cis { edges { node { relationships { edges { node { target { ", 12) + "id" + strings.Repeat(" } } } } } } }", 12) + ` }`,
		`{ ` + strings.Repeat("a: cis(first: 100) { totalCount } ", 2000) + `}`,
		`{ cis(filter: {namePrefix: "` + strings.Repeat("x", 70000) + `"}) { totalCount } }`,
	} {
		f.Add(q, `{"f": {"attributes": {"$param": [1, null, {}]}, "status": ["'; DROP TABLE cis; --"]}}`, false)
	}
	for _, body := range []string{
		``, `{`, `null`, `[]`, `"query"`, `{"query": 1}`, `{"query": "{", "variables": "x"}`,
		`{"query": "{ cis { totalCount } }", "operationName": "missing"}`,
		`{"query": "query { cis { totalCount } }", "variables": {"a": ` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}}`,
		`{"query": "` + strings.Repeat("{", 5000) + `"}`,
		`{"query": "` + strings.Repeat("x", 1<<20) + `"}`,
		"{\"query\": \"\xff\xfe\"}",
	} {
		f.Add(body, "", true)
	}

	f.Fuzz(func(t *testing.T, query, vars string, raw bool) {
		body := query
		if !raw {
			req := map[string]any{"query": query}
			if json.Valid([]byte(vars)) {
				req["variables"] = json.RawMessage(vars)
			}
			if b, err := json.Marshal(req); err == nil {
				body = string(b)
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, req)
		out := rec.Body.String()
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, clipBody(body), clipBody(out))
		}
		var resp struct {
			Errors []struct {
				Extensions struct {
					Code string `json:"code"`
				} `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d, body is not JSON (%v) for %q: %s", rec.Code, err, clipBody(body), clipBody(out))
		}
		for _, e := range resp.Errors {
			if e.Extensions.Code == "" {
				t.Fatalf("error without extensions.code for %q: %s", clipBody(body), clipBody(out))
			}
			if e.Extensions.Code == "INTERNAL" {
				t.Fatalf("INTERNAL error for %q: %s", clipBody(body), clipBody(out))
			}
		}
		if !stackTrace.MatchString(body) && stackTrace.MatchString(out) {
			t.Fatalf("stack trace in the answer to %q: %s", clipBody(body), clipBody(out))
		}
	})
}

func clipBody(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
