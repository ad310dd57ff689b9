package storetest

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var plannerCases = []testCase{
	{"DecisionChecksAreOneRule", testDecisionChecks},
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
			res, err := st.UpsertCIs(ctx, api, store.UpsertBatch{Items: []store.NodeUpsert{in}, Reconcile: decide})
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.Equal(t, c.status, res[0].Status, "%v", res[0].Err)
			if c.err != nil {
				assert.ErrorIs(t, res[0].Err, c.err)
			} else {
				requireInvalid(t, res[0].Err, c.field)
			}
			// Atomic: the item's error, and nothing written.
			_, err = st.UpsertCIs(ctx, api, store.UpsertBatch{Items: []store.NodeUpsert{in}, Reconcile: decide, Atomic: true})
			var ie *store.ItemError
			require.True(t, errors.As(err, &ie), "atomic: %v", err)
			assert.Equal(t, 0, countCIs(t, st, store.CIFilter{}), "nothing written")
		})
	}
}
