package main

import (
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestTokensNeverInClear uses tokens every way a client can (good, revoked,
// expired, forged, malformed; in reads, writes and failing requests; made by
// the API and by the CLI's code path), with the log at debug level, then
// searches the logs and the whole store, on both backends, for any token or
// its secret part.
func TestTokensNeverInClear(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg := mk(t)
			cfg.Log.Level = "debug"
			var logs lockedBuffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			a, err := newApp(t.Context(), cfg, logger)
			require.NoError(t, err)
			srv := httptest.NewServer(a.Handler)
			defer func() { srv.Close(); a.Close() }()

			actor := store.Actor{Name: "leak-test", Source: "api"}
			admin, adminRec, err := auth.Issue(t.Context(), a.Store, actor, "leak admin", auth.Admin, time.Time{})
			require.NoError(t, err)
			secrets := []string{admin}

			// A token made through the API; its answer is the one place it
			// appears.
			body, _ := json.Marshal(map[string]any{"query": `mutation { createAPIToken(input: {name: "made by api", role: ENGINEER}) { token apiToken { tokenId } } }`})
			r := postAs(t, srv.URL, admin, string(body))
			require.Empty(t, r.Errors, r.raw)
			viaAPI := get(r.Data, "createAPIToken", "token").(string)
			secrets = append(secrets, viaAPI)

			revoked, rec, err := auth.Issue(t.Context(), a.Store, actor, "revoked", auth.Viewer, time.Time{})
			require.NoError(t, err)
			body, _ = json.Marshal(map[string]any{"query": `mutation($id: String!) { revokeAPIToken(input: {tokenId: $id}) { apiToken { active } } }`,
				"variables": map[string]any{"id": rec.ID}})
			require.Empty(t, postAs(t, srv.URL, admin, string(body)).Errors)
			expired, expRec := auth.NewToken("expired", auth.Admin, time.Now().Add(-time.Minute))
			require.NoError(t, a.Store.CreateToken(t.Context(), actor, expRec))
			forged := viaAPI[:len(viaAPI)-43] + strings.Repeat("Q", 43)
			never, _ := auth.NewToken("never stored", auth.Admin, time.Time{})
			secrets = append(secrets, revoked, expired, forged, never)

			requests := []string{
				`{"query":"{ viewer { name } }"}`,
				`{"query":"mutation { upsertCIs(input: {items: [{class: \"Application\", attributes: {name: \"leak-app\"}}]}) { created } }"}`,
				`{"query":"mutation { deleteCI(input: {id: \"bad\"}) { deletedId } }"}`, // an INVALID error
				`{"query":"{ nope }"}`, // a validation error
				`{"query": `,           // malformed JSON
			}
			for _, tok := range secrets {
				for _, q := range requests {
					postAs(t, srv.URL, tok, q)
				}
			}
			logged := logs.String()
			require.Contains(t, logged, `"status":401`, "the refused requests were logged")
			assert.Contains(t, logged, `"token":"`+adminRec.ID+`"`, "access log lines name the token by its public ID")
			stored := storeDump(t, cfg)
			require.Contains(t, stored, "leak admin", "the dump holds the token records")
			for _, tok := range secrets {
				secret := tok[len(tok)-43:]
				assert.NotContains(t, logged, secret, "the log holds a token's secret")
				assert.NotContains(t, stored, secret, "the store holds a token's secret")
			}
		})
	}
}

// storeDump returns everything the configured store holds, as text: every
// file of the embedded store's directory, or every node and relationship
// of Neo4j with its properties.
func storeDump(t *testing.T, cfg config.Config) string {
	t.Helper()
	var out strings.Builder
	if cfg.Store.Kind == config.StoreEmbedded {
		require.NoError(t, filepath.WalkDir(cfg.Store.DataDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			out.Write(b)
			return err
		}))
		return out.String()
	}
	ctx := t.Context()
	drv, err := neo4j.NewDriverWithContext(cfg.Neo4j.URI, neo4j.BasicAuth(cfg.Neo4j.User, cfg.Neo4j.Password.Reveal(), ""))
	require.NoError(t, err)
	defer drv.Close(ctx)
	for _, q := range []string{"MATCH (n) RETURN labels(n), properties(n)", "MATCH ()-[r]->() RETURN type(r), properties(r)"} {
		res, err := neo4j.ExecuteQuery(ctx, drv, q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Neo4j.Database))
		require.NoError(t, err)
		for _, rec := range res.Records {
			b, err := json.Marshal(rec.Values)
			require.NoError(t, err)
			out.Write(b)
			out.WriteByte('\n')
		}
	}
	return out.String()
}
