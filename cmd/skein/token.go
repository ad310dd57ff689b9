package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/store"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens",
		Long: `Manages the API tokens that clients send as "Authorization: Bearer <token>".

Each token has a role (viewer, agent, monitor, engineer, change_manager, admin; see
docs/SECURITY.md), a name saying whose or what it is, and an expiry. Skein stores only
a hash of each token: the token is printed once, by 'token create', and cannot be
shown again. The store is chosen as for 'skein serve' (--store, --data-dir, --neo4j-*,
skein.yaml or SKEIN_* variables). The embedded store can be opened by one process at a
time: while 'skein serve' runs on it, use the createAPIToken and revokeAPIToken
mutations with an admin token instead.`,
	}
	cmd.AddCommand(newTokenCreateCmd(), newTokenListCmd(), newTokenRevokeCmd())
	return cmd
}

// cliActor is the audit actor of token commands: the operating-system user.
func cliActor() store.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return store.Actor{Name: "cli:" + name, Source: "cli"}
}

// withTokenStore opens the configured store, runs fn, and closes it.
func withTokenStore(cmd *cobra.Command, fn func(st store.Store) error) error {
	cfg, err := config.Load(cmd.Flags())
	if err != nil {
		return err
	}
	st, err := openStore(cmd.Context(), cfg)
	if err != nil {
		if cfg.Store.Kind == config.StoreEmbedded && errors.Is(err, store.ErrUnavailable) {
			return fmt.Errorf("open the embedded store: %w\n(if 'skein serve' is running on it, stop it or use the createAPIToken / revokeAPIToken mutations)", err)
		}
		return fmt.Errorf("open %s store: %w", cfg.Store.Kind, err)
	}
	defer st.Close()
	return fn(st)
}

func newTokenCreateCmd() *cobra.Command {
	var name, role, expires string
	var sources []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE [--expires 90d] [--source NAME...]",
		Short: "Create an API token and print it (once)",
		Long: `Creates an API token and prints it on standard output; it cannot be shown again.
--expires takes a number of days, hours or minutes (90d, 12h, 30m), a date (2027-03-31),
an RFC 3339 time, or "never"; the default is 90d. An agent token is bound to the discovery
sources given with --source (one or more; the first is its default) and may report as those
only; without --source it reports as "agent". api, import, demo and cli are reserved.`,
		Example: `  skein token create --name vcenter-discovery --role agent --source vcenter --expires 180d
  skein token create --name alice --role engineer --data-dir /var/lib/skein
  TOKEN=$(skein token create --name ci-pipeline --role viewer --expires 30d)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %w", err)
			}
			if _, err := store.CleanTokenName(name); err != nil {
				return fmt.Errorf("--%w", err)
			}
			exp, err := auth.ParseExpiry("expires", expires, time.Now())
			if err != nil {
				return fmt.Errorf("--%w", err)
			}
			if err := auth.CheckTokenSources(r, sources); err != nil {
				return fmt.Errorf("--source: %w", err)
			}
			if err := (store.APIToken{ID: "x", Name: name, Role: string(r), Hash: make([]byte, 32), Sources: sources}).Check(); err != nil {
				return fmt.Errorf("--source: %w", err)
			}
			return withTokenStore(cmd, func(st store.Store) error {
				tok, rec, err := auth.IssueBound(cmd.Context(), st, cliActor(), name, r, exp, sources)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), map[string]any{"token": tok, "record": tokenJSON(rec, time.Now())})
				}
				fmt.Fprintln(cmd.OutOrStdout(), tok)
				fmt.Fprintf(cmd.ErrOrStderr(), "created token %s (%s, role %s, %s); it is shown only this once\n",
					rec.ID, rec.Name, rec.Role, expiryText(rec.ExpiresAt))
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "whose or what the token is (required)")
	cmd.Flags().StringVar(&role, "role", "", "viewer, agent, monitor, engineer, change_manager or admin (required)")
	cmd.Flags().StringVar(&expires, "expires", "90d", "lifetime (90d, 12h), date, RFC 3339 time, or never")
	cmd.Flags().StringArrayVar(&sources, "source", nil, "agent tokens: a discovery source the token may report as (repeat for several; the first is the default)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the token and its record as JSON")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("role")
	config.RegisterServeFlags(cmd.Flags())
	return cmd
}

func newTokenListCmd() *cobra.Command {
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTokenStore(cmd, func(st store.Store) error {
				toks, err := st.Tokens(cmd.Context())
				if err != nil {
					return err
				}
				now := time.Now()
				var shown []store.APIToken
				for _, t := range toks {
					if all || t.Active(now) {
						shown = append(shown, t)
					}
				}
				if asJSON {
					out := make([]map[string]any, len(shown))
					for i, t := range shown {
						out[i] = tokenJSON(t, now)
					}
					return writeJSON(cmd.OutOrStdout(), out)
				}
				return writeTokenTable(cmd.OutOrStdout(), shown, now)
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include revoked and expired tokens")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	config.RegisterServeFlags(cmd.Flags())
	return cmd
}

func newTokenRevokeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke TOKEN_ID...",
		Short: "Revoke API tokens by ID",
		Long: `Revokes tokens by their ID (the part after "skn_" up to the second underscore, as
'token list' shows it). A whole token is accepted too. Requests carrying a revoked token
are refused from then on.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withTokenStore(cmd, func(st store.Store) error {
				for _, a := range args {
					id := a
					if tid, ok := auth.ParseToken(a); ok {
						id = tid
					}
					t, err := st.RevokeToken(cmd.Context(), cliActor(), id)
					if err != nil {
						return fmt.Errorf("revoke %s: %w", id, err)
					}
					fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%s) at %s\n", t.ID, t.Name, t.RevokedAt.Format(time.RFC3339))
				}
				return nil
			})
		},
	}
	config.RegisterServeFlags(cmd.Flags())
	return cmd
}

func expiryText(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.UTC().Format(time.RFC3339)
}

func tokenState(t store.APIToken, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.Active(now):
		return "expired"
	}
	return "active"
}

func tokenJSON(t store.APIToken, now time.Time) map[string]any {
	m := map[string]any{
		"id": t.ID, "name": t.Name, "role": t.Role, "state": tokenState(t, now),
		"created_at": t.CreatedAt.UTC().Format(time.RFC3339), "created_by": t.CreatedBy,
	}
	if !t.ExpiresAt.IsZero() {
		m["expires_at"] = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if !t.RevokedAt.IsZero() {
		m["revoked_at"] = t.RevokedAt.UTC().Format(time.RFC3339)
	}
	if len(t.Sources) > 0 {
		m["sources"] = t.Sources
	}
	return m
}

func writeTokenTable(w io.Writer, toks []store.APIToken, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tSOURCES\tSTATE\tCREATED\tEXPIRES\tCREATED BY")
	for _, t := range toks {
		exp := "never"
		if !t.ExpiresAt.IsZero() {
			exp = t.ExpiresAt.UTC().Format(time.DateOnly)
		}
		sources := "-"
		if len(t.Sources) > 0 {
			sources = strings.Join(t.Sources, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, strings.ReplaceAll(t.Name, "\t", " "), t.Role, sources,
			tokenState(t, now), t.CreatedAt.UTC().Format(time.DateOnly), exp, t.CreatedBy)
	}
	return tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
