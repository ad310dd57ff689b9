package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/discovery/push"
	"github.com/skein-cmdb/skein/discovery/push/pushtest"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// writeConfig writes a configuration file for the stub and returns its path.
func writeConfig(t testing.TB, server, sources string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "agent.yaml")
	data := fmt.Sprintf("server: %s\ntoken: %s\nmax_retry_time: 5s\nsources:\n%s", server, pushtest.Token, sources)
	require.NoError(t, os.WriteFile(p, []byte(data), 0o600))
	return p
}

// TestRunOnceHostAndKubernetes runs the host source and the kubernetes
// source on the Online Boutique manifests, configured through a file, and
// checks what the stub server was sent.
func TestRunOnceHostAndKubernetes(t *testing.T) {
	manifests := testenv.SharedTestdata(t, "kubernetes/online-boutique.yaml")
	s := pushtest.New(t)
	path := writeConfig(t, s.URL, fmt.Sprintf(`
  - type: host
    fqdn: agent-test.example.com
  - type: kubernetes
    name: k8s-manifests
    cluster: boutique
    paths: [%q]
`, manifests))
	cfg, err := LoadConfig(path, ForPush)
	require.NoError(t, err)
	log, logs := pushtest.Logger()
	r, err := New(cfg, RunnerOptions{Logger: log})
	require.NoError(t, err)

	rep, err := r.RunOnce(context.Background())
	require.NoError(t, err)
	assert.True(t, rep.OK())
	require.Len(t, rep.Sources, 2)

	got := s.Received()
	bySource := map[string][]discovery.Batch{}
	for _, b := range got {
		bySource[b.Source] = append(bySource[b.Source], b)
	}
	assert.Len(t, bySource, 2, "the sources posted: %v", keys(bySource))

	hostRep := rep.Sources[0]
	assert.Equal(t, "host", hostRep.Name)
	assert.Equal(t, TypeHost, hostRep.Type)
	require.Len(t, bySource["host"], 1)
	hb := bySource["host"][0]
	assert.Equal(t, "LinuxServer", hb.CIs[0].Class)
	assert.Equal(t, "agent-test.example.com", hb.CIs[0].Attributes["fqdn"])
	assert.Equal(t, Counts{Batches: 1, CIs: len(hb.CIs), Relationships: len(hb.Relationships)}, hostRep.Sent)
	assert.Equal(t, len(hb.CIs), hostRep.CIStatus[push.StatusCreated])

	k8sRep := rep.Sources[1]
	assert.Equal(t, "k8s-manifests", k8sRep.Name, "the configured name")
	kb := bySource["k8s-manifests"]
	require.NotEmpty(t, kb)
	sent := Counts{}
	workloads := map[string]bool{}
	for _, b := range kb {
		sent.add(b)
		assert.Nil(t, b.Scope, "manifests claim no scope")
		for _, ci := range b.CIs {
			if ci.Class == "KubernetesWorkload" {
				workloads[fmt.Sprint(ci.Attributes["name"])] = true
			}
		}
	}
	assert.Equal(t, sent, k8sRep.Sent)
	assert.Equal(t, k8sRep.Collected, k8sRep.Sent)
	assert.Equal(t, sent.CIs, k8sRep.CIStatus[push.StatusCreated])
	assert.Equal(t, sent.Relationships, k8sRep.RelationshipStatus[push.StatusCreated])
	for _, w := range []string{"frontend", "cartservice", "checkoutservice", "redis-cart"} {
		assert.True(t, workloads[w], "workload %s posted", w)
	}
	testenv.CheckModel(t, got...)
	assert.NotContains(t, logs.String(), pushtest.Token)
	assert.Contains(t, logs.String(), "source done")
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// source is a made-up discovery source.
type source struct {
	name    string
	batches []discovery.Batch
	err     error
}

func (s source) Name() string { return s.name }
func (s source) Collect(context.Context) ([]discovery.Batch, error) {
	return s.batches, s.err
}

func TestRunOnceReports(t *testing.T) {
	scoped := pushtest.SmallBatch()
	bad := pushtest.SmallBatch()
	bad.Source = "refused"
	bad.Scope = nil
	for _, tc := range []struct {
		name    string
		sources []discovery.Source
		fail    func(http.ResponseWriter, int) bool
		applied bool
		check   func(t *testing.T, rep Report, err error)
		// runs are the runs endpoints the agent must have called.
		runs []string
	}{
		{
			name:    "a failing source does not stop the others",
			sources: []discovery.Source{source{name: "broken", err: errors.New("no facts")}, source{name: "host", batches: []discovery.Batch{scoped}}},
			check: func(t *testing.T, rep Report, err error) {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "source broken: collect: no facts")
				assert.False(t, rep.Sources[0].OK())
				assert.True(t, rep.Sources[1].OK())
				assert.Equal(t, 1, rep.Sources[1].Sent.Batches)
				assert.Equal(t, []string{"host:web01.example.com"}, rep.Sources[1].ScopesNotApplied, "the stub applies no scope")
			},
		},
		{
			name:    "scope applied",
			sources: []discovery.Source{source{name: "host", batches: []discovery.Batch{scoped}}},
			applied: true,
			check: func(t *testing.T, rep Report, err error) {
				require.NoError(t, err)
				assert.Empty(t, rep.Sources[0].ScopesNotApplied)
				assert.Equal(t, int64(1), rep.Sources[0].Run)
				assert.Equal(t, "completed", rep.Sources[0].RunState)
				assert.Equal(t, []push.ScopeResult{{Name: "host:web01.example.com", Run: 1, Applied: true}}, rep.Sources[0].Scopes)
			},
			runs: []string{push.RunsPath, push.RunsPath + "/1/complete"},
		},
		{
			name:    "a refused batch is reported, the next one sent",
			sources: []discovery.Source{source{name: "host", batches: []discovery.Batch{bad, scoped}}},
			fail: func(w http.ResponseWriter, n int) bool {
				if n != 1 {
					return false
				}
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(pushtest.ErrorBody("INVALID", "relationships[0].type", "unknown type")))
				return true
			},
			check: func(t *testing.T, rep Report, err error) {
				var rej *push.RejectedError
				require.ErrorAs(t, err, &rej)
				assert.Equal(t, "relationships[0].type", rej.Field)
				sr := rep.Sources[0]
				require.Len(t, sr.Failed, 1)
				assert.Equal(t, 0, sr.Failed[0].Batch)
				assert.Equal(t, 1, sr.Sent.Batches)
				assert.Equal(t, "abandoned", sr.RunState, "a run with a batch not taken removes nothing")
				assert.Equal(t, []string{"host:web01.example.com"}, sr.ScopesNotApplied)
			},
			runs: []string{push.RunsPath, push.RunsPath + "/1/abandon"},
		},
		{
			name: "a refused token stops the run",
			sources: []discovery.Source{source{name: "host", batches: []discovery.Batch{scoped, scoped}},
				source{name: "later", batches: []discovery.Batch{scoped}}},
			fail: func(w http.ResponseWriter, n int) bool {
				w.WriteHeader(http.StatusUnauthorized)
				return true
			},
			check: func(t *testing.T, rep Report, err error) {
				assert.ErrorIs(t, err, push.ErrUnauthorized)
				require.Len(t, rep.Sources, 1, "no later source runs")
				assert.Len(t, rep.Sources[0].Failed, 1, "no later batch is sent")
			},
		},
		{
			name:    "refused items are listed",
			sources: []discovery.Source{source{name: "host", batches: []discovery.Batch{scoped}}},
			fail: func(w http.ResponseWriter, n int) bool {
				_, _ = w.Write([]byte(`{"source":"host","cis":[{"index":0,"ref":"server","status":"created","id":"1"},` +
					`{"index":1,"ref":"nginx","status":"invalid","error":{"message":"out of range","extensions":{"code":"INVALID","field":"cis[1].attributes.port"}}}],` +
					`"relationships":[{"index":0,"status":"not_found","error":{"message":"no such CI","extensions":{"code":"NOT_FOUND","field":"relationships[0].to"}}}]}`))
				return true
			},
			check: func(t *testing.T, rep Report, err error) {
				assert.ErrorIs(t, err, ErrRefused)
				sr := rep.Sources[0]
				assert.Equal(t, map[push.Status]int{push.StatusCreated: 1, push.StatusInvalid: 1}, sr.CIStatus)
				assert.Equal(t, map[push.Status]int{push.StatusNotFound: 1}, sr.RelationshipStatus)
				require.Len(t, sr.Refused, 2)
				assert.Equal(t, "ci", sr.Refused[0].Kind)
				assert.Equal(t, "nginx", sr.Refused[0].Ref)
				assert.Equal(t, "cis[1].attributes.port", sr.Refused[0].Error.Field)
				assert.Equal(t, "relationship", sr.Refused[1].Kind)
				assert.Equal(t, push.StatusNotFound, sr.Refused[1].Status)
			},
		},
		{
			name:    "retries are counted",
			sources: []discovery.Source{source{name: "host", batches: []discovery.Batch{scoped}}},
			fail: func(w http.ResponseWriter, n int) bool {
				if n > 2 {
					return false
				}
				w.WriteHeader(http.StatusServiceUnavailable)
				return true
			},
			check: func(t *testing.T, rep Report, err error) {
				require.NoError(t, err)
				assert.Equal(t, 2, rep.Sources[0].Retries)
				assert.Equal(t, 1, rep.Sources[0].Requests)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pushtest.New(t)
			s.Fail = tc.fail
			s.Applied = tc.applied
			log, _ := pushtest.Logger()
			r := NewRunner(pushtest.Pusher(t, s, log), RunnerOptions{Logger: log}, tc.sources...)
			rep, err := r.RunOnce(context.Background())
			tc.check(t, rep, err)
			if tc.runs != nil {
				assert.Equal(t, tc.runs, s.RunCalls())
				for _, b := range s.Received() {
					if b.Scope != nil {
						assert.Equal(t, int64(1), b.Scope.Run, "each scoped batch names its run")
					}
				}
			}
		})
	}
}

func TestDryRunPostsNothing(t *testing.T) {
	var out bytes.Buffer
	log, _ := pushtest.Logger()
	r := NewRunner(nil, RunnerOptions{Logger: log, DryRun: &out}, source{name: "host", batches: []discovery.Batch{pushtest.SmallBatch(), pushtest.SmallBatch()}})
	rep, err := r.RunOnce(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Counts{Batches: 2, CIs: 4, Relationships: 2}, rep.Sources[0].Collected)
	assert.Equal(t, Counts{}, rep.Sources[0].Sent)
	back, err := discovery.ReadNDJSON(&out)
	require.NoError(t, err)
	assert.Equal(t, []discovery.Batch{pushtest.SmallBatch(), pushtest.SmallBatch()}, back)
}

func TestRunRepeatsUntilCancelled(t *testing.T) {
	s := pushtest.New(t)
	log, _ := pushtest.Logger()
	r := NewRunner(pushtest.Pusher(t, s, log), RunnerOptions{Logger: log, Interval: 10 * time.Millisecond},
		source{name: "host", batches: []discovery.Batch{pushtest.SmallBatch()}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	require.Eventually(t, func() bool { return s.Count() >= 3 }, 10*time.Second, 5*time.Millisecond)
	cancel()
	assert.NoError(t, <-done)
}
