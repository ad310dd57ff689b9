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
