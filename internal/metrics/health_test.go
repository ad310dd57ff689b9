package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCMDBHealth checks that a refresh replaces the figures: a class that
// has no CIs any more loses its series.
func TestCMDBHealth(t *testing.T) {
	reg := prometheus.NewRegistry()
	h, err := NewCMDBHealth(reg)
	require.NoError(t, err)
	_, err = NewCMDBHealth(reg)
	assert.Error(t, err, "registered twice")

	n, err := testutil.GatherAndCount(reg, "skein_cmdb_cis")
	require.NoError(t, err)
	assert.Zero(t, n, "no series before the first refresh")

	h.Set(HealthFigures{Classes: []ClassHealth{{Class: "Server", CIs: 4, Completeness: 0.75, Incomplete: 1, Orphans: 2, Stale: 3}, {Class: "Database", CIs: 1, Completeness: 1}},
		DuplicatePairs: 2, IdentityConflicts: 1, At: time.Unix(1700000000, 0), RefreshDuration: time.Second})
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP skein_cmdb_completeness_ratio Share of a class's CIs that have every required and recommended attribute (0 to 1).
# TYPE skein_cmdb_completeness_ratio gauge
skein_cmdb_completeness_ratio{class="Database"} 1
skein_cmdb_completeness_ratio{class="Server"} 0.75
# HELP skein_cmdb_duplicate_pairs Pairs of CIs suspected to be one thing: near names and a shared identifying value.
# TYPE skein_cmdb_duplicate_pairs gauge
skein_cmdb_duplicate_pairs 2
# HELP skein_cmdb_orphans CIs of a class that relationships are expected of but that have no relationship with another CI.
# TYPE skein_cmdb_orphans gauge
skein_cmdb_orphans{class="Database"} 0
skein_cmdb_orphans{class="Server"} 2
`), "skein_cmdb_completeness_ratio", "skein_cmdb_duplicate_pairs", "skein_cmdb_orphans"))

	h.Set(HealthFigures{Classes: []ClassHealth{{Class: "Server", CIs: 4}}})
	assert.Equal(t, 1, testutil.CollectAndCount(h.cis), "Database is gone")
	h.Failed()
	assert.Equal(t, 1.0, testutil.ToFloat64(h.failures))
	var none *CMDBHealth
	none.Set(HealthFigures{})
	none.Failed()
}
