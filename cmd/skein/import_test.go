package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
)

// importAnswer posts body to the import endpoint (chunk lines a
// transaction) with tok and returns its result lines by line number, and
// the summary.
func importAnswer(t *testing.T, url, tok string, body []byte, chunk int) (map[int]map[string]any, map[string]any, int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/import?chunk=%d", url, chunk), bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	lines := map[int]map[string]any{}
	var summary map[string]any
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), sc.Text())
		if s, ok := v["summary"]; ok {
			summary = s.(map[string]any)
			continue
		}
		if _, ok := v["line"]; !ok {
			summary = v // an error answer before any line
			continue
		}
		n := int(v["line"].(float64))
		require.NotContains(t, lines, n, "line %d answered twice", n)
		lines[n] = v
	}
	require.NoError(t, sc.Err())
	return lines, summary, resp.StatusCode
}

// TestImportAPI: POST /api/v1/import on both backends: an NDJSON estate
// larger than server.max_body_bytes (a thousand servers, their services,
// the RUNS_ON between them, the relationships in later chunks than the
// CIs they name by ref), read, written and answered a chunk at a time:
// every line answered in order, bad lines answered invalid naming their
// line while the rest is written; importing it again changes nothing.
func TestImportAPI(t *testing.T) {
	const n = 1000
	var in bytes.Buffer
	for i := range n {
		fmt.Fprintf(&in, `{"ci": {"ref": "s%d", "class": "LinuxServer", "attributes": {"name": "imp%04d", "dns_domain": "import.example", "serial_number": "IMP-%04d"}}}`+"\n", i, i, i)
	}
	for i := range n {
		fmt.Fprintf(&in, `{"ci": {"ref": "a%d", "class": "ApplicationInstance", "attributes": {"name": "nginx:80", "host": "imp%04d.import.example", "port": 80}}}`+"\n", i, i)
	}
	for i := range n {
		fmt.Fprintf(&in, `{"relationship": {"type": "RUNS_ON", "from": {"ref": "a%d"}, "to": {"ref": "s%d"}}}`+"\n", i, i)
	}
	in.WriteString("\n") // blank lines are not lines
	bad := []string{
		`{"ci": {"class": "LinuxServer", "attributes": {"name": "x"`,                               // 3001: not JSON
		`{"ci": {"class": "NoSuchClass", "attributes": {"name": "x"}}}`,                            // 3002
		`{"relationship": {"type": "RUNS_ON", "from": {"ref": "zz"}, "to": {"ref": "s1"}}}`,        // 3003
		`{"ci": {"class": "Application", "attributes": {"name": "y"}}, "relationship": {}}`,        // 3004: both
		`{"ci": {"ref": "twice", "class": "Application", "attributes": {"name": "import-twice"}}}`, // 3005: taken
		`{"ci": {"ref": "twice", "class": "Application", "attributes": {"name": "import-again"}}}`, // 3006: ref defined close by
	}
	for _, b := range bad {
		in.WriteString(b + "\n")
	}
	body := in.Bytes()

	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg := mk(t)
			cfg.Server.MaxBodyBytes = 64 << 10
			require.Greater(t, len(body), int(cfg.Server.MaxBodyBytes), "the input is larger than one request body may be")
			srv, a := apiServer(t, cfg)
			tok := issueToken(t, a, "importer", auth.Agent, "cmdb-migration")
			for pass, want := range []string{"created", "unchanged"} {
				lines, summary, status := importAnswer(t, srv.URL, tok, body, 250)
				require.Equal(t, http.StatusOK, status)
				require.Equal(t, 3*n+len(bad), len(lines), "pass %d: every line answered; summary %v", pass, summary)
				for i := 1; i <= 3*n; i++ {
					require.Equal(t, want, lines[i]["status"], "pass %d line %d: %v", pass, i, lines[i]["error"])
				}
				require.Equal(t, want, lines[3005]["status"], "pass %d line 3005: %v", pass, lines[3005]["error"])
				for i, code := range map[int]string{3001: "INVALID", 3002: "INVALID", 3003: "INVALID", 3004: "INVALID", 3006: "INVALID"} {
					e := lines[i]["error"].(map[string]any)
					assert.Equal(t, code, get(e, "extensions", "code"), "line %d: %v", i, e)
					assert.True(t, strings.HasPrefix(get(e, "extensions", "field").(string), fmt.Sprintf("line %d", i)), "line %d names itself: %v", i, e)
				}
				assert.Equal(t, float64(3*n+len(bad)), summary["lines"])
				assert.Nil(t, summary["error"])
			}
			d := ok(t, srv.URL, `{ cis(first: 1, filter: {class: "Server", namePrefix: "imp"}) { totalCount } }`, nil)
			assert.Equal(t, float64(n), get(d, "cis", "totalCount"))
			d = ok(t, srv.URL, `{ cis(first: 1, filter: {class: "ApplicationInstance", attributes: {host: "imp0999.import.example"}}) { edges { node {
			  relationships(direction: OUT, types: ["RUNS_ON"]) { totalCount edges { node { target { name } } } } } } } }`, nil)
			assert.Equal(t, "imp0999", get(d, "cis", "edges", 0, "node", "relationships", "edges", 0, "node", "target", "name"))

			// Refused whole before any line: a bad chunk size, a reader.
			_, summary, status := importAnswer(t, srv.URL, tok, body, 0)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.NotNil(t, summary)
			_, _, status = importAnswer(t, srv.URL, issueToken(t, a, "reader", auth.Viewer), body[:200], 10)
			assert.Equal(t, http.StatusForbidden, status)
		})
	}
}

// TestImportCommand: skein import streams a file to a running server and
// prints the lines not taken, failing when there are some.
func TestImportCommand(t *testing.T) {
	srv, a := apiServer(t, backendConfigs(t)["embedded"](t))
	tok := issueToken(t, a, "importer", auth.Agent, "cmdb-migration")
	file := filepath.Join(t.TempDir(), "estate.ndjson")
	require.NoError(t, os.WriteFile(file, []byte(`{"ci": {"ref": "w", "class": "LinuxServer", "attributes": {"name": "cmd-web", "serial_number": "CMD-1"}}}
{"ci": {"class": "LinuxServer", "attributes": {}}}
{"ci": {"ref": "n", "class": "ApplicationInstance", "attributes": {"name": "nginx:80", "host": "cmd-web"}}}
{"relationship": {"type": "RUNS_ON", "from": {"ref": "n"}, "to": {"ref": "w"}}}
`), 0o600))
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		root := newRootCmd(&out, &errOut)
		root.SetArgs(append([]string{"import", "--server", srv.URL, "--token", tok, "--chunk", "2"}, args...))
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	out, err := run(file)
	require.ErrorIs(t, err, errImportRefused)
	assert.Contains(t, out, "line 2: invalid: line 2")
	assert.Contains(t, out, `"lines":4`)
	d := ok(t, srv.URL, `{ cis(first: 1, filter: {class: "ApplicationInstance", attributes: {host: "cmd-web"}}) { edges { node { relationships(direction: OUT, types: ["RUNS_ON"]) { totalCount } } } } }`, nil)
	assert.Equal(t, 1.0, get(d, "cis", "edges", 0, "node", "relationships", "totalCount"), "the relationship of the next chunk found its CIs by ref")
	_, err = run(filepath.Join(t.TempDir(), "missing.ndjson"))
	assert.Error(t, err)
}
