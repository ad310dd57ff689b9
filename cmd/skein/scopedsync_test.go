package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// scopedHosts is how many hosts the scoped sync test's fact tree holds;
// the agent is killed while sending the batch of host killAt.
const (
	scopedHosts = 12
	killAt      = 5
)

// writeFactTree writes scopedHosts fact files made from the fact file of
// discovery/ansible/testdata/tree/db01 (four interfaces, loopback left out
// by the source), each host its own name, serial and MAC; without
// bond0.200 when dropVLAN.
func writeFactTree(t *testing.T, dir string, dropVLAN bool) {
	t.Helper()
	tmpl, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "discovery", "ansible", "testdata", "tree", "db01"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for i := range scopedHosts {
		host := fmt.Sprintf("sync%02d", i)
		text := strings.NewReplacer("db01", host, "7XK2J83", fmt.Sprintf("SYNC-%02d", i),
			"b0:7b:25:c1:0e:2a", fmt.Sprintf("b0:7b:25:c1:0e:%02x", i), "4c4c4544-0058-4b10-8032-b7c04f4a3833", fmt.Sprintf("4c4c4544-0058-4b10-8032-%012d", i)).Replace(string(tmpl))
		if dropVLAN {
			var doc map[string]any
			require.NoError(t, json.Unmarshal([]byte(text), &doc))
			facts := doc["ansible_facts"].(map[string]any)
			facts["ansible_interfaces"] = []any{"lo", "eno1", "bond0"}
			delete(facts, "ansible_bond0_200")
			b, err := json.Marshal(doc)
			require.NoError(t, err)
			text = string(b)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, host), []byte(text), 0o644))
	}
}

// registerProposal registers discovery/model-proposal.yaml's classes, as
// an operator does to take the agent's interfaces and disks.
func registerProposal(t *testing.T, a *app) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "discovery", "model-proposal.yaml"))
	require.NoError(t, err)
	var proposal struct {
		Classes []cmdb.ClassDef `yaml:"classes"`
	}
	require.NoError(t, yaml.Unmarshal(data, &proposal))
	for _, def := range proposal.Classes {
		_, err := a.CMDB.RegisterClass(t.Context(), store.Actor{Name: "test", Source: "api"}, def)
		require.NoError(t, err, def.Name)
	}
}

// vlanState is what the store holds of the bond0.200 interfaces: for each
// host, whether ansible still reports it, whether it is marked stale, and
// whether its server still CONTAINS it.
type vlanState struct {
	seenByAnsible, stale, contained map[string]bool
	seenBy                          map[string][]string
}

func readVLANs(t *testing.T, st store.Store) vlanState {
	t.Helper()
	s := vlanState{seenByAnsible: map[string]bool{}, stale: map[string]bool{}, contained: map[string]bool{}, seenBy: map[string][]string{}}
	page, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Classes: []string{"NetworkInterface"}, Name: "bond0.200"}, store.PageRequest{First: 100})
	require.NoError(t, err)
	require.Len(t, page.Items, scopedHosts, "one VLAN interface per host, never removed")
	var ids []store.ID
	for _, n := range page.Items {
		host := strings.SplitN(n.Attributes["host"].(string), ".", 2)[0]
		_, s.seenByAnsible[host] = n.SeenBy["ansible"]
		_, s.stale[host] = n.Attributes[cmdb.AttrStaleSince]
		for src := range n.SeenBy {
			s.seenBy[host] = append(s.seenBy[host], src)
		}
		ids = append(ids, n.ID)
	}
	rels, err := st.RelationshipsOf(t.Context(), ids, store.In, []string{"CONTAINS"})
	require.NoError(t, err)
	for _, n := range page.Items {
		host := strings.SplitN(n.Attributes["host"].(string), ".", 2)[0]
		s.contained[host] = len(rels[n.ID]) == 1
	}
	return s
}

// countWhere counts the entries of m that are v.
func countWhere(m map[string]bool, v bool) int {
	n := 0
	for _, b := range m {
		if b == v {
			n++
		}
	}
	return n
}

// TestScopedSyncSurvivesAKilledAgent: the real skein-agent binary, its
// ansible source over a fact tree of twelve hosts (each host its own
// scope), against the server on both backends. After a first complete
// run, every host loses its VLAN interface in the facts; a second run is
// killed (SIGKILL) while the server holds its fifth batch: nothing is
// removed, every VLAN interface keeps ansible's sighting and its
// relationship. A third run, completed, removes exactly what ansible no
// longer reports: each VLAN interface loses ansible's sighting and is
// marked stale, its CONTAINS relationship retired (audited); but the one
// another source (nmap) also reported keeps that source's sighting and its
// relationship; nothing else loses a sighting.
func TestScopedSyncSurvivesAKilledAgent(t *testing.T) {
	agentBin := filepath.Join(t.TempDir(), "skein-agent")
	out, err := exec.Command("go", "build", "-o", agentBin, "../skein-agent").CombinedOutput()
	require.NoError(t, err, "go build skein-agent: %s", out)
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			_, a := apiServer(t, mk(t))
			registerProposal(t, a)
			var batches atomic.Int32
			var hold atomic.Bool
			arrived, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api/v1/batches" && hold.Load() && batches.Add(1) == killAt {
					once.Do(func() { close(arrived) })
					<-release
				}
				a.Handler.ServeHTTP(w, r)
			}))
			t.Cleanup(gate.Close)
			tree := filepath.Join(t.TempDir(), "tree")
			writeFactTree(t, tree, false)
			cfg := filepath.Join(t.TempDir(), "agent.yaml")
			require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf("server: %s\nmax_retry_time: 0s\nsources:\n  - {type: ansible, dir: %s, proposed_classes: true}\n", gate.URL, tree)), 0o600))
			agent := func() *exec.Cmd {
				cmd := exec.Command(agentBin, "--config", cfg, "--once")
				cmd.Env = append(os.Environ(), "SKEIN_AGENT_TOKEN="+issueToken(t, a, "ansible agent", auth.Agent, "ansible"))
				return cmd
			}
			run := func(n int64) map[string]any {
				var out map[string]any
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/v1/runs/%d", n), nil)
				req.Header.Set("Authorization", "Bearer "+issueToken(t, a, "reader", auth.Viewer))
				a.Handler.ServeHTTP(rec, req)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &out))
				return out
			}

			out, err := agent().CombinedOutput()
			require.NoError(t, err, "first run: %s", out)
			first := readVLANs(t, a.Store)
			assert.Equal(t, scopedHosts, countWhere(first.seenByAnsible, true))
			assert.Equal(t, scopedHosts, countWhere(first.contained, true))
			assert.Equal(t, "completed", run(1)["state"])

			// nmap also reports sync00's VLAN interface, inside its server.
			nmapTok := issueToken(t, a, "nmap scanner", auth.Agent, "nmap")
			body := `{"source": "nmap", "cis": [{"ref": "s", "class": "LinuxServer", "attributes": {"name": "sync00", "serial_number": "SYNC-00"}},
				{"ref": "v", "class": "NetworkInterface", "attributes": {"name": "bond0.200", "host": "sync00.example.com"}}],
				"relationships": [{"type": "CONTAINS", "from": {"ref": "s"}, "to": {"ref": "v"}}]}`
			req, err := http.NewRequest(http.MethodPost, gate.URL+"/api/v1/batches", strings.NewReader(body))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+nmapTok)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var ans struct {
				CIs, Relationships []struct{ Status string }
			}
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, "unchanged", ans.Relationships[0].Status, "nmap reports the relationship ansible did: %+v", ans)

			// Run 2, without the VLANs, killed halfway.
			writeFactTree(t, tree, true)
			hold.Store(true)
			cmd := agent()
			var logs lockedBuffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			require.NoError(t, cmd.Start())
			select {
			case <-arrived:
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
				t.Fatalf("batch %d never arrived: %s", killAt, logs.String())
			}
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()
			close(release)
			hold.Store(false)
			killed := readVLANs(t, a.Store)
			assert.Equal(t, scopedHosts, countWhere(killed.seenByAnsible, true), "a killed run removes no sighting")
			assert.Equal(t, 0, countWhere(killed.stale, true), "nor marks anything stale")
			assert.Equal(t, scopedHosts, countWhere(killed.contained, true), "nor retires a relationship")
			assert.Equal(t, "open", run(2)["state"], "the killed run was never completed")

			// Run 3, completed.
			out, err = agent().CombinedOutput()
			require.NoError(t, err, "third run: %s", out)
			done := run(3)
			assert.Equal(t, "completed", done["state"])
			scopes := done["scopes"].([]any)
			require.Len(t, scopes, scopedHosts)
			retired, forgotten := 0.0, 0.0
			for _, sc := range scopes {
				assert.Equal(t, true, get(sc, "applied"), "%v", sc)
				retired += get(sc, "retiredRelationships").(float64)
				forgotten += get(sc, "forgottenRelationships").(float64)
			}
			assert.Equal(t, float64(scopedHosts-1), retired, "every VLAN's CONTAINS but the one nmap reports")
			assert.Equal(t, 1.0, forgotten)

			after := readVLANs(t, a.Store)
			for i := range scopedHosts {
				host := fmt.Sprintf("sync%02d", i)
				assert.False(t, after.seenByAnsible[host], "%s: ansible no longer reports its VLAN", host)
				if i == 0 {
					assert.Equal(t, []string{"nmap"}, after.seenBy[host], "another source's sighting stays")
					assert.False(t, after.stale[host], "nmap still reports it")
					assert.True(t, after.contained[host], "nmap still reports its relationship")
					continue
				}
				assert.True(t, after.stale[host], "%s: no source reports its VLAN: stale", host)
				assert.False(t, after.contained[host], "%s: its relationship is retired", host)
			}
			// Nothing else lost ansible's sighting.
			page, err := a.Store.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 1000})
			require.NoError(t, err)
			lost := 0
			for _, n := range page.Items {
				if _, ok := n.SeenBy["ansible"]; !ok {
					assert.Equal(t, "bond0.200", n.Attributes["name"], "%s %v lost ansible's sighting", n.Class, n.Attributes["name"])
					lost++
				}
			}
			assert.Equal(t, scopedHosts, lost)
			// Each retirement is in the audit trail, by the agent's token.
			recs, err := a.Store.Audit(t.Context(), store.AuditFilter{Kinds: []store.ObjectKind{store.KindRelationship}, Source: "ansible"}, store.PageRequest{First: 100})
			require.NoError(t, err)
			deleted := 0
			for _, r := range recs.Items {
				if r.Action == store.ActionDelete {
					deleted++
					assert.True(t, strings.HasPrefix(r.Actor.Name, "ansible agent"), "%+v", r.Actor)
				}
			}
			assert.Equal(t, scopedHosts-1, deleted)
		})
	}
}

// runAnswer is an answer of the runs endpoints.
type runAnswer struct {
	Run    int64  `json:"run"`
	Source string `json:"source"`
	State  string `json:"state"`
	Scopes []struct {
		Name                 string `json:"name"`
		Applied              bool   `json:"applied"`
		Reason               string `json:"reason"`
		ForgottenCIs         int    `json:"forgottenCIs"`
		RetiredRelationships int    `json:"retiredRelationships"`
	} `json:"scopes"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// TestRunsAPI: the runs endpoints over HTTP on both backends: an agent
// starts a run of its own source, its batches join it through their scope
// and are recorded, not applied, until it completes; the completion
// answers what each scope did, again when asked twice; client mistakes
// are typed errors naming the field; a viewer may read runs, not start
// them; an agent may not use another source's run.
func TestRunsAPI(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			hostTok := issueToken(t, a, "host agent", auth.Agent, "host")
			nmapTok := issueToken(t, a, "nmap agent", auth.Agent, "nmap")
			viewer := issueToken(t, a, "viewer", auth.Viewer)
			call := func(tok, path string, body any) (int, runAnswer) {
				t.Helper()
				var out runAnswer
				code := postREST(t, url+"/api/v1/runs"+path, tok, body, &out)
				return code, out
			}
			batch := func(run int64, apps ...string) batchAnswer {
				b := discovery.Batch{Source: "host", Scope: &discovery.Scope{Name: "host:web01", Run: run}}
				b.AddCI(discovery.CI{Ref: "s", Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "serial_number": "RUN-WEB01"}})
				for _, n := range apps {
					b.AddCI(discovery.CI{Ref: n, Class: "ApplicationInstance", Attributes: map[string]any{"name": n, "host": "web01"}})
					b.Relate("RUNS_ON", discovery.ByRef(n), discovery.ByRef("s"))
				}
				return postBatch(t, url, hostTok, b)
			}

			code, r1 := call(hostTok, "", map[string]any{})
			require.Equal(t, http.StatusCreated, code, "%+v", r1)
			assert.Equal(t, "host", r1.Source, "the token's source")
			assert.Equal(t, "open", r1.State)
			ans := batch(r1.Run, "nginx", "redis")
			require.Equal(t, http.StatusOK, ans.status, "%+v", ans)
			require.NotNil(t, ans.Scope)
			assert.False(t, ans.Scope.Applied, "recorded until the run completes")
			code, done := call(hostTok, fmt.Sprintf("/%d/complete", r1.Run), map[string]any{"scopes": []string{"host:web01"}})
			require.Equal(t, http.StatusOK, code, "%+v", done)
			assert.Equal(t, "completed", done.State)

			code, r2 := call(hostTok, "", nil)
			require.Equal(t, http.StatusCreated, code)
			require.Equal(t, http.StatusOK, batch(r2.Run, "nginx").status)
			code, done = call(hostTok, fmt.Sprintf("/%d/complete", r2.Run), map[string]any{"scopes": []string{"host:web01"}})
			require.Equal(t, http.StatusOK, code, "%+v", done)
			require.Len(t, done.Scopes, 1)
			assert.True(t, done.Scopes[0].Applied)
			assert.Equal(t, 1, done.Scopes[0].ForgottenCIs, "redis")
			assert.Equal(t, 1, done.Scopes[0].RetiredRelationships, "redis RUNS_ON web01")
			code, again := call(hostTok, fmt.Sprintf("/%d/complete", r2.Run), map[string]any{"scopes": []string{"host:web01"}})
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, done.Scopes, again.Scopes, "completing twice answers what the run did")

			req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/v1/runs/%d", url, r2.Run), nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+viewer)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			var read runAnswer
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&read))
			require.NoError(t, resp.Body.Close())
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "completed", read.State, "a viewer reads runs")

			code, r3 := call(hostTok, "", nil)
			require.Equal(t, http.StatusCreated, code)
			for _, c := range []struct {
				name, tok, path string
				body            any
				status          int
				code, field     string
			}{
				{"a viewer starts no run", viewer, "", nil, http.StatusForbidden, "FORBIDDEN", ""},
				{"not a number", hostTok, "/abc/complete", nil, http.StatusBadRequest, "INVALID", "run"},
				{"no such run", hostTok, "/999999/complete", nil, http.StatusNotFound, "NOT_FOUND", "run"},
				{"another source's run", nmapTok, fmt.Sprintf("/%d/complete", r3.Run), nil, http.StatusBadRequest, "INVALID", "run"},
				{"a completed run", hostTok, fmt.Sprintf("/%d/abandon", r2.Run), nil, http.StatusConflict, "CONFLICT", "run"},
				{"an empty scope", hostTok, fmt.Sprintf("/%d/complete", r3.Run), map[string]any{"scopes": []string{""}}, http.StatusBadRequest, "INVALID", "scopes[0]"},
				{"an unknown key", hostTok, "", map[string]any{"sauce": "host"}, http.StatusBadRequest, "INVALID", ""},
			} {
				code, out := call(c.tok, c.path, c.body)
				assert.Equal(t, c.status, code, "%s: %+v", c.name, out)
				require.NotEmpty(t, out.Errors, c.name)
				assert.Equal(t, c.code, out.Errors[0].Extensions["code"], c.name)
				if c.field != "" {
					assert.Equal(t, c.field, out.Errors[0].Extensions["field"], "%s: %s", c.name, out.Errors[0].Message)
				}
			}
			b := postBatch(t, url, hostTok, discovery.Batch{Source: "host", Scope: &discovery.Scope{Name: "host:web01", Run: r2.Run},
				CIs: []discovery.CI{{Class: "LinuxServer", Attributes: map[string]any{"name": "web01", "serial_number": "RUN-WEB01"}}}})
			assert.Equal(t, http.StatusConflict, b.status, "a completed run takes no batch")
			require.NotEmpty(t, b.Errors)
			assert.Equal(t, "run", b.Errors[0].Extensions["field"])
			code, ab := call(hostTok, fmt.Sprintf("/%d/abandon", r3.Run), nil)
			require.Equal(t, http.StatusOK, code, "%+v", ab)
			assert.Equal(t, "abandoned", ab.State)
		})
	}
}
