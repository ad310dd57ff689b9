package neo4j

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSeenEncodings: sightings are written in the store's encoding (Unix
// nanoseconds) and read back exactly; those written before as RFC 3339
// strings still read; anything else is an error, not an empty map.
func TestSeenEncodings(t *testing.T) {
	at := time.Date(2026, 12, 3, 4, 5, 6, 789, time.UTC)
	want := map[string]time.Time{"vcenter": at, "attribute_link": at.Add(-time.Hour)}
	s := seenJSON(want)
	assert.NotContains(t, s, "2026-", "written as nanoseconds")
	got := map[string]time.Time{}
	require.NoError(t, decodeSeen(s, got))
	assert.Equal(t, want, got)

	old := map[string]time.Time{}
	require.NoError(t, decodeSeen(`{"vcenter":"2026-12-03T04:05:06.000000789Z"}`, old))
	assert.Equal(t, map[string]time.Time{"vcenter": at}, old)

	for _, bad := range []string{`{"vcenter":"yesterday"}`, `{"vcenter":true}`, `[1]`, `{`} {
		assert.Error(t, decodeSeen(bad, map[string]time.Time{}), bad)
	}
}
