package neo4j

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

var _ store.SubgraphReader = (*Store)(nil)

// qSubgraph reads the CIs within reach of the starts (the pruning
// breadth-first expand of reachStatement, the starts included by the
// lower bound 0) and, for each, its relationships along the query's edge
// rules (one undirected pattern with a per-relationship direction check,
// as reachStep) and its fields: one list of rows in one record, as
// NodeFields answers (collectRows). {STEP}, {DEPTH} and {EDGES} are built
// from checked names and numbers; everything else is a parameter.
const qSubgraph = `UNWIND $ids AS id
MATCH p = (s:CI {id: id}){STEP}{0,{DEPTH}}(x)
WITH x, min(length(p)) AS depth
LIMIT $limit
OPTIONAL MATCH (x)-[r{EDGES}]-(y:CI)
WHERE startNode(r) = x AND type(r) IN $eout OR endNode(r) = x AND type(r) IN $ein
WITH x, collect(type(r)) AS ts, collect(startNode(r) = x) AS fw, collect(y.id) AS ys
RETURN collect([x.id, x._kind, x.class, x._version, [f IN $fields | x[f]], ts, fw, ys])`

// ReadSubgraph answers store.SubgraphReader in one read transaction: the
// CIs reached with their relationships and fields (qSubgraph), then the
// fields of the far ends that were not reached (qNodeFields), so that the
// answer is one state of the graph as far as Neo4j's isolation gives one.
func (s *Store) ReadSubgraph(ctx context.Context, q store.SubgraphQuery) (store.Subgraph, error) {
	if err := q.Check(); err != nil {
		return store.Subgraph{}, err
	}
	query, params, err := subgraphStatement(q)
	if err != nil {
		return store.Subgraph{}, err
	}
	out, err := s.read(ctx, "read subgraph", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		rows, err := collectRows(ctx, tx, query, params, 8)
		if err != nil {
			return nil, err
		}
		if len(rows) > q.MaxNodes {
			return nil, &appError{fmt.Errorf("neo4j: %w: more than %d CIs within %d hops", store.ErrSubgraphTooLarge, q.MaxNodes, q.MaxDepth)}
		}
		sub := store.Subgraph{Nodes: make([]store.Node, len(rows)), Reached: len(rows), Hops: store.NewHops(len(rows), 4*len(rows))}
		known := make(map[store.ID]bool, len(rows))
		for i, row := range rows {
			if sub.Nodes[i], err = fieldsNode(row[:5], q.Fields); err != nil {
				return nil, err
			}
			known[sub.Nodes[i].ID] = true
		}
		var far []string
		for _, row := range rows {
			ts, fw, ys, err := parallelLists(row[5:])
			if err != nil {
				return nil, err
			}
			for k := range ts {
				fwd, _ := fw[k].(bool)
				y := store.ID(asString(ys[k]))
				sub.Hops.Add(asString(ts[k]), y, fwd)
				if !known[y] {
					known[y] = true
					far = append(far, string(y))
				}
			}
			sub.Hops.End()
		}
		if len(far) == 0 {
			return sub, nil
		}
		fq := strings.Replace(qNodeFields, "{MATCH}", "MATCH (c:CI {id: id})", 1)
		rows, err = collectRows(ctx, tx, fq, map[string]any{"ids": far, "fields": q.Fields}, 5)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			n, err := fieldsNode(row, q.Fields)
			if err != nil {
				return nil, err
			}
			sub.Nodes = append(sub.Nodes, n)
		}
		return sub, nil
	})
	if err != nil {
		return store.Subgraph{}, err
	}
	return out.(store.Subgraph), nil
}

// subgraphStatement returns qSubgraph for q (checked) and its parameters.
func subgraphStatement(q store.SubgraphQuery) (string, map[string]any, error) {
	step, params, err := reachStep(splitRules(q.Reach))
	if err != nil {
		return "", nil, err
	}
	edges := splitRules(q.Edges)
	texpr, err := typeExpr(append(slices.Clone(edges.out.types), edges.in.types...))
	if err != nil {
		return "", nil, err
	}
	query := strings.NewReplacer("{STEP}", step, "{DEPTH}", fmt.Sprint(q.MaxDepth), "{EDGES}", texpr).Replace(qSubgraph)
	if params == nil {
		params = map[string]any{}
	}
	ids := make([]string, len(q.Start))
	for i, id := range q.Start {
		ids[i] = string(id)
	}
	params["ids"], params["limit"], params["fields"] = ids, q.MaxNodes+1, q.Fields
	params["eout"], params["ein"] = nonNil(edges.out.types), nonNil(edges.in.types)
	return query, params, nil
}

// nonNil returns list, or an empty list for nil (a Cypher parameter must
// be a list for IN).
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}
