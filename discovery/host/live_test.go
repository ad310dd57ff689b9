package host

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/testenv"
)

// roleVar makes the test binary, run again by TestThisMachine, play a
// service: "server" listens; "client ADDR" listens too and stays connected
// to the server at ADDR. Each prints its listening port, then waits until
// its standard input closes.
const roleVar = "SKEIN_HOST_TEST_ROLE"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleVar); role != "" {
		os.Exit(playRole(role))
	}
	os.Exit(m.Run())
}

func playRole(role string) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c) }() // hold it open
		}
	}()
	if addr, ok := strings.CutPrefix(role, "client "); ok {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer c.Close()
	}
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startRole runs the test binary under another name (a symbolic link, so
// that the process has that name) in a role, and returns its port.
func startRole(t *testing.T, name, role string) int {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	link := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.Symlink(self, link))
	cmd := exec.Command(link)
	cmd.Env = append(os.Environ(), roleVar+"="+role)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "%s printed no port", name)
	port, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	return port
}

// TestThisMachine looks at the machine the test runs on, with two services
// of its own running: skeinsrv, and skeincli connected to it.
func TestThisMachine(t *testing.T) {
	srvPort := startRole(t, "skeinsrv", "server")
	cliPort := startRole(t, "skeincli", "client 127.0.0.1:"+strconv.Itoa(srvPort))

	batches, err := New(Options{ProposedClasses: true}).Collect(context.Background())
	require.NoError(t, err)
	require.Len(t, batches, 1)
	b := batches[0]
	testenv.CheckModel(t, b)

	server := b.CIs[0]
	assert.Equal(t, "LinuxServer", server.Class)
	hostname, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, strings.ToLower(strings.Split(hostname, ".")[0]), server.Attributes["name"])
	fqdn := server.Attributes["fqdn"].(string)
	if os.Geteuid() == 0 {
		require.NotNil(t, b.Scope, "as root the view is complete")
		assert.Equal(t, "host:"+fqdn, b.Scope.Name)
	}
	kernel, err := os.ReadFile("/proc/sys/kernel/osrelease")
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(kernel)), server.Attributes["kernel_version"])
	cpus, memKB := testenv.ProcInfo(t)
	assert.Equal(t, cpus, server.Attributes["cpu_count"])
	assert.Equal(t, memKB/1024, server.Attributes["memory_mb"])

	// Every interface but loopback, as the standard library lists them.
	ifs, err := net.Interfaces()
	require.NoError(t, err)
	var want, got []string
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			want = append(want, i.Name)
		}
	}
	byRef := map[string]discovery.CI{}
	for _, ci := range b.CIs {
		byRef[ci.Ref] = ci
		if ci.Class == "NetworkInterface" {
			got = append(got, ci.Attributes["name"].(string))
		}
	}
	assert.ElementsMatch(t, want, got)

	srv := "skeinsrv:" + strconv.Itoa(srvPort)
	cli := "skeincli:" + strconv.Itoa(cliPort)
	for name, port := range map[string]int{srv: srvPort, cli: cliPort} {
		ci, ok := byRef["instance:"+name]
		require.True(t, ok, "instance %s in %v", name, refs(b))
		assert.Equal(t, "ApplicationInstance", ci.Class)
		assert.Equal(t, fqdn, ci.Attributes["host"])
		assert.Equal(t, port, ci.Attributes["port"])
		assert.Equal(t, strings.Split(name, ":")[0], ci.Attributes["application"])
		assert.Contains(t, b.Relationships, discovery.Relationship{Type: "RUNS_ON", From: discovery.ByRef("instance:" + name),
			To: discovery.IdentityOf(server, "Server", discovery.ServerIdentity())})
	}
	assert.Contains(t, b.Relationships, discovery.Relationship{Type: "DEPENDS_ON",
		From: discovery.ByRef("instance:" + cli), To: discovery.ByRef("instance:" + srv)})
	assert.NotContains(t, b.Relationships, discovery.Relationship{Type: "DEPENDS_ON",
		From: discovery.ByRef("instance:" + srv), To: discovery.ByRef("instance:" + cli)}, "the server depends on no client")
}

func refs(b discovery.Batch) []string {
	var out []string
	for _, ci := range b.CIs {
		out = append(out, ci.Ref)
	}
	return out
}
