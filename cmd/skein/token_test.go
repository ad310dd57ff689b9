package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/store"
)

// skeinCLI runs the skein command line in-process and returns its output.
func skeinCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var o, e bytes.Buffer
	err = run(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

// TestTokenCommands drives `skein token create | list | revoke` on an
// embedded store and checks what the store and the authenticator make of
// the result.
func TestTokenCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, errOut, err := skeinCLI(t, "token", "create", "--data-dir", dir, "--name", "vcenter discovery", "--role", "agent", "--expires", "30d")
	require.NoError(t, err, errOut)
	tok := strings.TrimSpace(out)
	require.Regexp(t, "^"+tokenPattern.String()+"$", tok, "stdout holds the token alone")
	id, _ := auth.ParseToken(tok)
	assert.Contains(t, errOut, "created token "+id)
	assert.Contains(t, errOut, "role agent")

	out, errOut, err = skeinCLI(t, "token", "create", "--data-dir", dir, "--name", "forever", "--role", "VIEWER", "--expires", "never", "--json")
	require.NoError(t, err, errOut)
	var created struct {
		Token  string
		Record map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	assert.Equal(t, "viewer", created.Record["role"])
	assert.Equal(t, "active", created.Record["state"])
	assert.NotContains(t, created.Record, "expires_at", "never expires")

	out, _, err = skeinCLI(t, "token", "list", "--data-dir", dir)
	require.NoError(t, err)
	assert.Contains(t, out, id)
	assert.Contains(t, out, "vcenter discovery")
	assert.NotContains(t, out, tok[len(tok)-43:], "lists never show secrets")

	out, _, err = skeinCLI(t, "token", "revoke", "--data-dir", dir, tok) // a whole token is accepted
	require.NoError(t, err)
	assert.Contains(t, out, "revoked "+id)
	out, _, err = skeinCLI(t, "token", "list", "--data-dir", dir, "--json")
	require.NoError(t, err)
	var listed []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	assert.Len(t, listed, 1, "revoked tokens are left out")
	out, _, err = skeinCLI(t, "token", "list", "--data-dir", dir, "--all", "--json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &listed))
	require.Len(t, listed, 2)
	assert.Equal(t, "revoked", listed[0]["state"])

	// The store agrees, and the revoked token no longer authenticates.
	cfg := config.Default()
	cfg.Store.DataDir = dir
	st, err := openStore(t.Context(), cfg)
	require.NoError(t, err)
	defer st.Close()
	rec, err := st.Token(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, "cli:", rec.CreatedBy[:4], "the CLI's actor names the OS user")
	assert.WithinDuration(t, time.Now().Add(30*24*time.Hour), rec.ExpiresAt, time.Minute)
	_, err = (&auth.Authenticator{Tokens: st}).Authenticate(t.Context(), "Bearer "+tok, "127.0.0.1:8080")
	assert.ErrorIs(t, err, auth.ErrUnauthenticated)
	_, err = (&auth.Authenticator{Tokens: st}).Authenticate(t.Context(), "Bearer "+created.Token, "127.0.0.1:8080")
	assert.NoError(t, err)
	h, err := st.History(t.Context(), store.TokenObject(id), store.PageRequest{})
	require.NoError(t, err)
	assert.Equal(t, 2, h.Total, "creation and revocation are audited")
}

func TestTokenCommandErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		args []string
		msg  string
	}{
		{[]string{"token", "create", "--name", "x", "--role", "root"}, "valid roles are viewer, agent, monitor, engineer, change_manager, admin"},
		{[]string{"token", "create", "--name", "x", "--role", "viewer", "--expires", "soon"}, "not a lifetime"},
		{[]string{"token", "create", "--name", "x", "--role", "viewer", "--expires", "2001-01-01"}, "must be in the future"},
		{[]string{"token", "create", "--name", " ", "--role", "viewer"}, "must not be blank"},
		{[]string{"token", "create", "--role", "viewer"}, `"name" not set`},
		{[]string{"token", "revoke", "nosuchtoken"}, "not found"},
		{[]string{"token", "revoke"}, "requires at least 1 arg"},
	}
	for _, tt := range tests {
		_, _, err := skeinCLI(t, append(tt.args, "--data-dir", dir)...)
		require.Error(t, err, "%v", tt.args)
		assert.Contains(t, err.Error(), tt.msg, "%v", tt.args)
	}
}

// TestTokenCreateSources: `skein token create --role agent --source nmap`
// binds the token to its discovery sources; reserved names and sources on
// other roles are refused.
func TestTokenCreateSources(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, errOut, err := skeinCLI(t, "token", "create", "--data-dir", dir, "--name", "nmap", "--role", "agent", "--source", "nmap", "--source", "nmap-dmz", "--json")
	require.NoError(t, err, errOut)
	var created struct{ Record map[string]any }
	require.NoError(t, json.Unmarshal([]byte(out), &created))
	assert.Equal(t, []any{"nmap", "nmap-dmz"}, created.Record["sources"])
	out, _, err = skeinCLI(t, "token", "list", "--data-dir", dir)
	require.NoError(t, err)
	assert.Contains(t, out, "nmap,nmap-dmz")

	for _, args := range [][]string{
		{"--role", "agent", "--source", "Import"},
		{"--role", "agent", "--source", "api"},
		{"--role", "viewer", "--source", "nmap"},
	} {
		_, _, err := skeinCLI(t, append([]string{"token", "create", "--data-dir", dir, "--name", "x"}, args...)...)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), "--source", args)
	}
}
