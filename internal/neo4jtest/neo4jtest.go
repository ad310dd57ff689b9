// Package neo4jtest gives tests the real Neo4j that `make test` starts:
// its coordinates from the environment, with the project's rule that a
// Neo4j test skips locally without a server but fails in CI, and a lock
// that lets only one test process at a time use the server, since Neo4j
// Community has a single user database and `go test ./...` runs packages
// in parallel (Require).
//
// A test that stops or kills Neo4j must not do it to that shared server:
// StartPrivate starts one of its own, which it may stop, kill and restart.
package neo4jtest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// Env holds a Neo4j server's coordinates.
type Env struct {
	URI, User, Password, Database string
}

// Require returns the Neo4j coordinates from NEO4J_URI, NEO4J_USER,
// NEO4J_PASSWORD and NEO4J_DATABASE, and takes the exclusive lock on that
// server for the rest of this test process. Without NEO4J_URI it skips the
// test, except when CI=true, where it fails it: a skipped backend test
// would hide a broken pipeline.
func Require(tb testing.TB) Env {
	tb.Helper()
	uri := os.Getenv("NEO4J_URI")
	if uri == "" {
		const how = "NEO4J_URI is not set: run `make test`, which starts a throwaway Neo4j, or set NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD to a Neo4j 5 server"
		if os.Getenv("CI") == "true" {
			tb.Fatal(how + " (CI=true: a skipped Neo4j test is a failure)")
		}
		tb.Skip(how)
	}
	lock(tb, uri)
	return Env{URI: uri, User: os.Getenv("NEO4J_USER"), Password: os.Getenv("NEO4J_PASSWORD"), Database: os.Getenv("NEO4J_DATABASE")}
}

var (
	lockOnce sync.Once
	lockErr  error
	held     []*os.File // lock files held open, and locked, until the process exits
)

// lock takes an exclusive advisory lock on a file named after the server,
// once per process; other test processes wait for it.
func lock(tb testing.TB, uri string) {
	tb.Helper()
	lockOnce.Do(func() {
		sum := sha256.Sum256([]byte(uri))
		path := filepath.Join(os.TempDir(), "skein-neo4j-"+hex.EncodeToString(sum[:8])+".lock")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			lockErr = err
			return
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			lockErr = err
			return
		}
		held = append(held, f)
	})
	if lockErr != nil {
		tb.Fatalf("lock the Neo4j test server: %v", lockErr)
	}
}
