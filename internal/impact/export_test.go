package impact

import "testing"

// SetRollUpBatch makes summary-only analyses read n impacted CIs at a
// time until t ends, so that a small fixture crosses batches.
func SetRollUpBatch(t testing.TB, n int) {
	was := rollUpBatch
	rollUpBatch = n
	t.Cleanup(func() { rollUpBatch = was })
}
