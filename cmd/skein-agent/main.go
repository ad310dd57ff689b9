// Command skein-agent is Skein's discovery agent: it runs the discovery
// sources its configuration file lists and posts what they report to a
// Skein server (docs/DISCOVERY.md). All of its logic lives in
// discovery/agent; this command only reads flags and sets up logging.
//
// Exit codes: 0 when everything was sent and taken, 1 when a source failed
// or the server refused batches or items, 2 when the command line or the
// configuration is wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skein-cmdb/skein/discovery/agent"
)

// Exit codes.
const (
	exitOK        = 0
	exitFailed    = 1
	exitBadConfig = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "skein-agent:", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	os.Exit(exitCode(err))
}

// configError is a wrong command line or configuration: exit code 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ce *configError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ce):
		return exitBadConfig
	}
	return exitFailed
}

// run executes the command line args; tests call it to run the real wiring.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		configPath, logLevel, logFormat string
		once, dryRun                    bool
	)
	cmd := &cobra.Command{
		Use:   "skein-agent --config agent.yaml [--once] [--dry-run]",
		Short: "Skein's discovery agent: runs discovery sources and posts their batches to a Skein server",
		Long: `skein-agent runs the discovery sources its configuration file lists (ansible facts,
nmap reports and scans, Kubernetes manifests and clusters, this host) and posts
what they report to POST <server>/api/v1/batches, every interval or once.
docs/DISCOVERY.md describes the configuration.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return &configError{err}
			}
			return nil
		},
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configPath == "" {
				return &configError{errors.New("--config is required: the agent's configuration file")}
			}
			logger, err := newLogger(stderr, logLevel, logFormat)
			if err != nil {
				return &configError{err}
			}
			purpose := agent.ForPush
			if dryRun {
				purpose = agent.ForDryRun
			}
			cfg, err := agent.LoadConfig(configPath, purpose)
			if err != nil {
				return &configError{err}
			}
			opts := agent.RunnerOptions{Logger: logger}
			if dryRun {
				opts.DryRun = stdout
			}
			r, err := agent.New(cfg, opts)
			if err != nil {
				return &configError{fmt.Errorf("%s: %w", configPath, err)}
			}
			if once || dryRun {
				_, err = r.RunOnce(cmd.Context())
				return err
			}
			return r.Run(cmd.Context())
		},
	}
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "configuration file (YAML; see cmd/skein-agent/agent.example.yaml)")
	f.BoolVar(&once, "once", false, "run every source once and exit, whatever the configured interval")
	f.BoolVar(&dryRun, "dry-run", false, "collect once and print the batches as NDJSON on standard output; post nothing")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "text or json")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &configError{err} })
	cmd.SetArgs(args)
	return cmd.ExecuteContext(ctx)
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}
