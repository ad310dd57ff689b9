package neo4j

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/skein-cmdb/skein/internal/store"
)

func TestRelationships(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	ids := mkCIs(t, s, "a", "b", "c")
	a, b, c := ids["a"], ids["b"], ids["c"]
	missing := store.ID("no-such-ci")
	res, err := s.CreateRelationships(ctx, testActor, []store.RelationshipInput{
		{Type: "DEPENDS_ON", Source: a, Target: b, Attributes: store.Attributes{"port": int64(443)}},
		{Type: "DEPENDS_ON", Source: a, Target: b},                                                    // duplicate: sees the first
		{Type: "DEPENDS_ON", Source: a, Target: b, Attributes: store.Attributes{"port": int64(8443)}}, // updates the first
		{Type: "RUNS_ON", Source: a, Target: b},
		{Type: "DEPENDS_ON", Source: a, Target: missing},
		{Type: "DEPENDS_ON", Source: missing, Target: a},
		{Type: "DEPENDS_ON", Source: a, Target: a},
		{Type: "BAD`TYPE", Source: a, Target: b},
		{Type: "DEPENDS_ON", Source: a, Target: c, Attributes: store.Attributes{"bad name": "x"}},
		{Type: "DEPENDS_ON", Source: b, Target: c, Attributes: store.Attributes{"when": uint(1)}},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status store.Status
		field  string
	}{
		{store.StatusCreated, ""}, {store.StatusUnchanged, ""}, {store.StatusUpdated, ""}, {store.StatusCreated, ""},
		{store.StatusNotFound, "relationships[4].target"}, {store.StatusNotFound, "relationships[5].source"},
		{store.StatusInvalid, "relationships[6].target"}, {store.StatusInvalid, "relationships[7].type"},
		{store.StatusInvalid, "relationships[8].attributes"}, {store.StatusInvalid, "relationships[9].attributes.when"},
	}
	for i, w := range want {
		r := res[i]
		if r.Status != w.status {
			t.Errorf("item %d: %s (%v), want %s", i, r.Status, r.Err, w.status)
			continue
		}
		switch w.status {
		case store.StatusNotFound:
			if !errors.Is(r.Err, store.ErrNotFound) || !contains(r.Err, w.field) {
				t.Errorf("item %d: %v", i, r.Err)
			}
		case store.StatusInvalid:
			var inv *store.InvalidError
			if !errors.As(r.Err, &inv) || inv.Field != w.field {
				t.Errorf("item %d: %v, want field %s", i, r.Err, w.field)
			}
		}
	}
	dep := store.RelationshipKey{Source: a, Type: "DEPENDS_ON", Target: b}.ID()
	if res[0].Relationship.ID != dep || res[2].Relationship.Attributes["port"] != int64(8443) {
		t.Errorf("relationship %+v / %+v", res[0].Relationship, res[2].Relationship)
	}

	// Reads.
	got, err := s.Relationships(ctx, []store.ID{dep, "r1.garbage", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if r := got[dep]; len(got) != 1 || r.Attributes["port"] != int64(8443) || r.Source != a || r.Target != b || r.Type != "DEPENDS_ON" ||
		r.CreatedAt.IsZero() || r.UpdatedAt.Before(r.CreatedAt) {
		t.Errorf("Relationships: %+v", got)
	}
	of, err := s.RelationshipsOf(ctx, []store.ID{a, b, c}, store.Both, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(of[a]) != 2 || len(of[b]) != 2 || len(of[c]) != 0 {
		t.Errorf("RelationshipsOf both: %v", of)
	}
	if !slices.IsSortedFunc(of[a], func(x, y store.Relationship) int { return compareIDs(x.ID, y.ID) }) {
		t.Errorf("not sorted: %v", of[a])
	}
	of, err = s.RelationshipsOf(ctx, []store.ID{a, b}, store.In, []string{"RUNS_ON"})
	if err != nil {
		t.Fatal(err)
	}
	if len(of[a]) != 0 || len(of[b]) != 1 || of[b][0].Type != "RUNS_ON" || of[b][0].Attributes == nil {
		t.Errorf("RelationshipsOf in RUNS_ON: %v", of)
	}
	if _, err := s.RelationshipsOf(ctx, []store.ID{a}, store.Out, []string{"X]->() DETACH DELETE n //"}); !isInvalid(err, "types") {
		t.Errorf("bad type: %v", err)
	}

	// Delete.
	del, err := s.DeleteRelationships(ctx, testActor, []store.ID{dep, dep, "garbage"})
	if err != nil {
		t.Fatal(err)
	}
	if del[0].Status != store.StatusDeleted || del[1].Status != store.StatusNotFound || del[2].Status != store.StatusInvalid ||
		del[0].Relationship.Attributes["port"] != int64(8443) {
		t.Errorf("delete: %+v", del)
	}
	if !isInvalid(del[2].Err, "ids[2]") {
		t.Errorf("delete garbage: %v", del[2].Err)
	}
	hist, err := s.History(ctx, string(dep), store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []store.Action
	for _, h := range hist.Items {
		actions = append(actions, h.Action)
	}
	if want := []store.Action{store.ActionDelete, store.ActionUpdate, store.ActionCreate}; !reflect.DeepEqual(actions, want) {
		t.Errorf("history %v, want %v", actions, want)
	}
	if ch := hist.Items[1].Changes; !reflect.DeepEqual(ch, []store.FieldChange{{Field: "port", Before: int64(443), After: int64(8443)}}) {
		t.Errorf("update changes %v", ch)
	}

	// Atomic.
	_, err = s.CreateRelationships(ctx, testActor, []store.RelationshipInput{
		{Type: "DEPENDS_ON", Source: b, Target: c}, {Type: "DEPENDS_ON", Source: c, Target: missing},
	}, true)
	var ie *store.ItemError
	if !errors.As(err, &ie) || ie.Index != 1 || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("atomic: %v", err)
	}
	if got, _ := s.Relationships(ctx, []store.ID{store.RelationshipKey{Source: b, Type: "DEPENDS_ON", Target: c}.ID()}); len(got) != 0 {
		t.Errorf("atomic batch wrote %v", got)
	}
}

func compareIDs(a, b store.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func contains(err error, sub string) bool {
	return err != nil && strings.Contains(err.Error(), sub)
}

func TestDeleteCIs(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	ids := mkCIs(t, s, "a", "b", "c")
	link(t, s, ids, [3]string{"a", "DEPENDS_ON", "b"}, [3]string{"b", "DEPENDS_ON", "c"}, [3]string{"c", "RUNS_ON", "a"})
	res, err := s.DeleteNodes(ctx, testActor, store.KindCI, []store.ID{ids["a"], ids["b"], ids["a"], "nope"})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []store.Status{store.StatusDeleted, store.StatusDeleted, store.StatusNotFound, store.StatusNotFound}
	for i, w := range wantStatus {
		if res[i].Status != w {
			t.Errorf("item %d: %s, want %s", i, res[i].Status, w)
		}
	}
	if res[0].Node.Attributes["name"] != "a" {
		t.Errorf("deleted CI %+v", res[0].Node)
	}
	// Every relationship is gone, each with one delete record.
	for _, tr := range [][3]string{{"a", "DEPENDS_ON", "b"}, {"b", "DEPENDS_ON", "c"}, {"c", "RUNS_ON", "a"}} {
		id := store.RelationshipKey{Source: ids[tr[0]], Type: tr[1], Target: ids[tr[2]]}.ID()
		h, err := s.History(ctx, string(id), store.PageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if h.Total != 2 || h.Items[0].Action != store.ActionDelete {
			t.Errorf("%v: history %+v", tr, h.Items)
		}
	}
	of, err := s.RelationshipsOf(ctx, []store.ID{ids["c"]}, store.Both, nil)
	if err != nil || len(of[ids["c"]]) != 0 {
		t.Errorf("c still has %v (%v)", of, err)
	}
	h, err := s.History(ctx, string(ids["a"]), store.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.FieldChange{{Field: "class", Before: "server"}, {Field: "name", Before: "a"}}; !reflect.DeepEqual(h.Items[0].Changes, want) {
		t.Errorf("delete changes %v", h.Items[0].Changes)
	}
	// Keys were released.
	r := upsert(t, s, item("server", store.Attributes{"name": "a"}, "host|name|a"))
	if r[0].Status != store.StatusCreated {
		t.Errorf("re-create a: %s", r[0].Status)
	}
	assertNoOrphanKeys(t, s)
}

// graph builds named CIs and DEPENDS_ON edges "x>y" (or "x>y:TYPE").
func graph(t *testing.T, s *Store, names []string, edges ...string) map[string]store.ID {
	t.Helper()
	ids := mkCIs(t, s, names...)
	var triples [][3]string
	for _, e := range edges {
		from, to, _ := strings.Cut(e, ">")
		to, typ, ok := strings.Cut(to, ":")
		if !ok {
			typ = "DEPENDS_ON"
		}
		triples = append(triples, [3]string{from, typ, to})
	}
	if len(triples) > 0 {
		link(t, s, ids, triples...)
	}
	return ids
}

func names(ids map[string]store.ID) map[store.ID]string {
	out := map[store.ID]string{}
	for n, id := range ids {
		out[id] = n
	}
	return out
}

func TestExpand(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	hubNames := []string{"hub"}
	var hubEdges []string
	for i := 0; i < 50; i++ {
		n := fmt.Sprintf("s%02d", i)
		hubNames = append(hubNames, n)
		hubEdges = append(hubEdges, n+">hub:CONNECTS_TO")
	}
	ids := graph(t, s, append([]string{"a", "b", "c", "d", "e", "x", "y"}, hubNames...),
		// cycle a->b->c->a; diamond a->d, b->e, d->e (e at depth 2); x isolated; y->a RUNS_ON
		"a>b", "b>c", "c>a", "a>d", "d>e", "b>e", "y>a:RUNS_ON")
	link(t, s, ids, func() [][3]string {
		var out [][3]string
		for _, e := range hubEdges {
			from, _, _ := strings.Cut(e, ">")
			out = append(out, [3]string{from, "CONNECTS_TO", "hub"})
		}
		return out
	}()...)
	byID := names(ids)
	tests := []struct {
		name      string
		tv        store.Traversal
		want      map[string]int // name -> depth
		truncated bool
		count     int // when want is nil: number of nodes
	}{
		{"cycle and diamond", store.Traversal{Start: []store.ID{ids["a"]}, Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}, MaxDepth: 10, MaxNodes: 100},
			map[string]int{"a": 0, "b": 1, "d": 1, "c": 2, "e": 2}, false, 0},
		{"depth limit", store.Traversal{Start: []store.ID{ids["a"]}, Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}, MaxDepth: 1, MaxNodes: 100},
			map[string]int{"a": 0, "b": 1, "d": 1}, false, 0},
		{"incoming, all types", store.Traversal{Start: []store.ID{ids["a"]}, Rules: []store.EdgeRule{{Dir: store.In}}, MaxDepth: 10, MaxNodes: 100},
			map[string]int{"a": 0, "c": 1, "y": 1, "b": 2}, false, 0},
		{"mixed rules", store.Traversal{Start: []store.ID{ids["a"]}, Rules: []store.EdgeRule{{Type: "RUNS_ON", Dir: store.In}, {Type: "DEPENDS_ON", Dir: store.Out}}, MaxDepth: 1, MaxNodes: 100},
			map[string]int{"a": 0, "b": 1, "d": 1, "y": 1}, false, 0},
		{"several starts, unknown ignored", store.Traversal{Start: []store.ID{ids["x"], "nope", ids["c"], ids["x"]}, Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}, MaxDepth: 1, MaxNodes: 100},
			map[string]int{"x": 0, "c": 0, "a": 1}, false, 0},
		{"hub", store.Traversal{Start: []store.ID{ids["hub"]}, Rules: []store.EdgeRule{{Type: "CONNECTS_TO", Dir: store.Both}}, MaxDepth: 3, MaxNodes: 1000},
			nil, false, 51},
		{"hub budget", store.Traversal{Start: []store.ID{ids["s00"]}, Rules: []store.EdgeRule{{Type: "CONNECTS_TO", Dir: store.Both}}, MaxDepth: 3, MaxNodes: 10},
			nil, true, 11},
		{"budget exactly enough", store.Traversal{Start: []store.ID{ids["hub"]}, Rules: []store.EdgeRule{{Dir: store.In}}, MaxDepth: 3, MaxNodes: 50},
			nil, false, 51},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Expand(ctx, tc.tv)
			if err != nil {
				t.Fatal(err)
			}
			if res.Truncated != tc.truncated {
				t.Errorf("truncated %v", res.Truncated)
			}
			got := map[string]int{}
			last := 0
			for _, r := range res.Nodes {
				n := byID[r.ID]
				if _, dup := got[n]; dup {
					t.Errorf("%s twice", n)
				}
				got[n] = r.Depth
				if r.Depth < last {
					t.Errorf("depth order")
				}
				last = r.Depth
				if r.Depth > 0 {
					// That the hop is a real relationship is checked by the
					// conformance suite (storetest, checkTraversal).
					if r.Type == "" {
						t.Errorf("%s: hop from %s has no type", n, byID[r.Via])
					}
					if d, ok := got[byID[r.Via]]; !ok || d != r.Depth-1 {
						t.Errorf("%s: via %s not at depth %d", n, byID[r.Via], r.Depth-1)
					}
				}
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if tc.want == nil && len(got) != tc.count {
				t.Errorf("%d nodes, want %d", len(got), tc.count)
			}
		})
	}
	if _, err := s.Expand(ctx, store.Traversal{Start: []store.ID{ids["a"]}, Rules: []store.EdgeRule{{Type: "a`]-() DETACH DELETE n //", Dir: store.Out}}, MaxDepth: 1, MaxNodes: 1}); !isInvalid(err, "rules") {
		t.Errorf("bad type: %v", err)
	}
}

func TestShortestPath(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	// a->b->c->d, a->e->d (shorter), f isolated, g RUNS_ON c, c HOSTED_ON h
	ids := graph(t, s, []string{"a", "b", "c", "d", "e", "f", "g", "h"},
		"a>b", "b>c", "c>d", "a>e", "e>d", "g>c:RUNS_ON", "c>h:HOSTED_ON")
	byID := names(ids)
	tests := []struct {
		name     string
		from, to string
		rules    []store.EdgeRule
		maxDepth int
		want     []string // node names along the path, from excluded
		err      error
	}{
		{"out", "a", "d", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}, 10, []string{"e", "d"}, nil},
		{"in", "d", "a", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}}, 10, []string{"e", "a"}, nil},
		{"both all types", "g", "h", []store.EdgeRule{{Dir: store.Both}}, 10, []string{"c", "h"}, nil},
		{"mixed directions", "b", "g", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}, {Type: "RUNS_ON", Dir: store.In}}, 10, []string{"c", "g"}, nil},
		{"mixed directions, longer", "a", "h", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}, {Type: "HOSTED_ON", Dir: store.Out}, {Type: "RUNS_ON", Dir: store.In}}, 10, []string{"b", "c", "h"}, nil},
		{"mixed directions, depth bound", "a", "h", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}, {Type: "HOSTED_ON", Dir: store.Both}, {Type: "RUNS_ON", Dir: store.In}}, 2, nil, store.ErrNotFound},
		{"mixed directions, none", "d", "a", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}, {Type: "RUNS_ON", Dir: store.In}}, 10, nil, store.ErrNotFound},
		{"direction respected", "d", "a", []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.Out}}, 10, nil, store.ErrNotFound},
		{"depth bound", "a", "d", []store.EdgeRule{{Dir: store.Out}}, 1, nil, store.ErrNotFound},
		{"isolated", "a", "f", []store.EdgeRule{{Dir: store.Both}}, 10, nil, store.ErrNotFound},
		{"same", "a", "a", []store.EdgeRule{{Dir: store.Out}}, 1, []string{}, nil},
		{"missing to", "a", "zz", []store.EdgeRule{{Dir: store.Out}}, 1, nil, store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := ids[tc.to]
			if to == "" {
				to = store.ID(tc.to)
			}
			path, err := s.ShortestPath(ctx, ids[tc.from], to, tc.rules, tc.maxDepth)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			at := ids[tc.from]
			for _, st := range path {
				if st.Forward {
					if st.Rel.Source != at {
						t.Fatalf("broken path %+v", path)
					}
					at = st.Rel.Target
				} else {
					if st.Rel.Target != at {
						t.Fatalf("broken path %+v", path)
					}
					at = st.Rel.Source
				}
				got = append(got, byID[at])
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("path %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := s.ShortestPath(ctx, ids["a"], ids["b"], []store.EdgeRule{{Dir: store.Out}}, store.MaxDepth+1); !isInvalid(err, "maxDepth") {
		t.Errorf("maxDepth: %v", err)
	}
	if _, err := s.ShortestPath(ctx, "zz", ids["b"], []store.EdgeRule{{Dir: store.Out}}, 3); !errors.Is(err, store.ErrNotFound) || !contains(err, "from") {
		t.Errorf("missing from: %v", err)
	}
}
