package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

// server stands in for POST /api/v1/batches, answering every item
// "created", or status when it is not 200.
func server(t *testing.T, status int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/runs") && status == http.StatusOK { // one run, completed as asked
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"run": 1, "state": "completed", "scopes": []}`))
			return
		}
		posts.Add(1)
		var b discovery.Batch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || status != http.StatusOK {
			w.WriteHeader(max(status, http.StatusBadRequest))
			_, _ = w.Write([]byte(`{"error":{"code":"INVALID","message":"refused"}}`))
			return
		}
		ans := map[string]any{"source": b.Source, "cis": []any{}, "relationships": []any{}}
		for i := range b.CIs {
			ans["cis"] = append(ans["cis"].([]any), map[string]any{"index": i, "status": "created", "id": "x"})
		}
		for i := range b.Relationships {
			ans["relationships"] = append(ans["relationships"].([]any), map[string]any{"index": i, "status": "created", "id": "y"})
		}
		if b.Scope != nil {
			ans["scope"] = map[string]any{"name": b.Scope.Name, "applied": false}
		}
		_ = json.NewEncoder(w).Encode(ans)
	}))
	t.Cleanup(srv.Close)
	return srv, &posts
}

func TestExitCodes(t *testing.T) {
	t.Setenv("SKEIN_AGENT_TOKEN", "")
	ok, okPosts := server(t, http.StatusOK)
	refusing, _ := server(t, http.StatusBadRequest)
	hostOnly := "token: t\nsources: [{type: host, fqdn: agent-test.example.com}]\n"
	for _, tc := range []struct {
		name string
		args func() []string
		code int
		out  func(t *testing.T, stdout, stderr string)
	}{
		{name: "no --config", args: func() []string { return nil }, code: exitBadConfig},
		{name: "unknown flag", args: func() []string { return []string{"--config", "x", "--nope"} }, code: exitBadConfig},
		{name: "missing file", args: func() []string { return []string{"--config", filepath.Join(t.TempDir(), "none.yaml")} }, code: exitBadConfig},
		{name: "bad config", args: func() []string {
			return []string{"--config", writeFile(t, "server: "+ok.URL+"\ntoken: t\nsources: [{type: ansible}]\n")}
		}, code: exitBadConfig, out: func(t *testing.T, _, stderr string) {
			assert.Contains(t, stderr, "sources[0].dir: is required")
		}},
		{name: "dry run prints NDJSON and posts nothing", args: func() []string {
			return []string{"--config", writeFile(t, hostOnly), "--dry-run"}
		}, code: exitOK, out: func(t *testing.T, stdout, _ string) {
			batches, err := discovery.ReadNDJSON(bytes.NewBufferString(stdout))
			require.NoError(t, err)
			require.Len(t, batches, 1)
			assert.Equal(t, "host", batches[0].Source)
			assert.Zero(t, okPosts.Load())
		}},
		{name: "once, all taken", args: func() []string {
			return []string{"--config", writeFile(t, "server: "+ok.URL+"\n"+hostOnly), "--once"}
		}, code: exitOK, out: func(t *testing.T, _, stderr string) {
			assert.Equal(t, int32(1), okPosts.Load())
			assert.Contains(t, stderr, "source done")
			assert.NotContains(t, stderr, "token: t")
		}},
		{name: "once, refused", args: func() []string {
			return []string{"--config", writeFile(t, "server: "+refusing.URL+"\n"+hostOnly), "--once"}
		}, code: exitFailed, out: func(t *testing.T, _, stderr string) {
			assert.Contains(t, stderr, "batch not taken")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args(), &stdout, &stderr)
			assert.Equal(t, tc.code, exitCode(err), "%v\n%s", err, stderr.String())
			if tc.out != nil {
				tc.out(t, stdout.String(), stderr.String()+fmt.Sprint(err)) // main prints err

			}
		})
	}
}
