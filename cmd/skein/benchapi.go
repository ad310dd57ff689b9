package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skein-cmdb/skein/graph"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/bench"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/store"
)

func newBenchAPICmd() *cobra.Command {
	var (
		cis      int
		clients  string
		duration time.Duration
		outFile  string
		overload bool
		profile  string
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Benchmark the GraphQL API over loopback: simple reads, impact analyses and a hub's dependents at rising concurrency",
		Long: `Starts Skein in this process on the embedded store (in a temporary directory), loads a
generated estate of about --cis CIs, listens on a loopback port, and drives /graphql with many
concurrent clients over keep-alive connections: a simple read (one CI by id with a few fields,
with and without a token), impact analyses from a VM and from a hypervisor (counts and business
services), and a hub's dependents as the whole list and as counts with a page of 50.
Prints requests per second, p50 and p99 latency per concurrency level. The load generator runs
in the same process as the server, so both share the machine's cores.`,
		Example: `  skein bench api
  skein bench api --clients 1,8,32,128 --duration 10s --out api.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if overload && !cmd.Flags().Changed("clients") {
				clients = "1,8,32,128,512"
			}
			levels, err := bench.ParseClients(clients)
			if err != nil {
				return err
			}
			if cis < 100 || cis > 1_000_000 {
				return fmt.Errorf("--cis must be between 100 and 1000000, got %d", cis)
			}
			return benchAPI(cmd.Context(), cis, levels, duration, overload, outFile, profile, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&cis, "cis", 5000, "approximate number of CIs in the generated estate")
	f.StringVar(&clients, "clients", "1,8,32", "comma-separated concurrency levels")
	f.DurationVar(&duration, "duration", 5*time.Second, "how long each query is driven at each level")
	f.StringVar(&outFile, "out", "", "also write the report (Markdown) to this file")
	f.StringVar(&profile, "cpuprofile", "", "write a CPU profile of the measured requests (server and load generator, not the estate's loading) to this file, for go tool pprof")
	f.BoolVar(&overload, "overload", false, "drive a mix (9 cheap reads to 1 impact query) at rising concurrency (default 1,8,32,128,512) and report shed rates and memory")
	return cmd
}

func benchAPI(ctx context.Context, cis int, levels []int, d time.Duration, overload bool, outFile, profile string, stdout, stderr io.Writer) error {
	dir, err := os.MkdirTemp("", "skein-bench-api-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.Store.DataDir = dir
	var b strings.Builder
	err = runBenchServer(ctx, "embedded", cfg, nil, func(t bench.Target) error {
		est := bench.Generate(cis, 1)
		ids, err := bench.LoadEstate(ctx, t.Store, est)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "bench api: estate of %d CIs, %d relationships loaded\n", len(est.CIs), len(est.Edges))
		var hv, vm string // the first of each: a mid and a typical start
		for _, c := range est.Typical {
			switch {
			case c.Label == "hypervisor" && hv == "":
				hv = string(ids[c.Index])
			case c.Label == "vm" && vm == "":
				vm = string(ids[c.Index])
			}
		}
		// Clients authenticate as a viewer, as they would in production;
		// the anonymous read (allowed on loopback) is the baseline that
		// shows what checking the token costs.
		tok, _, err := auth.Issue(ctx, t.Store, store.Actor{Name: "bench", Source: "api"}, "bench api", auth.Viewer, time.Now().Add(time.Hour))
		if err != nil {
			return err
		}
		if profile != "" {
			f, err := os.Create(profile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		gid := func(id string) string { return graph.CIGlobalID(store.ID(id)) }
		read := bench.APIQuery{Name: "simple read", Query: `query($id: ID!) { ci(id: $id) { id name class status owner } }`, Variables: map[string]any{"id": gid(string(ids[len(ids)/2]))}, Token: tok}
		anonRead := read
		anonRead.Name, anonRead.Token = "simple read, no token", ""
		const impactQuery = `query($ids: [ID!]!) { impactAnalysis(ciIds: $ids) { downCount degradedCount businessServices { ci { name } effect } } }`
		imp := bench.APIQuery{Name: "impact", Query: impactQuery, Variables: map[string]any{"ids": []any{gid(hv)}}, Token: tok}
		typical := bench.APIQuery{Name: "impact from a VM", Query: impactQuery, Variables: map[string]any{"ids": []any{gid(vm)}}, Token: tok}
		flags := ""
		if overload {
			flags = " --overload"
		}
		fmt.Fprintf(&b, "Command: `skein bench api%s --cis %d --clients %s --duration %s`, %s. Estate: %d CIs, %d relationships; embedded store; client and server in one process on loopback.\n\n",
			flags, cis, joinInts(levels), d, time.Now().UTC().Format("2006-01-02"), len(est.CIs), len(est.Edges))
		url := t.URL + "graphql"
		if overload {
			rows, err := bench.RunOverload(ctx, bench.OverloadConfig{URL: url, Clients: levels, Duration: d, Cheap: read, Expensive: imp,
				ExpensiveShare: 0.1, RSS: bench.ResidentBytes, Log: stderr})
			if err != nil {
				return err
			}
			bench.OverloadMarkdown(&b, rows)
			return nil
		}
		// A hub's dependents, as the whole list and as a summary with a
		// page: what the page saves a client that shows a hub.
		hub := map[string]any{"id": gid(string(ids[est.Hubs[0].Index]))}
		hubList := bench.APIQuery{Name: "hub dependents, list", Query: `query($id: ID!) { ci(id: $id) { dependents(depth: 8) { nodes { depth ci { name class } } } } }`, Variables: hub, Token: tok}
		hubPage := bench.APIQuery{Name: "hub dependents, page", Query: `query($id: ID!) { ci(id: $id) { dependents(depth: 8) { totalCount countsByDepth { depth count } countsByClass { class count } nodesPage(first: 50) { edges { node { depth ci { name class } } } } } } }`, Variables: hub, Token: tok}
		rows, err := bench.RunAPI(ctx, bench.APIConfig{URL: url, Clients: levels, Duration: d, Log: stderr, Queries: []bench.APIQuery{anonRead, read, typical, imp, hubList, hubPage}})
		if err != nil {
			return err
		}
		bench.APIMarkdown(&b, rows)
		return nil
	})
	if err != nil {
		return err
	}
	return report(stdout, outFile, b.String())
}

func waitReady(ctx context.Context, url string) error {
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("server not ready at %s", url)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}
