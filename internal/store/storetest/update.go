package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var updateCases = []testCase{
	{"UpdateCIRacesDelete", testUpdateRacesDelete},
	{"UpdateCIRacesRename", testUpdateRacesRename},
	{"UpdateCIRacesDeleteConcurrently", testUpdateRacesDeleteConcurrently},
}

// interleaved is the real store with another writer's work slipped in just
// before the next UpsertCIs call: what a concurrent request would do while
// the service stands between reading a CI and writing it.
type interleaved struct {
	store.Store
	mu     sync.Mutex
	before func()
}

func (s *interleaved) UpsertNodes(ctx context.Context, actor store.Actor, b store.UpsertBatch) ([]store.UpsertResult, error) {
	s.mu.Lock()
	f := s.before
	s.before = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return s.Store.UpsertNodes(ctx, actor, b)
}

// testUpdateRacesDelete: a CI deleted while updateCI runs is NOT_FOUND,
// whatever the patch holds, and nothing is created in its place.
func testUpdateRacesDelete(t *testing.T, st store.Store) {
	for _, patch := range []map[string]any{
		{"owner": "ops"},                  // a patch that could not create a CI
		{"name": "crm-2", "owner": "ops"}, // one that could
	} {
		t.Run(fmt.Sprint(patch), func(t *testing.T) {
			ctx := t.Context()
			is := &interleaved{Store: st}
			svc := newService(t, is)
			id := upsertOK(t, svc, agent, app(fmt.Sprint("crm-", len(patch))))[0].Node.ID
			before := countCIs(t, st, store.NodeFilter{Kind: store.KindCI})
			is.before = func() {
				res, err := st.DeleteNodes(ctx, api, store.KindCI, []store.ID{id})
				require.NoError(t, err)
				require.Equal(t, store.StatusDeleted, res[0].Status)
			}
			_, err := svc.UpdateCI(ctx, api, id, patch)
			require.Nil(t, is.before, "the delete ran")
			assert.ErrorIs(t, err, store.ErrNotFound)
			var ie *store.InvalidError
			assert.False(t, errors.As(err, &ie), "not INVALID: %v", err)
			assert.Equal(t, before-1, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}), "no CI was created")
		})
	}
}

// testUpdateRacesRename: updateCI changes the CI it names, even when that
// CI was renamed meanwhile and another CI took its old name.
func testUpdateRacesRename(t *testing.T, st store.Store) {
	ctx := t.Context()
	is := &interleaved{Store: st}
	svc := newService(t, is)
	a := upsertOK(t, svc, agent, app("billing", "owner", "finance"))[0].Node
	var b store.CI
	is.before = func() {
		plain := newService(t, st)
		_, err := plain.UpdateCI(ctx, api, a.ID, map[string]any{"name": "billing-old"})
		require.NoError(t, err)
		b = upsertOK(t, plain, agent, app("billing", "owner", "finance"))[0].Node
		require.NotEqual(t, a.ID, b.ID)
	}
	res, err := svc.UpdateCI(ctx, api, a.ID, map[string]any{"owner": "payments"})
	require.NoError(t, err)
	require.Nil(t, is.before, "the rename ran")
	assert.Equal(t, a.ID, res.Node.ID, "the CI named by id was updated")
	assert.Equal(t, store.StatusUpdated, res.Status)
	got, err := st.Nodes(ctx, store.KindCI, []store.ID{a.ID, b.ID})
	require.NoError(t, err)
	assert.Equal(t, "payments", got[a.ID].Attributes["owner"])
	assert.Equal(t, "billing-old", got[a.ID].Attributes["name"])
	assert.Equal(t, b, got[b.ID], "the other CI was not touched")
	assert.Equal(t, 2, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

// testUpdateRacesDeleteConcurrently runs updates and deletes of the same
// CIs at the same time: each update either happened before the delete or
// is NOT_FOUND, and no CI survives.
func testUpdateRacesDeleteConcurrently(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	const n = 20
	items := make([]cmdb.UpsertItem, n)
	for i := range items {
		items[i] = app(fmt.Sprintf("race%d", i))
	}
	res := upsertOK(t, svc, agent, items...)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, r := range res {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.UpdateCI(ctx, api, r.Node.ID, map[string]any{"name": fmt.Sprintf("race%d-new", i), "owner": "ops"})
		}()
		go func() {
			defer wg.Done()
			_, err := st.DeleteNodes(ctx, api, store.KindCI, []store.ID{r.Node.ID})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			assert.ErrorIs(t, err, store.ErrNotFound, "update %d", i)
		}
	}
	assert.Equal(t, 0, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}), "no update re-created a deleted CI")
}
