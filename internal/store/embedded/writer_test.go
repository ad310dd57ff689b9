package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestGroupFailuresAreIsolated makes the writer run one group in which one
// call fails before writing and one after writing: the others commit, the
// failed ones leave nothing.
func TestGroupFailuresAreIsolated(t *testing.T) {
	s := newStore(t)
	ids := mkNodes(t, s, "g", 2)
	ext := func(name string, fail error) *call {
		return &call{ctx: context.Background(), done: make(chan struct{}), fn: func(w *wtx, p *patch) error {
			if _, err := w.st.insertExt.Exec("class", name, "{}", w.nowNs); err != nil {
				return err
			}
			return fail
		}}
	}
	clean := &call{ctx: context.Background(), done: make(chan struct{}), fn: func(*wtx, *patch) error { return store.ErrConflict }}
	var rels []store.RelationshipResult
	relCall := &call{ctx: context.Background(), done: make(chan struct{}), fn: func(w *wtx, p *patch) error {
		res, err := w.createRels(tester, []store.RelationshipInput{{Type: "T", Source: ids[0], Target: ids[1]}}, []store.Attributes{nil}, []error{nil}, false, p)
		rels = res
		return err
	}}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	late := &call{ctx: canceled, done: make(chan struct{}), fn: func(*wtx, *patch) error { panic("must not run") }}
	group := []*call{ext("A", nil), clean, ext("B", errors.New("after writing")), relCall, late, ext("C", nil)}
	// Hold the writer in a call while the group is queued, so that it
	// drains the whole group into one transaction.
	started, release := make(chan struct{}), make(chan struct{})
	barrier := &call{ctx: context.Background(), done: make(chan struct{}), fn: func(*wtx, *patch) error {
		close(started)
		<-release
		return nil
	}}
	s.queue <- barrier
	<-started
	for _, c := range group {
		s.queue <- c
	}
	close(release)
	for _, c := range group {
		<-c.done
	}
	assert.NoError(t, group[0].err)
	assert.ErrorIs(t, group[1].err, store.ErrConflict)
	assert.EqualError(t, group[2].err, "after writing")
	assert.NoError(t, group[3].err)
	assert.ErrorIs(t, group[4].err, store.ErrUnavailable)
	assert.NoError(t, group[5].err)
	exts, err := s.ModelExtensions(t.Context())
	require.NoError(t, err)
	var names []string
	for _, e := range exts {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"A", "C"}, names)
	require.Len(t, rels, 1)
	assert.Equal(t, store.StatusCreated, rels[0].Status)
	tr, err := s.Expand(t.Context(), store.Traversal{Start: ids[:1], Rules: []store.EdgeRule{{Dir: store.Out}}, MaxDepth: 1, MaxNodes: 5})
	require.NoError(t, err)
	assert.Len(t, tr.Nodes, 2, "the committed call's patch reached the index")
}

func TestTagsFollowUpdates(t *testing.T) {
	s := newStore(t)
	id := upsertOK(t, s, item("App", []string{"t"}, "tags", []string{"a", "b", "b"}))[0].Node.ID
	upsertOK(t, s, item("App", []string{"t"}, "tags", []string{"b", "c"}))
	count := func(tag string) int {
		p, err := s.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Tag: tag}, store.PageRequest{})
		require.NoError(t, err)
		return p.Total
	}
	assert.Equal(t, []int{0, 1, 1}, []int{count("a"), count("b"), count("c")})
	checkKeyTables(t, s)
	upsertOK(t, s, item("App", []string{"t"}, "tags", nil))
	assert.Equal(t, 0, count("b"))
	upsertOK(t, s, item("App", []string{"t"}, "tags", []string{"d"}))
	_, err := s.DeleteNodes(t.Context(), tester, store.KindCI, []store.ID{id})
	require.NoError(t, err)
	assert.Equal(t, 0, count("d"))
	checkKeyTables(t, s)
	var rows int
	require.NoError(t, s.rdb.QueryRowContext(t.Context(), "SELECT (SELECT count(*) FROM ci_tags) + (SELECT count(*) FROM identity_keys)").Scan(&rows))
	assert.Zero(t, rows)
}

func TestIndexedColumnsFollowUpdates(t *testing.T) {
	s := newStore(t)
	upsertOK(t, s, item("App", []string{"u"}, "name", "old", "owner", "a", "cpu", int64(1)))
	upsertOK(t, s, item("App", []string{"u"}, "cpu", int64(2)))                   // attributes only
	upsertOK(t, s, item("Svc", []string{"u"}, "name", "new", "environment", "x")) // class and columns
	upsertOK(t, s, item("Svc", []string{"u"}, "owner", nil))                      // a column cleared
	for _, tc := range []struct {
		f    store.NodeFilter
		want int
	}{
		{store.NodeFilter{Kind: store.KindCI, NamePrefix: "old"}, 0},
		{store.NodeFilter{Kind: store.KindCI, NamePrefix: "new"}, 1},
		{store.NodeFilter{Kind: store.KindCI, Classes: []string{"App"}}, 0},
		{store.NodeFilter{Kind: store.KindCI, Classes: []string{"Svc"}}, 1},
		{store.NodeFilter{Kind: store.KindCI, Environment: "x"}, 1},
		{store.NodeFilter{Kind: store.KindCI, Owner: "a"}, 0},
		{store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"cpu": int64(2)}}, 1},
	} {
		p, err := s.ListNodes(t.Context(), tc.f, store.PageRequest{})
		require.NoError(t, err)
		assert.Equal(t, tc.want, p.Total, "%+v", tc.f)
	}
}
