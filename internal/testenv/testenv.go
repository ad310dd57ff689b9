// Package testenv holds what tests share: a log buffer safe for concurrent
// writers (LogBuffer); for the discovery sources' tests, skipping
// (or, under CI=true, failing) when an outside tool or file is missing, and
// finding the shared test data beside the project root.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// RepoRoot returns the project root: the nearest directory above the
// test's working directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// SharedTestdata returns the path of rel under ../shared/testdata beside the
// project root, skipping the test (failing it under CI=true) when the file
// is absent.
func SharedTestdata(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(RepoRoot(t), "..", "shared", "testdata", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		SkipOrFail(t, "shared test data "+p+" is absent: "+err.Error())
	}
	return p
}

// Tool returns the path of an outside program a test runs: $envVar when
// set, else the first of candidates that exists (a path, or a name looked
// up on PATH). Without one it skips the test (fails it under CI=true),
// saying which script installs it.
func Tool(t testing.TB, envVar, installer string, candidates ...string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		candidates = []string{p}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	SkipOrFail(t, fmt.Sprintf("none of %v found: run %s (or set %s)", candidates, installer, envVar))
	return ""
}

// ProcInfo returns the processor count of /proc/cpuinfo and MemTotal of
// /proc/meminfo, in kB: what a source reports of this machine, read
// without it. It skips the test where there is no /proc (not Linux).
func ProcInfo(t testing.TB) (cpus, memKB int) {
	t.Helper()
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	for _, line := range strings.Split(string(cpuinfo), "\n") {
		if strings.HasPrefix(line, "processor") {
			cpus++
		}
	}
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Fatalf("meminfo: %v", err)
	}
	for _, line := range strings.Split(string(meminfo), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			if memKB, err = strconv.Atoi(f[1]); err != nil {
				t.Fatalf("meminfo: %v", err)
			}
		}
	}
	return cpus, memKB
}
