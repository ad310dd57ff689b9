package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
)

// TestRestartKeepsData: the embedded store in a data directory survives a
// restart of the service, with its model extensions, and --demo does not
// seed a store that already has data.
func TestRestartKeepsData(t *testing.T) {
	cfg := config.Default()
	cfg.Store.DataDir = t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	start := func() (*app, *httptest.Server) {
		a, err := newApp(context.Background(), cfg, logger)
		require.NoError(t, err)
		srv := httptest.NewServer(a.Handler)
		useToken(t, srv.URL, issueToken(t, a, "restart-test", auth.Admin))
		return a, srv
	}
	a, srv := start()
	var out bytes.Buffer
	require.NoError(t, seedDemo(t.Context(), a, &out))
	assert.Contains(t, out.String(), "demo estate loaded")
	before := ok(t, srv.URL, `{ cis(first: 1) { totalCount } }`, nil)
	ok(t, srv.URL, `mutation { registerCIClass(input: {name: "Printer", parent: "CI", identificationRules: [["name"]]}) { ciClass { name } } }`, nil)
	ok(t, srv.URL, upsertMutation, map[string]any{"in": map[string]any{"items": []any{item("Printer", map[string]any{"name": "prn-1"})}}})
	srv.Close()
	require.NoError(t, a.Close())

	a, srv = start()
	defer func() { srv.Close(); a.Close() }()
	out.Reset()
	require.NoError(t, seedDemo(t.Context(), a, &out))
	assert.Contains(t, out.String(), "not empty", "a store with data is not seeded again")
	after := ok(t, srv.URL, `{ cis(first: 1) { totalCount } p: cis(filter: {class: "Printer"}) { edges { node { name class } } } }`, nil)
	assert.Equal(t, get(before, "cis", "totalCount").(float64)+1, get(after, "cis", "totalCount"))
	assert.Equal(t, "prn-1", get(after, "p", "edges", 0, "node", "name"), "the registered class and its CI survived")
}
