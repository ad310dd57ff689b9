package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The runnable examples of docs/API.md are fenced blocks:
//
//	```graphql                      an example that must succeed: no errors,
//	                                and data with no null top-level field and
//	                                no empty edges, nodes, results, impacted
//	                                or steps list
//	```graphql expect-error=CODE    an example that must fail with an error
//	                                whose extensions.code is CODE
//	```json variables               the variables of the example before it
//	                                (the next fenced block after it)
//	```json answer                  an excerpt of the example's response
//	                                ({"data": ...} or {"errors": ...}):
//	                                every object key given must be there with
//	                                that value, and a list must start with the
//	                                elements given
//
// In variables, "$ID(name)" stands for the global ID of the CI named name
// (looked up with cis(filter: {namePrefix: ...})), "$PERSON(userName)",
// "$GROUP(name)", "$INCIDENT(number)", "$CHANGE(number)",
// "$PROBLEM(number)", "$CHANGE_TASK(number)", "$KNOWLEDGE(number)", "$REQUEST(number)",
// "$RITM(number)", "$TEMPLATE(name)" and "$CATALOG_ITEM(name)" for those of a person, a group, a
// record, a change template and a catalog item, and "$PREV(a.b.c)" for a
// value of the previous example's data, such as a page's endCursor (a
// number picks an element of a list: "$PREV(x.edges.0.node.id)").
// Other fenced blocks (bash, text, plain json) are prose.

const apiDocsPath = "../../docs/API.md"

// docExample is one runnable example of the documentation.
type docExample struct {
	line        int
	heading     string
	query       string
	vars        string
	answer      string
	expectError string
}

var docFence = regexp.MustCompile("^```\\s*(\\S*)\\s*(.*)$")

// parseDocExamples extracts the runnable examples of a Markdown document.
func parseDocExamples(md string) ([]docExample, error) {
	var (
		out     []docExample
		heading string
		inBlock bool
		info    []string
		body    strings.Builder
		start   int
		// last is the example the next variables or answer block belongs
		// to; it is cleared by any other fenced block.
		last *docExample
	)
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if !inBlock {
			if strings.HasPrefix(line, "#") {
				heading = strings.TrimSpace(strings.TrimLeft(line, "#"))
			}
			if m := docFence.FindStringSubmatch(line); m != nil {
				inBlock, info, start = true, append([]string{m[1]}, strings.Fields(m[2])...), n
				body.Reset()
			}
			continue
		}
		if strings.TrimSpace(line) != "```" {
			body.WriteString(line + "\n")
			continue
		}
		inBlock = false
		lang, attrs := info[0], info[1:]
		switch {
		case lang == "graphql":
			ex := docExample{line: start, heading: heading, query: body.String()}
			for _, a := range attrs {
				code, ok := strings.CutPrefix(a, "expect-error=")
				if !ok || code == "" {
					return nil, fmt.Errorf("line %d: unknown graphql block attribute %q (want expect-error=CODE)", start, a)
				}
				ex.expectError = code
			}
			out = append(out, ex)
			last = &out[len(out)-1]
		case lang == "json" && len(attrs) == 1 && (attrs[0] == "variables" || attrs[0] == "answer"):
			if last == nil {
				return nil, fmt.Errorf("line %d: a json %s block must follow a graphql example (or its variables)", start, attrs[0])
			}
			if !json.Valid([]byte(body.String())) {
				return nil, fmt.Errorf("line %d: json %s block is not valid JSON", start, attrs[0])
			}
			if attrs[0] == "variables" {
				if last.vars != "" || last.answer != "" {
					return nil, fmt.Errorf("line %d: variables must come right after their example, once", start)
				}
				last.vars = body.String()
			} else {
				if last.answer != "" {
					return nil, fmt.Errorf("line %d: one answer per example", start)
				}
				last.answer = body.String()
			}
		default:
			last = nil
		}
	}
	if inBlock {
		return nil, fmt.Errorf("line %d: fenced block not closed", start)
	}
	return out, sc.Err()
}

func TestAPIDocsParse(t *testing.T) {
	md := "# A\n```graphql\n{ a }\n```\n\n```json variables\n{\"x\": 1}\n```\n" +
		"```json answer\n{\"data\": {}}\n```\n## B\n```graphql expect-error=INVALID\n{ b }\n```\n```bash\nls\n```\n"
	got, err := parseDocExamples(md)
	require.NoError(t, err)
	assert.Equal(t, []docExample{
		{line: 2, heading: "A", query: "{ a }\n", vars: "{\"x\": 1}\n", answer: "{\"data\": {}}\n"},
		{line: 13, heading: "B", query: "{ b }\n", expectError: "INVALID"},
	}, got)

	for name, bad := range map[string]string{
		"orphan variables": "```json variables\n{}\n```\n",
		"variables late":   "```graphql\n{ a }\n```\n```bash\nx\n```\n```json variables\n{}\n```\n",
		"bad attribute":    "```graphql expect=INVALID\n{ a }\n```\n",
		"invalid json":     "```graphql\n{ a }\n```\n```json variables\n{x}\n```\n",
		"unclosed":         "```graphql\n{ a }\n",
	} {
		_, err := parseDocExamples(bad)
		assert.Error(t, err, name)
	}
}

// TestAPIDocs runs every example of docs/API.md, in order, against a
// demo-seeded server on each backend.
func TestAPIDocs(t *testing.T) { runDocExamples(t, apiDocsPath) }

// TestITSMDocs runs every example of docs/ITSM.md, in order, against a
// demo-seeded server on each backend.
func TestITSMDocs(t *testing.T) { runDocExamples(t, "../../docs/ITSM.md") }

// runDocExamples runs every example of the Markdown document at path, in
// order, against a demo-seeded server on each backend; the document must
// document errors too.
func runDocExamples(t *testing.T, path string) {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	examples, err := parseDocExamples(string(raw))
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	var errorExamples int
	for _, ex := range examples {
		if ex.expectError != "" {
			errorExamples++
		}
	}
	require.Positive(t, errorExamples, "the guide documents errors too")

	for _, b := range demoBackends(false) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			var prev any // the previous example's data
			for i, ex := range examples {
				name := fmt.Sprintf("%02d-line%d-%s", i+1, ex.line, docSlug(ex.heading))
				t.Run(name, func(t *testing.T) {
					vars := map[string]any{}
					if ex.vars != "" {
						require.NoError(t, json.Unmarshal([]byte(ex.vars), &vars))
						vars = s.resolveDoc(t, vars, prev).(map[string]any)
					}
					resp := s.post(t, ex.query, vars)
					var data any
					if len(resp.Data) > 0 {
						require.NoError(t, json.Unmarshal(resp.Data, &data))
					}
					prev = data
					if ex.expectError != "" {
						var codes []string
						for _, e := range resp.Errors {
							codes = append(codes, e.code())
						}
						assert.Contains(t, codes, ex.expectError, "the example fails with %s; errors: %+v", ex.expectError, resp.Errors)
					} else {
						require.Empty(t, resp.Errors, "the example succeeds")
						assertDocData(t, data)
					}
					if ex.answer != "" {
						var want any
						require.NoError(t, json.Unmarshal([]byte(ex.answer), &want))
						whole := map[string]any{"data": data}
						if len(resp.Errors) > 0 {
							var errs any
							b, _ := json.Marshal(resp.Errors)
							require.NoError(t, json.Unmarshal(b, &errs))
							whole["errors"] = errs
						}
						if msg := docJSONExcerpt(want, whole, "$"); msg != "" {
							got, _ := json.MarshalIndent(whole, "", "  ")
							assert.Failf(t, "the answer in the guide does not match", "%s\nresponse: %s", msg, got)
						}
					}
				})
			}
		})
	}
}

// resolveDoc replaces the placeholders of a documentation example's
// variables: "$ID(name)" and "$PREV(path)".
func (s *demoServer) resolveDoc(t *testing.T, v any, prev any) any {
	t.Helper()
	if str, ok := v.(string); ok {
		if m := docPrev.FindStringSubmatch(str); m != nil {
			val := prev
			for _, k := range strings.Split(m[1], ".") {
				if list, ok := val.([]any); ok {
					i, err := strconv.Atoi(k)
					require.True(t, err == nil && i >= 0 && i < len(list), "$PREV(%s): %q is not an index of the previous answer's list", m[1], k)
					val = list[i]
					continue
				}
				obj, ok := val.(map[string]any)
				require.True(t, ok, "$PREV(%s): %q is not in the previous answer", m[1], k)
				val = obj[k]
			}
			require.NotNil(t, val, "$PREV(%s) is in the previous answer", m[1])
			return val
		}
		if m := docLookup.FindStringSubmatch(str); m != nil {
			return s.lookupDoc(t, m[1], m[2])
		}
	}
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.resolveDoc(t, e, prev)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.resolveDoc(t, e, prev)
		}
		return out
	}
	return s.resolve(t, v)
}

var (
	docPrev   = regexp.MustCompile(`^\$PREV\(([A-Za-z0-9_.]+)\)$`)
	docLookup = regexp.MustCompile(`^\$(PERSON|GROUP|INCIDENT|CHANGE_TASK|CHANGE|PROBLEM|TEMPLATE|KNOWLEDGE|CATALOG_ITEM|REQUEST|RITM)\(([^()]+)\)$`)
)

// lookupDoc returns the global ID of the person with user name key
// (PERSON), the group named key (GROUP), or the incident or change
// numbered key (INCIDENT, CHANGE).
func (s *demoServer) lookupDoc(t *testing.T, what, key string) string {
	t.Helper()
	var q string
	var path []string
	switch what {
	case "PERSON":
		q, path = `query($k: JSON!) { people(where: {attribute: "user_name", eq: $k}) { edges { node { id } } } }`, []string{"people", "edges"}
	case "GROUP":
		q, path = `query($k: JSON!) { groups(where: {attribute: "name", eq: $k}) { edges { node { id } } } }`, []string{"groups", "edges"}
	case "CHANGE":
		q, path = `query($k: String!) { change(number: $k) { id } }`, []string{"change"}
	case "PROBLEM":
		q, path = `query($k: String!) { problem(number: $k) { id } }`, []string{"problem"}
	case "CHANGE_TASK":
		q, path = `query($k: String!) { changeTask(number: $k) { id } }`, []string{"changeTask"}
	case "TEMPLATE":
		q, path = `query($k: String!) { changeTemplate(name: $k) { id } }`, []string{"changeTemplate"}
	case "KNOWLEDGE":
		q, path = `query($k: String!) { knowledgeArticle(number: $k) { id } }`, []string{"knowledgeArticle"}
	case "CATALOG_ITEM":
		q, path = `query($k: String!) { catalogItem(name: $k) { id } }`, []string{"catalogItem"}
	case "REQUEST":
		q, path = `query($k: String!) { request(number: $k) { id } }`, []string{"request"}
	case "RITM":
		q, path = `query($k: String!) { requestedItem(number: $k) { id } }`, []string{"requestedItem"}
	default:
		q, path = `query($k: String!) { incident(number: $k) { id } }`, []string{"incident"}
	}
	resp := s.post(t, q, map[string]any{"k": key})
	require.Empty(t, resp.Errors, "$%s(%s)", what, key)
	var data map[string]any
	require.NoError(t, json.Unmarshal(resp.Data, &data))
	v := any(data)
	for _, k := range path {
		v = v.(map[string]any)[k]
	}
	if list, ok := v.([]any); ok {
		require.Len(t, list, 1, "$%s(%s) names one", what, key)
		v = list[0].(map[string]any)["node"]
	}
	obj, ok := v.(map[string]any)
	require.True(t, ok, "$%s(%s) exists", what, key)
	return obj["id"].(string)
}

// assertDocData checks that an example's data says something: no null
// top-level field, and no empty list where an example means to show items.
func assertDocData(t *testing.T, data any) {
	t.Helper()
	obj, ok := data.(map[string]any)
	require.True(t, ok && len(obj) > 0, "the example returns data")
	for k, v := range obj {
		assert.NotNil(t, v, "data.%s is not null", k)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if l, ok := e.([]any); ok && len(l) == 0 {
					switch k {
					case "edges", "nodes", "results", "impacted", "steps":
						assert.Failf(t, "empty list", "%s.%s is empty: the example shows nothing", path, k)
					}
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	walk("data", data)
}

// jsonExcerpt reports how want is not an excerpt of got ("" when it is):
// objects must have want's keys with matching values, lists must start
// with want's elements, other values must be equal.
func docJSONExcerpt(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %s", path, docCompact(got))
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s.%s: missing", path, k)
			}
			if msg := docJSONExcerpt(wv, gv, path+"."+k); msg != "" {
				return msg
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want a list, got %s", path, docCompact(got))
		}
		if len(g) < len(w) {
			return fmt.Sprintf("%s: want at least %d elements, got %d", path, len(w), len(g))
		}
		for i := range w {
			if msg := docJSONExcerpt(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); msg != "" {
				return msg
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s: want %s, got %s", path, docCompact(want), docCompact(got))
	}
	return ""
}

func docCompact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAPIDocsJSONExcerpt(t *testing.T) {
	got := map[string]any{"a": []any{1.0, 2.0, 3.0}, "b": map[string]any{"c": "x", "d": nil}}
	tests := []struct {
		want string
		ok   bool
	}{
		{`{}`, true},
		{`{"a": [1, 2]}`, true},
		{`{"a": [2]}`, false},
		{`{"a": [1, 2, 3, 4]}`, false},
		{`{"b": {"c": "x"}}`, true},
		{`{"b": {"d": null}}`, true},
		{`{"b": {"e": 1}}`, false},
		{`{"b": "x"}`, false},
	}
	for _, tt := range tests {
		var want any
		require.NoError(t, json.Unmarshal([]byte(tt.want), &want))
		msg := docJSONExcerpt(want, got, "$")
		assert.Equal(t, tt.ok, msg == "", "%s: %s", tt.want, msg)
	}
}

func docSlug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
