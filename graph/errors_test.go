package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestPresentError: GraphQL errors take code, field, message and details
// from the one error table, and a row added there (a version conflict's
// current version) reaches extensions without a change here.
func TestPresentError(t *testing.T) {
	errVersion := errors.New("the CI is at version 3")
	saved := apierr.Table
	t.Cleanup(func() { apierr.Table = saved })
	apierr.Table = append([]apierr.Rule{{Code: apierr.Conflict, Match: func(err error) bool { return errors.Is(err, errVersion) },
		Present: func(err error, _ apierr.Refs) apierr.Problem {
			return apierr.Problem{Field: "input.expectedVersion", Message: err.Error(), Details: map[string]any{"currentVersion": int64(3)}}
		}}}, saved...)

	var codes []string
	present := presentError(slog.New(slog.DiscardHandler), func(c string) { codes = append(codes, c) })
	tests := []struct {
		name string
		err  error
		ext  map[string]any
		msg  string
	}{
		{"invalid", store.Invalid("input.items[0].class", "is required"), map[string]any{"code": "INVALID", "field": "input.items[0].class"}, "input.items[0].class: is required"},
		{"identity conflict by global ID", &store.ConflictError{CIs: []store.ID{"a"}}, map[string]any{"code": "CONFLICT"}, "the identity keys match 1 different CIs: CI " + globalID(typeCI, "a") + "; if they are one thing, merge them with mergeCIs (identityConflicts lists the open conflicts)"},
		{"forbidden", auth.Forbidden(auth.Viewer, "Mutation.upsertCIs"), map[string]any{"code": "FORBIDDEN"}, "the viewer role may not call Mutation.upsertCIs"},
		{"overloaded", errTraversalsBusy, map[string]any{"code": "OVERLOADED", "retryAfter": 1}, errTraversalsBusy.Error()},
		{"timeout", fmt.Errorf("walk: %w", context.DeadlineExceeded), map[string]any{"code": "TIMEOUT"}, ""},
		{"internal", errors.New("MATCH (c:CI) syntax error"), map[string]any{"code": "INTERNAL"}, "internal error"},
		{"a new row's details", fmt.Errorf("update: %w", errVersion), map[string]any{"code": "CONFLICT", "field": "input.expectedVersion", "currentVersion": int64(3)}, "update: the CI is at version 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := present(t.Context(), tt.err)
			assert.Equal(t, tt.ext, out.Extensions)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, out.Message)
			}
		})
	}
	assert.Len(t, codes, len(tests), "every error's code is counted")
}
