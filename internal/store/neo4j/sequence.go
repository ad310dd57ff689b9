package neo4j

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

// qNextSequence advances one counter node. The uniqueness constraint on
// :SkeinSequence(name) makes concurrent MERGEs of a new counter meet on one
// node; the first SET takes the node's write lock before value is read, so
// two transactions cannot both read the same value (Cypher evaluates the
// right side of "SET s.value = s.value + $n" before it locks otherwise, a
// lost update).
const qNextSequence = `MERGE (s:SkeinSequence {name: $name})
ON CREATE SET s.value = 0
SET s._lock = true
WITH s
SET s.value = s.value + $n
REMOVE s._lock
RETURN s.value`

// NextSequence advances a counter node (see qNextSequence).
func (s *Store) NextSequence(ctx context.Context, name string, n int) (int64, error) {
	if err := store.CheckSequence(name, n); err != nil {
		return 0, err
	}
	last, err := s.write(ctx, "next sequence", func(ctx context.Context, tx neo4j.ManagedTransaction) (any, error) {
		return count(ctx, tx, qNextSequence, map[string]any{"name": name, "n": int64(n)})
	})
	if err != nil {
		return 0, err
	}
	v, ok := last.(int64)
	if !ok || v < int64(n) {
		return 0, fmt.Errorf("neo4j: sequence %s returned %v", name, last)
	}
	return v, nil
}
