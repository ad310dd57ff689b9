package neo4j

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// TestUpsertLeavesNoOrphanKeys: the IdentityKey nodes that KeyOwners
// merges for items that fail (identity conflicts, invalid decisions,
// conflicting decisions) or whose keys are released are deleted in the same
// transaction (writeTx.Apply). The planner's statuses are the conformance
// suite's PlannerStatuses.
func TestUpsertLeavesNoOrphanKeys(t *testing.T) {
	s := newTestStore(t)
	mkCIs(t, s, "a", "b")
	res := upsert(t, s,
		item("server", store.Attributes{"name": "x"}, "host|name|a", "host|name|b", "host|serial|new1"),
		item("server", store.Attributes{"invalid": true}, "host|name|new2"),
		item("server", store.Attributes{"conflict": true}, "host|name|new3"),
		item("server", store.Attributes{"extra_key": "host|name|b"}, "host|name|a", "host|serial|new4"),
		item("server", store.Attributes{"name": "c"}, "host|name|c", "host|serial|c"),
		item("server", store.Attributes{"drop_key": "host|serial|c"}, "host|name|c"),
	)
	want := []store.Status{store.StatusConflict, store.StatusInvalid, store.StatusConflict, store.StatusConflict, store.StatusCreated, store.StatusUpdated}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("item %d: %s (%v), want %s", i, r.Status, r.Err, want[i])
		}
	}
	assertNoOrphanKeys(t, s)
}

func assertNoOrphanKeys(t *testing.T, s *Store) {
	t.Helper()
	out, err := s.read(context.Background(), "test", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		recs, err := collect(ctx, tx, "MATCH (k:IdentityKey) WHERE NOT (k)-[:IDENTIFIES]->(:CI) RETURN count(k)", nil)
		if err != nil {
			return nil, err
		}
		return recs[0].Values[0], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.(int64) != 0 {
		t.Errorf("%d orphan identity keys", out)
	}
}

func isInvalid(err error, field string) bool {
	var inv *store.InvalidError
	return errors.As(err, &inv) && (field == "" || inv.Field == field)
}

func TestUpsertKeyRelease(t *testing.T) {
	s := newTestStore(t)
	ids := mkCIs(t, s, "a")
	// a gets a second key, then drops it; b claims it in the same batch.
	upsert(t, s, item("server", nil, "host|name|a", "host|serial|x"))
	res := upsert(t, s,
		item("server", store.Attributes{"drop_key": "host|serial|x"}, "host|name|a"),
		item("server", store.Attributes{"name": "b"}, "host|name|b", "host|serial|x"),
	)
	if res[0].Status != store.StatusUpdated || res[1].Status != store.StatusCreated {
		t.Fatalf("statuses %s %v, %s %v", res[0].Status, res[0].Err, res[1].Status, res[1].Err)
	}
	if !reflect.DeepEqual(res[0].Node.Keys, []string{"host|name|a"}) || res[0].Node.ID != ids["a"] {
		t.Errorf("a: %v", res[0].Node)
	}
	bID := res[1].Node.ID
	got, err := s.Nodes(context.Background(), store.KindCI, []store.ID{bID})
	if err != nil {
		t.Fatal(err)
	}
	if b := got[bID]; !reflect.DeepEqual(b.Keys, []string{"host|name|b", "host|serial|x"}) {
		t.Errorf("b keys %v", b.Keys)
	}
	// The released key now identifies b.
	res = upsert(t, s, item("server", nil, "host|serial|x"))
	if res[0].Node.ID != bID || res[0].Status != store.StatusUnchanged {
		t.Errorf("serial x: %s %v", res[0].Status, res[0].Node.ID)
	}
	assertNoOrphanKeys(t, s)
}

func TestAttributeRoundTrip(t *testing.T) {
	s := newTestStore(t)
	when := time.Date(2024, 2, 29, 12, 30, 45, 123456789, time.FixedZone("X", 3600))
	attrs := store.Attributes{
		"name":   "rt",
		"count":  int64(-42),
		"big":    int64(1 << 62),
		"ratio":  3.0,
		"pi":     3.14159,
		"on":     true,
		"off":    false,
		"when":   when,
		"tags":   []string{"b", "a", "b"},
		"empty":  []string{},
		"quoted": `x'}) DETACH DELETE n //`,
	}
	res := upsert(t, s, item("server", attrs, "k|rt"))
	got, err := s.Nodes(context.Background(), store.KindCI, []store.ID{res[0].Node.ID, "missing"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("CIs: %v", got)
	}
	c := got[res[0].Node.ID]
	want := store.Attributes{}
	for k, v := range attrs {
		want[k] = v
	}
	want["when"] = when.UTC()
	if !reflect.DeepEqual(c.Attributes, want) {
		t.Errorf("attributes\n got %#v\nwant %#v", c.Attributes, want)
	}
	for _, tm := range []time.Time{c.CreatedAt, c.UpdatedAt, c.LastSeenAt, c.SeenBy["test"], c.Attributes["when"].(time.Time)} {
		if tm.Location() != time.UTC {
			t.Errorf("time %v not UTC", tm)
		}
	}
	if !reflect.DeepEqual(c, res[0].Node) {
		t.Errorf("stored CI differs from the result\n got %#v\nwant %#v", c, res[0].Node)
	}
	// History decodes the typed changes back.
	hist, err := s.History(context.Background(), string(c.ID), store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	wantChanges := slices.Clone(res[0].Changes)
	for i, ch := range wantChanges {
		if tm, ok := ch.After.(time.Time); ok {
			wantChanges[i].After = tm.UTC()
		}
	}
	if len(hist.Items) != 1 || !reflect.DeepEqual(hist.Items[0].Changes, wantChanges) {
		t.Errorf("history changes\n got %#v\nwant %#v", hist.Items, res[0].Changes)
	}
	if rec := hist.Items[0]; rec.Actor != testActor || rec.Kind != store.KindCI || rec.Object != string(c.ID) || !rec.Time.Equal(c.CreatedAt) {
		t.Errorf("audit record %+v", rec)
	}
}

// TestConcurrentSameCI runs eight writers upserting the same CI at once,
// each with a different mix of its keys: one CI must result, owning every
// key, with no error surfacing.
func TestConcurrentSameCI(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	keys := []string{"host|name|same", "host|serial|same", "host|mac|same", "host|uuid|same"}
	for round := 0; round < 5; round++ {
		if err := s.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8*20)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				for n := 0; n < 20; n++ {
					// Always the primary key, plus a random subset of the others, shuffled.
					ks := []string{keys[0]}
					for _, k := range keys[1:] {
						if r.IntN(2) == 0 {
							ks = append(ks, k)
						}
					}
					r.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
					res, err := s.UpsertNodes(ctx, store.Actor{Name: "w", Source: fmt.Sprintf("w%d", w)}, store.UpsertBatch{
						Items:     []store.CIUpsert{item("server", store.Attributes{"writer": int64(w), "n": int64(n)}, ks...)},
						Reconcile: reconcile,
					})
					if err != nil {
						errs <- err
						return
					}
					if res[0].Err != nil {
						errs <- res[0].Err
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		page, err := s.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 1 {
			t.Fatalf("round %d: %d CIs, want 1", round, page.Total)
		}
		c := page.Items[0]
		if len(c.SeenBy) != 8 {
			t.Errorf("round %d: seen by %v", round, c.SeenBy)
		}
		// The primary key always came first, so every CI was identified by it.
		got := slices.Sorted(slices.Values(c.Keys))
		for _, k := range got {
			if !slices.Contains(keys, k) {
				t.Errorf("unexpected key %q", k)
			}
		}
		assertNoOrphanKeys(t, s)
		hist, err := s.History(ctx, string(c.ID), store.PageRequest{First: 1})
		if err != nil {
			t.Fatal(err)
		}
		// 8 writers x 20 upserts; each changes "writer" or "n" except when
		// unchanged: at least the create record exists and counts add up.
		if hist.Total < 1 || hist.Total > 160 {
			t.Errorf("round %d: %d audit records", round, hist.Total)
		}
	}
}

// TestConcurrentDisjointBatches runs writers with overlapping batches of
// many CIs in different orders (deadlock-prone), checking every CI is
// created exactly once.
func TestConcurrentOverlappingBatches(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(7, uint64(w)))
			perm := r.Perm(n)
			items := make([]store.CIUpsert, 0, n)
			for _, i := range perm {
				items = append(items, item("server", store.Attributes{"name": fmt.Sprintf("h%03d", i), "w": int64(w)},
					fmt.Sprintf("host|name|h%03d", i), fmt.Sprintf("host|serial|s%03d", (i+w)%n/2*2)))
			}
			res, err := s.UpsertNodes(ctx, testActor, store.UpsertBatch{Items: items, Reconcile: reconcile})
			if err != nil {
				errs <- err
				return
			}
			_ = res
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	page, err := s.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 1000})
	if err != nil {
		t.Fatal(err)
	}
	// Each serial key is shared by two names, so conflicts are expected;
	// what matters is that no name and no key exists twice.
	names := map[string]bool{}
	keys := map[string]bool{}
	for _, c := range page.Items {
		name := c.Attributes["name"].(string)
		if names[name] {
			t.Errorf("name %s twice", name)
		}
		names[name] = true
		for _, k := range c.Keys {
			if keys[k] {
				t.Errorf("key %s owned twice", k)
			}
			keys[k] = true
		}
	}
	assertNoOrphanKeys(t, s)
}

// TestCreateStatements: new nodes are created one statement a kind, with
// the kind's label written into it, in the order the kinds first come; a
// kind that is no identifier never reaches query text.
func TestCreateStatements(t *testing.T) {
	node := func(kind store.ObjectKind, id string) store.Node {
		return store.Node{ID: store.ID(id), Kind: kind, Class: "Server", Keys: []string{"k" + id}}
	}
	got, err := createStatements([]store.Node{node("", "1"), node("person", "2"), node(store.KindCI, "3"), node("person", "4")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d statements, want 2", len(got))
	}
	for i, want := range []struct {
		label string
		ids   []string
	}{{"CREATE (c:Node:`CI`)", []string{"1", "3"}}, {"CREATE (c:Node:`Person`)", []string{"2", "4"}}} {
		if !strings.Contains(got[i].q, want.label) || strings.Contains(got[i].q, "{LABEL}") {
			t.Errorf("statement %d: %s; want %s", i, got[i].q, want.label)
		}
		var ids []string
		for _, r := range got[i].rows {
			row := r.(map[string]any)
			ids = append(ids, row["props"].(map[string]any)[propID].(string))
			if keys := row["keys"].([]string); len(keys) != 1 || keys[0] != "k"+ids[len(ids)-1] {
				t.Errorf("statement %d: keys %v", i, keys)
			}
		}
		if !slices.Equal(ids, want.ids) {
			t.Errorf("statement %d: nodes %v, want %v", i, ids, want.ids)
		}
	}
	if _, err := createStatements([]store.Node{node("x`) DETACH DELETE (c", "5")}); err == nil {
		t.Error("a kind that is no identifier was accepted")
	}
}

// TestLabelExpr: a kind's label reaches query text quoted, CamelCase,
// prefixed when it would take a store label, and only for a kind that is a
// valid identifier.
func TestLabelExpr(t *testing.T) {
	for _, tc := range []struct {
		kind store.ObjectKind
		want string
	}{
		{store.KindCI, "`CI`"},
		{"person", "`Person`"},
		{"change_request", "`ChangeRequest`"},
		{"identity_key", "`KindIdentityKey`"},
	} {
		got, err := labelExpr(tc.kind)
		if err != nil || got != tc.want {
			t.Errorf("labelExpr(%q) = %q, %v; want %q", tc.kind, got, err, tc.want)
		}
	}
	for _, bad := range []store.ObjectKind{"", "a`b", "a b", "x) DETACH DELETE (n"} {
		var inv *store.InvalidError
		if _, err := labelExpr(bad); !errors.As(err, &inv) || inv.Field != "kind" {
			t.Errorf("labelExpr(%q): %v, want an InvalidError on kind", bad, err)
		}
	}
}
