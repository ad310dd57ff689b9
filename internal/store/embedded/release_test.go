package embedded_test

import (
	"bytes"
	"compress/gzip"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/store/embedded"
	"github.com/skein-cmdb/skein/internal/store/storetest"
)

var updateReleaseFixture = flag.Bool("update-release-fixture", false,
	"rebuild the previous-release fixture; only on the release it stands for (see its README)")

// releaseDB is the fixture's database file: the store's skein.db after a
// clean Close, gzipped (it is mostly empty pages).
var releaseDir = filepath.Join(storetest.ReleaseFixtureDir, "embedded")

const releaseDB = "skein.db.gz"

// TestReleaseFixture opens a copy of a store written by the previous
// release, which Open migrates, and checks that everything it held is
// there and works (storetest.CheckReleaseFixture). With
// -update-release-fixture it first rebuilds the fixture.
func TestReleaseFixture(t *testing.T) {
	if *updateReleaseFixture {
		buildReleaseFixture(t)
	}
	want, err := storetest.ReadReleaseManifest(filepath.Join(releaseDir, "expected.json"))
	require.NoError(t, err)
	dir := t.TempDir()
	gz, err := os.ReadFile(filepath.Join(releaseDir, releaseDB))
	require.NoError(t, err)
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	require.NoError(t, err)
	db, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "skein.db"), db, 0o600))

	s, err := embedded.Open(t.Context(), dir, embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	storetest.CheckReleaseFixture(t, s, want)
}

// buildReleaseFixture writes the estate into a new store, closes it
// cleanly (so the WAL is checkpointed into the file and removed), and
// replaces the fixture's database and manifest.
func buildReleaseFixture(t *testing.T) {
	storetest.RequireReleaseCode(t)
	dir := t.TempDir()
	s, err := embedded.Open(t.Context(), dir, embedded.Options{})
	require.NoError(t, err)
	m := storetest.BuildReleaseFixture(t, s, storetest.ReleaseFixtureCommit)
	require.NoError(t, s.Close())
	for _, f := range []string{"skein.db-wal", "skein.db-shm"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			require.Zero(t, fi.Size(), "%s after a clean close", f)
		}
	}
	db, err := os.ReadFile(filepath.Join(dir, "skein.db"))
	require.NoError(t, err)
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	require.NoError(t, err)
	_, err = zw.Write(db)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.MkdirAll(releaseDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(releaseDir, releaseDB), buf.Bytes(), 0o644))
	require.NoError(t, storetest.WriteReleaseManifest(filepath.Join(releaseDir, "expected.json"), m))
	t.Logf("wrote %s: %d bytes (%d gzipped), %d CIs, %d relationships, %d audit records",
		releaseDir, len(db), buf.Len(), len(m.CIs), len(m.Relationships), len(m.Audit))
}
