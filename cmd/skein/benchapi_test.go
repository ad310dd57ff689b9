package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBenchAPI runs `skein bench api` briefly on a small estate: every
// query has its row for each client count, answered without an error (an
// impact query on a CI the estate lacks would be all errors).
func TestBenchAPI(t *testing.T) {
	var out strings.Builder
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	require.NoError(t, benchAPI(t.Context(), 500, []int{1, 2}, 300*time.Millisecond, false, "", prof, &out, io.Discard))
	data, err := os.ReadFile(prof)
	require.NoError(t, err)
	require.Greater(t, len(data), 2)
	assert.Equal(t, []byte{0x1f, 0x8b}, data[:2], "--cpuprofile writes a profile (gzipped, as pprof writes them)")
	rep := out.String()
	for _, q := range []string{"simple read, no token", "simple read", "impact from a VM", "impact", "hub dependents, list", "hub dependents, page"} {
		for _, clients := range []string{"1", "2"} {
			m := regexp.MustCompile(`(?m)^\| ` + regexp.QuoteMeta(q) + ` \| ` + clients + ` \| (\d+) \| (\d+) \|`).FindStringSubmatch(rep)
			if assert.Len(t, m, 3, "%s at %s clients: %s", q, clients, rep) {
				assert.NotEqual(t, "0", m[1], "%s at %s clients: some requests", q, clients)
				assert.Equal(t, "0", m[2], "%s at %s clients: no errors", q, clients)
			}
		}
	}
}
