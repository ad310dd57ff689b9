package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/server"
)

func newServeCmd() *cobra.Command {
	var open bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Skein service: GraphQL API, Playground, health and metrics",
		Long: `Runs the Skein service. With no configuration it uses the embedded store in
./skein-data (created if missing) and listens on http://127.0.0.1:8080, where the
Playground is. --store neo4j (with --neo4j-uri, --neo4j-user, --neo4j-password) uses Neo4j
instead. Every setting can also come from skein.yaml or SKEIN_* environment variables;
see docs/CONFIGURATION.md.`,
		Example: `  skein serve --demo --open
  skein serve --addr 0.0.0.0:8080 --data-dir /var/lib/skein
  SKEIN_NEO4J_PASSWORD=... skein serve --store neo4j --neo4j-uri bolt://db:7687`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags())
			if err != nil {
				return err
			}
			logger := cfg.Log.NewLogger(cmd.ErrOrStderr())
			logger.Info("starting skein", "version", versionString(), "config", cfg)
			a, err := newApp(cmd.Context(), cfg, logger)
			if err != nil {
				return err
			}
			defer a.Close()
			if anonymousRead(cfg) {
				logger.Info("auth: requests without an API token may read, never write (loopback listener, auth.anonymous_read)")
			} else {
				logger.Info("auth: every API request needs a token (Authorization: Bearer skn_...)")
			}
			fragment := ""
			if cfg.Demo {
				if err := seedDemo(cmd.Context(), a, cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("demo: %w", err)
				}
				tok, err := demoToken(cmd.Context(), a, cmd.OutOrStdout(), cfg.Server.Addr)
				if err != nil {
					return fmt.Errorf("demo token: %w", err)
				}
				fragment = "#token=" + tok
			}
			if open {
				go openPlayground(cmd.Context(), cfg.Server.Addr, fragment, cmd.ErrOrStderr())
			}
			return server.Run(cmd.Context(), a.Handler, cfg.Server, logger)
		},
	}
	config.RegisterServeFlags(cmd.Flags())
	cmd.Flags().BoolVar(&open, "open", false, "open the Playground in a web browser once the service is ready")
	return cmd
}
