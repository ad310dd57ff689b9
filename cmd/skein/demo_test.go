package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/config"
	"github.com/skein-cmdb/skein/internal/demo"
	"github.com/skein-cmdb/skein/internal/neo4jtest"
	neo4jstore "github.com/skein-cmdb/skein/internal/store/neo4j"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/ from the embedded backend's answers")

// ---------------------------------------------------------------------------
// A demo-seeded Skein, over HTTP.

// demoBackend is a way of running Skein over the demo estate.
type demoBackend struct {
	name string
	// config returns the configuration of an empty store (skipping t when
	// the backend is not available).
	config func(t *testing.T) config.Config
	// reversed seeds the estate in reverse order (other ids, other
	// insertion order) instead of through seedDemo.
	reversed bool
}

// demoBackends are the embedded store, the embedded store seeded in reverse
// order (answers must not depend on ids or creation order), and Neo4j
// (skipped without NEO4J_URI, failed without it when CI=true).
func demoBackends(withReversed bool) []demoBackend {
	bs := []demoBackend{{name: "embedded", config: demoEmbeddedConfig}}
	if withReversed {
		bs = append(bs, demoBackend{name: "embedded-reversed", config: demoEmbeddedConfig, reversed: true})
	}
	return append(bs, demoBackend{name: "neo4j", config: demoNeo4jConfig})
}

func demoEmbeddedConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.Store.Kind = config.StoreEmbedded
	cfg.Store.DataDir = t.TempDir()
	return cfg
}

// demoNeo4jConfig returns the configuration of the test Neo4j, emptied first.
func demoNeo4jConfig(t *testing.T) config.Config {
	env := neo4jtest.Require(t)
	ctx := context.Background()
	st, err := neo4jstore.Open(ctx, neo4jstore.Config{URI: env.URI, User: env.User, Password: env.Password, Database: env.Database})
	require.NoError(t, err)
	require.NoError(t, st.Reset(ctx), "empty the test Neo4j")
	require.NoError(t, st.Close())
	cfg := config.Default()
	cfg.Store.Kind = config.StoreNeo4j
	cfg.Neo4j.URI, cfg.Neo4j.User, cfg.Neo4j.Password, cfg.Neo4j.Database = env.URI, env.User, config.Secret(env.Password), env.Database
	return cfg
}

// demoServer is a demo-seeded Skein behind a real HTTP server.
type demoServer struct {
	url    string
	token  string // an admin token, sent with every request
	client *http.Client
	ids    map[string]string // CI name -> global ID, as looked up
}

// startDemo builds the app on an empty store of backend b, seeds the demo
// estate and serves the real router.
func startDemo(t *testing.T, b demoBackend) *demoServer {
	t.Helper()
	cfg := b.config(t)
	ctx := context.Background()
	a, err := newApp(ctx, cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	if b.reversed {
		e, err := demo.Default()
		require.NoError(t, err)
		_, err = demo.SeedEstate(ctx, a.CMDB, demoActor, e.Reversed())
		require.NoError(t, err)
	} else {
		var out bytes.Buffer
		require.NoError(t, seedDemo(ctx, a, &out))
		require.Contains(t, out.String(), "demo estate loaded: ")
	}
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	return &demoServer{url: srv.URL, token: issueToken(t, a, "demo admin", auth.Admin), client: srv.Client(), ids: map[string]string{}}
}

// demoResponse is a GraphQL response.
type demoResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []demoGQLError  `json:"errors"`
}

type demoGQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (e demoGQLError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// post sends one GraphQL operation and decodes the answer, whatever the
// HTTP status (errors are answered in the body).
func (s *demoServer) post(t *testing.T, query string, vars map[string]any) demoResponse {
	t.Helper()
	return s.postWith(t, s.token, query, vars)
}

// postAs sends a query with another token.
func (s *demoServer) postAs(t *testing.T, tok, query string) demoResponse {
	t.Helper()
	return s.postWith(t, tok, query, nil)
}

func (s *demoServer) postWith(t *testing.T, tok, query string, vars map[string]any) demoResponse {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, s.url+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := s.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out demoResponse
	require.NoError(t, json.Unmarshal(raw, &out), "response: %s", raw)
	return out
}

// data sends an operation that must succeed and decodes its data into v.
func (s *demoServer) data(t *testing.T, query string, vars map[string]any, v any) {
	t.Helper()
	resp := s.post(t, query, vars)
	require.Empty(t, resp.Errors, "errors of %s", query)
	require.NoError(t, json.Unmarshal(resp.Data, v))
}

// id returns the global ID of the CI named name, looked up by name as the
// documentation does.
func (s *demoServer) id(t *testing.T, name string) string {
	t.Helper()
	if id, ok := s.ids[name]; ok {
		return id
	}
	var d struct {
		CIs struct {
			Edges []struct {
				Node struct{ ID, Name string }
			}
		}
	}
	s.data(t, `query($name: String!) { cis(filter: {namePrefix: $name}, first: 1000) { edges { node { id name } } } }`,
		map[string]any{"name": name}, &d)
	for _, e := range d.CIs.Edges {
		if e.Node.Name == name {
			s.ids[name] = e.Node.ID
			return e.Node.ID
		}
	}
	require.Failf(t, "no such CI", "no CI named %q in the demo estate", name)
	return ""
}

var demoIDPlaceholder = regexp.MustCompile(`^\$ID\((.+)\)$`)

// resolve replaces, anywhere in v, the strings "$ID(name)" by the global ID
// of the CI named name.
func (s *demoServer) resolve(t *testing.T, v any) any {
	t.Helper()
	switch x := v.(type) {
	case string:
		if m := demoIDPlaceholder.FindStringSubmatch(x); m != nil {
			return s.id(t, m[1])
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.resolve(t, e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.resolve(t, e)
		}
		return out
	}
	return v
}

// ---------------------------------------------------------------------------
// Golden impact analyses.

// demoImpact is the part of an impactAnalysis answer the golden cases
// select (see testdata/*.graphql).
type demoImpact struct {
	Starts           []demoCIRef    `json:"starts"`
	Impacted         []demoImpacted `json:"impacted"`
	BusinessServices []demoImpacted `json:"businessServices"`
	Owners           []demoContact  `json:"owners"`
	SupportGroups    []demoContact  `json:"supportGroups"`
	CountsByClass    []struct {
		Class string `json:"class"`
		Count int    `json:"count"`
	} `json:"countsByClass"`
	DownCount              int  `json:"downCount"`
	AtRiskCount            int  `json:"atRiskCount"`
	RedundancyReducedCount int  `json:"redundancyReducedCount"`
	DegradedCount          int  `json:"degradedCount"`
	Truncated              bool `json:"truncated"`
}

type demoCIRef struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Class       string `json:"class"`
	Criticality *int   `json:"criticality"`
}

type demoImpacted struct {
	CI     demoCIRef `json:"ci"`
	Depth  int       `json:"depth"`
	Effect string    `json:"effect"`
	Path   []struct {
		From    demoCIRef `json:"from"`
		To      demoCIRef `json:"to"`
		Type    string    `json:"type"`
		Forward bool      `json:"forward"`
	} `json:"path"`
	Headroom *struct {
		Group         demoCIRef `json:"group"`
		MembersUp     int       `json:"membersUp"`
		MembersNeeded int       `json:"membersNeeded"`
	} `json:"headroom"`
}

// headroom renders the headroom as "group up/needed", "" without one.
func (im demoImpacted) headroom() string {
	if im.Headroom == nil {
		return ""
	}
	return fmt.Sprintf("%s %d/%d", im.Headroom.Group.Name, im.Headroom.MembersUp, im.Headroom.MembersNeeded)
}

type demoContact struct {
	Name    string `json:"name"`
	CiCount int    `json:"ciCount"`
}

// pathTypes renders a path as its relationship types in the order
// travelled: "TYPE>" when the hop went from source to target, "<TYPE" when
// it went from target to source (a VM reached from its hypervisor over
// "vm RUNS_ON hypervisor" is "<RUNS_ON").
func (im demoImpacted) pathTypes() string {
	parts := make([]string, len(im.Path))
	for i, st := range im.Path {
		if st.Forward {
			parts[i] = st.Type + ">"
		} else {
			parts[i] = "<" + st.Type
		}
	}
	return strings.Join(parts, " ")
}

func (a demoImpact) find(name string) (demoImpacted, bool) {
	for _, im := range a.Impacted {
		if im.CI.Name == name {
			return im, true
		}
	}
	return demoImpacted{}, false
}

// effect returns the effect on the CI named name, "" when not impacted.
func (a demoImpact) effect(name string) string {
	im, _ := a.find(name)
	return im.Effect
}

// demoRelType is how failure travels along a relationship type.
type demoRelType struct {
	Name                string  `json:"name"`
	Propagates          string  `json:"propagates"`
	Effect              string  `json:"effect"`
	RedundancyAttribute *string `json:"redundancyAttribute"`
}

func (s *demoServer) relTypes(t *testing.T) map[string]demoRelType {
	t.Helper()
	var d struct {
		RelationshipTypes []demoRelType `json:"relationshipTypes"`
	}
	s.data(t, `{ relationshipTypes { name propagates effect redundancyAttribute } }`, nil, &d)
	out := map[string]demoRelType{}
	for _, rt := range d.RelationshipTypes {
		out[rt.Name] = rt
	}
	return out
}

// demoCheckPaths checks that every impacted CI is explained: a path of depth
// hops from a start CI to it, each hop over a relationship type that carries
// failure in the direction travelled. A CI down is explained by "down" hops
// only, or by a group (MEMBER_OF) whose redundancy broke, which must then be
// down itself.
func demoCheckPaths(t *testing.T, a demoImpact, types map[string]demoRelType) {
	t.Helper()
	starts := map[string]bool{}
	for _, s := range a.Starts {
		starts[s.Name] = true
	}
	for _, im := range a.Impacted {
		name := im.CI.Name
		if !assert.Len(t, im.Path, im.Depth, "%s: a path of depth hops", name) || len(im.Path) == 0 {
			continue
		}
		assert.True(t, starts[im.Path[0].From.Name], "%s: the path starts at a failing CI, not %s", name, im.Path[0].From.Name)
		assert.Equal(t, name, im.Path[len(im.Path)-1].To.Name, "%s: the path ends at the CI", name)
		for i, st := range im.Path {
			if i > 0 {
				assert.Equal(t, im.Path[i-1].To.Name, st.From.Name, "%s: hop %d continues the path", name, i)
			}
			rt, ok := types[st.Type]
			if !assert.True(t, ok, "%s: hop %d: unknown type %s", name, i, st.Type) {
				continue
			}
			switch rt.Propagates {
			case "TARGET_TO_SOURCE":
				assert.False(t, st.Forward, "%s: hop %d over %s travels from target to source", name, i, st.Type)
			case "SOURCE_TO_TARGET":
				assert.True(t, st.Forward, "%s: hop %d over %s travels from source to target", name, i, st.Type)
			default:
				assert.Failf(t, "hop over a type that carries no failure", "%s: hop %d over %s", name, i, st.Type)
			}
			if im.Effect == "DOWN" {
				if rt.RedundancyAttribute != nil {
					assert.Equal(t, "DOWN", a.effect(st.To.Name), "%s: hop %d: group %s must be down to explain a CI down", name, i, st.To.Name)
				} else {
					assert.Equal(t, "DOWN", rt.Effect, "%s: hop %d: a %s hop only degrades", name, i, st.Type)
				}
			}
		}
	}
}

// demoGoldenItem is one impacted CI in a golden file.
type demoGoldenItem struct {
	Depth    int    `json:"depth"`
	Effect   string `json:"effect"`
	Class    string `json:"class"`
	Name     string `json:"name"`
	Path     string `json:"path"`
	Headroom string `json:"headroom,omitempty"`
}

type demoGoldenService struct {
	Name        string `json:"name"`
	Criticality *int   `json:"criticality"`
	Effect      string `json:"effect"`
	Depth       int    `json:"depth"`
}

// golden projects an answer to what does not depend on the backend or on
// ids: names, classes, effects, depths and the relationship types of each
// path, in the answer's own (documented, deterministic) order.
func demoGolden(a demoImpact) []byte {
	starts := make([]any, len(a.Starts))
	for i, s := range a.Starts {
		starts[i] = s.Name
	}
	services := make([]any, len(a.BusinessServices))
	for i, b := range a.BusinessServices {
		services[i] = demoGoldenService{Name: b.CI.Name, Criticality: b.CI.Criticality, Effect: b.Effect, Depth: b.Depth}
	}
	contacts := func(cs []demoContact) []any {
		out := make([]any, len(cs))
		for i, c := range cs {
			out[i] = c
		}
		return out
	}
	classes := make([]any, len(a.CountsByClass))
	for i, c := range a.CountsByClass {
		classes[i] = c
	}
	impacted := make([]any, len(a.Impacted))
	for i, im := range a.Impacted {
		impacted[i] = demoGoldenItem{Depth: im.Depth, Effect: im.Effect, Class: im.CI.Class, Name: im.CI.Name, Path: im.pathTypes(), Headroom: im.headroom()}
	}
	return demoRenderJSON([]demoJSONField{
		{"starts", starts},
		{"downCount", a.DownCount},
		{"atRiskCount", a.AtRiskCount},
		{"redundancyReducedCount", a.RedundancyReducedCount},
		{"degradedCount", a.DegradedCount},
		{"truncated", a.Truncated},
		{"businessServices", services},
		{"owners", contacts(a.Owners)},
		{"supportGroups", contacts(a.SupportGroups)},
		{"countsByClass", classes},
		{"impacted", impacted},
	})
}

type demoJSONField struct {
	key   string
	value any
}

// demoRenderJSON writes an object with one line per list element, so that
// golden files diff well.
func demoRenderJSON(fields []demoJSONField) []byte {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, f := range fields {
		fmt.Fprintf(&b, "  %s: ", demoCompactJSON(f.key))
		if list, ok := f.value.([]any); ok && len(list) > 0 {
			b.WriteString("[\n")
			for j, e := range list {
				b.WriteString("    " + demoCompactJSON(e))
				if j < len(list)-1 {
					b.WriteString(",")
				}
				b.WriteString("\n")
			}
			b.WriteString("  ]")
		} else {
			b.WriteString(demoCompactJSON(f.value))
		}
		if i < len(fields)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func demoCompactJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

var (
	demoGoldenMu      sync.Mutex
	demoGoldenWritten = map[string]bool{}
)

// demoCheckGolden compares got with the golden file. With -update, the first
// backend to answer rewrites it and the others are compared with that.
func demoCheckGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	demoGoldenMu.Lock()
	defer demoGoldenMu.Unlock()
	if *updateGolden && !demoGoldenWritten[path] {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		demoGoldenWritten[path] = true
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run go test ./cmd/skein -run Demo -update")
	assert.Equal(t, string(want), string(got), "answer differs from %s (if the change is intended: go test ./cmd/skein -run Demo -update)", path)
}

// demoReadCase reads testdata/<name>.graphql: the operation, and its variables
// from a "# variables: {...}" comment line.
func demoReadCase(t *testing.T, name string) (string, map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".graphql"))
	require.NoError(t, err)
	var vars map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "# variables:"); ok {
			require.NoError(t, json.Unmarshal([]byte(rest), &vars), "variables of %s", name)
		}
	}
	return string(raw), vars
}

// demoRunsOn returns the sources of the estate's "X RUNS_ON target".
func demoRunsOn(t *testing.T, target string) []string {
	t.Helper()
	e, err := demo.Default()
	require.NoError(t, err)
	var out []string
	for _, r := range e.Relationships {
		if r.Type == "RUNS_ON" && r.Target == target {
			out = append(out, r.Source)
		}
	}
	require.NotEmpty(t, out, "something runs on %s", target)
	return out
}

// demoAssertHeadroom checks the headroom ("group up/needed") of some CIs.
func demoAssertHeadroom(t *testing.T, a demoImpact, want map[string]string) {
	t.Helper()
	for name, h := range want {
		im, ok := a.find(name)
		if assert.True(t, ok, "%s is impacted", name) {
			assert.Equal(t, h, im.headroom(), "headroom of %s", name)
		}
	}
}

func demoAssertEffects(t *testing.T, a demoImpact, want map[string]string) {
	t.Helper()
	for name, eff := range want {
		assert.Equal(t, eff, a.effect(name), "effect on %s", name)
	}
}

// demoGoldenCases are the impact analyses whose answers testdata/ keeps. Each
// also asserts the semantics it illustrates, so that a golden file
// regenerated with a wrong answer does not pass unnoticed.
var demoGoldenCases = []struct {
	name  string
	check func(t *testing.T, a demoImpact)
}{
	{"impact-hypervisor-down", func(t *testing.T, a demoImpact) {
		// Its VMs are down, and whatever runs on them.
		for _, vm := range demoRunsOn(t, demo.HypervisorExample) {
			im, ok := a.find(vm)
			if assert.True(t, ok, "VM %s is impacted", vm) {
				assert.Equal(t, "DOWN", im.Effect, vm)
				assert.Equal(t, 1, im.Depth, vm)
			}
			for _, on := range demoRunsOn(t, vm) {
				assert.Equal(t, "DOWN", a.effect(on), "%s runs on %s", on, vm)
			}
		}
		demoAssertEffects(t, a, map[string]string{
			demo.ComputeClusterExample:       "REDUNDANCY_REDUCED", // five of six hosts up, four needed
			demo.LoadBalancerExample:         "AT_RISK",            // two of three members up, two needed
			demo.ApplicationExample:          "AT_RISK",
			"Payments":                       "AT_RISK",
			demo.KubernetesClusterExample:    "REDUNDANCY_REDUCED",
			demo.BusinessServiceExample:      "AT_RISK",
			demo.SinglePointOfFailureExample: "DOWN",
			"support-desk":                   "DOWN",
			"Support Desk":                   "DOWN",
			"HR":                             "DOWN",
			"Payroll":                        "DOWN", // payroll DEPENDS_ON hr-portal
			"Identity":                       "",
		})
		demoAssertHeadroom(t, a, map[string]string{
			demo.ComputeClusterExample: demo.ComputeClusterExample + " 5/4",
			demo.LoadBalancerExample:   demo.LoadBalancerExample + " 2/2",
			demo.ApplicationExample:    demo.LoadBalancerExample + " 2/2",
		})
		assert.Positive(t, a.DownCount)
		assert.Positive(t, a.AtRiskCount)
		assert.Positive(t, a.RedundancyReducedCount)
		assert.Zero(t, a.DegradedCount, "nothing here degrades without redundancy")
	}},
	{"impact-hypervisor-degraded", func(t *testing.T, a demoImpact) {
		// Assuming the host only degrades, nothing can go down.
		assert.Zero(t, a.DownCount)
		for _, vm := range demoRunsOn(t, demo.HypervisorExample) {
			assert.Equal(t, "DEGRADED", a.effect(vm), vm)
		}
		demoAssertEffects(t, a, map[string]string{"Support Desk": "DEGRADED", "Payroll": "DEGRADED"})
	}},
	{"impact-k8s-node-down", func(t *testing.T, a demoImpact) {
		// One of six nodes: the cluster (four needed) has one to spare.
		im, ok := a.find(demo.KubernetesClusterExample)
		require.True(t, ok)
		assert.Equal(t, "REDUNDANCY_REDUCED", im.Effect)
		assert.Equal(t, 1, im.Depth)
		assert.Zero(t, a.DownCount)
		demoAssertEffects(t, a, map[string]string{demo.BusinessServiceExample: "REDUNDANCY_REDUCED"})
		demoAssertHeadroom(t, a, map[string]string{demo.KubernetesClusterExample: demo.KubernetesClusterExample + " 5/4", demo.BusinessServiceExample: demo.KubernetesClusterExample + " 5/4"})
	}},
	{"impact-k8s-two-nodes-down", func(t *testing.T, a demoImpact) {
		// Four of six up, exactly the four needed: up, but one more failure
		// takes it down.
		demoAssertEffects(t, a, map[string]string{demo.KubernetesClusterExample: "AT_RISK", demo.BusinessServiceExample: "AT_RISK"})
		demoAssertHeadroom(t, a, map[string]string{demo.KubernetesClusterExample: demo.KubernetesClusterExample + " 4/4"})
		assert.Zero(t, a.DownCount)
	}},
	{"impact-k8s-nodes-down", func(t *testing.T, a demoImpact) {
		// Three of six up, four needed: the cluster is down, and so is every
		// workload on it, the applications they provide and the business
		// services above them.
		im, ok := a.find(demo.KubernetesClusterExample)
		require.True(t, ok)
		assert.Equal(t, "DOWN", im.Effect)
		assert.Equal(t, 1, im.Depth)
		for _, w := range demoRunsOn(t, demo.KubernetesClusterExample) {
			assert.Equal(t, "DOWN", a.effect(w), "workload %s", w)
		}
		demoAssertEffects(t, a, map[string]string{"shop-storefront": "DOWN", demo.BusinessServiceExample: "DOWN", "Logistics": "DOWN", "Payments": ""})
		assert.Zero(t, a.DegradedCount)
	}},
	{"impact-db-replica-down", func(t *testing.T, a demoImpact) {
		// One of two read replicas (one needed): reads are one failure from
		// down, the primary and its databases are untouched.
		demoAssertEffects(t, a, map[string]string{
			demo.ReplicaClusterExample:  "AT_RISK",
			"shop-catalog":              "AT_RISK",
			demo.BusinessServiceExample: "AT_RISK",
			demo.DatabaseExample:        "",
			demo.DatabasePrimaryExample: "",
		})
		assert.Zero(t, a.DownCount)
	}},
	{"impact-db-primary-down", func(t *testing.T, a demoImpact) {
		// The primary has no automatic failover in the model: its databases,
		// and whatever needs them, are down.
		demoAssertEffects(t, a, map[string]string{
			demo.DatabaseExample:        "DOWN",
			"shop-checkout":             "DOWN",
			demo.BusinessServiceExample: "DOWN",
			demo.ReplicaClusterExample:  "",
		})
	}},
}

// TestDemoImpactGolden seeds the demo estate on each backend and checks
// impact analyses sent over HTTP against the golden files in testdata/.
// Every backend must give the same answer, byte for byte once projected.
func TestDemoImpactGolden(t *testing.T) {
	for _, b := range demoBackends(true) {
		t.Run(b.name, func(t *testing.T) {
			s := startDemo(t, b)
			types := s.relTypes(t)
			for _, tc := range demoGoldenCases {
				t.Run(tc.name, func(t *testing.T) {
					query, vars := demoReadCase(t, tc.name)
					resolved, _ := s.resolve(t, any(vars)).(map[string]any)
					var d struct {
						ImpactAnalysis demoImpact `json:"impactAnalysis"`
					}
					s.data(t, query, resolved, &d)
					a := d.ImpactAnalysis
					require.NotEmpty(t, a.Impacted, "something is impacted")
					assert.False(t, a.Truncated)
					demoCheckPaths(t, a, types)
					tc.check(t, a)
					demoCheckGolden(t, filepath.Join("testdata", tc.name+".golden.json"), demoGolden(a))
				})
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Seeding through the commands.

func TestDemoSeedOnlyIntoAnEmptyStore(t *testing.T) {
	ctx := context.Background()
	a, err := newApp(ctx, demoEmbeddedConfig(t), slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer a.Close()

	var first, second bytes.Buffer
	require.NoError(t, seedDemo(ctx, a, &first))
	e, err := demo.Default()
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("demo estate loaded: %d CIs (%d created), %d relationships (%d created), %d people, %d groups; "+
		"records: 4 incidents, 1 problem, 3 changes, 9 assets, 3 catalog items, 3 requests, 12 articles; try the Playground, and docs/API.md and docs/ITSM.md for a tour\n",
		len(e.CIs), len(e.CIs), len(e.Relationships), len(e.Relationships), len(e.People), len(e.Groups)), first.String())

	require.NoError(t, seedDemo(ctx, a, &second))
	assert.Equal(t, "store not empty; demo estate not loaded\n", second.String())
}

func TestDemoSeedCommand(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		wantErr    string
		wantStdout []string
	}{
		{"without --demo", []string{"seed", "--data-dir", dir}, "nothing to seed: pass --demo", []string{"Usage:", "skein seed --demo"}},
		{"with --demo", []string{"seed", "--demo", "--data-dir", dir}, "", []string{"demo estate loaded: "}},
		{"again", []string{"seed", "--demo", "--data-dir", dir}, "", []string{"store not empty; demo estate not loaded"}},
		{"help", []string{"seed", "--help"}, "", []string{"Loads the bundled demo estate", "FRA1", "--demo", "--data-dir", "--store"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
			} else {
				require.NoError(t, err, "stderr: %s", stderr.String())
			}
			for _, w := range tt.wantStdout {
				assert.Contains(t, stdout.String(), w)
			}
		})
	}
}

// TestDemoServe runs `skein serve --demo` twice on one data directory: the
// first run loads the estate and serves it, the second leaves it alone.
func TestDemoServe(t *testing.T) {
	dir := t.TempDir()
	prev := "" // the previous run's token
	for i, want := range []string{"demo estate loaded: ", "store not empty; demo estate not loaded"} {
		ctx, cancel := context.WithCancel(context.Background())
		var stdout, stderr lockedBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"serve", "--demo", "--data-dir", dir, "--addr", "127.0.0.1:0", "--log-format", "json"}, &stdout, &stderr)
		}()
		url := demoWaitListening(t, &stderr, done)
		var d struct {
			CIs struct{ TotalCount int }
		}
		// serve --demo prints an admin token on standard output.
		tok := tokenPattern.FindString(stdout.String())
		require.NotEmpty(t, tok, "run %d: an admin token on stdout: %s", i+1, stdout.String())
		assert.NotContains(t, stderr.String(), tok, "run %d: the token is not logged", i+1)
		s := &demoServer{url: strings.TrimSuffix(url, "/"), token: tok, client: http.DefaultClient}
		var v struct{ Viewer struct{ Role string } }
		s.data(t, `{ viewer { role } }`, nil, &v)
		assert.Equal(t, "ADMIN", v.Viewer.Role)
		if prev != "" {
			r := s.postAs(t, prev, `{ viewer { role } }`)
			require.NotEmpty(t, r.Errors, "run %d: the previous run's demo token is revoked", i+1)
			assert.Equal(t, "UNAUTHENTICATED", r.Errors[0].code())
		}
		prev = tok
		s.data(t, `{ cis(filter: {namePrefix: "esx-fra1-"}) { totalCount } }`, nil, &d)
		assert.Equal(t, 8, d.CIs.TotalCount, "run %d: the FRA1 hypervisors are served", i+1)
		cancel()
		require.NoError(t, <-done)
		assert.Contains(t, stderr.String(), want, "run %d", i+1)
	}
}

// demoWaitListening waits for the "skein listening" log line and returns the
// URL it names.
func demoWaitListening(t *testing.T, stderr *lockedBuffer, done <-chan error) string {
	t.Helper()
	deadline := time.After(time.Minute) // a bound on a hang, not a speed assertion
	for {
		for line := range strings.SplitSeq(stderr.String(), "\n") {
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "skein listening" {
				return rec.URL
			}
		}
		select {
		case err := <-done:
			require.FailNow(t, "serve stopped", "err %v; stderr: %s", err, stderr.String())
		case <-deadline:
			require.FailNow(t, "serve did not start", "stderr: %s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Ensure the golden cases and their files stay in step.
func TestDemoGoldenFilesHaveCases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.graphql"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".graphql"))
	}
	var cases []string
	for _, tc := range demoGoldenCases {
		cases = append(cases, tc.name)
	}
	slices.Sort(cases)
	assert.Equal(t, cases, names, "every testdata/*.graphql is a golden case and every case has a file")
}
