// Package testenv holds what the discovery sources' tests share: skipping
// (or, under CI=true, failing) when an outside tool or file is missing, and
// finding the shared test data beside the project root.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// SkipOrFail skips the test, or fails it when CI=true: a test CI cannot
// run is a broken pipeline, not a pass.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: a skip is a failure)")
	}
	t.Skip(why)
}

// SharedTestdata returns the path of rel under ../shared/testdata beside the
// project root (the directory holding go.mod), skipping the test (failing
// it under CI=true) when the file is absent.
func SharedTestdata(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "testdata", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		SkipOrFail(t, "shared test data "+p+" is absent: "+err.Error())
	}
	return p
}
