package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/skein-cmdb/skein/internal/config"
)

func newSeedCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "seed --demo",
		Short: "Load the bundled demo estate into an empty store",
		Long: `Loads the bundled demo estate into the store and exits: a small enterprise of a few
hundred configuration items in two datacenters (FRA1 and DUB1), from routers, firewalls,
switches and storage through vSphere and Kubernetes clusters, load balancers and
PostgreSQL/MySQL databases with replicas, to ten business services (Online Shop, Payments,
Customer Portal, Email, HR, Payroll, Data Warehouse, Identity, Logistics, Support Desk)
with owners and support groups; and a small service desk (five people, a CAB) with its
records: open incidents, a known error, a change that explains an incident and two changes
whose windows conflict, and a dozen published knowledge articles. docs/API.md and docs/ITSM.md walk through it with example queries.

The estate is loaded only into an empty store; a store that holds any CI is left
untouched. The store is chosen as for 'skein serve' (--store, --data-dir, --neo4j-*,
skein.yaml or SKEIN_* variables). The embedded store can be opened by one process at a
time: stop 'skein serve' first, or use 'skein serve --demo', which seeds at start-up.`,
		Example: `  skein seed --demo
  skein seed --demo --data-dir /tmp/skein-demo && skein serve --data-dir /tmp/skein-demo
  SKEIN_NEO4J_PASSWORD=... skein seed --demo --store neo4j --neo4j-uri bolt://localhost:7687`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cmd.Flags())
			if err != nil {
				return err
			}
			if !cfg.Demo {
				_ = cmd.Help()
				return errors.New("nothing to seed: pass --demo to load the demo estate")
			}
			logger := cfg.Log.NewLogger(cmd.ErrOrStderr())
			a, err := newApp(cmd.Context(), cfg, logger)
			if err != nil {
				return err
			}
			defer a.Close()
			return seedDemo(cmd.Context(), a, cmd.OutOrStdout())
		},
	}
	config.RegisterServeFlags(cmd.Flags())
	return cmd
}
