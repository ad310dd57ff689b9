package push

// Unexported helpers for the tests of package push_test.
var (
	BigBatch   = bigBatch
	RetryAfter = retryAfter
)
