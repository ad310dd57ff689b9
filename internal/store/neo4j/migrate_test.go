package neo4j

import (
	"context"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestBackfillAuditRefs: relationship audit records written before records
// had related objects get their two CIs on open, once, so that a CI's
// history lists them.
func TestBackfillAuditRefs(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ids := mkCIs(t, s, "a", "b")
	link(t, s, ids, [3]string{"a", "DEPENDS_ON", "b"})
	// As a store of the previous version left it.
	if _, err := s.write(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, `MATCH (a:AuditRecord) REMOVE a.ref1, a.ref2 WITH count(a) AS n
MATCH (m:SkeinMigration) DETACH DELETE m`, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if h, err := s.History(ctx, string(ids["b"]), store.PageRequest{}); err != nil || h.Total != 1 {
		t.Fatalf("before the backfill: %d records, %v; want the CI's creation only", h.Total, err)
	}
	if err := s.backfillAuditRefs(ctx); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		h, err := s.History(ctx, string(ids[name]), store.PageRequest{})
		if err != nil || h.Total != 2 {
			t.Fatalf("CI %s: %d records, %v; want its creation and the relationship's", name, h.Total, err)
		}
	}
	// Done once: a record without references written now stays so.
	if _, err := s.write(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, `MATCH (a:AuditRecord {kind: 'relationship'}) REMOVE a.ref1, a.ref2`, nil)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.backfillAuditRefs(ctx); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.History(ctx, string(ids["b"]), store.PageRequest{}); h.Total != 1 {
		t.Fatalf("the backfill ran again: %d records", h.Total)
	}
}

// TestBackfillSearch: CI nodes written before free-text search get their
// search documents on open, once, and are found.
func TestBackfillSearch(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ids := mkCIs(t, s, "legacy-a", "legacy-b")
	// As a store of the previous version left it.
	if _, err := s.write(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, `MATCH (c:CI) REMOVE c._search WITH count(c) AS n
MATCH (m:SkeinMigration {name: 'search1'}) DETACH DELETE m`, nil)
	}); err != nil {
		t.Fatal(err)
	}
	q := store.TextQuery{Kind: store.KindCI, Terms: []store.TextTerm{{Tokens: []string{"legacy"}}}, Limit: 10}
	if got, _, err := s.SearchNodes(ctx, q); err != nil || len(got) != 0 {
		t.Fatalf("before the backfill: %v, %v; want nothing", got, err)
	}
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(ctx)
	if err := s.backfill(ctx, sess, searchBackfill); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.SearchNodes(ctx, q)
	if err != nil || len(got) != 2 || !(got[0].ID == ids["legacy-a"] || got[1].ID == ids["legacy-a"]) {
		t.Fatalf("after the backfill: %v, %v; want both CIs", got, err)
	}
}

// TestBackfillNodes: CI nodes written before kinds and versions get the
// label :Node, kind "ci" and version 1 on open, once.
func TestBackfillNodes(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ids := mkCIs(t, s, "old-a", "old-b")
	// As a store of the previous version left it.
	if _, err := s.write(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, `MATCH (c:CI) REMOVE c:Node, c._kind, c._version WITH count(c) AS n
OPTIONAL MATCH (m:SkeinMigration {name: 'node1'}) DETACH DELETE m`, nil)
	}); err != nil {
		t.Fatal(err)
	}
	nodes := func() int64 {
		n, err := s.read(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
			return count(ctx, tx, `MATCH (c:CI:Node) WHERE c._kind = 'ci' AND c._version = 1 RETURN count(c)`, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n.(int64)
	}
	if n := nodes(); n != 0 {
		t.Fatalf("before the backfill: %d nodes, want 0", n)
	}
	got, err := s.Nodes(ctx, store.KindCI, []store.ID{ids["old-a"]})
	if err != nil || got[ids["old-a"]].Kind != store.KindCI || got[ids["old-a"]].Version != 1 {
		t.Fatalf("before the backfill: %+v, %v; want a CI at version 1", got, err)
	}
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(ctx)
	for range 2 { // idempotent
		if err := s.backfill(ctx, sess, nodeBackfill); err != nil {
			t.Fatal(err)
		}
	}
	if n := nodes(); n != 2 {
		t.Fatalf("after the backfill: %d nodes, want 2", n)
	}
}

// TestKindLabels: a node of a kind other than CI gets the label of its
// kind when written, and one written before kind labels (a person with
// :Node only) gets it on open, once; lists of the kind find both.
func TestKindLabels(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	res, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Kind: "person", Reconcile: reconcile, Items: []store.CIUpsert{
		item("Person", store.Attributes{"name": "Ada", "user_name": "ada"}, "person|user_name|ada"),
		item("Person", store.Attributes{"name": "Bob", "user_name": "bob"}, "person|user_name|bob"),
	}})
	if err != nil || res[0].Status != store.StatusCreated || res[1].Status != store.StatusCreated {
		t.Fatalf("create people: %+v, %v", res, err)
	}
	mkCIs(t, s, "web-1")
	labelled := func() int64 {
		n, err := s.read(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
			return count(ctx, tx, `MATCH (p:Node:Person) WHERE p._kind = 'person' AND NOT p:CI RETURN count(p)`, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n.(int64)
	}
	if n := labelled(); n != 2 {
		t.Fatalf("written: %d people labelled :Person, want 2", n)
	}
	// As the previous release left Bob.
	if _, err := s.write(ctx, "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return run(ctx, tx, `MATCH (p:Person {id: $id}) REMOVE p:Person WITH count(p) AS n
OPTIONAL MATCH (m:SkeinMigration {name: 'kindlabel1'}) DETACH DELETE m`, map[string]any{"id": string(res[1].Node.ID)})
	}); err != nil {
		t.Fatal(err)
	}
	if n := labelled(); n != 1 {
		t.Fatalf("before the backfill: %d people labelled, want 1", n)
	}
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(ctx)
	for range 2 { // idempotent
		if err := s.backfill(ctx, sess, kindLabelBackfill); err != nil {
			t.Fatal(err)
		}
	}
	if n := labelled(); n != 2 {
		t.Fatalf("after the backfill: %d people labelled, want 2", n)
	}
	page, err := s.ListNodes(ctx, store.NodeFilter{Kind: "person"}, store.PageRequest{First: 10})
	if err != nil || page.Total != 2 || len(page.Items) != 2 {
		t.Fatalf("list people: %d of %d, %v; want 2", len(page.Items), page.Total, err)
	}
}

func TestKindLabelNames(t *testing.T) {
	for kind, want := range map[store.ObjectKind]string{
		store.KindCI: "CI", "person": "Person", "group": "Group", "change_request": "ChangeRequest",
		"knowledge_article": "KnowledgeArticle", "node": "KindNode", "identity_key": "KindIdentityKey", "x": "X",
	} {
		if got := kindLabel(kind); got != want {
			t.Errorf("kindLabel(%q) = %q, want %q", kind, got, want)
		}
	}
}
