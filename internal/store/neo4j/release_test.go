package neo4j

// The previous-release fixture for Neo4j. Neo4j Community has no dump that
// loads without the server's own tooling, so the fixture is the database
// written out as data (graph.json): its schema rules, every node with its
// labels and typed properties, every relationship with its type, ends and
// typed properties. loadGraph recreates it in an emptied Neo4j with
// parameters only (labels and types come from an allow-list, schema names
// and properties must be plain identifiers), then today's Open migrates it.

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store/storetest"
)

var updateReleaseFixture = flag.Bool("update-release-fixture", false,
	"rebuild the previous-release fixture; only on the release it stands for (see its README)")

var releaseDir = filepath.Join(storetest.ReleaseFixtureDir, "neo4j")

// TestReleaseFixture loads the graph a store of the previous release left
// into an emptied Neo4j, opens it with Open (which migrates it) and checks
// that everything it held is there and works (storetest.CheckReleaseFixture).
// With -update-release-fixture it first rebuilds the fixture.
func TestReleaseFixture(t *testing.T) {
	cfg := requireNeo4j(t)
	if *updateReleaseFixture {
		buildReleaseFixture(t, cfg)
	}
	want, err := storetest.ReadReleaseManifest(filepath.Join(releaseDir, "expected.json"))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(releaseDir, "graph.json"))
	require.NoError(t, err)
	var g graphDump
	require.NoError(t, json.Unmarshal(data, &g))

	drv := rawDriver(t, cfg)
	wipe(t, drv, cfg)
	loadGraph(t, drv, cfg, &g)
	s, err := Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.Reset(context.Background()))
		require.NoError(t, s.Close())
	})
	storetest.CheckReleaseFixture(t, s, want)
}

// buildReleaseFixture writes the estate into an emptied Neo4j through a
// new Store and replaces the fixture's graph and manifest with it.
func buildReleaseFixture(t *testing.T, cfg Config) {
	storetest.RequireReleaseCode(t)
	drv := rawDriver(t, cfg)
	wipe(t, drv, cfg)
	s, err := Open(t.Context(), cfg)
	require.NoError(t, err)
	defer s.Close()
	m := storetest.BuildReleaseFixture(t, s, storetest.ReleaseFixtureCommit)
	g := dumpGraph(t, drv, cfg)
	g.Commit = storetest.ReleaseFixtureCommit
	data, err := json.Marshal(g)
	require.NoError(t, err)
	data = oneItemPerLine(data)
	require.NoError(t, os.MkdirAll(releaseDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(releaseDir, "graph.json"), data, 0o644))
	require.NoError(t, storetest.WriteReleaseManifest(filepath.Join(releaseDir, "expected.json"), m))
	t.Logf("wrote %s: %d nodes, %d relationships, %d schema rules, %d bytes (Neo4j %s)",
		releaseDir, len(g.Nodes), len(g.Relationships), len(g.Schema), len(data), g.Neo4j)
	require.NoError(t, s.Reset(t.Context()))
}

// graphDump is a Neo4j database written out as data.
type graphDump struct {
	// Commit is the release that wrote the database; Neo4j the server's
	// version.
	Commit        string     `json:"commit"`
	Neo4j         string     `json:"neo4j"`
	Schema        []dumpRule `json:"schema"`
	Nodes         []dumpNode `json:"nodes"`
	Relationships []dumpRel  `json:"relationships"`
}

// dumpRule is a constraint (Type UNIQUENESS) or an index (Type RANGE) on
// the properties of nodes of one label. Other rules are refused.
type dumpRule struct {
	Name       string   `json:"name"`
	Kind       string   `json:"kind"` // constraint or index
	Type       string   `json:"type"`
	Label      string   `json:"label"`
	Properties []string `json:"properties"`
}

// dumpNode is a node: its labels and properties. Relationships name nodes
// by their index in graphDump.Nodes.
type dumpNode struct {
	Labels []string        `json:"labels"`
	Props  map[string]prop `json:"props"`
}

// dumpRel is a relationship.
type dumpRel struct {
	Type  string          `json:"type"`
	Start int             `json:"start"`
	End   int             `json:"end"`
	Props map[string]prop `json:"props"`
}

// prop is a property value with its Neo4j type: T is string, integer,
// float, boolean, datetime (V in RFC 3339 with nanoseconds; Zone the zone
// name, or empty for a fixed offset), bytes (V in base64, as encoding/json
// writes []byte) or list (V a list of props).
type prop struct {
	T    string          `json:"t"`
	V    json.RawMessage `json:"v"`
	Zone string          `json:"zone,omitempty"`
}

// The labels and relationship types a store of the previous release
// writes: the only ones loadGraph creates. REPLICATES_TO is the fixture's
// registered relationship type.
var (
	releaseLabels   = []string{"CI", "IdentityKey", "AuditRecord", "ModelExtension", "APIToken", "IdentityConflict", "SkeinMigration"}
	releaseRelTypes = []string{"IDENTIFIES", "DEPENDS_ON", "RUNS_ON", "HOSTED_ON", "CONNECTS_TO", "MEMBER_OF", "CONTAINS",
		"PROVIDED_BY", "LOCATED_IN", "BACKED_UP_BY", "DUPLICATE_OF", "REPLICATES_TO"}
	plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

func rawDriver(t *testing.T, cfg Config) neo4j.DriverWithContext {
	t.Helper()
	auth := neo4j.NoAuth()
	if cfg.User != "" {
		auth = neo4j.BasicAuth(cfg.User, cfg.Password, "")
	}
	drv, err := neo4j.NewDriverWithContext(cfg.URI, auth)
	require.NoError(t, err)
	t.Cleanup(func() { _ = drv.Close(context.Background()) })
	return drv
}

// query runs one auto-commit query and returns its records.
func query(t *testing.T, drv neo4j.DriverWithContext, cfg Config, q string, params map[string]any) []*neo4j.Record {
	t.Helper()
	ctx := t.Context()
	sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: cfg.Database})
	defer sess.Close(context.Background())
	res, err := sess.Run(ctx, q, params)
	require.NoError(t, err, q)
	recs, err := res.Collect(ctx)
	require.NoError(t, err, q)
	return recs
}

// wipe empties the database: every node and relationship, every constraint
// and index but Neo4j's own token lookup indexes.
func wipe(t *testing.T, drv neo4j.DriverWithContext, cfg Config) {
	t.Helper()
	query(t, drv, cfg, "MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS", nil)
	// Constraints first: dropping one drops the index it owns.
	for _, rule := range []struct{ kind, list string }{
		{"CONSTRAINT", "SHOW CONSTRAINTS YIELD name RETURN name"},
		{"INDEX", "SHOW INDEXES YIELD name, type WHERE type <> 'LOOKUP' RETURN name"},
	} {
		for _, r := range query(t, drv, cfg, rule.list, nil) {
			name := r.Values[0].(string)
			require.Regexp(t, plainName, name)
			query(t, drv, cfg, fmt.Sprintf("DROP %s `%s` IF EXISTS", rule.kind, name), nil)
		}
	}
}

// dumpGraph writes the database out: schema rules by name, nodes by labels
// and properties, relationships by type and ends, so that a rebuild of an
// equal database gives an equal file (but for IDs and times).
func dumpGraph(t *testing.T, drv neo4j.DriverWithContext, cfg Config) *graphDump {
	t.Helper()
	g := &graphDump{}
	g.Neo4j = query(t, drv, cfg, "CALL dbms.components() YIELD versions RETURN versions[0]", nil)[0].Values[0].(string)
	for _, r := range query(t, drv, cfg, `SHOW CONSTRAINTS YIELD name, type, entityType, labelsOrTypes, properties
RETURN name, type, entityType, labelsOrTypes, properties ORDER BY name`, nil) {
		g.Schema = append(g.Schema, dumpRuleOf(t, "constraint", r))
	}
	for _, r := range query(t, drv, cfg, `SHOW INDEXES YIELD name, type, entityType, labelsOrTypes, properties, owningConstraint
WHERE type <> 'LOOKUP' AND owningConstraint IS NULL
RETURN name, type, entityType, labelsOrTypes, properties ORDER BY name`, nil) {
		g.Schema = append(g.Schema, dumpRuleOf(t, "index", r))
	}

	type node struct {
		eid string
		n   dumpNode
		key string
	}
	var nodes []node
	for _, r := range query(t, drv, cfg, "MATCH (n) RETURN elementId(n), labels(n), properties(n)", nil) {
		var labels []string
		for _, l := range r.Values[1].([]any) {
			labels = append(labels, l.(string))
		}
		slices.Sort(labels)
		n := dumpNode{Labels: labels, Props: dumpProps(t, r.Values[2].(map[string]any))}
		key, err := json.Marshal(n)
		require.NoError(t, err)
		nodes = append(nodes, node{eid: r.Values[0].(string), n: n, key: string(key)})
	}
	slices.SortFunc(nodes, func(a, b node) int { return cmp.Compare(a.key, b.key) })
	index := map[string]int{}
	for i, n := range nodes {
		index[n.eid] = i
		g.Nodes = append(g.Nodes, n.n)
	}
	for _, r := range query(t, drv, cfg, "MATCH (a)-[r]->(b) RETURN elementId(a), type(r), elementId(b), properties(r)", nil) {
		g.Relationships = append(g.Relationships, dumpRel{
			Start: index[r.Values[0].(string)], Type: r.Values[1].(string), End: index[r.Values[2].(string)],
			Props: dumpProps(t, r.Values[3].(map[string]any)),
		})
	}
	slices.SortFunc(g.Relationships, func(a, b dumpRel) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Type, b.Type), cmp.Compare(a.End, b.End))
	})
	return g
}

func dumpRuleOf(t *testing.T, kind string, r *neo4j.Record) dumpRule {
	t.Helper()
	rule := dumpRule{Name: r.Values[0].(string), Kind: kind, Type: r.Values[1].(string)}
	require.Equal(t, "NODE", r.Values[2], "rule %s", rule.Name)
	labels := r.Values[3].([]any)
	require.Len(t, labels, 1, "rule %s", rule.Name)
	rule.Label = labels[0].(string)
	for _, p := range r.Values[4].([]any) {
		rule.Properties = append(rule.Properties, p.(string))
	}
	return rule
}

func dumpProps(t *testing.T, props map[string]any) map[string]prop {
	t.Helper()
	out := make(map[string]prop, len(props))
	for k, v := range props {
		out[k] = dumpValue(t, v)
	}
	return out
}

func dumpValue(t *testing.T, v any) prop {
	t.Helper()
	raw := func(x any) json.RawMessage {
		data, err := json.Marshal(x)
		require.NoError(t, err)
		return data
	}
	switch x := v.(type) {
	case string:
		return prop{T: "string", V: raw(x)}
	case int64:
		return prop{T: "integer", V: raw(x)}
	case float64:
		return prop{T: "float", V: raw(x)}
	case bool:
		return prop{T: "boolean", V: raw(x)}
	case []byte:
		return prop{T: "bytes", V: raw(x)}
	case time.Time:
		p := prop{T: "datetime", V: raw(x.Format(time.RFC3339Nano))}
		if zone, _ := x.Zone(); zone != "Offset" {
			p.Zone = x.Location().String()
		}
		return p
	case []any:
		l := make([]prop, len(x))
		for i, e := range x {
			l[i] = dumpValue(t, e)
		}
		return prop{T: "list", V: raw(l)}
	}
	t.Fatalf("a property of type %T: the dump does not know it", v)
	return prop{}
}

// loadValue turns a dumped property back into the value the driver sends
// as the same Neo4j type.
func loadValue(p prop) (any, error) {
	var err error
	switch p.T {
	case "string":
		var s string
		err = json.Unmarshal(p.V, &s)
		return s, err
	case "integer":
		var n int64
		err = json.Unmarshal(p.V, &n)
		return n, err
	case "float":
		var f float64
		err = json.Unmarshal(p.V, &f)
		return f, err
	case "boolean":
		var b bool
		err = json.Unmarshal(p.V, &b)
		return b, err
	case "bytes":
		var b []byte
		err = json.Unmarshal(p.V, &b)
		return b, err
	case "datetime":
		var s string
		if err = json.Unmarshal(p.V, &s); err != nil {
			return nil, err
		}
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, err
		}
		if p.Zone == "" {
			_, off := at.Zone()
			return at.In(time.FixedZone("Offset", off)), nil
		}
		loc, err := time.LoadLocation(p.Zone)
		if err != nil {
			return nil, err
		}
		return at.In(loc), nil
	case "list":
		var l []prop
		if err = json.Unmarshal(p.V, &l); err != nil {
			return nil, err
		}
		out := make([]any, len(l))
		for i, e := range l {
			if out[i], err = loadValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown property type %q", p.T)
}

func loadProps(t *testing.T, props map[string]prop) map[string]any {
	t.Helper()
	out := make(map[string]any, len(props))
	for k, p := range props {
		v, err := loadValue(p)
		require.NoError(t, err, "property %s", k)
		out[k] = v
	}
	return out
}

// loadGraph recreates a dumped database in an empty Neo4j: its schema
// rules, then its nodes and relationships, a thousand per transaction.
// Labels and types must be in the allow-lists and are passed as
// parameters (Cypher's dynamic labels); schema rules, which take no
// parameters, are written from plain names only.
func loadGraph(t *testing.T, drv neo4j.DriverWithContext, cfg Config, g *graphDump) {
	t.Helper()
	for _, r := range g.Schema {
		require.Contains(t, releaseLabels, r.Label, "rule %s", r.Name)
		require.Regexp(t, plainName, r.Name)
		props := make([]string, len(r.Properties))
		for i, p := range r.Properties {
			require.Regexp(t, plainName, p, "rule %s", r.Name)
			props[i] = "n.`" + p + "`"
		}
		var q string
		switch {
		case r.Kind == "constraint" && r.Type == "UNIQUENESS":
			q = fmt.Sprintf("CREATE CONSTRAINT `%s` FOR (n:`%s`) REQUIRE (%s) IS UNIQUE", r.Name, r.Label, strings.Join(props, ", "))
		case r.Kind == "index" && r.Type == "RANGE":
			q = fmt.Sprintf("CREATE INDEX `%s` FOR (n:`%s`) ON (%s)", r.Name, r.Label, strings.Join(props, ", "))
		default:
			t.Fatalf("schema rule %s: a %s of type %s, which the loader does not know", r.Name, r.Kind, r.Type)
		}
		query(t, drv, cfg, q, nil)
	}
	query(t, drv, cfg, "CALL db.awaitIndexes(300)", nil)

	eids := make([]string, len(g.Nodes))
	for start := 0; start < len(g.Nodes); start += 1000 {
		var rows []any
		for i, n := range g.Nodes[start:min(start+1000, len(g.Nodes))] {
			require.NotEmpty(t, n.Labels, "node %d", start+i)
			for _, l := range n.Labels {
				require.Contains(t, releaseLabels, l, "node %d", start+i)
			}
			rows = append(rows, map[string]any{"i": int64(start + i), "labels": n.Labels, "props": loadProps(t, n.Props)})
		}
		for _, r := range query(t, drv, cfg, `UNWIND $rows AS row
CREATE (n:$(row.labels)) SET n = row.props RETURN row.i, elementId(n)`, map[string]any{"rows": rows}) {
			eids[r.Values[0].(int64)] = r.Values[1].(string)
		}
	}
	for start := 0; start < len(g.Relationships); start += 1000 {
		var rows []any
		for i, r := range g.Relationships[start:min(start+1000, len(g.Relationships))] {
			require.Contains(t, releaseRelTypes, r.Type, "relationship %d", start+i)
			require.True(t, r.Start >= 0 && r.Start < len(eids) && r.End >= 0 && r.End < len(eids), "relationship %d", start+i)
			rows = append(rows, map[string]any{"a": eids[r.Start], "type": r.Type, "b": eids[r.End], "props": loadProps(t, r.Props)})
		}
		recs := query(t, drv, cfg, `UNWIND $rows AS row
MATCH (a) WHERE elementId(a) = row.a
MATCH (b) WHERE elementId(b) = row.b
CREATE (a)-[r:$(row.type)]->(b) SET r = row.props RETURN count(r)`, map[string]any{"rows": rows})
		require.Equal(t, int64(len(rows)), recs[0].Values[0])
	}
}

// oneItemPerLine puts each node and relationship of a JSON dump on a line
// of its own, so the file diffs well.
func oneItemPerLine(data []byte) []byte {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return data
	}
	var b strings.Builder
	b.WriteString("{\n")
	keys := []string{"commit", "neo4j", "schema", "nodes", "relationships"}
	for i, k := range keys {
		fmt.Fprintf(&b, "%q: ", k)
		var items []json.RawMessage
		if json.Unmarshal(top[k], &items) == nil && len(items) > 0 {
			b.WriteString("[\n")
			for j, it := range items {
				b.Write(it)
				if j < len(items)-1 {
					b.WriteString(",")
				}
				b.WriteString("\n")
			}
			b.WriteString("]")
		} else {
			b.Write(top[k])
		}
		if i < len(keys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return []byte(b.String())
}
