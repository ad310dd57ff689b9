package neo4j

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

func TestListCIs(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	upsert(t, s,
		item("linux", store.Attributes{"name": "lin-1", "environment": "production", "owner": "ops", "support_group": "unix",
			"status": "live", "tags": []string{"pci", "web"}, "cpu": int64(8)}, "k|lin-1"),
		item("linux", store.Attributes{"name": "lin-2", "environment": "test", "owner": "ops", "status": "retired", "cpu": 4.0}, "k|lin-2"),
		item("windows", store.Attributes{"name": "win-1", "environment": "production", "status": "live", "tags": "web"}, "k|win-1"),
		item("app", store.Attributes{"name": "Lin-app", "owner": "ops", "cpu": int64(4)}, "k|app"),
	)
	cut := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	upsert(t, s, item("linux", nil, "k|lin-1"))
	tests := []struct {
		name string
		f    store.NodeFilter
		want []string
	}{
		{"all", store.NodeFilter{Kind: store.KindCI}, []string{"lin-1", "lin-2", "win-1", "Lin-app"}},
		{"classes", store.NodeFilter{Kind: store.KindCI, Classes: []string{"linux", "app"}}, []string{"lin-1", "lin-2", "Lin-app"}},
		{"status", store.NodeFilter{Kind: store.KindCI, Status: []string{"retired", "gone"}}, []string{"lin-2"}},
		{"environment", store.NodeFilter{Kind: store.KindCI, Environment: "production"}, []string{"lin-1", "win-1"}},
		{"owner and support group", store.NodeFilter{Kind: store.KindCI, Owner: "ops", SupportGroup: "unix"}, []string{"lin-1"}},
		{"tag (non-list tags ignored)", store.NodeFilter{Kind: store.KindCI, Tag: "web"}, []string{"lin-1"}},
		{"name prefix, case-sensitive", store.NodeFilter{Kind: store.KindCI, NamePrefix: "lin", CaseSensitive: true}, []string{"lin-1", "lin-2"}},
		{"name prefix ignores case", store.NodeFilter{Kind: store.KindCI, NamePrefix: "LIN"}, []string{"lin-1", "lin-2", "Lin-app"}},
		{"attributes int matches float", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"cpu": int64(4)}}, []string{"lin-2", "Lin-app"}},
		{"attributes list", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"tags": []string{"pci", "web"}}}, []string{"lin-1"}},
		{"attributes string vs int", store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"cpu": "8"}}, nil},
		{"seen before", store.NodeFilter{Kind: store.KindCI, SeenBefore: cut}, []string{"lin-2", "win-1", "Lin-app"}},
		{"no match", store.NodeFilter{Kind: store.KindCI, Owner: "nobody", Classes: []string{"linux"}}, nil},
		{"injection as data", store.NodeFilter{Kind: store.KindCI, Owner: `x'}) DETACH DELETE n //`, Classes: []string{"`a`"}, NamePrefix: "$x"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.ListNodes(ctx, tc.f, store.PageRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range p.Items {
				got = append(got, c.Attributes["name"].(string))
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.want))
			if !reflect.DeepEqual(got, want) || p.Total != len(want) {
				t.Errorf("got %v (total %d), want %v", got, p.Total, want)
			}
		})
	}
	for _, bad := range []struct {
		f     store.NodeFilter
		p     store.PageRequest
		field string
	}{
		{store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"bad name": "x"}}, store.PageRequest{}, "filter.attributes"},
		{store.NodeFilter{Kind: store.KindCI, Attributes: store.Attributes{"x": uint(1)}}, store.PageRequest{}, "filter.attributes.x"},
		{store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: -1}, "first"},
		{store.NodeFilter{Kind: store.KindCI}, store.PageRequest{After: "garbage"}, "after"},
	} {
		if _, err := s.ListNodes(ctx, bad.f, bad.p); !isInvalid(err, bad.field) {
			t.Errorf("%+v %+v: %v, want invalid %s", bad.f, bad.p, err, bad.field)
		}
	}
}

func TestListPagination(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	var items []store.CIUpsert
	for i := 0; i < 25; i++ {
		items = append(items, item("server", store.Attributes{"name": fmt.Sprintf("n%02d", i)}, fmt.Sprintf("k|%d", i)))
	}
	upsert(t, s, items...)
	var all []store.ID
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := s.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 10, After: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 25 {
			t.Errorf("total %d", p.Total)
		}
		for _, c := range p.Items {
			all = append(all, c.ID)
		}
		if !p.HasNext {
			if pages != 2 || len(p.Items) != 5 {
				t.Errorf("last page %d with %d items", pages, len(p.Items))
			}
			break
		}
		cursor = p.EndCursor
	}
	if len(all) != 25 || !slices.IsSorted(all) {
		t.Errorf("ids %v", all)
	}
}

func TestHistoryPagination(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	var id store.ID
	for v := int64(0); v < 7; v++ {
		id = upsert(t, s, item("server", store.Attributes{"v": v}, "k|h"))[0].Node.ID
	}
	var got []int64
	cursor := ""
	for {
		p, err := s.History(ctx, string(id), store.PageRequest{First: 3, After: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 7 {
			t.Errorf("total %d", p.Total)
		}
		for _, r := range p.Items {
			for _, c := range r.Changes {
				if c.Field == "v" {
					got = append(got, c.After.(int64))
				}
			}
		}
		if !p.HasNext {
			break
		}
		cursor = p.EndCursor
	}
	if want := []int64{6, 5, 4, 3, 2, 1, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	if _, err := s.History(ctx, string(id), store.PageRequest{After: store.EncodeCursor("no-time")}); !isInvalid(err, "after") {
		t.Errorf("bad cursor: %v", err)
	}
	if p, err := s.History(ctx, `x'}) DETACH DELETE n //`, store.PageRequest{}); err != nil || p.Total != 0 || p.Items == nil {
		t.Errorf("unknown object: %+v %v", p, err)
	}
}

func TestModelExtensions(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	exts := []store.ModelExtension{
		{Kind: store.KindClass, Name: "Widget", Definition: []byte(`{"parent":"CI","note":"x'}) DETACH DELETE n //"}`)},
		{Kind: store.KindRelationshipType, Name: "Widget", Definition: []byte(`{}`)},
		{Kind: store.KindClass, Name: "Gadget", Definition: []byte(`{}`)},
	}
	for _, e := range exts {
		if err := s.SaveModelExtension(ctx, testActor, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveModelExtension(ctx, testActor, exts[0]); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate: %v", err)
	}
	for _, bad := range []struct {
		e     store.ModelExtension
		field string
	}{
		{store.ModelExtension{Kind: store.KindCI, Name: "X", Definition: []byte("{}")}, "kind"},
		{store.ModelExtension{Kind: store.KindClass, Name: "`a`", Definition: []byte("{}")}, "name"},
		{store.ModelExtension{Kind: store.KindClass, Name: "X"}, "definition"},
	} {
		if err := s.SaveModelExtension(ctx, testActor, bad.e); !isInvalid(err, bad.field) {
			t.Errorf("%+v: %v", bad.e, err)
		}
	}
	got, err := s.ModelExtensions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %v", got)
	}
	for i, e := range exts {
		if got[i].Kind != e.Kind || got[i].Name != e.Name || string(got[i].Definition) != string(e.Definition) || got[i].CreatedAt.IsZero() {
			t.Errorf("extension %d: %+v, want %+v", i, got[i], e)
		}
	}
	h, err := s.History(ctx, "Widget", store.PageRequest{})
	if err != nil || h.Total != 2 || h.Items[1].Kind != store.KindClass ||
		!reflect.DeepEqual(h.Items[1].Changes, []store.FieldChange{{Field: "definition", After: string(exts[0].Definition)}}) {
		t.Errorf("history %+v %v", h, err)
	}
	// Concurrent saves of one name: exactly one wins, the others conflict.
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			errs <- s.SaveModelExtension(ctx, testActor, store.ModelExtension{Kind: store.KindClass, Name: "Raced", Definition: []byte(`{}`)})
		}()
	}
	wins := 0
	for i := 0; i < 8; i++ {
		switch err := <-errs; {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("raced save: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d saves won", wins)
	}
}

// TestInjection stores and queries strings that would change a Cypher
// statement if they were spliced into it.
func TestInjection(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	hostile := []string{"x'}) DETACH DELETE n //", "`a`", "$x", `x"}) MATCH (n) DETACH DELETE n //`, `\'`, "{x}", "a]->() DELETE r //"}
	var items []store.CIUpsert
	for i, h := range hostile {
		items = append(items, item("server", store.Attributes{"name": h, "owner": h, "tags": []string{h}}, h, fmt.Sprintf("k|%d", i)))
	}
	res := upsert(t, s, items...)
	for i, r := range res {
		if r.Status != store.StatusCreated {
			t.Fatalf("item %d: %s %v", i, r.Status, r.Err)
		}
	}
	for i, h := range hostile {
		p, err := s.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI, Owner: h, Tag: h, NamePrefix: h, Attributes: store.Attributes{"name": h}}, store.PageRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != 1 || p.Items[0].ID != res[i].Node.ID || p.Items[0].Keys[0] != h {
			t.Errorf("%q: %+v", h, p.Items)
		}
		// Identified again by the hostile key.
		if r := upsert(t, s, item("server", nil, h)); r[0].Node.ID != res[i].Node.ID {
			t.Errorf("%q: re-identified as %s", h, r[0].Node.ID)
		}
		for _, id := range []store.ID{store.ID(h)} {
			if m, err := s.Nodes(ctx, store.KindCI, []store.ID{id}); err != nil || len(m) != 0 {
				t.Errorf("CIs(%q): %v %v", h, m, err)
			}
			if d, err := s.DeleteNodes(ctx, testActor, store.KindCI, []store.ID{id}); err != nil || d[0].Status != store.StatusNotFound {
				t.Errorf("DeleteCIs(%q): %v %v", h, d, err)
			}
			if _, err := s.ShortestPath(ctx, res[0].Node.ID, id, []store.EdgeRule{{Dir: store.Both}}, 3); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("ShortestPath(%q): %v", h, err)
			}
		}
		rr, err := s.CreateRelationships(ctx, testActor, []store.RelationshipInput{{Type: h, Source: res[0].Node.ID, Target: res[1].Node.ID}}, false)
		if err != nil || rr[0].Status != store.StatusInvalid {
			t.Errorf("relationship type %q: %v %v", h, rr, err)
		}
		if _, err := s.RelationshipsOf(ctx, []store.ID{res[0].Node.ID}, store.Both, []string{h}); !isInvalid(err, "types") {
			t.Errorf("RelationshipsOf(%q): %v", h, err)
		}
	}
	p, err := s.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{})
	if err != nil || p.Total != len(hostile) {
		t.Errorf("after all that: %d CIs, %v", p.Total, err)
	}
}

func TestUnavailable(t *testing.T) {
	cfg := requireNeo4j(t)
	ctx := context.Background()

	// Nothing listens on a port we just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const secret = "s3cret-Pa55word"
	bad := Config{URI: "bolt://" + addr, User: "neo4j", Password: secret, QueryTimeout: 3 * time.Second}
	_, err = Open(ctx, bad)
	if !errors.Is(err, store.ErrUnavailable) || strings.Contains(err.Error(), secret) {
		t.Errorf("closed port: %v", err)
	}
	// Wrong password (for a user that does not exist, so no real account
	// gets locked out after failed attempts).
	wrong := cfg
	wrong.User = "skein-test-nobody"
	wrong.Password = secret
	wrong.QueryTimeout = 10 * time.Second
	_, err = Open(ctx, wrong)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("wrong password: %v", err)
	}
	t.Logf("wrong password: %v", err)
	// Neither the config's String nor its slog form shows the password.
	for _, s := range []string{fmt.Sprint(bad), fmt.Sprintf("%+v", bad), fmt.Sprintf("%#v", bad), slog.AnyValue(bad).String()} {
		if strings.Contains(s, secret) {
			t.Errorf("config printed with its password: %s", s)
		}
	}

	// An expired deadline and a closed store are unavailable too.
	s := openShared(t)
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.ListNodes(expired, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("expired deadline: %v", err)
	}
	other, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := other.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ping after close: %v", err)
	}
	if _, err := other.Nodes(ctx, store.KindCI, []store.ID{"x"}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("read after close: %v", err)
	}
}

// TestQueryErrorsDoNotLeakCypher checks a server-side failure is reported
// with its status code, not with the statement or the server's message.
func TestQueryErrorsDoNotLeakCypher(t *testing.T) {
	s := openShared(t)
	_, err := s.read(context.Background(), "probe", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return collect(ctx, tx, "RETURN 1/0 AS boom // secret-query-text", nil)
	})
	if err == nil || strings.Contains(err.Error(), "secret-query-text") || strings.Contains(err.Error(), "RETURN") {
		t.Errorf("error %v", err)
	}
	if !strings.Contains(err.Error(), "Neo.ClientError") {
		t.Errorf("error %v does not carry the status code", err)
	}
}

// TestFieldsMap: the projection a node's fields are read from names the
// node's own fields and each attribute once, quoted, in one order whatever
// the order asked (one statement text a set of fields).
func TestFieldsMap(t *testing.T) {
	for _, tc := range []struct {
		fields []string
		want   string
	}{
		{nil, "x{.id, ._kind, .class, ._version}"},
		{[]string{"name"}, "x{.id, ._kind, .class, ._version, .`name`}"},
		{[]string{"status", "name", "status", "owner"}, "x{.id, ._kind, .class, ._version, .`name`, .`owner`, .`status`}"},
	} {
		if got := fieldsMap("x", tc.fields); got != tc.want {
			t.Errorf("fieldsMap(%q) = %s, want %s", tc.fields, got, tc.want)
		}
	}
	q := nodeFieldsStatement("MATCH (c:CI {id: id})", []string{"owner", "name"})
	if want := "MATCH (c:CI {id: id})\nWITH c{.id, ._kind, .class, ._version, .`name`, .`owner`} AS m"; !strings.Contains(q, want) || strings.Contains(q, "{MATCH}") {
		t.Errorf("statement:\n%s\nwant it to contain:\n%s", q, want)
	}
}

// TestRowRecords: a statement ending in rowRecords returns its rows a
// thousand to a record, and collectRows gives every row back once, in
// order, whatever their number (none, fewer than a record's, exactly a
// record's, one more, several records' and a part); so does one ending in
// listRecords its three parallel lists, read with parallelLists.
func TestRowRecords(t *testing.T) {
	s := openShared(t)
	rowsQ := "UNWIND range(1, $n) AS x\nWITH collect([x, 'row ' + toString(x)]) AS rows" + rowRecords
	listsQ := "UNWIND range(1, $n) AS x\nWITH collect(x) AS l1, collect('row ' + toString(x)) AS l2, collect(-x) AS l3" + listRecords
	for _, tc := range []struct{ n, records int }{{0, 0}, {1, 1}, {999, 1}, {1000, 1}, {1001, 2}, {2500, 3}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			out, err := s.read(context.Background(), "probe", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
				recs, err := collect(ctx, tx, rowsQ, map[string]any{"n": tc.n})
				if err != nil {
					return nil, err
				}
				rows, err := listRows(recs, 2)
				if err != nil {
					return nil, err
				}
				lrecs, err := collect(ctx, tx, listsQ, map[string]any{"n": tc.n})
				if err != nil {
					return nil, err
				}
				var lists [][]any
				for _, rec := range lrecs {
					a, b, c, err := parallelLists(rec.Values)
					if err != nil {
						return nil, err
					}
					for k := range a {
						lists = append(lists, []any{a[k], b[k], c[k]})
					}
				}
				return [4]any{len(recs), rows, len(lrecs), lists}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got := out.([4]any)
			for k, form := range []string{"rowRecords", "listRecords"} {
				if got[2*k].(int) != tc.records {
					t.Errorf("%s: %d records, want %d", form, got[2*k], tc.records)
				}
				rows := got[2*k+1].([][]any)
				if len(rows) != tc.n {
					t.Fatalf("%s: %d rows, want %d", form, len(rows), tc.n)
				}
				for i, row := range rows {
					if row[0] != int64(i+1) || row[1] != fmt.Sprintf("row %d", i+1) || k == 1 && row[2] != int64(-i-1) {
						t.Fatalf("%s: row %d is %v", form, i, row)
					}
				}
			}
		})
	}
}
