package ansible

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/testenv"
)

// TestRealAnsibleFacts runs the real `ansible localhost -m setup --tree`
// (installed by tools/discovery/ensure-ansible.sh) on this machine and
// checks the server against what the machine says of itself through other
// means: its host name, kernel, distribution, processors, memory and
// network interfaces.
func TestRealAnsibleFacts(t *testing.T) {
	cache := os.Getenv("SKEIN_CACHE_DIR")
	if cache == "" {
		cache = filepath.Join(testenv.RepoRoot(t), ".cache")
	}
	bin := testenv.Tool(t, "SKEIN_TEST_ANSIBLE", "tools/discovery/ensure-ansible.sh",
		filepath.Join(cache, "ansible", "bin", "ansible"), "ansible")

	work := t.TempDir()
	tree := filepath.Join(work, "tree")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "localhost", "-c", "local", "-m", "setup", "--tree", tree)
	cmd.Env = append(os.Environ(),
		"ANSIBLE_HOME="+filepath.Join(work, "home"),
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(work, "tmp"),
		"ANSIBLE_LOCALHOST_WARNING=False",
		"ANSIBLE_INVENTORY_UNPARSED_WARNING=False",
		"ANSIBLE_NOCOLOR=True",
	)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ansible: %s", out)

	batches, err := New(tree, Options{ProposedClasses: true}).Collect(ctx)
	require.NoError(t, err)
	require.Len(t, batches, 1, "one host: localhost")
	testenv.CheckModel(t, batches...)
	server := batches[0].CIs[0]
	assert.Equal(t, "LinuxServer", server.Class)
	a := server.Attributes

	hostname, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, strings.Split(hostname, ".")[0], a["name"])
	kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(kernel)), a["kernel_version"])
	assert.Equal(t, strings.ToLower(osRelease(t)["ID"]), strings.ToLower(a["os_name"].(string)))
	cpus, memKB := testenv.ProcInfo(t)
	assert.Equal(t, cpus, a["cpu_count"])
	assert.Equal(t, memKB/1024, a["memory_mb"])

	if ip, ok := a["ip_address"].(string); ok {
		assert.Contains(t, localAddresses(t), ip)
	}
	if mac, ok := a["mac_address"].(string); ok {
		assert.Contains(t, localMACs(t), mac)
	}
	var interfaces []string
	for _, ci := range batches[0].CIs[1:] {
		if ci.Class == "NetworkInterface" {
			interfaces = append(interfaces, ci.Attributes["name"].(string))
		}
	}
	for _, name := range interfaces {
		_, err := net.InterfaceByName(name)
		assert.NoError(t, err, "interface %s reported", name)
	}
	assert.NotContains(t, interfaces, "lo")
}

func osRelease(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("/etc/os-release")
	require.NoError(t, err)
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), "="); ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

func localAddresses(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	var out []string
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			out = append(out, ipn.IP.String())
		}
	}
	return out
}

func localMACs(t *testing.T) []string {
	t.Helper()
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	var out []string
	for _, i := range ifs {
		out = append(out, i.HardwareAddr.String())
	}
	return out
}
