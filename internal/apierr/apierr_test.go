package apierr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// TestFrom maps every typed error a service returns, bare and wrapped as
// the layers wrap them, to its code, HTTP status, field and message.
func TestFrom(t *testing.T) {
	refs := Refs{CI: func(id store.ID) string { return "gid-" + string(id) }}
	conflict := &store.ConflictError{CIs: []store.ID{"a", "b"}, Rules: [][]string{{"serial_number"}, {"name+dns_domain"}}}
	tests := []struct {
		name    string
		err     error
		code    Code
		status  int
		field   string
		message string // whole message, or "" to skip
		retry   int
	}{
		{"invalid", store.Invalid("input.items[3].class", "unknown class %q", "X"), Invalid, 400, "input.items[3].class", `input.items[3].class: unknown class "X"`, 0},
		{"invalid, wrapped", fmt.Errorf("upsert: %w", store.Invalid("name", "too long")), Invalid, 400, "name", "name: too long", 0},
		{"invalid in a batch item", &store.ItemError{Index: 2, Err: store.Invalid("items[2].class", "is required")}, Invalid, 400, "items[2].class", "items[2].class: is required", 0},
		{"not found", fmt.Errorf("CI x: %w", store.ErrNotFound), NotFound, 404, "", "CI x: not found", 0},
		{"not found at a field", store.AtField("input.id", fmt.Errorf("no CI has the ID x: %w", store.ErrNotFound)), NotFound, 404, "input.id", "input.id: no CI has the ID x: not found", 0},
		{"not found in a batch item", &store.ItemError{Index: 0, Err: fmt.Errorf("CI x: %w", store.ErrNotFound)}, NotFound, 404, "", "CI x: not found", 0},
		{"conflict", fmt.Errorf("class Fax: %w", store.ErrConflict), Conflict, 409, "", "class Fax: conflict", 0},
		{"conflict at a field", store.AtField("input.name", fmt.Errorf("taken: %w", store.ErrConflict)), Conflict, 409, "input.name", "", 0},
		{"identity conflict", conflict, Conflict, 409, "",
			"the identity keys match 2 different CIs: CI gid-a (by serial_number); CI gid-b (by name+dns_domain); if they are one thing, merge them with mergeCIs (identityConflicts lists the open conflicts)", 0},
		{"identity conflict of an item", store.AtField("items[1]", conflict), Conflict, 409, "items[1]", "", 0},
		{"unavailable", fmt.Errorf("neo4j: dial tcp 10.0.0.1:7687: %w", store.ErrUnavailable), Unavailable, 503, "", "the store is unavailable; try again later", 0},
		{"unauthenticated", auth.Refused(auth.Anonymous, "upsert ci"), Unauthenticated, 401, "", "", 0},
		{"forbidden", auth.Refused(auth.Viewer, "upsert ci"), Forbidden, 403, "", "the viewer role may not upsert ci", 0},
		{"forbidden GraphQL field", auth.Forbidden(auth.Agent, "Query.cis"), Forbidden, 403, "", "the agent role may not call Query.cis", 0},
		{"overloaded", Overload("too many traversal queries are running"), Overloaded, 503, "", "too many traversal queries are running", 1},
		{"deadline", fmt.Errorf("traverse: %w", context.DeadlineExceeded), Timeout, 504, "", "the request took too long and was stopped; narrow it (smaller depth, fewer items) or retry", 0},
		{"deadline a store reported as unavailable", fmt.Errorf("%w: %w", store.ErrUnavailable, context.DeadlineExceeded), Timeout, 504, "", "", 0},
		{"cancelled", context.Canceled, Timeout, 504, "", "the request was cancelled", 0},
		{"transition refused by the state", store.AtField("input.id", &itsm.TransitionError{Kind: "incident", Action: "close", State: "new", Allowed: []string{"cancel", "start"}}),
			Conflict, 409, "input.id", "input.id: incident cannot close from state new; allowed actions: cancel, start", 0},
		{"transition refused by a guard", fmt.Errorf("resolve: %w", &itsm.TransitionError{Kind: "incident", Action: "resolve", State: "new",
			Guard: "resolution_notes_given", Field: "input.resolutionNotes", Reason: "resolution notes is required"}),
			Invalid, 400, "input.resolutionNotes", "input.resolutionNotes: incident cannot resolve: guard resolution_notes_given failed: resolution notes is required", 0},
		{"transition refused by a conflict guard", &itsm.TransitionError{Kind: "change", Action: "schedule", State: "authorize",
			Guard: "no_conflicts", Field: "input.conflictOverrideReason", Reason: "its window conflicts with CHG0010002", Conflict: true},
			Conflict, 409, "input.conflictOverrideReason", "", 0},
		{"unknown", errors.New("neo4j: syntax error near MATCH (c:CI {secret: 'x'})"), Internal, 500, "", "internal error", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := From(tt.err, refs)
			assert.Equal(t, tt.code, p.Code)
			assert.Equal(t, tt.status, p.Status)
			assert.Equal(t, tt.field, p.Field)
			if tt.message != "" {
				assert.Equal(t, tt.message, p.Message)
			}
			assert.NotEmpty(t, p.Message)
			assert.Equal(t, tt.retry, p.RetryAfter)
		})
	}
}

// TestEveryCodeHasAStatus: each row of Table answers with a status of its
// own, and no status is a success.
func TestEveryCodeHasAStatus(t *testing.T) {
	for _, r := range Table {
		_, ok := Statuses[r.Code]
		assert.True(t, ok, "%s has no HTTP status", r.Code)
	}
	for c, s := range Statuses {
		assert.GreaterOrEqual(t, s, 400, c)
	}
	assert.Equal(t, http.StatusInternalServerError, Status("NO_SUCH_CODE"))
}

// TestCodesAsDocumented: the codes a service error can become are exactly
// those docs/API.md lists for clients (its "Errors" section), so a new
// row of Table must be documented, and no documented code is lost.
func TestCodesAsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/API.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)each with `extensions.code` \\((.*?);").FindSubmatch(doc)
	require.NotNil(t, m, "docs/API.md lists the error codes")
	documented := map[Code]bool{}
	for _, c := range regexp.MustCompile("`([A-Z_]+)`").FindAllSubmatch(m[1], -1) {
		documented[Code(c[1])] = true
	}
	codes := map[Code]bool{Internal: true}
	for _, r := range Table {
		codes[r.Code] = true
	}
	assert.Equal(t, documented, codes)
}

// versionError stands for an error a later row maps (a version conflict).
type versionError struct{ current int64 }

func (e *versionError) Error() string { return fmt.Sprintf("the CI is at version %d", e.current) }
func (e *versionError) Unwrap() error { return store.ErrConflict }

// withVersionRow puts a row for versionError in front of Table for the
// test, as the row of a new error is added.
func withVersionRow(t *testing.T) {
	t.Helper()
	saved := Table
	t.Cleanup(func() { Table = saved })
	Table = append([]Rule{{Code: Conflict, Match: as[*versionError], Present: func(err error, refs Refs) Problem {
		var ve *versionError
		errors.As(err, &ve)
		p := withField(err, refs)
		p.Details = map[string]any{"currentVersion": ve.current}
		return p
	}}}, saved...)
}

// TestTableExtends: a new error is one row; its details reach the client.
func TestTableExtends(t *testing.T) {
	withVersionRow(t)
	p := From(store.AtField("input.expectedVersion", &versionError{current: 7}), Refs{})
	assert.Equal(t, Conflict, p.Code)
	assert.Equal(t, http.StatusConflict, p.Status)
	assert.Equal(t, "input.expectedVersion", p.Field)
	assert.Equal(t, map[string]any{"currentVersion": int64(7)}, p.Details)
}
