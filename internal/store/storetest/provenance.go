package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
)

var provenanceCases = []testCase{
	{"ProvenanceSetTimesPerAttribute", testProvenanceSetAt},
}

// testProvenanceSetAt: every attribute remembers the source that set it
// and when; a change moves only the changed attributes' times, a sighting
// none, and a cleared attribute has neither.
func testProvenanceSetAt(t *testing.T, st store.Store) {
	ctx := t.Context()
	svc := newService(t, st)
	created := upsertOK(t, svc, agent, server("LinuxServer", "name", "prov-1", "serial_number", "PROV-1", "os_name", "Linux", "memory_mb", 4096))[0].Node
	for _, a := range []string{"name", "serial_number", "os_name", "memory_mb", "status"} {
		require.Contains(t, created.SetAt, a)
		assert.True(t, created.SetAt[a].Equal(created.CreatedAt), "%s set at creation", a)
		assert.Equal(t, "ansible", created.Sources[a], a)
	}
	time.Sleep(5 * time.Millisecond)
	upsertOK(t, svc, agent, server("LinuxServer", "name", "prov-1", "serial_number", "PROV-1", "os_name", "Linux")) // a sighting
	time.Sleep(5 * time.Millisecond)
	updated, err := svc.UpdateCI(ctx, api, created.ID, map[string]any{"os_name": "Ubuntu", "memory_mb": nil})
	require.NoError(t, err)

	got, err := st.Nodes(ctx, store.KindCI, []store.ID{created.ID})
	require.NoError(t, err)
	c := got[created.ID]
	assert.True(t, c.SetAt["os_name"].Equal(updated.Node.UpdatedAt), "os_name set by the update: %v, want %v", c.SetAt["os_name"], updated.Node.UpdatedAt)
	assert.True(t, c.SetAt["os_name"].After(created.CreatedAt))
	assert.Equal(t, "api", c.Sources["os_name"])
	assert.True(t, c.SetAt["name"].Equal(created.CreatedAt), "name unchanged since creation, sighting included")
	assert.NotContains(t, c.SetAt, "memory_mb", "a cleared attribute has no set time")
	assert.NotContains(t, c.Sources, "memory_mb")
}
