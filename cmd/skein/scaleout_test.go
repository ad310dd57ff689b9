package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

// The scale-out estate: scaleServers LinuxServers (identified by serial
// number) and scaleApps Applications (by name), which every agent reports
// in overlapping random batches; and a fixed set of DEPENDS_ON
// relationships among them (scaleRels), which the agents create between
// the CIs they have seen.
const (
	scaleAgents     = 16
	scaleBatches    = 8 // upsert batches per agent, each followed by a relationship batch
	scaleBatchSize  = 20
	scaleRelBatch   = 8 // relationships per relationship batch, at most
	scaleServers    = 120
	scaleApps       = 30
	scaleMaxRetries = 20 // attempts of one batch that met a retryable error, before the test gives up
)

// scaleRetryable are the documented error codes a client should retry
// (docs/API.md, docs/CONFIGURATION.md): load shedding, rate limiting, a
// store that is briefly unreachable, a request that ran out of time.
var scaleRetryable = []string{"OVERLOADED", "RATE_LIMITED", "UNAVAILABLE", "TIMEOUT"}

// TestScaleOut runs two `skein serve` processes over one Neo4j, with
// nothing else shared between them, and has 16 discovery agents (each with
// its own agent token, bound to its own source) report an overlapping
// estate through both at once: every CI is reported by many agents through
// both processes, in batches (upsertCIs), and the agents link the CIs they
// have seen (createRelationships), the same links through both processes.
// Afterwards every identity is one CI (counted through the API of both
// processes and with Cypher), every CI and relationship ID acknowledged to
// an agent exists, each CI holds the value of an acknowledged write that no
// later acknowledged write followed, and the only errors the agents met
// were documented, retryable ones (retried, as an agent would).
//
// It also measures how long a class registered through one process takes
// to be usable through the other (the model reload on an unknown class
// name, at most once per second: internal/cmdb), and asserts only a
// generous bound on it. SKEIN_SCALEOUT_SEED reproduces a run's choices.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("scale-out test: builds skein and runs two processes over Neo4j")
	}
	env := neo4jtest.Require(t)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SKEIN_SCALEOUT_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "SKEIN_SCALEOUT_SEED")
		seed = n
	}
	t.Logf("seed %d (SKEIN_SCALEOUT_SEED=%d reproduces the agents' choices)", seed, seed)

	st, err := neo4jstore.Open(t.Context(), neo4jstore.Config{URI: env.URI, User: env.User, Password: env.Password, Database: env.Database})
	require.NoError(t, err)
	require.NoError(t, st.Reset(t.Context()))
	require.NoError(t, st.Close())

	start := time.Now()
	bin := buildSkein(t)
	t.Logf("built skein in %s", time.Since(start).Round(time.Millisecond))
	storeArgs := []string{"--store", "neo4j", "--neo4j-uri", env.URI, "--neo4j-user", env.User}
	if env.Database != "" {
		storeArgs = append(storeArgs, "--neo4j-database", env.Database)
	}
	storeEnv := []string{"SKEIN_NEO4J_PASSWORD=" + env.Password}
	admin := cliTokenOn(t, bin, storeArgs, storeEnv, "scale-admin", "admin")

	// Two processes, started at once, each in a directory of its own (its
	// --data-dir stays unused), with the default limits: the agents' tokens
	// are rate limited one by one, as in production.
	var procs [2]*crashProcess
	var apis [2]outageAPI
	for i := range procs {
		dir := t.TempDir()
		procs[i] = launchServe(t, bin, dir, append([]string{"--data-dir", filepath.Join(dir, "data")}, storeArgs...), storeEnv...)
		apis[i] = outageAPI{url: procs[i].base, token: admin}
	}
	for _, p := range procs {
		p.waitReady(t)
	}
	t.Logf("two skein processes at %s and %s over Neo4j %s, up %s after the build", procs[0].base, procs[1].base, env.URI, time.Since(start).Round(time.Millisecond))

	// One agent token per agent, bound to the agent's own source, made
	// through either process: the other one accepts it (tokens live in
	// Neo4j).
	agents := make([]*scaleAgent, scaleAgents)
	for a := range agents {
		src := fmt.Sprintf("scale-agent-%02d", a)
		d := scaleOK(t, apis[a%2], `mutation($in: CreateAPITokenInput!) { createAPIToken(input: $in) { token } }`,
			map[string]any{"in": map[string]any{"name": src, "role": "AGENT", "expiresIn": "1d", "sources": []string{src}}})
		agents[a] = &scaleAgent{
			n: a, source: src, seen: map[string]string{},
			rng:  rand.New(rand.NewPCG(seed, uint64(a))),
			apis: [2]outageAPI{{url: procs[0].base, token: get(d, "createAPIToken", "token").(string)}, {url: procs[1].base, token: get(d, "createAPIToken", "token").(string)}},
		}
	}

	// The agents, all at once; meanwhile a class is registered through
	// each process and used through the other.
	runStart := time.Now()
	var wg sync.WaitGroup
	for _, ag := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ag.run(t.Context(), runStart)
		}()
	}
	var delays []string
	for i, name := range []string{"ScaleProbeA", "ScaleProbeB"} {
		d := scaleClassDelay(t, apis[i], apis[1-i], name)
		delays = append(delays, fmt.Sprintf("%s registered through process %d, usable through process %d after %s", name, i, 1-i, d.Round(time.Millisecond)))
	}
	d := scaleClassListed(t, apis[0], apis[1], "ScaleProbeC")
	delays = append(delays, fmt.Sprintf("ScaleProbeC registered through process 0, listed by ciClass through process 1 (no write naming it) after %s", d.Round(time.Millisecond)))
	wg.Wait()
	runTime := time.Since(runStart)

	// What the agents were told.
	acked := map[string][]scaleWrite{} // identity -> acknowledged writes of it
	ackedRels := map[scaleRelKey]string{}
	var upserts, relBatches, attempts, itemWrites, relWrites int
	perProc := [2]int{}
	retries := map[string]int{}
	for _, ag := range agents {
		for _, f := range ag.failures {
			t.Errorf("agent %d: %s", ag.n, f)
		}
		upserts += ag.upserts
		relBatches += ag.relBatches
		attempts += ag.attempts
		for code, n := range ag.retries {
			retries[code] += n
		}
		for _, w := range ag.writes {
			acked[w.identity] = append(acked[w.identity], w)
			itemWrites++
			perProc[w.proc]++
		}
		for k, id := range ag.rels {
			relWrites++
			if prev, ok := ackedRels[k]; ok && prev != id {
				t.Errorf("relationship %s acknowledged with two IDs: %s and %s (a duplicate)", k, prev, id)
			}
			ackedRels[k] = id
		}
	}
	require.NotEmpty(t, acked, "no write was acknowledged: the test checks nothing")

	// Through the API of each process: every identity is one CI, with the
	// ID every acknowledgement gave, and a value no later write replaced.
	var found [2]map[string]scaleCI
	for i := range apis {
		found[i] = scaleReadCIs(t, apis[i])
	}
	assert.Equal(t, found[0], found[1], "the two processes see the same CIs")
	lost, stale, ciDups := 0, 0, 0
	for _, ci := range found[0] {
		ciDups += ci.count - 1
	}
	for identity, writes := range acked {
		ci, ok := found[0][identity]
		switch {
		case !ok:
			lost++
			t.Errorf("%s: acknowledged %d times, not in the store", identity, len(writes))
			continue
		case ci.count != 1:
			t.Errorf("%s: %d CIs (duplicates)", identity, ci.count)
		}
		var last *scaleWrite
		for i, w := range writes {
			if w.id != ci.id {
				t.Errorf("%s: acknowledged to agent %d as %s, but the CI is %s", identity, w.agent, w.id, ci.id)
			}
			if w.tag == ci.tag {
				last = &writes[i]
			}
		}
		if last == nil {
			lost++
			t.Errorf("%s holds %q, which no acknowledged write set", identity, ci.tag)
			continue
		}
		for _, w := range writes {
			if w.start.After(last.end) {
				stale++
				t.Errorf("%s holds %q (acknowledged at %s), but %q was written after it (from %s): a lost update",
					identity, last.tag, last.end.Sub(runStart), w.tag, w.start.Sub(runStart))
			}
		}
	}
	for identity := range found[0] {
		if _, ok := acked[identity]; !ok && !strings.HasPrefix(identity, "ScaleProbe") {
			t.Errorf("%s is in the store but no write of it was acknowledged", identity)
		}
	}

	// Every acknowledged relationship, through the API: it exists, with
	// its ends.
	relKeys := make([]scaleRelKey, 0, len(ackedRels))
	for k := range ackedRels {
		relKeys = append(relKeys, k)
	}
	for chunk := range slices.Chunk(relKeys, 25) {
		var q strings.Builder
		q.WriteString("{")
		for i, k := range chunk {
			fmt.Fprintf(&q, " r%d: node(id: %q) { ... on Relationship { type source { id } target { id } } }", i, ackedRels[k])
		}
		q.WriteString(" }")
		d := scaleOK(t, apis[1], q.String(), nil)
		for i, k := range chunk {
			r := get(d, fmt.Sprintf("r%d", i))
			if r == nil {
				lost++
				t.Errorf("acknowledged relationship %s (%s) does not exist", k, ackedRels[k])
				continue
			}
			got := scaleRelKey{typ: get(r, "type").(string), source: get(r, "source", "id").(string), target: get(r, "target", "id").(string)}
			assert.Equal(t, k, got, "relationship %s", ackedRels[k])
		}
	}

	// With Cypher: one CI per identifying value, one CI per identity key,
	// one relationship per (source, type, target).
	cis, keys, rels, cypherDups, relDups := scaleCypherCounts(t, env, found[0], ackedRels)
	t.Logf("class visibility across processes (documented bounds: about a second for a write naming the class, five seconds for reads): %s", strings.Join(delays, "; "))
	t.Logf("agents: %d, each with its own token and source, over 2 processes; ran %s (total %s with the build and start)",
		scaleAgents, runTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	t.Logf("batches acknowledged: %d upsert batches (%d items: %d through process 0, %d through process 1), %d relationship batches (%d items); %d HTTP requests; retried errors by code: %v",
		upserts, itemWrites, perProc[0], perProc[1], relBatches, relWrites, attempts, scaleCodes(retries))
	t.Logf("store: %d CIs (%d identities acknowledged, 2 probes), %d identity keys, %d relationships (%d distinct acknowledged); duplicate CIs: %d by the API, %d by Cypher; duplicate relationships: %d; acknowledged writes lost: %d; lost updates: %d",
		cis, len(acked), keys, rels, len(ackedRels), ciDups, cypherDups, relDups, lost, stale)
}

// scaleAgent is one discovery agent of TestScaleOut.
type scaleAgent struct {
	n      int
	source string
	rng    *rand.Rand
	apis   [2]outageAPI // the same token, one per process

	seen       map[string]string // identity -> CI ID, from acknowledgements
	writes     []scaleWrite
	rels       map[scaleRelKey]string // acknowledged relationships -> ID
	upserts    int
	relBatches int
	attempts   int
	retries    map[string]int // retried errors by code
	failures   []string
}

// scaleWrite is one acknowledged write of one CI: identity (the class and
// identifying value), the value tag it set, and when its request started
// and its acknowledgement arrived.
type scaleWrite struct {
	identity, id, tag string
	agent, proc       int
	start, end        time.Time
}

// scaleRelKey names a relationship by its type and the global IDs of its
// ends.
type scaleRelKey struct{ typ, source, target string }

func (k scaleRelKey) String() string { return k.source + " -" + k.typ + "-> " + k.target }

// scaleIdentity is the identity of estate member i: servers by serial
// number, applications by name.
func scaleIdentity(i int) string {
	if i < scaleServers {
		return fmt.Sprintf("LinuxServer/SCALE%04d", i)
	}
	return fmt.Sprintf("Application/scale-app-%02d", i-scaleServers)
}

// scaleItem is estate member i as an agent reports it, with tag in an
// attribute no identification rule uses.
func scaleItem(i int, tag string) map[string]any {
	if i < scaleServers {
		return item("LinuxServer", map[string]any{"name": fmt.Sprintf("scale-srv-%03d", i), "serial_number": fmt.Sprintf("SCALE%04d", i), "kernel_version": tag})
	}
	return item("Application", map[string]any{"name": fmt.Sprintf("scale-app-%02d", i-scaleServers), "version": tag})
}

// scaleRels is the estate's relationships: each server DEPENDS_ON the next
// one, and each application DEPENDS_ON the servers whose number is its own
// modulo the number of applications.
func scaleRels() [][2]int {
	var rels [][2]int
	for s := range scaleServers {
		rels = append(rels, [2]int{s, (s + 1) % scaleServers}, [2]int{scaleServers + s%scaleApps, s})
	}
	return rels
}

const scaleUpsert = `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { results { status error { code message } ci { id } } } }`

const scaleCreateRels = `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) {
  results { status error { code message } relationship { id type source { id } target { id } } } } }`

// run sends the agent's batches, alternating between the processes: an
// upsert of scaleBatchSize distinct random members of the estate, then
// up to scaleRelBatch of the estate's relationships between CIs the agent
// has seen.
func (ag *scaleAgent) run(ctx context.Context, runStart time.Time) {
	ag.rels, ag.retries = map[scaleRelKey]string{}, map[string]int{}
	all := scaleRels()
	for b := range scaleBatches {
		proc := (ag.n + b) % 2
		tag := fmt.Sprintf("a%02d-b%02d", ag.n, b)
		members := ag.rng.Perm(scaleServers + scaleApps)[:scaleBatchSize]
		items := make([]any, len(members))
		for i, m := range members {
			items[i] = scaleItem(m, tag)
		}
		start := time.Now()
		d, ok := ag.send(ctx, proc, scaleUpsert, map[string]any{"in": map[string]any{"items": items}}, fmt.Sprintf("upsert %s", tag))
		if !ok {
			return
		}
		end := time.Now()
		results, _ := get(d, "upsertCIs", "results").([]any)
		if len(results) != len(members) {
			ag.fail("upsert %s: %d results for %d items", tag, len(results), len(members))
			return
		}
		for i, m := range members {
			status, _ := get(results[i], "status").(string)
			id, _ := get(results[i], "ci", "id").(string)
			if status != "CREATED" && status != "UPDATED" && status != "UNCHANGED" || id == "" {
				ag.fail("upsert %s item %d: %s %v", tag, i, status, get(results[i], "error"))
				continue
			}
			ag.seen[scaleIdentity(m)] = id
			ag.writes = append(ag.writes, scaleWrite{identity: scaleIdentity(m), id: id, tag: tag, agent: ag.n, proc: proc, start: start, end: end})
		}
		ag.upserts++

		var rels []any
		for _, i := range ag.rng.Perm(len(all)) {
			src, okS := ag.seen[scaleIdentity(all[i][0])]
			dst, okD := ag.seen[scaleIdentity(all[i][1])]
			if okS && okD {
				rels = append(rels, map[string]any{"type": "DEPENDS_ON", "source": src, "target": dst})
				if len(rels) == scaleRelBatch {
					break
				}
			}
		}
		if len(rels) == 0 {
			continue
		}
		proc = 1 - proc
		d, ok = ag.send(ctx, proc, scaleCreateRels, map[string]any{"in": map[string]any{"items": rels}}, fmt.Sprintf("relationships after %s", tag))
		if !ok {
			return
		}
		results, _ = get(d, "createRelationships", "results").([]any)
		if len(results) != len(rels) {
			ag.fail("relationships after %s: %d results for %d items", tag, len(results), len(rels))
			return
		}
		for i, r := range results {
			status, _ := get(r, "status").(string)
			id, _ := get(r, "relationship", "id").(string)
			if status != "CREATED" && status != "UPDATED" && status != "UNCHANGED" || id == "" {
				ag.fail("relationships after %s, item %d: %s %v", tag, i, status, get(r, "error"))
				continue
			}
			want := rels[i].(map[string]any)
			k := scaleRelKey{typ: "DEPENDS_ON", source: want["source"].(string), target: want["target"].(string)}
			got := scaleRelKey{typ: get(r, "relationship", "type").(string), source: get(r, "relationship", "source", "id").(string), target: get(r, "relationship", "target", "id").(string)}
			if got != k {
				ag.fail("relationships after %s, item %d: asked for %s, got %s", tag, i, k, got)
				continue
			}
			if prev, ok := ag.rels[k]; ok && prev != id {
				ag.fail("relationship %s acknowledged as %s, then as %s", k, prev, id)
			}
			ag.rels[k] = id
		}
		ag.relBatches++
	}
}

// send posts one request through process proc, retrying it (after a pause
// that grows) as long as it fails with a documented retryable error code,
// up to scaleMaxRetries times; it returns the data of the answer, or false
// after recording a failure.
func (ag *scaleAgent) send(ctx context.Context, proc int, query string, vars map[string]any, what string) (map[string]any, bool) {
	for attempt := 1; ; attempt++ {
		ag.attempts++
		status, resp, err := ag.apis[proc].post(ctx, query, vars)
		if err != nil {
			ag.fail("%s through process %d: %v", what, proc, err)
			return nil, false
		}
		if len(resp.Errors) == 0 && status == http.StatusOK {
			return resp.Data, true
		}
		var codes []string
		retry := len(resp.Errors) > 0
		for _, e := range resp.Errors {
			c, _ := e.Extensions["code"].(string)
			codes = append(codes, c)
			retry = retry && slices.Contains(scaleRetryable, c)
		}
		if !retry || attempt == scaleMaxRetries {
			ag.fail("%s through process %d, attempt %d: HTTP %d %s", what, proc, attempt, status, resp.raw)
			return nil, false
		}
		for _, c := range codes {
			ag.retries[c]++
		}
		time.Sleep(time.Duration(attempt*20+ag.rng.IntN(20)) * time.Millisecond)
	}
}

func (ag *scaleAgent) fail(format string, args ...any) {
	ag.failures = append(ag.failures, fmt.Sprintf(format, args...))
}

// scaleClassDelay registers class name through from and measures how long
// it takes until to accepts a CI of it. Just before, to is made to reload
// its model for an unknown name (the worst case: its next such reload is a
// full interval away). It fails the test after a generous bound; the
// delay is reported, not asserted.
func scaleClassDelay(t *testing.T, from, to outageAPI, name string) time.Duration {
	t.Helper()
	probe := func() string {
		d := scaleOK(t, to, scaleUpsert, map[string]any{"in": map[string]any{"source": "scale-probe",
			"items": []any{item(name, map[string]any{"name": "probe-" + strings.ToLower(name)})}}})
		s, _ := get(d, "upsertCIs", "results", 0, "status").(string)
		return s
	}
	require.Equal(t, "INVALID", probe(), "class %s is unknown before it is registered", name)
	scaleOK(t, from, `mutation($in: RegisterCIClassInput!) { registerCIClass(input: $in) { ciClass { name } } }`,
		map[string]any{"in": map[string]any{"name": name, "parent": "CI", "identificationRules": [][]string{{"name"}}}})
	registered := time.Now()
	const bound = 30 * time.Second // generous: the documented bound is about a second
	for {
		s := probe()
		if s == "CREATED" {
			return time.Since(registered)
		}
		require.Equal(t, "INVALID", s)
		require.Less(t, time.Since(registered), bound, "class %s registered through %s is still unknown to %s", name, from.url, to.url)
		time.Sleep(20 * time.Millisecond)
	}
}

// scaleClassListed registers class name through from and measures how
// long it takes until to lists it (ciClass), with no request naming it in
// a write: reads do not reload the model for an unknown name, the model's
// age does (at most modelMaxAge, internal/cmdb). It fails the test after a
// generous bound; the delay is reported, not asserted.
func scaleClassListed(t *testing.T, from, to outageAPI, name string) time.Duration {
	t.Helper()
	const q = `query($name: String!) { ciClass(name: $name) { name } }`
	require.Nil(t, get(scaleOK(t, to, q, map[string]any{"name": name}), "ciClass"), "class %s is unknown before it is registered", name)
	scaleOK(t, from, `mutation($in: RegisterCIClassInput!) { registerCIClass(input: $in) { ciClass { name } } }`,
		map[string]any{"in": map[string]any{"name": name, "parent": "CI", "identificationRules": [][]string{{"name"}}}})
	registered := time.Now()
	const bound = 60 * time.Second // generous: the documented bound is about five seconds
	for get(scaleOK(t, to, q, map[string]any{"name": name}), "ciClass") == nil {
		require.Less(t, time.Since(registered), bound, "class %s registered through %s is still not listed by %s", name, from.url, to.url)
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(registered)
}

// scaleOK runs a request that must succeed through api and returns its data.
func scaleOK(t *testing.T, api outageAPI, query string, vars map[string]any) map[string]any {
	t.Helper()
	status, resp, err := api.post(t.Context(), query, vars)
	require.NoError(t, err)
	require.Empty(t, resp.Errors, resp.raw)
	require.Equal(t, http.StatusOK, status, resp.raw)
	return resp.Data
}

// scaleCI is what the API says about one identity: how many CIs have it,
// the ID of (the last of) them and its tag.
type scaleCI struct {
	id, tag string
	count   int
}

// scaleReadCIs pages through every CI through api and returns them by
// identity (as scaleIdentity writes it; the probes' by class and name).
func scaleReadCIs(t *testing.T, api outageAPI) map[string]scaleCI {
	t.Helper()
	const q = `query($after: String) { cis(first: 500, after: $after) {
  totalCount edges { node { id name class attributes } } pageInfo { hasNextPage endCursor } } }`
	found := map[string]scaleCI{}
	var after any
	total, seen := -1, 0
	for {
		d := scaleOK(t, api, q, map[string]any{"after": after})
		if total < 0 {
			total = int(get(d, "cis", "totalCount").(float64))
		}
		edges, _ := get(d, "cis", "edges").([]any)
		for _, e := range edges {
			n := get(e, "node")
			class, _ := get(n, "class").(string)
			id, _ := get(n, "id").(string)
			name, _ := get(n, "name").(string)
			identity, tag := class+"/"+name, ""
			switch class {
			case "LinuxServer":
				serial, _ := get(n, "attributes", "serial_number").(string)
				identity = class + "/" + serial
				tag, _ = get(n, "attributes", "kernel_version").(string)
			case "Application":
				tag, _ = get(n, "attributes", "version").(string)
			}
			found[identity] = scaleCI{id: id, tag: tag, count: found[identity].count + 1}
			seen++
		}
		if get(d, "cis", "pageInfo", "hasNextPage") != true {
			break
		}
		after = get(d, "cis", "pageInfo", "endCursor")
	}
	require.Equal(t, total, seen, "totalCount against the CIs paged through")
	return found
}

// scaleCypherCounts counts, with Cypher on the shared Neo4j, the CIs, the
// identity keys and the relationships between CIs, and fails the test for
// every identifying value held by more than one CI, every identity key
// that does not identify exactly one CI, every (source, type, target) with
// more than one relationship, every CI the API did not list (found) and
// every acknowledged relationship (acked) that is not there; ciDups and
// relDups count the CIs and relationships beyond the first of each.
func scaleCypherCounts(t *testing.T, env neo4jtest.Env, found map[string]scaleCI, acked map[scaleRelKey]string) (cis, keys, rels, ciDups, relDups int) {
	t.Helper()
	drv, err := neo4j.NewDriverWithContext(env.URI, neo4j.BasicAuth(env.User, env.Password, ""))
	require.NoError(t, err)
	defer drv.Close(context.Background())
	run := func(query string) []*neo4j.Record {
		res, err := neo4j.ExecuteQuery(t.Context(), drv, query, nil, neo4j.EagerResultTransformer,
			neo4j.ExecuteQueryWithDatabase(env.Database), neo4j.ExecuteQueryWithReadersRouting())
		require.NoError(t, err, query)
		return res.Records
	}

	ids := map[string]bool{}
	for _, r := range run(`MATCH (c:CI) RETURN c.id AS id`) {
		id, _ := r.Get("id")
		ids[graph.CIGlobalID(store.ID(id.(string)))] = true
	}
	cis = len(ids)
	for _, ci := range found {
		if !ids[ci.id] {
			t.Errorf("CI %s listed by the API is not in Neo4j", ci.id)
		}
	}
	assert.Len(t, found, cis, "CIs in Neo4j against identities listed by the API")
	for _, r := range run(`MATCH (c:CI) WITH c.class AS class, coalesce(c.serial_number, c.name) AS value, count(c) AS n
WHERE n > 1 RETURN class, value, n`) {
		n, _ := r.Get("n")
		ciDups += int(n.(int64)) - 1
		t.Errorf("Cypher: %v %v is %v CIs (duplicates)", r.Values[0], r.Values[1], r.Values[2])
	}
	for _, r := range run(`MATCH (k:IdentityKey) OPTIONAL MATCH (k)-[:IDENTIFIES]->(c:CI) RETURN k.key AS key, count(c) AS n`) {
		keys++
		if n, _ := r.Get("n"); n.(int64) != 1 {
			t.Errorf("Cypher: identity key %v identifies %v CIs", r.Values[0], n)
		}
	}
	inStore := map[string]bool{}
	for _, r := range run(`MATCH (a:CI)-[r]->(b:CI) RETURN a.id AS a, type(r) AS t, b.id AS b, collect(r.id) AS ids`) {
		rids, _ := r.Get("ids")
		list := rids.([]any)
		rels += len(list)
		if len(list) > 1 {
			relDups += len(list) - 1
			t.Errorf("Cypher: %v -%v-> %v is %d relationships (duplicates)", r.Values[0], r.Values[1], r.Values[2], len(list))
		}
		for _, id := range list {
			inStore[base64.RawURLEncoding.EncodeToString([]byte("Relationship:"+id.(string)))] = true
		}
	}
	var missing []string
	for k, id := range acked {
		if !inStore[id] {
			missing = append(missing, k.String())
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("Cypher: acknowledged relationship %s is not in Neo4j", m)
	}
	return cis, keys, rels, ciDups, relDups
}

// scaleCodes formats error counts by code, in code order ("none" for none).
func scaleCodes(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", c, m[c]))
	}
	return strings.Join(parts, ", ")
}
