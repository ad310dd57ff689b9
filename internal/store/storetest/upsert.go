package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

var upsertCases = []testCase{
	{"UpsertCreateAndRead", testUpsertCreateAndRead},
	{"UpsertIsIdempotent", testUpsertIsIdempotent},
	{"UpsertUpdateReportsChanges", testUpsertUpdate},
	{"UpsertSameCITwiceInBatch", testSameCITwiceInBatch},
	{"UpsertInvalidItemsDoNotSinkBatch", testInvalidItemsDoNotSinkBatch},
	{"UpsertAtomicBatchIsAllOrNothing", testAtomicBatch},
	{"UpsertParallelNeverDuplicates", testParallelUpserts},
	{"UpsertRecordsLastSeenPerSource", testLastSeenPerSource},
	{"UpdateCIByID", testUpdateCI},
	{"DeleteCIsCascades", testDeleteCIs},
	{"CIsReturnsOnlyExisting", testCIsByID},
	{"Ping", func(t *testing.T, st store.Store) { require.NoError(t, st.Ping(t.Context())) }},
}

func testUpsertCreateAndRead(t *testing.T, st store.Store) {
	svc := newService(t, st)
	when := time.Date(2024, 5, 1, 12, 30, 15, 123456000, time.UTC)
	before := time.Now().UTC().Add(-time.Second)
	res := upsertOK(t, svc, agent, cmdb.UpsertItem{Class: "LinuxServer", Attributes: map[string]any{
		"name": "web01", "serial_number": "SN-0001", "dns_domain": "example.com", "cpu_count": 8,
		"memory_mb": "16384", "tags": []any{"web", "dmz"}, "environment": "Production",
		"description": "front end, \"quoted\" and 'single' and ünïcode ✓",
	}}, cmdb.UpsertItem{Class: "StorageArray", Attributes: map[string]any{"name": "array1", "capacity_tb": 3.0, "serial_number": "ARR1"}},
		cmdb.UpsertItem{Class: "KubernetesCluster", Attributes: map[string]any{"name": "k1", "min_members_up": 0}},
	)
	for _, r := range res {
		assert.Equal(t, store.StatusCreated, r.Status)
		assert.NotEmpty(t, r.Changes)
	}
	got, err := st.Nodes(t.Context(), store.KindCI, []store.ID{res[0].Node.ID, res[1].Node.ID, res[2].Node.ID})
	require.NoError(t, err)
	require.Len(t, got, 3)
	ci := got[res[0].Node.ID]
	assert.Equal(t, "LinuxServer", ci.Class)
	assert.Equal(t, store.Attributes{
		"name": "web01", "serial_number": "SN0001", "dns_domain": "example.com", "cpu_count": int64(8),
		"memory_mb": int64(16384), "tags": []string{"dmz", "web"}, "environment": "production", "status": "live",
		"description": "front end, \"quoted\" and 'single' and ünïcode ✓",
	}, ci.Attributes)
	assert.ElementsMatch(t, []string{"Server|serial_number|SN0001", "Server|name+dns_domain|web01\x1fexample.com"}, ci.Keys)
	assert.Equal(t, "ansible", ci.Sources["name"])
	assert.True(t, ci.CreatedAt.After(before), "created_at %v", ci.CreatedAt)
	assert.Equal(t, time.UTC, ci.CreatedAt.Location())
	assert.True(t, ci.UpdatedAt.Equal(ci.CreatedAt))
	assert.True(t, ci.LastSeenAt.Equal(ci.CreatedAt))
	assert.Contains(t, ci.SeenBy, "ansible")
	assert.Equal(t, 3.0, got[res[1].Node.ID].Attributes["capacity_tb"], "a whole float stays a float")
	assert.IsType(t, float64(0), got[res[1].Node.ID].Attributes["capacity_tb"])
	assert.Equal(t, int64(0), got[res[2].Node.ID].Attributes["min_members_up"], "zero is a value, not absent")

	// Time attributes round-trip exactly, through a registered class.
	_, err = svc.RegisterClass(t.Context(), api, cmdb.ClassDef{Name: "Certificate", Parent: "CI",
		Attributes:     []cmdb.AttributeDef{{Name: "expires_at", Type: cmdb.TypeTime}, {Name: "self_signed", Type: cmdb.TypeBool}},
		Identification: [][]string{{"name"}}})
	require.NoError(t, err)
	res = upsertOK(t, svc, api, cmdb.UpsertItem{Class: "Certificate", Attributes: map[string]any{"name": "c1", "expires_at": when.Format(time.RFC3339Nano), "self_signed": false}})
	got, err = st.Nodes(t.Context(), store.KindCI, []store.ID{res[0].Node.ID})
	require.NoError(t, err)
	exp, ok := got[res[0].Node.ID].Attributes["expires_at"].(time.Time)
	require.True(t, ok, "time attribute comes back as time.Time, got %T", got[res[0].Node.ID].Attributes["expires_at"])
	assert.True(t, exp.Equal(when), "%v != %v", exp, when)
	assert.Equal(t, false, got[res[0].Node.ID].Attributes["self_signed"])
}

func testUpsertIsIdempotent(t *testing.T, st store.Store) {
	svc := newService(t, st)
	const n = 1000
	items := make([]cmdb.UpsertItem, n)
	for i := range items {
		items[i] = cmdb.UpsertItem{Class: "LinuxServer", Attributes: map[string]any{
			"name": fmt.Sprintf("host%04d", i), "dns_domain": "example.com", "serial_number": fmt.Sprintf("SER%06d", i),
			"cpu_count": i%64 + 1, "tags": []any{"bulk"},
		}}
	}
	first := upsertOK(t, svc, agent, items...)
	for i, r := range first {
		require.Equal(t, store.StatusCreated, r.Status, "item %d", i)
	}
	second := upsertOK(t, svc, agent, items...)
	for i, r := range second {
		require.Equal(t, store.StatusUnchanged, r.Status, "item %d", i)
		require.Equal(t, first[i].Node.ID, r.Node.ID, "item %d", i)
		require.Empty(t, r.Changes)
	}
	assert.Equal(t, n, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testUpsertUpdate(t *testing.T, st store.Store) {
	svc := newService(t, st)
	r0 := upsertOK(t, svc, agent, app("billing", "version", "1.0", "owner", "team-a"))[0]
	time.Sleep(2 * time.Millisecond) // so UpdatedAt can differ from CreatedAt at ms precision
	r1 := upsertOK(t, svc, agent, app("billing", "version", "1.1", "vendor", "ACME"))[0]
	require.Equal(t, store.StatusUpdated, r1.Status)
	assert.Equal(t, r0.Node.ID, r1.Node.ID)
	assert.Equal(t, []store.FieldChange{
		{Field: "vendor", Before: nil, After: "ACME"},
		{Field: "version", Before: "1.0", After: "1.1"},
	}, r1.Changes)
	assert.Equal(t, "team-a", r1.Node.Attributes["owner"], "attributes not reported are kept")
	assert.True(t, r1.Node.UpdatedAt.After(r1.Node.CreatedAt))
	assert.True(t, r1.Node.CreatedAt.Equal(r0.Node.CreatedAt))
}

func testSameCITwiceInBatch(t *testing.T, st store.Store) {
	svc := newService(t, st)
	res := upsertOK(t, svc, agent, app("pay", "version", "1"), app("PAY", "version", "2"), app("PAY", "version", "2"))
	assert.Equal(t, store.StatusCreated, res[0].Status)
	assert.Equal(t, store.StatusUpdated, res[1].Status)
	assert.Equal(t, store.StatusUnchanged, res[2].Status)
	assert.Equal(t, res[0].Node.ID, res[1].Node.ID)
	assert.Equal(t, res[0].Node.ID, res[2].Node.ID)
	assert.Equal(t, "2", res[2].Node.Attributes["version"])
	assert.Equal(t, "PAY", res[2].Node.Attributes["name"])
	assert.Equal(t, 1, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testInvalidItemsDoNotSinkBatch(t *testing.T, st store.Store) {
	svc := newService(t, st)
	res, err := svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{
		app("good1"),
		{Class: "NoSuchClass", Attributes: map[string]any{"name": "x"}},
		{Class: "Application", Attributes: map[string]any{"vendor": "no name"}},
		app("good2", "criticality", 7),
		app("good3"),
	}, false)
	require.NoError(t, err)
	want := []store.Status{store.StatusCreated, store.StatusInvalid, store.StatusInvalid, store.StatusInvalid, store.StatusCreated}
	for i, w := range want {
		assert.Equal(t, w, res[i].Status, "item %d: %v", i, res[i].Err)
	}
	requireInvalid(t, res[1].Err, "items[1].class")
	requireInvalid(t, res[2].Err, "items[2].attributes.name")
	requireInvalid(t, res[3].Err, "items[3].attributes.criticality")
	assert.Equal(t, 2, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
}

func testAtomicBatch(t *testing.T, st store.Store) {
	svc := newService(t, st)
	upsertOK(t, svc, agent, app("existing", "version", "1"))
	// An invalid item caught before the store.
	_, err := svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{app("a1"), app("existing", "version", "2"), app("bad", "status", "exploded")}, true)
	var ie *store.ItemError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 2, ie.Index)
	requireInvalid(t, err, "items[2].attributes.status")
	// A conflict found inside the store's transaction.
	upsertOK(t, svc, agent,
		cmdb.UpsertItem{Class: "Server", Attributes: map[string]any{"name": "s1", "serial_number": "S1"}},
		cmdb.UpsertItem{Class: "Server", Attributes: map[string]any{"name": "s2", "serial_number": "S2", "dns_domain": "d"}})
	_, err = svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{
		app("a2"),
		app("existing", "version", "3"),
		{Class: "Server", Attributes: map[string]any{"name": "s2", "dns_domain": "d", "serial_number": "S1"}},
	}, true)
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, 2, ie.Index)
	assert.ErrorIs(t, err, store.ErrConflict)
	// Nothing of either batch was written.
	assert.Equal(t, 3, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
	p, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, NamePrefix: "existing"}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.Equal(t, "1", p.Items[0].Attributes["version"])
	// A good atomic batch is written whole.
	res, err := svc.Upsert(t.Context(), agent, []cmdb.UpsertItem{app("a3"), app("existing", "version", "4")}, true)
	require.NoError(t, err)
	assert.Equal(t, store.StatusCreated, res[0].Status)
	assert.Equal(t, store.StatusUpdated, res[1].Status)
}

// testParallelUpserts: 8 writers upsert the same 200 CIs at once, each
// writer reporting them differently (some with the serial number in another
// format, some by name and domain only). Every CI carries the name+domain
// key, so any two reports of one CI share a key and the store's uniqueness
// must make them one CI.
func testParallelUpserts(t *testing.T, st store.Store) {
	svc := newService(t, st)
	const writers, cis = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, writers*cis)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			items := make([]cmdb.UpsertItem, cis)
			for i := range items {
				// Rotate the order so writers collide on different CIs first.
				n := (i + w*25) % cis
				a := map[string]any{"name": fmt.Sprintf("node%03d", n), "dns_domain": "dc1.example.com"}
				switch w % 3 {
				case 0:
					a["serial_number"] = fmt.Sprintf("ab-%03d", n)
				case 1:
					a["serial_number"] = fmt.Sprintf("AB %03d", n)
					a["name"] = fmt.Sprintf("NODE%03d", n)
				}
				class := "Server"
				if w%2 == 1 {
					class = "LinuxServer"
				}
				items[i] = cmdb.UpsertItem{Class: class, Attributes: a}
			}
			// Two batches per writer, so transactions interleave more.
			for _, part := range [][]cmdb.UpsertItem{items[:cis/2], items[cis/2:]} {
				res, err := svc.Upsert(t.Context(), store.Actor{Name: fmt.Sprintf("writer%d", w), Source: "ansible"}, part, false)
				if err != nil {
					errs <- err
					return
				}
				for _, r := range res {
					if r.Err != nil {
						errs <- fmt.Errorf("writer %d: %s: %w", w, r.Status, r.Err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, cis, countCIs(t, st, store.NodeFilter{Kind: store.KindCI}))
	p, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, Classes: []string{"LinuxServer"}}, store.PageRequest{First: 1})
	require.NoError(t, err)
	assert.Equal(t, cis, p.Total, "the most specific class won everywhere")
}

func testLastSeenPerSource(t *testing.T, st store.Store) {
	svc := newService(t, st)
	r0 := upsertOK(t, svc, agent, app("seen"))[0]
	time.Sleep(5 * time.Millisecond)
	r1 := upsertOK(t, svc, store.Actor{Name: "k8s", Source: "kubernetes"}, app("seen"))[0]
	assert.Equal(t, store.StatusUnchanged, r1.Status)
	got, err := st.Nodes(t.Context(), store.KindCI, []store.ID{r0.Node.ID})
	require.NoError(t, err)
	ci := got[r0.Node.ID]
	require.Contains(t, ci.SeenBy, "ansible")
	require.Contains(t, ci.SeenBy, "kubernetes")
	assert.True(t, ci.SeenBy["kubernetes"].After(ci.SeenBy["ansible"]))
	assert.True(t, ci.LastSeenAt.Equal(ci.SeenBy["kubernetes"]))
	assert.True(t, ci.UpdatedAt.Equal(ci.CreatedAt), "a sighting is not an update")
	// Stale CIs can be found.
	cut := ci.LastSeenAt.Add(time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	upsertOK(t, svc, agent, app("fresh"))
	p, err := st.ListNodes(t.Context(), store.NodeFilter{Kind: store.KindCI, SeenBefore: cut}, store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	assert.Equal(t, r0.Node.ID, p.Items[0].ID)
}

func testUpdateCI(t *testing.T, st store.Store) {
	svc := newService(t, st)
	r0 := upsertOK(t, svc, agent, app("crm", "owner", "sales-it", "version", "3"))[0]
	r1, err := svc.UpdateCI(t.Context(), api, r0.Node.ID, map[string]any{"owner": "crm-team", "version": nil})
	require.NoError(t, err)
	assert.Equal(t, store.StatusUpdated, r1.Status)
	assert.Equal(t, "crm-team", r1.Node.Attributes["owner"])
	assert.NotContains(t, r1.Node.Attributes, "version")
	// The agent's next scan cannot revert what a person set through the API.
	r2 := upsertOK(t, svc, agent, app("crm", "owner", "sales-it"))[0]
	assert.Equal(t, store.StatusUnchanged, r2.Status)
	assert.Equal(t, "crm-team", r2.Node.Attributes["owner"])

	_, err = svc.UpdateCI(t.Context(), api, store.ID("00000000-0000-7000-8000-000000000000"), map[string]any{"owner": "x"})
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = svc.UpdateCI(t.Context(), api, r0.Node.ID, map[string]any{"name": nil})
	requireInvalid(t, err, "attributes.name")
	_, err = svc.UpdateCI(t.Context(), api, r0.Node.ID, map[string]any{"colour": "red"})
	requireInvalid(t, err, "attributes.colour")
}

func testDeleteCIs(t *testing.T, st store.Store) {
	svc := newService(t, st)
	ids := nodes(t, st, "del", 3)
	link(t, st, ids, edge{0, 1, ""}, edge{1, 2, ""}, edge{2, 0, "HOSTED_ON"})
	missing := store.ID("00000000-0000-7000-8000-000000000001")
	res, err := st.DeleteNodes(t.Context(), api, store.KindCI, []store.ID{ids[1], missing})
	require.NoError(t, err)
	assert.Equal(t, store.StatusDeleted, res[0].Status)
	assert.Equal(t, "del1", res[0].Node.Attributes["name"])
	assert.Equal(t, store.StatusNotFound, res[1].Status)

	got, err := st.Nodes(t.Context(), store.KindCI, ids)
	require.NoError(t, err)
	assert.NotContains(t, got, ids[1])
	assert.Len(t, got, 2)
	rels, err := st.RelationshipsOf(t.Context(), ids, store.Both, nil)
	require.NoError(t, err)
	var all []store.Relationship
	for _, rs := range rels {
		for _, r := range rs {
			assert.NotEqual(t, ids[1], r.Source)
			assert.NotEqual(t, ids[1], r.Target)
			all = append(all, r)
		}
	}
	assert.Len(t, all, 2, "only 2->0 remains, seen from both ends")
	// The identity keys went with the CI: reporting it again creates a new CI.
	r := upsertOK(t, svc, agent, app("del1"))[0]
	assert.Equal(t, store.StatusCreated, r.Status)
	assert.NotEqual(t, ids[1], r.Node.ID)
	// The deletion is in the audit trail with the values before.
	h, err := st.History(t.Context(), string(ids[1]), store.PageRequest{})
	require.NoError(t, err)
	require.NotEmpty(t, h.Items)
	assert.Equal(t, store.ActionDelete, h.Items[0].Action)
	assert.Equal(t, api, h.Items[0].Actor)
	assert.Contains(t, h.Items[0].Changes, store.FieldChange{Field: "name", Before: "del1"})
	relID := store.RelationshipKey{Source: ids[0], Type: "DEPENDS_ON", Target: ids[1]}.ID()
	h, err = st.History(t.Context(), string(relID), store.PageRequest{})
	require.NoError(t, err)
	require.Len(t, h.Items, 2, "relationship created then deleted with its CI")
	assert.Equal(t, store.ActionDelete, h.Items[0].Action)

	_, err = st.DeleteNodes(t.Context(), api, store.KindCI, nil)
	requireInvalid(t, err, "ids")
}

func testCIsByID(t *testing.T, st store.Store) {
	ids := nodes(t, st, "get", 3)
	got, err := st.Nodes(t.Context(), store.KindCI, []store.ID{ids[2], "nope", ids[0], ids[0], ""})
	require.NoError(t, err)
	assert.Len(t, got, 2)
	assert.Equal(t, "get2", got[ids[2]].Attributes["name"])
	got, err = st.Nodes(t.Context(), store.KindCI, nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}
