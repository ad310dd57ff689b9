package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// APIQuery is one GraphQL request the API benchmark sends.
type APIQuery struct {
	Name      string
	Query     string
	Variables map[string]any
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
}

// APIConfig says how to drive a GraphQL endpoint.
type APIConfig struct {
	URL      string        // the /graphql endpoint
	Clients  []int         // concurrency levels, e.g. 1, 8, 32
	Duration time.Duration // per query and level
	Queries  []APIQuery
	Log      io.Writer
}

// APIRow is the outcome of one query at one concurrency level.
type APIRow struct {
	Query    string
	Clients  int
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS returns successful requests per second.
func (r APIRow) RPS() float64 { return float64(r.Requests-r.Errors) / r.Elapsed.Seconds() }

// RunAPI drives the endpoint: for each query and concurrency level, that
// many clients send the query back to back over keep-alive connections for
// the duration. A response with GraphQL errors counts as an error.
func RunAPI(ctx context.Context, cfg APIConfig) ([]APIRow, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	var rows []APIRow
	for _, q := range cfg.Queries {
		body, err := json.Marshal(map[string]any{"query": q.Query, "variables": q.Variables})
		if err != nil {
			return nil, err
		}
		for _, n := range cfg.Clients {
			row, err := drive(ctx, cfg.URL, body, q.Token, n, cfg.Duration)
			if err != nil {
				return nil, fmt.Errorf("%s at %d clients: %w", q.Name, n, err)
			}
			row.Query = q.Name
			fmt.Fprintf(cfg.Log, "bench api: %-22s %3d clients: %8.0f req/s  p50 %v  p99 %v  errors %d\n", q.Name, n, row.RPS(), row.P50, row.P99, row.Errors)
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func drive(ctx context.Context, url string, body []byte, token string, clients int, d time.Duration) (APIRow, error) {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	// Warm up: one request per client opens its connection.
	if _, err := send(ctx, client, url, body, token); err != nil {
		return APIRow{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			bad := 0
			for ctx.Err() == nil {
				t := time.Now()
				ok, err := send(ctx, client, url, body, token)
				if ctx.Err() != nil {
					break
				}
				local = append(local, time.Since(t))
				if err != nil || !ok {
					bad++
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(lat) == 0 {
		return APIRow{}, fmt.Errorf("no request completed in %v", d)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return APIRow{Clients: clients, Requests: len(lat), Errors: errs, Elapsed: elapsed, P50: pct(0.50), P99: pct(0.99)}, nil
}

// send posts one request; ok is false when the response is not a 200 with
// data and no errors.
func send(ctx context.Context, client *http.Client, url string, body []byte, token string) (bool, error) {
	resp, err := post(ctx, client, url, body, token)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	return resp.StatusCode == http.StatusOK && !bytes.Contains(raw, []byte(`"errors"`)), nil
}

// post sends a GraphQL request body, with token as bearer token if set.
func post(ctx context.Context, client *http.Client, url string, body []byte, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return client.Do(req)
}

// APIMarkdown writes API rows as a table.
func APIMarkdown(w io.Writer, rows []APIRow) {
	fmt.Fprintf(w, "| query | clients | requests | errors | requests/s | p50 | p99 |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %.0f | %s | %s |\n", r.Query, r.Clients, r.Requests, r.Errors, r.RPS(), dur(r.P50), dur(r.P99))
	}
}

// ParseClients parses a comma-separated list of concurrency levels.
func ParseClients(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("clients: %q is not a number from 1 to 4096", f)
		}
		out = append(out, n)
	}
	return out, nil
}
