package push

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// bigBatch is a scoped batch of n servers, each running an instance, the
// instances of server i depending on those of server i-1 (across chunks
// at the chunk boundaries), and one relationship to a server named by
// identity.
func bigBatch(n int) discovery.Batch {
	b := discovery.Batch{Source: "ansible", Scope: &discovery.Scope{Name: "site:lab"}}
	for i := range n {
		fqdn := fmt.Sprintf("web%04d.example.com", i)
		b.AddCI(discovery.CI{Ref: fmt.Sprintf("s%d", i), Class: "LinuxServer",
			Attributes: map[string]any{"name": fmt.Sprintf("web%04d", i), "dns_domain": "example.com", "os_name": "debian"}})
		b.AddCI(discovery.CI{Ref: fmt.Sprintf("a%d", i), Class: "ApplicationInstance",
			Attributes: map[string]any{"name": "nginx:80", "host": fqdn, "port": int64(80)}})
		b.Relate("RUNS_ON", discovery.ByRef(fmt.Sprintf("a%d", i)), discovery.ByRef(fmt.Sprintf("s%d", i)))
		if i > 0 {
			b.Relate("DEPENDS_ON", discovery.ByRef(fmt.Sprintf("a%d", i)), discovery.ByRef(fmt.Sprintf("a%d", i-1)))
		}
	}
	b.Relate("RUNS_ON", discovery.ByIdentity("ApplicationInstance", map[string]any{"name": "db:5432", "host": "db01"}),
		discovery.ByIdentity("Server", map[string]any{"name": "db01", "dns_domain": "example.com"}))
	return b
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name             string
		servers          int
		maxCIs, maxRels  int
		wantCIs          []int // per chunk
		wantRels         []int
		wantIdentityEnds int
	}{
		{name: "small enough", servers: 10, maxCIs: 20, maxRels: 100, wantCIs: []int{20}, wantRels: []int{20}},
		// 2500 CIs: chunks of 1000, 1000, 500. An instance and its server
		// always share a chunk (refs 2i, 2i+1); DEPENDS_ON a(i) -> a(i-1)
		// crosses at i = 500 and 1000: two ends rewritten.
		{name: "by CIs", servers: 1250, maxCIs: 1000, maxRels: 5000, wantCIs: []int{1000, 1000, 500}, wantRels: []int{999, 1000, 501}, wantIdentityEnds: 2},
		// 10 CIs, 10 relationships, at most 4 a request: the rest go in
		// relationship-only requests, every ref end by identity (5
		// relationships of 2 ref ends; the last is by identity already).
		{name: "by relationships", servers: 5, maxCIs: 100, maxRels: 4, wantCIs: []int{10, 0, 0}, wantRels: []int{4, 4, 2}, wantIdentityEnds: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bigBatch(tc.servers)
			chunks, err := split(b, tc.maxCIs, tc.maxRels)
			require.NoError(t, err)
			var gotCIs, gotRels []int
			identityEnds := 0
			seenCI, seenRel := map[int]bool{}, map[int]bool{}
			for ci, c := range chunks {
				gotCIs = append(gotCIs, len(c.batch.CIs))
				gotRels = append(gotRels, len(c.batch.Relationships))
				require.NoError(t, c.batch.Validate(), "chunk %d", ci)
				if len(chunks) > 1 {
					assert.Nil(t, c.batch.Scope, "a part of a batch claims no scope")
				}
				assert.Equal(t, b.Source, c.batch.Source)
				for i, orig := range c.cis {
					assert.Equal(t, b.CIs[orig], c.batch.CIs[i])
					seenCI[orig] = true
				}
				for i, orig := range c.rels {
					seenRel[orig] = true
					got, want := c.batch.Relationships[i], b.Relationships[orig]
					assert.Equal(t, want.Type, got.Type)
					for _, e := range []struct{ got, want discovery.End }{{got.From, want.From}, {got.To, want.To}} {
						if e.want.Ref == "" || e.got.Ref != "" {
							assert.Equal(t, e.want, e.got)
							continue
						}
						identityEnds++
						// Rewritten: the CI's class and identifying attributes.
						ci := b.CIs[slices.IndexFunc(b.CIs, func(c discovery.CI) bool { return c.Ref == e.want.Ref })]
						assert.Equal(t, ci.Class, e.got.Class)
						for k, v := range e.got.Identity {
							assert.Equal(t, ci.Attributes[k], v, "identity %s of %s", k, e.want.Ref)
						}
						assert.NotContains(t, e.got.Identity, "os_name", "not an identifying attribute")
					}
				}
			}
			assert.Equal(t, tc.wantCIs, gotCIs)
			assert.Equal(t, tc.wantRels, gotRels)
			assert.Equal(t, tc.wantIdentityEnds, identityEnds)
			assert.Len(t, seenCI, len(b.CIs), "every CI sent once")
			assert.Len(t, seenRel, len(b.Relationships), "every relationship sent once")
			testenv.CheckModel(t, func() []discovery.Batch {
				var out []discovery.Batch
				for _, c := range chunks {
					out = append(out, c.batch)
				}
				return out
			}()...)
		})
	}
}

func TestSplitKeepsWholeWhatItCannotName(t *testing.T) {
	b := bigBatch(3)
	b.CIs[1].Class = "Gadget" // a class the agent has no rules for, named across chunks
	_, err := split(b, 2, 100)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Gadget")

	b = bigBatch(3)
	delete(b.CIs[1].Attributes, "host") // an instance no rule identifies
	_, err = split(b, 2, 100)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no identification rule")
}

// TestIdentityRulesFollowModel: the agent names CIs by the rules of the
// server's model and of the proposed classes, a subclass by its family's.
func TestIdentityRulesFollowModel(t *testing.T) {
	for _, tc := range []struct {
		class string
		want  [][]string
	}{
		{"LinuxServer", [][]string{{"serial_number"}, {"cloud_instance_id"}, {"mac_address"}, {"name", "dns_domain"}}},
		{"ApplicationInstance", [][]string{{"name", "host"}}},
		{"NetworkInterface", [][]string{{"name", "host"}}},
		{"KubernetesWorkload", [][]string{{"workload_uid"}, {"cluster", "namespace", "kind", "name"}}},
	} {
		got, ok := identityRules(tc.class)
		require.True(t, ok, tc.class)
		assert.Equal(t, tc.want, got, tc.class)
	}
	_, ok := identityRules("Gadget")
	assert.False(t, ok, "a class the model lacks")
}
