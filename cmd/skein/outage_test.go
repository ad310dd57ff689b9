package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestNeo4jOutage kills a private Neo4j (SIGKILL) under a running Skein
// while clients upsert, and checks that Skein degrades and recovers by
// itself: while Neo4j is down /readyz answers 503 and GraphQL reads and
// writes answer UNAVAILABLE errors promptly (no hang, no 500, no panic);
// when Neo4j is back on the same address /readyz turns ready and requests
// succeed without restarting Skein; and every batch a client saw
// acknowledged is in the store exactly once.
//
// Requests with a token meet the outage in the token check (HTTP 503
// UNAVAILABLE); anonymous reads (allowed on loopback) reach the resolvers
// and the store (a GraphQL error UNAVAILABLE). Both are checked.
func TestNeo4jOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("outage test: starts, kills and restarts a Neo4j of its own")
	}
	const (
		writers   = 4
		batchSize = 5
	)
	inst := neo4jtest.StartPrivate(t)
	env := inst.Env()
	cfg := config.Default()
	cfg.Store.Kind = config.StoreNeo4j
	cfg.Neo4j.URI, cfg.Neo4j.User, cfg.Neo4j.Password = env.URI, env.User, config.Secret(env.Password)
	cfg.Server.RateLimit = 0 // the writers retry quickly while Neo4j is down
	cfg.Auth.AnonymousRead = true
	reqTimeout := cfg.Server.RequestTimeout
	logs := &lockedBuffer{}
	a, err := newApp(t.Context(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	require.NoError(t, err)
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(func() { srv.Close(); a.Close() })
	api := outageAPI{url: srv.URL, token: issueToken(t, a, "outage-test", auth.Admin)}
	anon := outageAPI{url: srv.URL}
	url := srv.URL

	// Writers: each sends batches of CIs with unique serial numbers until
	// stopped, and records every outcome.
	var (
		mu       sync.Mutex
		outcomes []outageOutcome
		acks     atomic.Int64
	)
	writeCtx, stopWriters := context.WithCancel(context.Background())
	defer stopWriters()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; writeCtx.Err() == nil; b++ {
				o := sendOutageBatch(api, outageBatch{writer: w, batch: b, size: batchSize})
				if writeCtx.Err() != nil && o.transportErr != nil {
					return
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if o.acked {
					acks.Add(1)
				} else {
					time.Sleep(50 * time.Millisecond) // do not spin while Neo4j is down
				}
			}
		}()
	}
	lastOutcome := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(outcomes) == 0 {
			return "(no batch answered)"
		}
		o := outcomes[len(outcomes)-1]
		return fmt.Sprintf("(last batch: HTTP %d, error %v, %s)", o.status, o.transportErr, o.raw)
	}
	outageWaitFor(t, 60*time.Second, "20 acknowledged batches before the outage", func() bool { return acks.Load() >= 20 }, lastOutcome)

	// Outage.
	ackedBefore := acks.Load()
	inst.Kill()
	downAt := time.Now()
	t.Logf("killed Neo4j (SIGKILL) after %d acknowledged batches", ackedBefore)

	var unreadyAfter time.Duration
	outageWaitFor(t, 30*time.Second, "/readyz to answer 503", func() bool {
		code, _, _ := outageReadyz(t, url)
		unreadyAfter = time.Since(downAt)
		return code == http.StatusServiceUnavailable
	})
	var readyzLat, readLat, writeLat, storeLat []time.Duration
	for range 3 {
		code, body, d := outageReadyz(t, url)
		assert.Equal(t, http.StatusServiceUnavailable, code, body)
		assert.Contains(t, body, `"status":"unavailable"`)
		assert.Less(t, d, reqTimeout, "/readyz while Neo4j is down")
		readyzLat = append(readyzLat, d)
	}
	// An ID to read: any acknowledged CI's.
	var someID string
	mu.Lock()
	for _, o := range outcomes {
		if o.acked {
			someID = o.ids[0]
			break
		}
	}
	mu.Unlock()
	require.NotEmpty(t, someID)
	reads := []struct{ query string }{
		{`{ cis(first: 5) { totalCount edges { node { name } } } }`},
		{`query($id: ID!) { ci(id: $id) { name attributes } }`},
		{`query($id: ID!) { node(id: $id) { id } }`},
	}
	for round := range 3 {
		for _, c := range []outageAPI{anon, api} {
			for _, r := range reads {
				start := time.Now()
				status, resp, err := c.post(context.Background(), r.query, map[string]any{"id": someID})
				d := time.Since(start)
				readLat = append(readLat, d)
				require.NoError(t, err, "read while Neo4j is down: %s", r.query)
				assertOutageUnavailable(t, status, resp, "read %q (round %d, token %v)", r.query, round, c.token != "")
				assert.Less(t, d, reqTimeout, "read while Neo4j is down")
			}
		}
		start := time.Now()
		o := sendOutageBatch(api, outageBatch{writer: 99, batch: round, size: batchSize})
		d := time.Since(start)
		writeLat = append(writeLat, d)
		require.NoError(t, o.transportErr)
		assert.False(t, o.acked, "a write acknowledged while Neo4j is down")
		assert.Equal(t, []string{"UNAVAILABLE"}, o.codes, "write while Neo4j is down: HTTP %d %s", o.status, o.raw)
		assert.NotEqual(t, http.StatusInternalServerError, o.status)
		assert.Less(t, d, reqTimeout, "write while Neo4j is down")

		// With a token, requests meet the outage in the token check; the
		// store's write path itself must fail fast too.
		start = time.Now()
		_, err := a.CMDB.Upsert(t.Context(), store.Actor{Name: "test", Source: "outage"},
			[]cmdb.UpsertItem{{Class: "LinuxServer", Attributes: map[string]any{"name": "outage-direct", "serial_number": "OUTDIRECT"}}}, false)
		d = time.Since(start)
		storeLat = append(storeLat, d)
		assert.ErrorIs(t, err, store.ErrUnavailable, "store write while Neo4j is down")
		assert.Less(t, d, reqTimeout, "store write while Neo4j is down")
		time.Sleep(200 * time.Millisecond)
	}
	// Stay down a while, so that the writers meet the outage many times.
	time.Sleep(time.Until(downAt.Add(3 * time.Second)))

	// Back up, at the same address; Skein is not restarted.
	upAt := time.Now()
	inst.Start()
	readyAt := time.Now()
	t.Logf("Neo4j down for %s; restarted in %s", upAt.Sub(downAt).Round(time.Millisecond), readyAt.Sub(upAt).Round(time.Millisecond))
	var recovered time.Duration
	outageWaitFor(t, 60*time.Second, "/readyz to answer 200 again", func() bool {
		code, _, _ := outageReadyz(t, url)
		recovered = time.Since(readyAt)
		return code == http.StatusOK
	})
	var firstAckAfter time.Duration
	outageWaitFor(t, 60*time.Second, "10 acknowledged batches after the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, o := range outcomes {
			if o.acked && o.start.After(readyAt) {
				if d := o.end.Sub(readyAt); n == 0 || d < firstAckAfter {
					firstAckAfter = d
				}
				n++
			}
		}
		return n >= 10
	}, lastOutcome)
	stopWriters()
	wg.Wait()
	for _, c := range []outageAPI{anon, api} {
		status, resp, err := c.post(t.Context(), `query($id: ID!) { ci(id: $id) { name } }`, map[string]any{"id": someID})
		require.NoError(t, err)
		require.Empty(t, resp.Errors, resp.raw)
		assert.Equal(t, http.StatusOK, status)
		assert.NotEmpty(t, get(resp.Data, "ci", "name"), "a read after the restart (token %v)", c.token != "")
	}

	// Every outcome: acknowledged, or UNAVAILABLE; never a hang, a 500 or
	// another error code. None acknowledged while Neo4j was down.
	var acked, failed, failedDown int
	var writerLatDown []time.Duration
	failures := map[string]int{} // "HTTP <status> <codes>" of the failed batches
	var all []outageBatch
	for _, o := range outcomes {
		all = append(all, o.outageBatch)
		if o.transportErr != nil {
			t.Errorf("batch %s: transport error (a hang?): %v", o.key(), o.transportErr)
			continue
		}
		assert.Less(t, o.end.Sub(o.start), reqTimeout+2*time.Second, "batch %s took too long", o.key())
		down := o.start.After(downAt) && o.end.Before(upAt)
		if o.acked {
			acked++
			assert.False(t, down, "batch %s acknowledged while Neo4j was down", o.key())
			continue
		}
		failed++
		if down {
			failedDown++
			writerLatDown = append(writerLatDown, o.end.Sub(o.start))
		}
		failures[fmt.Sprintf("HTTP %d %s", o.status, strings.Join(o.codes, ","))]++
		assert.NotEqual(t, http.StatusInternalServerError, o.status, "batch %s", o.key())
		assert.Equal(t, []string{"UNAVAILABLE"}, o.codes, "batch %s: HTTP %d %s", o.key(), o.status, o.raw)
	}
	assert.Positive(t, failedDown, "no writer request met the outage: the test checks nothing")

	// Send every unacknowledged batch again: it must now succeed, whether
	// the first attempt was committed (UNCHANGED) or not (CREATED).
	committedUnacked := 0
	for _, o := range outcomes {
		if o.acked {
			continue
		}
		r := sendOutageBatch(api, o.outageBatch)
		require.True(t, r.acked, "resend of %s: HTTP %d %s", o.key(), r.status, r.raw)
		if slices.Contains(r.statuses, "UNCHANGED") {
			committedUnacked++
		}
	}

	// Every batch sent, acknowledged or resent, is there exactly once.
	found := readOutageCIs(t, api)
	lost := 0
	for _, o := range outcomes {
		for i := range o.size {
			name := o.name(i)
			if got, ok := found[name]; ok && got.serial != o.serial(i) {
				t.Errorf("CI %s has serial number %q, want %q", name, got.serial, o.serial(i))
			}
			switch n := found[name].count; {
			case n == 0 && o.acked:
				lost++
				t.Errorf("acknowledged CI %s is missing", name)
			case n == 0:
				t.Errorf("CI %s is missing after its batch was resent", name)
			case n > 1:
				t.Errorf("CI %s is there %d times", name, n)
			}
		}
	}
	assert.Len(t, found, len(outageNames(all)), "CIs in the store against CIs sent")
	assert.NotContains(t, logs.String(), "panic", "Skein's log")

	t.Logf("/readyz unready %s after the kill; latencies while down: /readyz %s; reads %s; writes %s; store writes %s; writers' batches %s (n=%d)",
		outageRound(unreadyAfter), outageLatencies(readyzLat), outageLatencies(readLat), outageLatencies(writeLat),
		outageLatencies(storeLat), outageLatencies(writerLatDown), len(writerLatDown))
	t.Logf("after Neo4j was ready again: /readyz ready in %s, first acknowledged batch in %s",
		outageRound(recovered), outageRound(firstAckAfter))
	t.Logf("batches: %d sent by the writers, %d acknowledged (%d before the kill), %d failed (%d while down; answers %v; %d had been committed); %d CIs verified, %d lost",
		len(outcomes), acked, ackedBefore, failed, failedDown, failures, committedUnacked, len(found), lost)
}

// outageAPI is TestNeo4jOutage's client of the GraphQL API: every GraphQL
// request of the test goes through its post.
type outageAPI struct {
	url   string
	token string // bearer token; "" sends none (an anonymous read)
}

// post sends one GraphQL request. It does not fail the test, so the
// writers' goroutines may use it.
func (c outageAPI) post(ctx context.Context, query string, vars map[string]any) (status int, body gqlResponse, err error) {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return 0, body, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/graphql", bytes.NewReader(b))
	if err != nil {
		return 0, body, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := outageClient.Do(req)
	if err != nil {
		return 0, body, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, body, err
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return resp.StatusCode, body, fmt.Errorf("HTTP %d, not JSON (%v): %s", resp.StatusCode, err, raw)
	}
	body.status, body.raw = resp.StatusCode, string(raw)
	return resp.StatusCode, body, nil
}

// outageClient gives up well after the server's request timeout: a
// request that runs into it has hung.
var outageClient = &http.Client{Timeout: config.Default().Server.RequestTimeout + 15*time.Second}

// outageBatch is one upsertCIs call: CIs outage-w<W>-b<B>-i<I> of class
// LinuxServer, identified by the unique serial number OUTW<W>B<B>I<I>.
type outageBatch struct{ writer, batch, size int }

func (b outageBatch) key() string { return fmt.Sprintf("w%d-b%d", b.writer, b.batch) }
func (b outageBatch) name(i int) string {
	return fmt.Sprintf("outage-w%d-b%d-i%d", b.writer, b.batch, i)
}
func (b outageBatch) serial(i int) string { return fmt.Sprintf("OUTW%dB%dI%d", b.writer, b.batch, i) }

type outageOutcome struct {
	outageBatch
	start, end   time.Time
	transportErr error
	status       int
	acked        bool     // no errors, every item CREATED, UPDATED or UNCHANGED
	codes        []string // the errors' extensions.code, if any
	statuses     []string // the items' statuses, if any
	ids          []string
	raw          string
}

const outageUpsert = `mutation($in: UpsertCIsInput!) { upsertCIs(input: $in) {
  failed results { status error { code message } ci { id } } } }`

func sendOutageBatch(api outageAPI, b outageBatch) outageOutcome {
	items := make([]any, b.size)
	for i := range items {
		items[i] = item("LinuxServer", map[string]any{"name": b.name(i), "serial_number": b.serial(i)})
	}
	o := outageOutcome{outageBatch: b, start: time.Now()}
	status, resp, err := api.post(context.Background(), outageUpsert,
		map[string]any{"in": map[string]any{"source": "outage", "items": items}})
	o.end, o.status, o.transportErr, o.raw = time.Now(), status, err, resp.raw
	if err != nil {
		return o
	}
	for _, e := range resp.Errors {
		c, _ := e.Extensions["code"].(string)
		o.codes = append(o.codes, c)
	}
	results, _ := get(resp.Data, "upsertCIs", "results").([]any)
	for i := range results {
		s, _ := get(results[i], "status").(string)
		o.statuses = append(o.statuses, s)
		if id, ok := get(results[i], "ci", "id").(string); ok {
			o.ids = append(o.ids, id)
		}
	}
	o.acked = status == http.StatusOK && len(resp.Errors) == 0 && len(results) == b.size && len(o.ids) == b.size
	for _, s := range o.statuses {
		if s != "CREATED" && s != "UPDATED" && s != "UNCHANGED" {
			o.acked = false
		}
	}
	return o
}

type outageCI struct {
	serial string
	count  int
}

// readOutageCIs counts the CIs by name, paging through all of them (the
// private Neo4j holds only this test's).
func readOutageCIs(t *testing.T, api outageAPI) map[string]outageCI {
	t.Helper()
	const q = `query($after: String) { cis(first: 500, after: $after) {
  totalCount edges { node { name attributes } } pageInfo { hasNextPage endCursor } } }`
	found := map[string]outageCI{}
	var after any
	total, seen := -1, 0
	for {
		status, resp, err := api.post(t.Context(), q, map[string]any{"after": after})
		require.NoError(t, err)
		require.Empty(t, resp.Errors, resp.raw)
		require.Equal(t, http.StatusOK, status)
		if total < 0 {
			total = int(get(resp.Data, "cis", "totalCount").(float64))
		}
		edges, _ := get(resp.Data, "cis", "edges").([]any)
		for _, e := range edges {
			name, _ := get(e, "node", "name").(string)
			serial, _ := get(e, "node", "attributes", "serial_number").(string)
			found[name] = outageCI{serial: serial, count: found[name].count + 1}
			seen++
		}
		if get(resp.Data, "cis", "pageInfo", "hasNextPage") != true {
			break
		}
		after = get(resp.Data, "cis", "pageInfo", "endCursor")
	}
	require.Equal(t, total, seen, "totalCount against the CIs paged through")
	return found
}

func outageNames(bs []outageBatch) map[string]bool {
	names := map[string]bool{}
	for _, b := range bs {
		for i := range b.size {
			names[b.name(i)] = true
		}
	}
	return names
}

func assertOutageUnavailable(t *testing.T, status int, resp gqlResponse, msgAndArgs ...any) {
	t.Helper()
	assert.NotEqual(t, http.StatusInternalServerError, status, msgAndArgs...)
	if assert.NotEmpty(t, resp.Errors, msgAndArgs...) {
		for _, e := range resp.Errors {
			assert.Equal(t, "UNAVAILABLE", e.Extensions["code"], append(msgAndArgs, resp.raw)...)
		}
	}
}

// outageReadyz returns /readyz's status, body and latency.
func outageReadyz(t *testing.T, url string) (int, string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := outageClient.Get(url + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), time.Since(start)
}

// outageWaitFor polls cond every 100ms until it holds, failing the test after
// timeout with what and the diagnostics of diag, if any.
func outageWaitFor(t *testing.T, timeout time.Duration, what string, cond func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			var more []string
			for _, d := range diag {
				more = append(more, d())
			}
			t.Fatalf("timed out after %s waiting for %s %s", timeout, what, strings.Join(more, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outageLatencies is "median M, max X" of some latencies.
func outageLatencies(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("median %s, max %s", outageRound(s[len(s)/2]), outageRound(s[len(s)-1]))
}

func outageRound(d time.Duration) time.Duration {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
