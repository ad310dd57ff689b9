package neo4j

import (
	"testing"

	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/storetest"
)

// sharedHandle is the package's shared Store as a case sees it: closing it
// is a no-op, so one case cannot close the store under the next.
type sharedHandle struct{ *Store }

// Close does nothing; TestMain closes the shared Store.
func (sharedHandle) Close() error { return nil }

// TestNeo4jConformance runs the backend-independent conformance suite, each
// case on the shared Store emptied with Reset.
func TestNeo4jConformance(t *testing.T) {
	openShared(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return sharedHandle{newTestStore(t)}
	})
}
