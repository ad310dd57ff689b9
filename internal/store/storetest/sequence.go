package storetest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var sequenceCases = []testCase{
	{"SequenceNumbersOnce", testSequenceNumbersOnce},
	{"SequenceRejectsBadInput", testSequenceRejectsBadInput},
}

// testSequenceNumbersOnce: a new sequence starts after 0; a block of n
// advances it by n; sequences are independent; 8 writers asking at once
// get every number exactly once, with no gap.
func testSequenceNumbersOnce(t *testing.T, st store.Store) {
	ctx := t.Context()
	last, err := st.NextSequence(ctx, "incident", 1)
	require.NoError(t, err)
	assert.EqualValues(t, 1, last)
	last, err = st.NextSequence(ctx, "incident", 5)
	require.NoError(t, err)
	assert.EqualValues(t, 6, last, "the block 2..6")
	last, err = st.NextSequence(ctx, "change", 1)
	require.NoError(t, err)
	assert.EqualValues(t, 1, last, "another sequence starts on its own")

	const writers, calls = 8, 25
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				n := 1 + i%3
				last, err := st.NextSequence(ctx, "problem", n)
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				for v := last - int64(n) + 1; v <= last; v++ {
					seen[v]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	for i := 0; i < calls; i++ {
		total += writers * (1 + i%3)
	}
	require.Len(t, seen, total, "every number handed out once")
	for v := int64(1); v <= int64(total); v++ {
		assert.Equal(t, 1, seen[v], "number %d", v)
	}
	last, err = st.NextSequence(ctx, "incident", 1)
	require.NoError(t, err)
	assert.EqualValues(t, 7, last, "the other sequences did not move it")
}

// testSequenceRejectsBadInput: a bad name or count is INVALID, names the
// argument, and moves nothing.
func testSequenceRejectsBadInput(t *testing.T, st store.Store) {
	ctx := t.Context()
	for _, tt := range []struct {
		name  string
		n     int
		field string
	}{
		{"", 1, "sequence"},
		{"inc; DROP", 1, "sequence"},
		{"1incident", 1, "sequence"},
		{"incident", 0, "n"},
		{"incident", -3, "n"},
		{"incident", store.MaxBatch + 1, "n"},
	} {
		_, err := st.NextSequence(ctx, tt.name, tt.n)
		var ie *store.InvalidError
		if assert.ErrorAs(t, err, &ie, "%q %d", tt.name, tt.n) {
			assert.Equal(t, tt.field, ie.Field)
		}
	}
	last, err := st.NextSequence(ctx, "incident", 1)
	require.NoError(t, err)
	assert.EqualValues(t, 1, last)
}
