package impact

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/skein-cmdb/skein/internal/auth"
)

// TestAnalysesCheckPermissions: every analysis reads CIs and relationships,
// so a caller who may not read both is refused before anything is read
// (an agent: FORBIDDEN; a request without a token on a server that does
// not allow anonymous reads never reaches here).
func TestAnalysesCheckPermissions(t *testing.T) {
	a := &Analyzer{} // no store: a refused call must not touch it
	agent := auth.WithIdentity(t.Context(), auth.Identity{TokenID: "abcdefgh23", Name: "scanner", Role: auth.Agent})
	calls := map[string]func(ctx context.Context) error{
		"Analyze": func(ctx context.Context) error { _, err := a.Analyze(ctx, Request{CIs: nil}); return err },
		"Dependencies": func(ctx context.Context) error {
			_, err := a.Dependencies(ctx, "x", 1, nil, ReachOptions{})
			return err
		},
		"Dependents":   func(ctx context.Context) error { _, err := a.Dependents(ctx, "x", 1, nil, ReachOptions{}); return err },
		"ShortestPath": func(ctx context.Context) error { _, err := a.ShortestPath(ctx, "x", "y", 1, nil); return err },
		"ResolveContacts": func(ctx context.Context) error {
			return a.ResolveContacts(ctx, &Result{Owners: []Contact{{Name: "x", CIs: 1}}})
		},
	}
	for name, call := range calls {
		assert.ErrorIs(t, call(agent), auth.ErrForbidden, name)
	}
}
