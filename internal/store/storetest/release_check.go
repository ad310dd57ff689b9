package storetest

import (
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// CheckReleaseFixture checks that st, a store opened (and so migrated) from
// a copy of a backend's previous-release fixture whose manifest is want,
// holds everything the previous release wrote: every CI, relationship,
// token, audit record, model extension and open conflict, word for word,
// and that what they mean still works (a token authenticates, a CI's
// history lists its relationships' records, the merged duplicate's keys
// identify its survivor, the open conflict is hit again). The checks that
// write run last. It is the same check for every backend.
func CheckReleaseFixture(t *testing.T, st store.Store, want *ReleaseManifest) {
	ctx := t.Context()
	require.GreaterOrEqual(t, len(want.CIs), 15, "the manifest holds the estate")
	id := func(name string) store.ID {
		t.Helper()
		v, ok := want.Names[name]
		require.True(t, ok, "the manifest names %q", name)
		return store.ID(v)
	}

	t.Run("Everything", func(t *testing.T) {
		got := readState(t, st)
		assert.Equal(t, len(want.Tokens), len(got.Tokens), "token count")
		assert.Equal(t, len(want.CIs), len(got.CIs), "CI count")
		assert.Equal(t, want.CIs, got.CIs, "CIs: ids, classes, attributes (typed), keys, sources, seenBy, times")
		assert.Equal(t, len(want.Relationships), len(got.Relationships), "relationship count")
		assert.Equal(t, want.Relationships, got.Relationships, "relationships: ids, types, ends, attributes, times")
		assert.Equal(t, want.Tokens, got.Tokens, "tokens: ids, names, roles, hashes, sources, expiry, revocation")
		assert.Equal(t, len(want.Audit), len(got.Audit), "audit record count")
		assert.Equal(t, want.Audit, got.Audit, "audit records, newest first")
		assert.Equal(t, want.Extensions, got.Extensions, "registered classes and relationship types")
		assert.Equal(t, want.Conflicts, got.Conflicts, "open identity conflicts")
	})

	t.Run("Reads", func(t *testing.T) {
		ids := make([]store.ID, len(want.CIs))
		for i, c := range want.CIs {
			ids[i] = store.ID(c.ID)
		}
		cis, err := st.Nodes(ctx, store.KindCI, ids)
		require.NoError(t, err)
		assert.Len(t, cis, len(ids), "every CI by id")
		assert.Equal(t, "retired", cis[id("merge duplicate")].Attributes["status"])
		assert.Equal(t, "maintenance", cis[id("db01")].Attributes["status"])
		assert.Equal(t, float64(100), cis[id("backup-array")].Attributes["capacity_tb"], "an integral float stays a float")
		assert.Equal(t, releaseMinTime, cis[id("pg-main")].Attributes["last_failover"])
		assert.Equal(t, releaseMaxTime, cis[id("pg-archive")].Attributes["last_failover"])
		assert.Len(t, cis[id("db01")].SeenBy, 3, "seen by ansible, vcenter and api (the edit)")
		for _, c := range cis {
			assert.Equal(t, store.KindCI, c.Kind, "CI %s: a node of kind ci", c.ID)
			assert.Equal(t, int64(1), c.Version, "CI %s: written before versions, read as version 1", c.ID)
		}

		// Filters, case-insensitive ones included (their indexes came by
		// migrations of the previous release).
		for _, c := range []struct {
			f    store.NodeFilter
			want []string
		}{
			{store.NodeFilter{Kind: store.KindCI, Name: "DB01"}, []string{"db01"}},
			{store.NodeFilter{Kind: store.KindCI, NamePrefix: "PG-MAIN"}, []string{"pg-main", "pg-main-1", "pg-main-2"}},
			{store.NodeFilter{Kind: store.KindCI, Owner: "DBA-Team"}, []string{"db01", "db02"}},
			{store.NodeFilter{Kind: store.KindCI, Tag: "PCI"}, []string{"Online payments"}},
			{store.NodeFilter{Kind: store.KindCI, Classes: []string{"PostgresCluster"}}, []string{"pg-archive", "pg-main"}},
			{store.NodeFilter{Kind: store.KindCI, Status: []string{"retired"}}, []string{"db02-asset"}},
		} {
			p, err := st.ListNodes(ctx, c.f, store.PageRequest{First: store.MaxPageSize})
			require.NoError(t, err)
			var ws []store.ID
			for _, n := range c.want {
				ws = append(ws, id(n))
			}
			var gs []store.ID
			for _, ci := range p.Items {
				gs = append(gs, ci.ID)
			}
			assert.ElementsMatch(t, ws, gs, "%+v", c.f)
		}

		// Relationships by id, from either end, in pages, and traversed.
		rids := make([]store.ID, len(want.Relationships))
		for i, r := range want.Relationships {
			rids[i] = store.ID(r.ID)
		}
		rels, err := st.Relationships(ctx, rids)
		require.NoError(t, err)
		assert.Len(t, rels, len(rids))
		port := rels[id("server port")]
		assert.Equal(t, store.Attributes{"port": "Gi1/0/13"}, port.Attributes)
		assert.Equal(t, store.Attributes{"mode": "sync"}, rels[id("replication")].Attributes)
		in, err := st.RelationshipsOf(ctx, []store.ID{id("sw-core-1")}, store.In, nil)
		require.NoError(t, err)
		assert.Len(t, in[id("sw-core-1")], 3, "two ports and the datacenter")
		pages, err := st.RelationshipPages(ctx, []store.RelationshipPageRequest{{Node: id("pg-main-1"), Dir: store.Both, Page: store.PageRequest{First: 2}}})
		require.NoError(t, err)
		assert.Equal(t, 4, pages[0].Total, "RUNS_ON, MEMBER_OF and REPLICATES_TO out, DEPENDS_ON in (the deleted CI's went with it)")
		assert.Len(t, pages[0].Items, 2)
		tr, err := st.Expand(ctx, store.Traversal{
			Start: []store.ID{id("pg-main-1")}, MaxDepth: 3, MaxNodes: 100,
			Rules: []store.EdgeRule{{Type: "DEPENDS_ON", Dir: store.In}, {Type: "PROVIDED_BY", Dir: store.In}},
		})
		require.NoError(t, err)
		var reached []store.ID
		for _, n := range tr.Nodes {
			reached = append(reached, n.ID)
		}
		assert.Equal(t, []store.ID{id("pg-main-1"), id("payments-api"), id("Online payments")}, reached)
		path, err := st.ShortestPath(ctx, id("payments-api instance"), id("dc-paris"),
			[]store.EdgeRule{{Type: "RUNS_ON", Dir: store.Out}, {Type: "LOCATED_IN", Dir: store.Out}}, 5)
		require.NoError(t, err)
		assert.Len(t, path, 3, "instance → vm → hypervisor → datacenter")
	})

	t.Run("Tokens", func(t *testing.T) {
		a := auth.Authenticator{Tokens: st}
		require.Len(t, want.Secrets, len(want.Tokens))
		for _, tv := range want.Tokens {
			got, err := a.Authenticate(ctx, "Bearer "+want.Secrets[tv.Name], "skein.example.com")
			if tv.RevokedAt != "" {
				assert.ErrorIs(t, err, auth.ErrUnauthenticated, "revoked token %s", tv.Name)
				continue
			}
			require.NoError(t, err, "token %s", tv.Name)
			assert.Equal(t, tv.ID, got.TokenID)
			assert.Equal(t, auth.Role(tv.Role), got.Role)
			assert.Equal(t, tv.Sources, append([]string{}, got.Sources...))
		}
		tk, err := st.Token(ctx, string(id("token:vcenter discovery")))
		require.NoError(t, err)
		assert.Equal(t, []string{"vcenter", "vcenter-dmz"}, tk.Sources)
		tk, err = st.Token(ctx, string(id("token:ci pipeline ✓")))
		require.NoError(t, err)
		assert.Equal(t, releaseExpiryNs, tk.ExpiresAt)
		h := historyIDs(t, st, store.TokenObject(string(id("token:old laptop"))))
		assert.Len(t, h, 2, "the token's creation and revocation")
	})

	t.Run("History", func(t *testing.T) {
		// Every CI's and relationship's history is the records about it or
		// related to it, as the previous release listed them.
		objects := map[string]bool{}
		for _, r := range want.Audit {
			objects[r.Object] = true
		}
		for obj := range objects {
			assert.Equal(t, historyIDsOf(want, obj), historyIDs(t, st, obj), "history of %s", obj)
		}
		// A relationship's records are in both its ends' history.
		for _, end := range []string{"db01", "sw-core-1"} {
			h := historyIDs(t, st, string(id(end)))
			port := historyIDs(t, st, string(id("server port")))
			require.Len(t, port, 2, "created, then its port changed")
			assert.Subset(t, h, port, "%s's history lists the relationship's records", end)
		}
		deleted := history(t, st, string(id("deleted")))
		require.NotEmpty(t, deleted)
		assert.Equal(t, store.ActionDelete, deleted[1].Action, "the deleted CI's relationship went with it")
		assert.Equal(t, store.KindRelationship, deleted[1].Kind)
		assert.Equal(t, store.ActionDelete, deleted[0].Action, "the deleted CI's history stays")
		assert.Equal(t, store.ActionCreate, deleted[len(deleted)-1].Action)
		// The survivor's history takes in the duplicate's (cmdb.Service.History).
		svc := newService(t, st)
		p, err := svc.History(ctx, id("merge survivor"), store.PageRequest{First: store.MaxPageSize})
		require.NoError(t, err)
		var objs []string
		for _, r := range p.Items {
			objs = append(objs, r.Object)
		}
		assert.Contains(t, objs, string(id("merge duplicate")))
	})

	t.Run("Model", func(t *testing.T) {
		svc := newService(t, st)
		c, ok := svc.Model().Class("PostgresCluster")
		require.True(t, ok, "the registered class")
		assert.True(t, svc.Model().IsA("PostgresCluster", "Cluster"))
		a, ok := c.Attribute("last_failover")
		require.True(t, ok)
		assert.Equal(t, cmdb.TypeTime, a.Type)
		rt, ok := svc.Model().RelType("REPLICATES_TO")
		require.True(t, ok, "the registered relationship type")
		assert.Equal(t, []string{"DatabaseInstance"}, rt.Def.Sources)
	})

	// Writes, last: the migrated store still identifies, reconciles and
	// records as the previous one did.
	t.Run("Writes", func(t *testing.T) {
		svc := newService(t, st)
		// Every CI (but the merged duplicate, whose keys its survivor
		// took) is identified as itself by each of its identity keys:
		// reported with its name and the attributes of one identification
		// rule, as stored, it is found and unchanged. A report re-derives
		// all of a CI's keys, so only the first one about a CI proves its
		// key survived: the first batch reports each CI by its strongest
		// key, the second by the others.
		var first, rest []cmdb.UpsertItem
		var firstIDs, restIDs []store.ID
		for _, c := range want.CIs {
			if store.ID(c.ID) == id("merge duplicate") {
				continue
			}
			cls, ok := svc.Model().Class(c.Class)
			require.True(t, ok, c.Class)
			n := 0
			for _, rule := range cls.Rules {
				attrs := map[string]any{"name": rawValue(t, c.Attributes["name"])}
				complete := true
				for _, a := range rule {
					v, ok := c.Attributes[a]
					complete = complete && ok
					attrs[a] = rawValue(t, v)
				}
				if !complete {
					continue
				}
				if n == 0 {
					first, firstIDs = append(first, cmdb.UpsertItem{Class: c.Class, Attributes: attrs}), append(firstIDs, store.ID(c.ID))
				} else {
					rest, restIDs = append(rest, cmdb.UpsertItem{Class: c.Class, Attributes: attrs}), append(restIDs, store.ID(c.ID))
				}
				n++
			}
			require.NotZero(t, n, "CI %s has a key", c.Attributes["name"].S)
		}
		for _, batch := range []struct {
			items []cmdb.UpsertItem
			ids   []store.ID
		}{{first, firstIDs}, {rest, restIDs}} {
			res, err := svc.Upsert(ctx, store.Actor{Name: "alice", Source: "api"}, batch.items, false)
			require.NoError(t, err)
			for i, r := range res {
				assert.Equal(t, batch.ids[i], r.Node.ID, "%s %v: %v", batch.items[i].Class, batch.items[i].Attributes, r.Err)
				assert.Equal(t, store.StatusUnchanged, r.Status, "%s %v", batch.items[i].Class, batch.items[i].Attributes)
			}
		}

		ansible := store.Actor{Name: "ansible (token " + string(id("token:ansible")) + ")", Source: "ansible"}
		res, err := svc.Upsert(ctx, ansible, []cmdb.UpsertItem{
			{Class: "LinuxServer", Attributes: map[string]any{"name": "db02", "serial_number": "sn 77"}},
			{Class: "LinuxServer", Attributes: map[string]any{"name": "db01", "serial_number": "sn0042a", "mac_address": "00:1a:2b:3c:4d:5e"}},
			{Class: "LinuxServer", Attributes: map[string]any{"name": "db03", "dns_domain": "example.com", "serial_number": "SN-99"}},
			{Class: "PostgresCluster", Attributes: map[string]any{"name": "pg-new", "last_failover": "2261-12-31T23:59:59.999999999Z"}},
		}, false)
		require.NoError(t, err)
		assert.Equal(t, id("merge survivor"), res[0].Node.ID, "the duplicate's serial number identifies the survivor")
		assert.Equal(t, store.StatusUnchanged, res[0].Status)
		assert.Equal(t, id("db01"), res[1].Node.ID, "normalised keys identify")
		assert.Equal(t, store.StatusConflict, res[2].Status, "the open conflict is hit again")
		assert.Equal(t, store.StatusCreated, res[3].Status)
		p, err := st.Conflicts(ctx, store.PageRequest{})
		require.NoError(t, err)
		require.Len(t, p.Items, 1)
		assert.Equal(t, [2]store.ID{id("conflict 0"), id("conflict 1")}, p.Items[0].CIs)
		assert.Equal(t, want.Conflicts[0].Count+1, p.Items[0].Count)
		h := history(t, st, string(id("db01")))
		require.NotEmpty(t, h)
		assert.Len(t, h, len(historyIDsOf(want, string(id("db01")))), "an unchanged report writes no record")
		_, err = svc.UpdateCI(ctx, store.Actor{Name: "alice", Source: "api"}, id("db01"), map[string]any{"status": "live"})
		require.NoError(t, err)
		h = history(t, st, string(id("db01")))
		assert.Equal(t, []store.FieldChange{{Field: "status", Before: "maintenance", After: "live"}}, h[0].Changes)
	})
}

// historyIDs returns the IDs of an object's whole history, newest first.
func historyIDs(t *testing.T, st store.Store, object string) []string {
	t.Helper()
	var out []string
	for after := ""; ; {
		p, err := st.History(t.Context(), object, store.PageRequest{First: store.MaxPageSize, After: after})
		require.NoError(t, err)
		for _, r := range p.Items {
			out = append(out, string(r.ID))
		}
		if !p.HasNext {
			return out
		}
		after = p.EndCursor
	}
}

// historyIDsOf returns what historyIDs returned for object in the store the
// manifest describes.
func historyIDsOf(m *ReleaseManifest, object string) []string {
	var out []string
	for _, r := range m.Audit {
		if r.Object == object || slices.Contains(r.Related, object) {
			out = append(out, r.ID)
		}
	}
	return out
}

// rawValue turns a manifest value into what a client sends for it.
func rawValue(t *testing.T, v Value) any {
	t.Helper()
	if v.T == "" {
		return nil
	}
	var out any
	var err error
	switch v.T {
	case "string", "time":
		out = v.S
	case "int":
		out, err = strconv.ParseInt(v.S, 10, 64)
	case "float":
		out, err = strconv.ParseFloat(v.S, 64)
	case "bool":
		out, err = strconv.ParseBool(v.S)
	case "list":
		out = append([]string{}, v.L...)
	default:
		t.Fatalf("value of unknown type %q", v.T)
	}
	require.NoError(t, err)
	return out
}
