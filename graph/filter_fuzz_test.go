package graph

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// filterStore is a cmdb.Store with no extensions that records the filter
// ListCIs receives; FuzzFilter calls nothing else.
type filterStore struct {
	cmdb.Store
	got *store.NodeFilter
}

func (filterStore) ModelExtensions(context.Context) ([]store.ModelExtension, error) { return nil, nil }

func (s filterStore) ListNodes(_ context.Context, f store.NodeFilter, _ store.PageRequest) (store.Page[store.CI], error) {
	*s.got = f
	return store.Page[store.CI]{}, nil
}

// FuzzFilter sends arbitrary cis(filter:) arguments through the resolver's
// conversion (filterIn, then the service's model checks). The only errors
// are *InvalidErrors on "filter…"; a filter that reaches the store names
// only model classes and valid statuses.
func FuzzFilter(f *testing.F) {
	base, err := cmdb.DefaultModel()
	if err != nil {
		f.Fatal(err)
	}
	var got store.NodeFilter
	svc, err := cmdb.NewService(f.Context(), filterStore{got: &got}, base)
	if err != nil {
		f.Fatal(err)
	}
	status, _ := svc.Model().Classes()[0].Attribute("status")

	f.Add("Server", false, `["active","RETIRED"]`, "production", `{"cpu_count":8,"tags":["a"]}`, "")
	f.Add("LinuxServer", true, `["nope"]`, "", `{"cpu_count":"8"}`, CIGlobalID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"))
	f.Add("", false, `null`, "staging", `{"serial_number":null}`, "Q0k6")
	f.Add("x'}) MATCH (n) DETACH DELETE n //", false, `["'; DROP TABLE cis; --"]`, "$param", `{"x'}) MATCH (n) DETACH DELETE n //":1}`, "`n`")
	f.Add("Application", false, `[]`, "'; DROP TABLE cis; --", `[1,2]`, globalID(typeRelationship, "r1.x"))
	f.Add("Database", false, `[""," "]`, " ", `{"name":{"nested":{"deep":[1,{"x":null}]}}}`, "\xff")
	f.Fuzz(func(t *testing.T, class string, exact bool, statusJSON, env, attrsJSON, id string) {
		in := &model.CIFilter{Class: &class, ExactClass: &exact, Environment: &env, Ids: []string{id}}
		_ = json.Unmarshal([]byte(statusJSON), &in.Status)
		dec := json.NewDecoder(strings.NewReader(attrsJSON))
		dec.UseNumber() // as gqlgen decodes variables
		if dec.Decode(&in.Attributes) != nil {
			in.Attributes = attrsJSON
		}
		got = store.NodeFilter{Kind: store.KindCI}
		fl, err := filterIn(in)
		if err == nil {
			_, err = svc.ListCIs(t.Context(), fl, store.PageRequest{})
		}
		if err != nil {
			var ie *store.InvalidError
			if !errors.As(err, &ie) || !strings.HasPrefix(ie.Field, "filter.") {
				t.Fatalf("error %v (%T) is not an *InvalidError on filter.…", err, err)
			}
			return
		}
		m := svc.Model()
		if class != "" {
			if len(got.Classes) == 0 || (exact && len(got.Classes) != 1) {
				t.Fatalf("class %q (exact %v) became %v", class, exact, got.Classes)
			}
		}
		for _, c := range got.Classes {
			if _, ok := m.Class(c); !ok {
				t.Fatalf("filter names unknown class %q", c)
			}
		}
		if len(got.Status) != len(in.Status) {
			t.Fatalf("statuses %q became %q", in.Status, got.Status)
		}
		for _, s := range got.Status {
			if !slices.Contains(status.Values, s) {
				t.Fatalf("status %q is not one of %v", s, status.Values)
			}
		}
		for k, v := range got.Attributes {
			if v == nil || !store.ValidIdentifier(k) {
				t.Fatalf("attribute filter %q = %#v", k, v)
			}
		}
	})
}

// FuzzWhere sends arbitrary cis(where:, orderBy:) arguments through the
// resolver's conversion (whereIn, orderIn) and the service's type checks.
// The only errors are *InvalidErrors on "where…" or "orderBy…"; an
// expression that reaches the store passes the store's own Check, so a
// backend compiles nothing it did not expect.
func FuzzWhere(f *testing.F) {
	base, err := cmdb.DefaultModel()
	if err != nil {
		f.Fatal(err)
	}
	var got store.NodeFilter
	svc, err := cmdb.NewService(f.Context(), filterStore{got: &got}, base)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(`{"and":[{"attribute":"cpu_count","gte":8},{"not":{"attribute":"tags","contains":"pci"}}]}`, "NAME", false)
	f.Add(`{"attribute":"criticality","gte":2,"lte":3,"caseSensitive":true}`, "CREATED_AT", true)
	f.Add(`{"or":[{"attribute":"engine","in":["postgresql",1,2.5]},{"field":"CLASS","eq":"Server"}]}`, "ID", false)
	f.Add(`{"attribute":"x') OR 1=1 --","eq":"'; DROP TABLE cis; --"}`, "name DESC; --", true)
	f.Add(`{"field":"LAST_SEEN_AT","lt":"2024-01-01","exists":true}`, "", false)
	f.Add(`{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"attribute":"name","eq":"x"}}}}}}}}}}`, "OWNER", false)
	f.Add(`{"attribute":"name","eq":{"nested":[1,{"x":null}]},"in":[],"and":[]}`, "STATUS", true)
	f.Fuzz(func(t *testing.T, whereJSON, sortField string, desc bool) {
		var w model.CIWhere
		dec := json.NewDecoder(strings.NewReader(whereJSON))
		dec.UseNumber() // as gqlgen decodes variables
		if dec.Decode(&w) != nil {
			return
		}
		dir := model.SortDirectionAsc
		if desc {
			dir = model.SortDirectionDesc
		}
		got = store.NodeFilter{Kind: store.KindCI}
		var fl cmdb.Filter
		fl.Where, err = whereIn(&w, "where")
		if err == nil {
			fl.Sort = orderIn(&model.CIOrder{Field: model.CISortField(sortField), Direction: &dir})
			_, err = svc.ListCIs(t.Context(), fl, store.PageRequest{})
		}
		if err != nil {
			var ie *store.InvalidError
			if !errors.As(err, &ie) || !(strings.HasPrefix(ie.Field, "where") || strings.HasPrefix(ie.Field, "orderBy")) {
				t.Fatalf("error %v (%T) is not an *InvalidError on where… or orderBy…", err, err)
			}
			return
		}
		if got.Where == nil {
			t.Fatal("a where that passed did not reach the store")
		}
		if err := got.Where.Check("where"); err != nil {
			t.Fatalf("the store refuses a checked expression: %v", err)
		}
		if err := got.Sort.Check(); err != nil {
			t.Fatalf("the store refuses a checked sort: %v", err)
		}
	})
}
