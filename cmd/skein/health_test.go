package main

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// healthQuery asks for every figure with its offenders' names.
const healthQuery = `query($class: String, $first: Int) { cmdbHealth(class: $class, first: $first) {
  class ciCount completeCount completeness incompleteCount orphanCount staleCount staleAfterSeconds
  classes { class ciCount completeness expectsRelationships recommendedAttributes
    incomplete { totalCount truncated items { ci { id name } missingAttributes } }
    orphans { totalCount truncated cis { id name } }
    stale { totalCount truncated cis { id name } } }
  duplicates { totalCount truncated capped pairs { cis { id name } sharedAttributes nameDistance } }
  identityConflicts { totalCount pairs { cis { id } } } } }`

// names returns the names of the CIs under path in d (a list of CIs, or of
// items holding one under key).
func names(v any, key string) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, x := range list {
		m := x.(map[string]any)
		if key != "" {
			m, _ = m[key].(map[string]any)
		}
		if n, ok := m["name"].(string); ok {
			out = append(out, n)
		}
	}
	return out
}

// classHealth returns the figures of class in a cmdbHealth answer.
func classHealth(t *testing.T, d map[string]any, class string) map[string]any {
	t.Helper()
	for _, c := range get(d, "cmdbHealth", "classes").([]any) {
		if c.(map[string]any)["class"] == class {
			return c.(map[string]any)
		}
	}
	t.Fatalf("no class %s in %v", class, d)
	return nil
}

// TestCMDBHealth plants, through the API, a duplicate (two Servers web-01
// and web01 with one address), an orphan (an ApplicationInstance that runs
// on nothing), an incomplete CI (a Server without its OS) and a stale one,
// and finds each listed by cmdbHealth on both backends, a clean CI listed
// nowhere, and the figures in /metrics after a refresh.
func TestCMDBHealth(t *testing.T) {
	for name, mk := range backendConfigs(t) {
		t.Run(name, func(t *testing.T) {
			cfg := mk(t)
			cfg.Discovery.StaleAfter = time.Hour
			cfg.Health.RefreshInterval = time.Hour // one refresh at start; the test refreshes after planting
			var now atomic.Int64
			now.Store(time.Now().UnixNano())
			srv, a := apiServerWith(t, cfg, appOptions{now: func() time.Time { return time.Unix(0, now.Load()) }})
			url := srv.URL

			server := func(name, ip string, more map[string]any) map[string]any {
				attrs := map[string]any{"name": name, "dns_domain": "example.com", "ip_address": ip, "os_name": "Debian",
					"environment": "production", "owner": "ops", "support_group": "Unix"}
				for k, v := range more {
					attrs[k] = v
				}
				return item("Server", attrs)
			}
			stale := upsertIDs(t, url, server("old-01", "10.0.9.1", nil))[0]
			time.Sleep(20 * time.Millisecond) // only the stale CI is seen before the clean one
			ids := upsertIDs(t, url,
				server("db-01", "10.0.0.9", nil),
				server("web-01", "10.0.0.1", map[string]any{"os_name": nil}),
				server("web01", "10.0.0.1", nil),
				item("ApplicationInstance", map[string]any{"name": "orphan-app", "host": "nowhere.example.com", "application": "shop",
					"environment": "production", "owner": "ops", "support_group": "Unix"}),
				item("ApplicationInstance", map[string]any{"name": "shop-1", "host": "db-01.example.com", "application": "shop",
					"environment": "production", "owner": "ops", "support_group": "Unix"}))
			clean, web01a, web01b, instance := ids[0], ids[1], ids[2], ids[4]
			var rels []any
			for _, target := range []string{clean, web01a, web01b, stale} {
				rels = append(rels, map[string]any{"type": "RUNS_ON", "source": instance, "target": target})
			}
			ok(t, url, `mutation($in: CreateRelationshipsInput!) { createRelationships(input: $in) { results { status } } }`,
				map[string]any{"in": map[string]any{"items": rels}})
			d := ok(t, url, `query($id: ID!) { ci(id: $id) { lastSeenAt } }`, map[string]any{"id": clean})
			cleanSeen, err := time.Parse(time.RFC3339Nano, get(d, "ci", "lastSeenAt").(string))
			require.NoError(t, err)
			now.Store(cleanSeen.Add(time.Hour - time.Millisecond).UnixNano())

			d = ok(t, url, healthQuery, nil)
			assert.Equal(t, float64(6), get(d, "cmdbHealth", "ciCount"))
			assert.Equal(t, float64(3600), get(d, "cmdbHealth", "staleAfterSeconds"))
			servers := classHealth(t, d, "Server")
			instances := classHealth(t, d, "ApplicationInstance")

			// The incomplete CI, with what it lacks.
			assert.Equal(t, []string{"web-01"}, names(get(servers, "incomplete", "items"), "ci"))
			assert.Equal(t, []any{"os_name"}, get(servers, "incomplete", "items", 0, "missingAttributes"))
			assert.InDelta(t, 3.0/4.0, get(servers, "completeness"), 1e-9)
			// The orphan.
			assert.Equal(t, []string{"orphan-app"}, names(get(instances, "orphans", "cis"), ""))
			assert.Equal(t, float64(0), get(servers, "orphans", "totalCount"))
			// The stale CI.
			assert.Equal(t, []string{"old-01"}, names(get(servers, "stale", "cis"), ""))
			assert.Equal(t, float64(1), get(d, "cmdbHealth", "staleCount"))
			// The duplicate.
			assert.Equal(t, float64(1), get(d, "cmdbHealth", "duplicates", "totalCount"))
			assert.ElementsMatch(t, []string{"web-01", "web01"}, names(get(d, "cmdbHealth", "duplicates", "pairs", 0, "cis"), ""))
			assert.Equal(t, []any{"ip_address"}, get(d, "cmdbHealth", "duplicates", "pairs", 0, "sharedAttributes"))
			assert.Equal(t, false, get(d, "cmdbHealth", "duplicates", "capped"))
			// The clean CI is listed nowhere.
			for _, c := range get(d, "cmdbHealth", "classes").([]any) {
				for _, l := range []any{get(c, "incomplete", "items"), get(c, "orphans", "cis"), get(c, "stale", "cis")} {
					assert.NotContains(t, names(l, ""), "db-01")
					assert.NotContains(t, names(l, "ci"), "db-01")
				}
			}

			// One class, one offender per figure: the lists say they are short.
			d = ok(t, url, healthQuery, map[string]any{"class": "Server", "first": 1})
			assert.Equal(t, "Server", get(d, "cmdbHealth", "class"))
			assert.Len(t, get(d, "cmdbHealth", "classes"), 1)
			later := time.Unix(0, now.Load()).Add(time.Hour)
			now.Store(later.UnixNano())
			d = ok(t, url, healthQuery, map[string]any{"class": "Server", "first": 1})
			assert.Equal(t, float64(4), get(d, "cmdbHealth", "classes", 0, "stale", "totalCount"))
			assert.Len(t, get(d, "cmdbHealth", "classes", 0, "stale", "cis"), 1)
			assert.Equal(t, true, get(d, "cmdbHealth", "classes", 0, "stale", "truncated"))
			now.Store(cleanSeen.Add(time.Hour - time.Millisecond).UnixNano())

			// Bad arguments are INVALID on the argument.
			for _, vars := range []map[string]any{{"first": 0}, {"first": 101}, {"class": "Person"}, {"class": "NoSuchClass"}} {
				r := gql(t, url, healthQuery, vars)
				require.NotEmpty(t, r.Errors, "%v", vars)
				assert.Equal(t, "INVALID", r.Errors[0].Extensions["code"], "%v", vars)
			}

			// The metrics, after a refresh.
			require.NoError(t, a.refreshHealth(t.Context()))
			res, err := http.Get(url + "/metrics")
			require.NoError(t, err)
			raw, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			text := string(raw)
			for _, line := range []string{
				`skein_cmdb_cis{class="Server"} 4`,
				`skein_cmdb_cis{class="ApplicationInstance"} 2`,
				`skein_cmdb_completeness_ratio{class="Server"} 0.75`,
				`skein_cmdb_orphans{class="ApplicationInstance"} 1`,
				`skein_cmdb_stale_cis{class="Server"} 1`,
				`skein_cmdb_duplicate_pairs 1`,
				`skein_cmdb_identity_conflicts 0`,
			} {
				assert.Contains(t, text, line+"\n")
			}
		})
	}
}
