package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/bench"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/server"
	"github.com/skein-cmdb/skein/internal/store"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

// discoveryFlags are the flags `skein bench upsert` and `skein bench
// import` share.
type discoveryFlags struct {
	cis, writers int
	neo          neo4jFlags
	reset        bool
	outFile      string
}

func (d *discoveryFlags) register(cmd *cobra.Command, defaultCIs int) {
	f := cmd.Flags()
	f.IntVar(&d.cis, "cis", defaultCIs, "CIs the first load creates (half with one writer, half with --writers)")
	f.IntVar(&d.writers, "writers", 16, "concurrent writers of the parallel phases (1 to 256)")
	d.neo.register(f)
	f.BoolVar(&d.reset, "reset", false, "delete everything in the Neo4j database first (otherwise it must hold no CI)")
	f.StringVar(&d.outFile, "out", "", "also write the report (Markdown) to this file")
}

// check returns every problem of the shared flags and of the command's
// own (from outside), at once, as one error of the command named.
func (d *discoveryFlags) check(command string, own ...string) error {
	bad := slices.Concat(outside("cis", d.cis, 100, 5_000_000, ""), outside("writers", d.writers, 1, 256, ""), own)
	if len(bad) > 0 {
		return fmt.Errorf("bench %s: %s", command, strings.Join(bad, "; "))
	}
	return nil
}

// outside names the problem of flag's value v when it is not between lo
// and hi (unit follows hi in the message), or nothing.
func outside(flag string, v, lo, hi int, unit string) []string {
	if v < lo || v > hi {
		return []string{fmt.Sprintf("--%s must be between %d and %d%s, got %d", flag, lo, hi, unit, v)}
	}
	return nil
}

func newBenchUpsertCmd() *cobra.Command {
	var (
		d        discoveryFlags
		batchCIs int
	)
	cmd := &cobra.Command{
		Use:   "upsert",
		Short: "Benchmark discovery batches (POST /api/v1/batches) with 1 and 16 writers, embedded store and Neo4j side by side",
		Long: `Starts Skein in this process on each backend in turn (the embedded store in a temporary
directory, then Neo4j), listening on a loopback port, and sends it discovery batches as
skein-agent does (its pusher, an agent token, POST /api/v1/batches): hosts, each a LinuxServer
(identified by serial number on even hosts, by name and DNS domain on odd ones) with three
application instances (identified by name and host), four relationships a host (RUNS_ON with
ends by batch ref and by identity, DEPENDS_ON to another host's instance by identity).

Phases, each with one writer (half the hosts) and --writers (the other half): a first load
(every CI and relationship created), the same batches again (every one unchanged: discovery's
steady state), the same batches once more as scoped sync sends them (each batch a scope, in a
run completed at the end: the scopes' membership recorded and each scope synchronised), then
--writers agents reporting a quarter as many new hosts, each host by two
sources in batches cut differently and sent side by side. Prints CIs and relationships per
second, and the CIs, relationships and duplicates in each store afterwards; a duplicate, or a
CI or relationship not answered as the phase expects, is an error.

Neo4j comes from --neo4j-uri or NEO4J_URI (with NEO4J_USER, NEO4J_PASSWORD). The Neo4j
database must hold no CI unless --reset is given, which deletes everything in it.`,
		Example: `  skein bench upsert --cis 20000 --no-neo4j
  tools/neo4j/with-neo4j.sh skein bench upsert --cis 20000 --out upsert.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := d.check("upsert", outside("batch", batchCIs, 4, 1000, " CIs")...); err != nil {
				return err
			}
			return runDiscoveryBench(cmd, &d, fmt.Sprintf("upsert --cis %d --batch %d --writers %d", d.cis, batchCIs, d.writers), bench.UpsertSources,
				func(t bench.Target) (*bench.UpsertReport, error) {
					return bench.RunUpsert(cmd.Context(), t, bench.UpsertConfig{CIs: d.cis, BatchCIs: batchCIs, Writers: d.writers, Log: cmd.ErrOrStderr()})
				}, bench.UpsertMarkdown)
		},
	}
	d.register(cmd, 20000)
	cmd.Flags().IntVar(&batchCIs, "batch", 200, "CIs per discovery batch (whole hosts of 4 CIs; 4 to 1000)")
	return cmd
}

func newBenchImportCmd() *cobra.Command {
	var (
		d     discoveryFlags
		chunk int
	)
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Benchmark the streaming import (POST /api/v1/import) with 1 and 16 streams, embedded store and Neo4j side by side",
		Long: `Starts Skein in this process on each backend in turn (the embedded store in a temporary
directory, then Neo4j), listening on a loopback port, writes NDJSON files as docs/PERFORMANCE.md's
generator does (LinuxServers identified by serial number, ApplicationInstances identified by
name and host, RUNS_ON relationships naming both ends by identity) and streams them to POST
/api/v1/import: one stream over the first half of the hosts, then --writers concurrent streams
over disjoint parts of the other half. Prints lines (and CIs and relationships) per second,
and the memory of this process (server and client are one process) during each phase. A line
not created is an error.

Neo4j comes from --neo4j-uri or NEO4J_URI (with NEO4J_USER, NEO4J_PASSWORD). The Neo4j
database must hold no CI unless --reset is given, which deletes everything in it.`,
		Example: `  skein bench import --cis 20000 --no-neo4j
  tools/neo4j/with-neo4j.sh skein bench import --cis 20000 --out import.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := d.check("import", outside("chunk", chunk, 1, 5000, " lines")...); err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "skein-bench-import-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			return runDiscoveryBench(cmd, &d, fmt.Sprintf("import --cis %d --chunk %d --writers %d", d.cis, chunk, d.writers), []string{bench.ImportSource},
				func(t bench.Target) (*bench.ImportReport, error) {
					return bench.RunImport(cmd.Context(), t, bench.ImportConfig{CIs: d.cis, Writers: d.writers, Chunk: chunk, Dir: dir, Log: cmd.ErrOrStderr()})
				}, bench.ImportMarkdown)
		},
	}
	d.register(cmd, 20000)
	cmd.Flags().IntVar(&chunk, "chunk", 500, "lines a transaction of the import takes (1 to 5000)")
	return cmd
}

// runDiscoveryBench measures each backend the flags name (see
// eachBenchServer) and prints the reports, headed by the command line
// (after "skein bench "), the date and the machine.
func runDiscoveryBench[R any](cmd *cobra.Command, d *discoveryFlags, command string, sources []string,
	measure func(bench.Target) (R, error), markdown func(io.Writer, []R)) error {
	var reps []R
	err := eachBenchServer(cmd.Context(), d.neo.config(cmd.ErrOrStderr()), d.reset, sources, func(t bench.Target) error {
		rep, err := measure(t)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
		return nil
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Command: `skein bench %s`, %s. %s.\n\n", command, time.Now().UTC().Format("2006-01-02"), bench.Machine())
	markdown(&b, reps)
	return report(cmd.OutOrStdout(), d.outFile, b.String())
}

// report prints a Markdown report, and writes it to outFile too if set.
func report(stdout io.Writer, outFile, md string) error {
	if outFile != "" {
		if err := os.WriteFile(outFile, []byte(md), 0o644); err != nil {
			return err
		}
	}
	_, err := fmt.Fprint(stdout, md)
	return err
}

// eachBenchServer runs fn against Skein started in this process on the
// embedded store (in a temporary directory), then, if neo is set, on that
// Neo4j (emptied first with reset; it must hold no CI otherwise); one
// server at a time, so that they do not share the cores. Each has an
// agent token bound to sources.
func eachBenchServer(ctx context.Context, neo *neo4jstore.Config, reset bool, sources []string, fn func(bench.Target) error) error {
	if neo != nil {
		// Before any measurement: a non-empty database is refused at once.
		if err := bench.PrepareNeo4j(ctx, *neo, reset); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp("", "skein-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.Store.DataDir = dir
	if err := runBenchServer(ctx, "embedded", cfg, sources, fn); err != nil {
		return err
	}
	if neo == nil {
		return nil
	}
	cfg = config.Default()
	cfg.Store.Kind = config.StoreNeo4j
	cfg.Neo4j.URI, cfg.Neo4j.User, cfg.Neo4j.Password, cfg.Neo4j.Database = neo.URI, neo.User, config.Secret(neo.Password), neo.Database
	cfg.Neo4j.QueryTimeout = neo.QueryTimeout
	return runBenchServer(ctx, "neo4j", cfg, sources, fn)
}

// runBenchServer starts Skein (newApp, server.Serve on a loopback port)
// with cfg, quiet and without periodic work, runs fn against it and stops
// it. With sources, the target carries an agent token bound to them.
func runBenchServer(ctx context.Context, backend string, cfg config.Config, sources []string, fn func(bench.Target) error) error {
	cfg.Log.Level = "error"
	cfg.Server.RateLimit = 0 // a load generator on one address is the abuse the limit stops
	cfg.ITSM.BreachCheckInterval = 0
	cfg.Discovery.StaleCheckInterval = 0
	cfg.Health.RefreshInterval = 0
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	var tok string
	if len(sources) > 0 {
		if tok, _, err = auth.IssueBound(ctx, a.Store, store.Actor{Name: "bench", Source: "api"}, "bench "+backend, auth.Agent, time.Now().Add(24*time.Hour), sources); err != nil {
			return fmt.Errorf("issue the agent token: %w", err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srvCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.Serve(srvCtx, ln, a.Handler, cfg.Server, logger) }()
	base := server.URL(ln.Addr())
	err = waitReady(ctx, base+"readyz")
	if err == nil {
		err = fn(bench.Target{Backend: backend, URL: base, Token: tok, Store: a.Store})
	}
	stop()
	if serr := <-done; err == nil && serr != nil {
		err = fmt.Errorf("%s server: %w", backend, serr)
	}
	return err
}
