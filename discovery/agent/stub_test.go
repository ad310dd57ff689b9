package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
}

func newStub(t testing.TB) *stub {
	t.Helper()
	s := &stub{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
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
		ans.Scope = &ScopeResult{Name: b.Scope.Name, Applied: s.applied}
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
