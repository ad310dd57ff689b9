package neo4j

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
)

// requireNeo4j returns the configuration of the Neo4j the tests run
// against (see neo4jtest.Require: skipped without NEO4J_URI, failed in CI),
// holding the lock that keeps other test processes off it.
func requireNeo4j(t testing.TB) Config {
	t.Helper()
	env := neo4jtest.Require(t)
	return Config{URI: env.URI, User: env.User, Password: env.Password, Database: env.Database, QueryTimeout: time.Minute}
}

var (
	sharedOnce  sync.Once
	sharedStore *Store
	sharedErr   error
)

// openShared opens the package's single Store (one per test binary).
func openShared(t testing.TB) *Store {
	t.Helper()
	cfg := requireNeo4j(t)
	sharedOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		sharedStore, sharedErr = Open(ctx, cfg)
	})
	if sharedErr != nil {
		t.Fatalf("open Neo4j store: %v", sharedErr)
	}
	return sharedStore
}

// newTestStore returns the shared Store, emptied.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	s := openShared(t)
	if err := s.Reset(context.Background()); err != nil {
		t.Fatalf("reset: %v", err)
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedStore != nil {
		_ = sharedStore.Close()
	}
	os.Exit(code)
}

var testActor = store.Actor{Name: "tester", Source: "test"}

// reconcile is a trivial ReconcileFunc: the input's attributes override the
// existing ones, keys are the union, and the "conflict" / "invalid"
// attributes make it fail.
func reconcile(existing *store.CI, in store.CIUpsert, source string) (store.Reconciled, error) {
	if v, ok := in.Attributes["conflict"]; ok && v == true {
		return store.Reconciled{}, fmt.Errorf("reconcile: %w", store.ErrConflict)
	}
	if v, ok := in.Attributes["invalid"]; ok && v == true {
		return store.Reconciled{}, store.Invalid("attributes.invalid", "asked to fail")
	}
	r := store.Reconciled{Class: in.Class, Attributes: store.Attributes{}, Sources: map[string]string{}}
	var before store.Attributes
	if existing != nil {
		maps.Copy(r.Attributes, existing.Attributes)
		maps.Copy(r.Sources, existing.Sources)
		r.Keys = slices.Clone(existing.Keys)
		before = existing.Attributes
		if existing.Class != in.Class {
			r.Changes = append(r.Changes, store.FieldChange{Field: "class", Before: existing.Class, After: in.Class})
		}
	} else {
		r.Changes = append(r.Changes, store.FieldChange{Field: "class", After: in.Class})
	}
	for _, k := range in.Keys {
		if !slices.Contains(r.Keys, k) {
			r.Keys = append(r.Keys, k)
		}
	}
	if extra, ok := in.Attributes["extra_key"].(string); ok && !slices.Contains(r.Keys, extra) {
		r.Keys = append(r.Keys, extra)
	}
	if drop, ok := in.Attributes["drop_key"].(string); ok {
		r.Keys = slices.DeleteFunc(r.Keys, func(k string) bool { return k == drop })
	}
	for _, name := range slices.Sorted(maps.Keys(in.Attributes)) {
		v := in.Attributes[name]
		if old, ok := before[name]; ok && store.EqualValues(old, v) {
			continue
		}
		r.Changes = append(r.Changes, store.FieldChange{Field: name, Before: before[name], After: v})
		r.Attributes[name] = v
		r.Sources[name] = source
	}
	return r, nil
}

func item(class string, attrs store.Attributes, keys ...string) store.CIUpsert {
	return store.CIUpsert{Class: class, Attributes: attrs, Keys: keys}
}

func upsert(t testing.TB, s *Store, items ...store.CIUpsert) []store.UpsertResult {
	t.Helper()
	res, err := s.UpsertNodes(context.Background(), testActor, store.UpsertBatch{Items: items, Reconcile: reconcile})
	if err != nil {
		t.Fatalf("UpsertCIs: %v", err)
	}
	return res
}

// mkCIs creates one CI per name (key "host|name|<name>") and returns their
// ids by name.
func mkCIs(t testing.TB, s *Store, names ...string) map[string]store.ID {
	t.Helper()
	items := make([]store.CIUpsert, len(names))
	for i, n := range names {
		items[i] = item("server", store.Attributes{"name": n}, "host|name|"+n)
	}
	ids := map[string]store.ID{}
	for i, r := range upsert(t, s, items...) {
		if r.Status != store.StatusCreated {
			t.Fatalf("create %s: %s %v", names[i], r.Status, r.Err)
		}
		ids[names[i]] = r.Node.ID
	}
	return ids
}

// link creates relationships given as "a TYPE b" triples of names.
func link(t testing.TB, s *Store, ids map[string]store.ID, triples ...[3]string) {
	t.Helper()
	var in []store.RelationshipInput
	for _, tr := range triples {
		in = append(in, store.RelationshipInput{Source: ids[tr[0]], Type: tr[1], Target: ids[tr[2]]})
	}
	res, err := s.CreateRelationships(context.Background(), testActor, in, true)
	if err != nil {
		t.Fatalf("CreateRelationships: %v", err)
	}
	for i, r := range res {
		if r.Status != store.StatusCreated && r.Status != store.StatusUnchanged {
			t.Fatalf("relationship %v: %s %v", triples[i], r.Status, r.Err)
		}
	}
}
