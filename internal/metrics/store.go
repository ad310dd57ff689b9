package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// InstrumentStore returns a store.Store that forwards every call to s and
// records, for every method, its latency and result in
// skein_store_call_duration_seconds, and for Expand the number of CIs
// reached and whether the budget truncated it. With a nil m it returns s
// itself.
//
// The result is a different type from s, so optional interfaces that s
// implements are hidden behind it; reach them through Unwrap:
//
//	if u, ok := st.(interface{ Unwrap() store.Store }); ok { st = u.Unwrap() }
func InstrumentStore(s store.Store, m *Metrics) store.Store {
	if m == nil {
		return s
	}
	return &instrumentedStore{next: s, m: m}
}

type instrumentedStore struct {
	next store.Store
	m    *Metrics
}

var (
	_ store.Store = (*instrumentedStore)(nil)
	// The decorator keeps the optional powers it forwards (found by type
	// assertion, so only this line makes a renamed method fail to build).
	_ store.TextSearcher = (*instrumentedStore)(nil)
	_ store.GraphViewer  = (*instrumentedStore)(nil)
)

// Unwrap returns the instrumented store.
func (s *instrumentedStore) Unwrap() store.Store { return s.next }

// done records a call that started at start and failed with *errp (nil for
// success). It is deferred with the method's named error result.
func (s *instrumentedStore) done(method string, start time.Time, errp *error) {
	s.m.observeStore(method, start, *errp)
}

func (s *instrumentedStore) Nodes(ctx context.Context, kind store.ObjectKind, ids []store.ID) (_ map[store.ID]store.Node, err error) {
	defer s.done("Nodes", time.Now(), &err)
	return s.next.Nodes(ctx, kind, ids)
}

func (s *instrumentedStore) ListNodes(ctx context.Context, f store.NodeFilter, p store.PageRequest) (_ store.Page[store.Node], err error) {
	defer s.done("ListNodes", time.Now(), &err)
	return s.next.ListNodes(ctx, f, p)
}

func (s *instrumentedStore) UpsertNodes(ctx context.Context, actor store.Actor, b store.UpsertBatch) (_ []store.UpsertResult, err error) {
	defer s.done("UpsertNodes", time.Now(), &err)
	return s.next.UpsertNodes(ctx, actor, b)
}

func (s *instrumentedStore) UpsertGraph(ctx context.Context, actor store.Actor, b store.UpsertBatch) (_ store.GraphResult, err error) {
	defer s.done("UpsertGraph", time.Now(), &err)
	return s.next.UpsertGraph(ctx, actor, b)
}

func (s *instrumentedStore) DeleteNodes(ctx context.Context, actor store.Actor, kind store.ObjectKind, ids []store.ID) (_ []store.UpsertResult, err error) {
	defer s.done("DeleteNodes", time.Now(), &err)
	return s.next.DeleteNodes(ctx, actor, kind, ids)
}

func (s *instrumentedStore) CreateRelationships(ctx context.Context, actor store.Actor, rels []store.RelationshipInput, atomic bool) (_ []store.RelationshipResult, err error) {
	defer s.done("CreateRelationships", time.Now(), &err)
	return s.next.CreateRelationships(ctx, actor, rels, atomic)
}

func (s *instrumentedStore) DeleteRelationships(ctx context.Context, actor store.Actor, ids []store.ID) (_ []store.RelationshipResult, err error) {
	defer s.done("DeleteRelationships", time.Now(), &err)
	return s.next.DeleteRelationships(ctx, actor, ids)
}

func (s *instrumentedStore) Relationships(ctx context.Context, ids []store.ID) (_ map[store.ID]store.Relationship, err error) {
	defer s.done("Relationships", time.Now(), &err)
	return s.next.Relationships(ctx, ids)
}

func (s *instrumentedStore) NodeFields(ctx context.Context, kind store.ObjectKind, ids []store.ID, fields []string) (_ map[store.ID]store.Node, err error) {
	defer s.done("NodeFields", time.Now(), &err)
	return s.next.NodeFields(ctx, kind, ids, fields)
}

func (s *instrumentedStore) Edges(ctx context.Context, nodes []store.ID, dir store.Direction, types []string) (_ store.Hops, err error) {
	defer s.done("Edges", time.Now(), &err)
	return s.next.Edges(ctx, nodes, dir, types)
}

func (s *instrumentedStore) RelationshipsOf(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (_ map[store.ID][]store.Relationship, err error) {
	defer s.done("RelationshipsOf", time.Now(), &err)
	return s.next.RelationshipsOf(ctx, cis, dir, types)
}

func (s *instrumentedStore) Expand(ctx context.Context, t store.Traversal) (res store.TraversalResult, err error) {
	defer s.done("Expand", time.Now(), &err)
	res, err = s.next.Expand(ctx, t)
	if err == nil {
		reached := 0
		for _, n := range res.Nodes {
			if n.Depth > 0 {
				reached++
			}
		}
		s.m.observeTraversal(reached, res.Truncated)
	}
	return res, err
}

func (s *instrumentedStore) ShortestPath(ctx context.Context, from, to store.ID, rules []store.EdgeRule, maxDepth int) (_ []store.Step, err error) {
	defer s.done("ShortestPath", time.Now(), &err)
	return s.next.ShortestPath(ctx, from, to, rules, maxDepth)
}

func (s *instrumentedStore) History(ctx context.Context, object string, p store.PageRequest) (_ store.Page[store.AuditRecord], err error) {
	defer s.done("History", time.Now(), &err)
	return s.next.History(ctx, object, p)
}

func (s *instrumentedStore) Audit(ctx context.Context, f store.AuditFilter, p store.PageRequest) (_ store.Page[store.AuditRecord], err error) {
	defer s.done("Audit", time.Now(), &err)
	return s.next.Audit(ctx, f, p)
}

func (s *instrumentedStore) RecordConflicts(ctx context.Context, cs []store.IdentityConflict) (err error) {
	defer s.done("RecordConflicts", time.Now(), &err)
	return s.next.RecordConflicts(ctx, cs)
}

func (s *instrumentedStore) Conflicts(ctx context.Context, p store.PageRequest) (_ store.Page[store.IdentityConflict], err error) {
	defer s.done("Conflicts", time.Now(), &err)
	return s.next.Conflicts(ctx, p)
}

func (s *instrumentedStore) ResolveConflicts(ctx context.Context, ids []store.ID) (err error) {
	defer s.done("ResolveConflicts", time.Now(), &err)
	return s.next.ResolveConflicts(ctx, ids)
}

func (s *instrumentedStore) ModelExtensions(ctx context.Context) (_ []store.ModelExtension, err error) {
	defer s.done("ModelExtensions", time.Now(), &err)
	return s.next.ModelExtensions(ctx)
}

func (s *instrumentedStore) SaveModelExtension(ctx context.Context, actor store.Actor, ext store.ModelExtension) (err error) {
	defer s.done("SaveModelExtension", time.Now(), &err)
	return s.next.SaveModelExtension(ctx, actor, ext)
}

func (s *instrumentedStore) RetireModelExtension(ctx context.Context, actor store.Actor, kind store.ObjectKind, name string) (err error) {
	defer s.done("RetireModelExtension", time.Now(), &err)
	return s.next.RetireModelExtension(ctx, actor, kind, name)
}

func (s *instrumentedStore) Ping(ctx context.Context) (err error) {
	defer s.done("Ping", time.Now(), &err)
	return s.next.Ping(ctx)
}

func (s *instrumentedStore) Close() (err error) {
	defer s.done("Close", time.Now(), &err)
	return s.next.Close()
}

// result names the outcome of a store call for the result label.
func result(err error) string {
	var invalid *store.InvalidError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrSubgraphTooLarge):
		// An answer, not a failure: the reader asks level by level.
		return "too_large"
	case errors.As(err, &invalid):
		return "invalid"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

func (s *instrumentedStore) CreateToken(ctx context.Context, actor store.Actor, t store.APIToken) (err error) {
	defer s.done("CreateToken", time.Now(), &err)
	return s.next.CreateToken(ctx, actor, t)
}

func (s *instrumentedStore) Token(ctx context.Context, id string) (_ store.APIToken, err error) {
	defer s.done("Token", time.Now(), &err)
	return s.next.Token(ctx, id)
}

func (s *instrumentedStore) Tokens(ctx context.Context) (_ []store.APIToken, err error) {
	defer s.done("Tokens", time.Now(), &err)
	return s.next.Tokens(ctx)
}

func (s *instrumentedStore) RevokeToken(ctx context.Context, actor store.Actor, id string) (_ store.APIToken, err error) {
	defer s.done("RevokeToken", time.Now(), &err)
	return s.next.RevokeToken(ctx, actor, id)
}

func (s *instrumentedStore) RelationshipPages(ctx context.Context, reqs []store.RelationshipPageRequest) (_ []store.Page[store.Relationship], err error) {
	defer s.done("RelationshipPages", time.Now(), &err)
	return s.next.RelationshipPages(ctx, reqs)
}

// SearchNodes forwards to the wrapped store's store.TextSearcher; a store
// without one answers store.ErrUnavailable.
func (s *instrumentedStore) SearchNodes(ctx context.Context, q store.TextQuery) (_ []store.Node, _ bool, err error) {
	defer s.done("SearchNodes", time.Now(), &err)
	ts, ok := s.next.(store.TextSearcher)
	if !ok {
		return nil, false, fmt.Errorf("search: this store has no text search: %w", store.ErrUnavailable)
	}
	return ts.SearchNodes(ctx, q)
}

func (s *instrumentedStore) NextSequence(ctx context.Context, name string, n int) (_ int64, err error) {
	defer s.done("NextSequence", time.Now(), &err)
	return s.next.NextSequence(ctx, name, n)
}

func (s *instrumentedStore) ForgetRelationships(ctx context.Context, actor store.Actor, ids []store.ID, f store.Forget) (_ []store.RelationshipResult, err error) {
	defer s.done("ForgetRelationships", time.Now(), &err)
	return s.next.ForgetRelationships(ctx, actor, ids, f)
}

func (s *instrumentedStore) SaveRun(ctx context.Context, r store.SyncRun) (err error) {
	defer s.done("SaveRun", time.Now(), &err)
	return s.next.SaveRun(ctx, r)
}

func (s *instrumentedStore) LoadRun(ctx context.Context, n int64) (_ store.SyncRun, err error) {
	defer s.done("LoadRun", time.Now(), &err)
	return s.next.LoadRun(ctx, n)
}

func (s *instrumentedStore) MarkScope(ctx context.Context, scope store.ScopeRef, run int64, members []string) (err error) {
	defer s.done("MarkScope", time.Now(), &err)
	return s.next.MarkScope(ctx, scope, run, members)
}

func (s *instrumentedStore) ScopeMembers(ctx context.Context, scope store.ScopeRef, after string, limit int) (_ []store.ScopeMember, err error) {
	defer s.done("ScopeMembers", time.Now(), &err)
	return s.next.ScopeMembers(ctx, scope, after, limit)
}

func (s *instrumentedStore) ForgetScope(ctx context.Context, scope store.ScopeRef, members []string, before int64) (err error) {
	defer s.done("ForgetScope", time.Now(), &err)
	return s.next.ForgetScope(ctx, scope, members, before)
}

// ReadSubgraph forwards store.SubgraphReader, timed as one store call. It
// answers errors.ErrUnsupported when the store it wraps reads no
// subgraphs.
func (s *instrumentedStore) ReadSubgraph(ctx context.Context, q store.SubgraphQuery) (_ store.Subgraph, err error) {
	r, ok := s.next.(store.SubgraphReader)
	if !ok {
		return store.Subgraph{}, fmt.Errorf("metrics: %w: the store reads no subgraphs", errors.ErrUnsupported)
	}
	defer s.done("ReadSubgraph", time.Now(), &err)
	return r.ReadSubgraph(ctx, q)
}

// ViewGraph forwards store.GraphViewer, uninstrumented: a view is read in
// many small calls (a hop, a node), too fine to time one by one; the
// reader that takes it is timed as a whole (an impact analysis). It
// answers errors.ErrUnsupported when the store it wraps serves no views.
func (s *instrumentedStore) ViewGraph(ctx context.Context, fn func(store.GraphView) error) error {
	v, ok := s.next.(store.GraphViewer)
	if !ok {
		return fmt.Errorf("metrics: %w: the store serves no graph views", errors.ErrUnsupported)
	}
	return v.ViewGraph(ctx, fn)
}
