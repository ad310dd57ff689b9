package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLimitKeysDefaults(t *testing.T) {
	c := Default()
	assert.Equal(t, 100.0, c.Server.RateLimit)
	assert.Equal(t, 200, c.Server.RateBurst)
	assert.Equal(t, 256, c.Server.MaxInFlight)
	assert.Empty(t, c.Server.CORSAllowedOrigins)
	assert.Equal(t, 30, c.GraphQL.MaxAliases)
	assert.Equal(t, 10, c.GraphQL.MaxOperations)
	assert.Contains(t, c.String(), "server.rate_limit: 100\n")
	assert.Contains(t, c.String(), "server.cors_allowed_origins: \n")
}

func TestLimitKeysFromEnvironmentAndFile(t *testing.T) {
	dir := isolate(t)
	t.Setenv("SKEIN_SERVER_RATE_LIMIT", "2.5")
	t.Setenv("SKEIN_SERVER_CORS_ALLOWED_ORIGINS", " https://a.example.com, https://*.b.example.com ,")
	c, err := Load(nil)
	require.NoError(t, err)
	assert.Equal(t, 2.5, c.Server.RateLimit)
	assert.Equal(t, []string{"https://a.example.com", "https://*.b.example.com"}, c.Server.CORSAllowedOrigins)

	isolate(t)
	path := writeFile(t, filepath.Join(dir, "limits.yaml"), `
server:
  rate_limit: 7
  rate_burst: 3
  max_in_flight: 0
  cors_allowed_origins: ["http://localhost:3000"]
graphql:
  max_aliases: 5
  max_operations: 2
  max_selections: 300
`)
	t.Setenv(FileEnv, path)
	c, err = Load(nil)
	require.NoError(t, err)
	assert.Equal(t, 7.0, c.Server.RateLimit)
	assert.Equal(t, 3, c.Server.RateBurst)
	assert.Equal(t, 0, c.Server.MaxInFlight)
	assert.Equal(t, []string{"http://localhost:3000"}, c.Server.CORSAllowedOrigins)
	assert.Equal(t, 5, c.GraphQL.MaxAliases)
	assert.Equal(t, 2, c.GraphQL.MaxOperations)
	assert.Equal(t, 300, c.GraphQL.MaxSelections)
}

func TestLimitKeysRefuseBadValues(t *testing.T) {
	isolate(t)
	t.Setenv("SKEIN_SERVER_RATE_LIMIT", "fast")
	_, err := Load(nil)
	p := problems(t, err)
	require.Contains(t, p, "server.rate_limit")
	assert.Equal(t, "SKEIN_SERVER_RATE_LIMIT", p["server.rate_limit"].Source)
	require.NoError(t, os.Unsetenv("SKEIN_SERVER_RATE_LIMIT"))

	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"rate limit off needs no burst", func(c *Config) { c.Server.RateLimit, c.Server.RateBurst = 0, 0 }, nil},
		{"negative rate", func(c *Config) { c.Server.RateLimit = -1 }, []string{"server.rate_limit"}},
		{"zero burst", func(c *Config) { c.Server.RateBurst = 0 }, []string{"server.rate_burst"}},
		{"negative in-flight", func(c *Config) { c.Server.MaxInFlight = -1 }, []string{"server.max_in_flight"}},
		{"good origins", func(c *Config) {
			c.Server.CORSAllowedOrigins = []string{"*", "https://app.example.com", "http://localhost:3000", "https://*.example.com"}
		}, nil},
		{"origin with a trailing slash", func(c *Config) { c.Server.CORSAllowedOrigins = []string{"https://app.example.com/"} }, []string{"server.cors_allowed_origins"}},
		{"origin without a scheme", func(c *Config) { c.Server.CORSAllowedOrigins = []string{"app.example.com"} }, []string{"server.cors_allowed_origins"}},
		{"zero aliases and operations", func(c *Config) { c.GraphQL.MaxAliases, c.GraphQL.MaxOperations = 0, 0 },
			[]string{"graphql.max_aliases", "graphql.max_operations"}},
		{"zero selections", func(c *Config) { c.GraphQL.MaxSelections = 0 }, []string{"graphql.max_selections"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == nil {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, tt.want, keysOf(problems(t, err)))
		})
	}
}
