package graph

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMeasureDocument(t *testing.T) {
	tests := []struct {
		name                   string
		query                  string
		operations, selections int
		mostRepeated           string
		repeats                int
	}{
		{"shorthand", "{ a b { c } }", 1, 3, "a", 1},
		{"alias counts once", "{ x: a x: a }", 1, 2, "x", 2},
		{"spreads and inline fragments", "query Q { ...F ... on Q { a } ... @skip(if: true) { a } } fragment F on Q { a }", 1, 6, "a", 3},
		{"directives and type conditions are not fields", "{ a @include(if: true) ... on T @d { b } }", 1, 3, "a", 1},
		{"values with braces are not selections", `query Q($v: In = {a: {b: 1}}) { f(x: {y: [{z: 1}]}) { g } }`, 1, 2, "f", 1},
		{"operations", "query A { a } mutation B { b } subscription C { c } { d } fragment F on Q { e }", 4, 5, "a", 1},
		{"unreadable", `{ "`, 0, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := measureDocument(tt.query, 100, 100)
			assert.Equal(t, tt.operations, m.operations, "operations")
			assert.Equal(t, tt.selections, m.selections, "selections")
			assert.Equal(t, tt.mostRepeated, m.mostRepeated)
			assert.Equal(t, tt.repeats, m.repeats)
		})
	}

	// Merge work: k repetitions weigh k × (k + argument tokens).
	m := measureDocument("{ "+strings.Repeat("a ", 10)+"}", 10, 100)
	assert.Equal(t, int64(100), m.mergeWork)
	m = measureDocument("{ "+strings.Repeat("a(x: 1) ", 10)+"}", 10, 100)
	assert.Equal(t, int64(10*(10+10*3)), m.mergeWork, "x, : and 1 are argument tokens")
	// The scan stops early past the limits.
	m = measureDocument("{ "+strings.Repeat("a ", 1000)+"}", 10, 100)
	assert.Equal(t, 101, m.selections)
}
