package storetest

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var plannerCases = []testCase{
	{"DecisionChecksAreOneRule", testDecisionChecks},
	{"PlannerStatuses", testPlannerStatuses},
}

// decide is a trivial store.Decide, independent of any model: reported
// attributes replace stored ones key by key (nil clears), the class and
// keys are the reported ones. An attribute "fail" of "conflict",
// "invalid" or "boom" makes it fail that way.
func decide(ex *store.Node, in store.NodeUpsert, source string) (store.Decision, error) {
	switch in.Attributes["fail"] {
	case "conflict":
		return store.Decision{}, fmt.Errorf("test conflict: %w", store.ErrConflict)
	case "invalid":
		return store.Decision{}, store.Invalid("attributes.fail", "asked to fail")
	case "boom":
		return store.Decision{}, fmt.Errorf("boom")
	}
	d := store.Decision{Class: in.Class, Attributes: store.Attributes{}, Sources: map[string]string{}, Keys: in.Keys}
	if ex == nil {
		d.Changes = append(d.Changes, store.FieldChange{Field: "class", After: in.Class})
	} else {
		for k, v := range ex.Attributes {
			d.Attributes[k] = v
		}
		for k, v := range ex.Sources {
			d.Sources[k] = v
		}
		if in.Class != ex.Class {
			d.Changes = append(d.Changes, store.FieldChange{Field: "class", Before: ex.Class, After: in.Class})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(in.Attributes)) {
		v := in.Attributes[k]
		old, has := d.Attributes[k]
		switch {
		case v == nil && has:
			delete(d.Attributes, k)
			delete(d.Sources, k)
			d.Changes = append(d.Changes, store.FieldChange{Field: k, Before: old})
		case v != nil && (!has || !store.EqualValues(old, v)):
			d.Attributes[k], d.Sources[k] = v, source
			var before any
			if has {
				before = old
			}
			d.Changes = append(d.Changes, store.FieldChange{Field: k, Before: before, After: v})
		}
	}
	return d, nil
}

func pitem(class string, keys []string, kv ...any) store.NodeUpsert {
	a := store.Attributes{}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return store.NodeUpsert{Class: class, Attributes: a, Keys: keys}
}

// testPlannerStatuses: the planner's outcomes for each kind of item, with
// a decision independent of the model: created, unchanged, updated, identity
// conflicts (two owners, a claimed key of another CI), the decision's own
// failures, invalid items, a failing decision failing the call, atomic
// batches writing nothing, batch-level errors. (Once a test per backend;
// the planner is one now.)
func testPlannerStatuses(t *testing.T, st store.Store) {
	ctx := t.Context()
	up := func(atomic bool, items ...store.NodeUpsert) ([]store.UpsertResult, error) {
		return st.UpsertNodes(ctx, api, store.UpsertBatch{Items: items, Reconcile: decide, Atomic: atomic})
	}
	base, err := up(false,
		pitem("Server", []string{"sn|A", "name|a"}, "name", "a", "cpu", int64(4), "tags", []string{"x", "y"}),
		pitem("Server", []string{"sn|B"}, "name", "b"),
	)
	require.NoError(t, err)
	a, b := base[0].Node, base[1].Node
	require.Equal(t, store.StatusCreated, base[0].Status)
	assert.Equal(t, []string{"sn|A", "name|a"}, a.Keys)
	assert.Equal(t, map[string]time.Time{"api": a.CreatedAt}, a.SeenBy)
	assert.Equal(t, a.CreatedAt, a.LastSeenAt)
	assert.Equal(t, a.CreatedAt, a.UpdatedAt)
	assert.Equal(t, "api", a.Sources["name"])

	tests := []struct {
		name   string
		items  []store.NodeUpsert
		atomic bool
		want   []store.Status
		same   []store.ID // expected ids of the non-failing items (""= new)
		err    string     // whole-call error text, if any
		field  string     // InvalidError field of the first failed item
	}{
		{name: "unchanged", items: []store.NodeUpsert{pitem("Server", []string{"sn|A"}, "name", "a")},
			want: []store.Status{store.StatusUnchanged}, same: []store.ID{a.ID}},
		{name: "update", items: []store.NodeUpsert{pitem("Server", []string{"sn|A", "name|a"}, "cpu", int64(8))},
			want: []store.Status{store.StatusUpdated}, same: []store.ID{a.ID}},
		{name: "create", items: []store.NodeUpsert{pitem("Server", []string{"sn|C"}, "name", "c")},
			want: []store.Status{store.StatusCreated}, same: []store.ID{""}},
		{name: "two owners conflict", items: []store.NodeUpsert{pitem("Server", []string{"sn|A", "sn|B"}, "name", "ab")},
			want: []store.Status{store.StatusConflict}},
		{name: "claiming another CI's key conflicts", items: []store.NodeUpsert{pitem("Server", []string{"sn|new"}, "name", "n"), pitem("Server", []string{"sn|new", "sn|B"})},
			want: []store.Status{store.StatusCreated, store.StatusConflict}, same: []store.ID{""}},
		{name: "later items see earlier ones", items: []store.NodeUpsert{
			pitem("Server", []string{"sn|L"}, "name", "l"), pitem("Server", []string{"sn|L", "name|l"}, "cpu", int64(2)), pitem("Server", []string{"name|l"}, "cpu", int64(2))},
			want: []store.Status{store.StatusCreated, store.StatusUpdated, store.StatusUnchanged}},
		{name: "decision conflict", items: []store.NodeUpsert{pitem("Server", []string{"sn|A"}, "fail", "conflict"), pitem("Server", []string{"sn|D"})},
			want: []store.Status{store.StatusConflict, store.StatusCreated}},
		{name: "decision invalid", items: []store.NodeUpsert{pitem("Server", []string{"sn|A"}, "fail", "invalid")},
			want: []store.Status{store.StatusInvalid}, field: "items[0].attributes.fail"},
		{name: "bad class", items: []store.NodeUpsert{pitem("Server", []string{"sn|E"}), pitem("no class", []string{"sn|F"})},
			want: []store.Status{store.StatusCreated, store.StatusInvalid}},
		{name: "no keys", items: []store.NodeUpsert{pitem("Server", nil)},
			want: []store.Status{store.StatusInvalid}, field: "items[0].keys"},
		{name: "empty key", items: []store.NodeUpsert{pitem("Server", []string{"ok", ""})},
			want: []store.Status{store.StatusInvalid}, field: "items[0].keys[1]"},
		{name: "reserved attribute", items: []store.NodeUpsert{pitem("Server", []string{"k"}, "id", "x")},
			want: []store.Status{store.StatusInvalid}, field: "items[0].attributes.id"},
		{name: "unsupported value", items: []store.NodeUpsert{pitem("Server", []string{"k2"}, "n", 3)},
			want: []store.Status{store.StatusInvalid}, field: "items[0].attributes.n"},
		{name: "a failing decision fails the call", items: []store.NodeUpsert{pitem("Server", []string{"sn|G"}), pitem("Server", []string{"sn|A"}, "fail", "boom")},
			err: "boom"},
		{name: "atomic conflict writes nothing", atomic: true,
			items: []store.NodeUpsert{pitem("Server", []string{"sn|H"}), pitem("Server", []string{"sn|A", "sn|B"})},
			err:   "item 1"},
		{name: "atomic invalid writes nothing", atomic: true,
			items: []store.NodeUpsert{pitem("Server", []string{"sn|I"}), pitem("Server", []string{"sn|A"}, "fail", "invalid")},
			err:   "item 1", field: "items[1].attributes.fail"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := countCIs(t, st, store.NodeFilter{Kind: store.KindCI})
			res, err := up(tt.atomic, tt.items...)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				if tt.atomic {
					var ie *store.ItemError
					require.ErrorAs(t, err, &ie)
				}
				if tt.field != "" {
					requireInvalid(t, err, tt.field)
				}
				assert.Equal(t, before, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}), "a failed call writes nothing")
				return
			}
			require.NoError(t, err)
			require.Len(t, res, len(tt.want))
			j := 0
			for i, w := range tt.want {
				assert.Equal(t, w, res[i].Status, "item %d: %v", i, res[i].Err)
				switch w {
				case store.StatusConflict:
					assert.ErrorIs(t, res[i].Err, store.ErrConflict)
				case store.StatusInvalid:
					var inv *store.InvalidError
					require.ErrorAs(t, res[i].Err, &inv)
					assert.Contains(t, inv.Field, fmt.Sprintf("items[%d]", i))
					if tt.field != "" && i == 0 {
						assert.Equal(t, tt.field, inv.Field)
					}
				default:
					if j < len(tt.same) && tt.same[j] != "" {
						assert.Equal(t, tt.same[j], res[i].Node.ID)
					}
					j++
				}
			}
			// The last result of each CI is the CI as stored.
			last := map[store.ID]store.CI{}
			for _, r := range res {
				if r.Err == nil {
					last[r.Node.ID] = r.Node
				}
			}
			for id, want := range last {
				got, err := st.Nodes(ctx, store.KindCI, []store.ID{id})
				require.NoError(t, err)
				assert.Equal(t, want, got[id], "result CI is the CI as stored")
			}
		})
	}
	// The conflict names both CIs.
	res, err := up(false, pitem("Server", []string{"sn|A", "sn|B"}))
	require.NoError(t, err)
	var ce *store.ConflictError
	require.ErrorAs(t, res[0].Err, &ce)
	assert.Equal(t, []store.ID{a.ID, b.ID}, ce.CIs)
	// Batch-level errors.
	_, err = st.UpsertNodes(ctx, api, store.UpsertBatch{Reconcile: decide})
	requireInvalid(t, err, "items")
	_, err = st.UpsertNodes(ctx, api, store.UpsertBatch{Items: []store.NodeUpsert{pitem("Server", []string{"k"})}})
	requireInvalid(t, err, "reconcile")
}

// testDecisionChecks: what a Decide function returns is checked by one
// rule (store.CheckDecision) on every backend: the same bad decision is the
// same invalid item, naming the same field, and writes nothing. (The two
// backends checked decisions differently before the planner: Neo4j failed
// the whole call on an out-of-range time, the embedded store the item.)
func testDecisionChecks(t *testing.T, st store.Store) {
	ctx := t.Context()
	good := store.Decision{Class: "Application", Attributes: store.Attributes{"name": "d"}, Keys: []string{"Application|0|d"},
		Changes: []store.FieldChange{{Field: "name", After: "d"}}}
	for _, c := range []struct {
		name   string
		mutate func(d *store.Decision)
		field  string
		status store.Status
		err    error
	}{
		{"class", func(d *store.Decision) { d.Class = "no class" }, "items[0].class", store.StatusInvalid, nil},
		{"no keys", func(d *store.Decision) { d.Keys = nil }, "items[0].keys", store.StatusInvalid, nil},
		{"empty key", func(d *store.Decision) { d.Keys = []string{"Application|0|d", ""} }, "items[0].keys[1]", store.StatusInvalid, nil},
		{"reserved name", func(d *store.Decision) { d.Attributes = store.Attributes{"name": "d", "class": "x"} }, "items[0].attributes.class", store.StatusInvalid, nil},
		{"bad name", func(d *store.Decision) { d.Attributes = store.Attributes{"name": "d", "a b": "x"} }, "items[0].attributes", store.StatusInvalid, nil},
		{"NaN", func(d *store.Decision) { d.Attributes = store.Attributes{"name": "d", "f": math.NaN()} }, "items[0].attributes.f", store.StatusInvalid, nil},
		{"time out of range", func(d *store.Decision) {
			d.Attributes = store.Attributes{"name": "d", "t": time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)}
		}, "items[0].attributes.t", store.StatusInvalid, nil},
		{"unsupported type", func(d *store.Decision) { d.Attributes = store.Attributes{"name": "d", "u": uint8(1)} }, "items[0].attributes.u", store.StatusInvalid, nil},
		{"not found", nil, "", store.StatusNotFound, store.ErrNotFound},
		{"conflict", nil, "", store.StatusConflict, store.ErrConflict},
	} {
		t.Run(c.name, func(t *testing.T) {
			decide := func(*store.Node, store.NodeUpsert, string) (store.Decision, error) {
				if c.err != nil {
					return store.Decision{}, fmt.Errorf("decided: %w", c.err)
				}
				d := good
				c.mutate(&d)
				return d, nil
			}
			in := store.NodeUpsert{Class: "Application", Attributes: store.Attributes{"name": "d"}, Keys: []string{"Application|0|d"}}
			res, err := st.UpsertNodes(ctx, api, store.UpsertBatch{Items: []store.NodeUpsert{in}, Reconcile: decide})
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.Equal(t, c.status, res[0].Status, "%v", res[0].Err)
			if c.err != nil {
				assert.ErrorIs(t, res[0].Err, c.err)
			} else {
				requireInvalid(t, res[0].Err, c.field)
			}
			// Atomic: the item's error, and nothing written.
			_, err = st.UpsertNodes(ctx, api, store.UpsertBatch{Items: []store.NodeUpsert{in}, Reconcile: decide, Atomic: true})
			var ie *store.ItemError
			require.True(t, errors.As(err, &ie), "atomic: %v", err)
			assert.Equal(t, 0, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}), "nothing written")
		})
	}
}
