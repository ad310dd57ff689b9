package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/skein-cmdb/skein/internal/apierr"
)

// Codes of the requests refused before they reach gqlgen's transports.
const (
	CodeBadRequest           = "BAD_REQUEST"
	CodeUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
	CodeMethodNotAllowed     = "METHOD_NOT_ALLOWED"
)

// requestShape is how a POST body or GET query string must look.
const requestShape = `a JSON object {"query": "...", "operationName": "...", "variables": {...}, "extensions": {...}} (query required, the others optional)`

// checkTransport refuses, with a code and a message that says what to send,
// the requests gqlgen's transports would answer with a code-less error
// that names Go types or echoes the request body: a POST that is not
// application/json, a body that is not a JSON object of the right shape, a
// GET whose query string, variables or extensions cannot be read, and a
// mutation sent with GET. Requests that pass are handed on intact.
func checkTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			transportError(w, r, CodeBadRequest, "protocol upgrades (WebSocket subscriptions) are not supported: send queries and mutations with POST")
			return
		}
		switch r.Method {
		case http.MethodPost:
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				transportError(w, r, CodeUnsupportedMediaType,
					"send the request as Content-Type: application/json, the body "+requestShape)
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				// The body limit answers 413 itself; anything else is the
				// client's connection.
				transportError(w, r, CodeBadRequest, "the request body could not be read")
				return
			}
			if msg := checkBody(body); msg != "" {
				transportError(w, r, CodeBadRequest, msg)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		case http.MethodGet:
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				transportError(w, r, CodeBadRequest, "the query string is malformed (bad %-escape or separator): URL-encode the query, operationName, variables and extensions parameters")
				return
			}
			for _, p := range []string{"variables", "extensions"} {
				if v := q.Get(p); v != "" && !isObject(json.RawMessage(v)) {
					transportError(w, r, CodeBadRequest, fmt.Sprintf("the %s parameter must be a JSON object", p))
					return
				}
			}
			if getMutation(q.Get("query"), q.Get("operationName")) {
				w.Header().Set("Allow", "POST")
				transportError(w, r, CodeMethodNotAllowed, "mutations must be sent with POST; GET runs queries only")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkBody says what is wrong with a POST body, or "" if it is a JSON
// object whose query and operationName are strings or null and whose
// variables and extensions are objects or null. Messages never quote the
// body.
func checkBody(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "the request body is empty: send " + requestShape
	}
	// One pass: decoding into raw fields also validates the whole body
	// (values stay undecoded), and its error says where the syntax breaks.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Sprintf("the request body is not valid JSON (error at byte %d): send %s", se.Offset, requestShape)
		}
		return "the request body must be " + requestShape
	}
	if fields == nil {
		return "the request body must be " + requestShape
	}
	for name, raw := range fields {
		ok := true
		switch name {
		case "query", "operationName": // null: none (persisted queries send no query)
			ok = raw[0] == '"' || string(raw) == "null"
		case "variables", "extensions": // raw is valid JSON: its first byte says what it is
			ok = raw[0] == '{' || string(raw) == "null"
		}
		if !ok {
			want := "a string"
			if name == "variables" || name == "extensions" {
				want = "a JSON object"
			}
			return fmt.Sprintf("%s must be %s; the request body must be %s", name, want, requestShape)
		}
	}
	return ""
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

// getMutation reports whether the operation a GET request would run is
// not a query. A document that does not parse is left to gqlgen, which
// reports where.
func getMutation(query, operationName string) bool {
	if query == "" {
		return false
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		return false
	}
	var op *ast.OperationDefinition
	if operationName == "" && len(doc.Operations) == 1 {
		op = doc.Operations[0]
	} else {
		op = doc.Operations.ForName(operationName)
	}
	return op != nil && op.Operation != ast.Query
}

func transportError(w http.ResponseWriter, r *http.Request, code, msg string) {
	status := apierr.Status(apierr.Code(code)) // one status per code, for every API
	ext := map[string]any{"code": code}
	if id := middleware.GetReqID(r.Context()); id != "" {
		ext["request_id"] = id
	}
	body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{"message": msg, "extensions": ext}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
