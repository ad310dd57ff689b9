package embedded

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var (
	tester = store.Actor{Name: "tester", Source: "test"}
	other  = store.Actor{Name: "agent", Source: "agent"}
)

// newStore opens a store in a fresh directory, closed at cleanup.
func newStore(t testing.TB) *Store {
	t.Helper()
	return openAt(t, t.TempDir())
}

func openAt(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// reconcile is a trivial store.ReconcileFunc: reported attributes replace
// stored ones key by key (nil clears), and the class and keys are the
// reported ones. An attribute "fail" of "conflict", "invalid" or "boom"
// makes it fail that way.
func reconcile(ex *store.CI, in store.CIUpsert, source string) (store.Reconciled, error) {
	switch in.Attributes["fail"] {
	case "conflict":
		return store.Reconciled{}, fmt.Errorf("test conflict: %w", store.ErrConflict)
	case "invalid":
		return store.Reconciled{}, store.Invalid("attributes.fail", "asked to fail")
	case "boom":
		return store.Reconciled{}, fmt.Errorf("boom")
	}
	r := store.Reconciled{Class: in.Class, Attributes: store.Attributes{}, Sources: map[string]string{}, Keys: in.Keys}
	if ex == nil {
		r.Changes = append(r.Changes, store.FieldChange{Field: "class", After: in.Class})
		for _, k := range sortedKeys(in.Attributes) {
			if v := in.Attributes[k]; v != nil {
				r.Attributes[k], r.Sources[k] = v, source
				r.Changes = append(r.Changes, store.FieldChange{Field: k, After: v})
			}
		}
		return r, nil
	}
	for k, v := range ex.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range ex.Sources {
		r.Sources[k] = v
	}
	if in.Class != ex.Class {
		r.Changes = append(r.Changes, store.FieldChange{Field: "class", Before: ex.Class, After: in.Class})
	}
	for _, k := range sortedKeys(in.Attributes) {
		v := in.Attributes[k]
		old, has := r.Attributes[k]
		switch {
		case v == nil && has:
			delete(r.Attributes, k)
			delete(r.Sources, k)
			r.Changes = append(r.Changes, store.FieldChange{Field: k, Before: old})
		case v != nil && (!has || !store.EqualValues(old, v)):
			r.Attributes[k], r.Sources[k] = v, source
			var before any
			if has {
				before = old
			}
			r.Changes = append(r.Changes, store.FieldChange{Field: k, Before: before, After: v})
		}
	}
	return r, nil
}

// item makes an upsert item; kv are attribute name, value pairs.
func item(class string, keys []string, kv ...any) store.CIUpsert {
	a := store.Attributes{}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return store.CIUpsert{Class: class, Attributes: a, Keys: keys}
}

func upsert(t testing.TB, s *Store, actor store.Actor, atomic bool, items ...store.CIUpsert) ([]store.UpsertResult, error) {
	t.Helper()
	return s.UpsertNodes(t.Context(), actor, store.UpsertBatch{Items: items, Reconcile: reconcile, Atomic: atomic})
}

func upsertOK(t testing.TB, s *Store, items ...store.CIUpsert) []store.UpsertResult {
	t.Helper()
	res, err := upsert(t, s, tester, false, items...)
	require.NoError(t, err)
	require.Len(t, res, len(items))
	for i, r := range res {
		require.NoError(t, r.Err, "item %d", i)
	}
	return res
}

// mkNodes creates n CIs and returns their ids.
func mkNodes(t testing.TB, s *Store, prefix string, n int) []store.ID {
	t.Helper()
	ids := make([]store.ID, 0, n)
	for start := 0; start < n; start += 1000 {
		var items []store.CIUpsert
		for i := start; i < min(n, start+1000); i++ {
			name := fmt.Sprintf("%s%d", prefix, i)
			items = append(items, item("Node", []string{"node|" + name}, "name", name))
		}
		for _, r := range upsertOK(t, s, items...) {
			ids = append(ids, r.Node.ID)
		}
	}
	return ids
}

type tedge struct {
	from, to int
	typ      string
}

func (e tedge) typeName() string {
	if e.typ == "" {
		return "DEPENDS_ON"
	}
	return e.typ
}

func link(t testing.TB, s *Store, ids []store.ID, edges ...tedge) {
	t.Helper()
	for start := 0; start < len(edges); start += 1000 {
		var in []store.RelationshipInput
		for _, e := range edges[start:min(len(edges), start+1000)] {
			in = append(in, store.RelationshipInput{Type: e.typeName(), Source: ids[e.from], Target: ids[e.to]})
		}
		res, err := s.CreateRelationships(t.Context(), tester, in, true)
		require.NoError(t, err)
		for i, r := range res {
			require.NoError(t, r.Err, "edge %d", start+i)
		}
	}
}

func unlink(t testing.TB, s *Store, ids []store.ID, edges ...tedge) {
	t.Helper()
	if len(edges) == 0 {
		return
	}
	var rels []store.ID
	for _, e := range edges {
		rels = append(rels, store.RelationshipKey{Source: ids[e.from], Type: e.typeName(), Target: ids[e.to]}.ID())
	}
	res, err := s.DeleteRelationships(t.Context(), tester, rels)
	require.NoError(t, err)
	for i, r := range res {
		require.Equal(t, store.StatusDeleted, r.Status, "edge %d: %v", i, r.Err)
	}
}
