package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransportErrorsHaveCodes sends requests a GraphQL client can get
// wrong at the HTTP level. Each answer is JSON with one error that has an
// extensions.code, a message saying what to send instead, and neither Go
// type names nor the request body echoed back.
func TestTransportErrorsHaveCodes(t *testing.T) {
	srv, _ := apiServer(t, limitsConfig(t))
	tok, _ := clientTokens.Load(srv.URL)
	const secret = "s3cr3t-body-marker"
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		query       string // GET query string
		status      int
		code        string
		msgHas      string
	}{
		{name: "malformed JSON", method: "POST", contentType: "application/json", body: `{"query": "{ version }", "x": "` + secret + `"`,
			status: 400, code: "BAD_REQUEST", msgHas: "not valid JSON"},
		{name: "query is a number", method: "POST", contentType: "application/json", body: `{"query": 1, "x": "` + secret + `"}`,
			status: 400, code: "BAD_REQUEST", msgHas: "query"},
		{name: "variables are a string", method: "POST", contentType: "application/json", body: `{"query": "{ version }", "variables": "` + secret + `"}`,
			status: 400, code: "BAD_REQUEST", msgHas: "variables"},
		{name: "operationName is an object", method: "POST", contentType: "application/json", body: `{"query": "{ version }", "operationName": {"a": "` + secret + `"}}`,
			status: 400, code: "BAD_REQUEST", msgHas: "operationName"},
		{name: "body is a string", method: "POST", contentType: "application/json", body: `"` + secret + `"`,
			status: 400, code: "BAD_REQUEST", msgHas: "JSON object"},
		{name: "body is null", method: "POST", contentType: "application/json", body: `null`,
			status: 400, code: "BAD_REQUEST", msgHas: "JSON object"},
		{name: "empty body", method: "POST", contentType: "application/json", body: ``,
			status: 400, code: "BAD_REQUEST", msgHas: "empty"},
		{name: "trailing garbage", method: "POST", contentType: "application/json", body: `{"query": "{ version }"} ` + secret,
			status: 400, code: "BAD_REQUEST", msgHas: "not valid JSON"},
		{name: "wrong content type", method: "POST", contentType: "text/plain", body: `{"query": "{ version }", "x": "` + secret + `"}`,
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", msgHas: "application/json"},
		{name: "no content type", method: "POST", body: `{"query": "{ version }"}`,
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", msgHas: "application/json"},
		{name: "form post", method: "POST", contentType: "application/x-www-form-urlencoded", body: `query=` + secret,
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", msgHas: "application/json"},
		{name: "GET with bad variables", method: "GET", query: "query=" + url.QueryEscape("{ version }") + "&variables=" + secret,
			status: 400, code: "BAD_REQUEST", msgHas: "variables"},
		{name: "GET with bad extensions", method: "GET", query: "query=" + url.QueryEscape("{ version }") + "&extensions=%5B" + secret,
			status: 400, code: "BAD_REQUEST", msgHas: "extensions"},
		{name: "GET with a malformed query string", method: "GET", query: "query=%zz" + secret,
			status: 400, code: "BAD_REQUEST", msgHas: "query string"},
		{name: "GET mutation", method: "GET", query: "query=" + url.QueryEscape(`mutation { ping }`),
			status: 405, code: "METHOD_NOT_ALLOWED", msgHas: "POST"},
		{name: "persisted query not yet known", method: "POST", contentType: "application/json",
			body:   `{"query": null, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}}`,
			status: 200, code: "PERSISTED_QUERY_NOT_FOUND", msgHas: "PersistedQueryNotFound"},
		{name: "GET without a query", method: "GET", query: "",
			code: "GRAPHQL_VALIDATION_FAILED", status: 422, msgHas: "no operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := srv.URL + "/graphql"
			if tt.query != "" {
				target += "?" + tt.query
			}
			req, err := http.NewRequest(tt.method, target, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Authorization", "Bearer "+tok.(string))
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, tt.status, resp.StatusCode, string(raw))
			var r gqlResponse
			require.NoError(t, json.Unmarshal(raw, &r), string(raw))
			require.Len(t, r.Errors, 1, string(raw))
			assert.Equal(t, tt.code, r.Errors[0].Extensions["code"], string(raw))
			assert.Contains(t, r.Errors[0].Message, tt.msgHas, string(raw))
			for _, leak := range []string{secret, "Go struct", "Go value", "RawParams", "map[string]", "json: "} {
				assert.NotContains(t, string(raw), leak)
			}
		})
	}
}
