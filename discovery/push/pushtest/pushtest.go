// Package pushtest stands in for Skein's discovery API in tests of its
// clients: a Server that records the batches it is sent and answers as
// POST /api/v1/batches and the runs endpoints do, and the helpers those
// tests share.
package pushtest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/discovery/push"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// Token is the token Pusher sends.
const Token = "skn_agent_s3cr3t-t0ken"

// Server stands in for Skein's POST /api/v1/batches and runs endpoints in
// tests of clients (push.Pusher, the agent): it records what it is sent and
// answers as the contract says, through Fail for the requests it should
// refuse. Set Fail and Applied before the first request.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	batches  []discovery.Batch
	headers  []http.Header
	requests int
	// Fail, when set, may answer a request itself (returning true), given
	// the 1-based number of the request.
	Fail func(w http.ResponseWriter, n int) bool
	// Applied is the scope's "applied" in answers.
	Applied  bool
	runCalls []string
}

// New starts a Server, closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// serveRuns stands in for the runs endpoints: one run, number 1, whose
// completion applies each scope named as applied says.
func (s *Server) serveRuns(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Source string   `json:"source"`
		Scopes []string `json:"scopes"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	s.runCalls = append(s.runCalls, r.URL.Path)
	s.mu.Unlock()
	out := push.RunResult{Run: 1, Source: in.Source, State: "open", Scopes: []push.ScopeResult{}}
	switch r.URL.Path {
	case push.RunsPath:
		w.WriteHeader(http.StatusCreated)
	case push.RunsPath + "/1/complete":
		out.State = "completed"
		for _, sc := range in.Scopes {
			out.Scopes = append(out.Scopes, push.ScopeResult{Name: sc, Run: 1, Applied: s.Applied})
		}
	case push.RunsPath + "/1/abandon":
		out.State = "abandoned"
	default:
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, push.RunsPath) {
		s.serveRuns(w, r)
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.headers = append(s.headers, r.Header.Clone())
	fail := s.Fail
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != push.BatchesPath {
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	if fail != nil && fail(w, n) {
		return
	}
	data, _ := io.ReadAll(r.Body)
	bs, err := discovery.ReadNDJSON(bytes.NewReader(data))
	if err != nil || len(bs) != 1 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, ErrorBody("INVALID", "", "not one batch"))
		return
	}
	b := bs[0]
	s.mu.Lock()
	s.batches = append(s.batches, b)
	s.mu.Unlock()
	ans := push.Answer{Source: b.Source, CIs: []push.ItemResult{}, Relationships: []push.ItemResult{}}
	if b.Scope != nil {
		ans.Scope = &push.ScopeResult{Name: b.Scope.Name, Run: b.Scope.Run, Applied: s.Applied && b.Scope.Run == 0}
	}
	for i, ci := range b.CIs {
		ans.CIs = append(ans.CIs, push.ItemResult{Index: i, Ref: ci.Ref, Status: push.StatusCreated, ID: "ci-" + ci.Ref})
	}
	for i := range b.Relationships {
		ans.Relationships = append(ans.Relationships, push.ItemResult{Index: i, Status: push.StatusCreated, ID: "rel"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}

// Received returns the batches received so far.
func (s *Server) Received() []discovery.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]discovery.Batch(nil), s.batches...)
}

// Count returns the number of batch requests received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Logger returns a debug-level text logger writing to the buffer returned.
func Logger() (*slog.Logger, *testenv.LogBuffer) {
	buf := &testenv.LogBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// Pusher returns a push.Pusher for s with short waits, changed by change.
func Pusher(t testing.TB, s *Server, log *slog.Logger, change ...func(*push.PusherOptions)) *push.Pusher {
	t.Helper()
	opts := push.PusherOptions{Server: s.URL, Token: Token, Timeout: 5 * time.Second, MaxRetryTime: 10 * time.Second,
		InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Logger: log}
	for _, c := range change {
		c(&opts)
	}
	p, err := push.NewPusher(opts)
	require.NoError(t, err)
	return p
}

// RunCalls returns the paths of the runs endpoints called so far.
func (s *Server) RunCalls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.runCalls...)
}

// Headers returns the headers of the batch requests received so far.
func (s *Server) Headers() []http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]http.Header(nil), s.headers...)
}

// SmallBatch is a scoped batch of a server and an instance running on it.
func SmallBatch() discovery.Batch {
	b := discovery.Batch{Source: "host", Scope: &discovery.Scope{Name: "host:web01.example.com"}}
	b.AddCI(discovery.CI{Ref: "server", Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "dns_domain": "example.com"}})
	b.AddCI(discovery.CI{Ref: "nginx", Class: "ApplicationInstance", Attributes: map[string]any{"name": "nginx:80", "host": "web01.example.com", "port": int64(80)}})
	b.Relate("RUNS_ON", discovery.ByRef("nginx"), discovery.ByRef("server"))
	return b
}

// ErrorBody is the body of a refusal: one error with its code and field.
func ErrorBody(code, field, message string) string {
	data, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": message, "extensions": map[string]any{"code": code, "field": field}}}})
	return string(data)
}
