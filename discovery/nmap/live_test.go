package nmap

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	nmapxml "github.com/Ullaakut/nmap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/testenv"
)

// TestRealScan scans, with the real nmap (tools/discovery/ensure-nmap.sh),
// three ports of this machine that the test controls: an SSH-like server
// that announces itself as OpenSSH, an HTTP server that says it is nginx,
// and a closed port.
func TestRealScan(t *testing.T) {
	bin := testenv.Tool(t, "SKEIN_TEST_NMAP", "tools/discovery/ensure-nmap.sh", "nmap")

	sshPort := serveBanner(t, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
	// A Server header, as nginx sends, lets nmap's version detection name
	// the product (a bare Go server stays "unknown" and costs every probe).
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx/1.24.0")
		_, _ = io.WriteString(w, "hello\n")
	}))
	t.Cleanup(web.Close)
	webPort := web.Listener.Addr().(*net.TCPAddr).Port
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedPort := closed.Addr().(*net.TCPAddr).Port
	require.NoError(t, closed.Close())

	report := filepath.Join(t.TempDir(), "scan.xml")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ports := strconv.Itoa(sshPort) + "," + strconv.Itoa(webPort) + "," + strconv.Itoa(closedPort)
	// -sT: a connect scan, no raw sockets; -Pn: the host is up; -sV: name
	// the services. "localhost" gives nmap a host name to report.
	out, err := exec.CommandContext(ctx, bin, "-oX", report, "-sT", "-sV", "-Pn", "-p", ports, "localhost").CombinedOutput()
	require.NoError(t, err, "nmap: %s", out)

	src := New(report, Options{Domain: "skein.test"})
	batches, err := src.Collect(ctx)
	require.NoError(t, err)
	require.Len(t, batches, 1, "skipped: %v", src.Skipped)
	testenv.CheckModel(t, batches...)
	b := batches[0]
	assert.Equal(t, "host:127.0.0.1", b.Scope.Name)
	device := b.CIs[0]
	assert.Equal(t, "localhost", device.Attributes["name"])
	assert.Equal(t, "skein.test", device.Attributes["dns_domain"])
	assert.Equal(t, "127.0.0.1", device.Attributes["ip_address"])

	byPort := map[int]map[string]any{}
	for _, ci := range b.CIs[1:] {
		require.Equal(t, "ApplicationInstance", ci.Class)
		byPort[ci.Attributes["port"].(int)] = ci.Attributes
	}
	require.Len(t, byPort, 2, "the two open ports, not the closed one: %v", byPort)
	ssh := byPort[sshPort]
	require.NotNil(t, ssh)
	assert.Equal(t, "ssh:"+strconv.Itoa(sshPort), ssh["name"])
	assert.Equal(t, "OpenSSH", ssh["application"])
	assert.True(t, strings.HasPrefix(ssh["version"].(string), "9.2p1"), "version %v", ssh["version"])
	assert.Equal(t, "localhost.skein.test", ssh["host"])
	http := byPort[webPort]
	require.NotNil(t, http)
	assert.Equal(t, "http:"+strconv.Itoa(webPort), http["name"])
	assert.Equal(t, "nginx", http["application"])
	assert.Equal(t, "1.24.0", http["version"])

	require.Len(t, b.Relationships, 2)
	for _, r := range b.Relationships {
		assert.Equal(t, "RUNS_ON", r.Type)
		assert.Equal(t, "Server", r.To.Class)
		assert.Equal(t, map[string]any{"name": "localhost", "dns_domain": "skein.test"}, r.To.Identity)
	}

	t.Run("Scan runs nmap itself", func(t *testing.T) {
		scanned, err := NewScan(Options{Domain: "skein.test"}, nmapxml.WithBinaryPath(bin), nmapxml.WithTargets("localhost"),
			nmapxml.WithConnectScan(), nmapxml.WithServiceInfo(), nmapxml.WithSkipHostDiscovery(), nmapxml.WithPorts(ports)).Collect(ctx)
		require.NoError(t, err)
		assert.Equal(t, batches, scanned, "the same scan read from the file nmap wrote")
	})
}

// serveBanner listens on a loopback port and greets every connection with
// banner, as an SSH server does, until the test ends.
func serveBanner(t *testing.T, banner string) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				_, _ = io.WriteString(c, banner)
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}
