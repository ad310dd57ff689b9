package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCrashServe kills the real `skein serve` with SIGKILL while clients
// upsert over GraphQL, many times over one data directory, and checks that
// the store reopens every time, that every batch a client saw acknowledged
// is there exactly once and whole, and that atomic batches are all or
// nothing. SKEIN_CRASHSERVE_SEED and SKEIN_CRASHSERVE_TRIALS reproduce or
// lengthen a run.
func TestCrashServe(t *testing.T) {
	if testing.Short() {
		t.Skip("crash-survival test: builds and kills the skein binary many times")
	}
	const (
		clients   = 4
		batchSize = 20
	)
	trials := 20
	if s := os.Getenv("SKEIN_CRASHSERVE_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "SKEIN_CRASHSERVE_TRIALS")
		trials = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SKEIN_CRASHSERVE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "SKEIN_CRASHSERVE_SEED")
		seed = n
	}
	t.Logf("seed %d (SKEIN_CRASHSERVE_SEED=%d reproduces the kill timings), %d trials", seed, seed, trials)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))

	start := time.Now()
	bin := buildSkein(t)
	t.Logf("built skein in %s", time.Since(start).Round(time.Millisecond))
	dataDir := filepath.Join(t.TempDir(), "data")
	// The clients are discovery agents, with a token made by the CLI.
	tok := cliToken(t, bin, dataDir, "crash-agent", "agent", "--source", "crashserve")

	var sent []crashBatch // every batch any client sent, acknowledged or not
	var totalAcked, totalItems int
	for trial := range trials {
		delay := time.Duration(100+rng.IntN(600)) * time.Millisecond
		atomicSeed := rng.Uint64()
		p := startCrashServe(t, bin, dataDir)

		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		var batches []crashBatch
		var rejected []string
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				crng := rand.New(rand.NewPCG(atomicSeed, uint64(c)))
				client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
				defer client.CloseIdleConnections()
				for b := 0; ctx.Err() == nil; b++ {
					batch := crashBatch{key: fmt.Sprintf("t%d-c%d-b%d", trial, c, b), atomic: crng.IntN(4) == 0}
					batch.acked, batch.rejection = postCrashBatch(ctx, client, p.base, tok, batch, batchSize)
					mu.Lock()
					batches = append(batches, batch)
					if batch.rejection != "" {
						rejected = append(rejected, batch.key+": "+batch.rejection)
					}
					mu.Unlock()
				}
			}()
		}
		time.Sleep(delay)
		p.kill()
		cancel()
		wg.Wait()

		acked := 0
		for _, b := range batches {
			if b.acked {
				acked++
			}
		}
		totalAcked += acked
		totalItems += acked * batchSize
		sent = append(sent, batches...)
		t.Logf("trial %2d: killed after %3dms; %3d batches sent, %3d acknowledged (%4d items)", trial, delay.Milliseconds(), len(batches), acked, acked*batchSize)
		// A live server must not refuse a valid batch: that is a bug, not a crash.
		for _, r := range rejected {
			t.Errorf("trial %d: batch rejected by a live server: %s", trial, r)
		}
	}
	require.Positive(t, totalAcked, "no batch was acknowledged in %d trials: the test checks nothing", trials)

	// Restart once more (which also proves the last kill left a store that
	// opens) and read everything back.
	p := startCrashServe(t, bin, dataDir)
	readStart := time.Now()
	found := readCrashCIs(t, p.base)
	t.Logf("read back %d CIs in %s", len(found), time.Since(readStart).Round(time.Millisecond))
	byBatch := map[string]int{}
	for name, ci := range found {
		key, _, ok := strings.Cut(name, "-i")
		if !ok || !strings.HasPrefix(name, "t") {
			t.Errorf("unexpected CI %q", name)
			continue
		}
		byBatch[key]++
		if ci.count != 1 {
			t.Errorf("CI %q appears %d times", name, ci.count)
		}
		if ci.class != "Application" || ci.version != key || ci.vendor != "crashserve" {
			t.Errorf("CI %q is not as written: class %q, version %q, vendor %q", name, ci.class, ci.version, ci.vendor)
		}
	}
	lost, partialAtomic, unackedPresent := 0, 0, 0
	known := map[string]bool{}
	for _, b := range sent {
		known[b.key] = true
		n := byBatch[b.key]
		switch {
		case b.acked && n != batchSize:
			lost++
			t.Errorf("acknowledged batch %s (atomic %v): %d of %d items found", b.key, b.atomic, n, batchSize)
		case b.atomic && n != 0 && n != batchSize:
			partialAtomic++
			t.Errorf("atomic batch %s (unacknowledged) is half-written: %d of %d items found", b.key, n, batchSize)
		case !b.acked && n > 0:
			unackedPresent++
		}
	}
	for key := range byBatch {
		if !known[key] {
			t.Errorf("batch %s was never sent but has CIs", key)
		}
	}
	t.Logf("verified: %d CIs in the store; %d acknowledged batches (%d items) all present, %d lost; %d unacknowledged batches present anyway; %d atomic batches half-written; total %s",
		len(found), totalAcked, totalItems, lost, unackedPresent, partialAtomic, time.Since(start).Round(time.Millisecond))
}

// crashBatch is one upsertCIs call of TestCrashServe: items
// <key>-i0..i19, with attribute version = key.
type crashBatch struct {
	key       string
	atomic    bool
	acked     bool
	rejection string // why a response that arrived was not an acknowledgement
}

const crashUpsert = `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) { failed results { status error { message } } } }`

// postCrashBatch sends a batch and reports whether it was acknowledged:
// HTTP 200, no errors, every item CREATED or UNCHANGED. A transport error
// (the server died) is neither an acknowledgement nor a rejection.
func postCrashBatch(ctx context.Context, client *http.Client, base, tok string, b crashBatch, size int) (acked bool, rejection string) {
	items := make([]map[string]any, size)
	for i := range items {
		items[i] = map[string]any{"class": "Application", "attributes": map[string]any{
			"name": fmt.Sprintf("%s-i%d", b.key, i), "vendor": "crashserve", "version": b.key,
		}}
	}
	body, err := json.Marshal(map[string]any{"query": crashUpsert, "variables": map[string]any{
		"in": map[string]any{"source": "crashserve", "atomic": b.atomic, "items": items},
	}})
	if err != nil {
		panic(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return false, ""
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, "" // cut off mid-response
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return false, "" // load shedding: a refusal, not a failure
	default:
		return false, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, raw)
	}
	var r struct {
		Data struct {
			UpsertCIs struct {
				Failed  int
				Results []struct {
					Status string
					Error  *struct{ Message string }
				}
			} `json:"upsertCIs"`
		}
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return false, fmt.Sprintf("bad JSON (%v): %s", err, raw)
	}
	if len(r.Errors) > 0 || r.Data.UpsertCIs.Failed != 0 || len(r.Data.UpsertCIs.Results) != size {
		return false, string(raw)
	}
	for _, res := range r.Data.UpsertCIs.Results {
		if res.Status != "CREATED" && res.Status != "UNCHANGED" {
			return false, string(raw)
		}
	}
	return true, ""
}

type crashCI struct {
	class, version, vendor string
	count                  int
}

// readCrashCIs pages through every CI in the store (it holds only the test's:
// paging unfiltered, by ID, is linear where a namePrefix filter re-sorts
// every match for each page).
func readCrashCIs(t *testing.T, base string) map[string]*crashCI {
	t.Helper()
	const q = `query($after: String) { cis(first: 500, after: $after) {
  totalCount edges { node { name class attributes } } pageInfo { hasNextPage endCursor } } }`
	found := map[string]*crashCI{}
	var after any
	total, seen := -1, 0
	for {
		d := ok(t, base, q, map[string]any{"after": after})
		if total < 0 {
			total = int(get(d, "cis", "totalCount").(float64))
		}
		edges, _ := get(d, "cis", "edges").([]any)
		for _, e := range edges {
			name, _ := get(e, "node", "name").(string)
			class, _ := get(e, "node", "class").(string)
			version, _ := get(e, "node", "attributes", "version").(string)
			vendor, _ := get(e, "node", "attributes", "vendor").(string)
			ci := found[name]
			if ci == nil {
				ci = &crashCI{class: class, version: version, vendor: vendor}
				found[name] = ci
			}
			ci.count++
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

// crashProcess is one `skein serve` of TestCrashServe.
type crashProcess struct {
	base   string
	cmd    *exec.Cmd
	exited chan error
	out    *lockedBuffer
}

// startCrashServe runs `skein serve` on dataDir (see startServe); the
// clients share one address and write as fast as they can, so the
// per-client rate limit is off: it would refuse most of their batches.
func startCrashServe(t *testing.T, bin, dataDir string) *crashProcess {
	t.Helper()
	return startServe(t, bin, filepath.Dir(dataDir), []string{"--data-dir", dataDir}, "SKEIN_SERVER_RATE_LIMIT=0")
}

// startServe runs `skein serve` with args (the store's flags) on a free
// loopback port, in dir (which holds no skein.yaml), with the test's
// environment less its SKEIN_* variables plus env, and waits until it is
// ready (see launchServe and waitServe).
func startServe(t *testing.T, bin, dir string, args []string, env ...string) *crashProcess {
	t.Helper()
	p := launchServe(t, bin, dir, args, env...)
	p.waitReady(t)
	return p
}

// launchServe starts `skein serve` as startServe does, without waiting for
// it. The process is killed when the test ends if it is still running.
func launchServe(t *testing.T, bin, dir string, args []string, env ...string) *crashProcess {
	t.Helper()
	addr := freeAddr(t)
	p := &crashProcess{base: "http://" + addr, exited: make(chan error, 1), out: &lockedBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--log-level", "error"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Env = skeinEnv(env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() && p.out.String() != "" {
			t.Logf("skein (%s) output:\n%s", addr, p.out.String())
		}
	})
	return p
}

// waitReady waits until /readyz answers 200; it fails the test, with the
// server's output, if the server exits first or is not ready within 60s.
func (p *crashProcess) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	deadline := time.After(60 * time.Second)
	for {
		resp, err := client.Get(p.base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err // for kill
			t.Fatalf("skein %s exited before it was ready (%v) (after a kill: the store did not reopen?)\n%s", strings.Join(p.cmd.Args[1:], " "), err, p.out.String())
		case <-deadline:
			t.Fatalf("skein not ready within 60s:\n%s", p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// skeinEnv is the test's environment without its SKEIN_* variables (which
// would configure the skein binary), plus env.
func skeinEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SKEIN_") {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// kill sends SIGKILL, unless the process has exited, and waits for it. It
// may be called more than once.
func (p *crashProcess) kill() {
	select {
	case err := <-p.exited:
		p.exited <- err
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	err := <-p.exited
	p.exited <- err
}

// cliToken creates a token with `skein token create` on the embedded store
// in dataDir and returns it; extra flags (--source) follow the others.
func cliToken(t *testing.T, bin, dataDir, name, role string, extra ...string) string {
	t.Helper()
	return cliTokenOn(t, bin, []string{"--data-dir", dataDir}, nil, name, role, extra...)
}

// cliTokenOn creates a token with `skein token create` on the store that
// storeArgs (and env, the SKEIN_* variables such as the Neo4j password)
// name, and returns it; extra flags (--source) follow the others.
func cliTokenOn(t *testing.T, bin string, storeArgs, env []string, name, role string, extra ...string) string {
	t.Helper()
	args := append([]string{"token", "create", "--name", name, "--role", role, "--expires", "1d"}, storeArgs...)
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Env = skeinEnv(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "skein token create: %s", stderr.String())
	tok := strings.TrimSpace(stdout.String())
	require.Regexp(t, tokenPattern, tok, "token create prints the token alone on stdout")
	require.Contains(t, stderr.String(), "shown only this once")
	return tok
}
