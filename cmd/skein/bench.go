package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/skein-cmdb/skein/internal/bench"
	"github.com/skein-cmdb/skein/internal/impact"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Skein's speed",
	}
	cmd.AddCommand(newBenchGraphCmd(), newBenchAPICmd(), newBenchOpenProbeCmd(), newBenchBenchfmtCmd(),
		newBenchUpsertCmd(), newBenchImportCmd())
	return cmd
}

func newBenchGraphCmd() *cobra.Command {
	var (
		cfg     bench.Config
		neo     neo4jFlags
		outFile string
	)
	cmd := &cobra.Command{
		Use:   "graph",
		Short: "Benchmark the graph core: upserts and traversals, embedded store and Neo4j side by side",
		Long: `Generates a realistic estate of about --cis configuration items (business services,
applications, load balancers, instances, databases, VMs, hypervisors, clusters, switches,
shared DNS, directory and storage hubs; about 4.6 relationships per CI), loads it into the
embedded store and into Neo4j, and prints, for hub and typical CIs, the time of one
dependents traversal on a plain in-memory CSR (the floor), on the embedded store, on
Neo4j level by level and in one statement, and as two naive variable-length Cypher
queries, each as a ratio to the floor; the time of an impact analysis from the same CI on
each backend (summary and a first page of 50), as a ratio to the embedded traversal and to
the naive DISTINCT query, the two backends' counts by effect checked against each other;
plus identified upserts per second with 1 and 16 writers (on Neo4j beside a plain Cypher
MERGE of the same CIs on one key, whose nodes and constraint it deletes afterwards), and
the embedded store's open time and resident memory.

Neo4j comes from --neo4j-uri or NEO4J_URI (with NEO4J_USER, NEO4J_PASSWORD). The Neo4j
database must be empty unless --reset is given, which deletes everything in it.
'make bench' runs this against a throwaway Neo4j.`,
		Example: `  skein bench graph --cis 50000
  tools/neo4j/with-neo4j.sh skein bench graph --cis 50000 --out bench-50k.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.CIs < 100 || cfg.CIs > 5_000_000 {
				return fmt.Errorf("--cis must be between 100 and 5000000, got %d", cfg.CIs)
			}
			cfg.Neo4j = neo.config(cmd.ErrOrStderr())
			cfg.Log = cmd.ErrOrStderr()
			cfg.OpenProbe = openProbeSubprocess
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			var b strings.Builder
			fmt.Fprintf(&b, "Command: `skein bench graph --cis %d --seed %d`, %s.\n\n", cfg.CIs, cfg.Seed, time.Now().UTC().Format("2006-01-02"))
			rep.Markdown(&b)
			if outFile != "" {
				if err := os.WriteFile(outFile, []byte(b.String()), 0o644); err != nil {
					return err
				}
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.CIs, "cis", 50000, "approximate number of CIs in the generated estate")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the estate generator")
	f.IntVar(&cfg.Writers, "writers", 16, "concurrent writers for the parallel upsert phase")
	f.IntVar(&cfg.BatchSize, "batch", 1000, "CIs per upsert batch")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for the embedded store (default: a temporary directory, removed afterwards)")
	f.DurationVar(&cfg.NaiveTimeout, "naive-timeout", time.Minute, "time limit of each naive Cypher query")
	f.DurationVar(&cfg.ImpactTimeout, "impact-timeout", impact.DefaultTimeout, "time limit of each impact analysis (an analysis past it is reported as a timeout, as the API answers one)")
	neo.register(f)
	f.BoolVar(&cfg.Reset, "reset", false, "delete everything in the Neo4j database before loading")
	f.StringVar(&outFile, "out", "", "also write the report (Markdown) to this file")
	return cmd
}

// openProbeSubprocess measures opening the embedded store in a fresh skein
// process, so the figure is the store's alone, not the benchmark's.
func openProbeSubprocess(ctx context.Context, dir string) (bench.OpenStats, error) {
	exe, err := os.Executable()
	if err != nil {
		return bench.OpenStats{}, err
	}
	out, err := exec.CommandContext(ctx, exe, "bench", "open-probe", "--data-dir", dir).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return bench.OpenStats{}, fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	if err != nil {
		return bench.OpenStats{}, err
	}
	var st bench.OpenStats
	if err := json.Unmarshal(out, &st); err != nil {
		return bench.OpenStats{}, fmt.Errorf("open probe output: %w", err)
	}
	return st, nil
}

func newBenchOpenProbeCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "open-probe",
		Short:  "Open an embedded store and print the open time and resident memory as JSON",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := bench.OpenInProcess(cmd.Context(), dir)
			if err != nil {
				return err
			}
			return json.NewEncoder(cmd.OutOrStdout()).Encode(st)
		},
	}
	cmd.Flags().StringVar(&dir, "data-dir", "", "embedded store directory")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

func newBenchBenchfmtCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "benchfmt REPORT.md",
		Short: "Convert a report of 'skein bench graph' or 'skein bench api' into Go benchmark format, for benchstat",
		Long: `Reads a report written by 'skein bench graph --out REPORT.md' or 'skein bench api [--overload]
--out REPORT.md' (by this release or an earlier one) and prints each figure as a line of the
Go benchmark format, named by what identifies it (backend, phase, writers; start CI, the count
it reaches, engine; query and clients), so that
benchstat sets two releases' figures side by side. tools/bench/compare.sh does the whole
comparison. A report it cannot read is an error naming the line.`,
		Example: `  skein bench benchfmt old.md > old.txt && skein bench benchfmt new.md > new.txt
  go tool benchstat old.txt new.txt`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			return bench.Benchfmt(f, cmd.OutOrStdout())
		},
	}
}

// neo4jFlags are the benchmarks' flags naming the Neo4j server to
// measure, each defaulting to its environment variable.
type neo4jFlags struct {
	uri, user, password, database string
	none                          bool
}

func (n *neo4jFlags) register(f *pflag.FlagSet) {
	f.StringVar(&n.uri, "neo4j-uri", "", "Neo4j Bolt URI (default $NEO4J_URI)")
	f.StringVar(&n.user, "neo4j-user", "", "Neo4j user (default $NEO4J_USER)")
	f.StringVar(&n.password, "neo4j-password", "", "Neo4j password (default $NEO4J_PASSWORD; prefer the variable)")
	f.StringVar(&n.database, "neo4j-database", "", "Neo4j database (default $NEO4J_DATABASE or the server's default)")
	f.BoolVar(&n.none, "no-neo4j", false, "measure the embedded store only, even if NEO4J_URI is set")
}

// config returns the Neo4j server to measure, or nil (saying so on
// stderr) when there is none or --no-neo4j is given.
func (n *neo4jFlags) config(stderr io.Writer) *neo4jstore.Config {
	uri := firstNonEmpty(n.uri, os.Getenv("NEO4J_URI"))
	if uri == "" || n.none {
		fmt.Fprintln(stderr, "bench: no Neo4j (set NEO4J_URI or --neo4j-uri); measuring the embedded store only")
		return nil
	}
	return &neo4jstore.Config{URI: uri, User: firstNonEmpty(n.user, os.Getenv("NEO4J_USER")),
		Password: firstNonEmpty(n.password, os.Getenv("NEO4J_PASSWORD")), Database: firstNonEmpty(n.database, os.Getenv("NEO4J_DATABASE")),
		QueryTimeout: 10 * time.Minute}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
