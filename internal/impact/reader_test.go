package impact_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/bench"
	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	"github.com/skein-cmdb/skein/internal/store"
)

// callsOnly hides the store's graph views: the analysis reads through the
// store's calls (Edges, NodeFields), as on Neo4j.
type callsOnly struct{ impact.Graph }

// viewing forwards the store's graph views and counts the calls of both
// kinds; with rename set, every view from the third on names each node
// by another ID, as if the nodes an analysis had met were purged and their
// numbers reused while it ran.
type viewing struct {
	impact.Graph
	v            store.GraphViewer
	views, edges atomic.Int32
	rename       bool
	renamedViews atomic.Int32
}

func (w *viewing) Edges(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (store.Hops, error) {
	w.edges.Add(1)
	return w.Graph.Edges(ctx, cis, dir, types)
}

func (w *viewing) ViewGraph(ctx context.Context, fn func(store.GraphView) error) error {
	n := w.views.Add(1)
	return w.v.ViewGraph(ctx, func(gv store.GraphView) error {
		if w.rename && n > 2 {
			w.renamedViews.Add(1)
			return fn(renamed{gv})
		}
		return fn(gv)
	})
}

// renamed is a view whose nodes carry other IDs than the store's, as
// after purges (which it counts).
type renamed struct{ store.GraphView }

func (r renamed) Purges() uint64 { return r.GraphView.Purges() + 1 }

func (r renamed) ID(n int32) store.ID {
	if id := r.GraphView.ID(n); id != "" {
		return "x" + id
	}
	return ""
}

// outcome is everything an analysis answers, paths included, as
// comparable values.
type outcome struct {
	Starts, Impacted, Services []string
	Owners, Groups, Classes    []string
	Counts                     [4]int
	Truncated                  bool
	NotOperational             []store.ID
}

func outcomeOf(res *impact.Result) outcome {
	o := outcome{Counts: [4]int{res.Down, res.AtRisk, res.RedundancyReduced, res.Degraded}, Truncated: res.Truncated}
	line := func(im impact.Impacted) string {
		s := fmt.Sprintf("%s %s %d %s %q %v v%d", im.CI.ID, im.CI.Class, im.Depth, im.Effect, im.CI.Name, im.CI.Values, im.CI.Version)
		if h := im.Headroom; h != nil {
			s += fmt.Sprintf(" headroom %s %d/%d", h.Group.ID, h.Up, h.Needed)
		}
		for _, st := range res.PathOf(im) {
			s += fmt.Sprintf(" %s(%s->%s)", st.Rel.Type, st.Rel.Source, st.Rel.Target)
		}
		return s
	}
	for _, s := range res.Starts {
		o.Starts = append(o.Starts, fmt.Sprintf("%s %s %v %s", s.CI.ID, s.Effect, s.CI.Attributes, s.CI.Keys))
	}
	for _, im := range res.Impacted {
		o.Impacted = append(o.Impacted, line(im))
	}
	for _, im := range res.BusinessServices {
		o.Services = append(o.Services, line(im))
	}
	for _, c := range res.Owners {
		o.Owners = append(o.Owners, fmt.Sprintf("%s %d", c.Name, c.CIs))
	}
	for _, c := range res.SupportGroups {
		o.Groups = append(o.Groups, fmt.Sprintf("%s %d", c.Name, c.CIs))
	}
	for _, c := range res.Classes {
		o.Classes = append(o.Classes, fmt.Sprintf("%s %d", c.Class, c.CIs))
	}
	for _, ci := range res.NotOperationalStarts {
		o.NotOperational = append(o.NotOperational, ci.ID)
	}
	return o
}

// agreementRequest is a shape of request two readers answer alike.
type agreementRequest struct {
	name string
	req  func(id store.ID) impact.Request
}

// agreementRequests are the shapes of request the reader tests compare,
// from one start (and other, the second start of one of them).
func agreementRequests(other store.ID) []agreementRequest {
	return []agreementRequest{
		{"down", func(id store.ID) impact.Request { return impact.Request{CIs: []store.ID{id}, MaxDepth: 8} }},
		{"degraded", func(id store.ID) impact.Request {
			return impact.Request{CIs: []store.ID{id}, MaxDepth: 6, Assume: impact.Degraded}
		}},
		{"ignoring status, depth 3", func(id store.ID) impact.Request {
			return impact.Request{CIs: []store.ID{id}, MaxDepth: 3, IgnoreStatus: true}
		}},
		{"two starts, unordered", func(id store.ID) impact.Request {
			return impact.Request{CIs: []store.ID{id, other}, MaxDepth: 8, Unordered: true}
		}},
	}
}

// TestViewsAndCallsAgree runs every analysis twice over one embedded
// store, through its graph views and through its calls (the reads Neo4j
// serves), on a generated estate where one CI in seven is in maintenance
// (so redundancy counts members out of service): the answers, paths and
// headrooms included, are the same. A view whose nodes change while an
// analysis runs makes the analysis start again through the calls, with
// the same answer.
func TestViewsAndCallsAgree(t *testing.T) {
	ctx := t.Context()
	st, err := openEmbedded(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := bench.Generate(3000, 7)
	for i := range e.CIs {
		if i%7 == 3 {
			e.CIs[i].Attributes["status"] = "maintenance"
		}
	}
	svc, ids := loadEstate(t, st, e)
	v, ok := st.(store.GraphViewer)
	require.True(t, ok, "the embedded store serves graph views")

	starts := append(append([]bench.Named{}, e.Hubs...), e.Typical[:8]...)
	requests := agreementRequests(ids[e.Typical[0].Index])
	calls := impact.New(callsOnly{st}, svc.Model, impact.Options{NodeBudget: store.MaxNodes})
	var restarted atomic.Int32
	for _, rq := range requests {
		for _, s := range starts {
			t.Run(rq.name+"/"+s.Label, func(t *testing.T) {
				req := rq.req(ids[s.Index])
				want, err := calls.Analyze(ctx, req)
				require.NoError(t, err)
				require.NotEmpty(t, want.Impacted, "an analysis that reaches nothing compares nothing")

				views := &viewing{Graph: st, v: v}
				got, err := impact.New(views, svc.Model, impact.Options{NodeBudget: store.MaxNodes}).Analyze(ctx, req)
				require.NoError(t, err)
				assert.Positive(t, views.views.Load(), "graph views read")
				assert.Zero(t, views.edges.Load(), "Edges calls beside the views")
				// Paths of a finished analysis are read concurrently (a
				// GraphQL list resolves its items in parallel): the same
				// answer from every reader (go test -race checks it).
				outcomes := make([]outcome, 4)
				var wg sync.WaitGroup
				for i := range outcomes {
					wg.Go(func() { outcomes[i] = outcomeOf(got) })
				}
				wg.Wait()
				for _, o := range outcomes {
					assert.Equal(t, outcomeOf(want), o)
				}

				changing := &viewing{Graph: st, v: v, rename: true}
				again, err := impact.New(changing, svc.Model, impact.Options{NodeBudget: store.MaxNodes}).Analyze(ctx, req)
				require.NoError(t, err)
				if changing.renamedViews.Load() > 0 {
					restarted.Add(1)
					assert.Positive(t, changing.edges.Load(), "a changed view sends the analysis to the calls")
				}
				assert.Equal(t, outcomeOf(want), outcomeOf(again))
			})
		}
	}
	assert.Positive(t, restarted.Load(), "analyses that met a changed view")
}

// subgraphs forwards the store's subgraph reads and counts the calls of
// both kinds.
type subgraphs struct {
	impact.Graph
	r            store.SubgraphReader
	reads, edges atomic.Int32
}

func (w *subgraphs) ReadSubgraph(ctx context.Context, q store.SubgraphQuery) (store.Subgraph, error) {
	w.reads.Add(1)
	return w.r.ReadSubgraph(ctx, q)
}

func (w *subgraphs) Edges(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (store.Hops, error) {
	w.edges.Add(1)
	return w.Graph.Edges(ctx, cis, dir, types)
}

// TestSubgraphAndCallsAgree runs every analysis twice over Neo4j, through
// one subgraph read (store.SubgraphReader) and through its calls level by
// level, on a generated estate where one CI in seven is in maintenance:
// the answers, paths and headrooms included, are the same. With a node
// budget smaller than what is within reach, the analysis reads level by
// level (where the budget applies as it goes) and answers as the calls do.
func TestSubgraphAndCallsAgree(t *testing.T) {
	neo4jtest.Require(t)
	ctx := t.Context()
	f := neo4jFixtureOf(t)
	e := bench.Generate(3000, 11)
	for i := range e.CIs {
		e.CIs[i].Attributes["name"] = fmt.Sprintf("sub-%s", e.CIs[i].Attributes["name"])
		for _, k := range []string{"serial_number", "vm_uuid", "url"} {
			if v, ok := e.CIs[i].Attributes[k]; ok {
				e.CIs[i].Attributes[k] = fmt.Sprintf("SUB%v", v)
			}
		}
		if i%7 == 3 {
			e.CIs[i].Attributes["status"] = "maintenance"
		}
	}
	svc, ids := loadEstate(t, f.st, e)
	r, ok := f.st.(store.SubgraphReader)
	require.True(t, ok, "Neo4j reads subgraphs")

	starts := append(append([]bench.Named{}, e.Hubs...), e.Typical[:8]...)
	requests := agreementRequests(ids[e.Typical[0].Index])
	for _, budget := range []int{store.MaxNodes, 40} {
		calls := impact.New(callsOnly{f.st}, svc.Model, impact.Options{NodeBudget: budget})
		requests, starts := requests, starts
		if budget < store.MaxNodes {
			requests, starts = requests[:1], starts[:3] // a hub, the down request
		}
		for _, rq := range requests {
			for _, s := range starts {
				t.Run(fmt.Sprintf("budget %d/%s/%s", budget, rq.name, s.Label), func(t *testing.T) {
					req := rq.req(ids[s.Index])
					want, err := calls.Analyze(ctx, req)
					require.NoError(t, err)
					require.NotEmpty(t, want.Impacted, "an analysis that reaches nothing compares nothing")

					sub := &subgraphs{Graph: f.st, r: r}
					got, err := impact.New(sub, svc.Model, impact.Options{NodeBudget: budget}).Analyze(ctx, req)
					require.NoError(t, err)
					assert.Equal(t, int32(1), sub.reads.Load(), "one subgraph read")
					if budget == store.MaxNodes {
						assert.Zero(t, sub.edges.Load(), "Edges calls beside the subgraph")
					} else {
						require.True(t, want.Truncated, "a hub reaches more than the budget")
						assert.Positive(t, sub.edges.Load(), "more than the budget within reach: level by level")
					}
					assert.Equal(t, outcomeOf(want), outcomeOf(got))
				})
			}
		}
	}
	// Dependents: one subgraph read of the CIs and their summaries, the
	// same CIs, depths and order as the traversal and summaries calls.
	var truncated atomic.Int32
	for _, budget := range []int{store.MaxNodes, 40} {
		calls := impact.New(callsOnly{f.st}, svc.Model, impact.Options{NodeBudget: budget})
		for _, s := range starts {
			t.Run(fmt.Sprintf("dependents, budget %d/%s", budget, s.Label), func(t *testing.T) {
				want, err := calls.Dependents(ctx, ids[s.Index], 6, nil, impact.ReachOptions{})
				require.NoError(t, err)
				require.NotEmpty(t, want.Nodes)
				sub := &subgraphs{Graph: f.st, r: r}
				got, err := impact.New(sub, svc.Model, impact.Options{NodeBudget: budget}).Dependents(ctx, ids[s.Index], 6, nil, impact.ReachOptions{})
				require.NoError(t, err)
				assert.Equal(t, int32(1), sub.reads.Load(), "one subgraph read")
				line := func(r *impact.Reach) []string {
					out := []string{fmt.Sprintf("root %s truncated %v", r.Root.ID, r.Truncated)}
					for _, n := range r.Nodes {
						out = append(out, fmt.Sprintf("%s %d %s %s %v", n.CI.ID, n.Depth, n.CI.Class, n.CI.Name, n.CI.Values))
					}
					return out
				}
				assert.Equal(t, line(want), line(got), "the same CIs, depths, order and truncation")
				if want.Truncated {
					truncated.Add(1)
				}
			})
		}
	}
	assert.Positive(t, truncated.Load(), "dependents past the budget (the subgraph too large, the traversal truncates)")
}
