package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// PhasePlain names the load rows of the plain Cypher write baseline.
const PhasePlain = "plain Cypher MERGE on one key (baseline)"

// Statements of the plain write baseline. Its nodes have a label of their
// own, which nothing else reads, and are deleted afterwards with their
// constraint.
const (
	qPlainConstraint = "CREATE CONSTRAINT skein_bench_plain_key IF NOT EXISTS FOR (c:SkeinBenchPlain) REQUIRE c.key IS UNIQUE"
	qPlainMerge      = "UNWIND $rows AS row MERGE (c:SkeinBenchPlain {key: row.key}) SET c += row.props"
	qPlainCount      = "MATCH (c:SkeinBenchPlain) RETURN count(c)"
	qPlainDelete     = "MATCH (c:SkeinBenchPlain) CALL { WITH c DELETE c } IN TRANSACTIONS OF 10000 ROWS"
	qPlainDrop       = "DROP CONSTRAINT skein_bench_plain_key IF EXISTS"
)

// plainWrites times, on the same Neo4j, the write a user would write by
// hand to load the same CIs idempotently: one MERGE per CI on a uniquely
// constrained natural key (class and name) setting its attributes, in the
// same batches and with the same writers as the identified upserts (first
// half one writer, second half cfg.Writers). It is their floor: an
// identified upsert also identifies by every rule of the class, reconciles
// attributes by source precedence, keeps provenance, identity-key nodes
// and search and folded copies, and writes an audit record per CI.
func plainWrites(ctx context.Context, drv neo4j.DriverWithContext, cfg Config, est *Estate, logf func(string, ...any)) ([]LoadRow, error) {
	rows := make([]any, len(est.CIs))
	for i, ci := range est.CIs {
		name, _ := ci.Attributes["name"].(string)
		rows[i] = map[string]any{"key": ci.Class + "|" + name, "props": ci.Attributes}
	}
	if err := plainClean(ctx, drv, cfg); err != nil {
		return nil, err
	}
	if _, err := neo4j.ExecuteQuery(ctx, drv, qPlainConstraint, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Neo4j.Database)); err != nil {
		return nil, fmt.Errorf("plain writes: %w", err)
	}
	defer func() {
		if err := plainClean(context.WithoutCancel(ctx), drv, cfg); err != nil {
			logf("plain writes: cleaning up: %v", err)
		}
	}()
	var out []LoadRow
	half := len(rows) / 2
	for _, phase := range []struct{ from, to, writers int }{{0, half, 1}, {half, len(rows), cfg.Writers}} {
		start := time.Now()
		err := parallel(phase.from, phase.to, cfg.BatchSize, phase.writers, func(lo, hi int) error {
			_, err := neo4j.ExecuteQuery(ctx, drv, qPlainMerge, map[string]any{"rows": rows[lo:hi]}, neo4j.EagerResultTransformer,
				neo4j.ExecuteQueryWithDatabase(cfg.Neo4j.Database))
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("plain writes: %w", err)
		}
		row := LoadRow{Backend: "neo4j", Phase: PhasePlain, Writers: phase.writers, Items: phase.to - phase.from, Duration: time.Since(start)}
		logf("neo4j plain MERGE: %d CIs with %d writer(s) in %v: %.0f CIs/s", row.Items, row.Writers, row.Duration.Round(time.Millisecond), row.Rate())
		out = append(out, row)
	}
	// Every CI is its own node: a key two CIs shared would have merged
	// them, and the rates would count writes that made nothing.
	res, err := neo4j.ExecuteQuery(ctx, drv, qPlainCount, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Neo4j.Database))
	if err != nil {
		return nil, fmt.Errorf("plain writes: %w", err)
	}
	if n, _ := res.Records[0].Values[0].(int64); n != int64(len(rows)) {
		return nil, fmt.Errorf("plain writes: %d CIs made %d nodes: the estate's class and name do not identify its CIs", len(rows), n)
	}
	return out, nil
}

// plainClean deletes the plain baseline's nodes (those of an interrupted
// run too) and its constraint.
func plainClean(ctx context.Context, drv neo4j.DriverWithContext, cfg Config) error {
	sess := drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: cfg.Neo4j.Database})
	defer sess.Close(ctx)
	// CALL { } IN TRANSACTIONS needs an implicit transaction.
	res, err := sess.Run(ctx, qPlainDelete, nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		return fmt.Errorf("plain writes: delete: %w", err)
	}
	if _, err := neo4j.ExecuteQuery(ctx, drv, qPlainDrop, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(cfg.Neo4j.Database)); err != nil {
		return fmt.Errorf("plain writes: %w", err)
	}
	return nil
}
