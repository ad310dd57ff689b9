package cmdb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
)

// newTestService is a service over a real, empty embedded store.
func newTestService(t testing.TB) *Service {
	t.Helper()
	st, err := embedded.Open(t.Context(), t.TempDir(), embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	m, err := DefaultModel()
	require.NoError(t, err)
	svc, err := NewService(t.Context(), st, m)
	require.NoError(t, err)
	return svc
}

// as returns ctx carrying a token identity of role (or the anonymous one).
func as(ctx context.Context, role auth.Role) context.Context {
	if role == auth.Anonymous {
		return auth.Attached(ctx)
	}
	return auth.WithIdentity(ctx, auth.Identity{TokenID: "tok" + string(role), Name: string(role) + " token", Role: role})
}

// TestServiceChecksPermissions calls every service method as every role:
// each refuses exactly the roles auth.Permissions refuses for its (kind,
// verb), before it validates or writes anything, so any API calling the
// service is covered. A context without an identity (the process itself)
// may do everything.
func TestServiceChecksPermissions(t *testing.T) {
	svc := newTestService(t)
	ctx := t.Context()
	proc := store.Actor{Name: "test", Source: "api"}
	res, err := svc.Upsert(ctx, proc, []UpsertItem{
		{Class: "Application", Attributes: map[string]any{"name": "a1"}},
		{Class: "Application", Attributes: map[string]any{"name": "a2"}},
	}, true)
	require.NoError(t, err)
	a1, a2 := res[0].Node.ID, res[1].Node.ID
	res, err = svc.UpsertNodes(ctx, proc, KindPerson, []UpsertItem{{Class: "Person", Attributes: map[string]any{"user_name": "perm", "name": "Perm"}}}, true)
	require.NoError(t, err)
	person := res[0].Node.ID
	n := 0
	next := func(prefix string) string { n++; return prefix + string(rune('A'+n%26)) + string(rune('a'+n/26)) }

	calls := []struct {
		name string
		perm auth.Permission
		call func(ctx context.Context) error
	}{
		{"Upsert", auth.Permission{Kind: auth.KindCI, Verb: auth.Upsert}, func(ctx context.Context) error {
			_, err := svc.Upsert(ctx, store.Actor{}, []UpsertItem{{Class: "Application", Attributes: map[string]any{"name": next("up-")}}}, true)
			return err
		}},
		{"UpdateCI", auth.Permission{Kind: auth.KindCI, Verb: auth.Update}, func(ctx context.Context) error {
			_, err := svc.UpdateCI(ctx, store.Actor{}, a1, map[string]any{"description": next("d-")})
			return err
		}},
		{"RetireCIs", auth.Permission{Kind: auth.KindCI, Verb: auth.Delete}, func(ctx context.Context) error {
			_, err := svc.RetireCIs(ctx, store.Actor{}, []store.ID{"00000000-0000-0000-0000-000000000000"})
			return err
		}},
		{"PurgeCIs", auth.Permission{Kind: auth.KindCI, Verb: auth.Purge}, func(ctx context.Context) error {
			_, err := svc.PurgeCIs(ctx, store.Actor{}, []store.ID{"00000000-0000-0000-0000-000000000000"}, false)
			return err
		}},
		{"MergeCIs", auth.Permission{Kind: auth.KindCI, Verb: auth.Merge}, func(ctx context.Context) error {
			_, err := svc.MergeCIs(ctx, store.Actor{}, a1, a1) // refused as invalid once allowed
			var ie *store.InvalidError
			if errors.As(err, &ie) {
				return nil
			}
			return err
		}},
		{"CIs", auth.Permission{Kind: auth.KindCI, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.CIs(ctx, []store.ID{a1})
			return err
		}},
		{"ListCIs", auth.Permission{Kind: auth.KindCI, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.ListCIs(ctx, Filter{}, store.PageRequest{First: 1})
			return err
		}},
		{"CreateRelationships", auth.Permission{Kind: auth.KindRelationship, Verb: auth.Create}, func(ctx context.Context) error {
			_, err := svc.CreateRelationships(ctx, store.Actor{}, []RelationshipItem{{Type: "DEPENDS_ON", Source: a1, Target: a2}}, true)
			return err
		}},
		{"Relationships", auth.Permission{Kind: auth.KindRelationship, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.Relationships(ctx, []store.ID{"x"})
			return err
		}},
		{"DeleteRelationships", auth.Permission{Kind: auth.KindRelationship, Verb: auth.Delete}, func(ctx context.Context) error {
			_, err := svc.DeleteRelationships(ctx, store.Actor{}, []store.ID{store.RelationshipKey{Type: "DEPENDS_ON", Source: a2, Target: a1}.ID()})
			return err
		}},
		{"History", auth.Permission{Kind: auth.KindAudit, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.History(ctx, a1, store.PageRequest{First: 1})
			return err
		}},
		{"Audit", auth.Permission{Kind: auth.KindAudit, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.Audit(ctx, store.AuditFilter{}, store.PageRequest{First: 1})
			return err
		}},
		{"AuditRecord", auth.Permission{Kind: auth.KindAudit, Verb: auth.Read}, func(ctx context.Context) error {
			_, _, err := svc.AuditRecord(ctx, "00000000-0000-0000-0000-000000000000")
			return err
		}},
		{"IdentityConflicts", auth.Permission{Kind: auth.KindConflict, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.IdentityConflicts(ctx, store.PageRequest{First: 1})
			return err
		}},
		{"RegisterClass", auth.Permission{Kind: auth.KindClass, Verb: auth.Create}, func(ctx context.Context) error {
			_, err := svc.RegisterClass(ctx, store.Actor{}, ClassDef{Name: next("Perm"), Parent: "CI", Identification: [][]string{{"name"}}})
			return err
		}},
		{"RetireClass", auth.Permission{Kind: auth.KindClass, Verb: auth.Delete}, func(ctx context.Context) error {
			err := svc.RetireClass(ctx, store.Actor{}, "NoSuchClass")
			if errors.Is(err, store.ErrNotFound) {
				return nil // allowed, and nothing to retire
			}
			return err
		}},
		{"RegisterRelationshipType", auth.Permission{Kind: auth.KindRelationshipType, Verb: auth.Create}, func(ctx context.Context) error {
			_, err := svc.RegisterRelationshipType(ctx, store.Actor{}, RelTypeDef{Name: strings.ToUpper(next("PERM_")), Impact: Impact{Propagates: PropagatesNone}})
			return err
		}},
		{"RetireRelationshipType", auth.Permission{Kind: auth.KindRelationshipType, Verb: auth.Delete}, func(ctx context.Context) error {
			err := svc.RetireRelationshipType(ctx, store.Actor{}, "NO_SUCH_TYPE")
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}},
		{"UpsertNodes person", auth.Permission{Kind: auth.KindPerson, Verb: auth.Upsert}, func(ctx context.Context) error {
			_, err := svc.UpsertNodes(ctx, store.Actor{}, KindPerson, []UpsertItem{{Attributes: map[string]any{"user_name": next("u-"), "name": "P"}}}, true)
			return err
		}},
		{"UpsertNodes group", auth.Permission{Kind: auth.KindGroup, Verb: auth.Upsert}, func(ctx context.Context) error {
			_, err := svc.UpsertNodes(ctx, store.Actor{}, KindGroup, []UpsertItem{{Attributes: map[string]any{"name": next("g-")}}}, true)
			return err
		}},
		{"UpdateNode person", auth.Permission{Kind: auth.KindPerson, Verb: auth.Update}, func(ctx context.Context) error {
			_, err := svc.UpdateNode(ctx, store.Actor{}, KindPerson, person, map[string]any{"title": next("t-")}, 0)
			return err
		}},
		{"Nodes group", auth.Permission{Kind: auth.KindGroup, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.Nodes(ctx, KindGroup, []store.ID{a1})
			return err
		}},
		{"ListNodes person", auth.Permission{Kind: auth.KindPerson, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.ListNodes(ctx, KindPerson, Filter{}, store.PageRequest{First: 1})
			return err
		}},
		{"SearchNodes group", auth.Permission{Kind: auth.KindGroup, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.SearchNodes(ctx, KindGroup, "ops", SearchFilter{}, store.PageRequest{First: 1})
			return err
		}},
		{"SetActive person false", auth.Permission{Kind: auth.KindPerson, Verb: auth.Delete}, func(ctx context.Context) error {
			_, err := svc.SetActive(ctx, store.Actor{}, KindPerson, []store.ID{person}, false)
			return err
		}},
		{"Search", auth.Permission{Kind: auth.KindCI, Verb: auth.Read}, func(ctx context.Context) error {
			_, err := svc.Search(ctx, "a1", SearchFilter{}, store.PageRequest{First: 1})
			return err
		}},
	}
	roles := append([]auth.Role{auth.Anonymous}, auth.TokenRoles...)
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, c.call(ctx), "the process itself may do everything")
			for _, r := range roles {
				err := c.call(as(ctx, r))
				if auth.Can(r, c.perm.Kind, c.perm.Verb) {
					assert.NoError(t, err, "%s may %s", r, c.perm)
					continue
				}
				want := auth.ErrForbidden
				if r == auth.Anonymous {
					want = auth.ErrUnauthenticated
				}
				assert.ErrorIs(t, err, want, "%s may not %s", r, c.perm)
			}
		})
	}
}

// TestServiceWritesAsTheCaller: for a request, the service records the
// caller's token as the actor, whatever actor name the API passed, and
// applies the token's source binding (an agent writes only as its
// sources, field "source"); the process itself writes as it says.
func TestServiceWritesAsTheCaller(t *testing.T) {
	svc := newTestService(t)
	agent := auth.WithIdentity(t.Context(), auth.Identity{TokenID: "abcdefgh23", Name: "nmap scanner", Role: auth.Agent, Sources: []string{"nmap"}})
	item := func(name string) []UpsertItem {
		return []UpsertItem{{Class: "Application", Attributes: map[string]any{"name": name}}}
	}

	_, err := svc.Upsert(agent, store.Actor{Name: "spoofed", Source: "vcenter"}, item("w1"), true)
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "source", ie.Field)
	assert.Contains(t, ie.Reason, "may report as nmap only")

	res, err := svc.Upsert(agent, store.Actor{Name: "spoofed"}, item("w2"), true)
	require.NoError(t, err)
	page, err := svc.History(t.Context(), res[0].Node.ID, store.PageRequest{First: 1})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "nmap scanner (token abcdefgh23)", page.Items[0].Actor.Name, "the token, not the name the API passed")
	assert.Equal(t, "nmap", page.Items[0].Actor.Source, "an agent's first bound source by default")

	res, err = svc.Upsert(t.Context(), store.Actor{Name: "skein import", Source: "import"}, item("w3"), true)
	require.NoError(t, err)
	page, err = svc.History(t.Context(), res[0].Node.ID, store.PageRequest{First: 1})
	require.NoError(t, err)
	assert.Equal(t, store.Actor{Name: "skein import", Source: "import"}, page.Items[0].Actor)
}

// TestServiceAuditKinds: the audit trail keeps token records from roles
// that may not read tokens, through Audit and AuditRecord alike.
func TestServiceAuditKinds(t *testing.T) {
	svc := newTestService(t)
	ctx := t.Context()
	_, rec, err := auth.Issue(ctx, svc.st.(store.TokenStore), store.Actor{Name: "test", Source: "cli"}, "victim", auth.Viewer, time.Time{})
	require.NoError(t, err)
	page, err := svc.Audit(ctx, store.AuditFilter{Kinds: []store.ObjectKind{store.KindToken}}, store.PageRequest{First: 10})
	require.NoError(t, err)
	require.NotEmpty(t, page.Items)
	recordID := page.Items[0].ID
	assert.Equal(t, store.TokenObject(rec.ID), page.Items[0].Object)

	viewer := as(ctx, auth.Viewer)
	_, err = svc.Audit(viewer, store.AuditFilter{Kinds: []store.ObjectKind{store.KindToken}}, store.PageRequest{First: 10})
	assert.ErrorIs(t, err, auth.ErrForbidden, "asking for token records by kind")
	page, err = svc.Audit(viewer, store.AuditFilter{}, store.PageRequest{First: 10})
	require.NoError(t, err)
	assert.Empty(t, page.Items, "token records are left out for a viewer")
	_, found, err := svc.AuditRecord(viewer, recordID)
	require.NoError(t, err)
	assert.False(t, found, "a viewer cannot fetch a token record by ID")
	a, found, err := svc.AuditRecord(as(ctx, auth.Admin), recordID)
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, recordID, a.ID)

	_, err = svc.Audit(viewer, store.AuditFilter{Kinds: []store.ObjectKind{"ticket"}}, store.PageRequest{First: 1})
	var ie *store.InvalidError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "filter.kinds[0]", ie.Field)
}

// TestEveryModelKindHasPermissions: kinds of node are data, and so are
// their permissions: each kind the model declares can be read by someone
// and written by someone, so a kind added to the model without deciding
// who may use it fails the build rather than being open or unreachable.
func TestEveryModelKindHasPermissions(t *testing.T) {
	m, err := DefaultModel()
	require.NoError(t, err)
	require.Contains(t, m.Kinds(), KindCI)
	for _, k := range m.Kinds() {
		assert.NotEmpty(t, auth.Roles(auth.Permission{Kind: auth.Kind(k), Verb: auth.Read}), "%s: who may read it?", k)
		var writers []auth.Role
		for _, v := range []auth.Verb{auth.Upsert, auth.Create, auth.Update} {
			writers = append(writers, auth.Roles(auth.Permission{Kind: auth.Kind(k), Verb: v})...)
		}
		assert.NotEmpty(t, writers, "%s: who may write it?", k)
	}
}
