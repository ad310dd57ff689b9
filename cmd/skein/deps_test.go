package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServerLinksNoSource: the skein binary links none of the discovery
// sources, nor the Kubernetes client they bring (ADR 34: a third of the
// binary and 13 MiB of resident memory at start); the pusher it needs is
// discovery/push.
func TestServerLinksNoSource(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/skein-cmdb/skein/cmd/skein").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list named %d packages: %q", len(deps), deps)
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "k8s.io/") || strings.HasPrefix(p, "github.com/skein-cmdb/skein/discovery/") && p != "github.com/skein-cmdb/skein/discovery/push" {
			t.Errorf("skein links %s", p)
		}
	}
}
