package itsm

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestRaceForTheLastAsset: requests racing for the last in-stock phone,
// submitted at once from goroutines, round after round on both backends.
// In every round exactly one request's task gets the phone (the asset
// names that task, and only that one); every other task waits, pending,
// out of stock; the next phone received goes to the oldest waiting task;
// canceling a request that holds a phone gives the phone to the next
// waiting task. No asset is ever allocated twice.
func TestRaceForTheLastAsset(t *testing.T) {
	const rounds, racers = 6, 4
	for name, open := range breachBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			m, err := cmdb.DefaultModel()
			require.NoError(t, err)
			c, err := cmdb.NewService(ctx, st, m)
			require.NoError(t, err)
			svc, err := NewService(c, st, Config{})
			require.NoError(t, err)
			actor := store.Actor{Name: "desk", Source: "api"}
			// The requests are submitted by viewers, who may not touch
			// assets: the allocation is the workflow's.
			viewer := auth.WithIdentity(ctx, auth.Identity{TokenID: "t1", Name: "someone", Role: auth.Viewer})

			model, err := svc.CreateAssetModel(ctx, actor, map[string]any{"name": "Pixel 8a"})
			require.NoError(t, err)
			var people []store.ID
			for i := range racers {
				res, err := c.UpsertNodes(ctx, actor, cmdb.KindPerson, []cmdb.UpsertItem{{Class: "Person",
					Attributes: map[string]any{"user_name": fmt.Sprintf("hire%d", i), "name": fmt.Sprintf("New Hire %d", i)}}}, true)
				require.NoError(t, err)
				people = append(people, res[0].Node.ID)
			}
			modelID := model.ID
			item, err := svc.WriteCatalogItem(ctx, actor, "", 0, map[string]any{"name": "Mobile phone", "category": "Hardware"},
				CatalogLinks{AssetModel: &modelID})
			require.NoError(t, err)

			tag := 0
			receive := func() store.Node {
				tag++
				a, err := svc.CreateAsset(ctx, actor, AssetInput{Model: model.ID, Attributes: map[string]any{"asset_tag": fmt.Sprintf("PHN-%03d", tag)}}, true)
				require.NoError(t, err)
				return a
			}
			taskOf := func(req store.Node) store.Node {
				items, err := svc.ItemsOf(ctx, req.ID, store.PageRequest{First: 10})
				require.NoError(t, err)
				require.Len(t, items.Items, 1)
				tasks, err := svc.TasksOf(ctx, KindCatalogTask, items.Items[0].ID, false, store.PageRequest{First: 10})
				require.NoError(t, err)
				require.Len(t, tasks.Items, 1, "one task per phone")
				return tasks.Items[0]
			}
			allocatedTo := map[string]string{} // asset tag -> task number, over every round
			for round := range rounds {
				phone := receive()
				reqs := make([]store.Node, racers)
				var wg sync.WaitGroup
				errs := make([]error, racers)
				for i := range racers {
					wg.Go(func() {
						reqs[i], _, errs[i] = svc.SubmitRequest(viewer, actor, RequestInput{RequestedFor: people[i],
							Items: []ItemRequest{{CatalogItem: item.ID}}})
					})
				}
				wg.Wait()
				for i, err := range errs {
					require.NoError(t, err, "round %d racer %d", round, i)
				}
				var winners, waiting []store.Node
				for _, r := range reqs {
					task := taskOf(r)
					switch task.Attributes["state"] {
					case TaskOpen:
						winners = append(winners, task)
					case TaskPending:
						assert.Contains(t, task.Attributes["wait_reason"], "out of stock")
						assert.Nil(t, task.Attributes["allocated_asset"])
						waiting = append(waiting, task)
					default:
						t.Fatalf("round %d: task %v in state %v", round, task.Attributes["number"], task.Attributes["state"])
					}
				}
				require.Len(t, winners, 1, "round %d: exactly one request gets the last phone", round)
				require.Len(t, waiting, racers-1, "round %d: the others wait", round)
				a, ok, err := svc.AssetByTag(ctx, phone.Attributes["asset_tag"].(string))
				require.NoError(t, err)
				require.True(t, ok)
				assert.Equal(t, AssetInUse, a.Attributes["state"])
				assert.Equal(t, winners[0].Attributes["number"], a.Attributes["catalog_task"], "round %d: the asset names the winning task", round)
				assert.Equal(t, a.Attributes["asset_tag"], winners[0].Attributes["allocated_asset"])
				prev, twice := allocatedTo[phone.Attributes["asset_tag"].(string)]
				require.False(t, twice, "asset %v allocated before to %v", phone.Attributes["asset_tag"], prev)
				allocatedTo[phone.Attributes["asset_tag"].(string)] = winners[0].Attributes["number"].(string)
				n, err := svc.InStock(ctx, model.ID)
				require.NoError(t, err)
				assert.Zero(t, n, "round %d: nothing left in stock", round)

				// The next phone received goes to the oldest waiting task.
				oldest := waiting[0]
				for _, w := range waiting[1:] {
					if w.CreatedAt.Before(oldest.CreatedAt) || w.CreatedAt.Equal(oldest.CreatedAt) && w.ID < oldest.ID {
						oldest = w
					}
				}
				next := receive()
				assert.Equal(t, AssetInUse, next.Attributes["state"], "CreateAsset returns the asset as the waiting task left it")
				assert.Equal(t, oldest.Attributes["number"], next.Attributes["catalog_task"], "round %d: served oldest first", round)
				// Every request still waiting is canceled, which leaves the
				// stock empty for the next round.
				for _, r := range reqs {
					task := taskOf(r)
					if task.Attributes["state"] == TaskPending {
						_, err := svc.ActOnRequest(ctx, actor, r.ID, 0, ActionCancelRequest, map[string]any{"close_notes": "round over"})
						require.NoError(t, err)
						item, err := svc.ItemsOf(ctx, r.ID, store.PageRequest{First: 1})
						require.NoError(t, err)
						assert.Equal(t, ClosedCanceled, item.Items[0].Attributes["state"])
						assert.Equal(t, TaskCanceled, taskOf(r).Attributes["state"])
					}
				}
			}

			// Canceling a request holding a phone gives it back to stock,
			// and from there to the next waiting task.
			waiter, _, err := svc.SubmitRequest(viewer, actor, RequestInput{RequestedFor: people[0], Items: []ItemRequest{{CatalogItem: item.ID}}})
			require.NoError(t, err)
			require.Equal(t, TaskPending, taskOf(waiter).Attributes["state"])
			holder := findRequestHolding(ctx, t, svc, "PHN-001")
			_, err = svc.ActOnRequest(ctx, actor, holder.ID, 0, ActionCancelRequest, map[string]any{"close_notes": "left before day one"})
			require.NoError(t, err)
			got := taskOf(waiter)
			assert.Equal(t, TaskOpen, got.Attributes["state"])
			assert.Equal(t, "PHN-001", got.Attributes["allocated_asset"], "the returned phone goes to the waiting request")
		})
	}
}

// findRequestHolding returns the request whose task holds the asset
// tagged tag.
func findRequestHolding(ctx context.Context, t *testing.T, svc *Service, tag string) store.Node {
	t.Helper()
	a, ok, err := svc.AssetByTag(ctx, tag)
	require.NoError(t, err)
	require.True(t, ok)
	item, ok, err := svc.RequestedItemByNumber(ctx, a.Attributes["request_item"].(string))
	require.NoError(t, err)
	require.True(t, ok)
	req, ok, err := svc.RequestByNumber(ctx, item.Attributes["parent"].(string))
	require.NoError(t, err)
	require.True(t, ok)
	return req
}

// TestSweepItemBreaches: requested items breach like incidents, on both
// backends: an item waiting for approval past its response target is told
// of once (requested_item.breached, response_breached_at) however many
// sweeps run; past the resolution target, every item still open is told
// of; a canceled item never breaches; a delivered one stops its clock.
func TestSweepItemBreaches(t *testing.T) {
	for name, open := range breachBackends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st := open(t)
			m, err := cmdb.DefaultModel()
			require.NoError(t, err)
			c, err := cmdb.NewService(ctx, st, m)
			require.NoError(t, err)
			clk := &clock{t: time.Now()}
			ev := &events{}
			svc, err := NewService(c, st, Config{Now: clk.Now, Publish: ev.publish})
			require.NoError(t, err)
			actor := store.Actor{Name: "desk", Source: "api"}
			res, err := c.UpsertNodes(ctx, actor, cmdb.KindPerson, []cmdb.UpsertItem{{Class: "Person", Attributes: map[string]any{"user_name": "boss", "name": "The Boss"}},
				{Class: "Person", Attributes: map[string]any{"user_name": "hire", "name": "New Hire"}}}, true)
			require.NoError(t, err)
			boss, hire := res[0].Node.ID, res[1].Node.ID
			require.NoError(t, svc.SetPersonManager(ctx, actor, hire, boss))
			approved, err := svc.WriteCatalogItem(ctx, actor, "", 0, map[string]any{"name": "Desk", "approval": ApprovalManager}, CatalogLinks{})
			require.NoError(t, err)
			free, err := svc.WriteCatalogItem(ctx, actor, "", 0, map[string]any{"name": "Chair"}, CatalogLinks{})
			require.NoError(t, err)
			submit := func(item store.ID) store.Node { // priority 1: 15m response, 4h resolution, 24x7
				_, items, err := svc.SubmitRequest(ctx, actor, RequestInput{RequestedFor: hire, Attributes: map[string]any{"priority": int64(1)},
					Items: []ItemRequest{{CatalogItem: item}}})
				require.NoError(t, err)
				return items[0]
			}
			waiting, working, dropped := submit(approved.ID), submit(free.ID), submit(approved.ID)
			_, err = svc.ActOnRequestedItem(ctx, actor, dropped.ID, 0, ActionCancelRequest, map[string]any{"close_notes": "not needed"})
			require.NoError(t, err)
			ev.take()
			sweep := func() map[string][]string {
				_, err := svc.SweepBreaches(ctx, BreachActor)
				require.NoError(t, err)
				out := map[string][]string{}
				for _, e := range ev.take() {
					if e.Type == EventItemBreached {
						out[e.Record.Attributes["number"].(string)] = append(out[e.Record.Attributes["number"].(string)], e.Changes[0].Field)
					}
				}
				return out
			}
			number := func(n store.Node) string { return n.Attributes["number"].(string) }
			assert.Empty(t, sweep(), "nothing due yet")
			clk.Set(clk.Now().Add(20 * time.Minute))
			assert.Equal(t, map[string][]string{number(waiting): {AttrResponseBreachedAt}}, sweep(), "not approved within 15 minutes")
			assert.Empty(t, sweep(), "told once")
			clk.Set(clk.Now().Add(5 * time.Hour))
			assert.Equal(t, map[string][]string{number(waiting): {AttrResolutionBreachedAt}, number(working): {AttrResolutionBreachedAt}}, sweep(),
				"not delivered within 4 hours; the canceled item has no target")
			assert.Empty(t, sweep())
		})
	}
}
