// Package storetest is the conformance suite that every store backend runs,
// word for word: `storetest.Run(t, factory)` from the backend's own tests.
//
// Unlike a suite that only speaks internal/store, it drives identification
// through internal/cmdb's Service and default model, so the cases about
// normalisation, class families and reconciliation test what users get on
// each backend, not a stand-in. It never type-asserts to a backend.
package storetest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Factory returns an empty, open store; the factory arranges for it to be
// closed (t.Cleanup).
type Factory func(t *testing.T) store.Store

type testCase struct {
	name string
	fn   func(t *testing.T, st store.Store)
}

// Run runs every conformance case against stores made by newStore, each
// case on a fresh store.
func Run(t *testing.T, newStore Factory) {
	var cases []testCase
	cases = append(cases, upsertCases...)
	cases = append(cases, updateCases...)
	cases = append(cases, mergeCases...)
	cases = append(cases, identificationCases...)
	cases = append(cases, relationshipCases...)
	cases = append(cases, traversalCases...)
	cases = append(cases, listCases...)
	cases = append(cases, queryCases...)
	cases = append(cases, auditCases...)
	cases = append(cases, hostileCases...)
	cases = append(cases, tokenCases...)
	cases = append(cases, relPageCases...)
	cases = append(cases, valueCases...)
	cases = append(cases, searchCases...)
	cases = append(cases, edgeCases...)
	cases = append(cases, retireCases...)
	cases = append(cases, provenanceCases...)
	cases = append(cases, versionCases...)
	cases = append(cases, plannerCases...)
	cases = append(cases, kindCases...)
	cases = append(cases, sequenceCases...)
	cases = append(cases, syncCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, newStore(t)) })
	}
}

// Actors used by the suite.
var (
	api     = store.Actor{Name: "alice", Source: "api"}
	agent   = store.Actor{Name: "agent:web", Source: "ansible"}
	builder = store.Actor{Name: "storetest", Source: "import"}
)

func newService(t *testing.T, st store.Store) *cmdb.Service {
	t.Helper()
	m, err := cmdb.DefaultModel()
	require.NoError(t, err)
	svc, err := cmdb.NewService(t.Context(), st, m)
	require.NoError(t, err)
	return svc
}

// upsertOK upserts items and requires every item to succeed.
func upsertOK(t *testing.T, svc *cmdb.Service, actor store.Actor, items ...cmdb.UpsertItem) []store.UpsertResult {
	t.Helper()
	res, err := svc.Upsert(t.Context(), actor, items, false)
	require.NoError(t, err)
	require.Len(t, res, len(items))
	for i, r := range res {
		require.NoError(t, r.Err, "item %d", i)
		require.NotEmpty(t, r.Node.ID, "item %d", i)
	}
	return res
}

func app(name string, attrs ...any) cmdb.UpsertItem {
	a := map[string]any{"name": name}
	for i := 0; i+1 < len(attrs); i += 2 {
		a[attrs[i].(string)] = attrs[i+1]
	}
	return cmdb.UpsertItem{Class: "Application", Attributes: a}
}

// nodes creates n Application CIs named prefix0..prefixN-1 and returns
// their ids in order.
func nodes(t *testing.T, st store.Store, prefix string, n int) []store.ID {
	t.Helper()
	svc := newService(t, st)
	items := make([]cmdb.UpsertItem, n)
	for i := range items {
		items[i] = app(fmt.Sprintf("%s%d", prefix, i))
	}
	res := upsertOK(t, svc, builder, items...)
	ids := make([]store.ID, n)
	for i, r := range res {
		ids[i] = r.Node.ID
	}
	return ids
}

type edge struct {
	from, to int
	typ      string
}

// link creates relationships between ids (by index) directly in the store.
func link(t *testing.T, st store.Store, ids []store.ID, edges ...edge) {
	t.Helper()
	for start := 0; start < len(edges); start += 1000 {
		end := min(start+1000, len(edges))
		in := make([]store.RelationshipInput, 0, end-start)
		for _, e := range edges[start:end] {
			typ := e.typ
			if typ == "" {
				typ = "DEPENDS_ON"
			}
			in = append(in, store.RelationshipInput{Type: typ, Source: ids[e.from], Target: ids[e.to]})
		}
		res, err := st.CreateRelationships(t.Context(), builder, in, true)
		require.NoError(t, err)
		for i, r := range res {
			require.NoError(t, r.Err, "edge %d", start+i)
		}
	}
}

func countCIs(t *testing.T, st store.Store, f store.NodeFilter) int {
	t.Helper()
	p, err := st.ListNodes(t.Context(), f, store.PageRequest{First: 1})
	require.NoError(t, err)
	return p.Total
}

func requireInvalid(t *testing.T, err error, field string) *store.InvalidError {
	t.Helper()
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie, "want *InvalidError on %q", field)
	require.Equal(t, field, ie.Field, "reason: %s", ie.Reason)
	return ie
}
