package cmdb

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
)

// extCounter counts the model reads of a real store.
type extCounter struct {
	store.Store
	n atomic.Int64
}

func (c *extCounter) ModelExtensions(ctx context.Context) ([]store.ModelExtension, error) {
	c.n.Add(1)
	return c.Store.ModelExtensions(ctx)
}

// TestUnknownNamesReloadAtMostOnce: requests naming an unknown class reload
// the model from the store at most once per missEvery, not once each; a
// class another process registered is still found by the first miss.
func TestUnknownNamesReloadAtMostOnce(t *testing.T) {
	ctx := t.Context()
	raw, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	defer raw.Close()
	st := &extCounter{Store: raw}
	m, err := DefaultModel()
	require.NoError(t, err)
	svc, err := NewService(ctx, st, m)
	require.NoError(t, err)
	other, err := NewService(ctx, raw, m) // another process on the same store
	require.NoError(t, err)
	svc.missEvery = time.Hour
	svc.maxAge = 0 // no refresh by age: only misses reload
	st.n.Store(0)

	_, err = other.RegisterClass(ctx, store.Actor{Name: "t", Source: "api"}, ClassDef{Name: "Printer", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)
	res, err := svc.Upsert(ctx, store.Actor{Name: "t", Source: "api"}, []UpsertItem{{Class: "Printer", Attributes: map[string]any{"name": "p1"}}}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err, "the first miss reloads and finds the class")
	for range 20 {
		res, err := svc.Upsert(ctx, store.Actor{Name: "t", Source: "api"}, []UpsertItem{{Class: "Nope", Attributes: map[string]any{"name": "x"}}}, false)
		require.NoError(t, err)
		assert.Equal(t, store.StatusInvalid, res[0].Status)
	}
	assert.Equal(t, int64(1), st.n.Load(), "one reload for 21 requests naming unknown classes")
}

// TestModelRefreshesByAge: a process that never meets an unknown name still
// sees the classes and relationship types another process registers and
// retires, once its model is older than maxAge: the next request past that
// age refreshes it in the background.
func TestModelRefreshesByAge(t *testing.T) {
	ctx := t.Context()
	st, err := embedded.Open(ctx, t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	defer st.Close()
	m, err := DefaultModel()
	require.NoError(t, err)
	a, err := NewService(ctx, st, m)
	require.NoError(t, err)
	b, err := NewService(ctx, st, m) // another process on the same store
	require.NoError(t, err)
	b.maxAge = 50 * time.Millisecond
	actor := store.Actor{Name: "t", Source: "api"}
	has := func() (class, relType bool) {
		mb := b.Model()
		_, class = mb.Class("Printer")
		_, relType = mb.RelType("PRINTS_FOR")
		return class, relType
	}
	waitFor := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second) // a bound on a hang, not a speed assertion
		for {
			c, r := has()
			if c == want && r == want {
				return
			}
			require.True(t, time.Now().Before(deadline), "%s: class %v, relationship type %v in the other process's model", what, c, r)
			time.Sleep(10 * time.Millisecond)
		}
	}

	_, err = a.RegisterClass(ctx, actor, ClassDef{Name: "Printer", Parent: "CI", Identification: [][]string{{"name"}}})
	require.NoError(t, err)
	_, err = a.RegisterRelationshipType(ctx, actor, RelTypeDef{Name: "PRINTS_FOR", Impact: Impact{Propagates: "none"}})
	require.NoError(t, err)
	waitFor("registered", true)

	require.NoError(t, a.RetireRelationshipType(ctx, actor, "PRINTS_FOR"))
	require.NoError(t, a.RetireClass(ctx, actor, "Printer"))
	waitFor("retired", false)
}
