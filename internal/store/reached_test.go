package store

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReachedStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Reached
		want Step
	}{
		{"start", Reached{ID: "a"}, Step{}},
		{"forward", Reached{ID: "b", Depth: 1, Via: "a", Type: "DEPENDS_ON", Forward: true},
			Step{Rel: Relationship{Type: "DEPENDS_ON", Source: "a", Target: "b"}, Forward: true}},
		{"backward", Reached{ID: "b", Depth: 2, Via: "a", Type: "RUNS_ON"},
			Step{Rel: Relationship{Type: "RUNS_ON", Source: "b", Target: "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.r.Step())
		})
	}
}
