package agent

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
)

const testToken = "skn_agent_s3cr3t-t0ken"

// stub stands in for the server's POST /api/v1/batches: it records what it
// is sent and answers as the contract says, through fail for the first
// requests it should refuse.
type stub struct {
	*httptest.Server
	mu       sync.Mutex
	batches  []discovery.Batch
	headers  []http.Header
	requests int
	// fail, when set, may answer a request itself (returning true), given
	// the 1-based number of the request.
	fail func(w http.ResponseWriter, n int) bool
	// applied is the scope's "applied" in answers.
	applied bool
	// runCalls are the paths of the runs endpoints called.
	runCalls []string
}

func newStub(t testing.TB) *stub {
	t.Helper()
	s := &stub{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// serveRuns stands in for the runs endpoints: one run, number 1, whose
// completion applies each scope named as applied says.
func (s *stub) serveRuns(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Source string   `json:"source"`
		Scopes []string `json:"scopes"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	s.mu.Lock()
	s.runCalls = append(s.runCalls, r.URL.Path)
	s.mu.Unlock()
	out := RunResult{Run: 1, Source: in.Source, State: "open", Scopes: []ScopeResult{}}
	switch r.URL.Path {
	case RunsPath:
		w.WriteHeader(http.StatusCreated)
	case RunsPath + "/1/complete":
		out.State = "completed"
		for _, sc := range in.Scopes {
			out.Scopes = append(out.Scopes, ScopeResult{Name: sc, Run: 1, Applied: s.applied})
		}
	case RunsPath + "/1/abandon":
		out.State = "abandoned"
	default:
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, RunsPath) {
		s.serveRuns(w, r)
		return
	}
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.headers = append(s.headers, r.Header.Clone())
	fail := s.fail
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != BatchesPath {
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
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": "not one batch", "extensions": map[string]any{"code": "INVALID"}}}})
		return
	}
	b := bs[0]
	s.mu.Lock()
	s.batches = append(s.batches, b)
	s.mu.Unlock()
	ans := answer{Source: b.Source, CIs: []ItemResult{}, Relationships: []ItemResult{}}
	if b.Scope != nil {
		ans.Scope = &ScopeResult{Name: b.Scope.Name, Run: b.Scope.Run, Applied: s.applied && b.Scope.Run == 0}
	}
	for i, ci := range b.CIs {
		ans.CIs = append(ans.CIs, ItemResult{Index: i, Ref: ci.Ref, Status: StatusCreated, ID: "ci-" + ci.Ref})
	}
	for i := range b.Relationships {
		ans.Relationships = append(ans.Relationships, ItemResult{Index: i, Status: StatusCreated, ID: "rel"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ans)
}

func (s *stub) received() []discovery.Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]discovery.Batch(nil), s.batches...)
}

func (s *stub) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// logBuffer is a concurrency-safe buffer for a text logger.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func testLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// testPusher returns a Pusher for the stub with short waits.
func testPusher(t testing.TB, s *stub, log *slog.Logger, change ...func(*PusherOptions)) *Pusher {
	t.Helper()
	opts := PusherOptions{Server: s.URL, Token: testToken, Timeout: 5 * time.Second, MaxRetryTime: 10 * time.Second,
		InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Logger: log}
	for _, c := range change {
		c(&opts)
	}
	p, err := NewPusher(opts)
	require.NoError(t, err)
	return p
}
