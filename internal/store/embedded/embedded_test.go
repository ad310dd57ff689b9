package embedded_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store"
	"github.com/skein-cmdb/skein/internal/store/embedded"
	"github.com/skein-cmdb/skein/internal/store/storetest"
)

func TestEmbeddedConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := embedded.Open(t.Context(), t.TempDir(), embedded.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
		return s
	})
}
