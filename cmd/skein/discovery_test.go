package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	nmapxml "github.com/Ullaakut/nmap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/discovery/agent"
	"github.com/skein-cmdb/skein/discovery/ansible"
	"github.com/skein-cmdb/skein/discovery/host"
	"github.com/skein-cmdb/skein/discovery/kubernetes"
	"github.com/skein-cmdb/skein/discovery/nmap"
	"github.com/skein-cmdb/skein/discovery/push"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// ansibleFacts runs the real `ansible localhost -m setup --tree` (from
// tools/discovery/ensure-ansible.sh) and returns its batches.
func ansibleFacts(t *testing.T) []discovery.Batch {
	t.Helper()
	cache := os.Getenv("SKEIN_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(testenv.RepoRoot(t), ".cache")
	}
	bin := testenv.Tool(t, "SKEIN_TEST_ANSIBLE", "tools/discovery/ensure-ansible.sh", filepath.Join(cache, "ansible", "bin", "ansible"), "ansible")
	work := t.TempDir()
	tree := filepath.Join(work, "tree")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "localhost", "-c", "local", "-m", "setup", "--tree", tree)
	cmd.Env = append(os.Environ(), "ANSIBLE_HOME="+filepath.Join(work, "home"), "ANSIBLE_LOCAL_TEMP="+filepath.Join(work, "tmp"),
		"ANSIBLE_LOCALHOST_WARNING=False", "ANSIBLE_INVENTORY_UNPARSED_WARNING=False", "ANSIBLE_NOCOLOR=True")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ansible: %s", out)
	batches, err := ansible.New(tree, ansible.Options{}).Collect(ctx)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	return batches
}

// TestRealSourcesOneMachine: this machine, reported by two sources that
// nobody here wrote the input of (a real Ansible fact run, and the host
// agent reading the running system), on both backends: one CI, identified
// by different keys from each side; each attribute settled by source
// precedence (host outranks ansible), so that running either source again
// changes nothing; the host's listening services are application
// instances that RUN_ON that one CI.
func TestRealSourcesOneMachine(t *testing.T) {
	facts := ansibleFacts(t)
	hostBatches, err := host.New(host.Options{}).Collect(t.Context())
	require.NoError(t, err)
	require.Len(t, hostBatches, 1)
	machine := hostBatches[0].CIs[0]
	mac, _ := machine.Attributes["mac_address"].(string)
	require.NotEmpty(t, mac, "the host source reports the primary interface's MAC")

	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			agent := issueToken(t, a, "machine-agent", auth.Agent, "host", "ansible")
			post := func(b discovery.Batch) batchAnswer {
				ans := postBatch(t, url, agent, b)
				require.Equal(t, http.StatusOK, ans.status, "%+v", ans.Errors)
				for _, o := range ans.CIs {
					require.Nil(t, o.Error, "%s ci %d: %+v", b.Source, o.Index, o.Error)
				}
				return ans
			}
			first := post(hostBatches[0])
			second := post(facts[0])
			assert.Equal(t, first.CIs[0].ID, second.CIs[0].ID, "ansible's report of this machine is the host's CI")
			assert.NotEqual(t, "created", second.CIs[0].Status)
			d := ok(t, url, `query($m: JSON!) { cis(filter: {class: "Server", attributes: {mac_address: $m}}) { totalCount edges { node { id class attributes } } } }`,
				map[string]any{"m": mac})
			require.Equal(t, 1.0, get(d, "cis", "totalCount"), "one CI for this machine")
			attrs := get(d, "cis", "edges", 0, "node", "attributes").(map[string]any)
			assert.Equal(t, machine.Attributes["os_name"], attrs["os_name"], "the host source outranks ansible")
			assert.Equal(t, machine.Attributes["kernel_version"], attrs["kernel_version"])

			// Again, in either order: nothing changes.
			for _, b := range []discovery.Batch{facts[0], hostBatches[0], facts[0]} {
				ans := post(b)
				assert.Equal(t, "unchanged", ans.CIs[0].Status, "%s again", b.Source)
				for _, o := range ans.Relationships {
					assert.Contains(t, []string{"unchanged", "not_found"}, o.Status, "%s again: %+v", b.Source, o.Error)
				}
			}

			// The listening services run on this machine.
			var services int
			for _, ci := range hostBatches[0].CIs {
				if ci.Class == "ApplicationInstance" {
					services++
				}
			}
			d = ok(t, url, `query($id: ID!) { ci(id: $id) { dependents(depth: 1, follow: RELATIONSHIP, types: ["RUNS_ON"]) { nodes { ci { class } } } } }`,
				map[string]any{"id": first.CIs[0].ID})
			var instances int
			for _, n := range get(d, "ci", "dependents", "nodes").([]any) {
				if get(n, "ci", "class") == "ApplicationInstance" {
					instances++
				}
			}
			assert.Equal(t, services, instances, "every listening service the host reported runs on it")
		})
	}
}

// TestConcurrentAgents: sixteen agents report overlapping parts of one
// estate at once (each the servers it sees, by serial number or by name
// and domain, their services identified by name and host, RUNS_ON the
// server by identity), several times over, on both backends: every server
// and service is one CI, every RUNS_ON one relationship.
func TestConcurrentAgents(t *testing.T) {
	const agents, servers, rounds = 16, 24, 3
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			tok := issueToken(t, a, "fleet", auth.Agent, "host")
			batch := func(agent int) discovery.Batch {
				b := discovery.Batch{Source: "host"}
				for k := range 6 { // six servers each, overlapping the next agents'
					s := (agent*3 + k) % servers
					fqdn := fmt.Sprintf("srv%02d.fleet.example", s)
					attrs := map[string]any{"name": fmt.Sprintf("srv%02d", s), "dns_domain": "fleet.example", "fqdn": fqdn}
					if agent%2 == 0 { // half the agents also see the serial number: a stronger key
						attrs["serial_number"] = fmt.Sprintf("FLEET-%02d", s)
					}
					ref := b.AddCI(discovery.CI{Ref: fmt.Sprintf("s%d", s), Class: "LinuxServer", Attributes: attrs})
					svc := b.AddCI(discovery.CI{Ref: fmt.Sprintf("svc%d", s), Class: "ApplicationInstance",
						Attributes: map[string]any{"name": "sshd:22", "host": fqdn, "port": 22}})
					to := discovery.ByRef(ref)
					if agent%3 == 0 { // some name the server by identity instead
						to = discovery.ByIdentity("Server", map[string]any{"name": attrs["name"], "dns_domain": "fleet.example"})
					}
					b.Relate("RUNS_ON", discovery.ByRef(svc), to)
				}
				return b
			}
			var wg sync.WaitGroup
			errs := make(chan string, agents*rounds)
			for agent := range agents {
				wg.Go(func() {
					for range rounds {
						ans := postBatch(t, url, tok, batch(agent))
						if ans.status != http.StatusOK {
							errs <- fmt.Sprintf("agent %d: %d %+v", agent, ans.status, ans.Errors)
							continue
						}
						for _, o := range append(ans.CIs, ans.Relationships...) {
							if o.Error != nil {
								errs <- fmt.Sprintf("agent %d: %s %+v", agent, o.Status, *o.Error)
							}
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			var failures []string
			for e := range errs {
				failures = append(failures, e)
			}
			require.Empty(t, failures)

			count := func(class, attr string, value any) (int, string) {
				d := ok(t, url, `query($c: String!, $a: JSON!) { cis(first: 2, filter: {class: $c, attributes: $a}) { totalCount edges { node { id } } } }`,
					map[string]any{"c": class, "a": map[string]any{attr: value}})
				edges := get(d, "cis", "edges").([]any)
				id := ""
				if len(edges) > 0 {
					id = get(edges[0], "node", "id").(string)
				}
				return int(get(d, "cis", "totalCount").(float64)), id
			}
			for s := range servers {
				fqdn := fmt.Sprintf("srv%02d.fleet.example", s)
				n, _ := count("Server", "fqdn", fqdn)
				require.Equal(t, 1, n, "server %d is one CI", s)
				n, svc := count("ApplicationInstance", "host", fqdn)
				require.Equal(t, 1, n, "its sshd is one CI")
				d := ok(t, url, `query($id: ID!) { ci(id: $id) { relationships(direction: OUT, types: ["RUNS_ON"], first: 5) { totalCount edges { node { target { ... on CI { attributes } } } } } } }`,
					map[string]any{"id": svc})
				require.Equal(t, 1.0, get(d, "ci", "relationships", "totalCount"), "one RUNS_ON for the sshd of server %d", s)
				assert.Equal(t, fqdn, get(d, "ci", "relationships", "edges", 0, "node", "target", "attributes", "fqdn"))
			}
			d := ok(t, url, `{ cis(first: 1, filter: {class: "Server"}) { totalCount } }`, nil)
			assert.Equal(t, float64(servers), get(d, "cis", "totalCount"))
			d = ok(t, url, `{ cis(first: 1, filter: {class: "Server", attributes: {serial_number: "FLEET-01"}}) { edges { node { attributes } } } }`, nil)
			assert.True(t, strings.HasPrefix(get(d, "cis", "edges", 0, "node", "attributes", "fqdn").(string), "srv01"), "the serial found the server first seen by name")
		})
	}
}

// TestAgentAgainstServer: skein-agent's runner and pusher, as the agent
// binary runs them, against the real server on both backends: the
// kubernetes source's Online Boutique batches cut into requests of five
// CIs (relationships across requests named by identity) land as one
// estate; the agent reports every item taken, the scope of none applied
// (manifest batches have none); a token of another source is refused
// without retries.
func TestAgentAgainstServer(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "testdata", "kubernetes", "online-boutique.yaml")
	boutique(t) // skips (or fails under CI) without the shared test data
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			pusher, err := push.NewPusher(push.PusherOptions{Server: url, Token: push.Secret(issueToken(t, a, "k8s", auth.Agent, "kubernetes")), MaxCIs: 5})
			require.NoError(t, err)
			src := kubernetes.NewManifests(kubernetes.Options{Cluster: "boutique"}, path)
			rep, err := agent.NewRunner(pusher, agent.RunnerOptions{}, src).RunOnce(t.Context())
			require.NoError(t, err)
			require.Len(t, rep.Sources, 1)
			s := rep.Sources[0]
			require.NoError(t, s.Err)
			assert.True(t, rep.OK(), "%+v", s.Refused)
			assert.Equal(t, s.Collected.CIs, s.Sent.CIs)
			assert.Equal(t, s.Collected.Relationships, s.Sent.Relationships)
			assert.Greater(t, s.Requests, s.Collected.Batches, "cut into requests of five CIs")
			d := ok(t, url, `{ cis(first: 1, filter: {class: "KubernetesWorkload"}) { totalCount } }`, nil)
			assert.Equal(t, 12.0, get(d, "cis", "totalCount"))

			other, err := push.NewPusher(push.PusherOptions{Server: url, Token: push.Secret(issueToken(t, a, "nmap", auth.Agent, "nmap")), MaxRetryTime: time.Minute})
			require.NoError(t, err)
			rep, err = agent.NewRunner(other, agent.RunnerOptions{}, src).RunOnce(t.Context())
			require.Error(t, err)
			var rej *push.RejectedError
			require.ErrorAs(t, err, &rej)
			assert.Equal(t, "source", rej.Field)
			assert.False(t, rep.OK())
			assert.Zero(t, rep.Sources[0].Retries, "a refusal is not retried")
		})
	}
}

// TestStaleness: the staleness check on both backends, its clock moved
// ahead by hand (sightings keep the store's time): discovered CIs no
// source has reported for their class's period are marked with when a
// source last reported them, listed by a query with who that was, and
// retired when the policy says so, each write audited under
// skein-staleness; a CI kept by hand is never stale; a CI a source
// reports again is unmarked.
func TestStaleness(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			agent := issueToken(t, a, "fleet", auth.Agent, "host")
			seen := discovery.Batch{Source: "host", CIs: []discovery.CI{
				{Class: "LinuxServer", Attributes: map[string]any{"name": "old-web", "serial_number": "OLD-WEB"}},
				{Class: "Switch", Attributes: map[string]any{"name": "old-switch", "serial_number": "OLD-SW"}},
			}}
			ans := postBatch(t, url, agent, seen)
			require.Equal(t, http.StatusOK, ans.status, "%+v", ans.Errors)
			sw := ans.CIs[1].ID
			d := ok(t, url, upsertMutation, map[string]any{"in": map[string]any{"items": []any{item("BusinessService", map[string]any{"name": "payroll service"})}}})
			hand := get(d, "upsertCIs", "results", 0, "ci", "id").(string) // kept by hand: source api
			sweep := func(p cmdb.StalePolicy, ahead time.Duration) cmdb.StaleSweep {
				res, err := a.CMDB.SweepStale(t.Context(), cmdb.StaleActor, p, time.Now().Add(ahead))
				require.NoError(t, err)
				return res
			}
			stale := func() map[string]string { // name -> last source seen
				d := ok(t, url, `{ cis(first: 10, where: {attribute: "stale_since", exists: true}) { edges { node { name status attributes seenBy { source lastSeenAt } } } } }`, nil)
				out := map[string]string{}
				for _, e := range get(d, "cis", "edges").([]any) {
					n := get(e, "node").(map[string]any)
					var last string
					for _, s := range n["seenBy"].([]any) {
						if get(s, "source") != "api" {
							last = get(s, "source").(string)
						}
					}
					out[n["name"].(string)] = last + " " + n["status"].(string)
				}
				return out
			}

			assert.Equal(t, cmdb.StaleSweep{}, sweep(cmdb.StalePolicy{After: time.Hour}, 30*time.Minute), "nothing is an hour old yet")
			assert.Equal(t, cmdb.StaleSweep{Marked: 2}, sweep(cmdb.StalePolicy{After: time.Hour}, 2*time.Hour))
			assert.Equal(t, map[string]string{"old-web": "host live", "old-switch": "host live"}, stale(), "marked, with who saw them last; the service kept by hand is not")
			assert.Equal(t, cmdb.StaleSweep{}, sweep(cmdb.StalePolicy{After: time.Hour}, 2*time.Hour), "marked once")

			// Reported again, the server is unmarked by the next check.
			ans = postBatch(t, url, agent, discovery.Batch{Source: "host", CIs: seen.CIs[:1]})
			require.Equal(t, "unchanged", ans.CIs[0].Status)
			assert.Equal(t, cmdb.StaleSweep{Cleared: 1}, sweep(cmdb.StalePolicy{After: time.Hour}, 0))
			assert.Equal(t, map[string]string{"old-switch": "host live"}, stale())

			// Switches go stale in an hour and are retired; servers in a
			// month (the default here), so the server stays.
			retire := cmdb.StalePolicy{After: 720 * time.Hour, ByClass: map[string]time.Duration{"NetworkDevice": time.Hour}, Retire: true}
			assert.Equal(t, cmdb.StaleSweep{Retired: 1}, sweep(retire, 2*time.Hour))
			assert.Equal(t, map[string]string{"old-switch": "host retired"}, stale())
			d = ok(t, url, `query($id: ID!) { ci(id: $id) { history(first: 5) { edges { node { actor changes { field after } } } } } }`, map[string]any{"id": sw})
			var byCheck []string
			for _, e := range get(d, "ci", "history", "edges").([]any) {
				if strings.HasPrefix(get(e, "node", "actor").(string), "skein-staleness") {
					for _, c := range get(e, "node", "changes").([]any) {
						byCheck = append(byCheck, get(c, "field").(string))
					}
				}
			}
			assert.ElementsMatch(t, []string{"stale_since", "status"}, byCheck, "marked, then retired, by the check")
			d = ok(t, url, `query($id: ID!) { ci(id: $id) { status attributes } }`, map[string]any{"id": hand})
			assert.Equal(t, "live", get(d, "ci", "status"), "a CI no source reported is never stale")
		})
	}
}

// TestRealNmapScan: a real nmap connect scan (tools/discovery/ensure-nmap.sh)
// of two loopback ports the test opens, read by the nmap source and posted
// to the server, on both backends: the scanned host is one server, each
// open port an application instance that RUNS_ON it; scanning again
// changes nothing.
func TestRealNmapScan(t *testing.T) {
	bin := testenv.Tool(t, "SKEIN_TEST_NMAP", "tools/discovery/ensure-nmap.sh", "nmap")
	var ports []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	src := nmap.NewScan(nmap.Options{Domain: "skein.test"}, nmapxml.WithBinaryPath(bin), nmapxml.WithTargets("localhost"),
		nmapxml.WithConnectScan(), nmapxml.WithSkipHostDiscovery(), nmapxml.WithPorts(strings.Join(ports, ",")))
	batches, err := src.Collect(ctx)
	require.NoError(t, err)
	require.Len(t, batches, 1)
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			srv, a := apiServer(t, mk(t))
			url := srv.URL
			tok := issueToken(t, a, "scanner", auth.Agent, "nmap")
			for pass, want := range []string{"created", "unchanged"} {
				ans := postBatch(t, url, tok, batches[0])
				require.Equal(t, http.StatusOK, ans.status, "%+v", ans.Errors)
				assert.Equal(t, map[string]int{want: 3}, statuses(ans.CIs), "pass %d: the host and its two open ports", pass)
				assert.Equal(t, map[string]int{want: 2}, statuses(ans.Relationships), "pass %d", pass)
			}
			d := ok(t, url, `{ cis(first: 5, filter: {class: "Server", name: "localhost"}) { totalCount edges { node { id attributes } } } }`, nil)
			require.Equal(t, 1.0, get(d, "cis", "totalCount"))
			assert.Equal(t, "127.0.0.1", get(d, "cis", "edges", 0, "node", "attributes", "ip_address"))
			d = ok(t, url, `query($id: ID!) { ci(id: $id) { relationships(direction: IN, types: ["RUNS_ON"], first: 5) { edges { node { source { attributes } } } } } }`,
				map[string]any{"id": get(d, "cis", "edges", 0, "node", "id")})
			var got []string
			for _, e := range get(d, "ci", "relationships", "edges").([]any) {
				got = append(got, fmt.Sprint(get(e, "node", "source", "attributes", "port")))
			}
			assert.ElementsMatch(t, ports, got, "each open port runs on the scanned host")
		})
	}
}
