package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
)

// OverloadConfig drives a mix of cheap and expensive queries at rising
// concurrency, to see how the service sheds load.
type OverloadConfig struct {
	URL       string
	Clients   []int
	Duration  time.Duration
	Cheap     APIQuery
	Expensive APIQuery
	// ExpensiveShare is the fraction of requests that are expensive (0..1).
	ExpensiveShare float64
	// RSS, when set, reports the server's resident memory in bytes.
	RSS func() int64
	Log io.Writer
}

// OverloadRow is one concurrency level's outcome.
type OverloadRow struct {
	Clients                    int
	Elapsed                    time.Duration
	CheapOK, CheapShed         int
	CheapP50, CheapP99         time.Duration
	ExpensiveOK, ExpensiveShed int
	ExpensiveP99               time.Duration
	Failed                     int // answers that were neither success nor a shed (429/503/OVERLOADED)
	RSSBytes                   int64
}

// RunOverload drives the mix at each level in turn.
func RunOverload(ctx context.Context, cfg OverloadConfig) ([]OverloadRow, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	cheap, err := json.Marshal(map[string]any{"query": cfg.Cheap.Query, "variables": cfg.Cheap.Variables})
	if err != nil {
		return nil, err
	}
	exp, err := json.Marshal(map[string]any{"query": cfg.Expensive.Query, "variables": cfg.Expensive.Variables})
	if err != nil {
		return nil, err
	}
	var rows []OverloadRow
	for _, n := range cfg.Clients {
		row := overloadLevel(ctx, cfg, n, cheap, exp)
		if cfg.RSS != nil {
			row.RSSBytes = cfg.RSS()
		}
		fmt.Fprintf(cfg.Log, "bench overload: %4d clients: cheap %6.0f/s (shed %d) p99 %v; expensive %4.0f/s (shed %d); failed %d; rss %d MiB\n",
			n, float64(row.CheapOK)/row.Elapsed.Seconds(), row.CheapShed, row.CheapP99,
			float64(row.ExpensiveOK)/row.Elapsed.Seconds(), row.ExpensiveShed, row.Failed, row.RSSBytes>>20)
		rows = append(rows, row)
	}
	return rows, nil
}

type outcome int

const (
	outOK outcome = iota
	outShed
	outFailed
)

func overloadLevel(ctx context.Context, cfg OverloadConfig, clients int, cheap, exp []byte) OverloadRow {
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var mu sync.Mutex
	row := OverloadRow{Clients: clients}
	var cheapLat, expLat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 7))
			for ctx.Err() == nil {
				expensive := rng.Float64() < cfg.ExpensiveShare
				body, token := cheap, cfg.Cheap.Token
				if expensive {
					body, token = exp, cfg.Expensive.Token
				}
				t := time.Now()
				o := classifySend(ctx, client, cfg.URL, body, token)
				if ctx.Err() != nil {
					return
				}
				d := time.Since(t)
				mu.Lock()
				switch {
				case o == outFailed:
					row.Failed++
				case expensive && o == outOK:
					row.ExpensiveOK++
					expLat = append(expLat, d)
				case expensive:
					row.ExpensiveShed++
				case o == outOK:
					row.CheapOK++
					cheapLat = append(cheapLat, d)
				default:
					row.CheapShed++
				}
				mu.Unlock()
				if o == outShed {
					time.Sleep(10 * time.Millisecond) // a polite client backs off a little
				}
			}
		}(uint64(c))
	}
	wg.Wait()
	row.Elapsed = time.Since(start)
	row.CheapP50, row.CheapP99 = percentile(cheapLat, 0.50), percentile(cheapLat, 0.99)
	row.ExpensiveP99 = percentile(expLat, 0.99)
	return row
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[min(len(lat)-1, int(p*float64(len(lat))))]
}

// classifySend posts one request: success, shed (429, 503, or an
// OVERLOADED GraphQL error), or failed.
func classifySend(ctx context.Context, client *http.Client, url string, body []byte, token string) outcome {
	resp, err := post(ctx, client, url, body, token)
	if err != nil {
		return outFailed
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return outShed
	case resp.StatusCode != http.StatusOK:
		return outFailed
	case bytes.Contains(raw, []byte(`"OVERLOADED"`)):
		return outShed
	case bytes.Contains(raw, []byte(`"errors"`)):
		return outFailed
	}
	return outOK
}

// OverloadMarkdown writes overload rows as a table.
func OverloadMarkdown(w io.Writer, rows []OverloadRow) {
	fmt.Fprintf(w, "| clients | cheap reads/s | cheap p50 | cheap p99 | cheap shed | impact/s | impact p99 | impact shed | failed | server RSS |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		s := r.Elapsed.Seconds()
		fmt.Fprintf(w, "| %d | %.0f | %s | %s | %d | %.0f | %s | %d | %d | %d MiB |\n", r.Clients, float64(r.CheapOK)/s, dur(r.CheapP50), dur(r.CheapP99),
			r.CheapShed, float64(r.ExpensiveOK)/s, dur(r.ExpensiveP99), r.ExpensiveShed, r.Failed, r.RSSBytes>>20)
	}
}
