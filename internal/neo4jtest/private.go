package neo4jtest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables that tools/neo4j/with-neo4j.sh exports so that
// tests can start Neo4j instances of their own with its launcher.
const (
	EnvJava      = "SKEIN_TEST_NEO4J_JAVA"      // the java binary (17 or 21)
	EnvClasspath = "SKEIN_TEST_NEO4J_CLASSPATH" // the launcher's classes and Neo4j's jars
	EnvJavaOpts  = "SKEIN_TEST_NEO4J_JAVA_OPTS" // JVM flags, space-separated
)

// privateJVMOpts follow the script's flags (later flags win): a private
// instance holds a test's few thousand nodes, and the machine may be
// running the shared instance and other test processes besides.
var privateJVMOpts = []string{"-Xms128m", "-Xmx512m", "-Dskein.neo4j.pagecache.mb=64"}

// stopTimeout bounds a clean stop (SIGTERM) before the instance is killed.
const stopTimeout = 60 * time.Second

// Instance is a Neo4j of one test's own, started by StartPrivate: a separate
// JVM with its own home directory (under the test's TempDir) and a fixed
// loopback port, so that the test may stop, kill and restart it at the same
// address with its data, without touching the shared server of Require.
// User is "neo4j" with a random password. Its methods fail the test on
// error and must be called from the test's goroutine (or be serialized).
type Instance struct {
	tb              testing.TB
	java, classpath string
	opts            []string
	home, logs      string
	port            int
	password        string
	startTimeout    time.Duration

	mu      sync.Mutex
	cmd     *exec.Cmd     // the running launcher, nil when stopped
	exited  chan struct{} // closed when cmd has exited
	starts  int
	version string
}

// StartPrivate starts a private Neo4j for tb and waits until it accepts
// Bolt connections; tb's cleanup stops it (SIGTERM) before its home is
// deleted. It needs the SKEIN_TEST_NEO4J_* variables that
// tools/neo4j/with-neo4j.sh (`make test`) exports; without them it skips
// the test, except when CI=true, where it fails it, as Require does.
// NEO4J_START_TIMEOUT (seconds, default 180) bounds each start.
func StartPrivate(tb testing.TB) *Instance {
	tb.Helper()
	java, cp := os.Getenv(EnvJava), os.Getenv(EnvClasspath)
	if java == "" || cp == "" {
		const how = EnvJava + " and " + EnvClasspath + " are not set: run the test under tools/neo4j/with-neo4j.sh (`make test` does), which exports what a test needs to start a private Neo4j"
		if os.Getenv("CI") == "true" {
			tb.Fatal(how + " (CI=true: a skipped Neo4j test is a failure)")
		}
		tb.Skip(how)
	}
	timeout := 180 * time.Second
	if s := os.Getenv("NEO4J_START_TIMEOUT"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			tb.Fatalf("NEO4J_START_TIMEOUT=%q: want a positive number of seconds", s)
		}
		timeout = time.Duration(n) * time.Second
	}
	dir := tb.TempDir() // registered before our cleanup, so removed after it
	i := &Instance{
		tb: tb, java: java, classpath: cp,
		opts:         append(strings.Fields(os.Getenv(EnvJavaOpts)), privateJVMOpts...),
		home:         filepath.Join(dir, "home"),
		logs:         dir,
		password:     randomPassword(tb),
		startTimeout: timeout,
	}
	tb.Cleanup(i.Stop)
	// The port is free when we pick it, but another process may take it
	// before Neo4j binds it: then try another one.
	for attempt := 1; ; attempt++ {
		i.port = freePort(tb)
		err := i.start()
		if err == nil {
			break
		}
		if attempt < 3 && errors.Is(err, errPortTaken) {
			tb.Logf("neo4jtest: port %d was taken, trying another", i.port)
			continue
		}
		tb.Fatalf("neo4jtest: start a private Neo4j: %v", err)
	}
	return i
}

// URI is the instance's Bolt URI, bolt://127.0.0.1:PORT, the same across
// restarts.
func (i *Instance) URI() string { return fmt.Sprintf("bolt://127.0.0.1:%d", i.port) }

// Env returns the instance's coordinates (user neo4j, default database).
func (i *Instance) Env() Env { return Env{URI: i.URI(), User: "neo4j", Password: i.password} }

// Home is the instance's home directory (data in data/, logs in logs/).
func (i *Instance) Home() string { return i.home }

// Version is the Neo4j version the instance reported at its last start.
func (i *Instance) Version() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.version
}

// Running reports whether the instance's process is running.
func (i *Instance) Running() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.cmd != nil
}

// Start starts the stopped (or killed) instance again on the same home
// and port and waits until it is ready: its data survive, after recovery
// if it was killed. It fails the test if the instance is running or does
// not come up.
func (i *Instance) Start() {
	i.tb.Helper()
	if err := i.start(); err != nil {
		i.tb.Fatalf("neo4jtest: restart the private Neo4j: %v", err)
	}
}

// Stop shuts the instance down cleanly (SIGTERM) and waits for it to exit,
// killing it if it takes longer than a minute. It does nothing if the
// instance is not running.
func (i *Instance) Stop() {
	i.tb.Helper()
	i.signal(syscall.SIGTERM, stopTimeout)
}

// Kill kills the instance (SIGKILL: no shutdown, as in a crash or an OOM
// kill) and waits for it to exit. It does nothing if the instance is not
// running.
func (i *Instance) Kill() {
	i.tb.Helper()
	i.signal(syscall.SIGKILL, 0)
}

func (i *Instance) signal(sig syscall.Signal, grace time.Duration) {
	i.tb.Helper()
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cmd == nil {
		return
	}
	_ = i.cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-i.exited:
		case <-time.After(grace):
			i.tb.Errorf("neo4jtest: the private Neo4j did not stop within %s after %s; killing it", grace, sig)
			_ = i.cmd.Process.Kill()
		}
	}
	<-i.exited
	i.cmd, i.exited = nil, nil
}

var (
	errPortTaken = errors.New("port taken")
	readyLine    = regexp.MustCompile(`^NEO4J READY bolt://127\.0\.0\.1:(\d+) version=(\S+)$`)
)

// start runs the launcher and waits for its ready line.
func (i *Instance) start() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cmd != nil {
		return errors.New("it is already running")
	}
	i.starts++
	base := filepath.Join(i.logs, fmt.Sprintf("launcher-%d", i.starts))
	stdout, err := os.Create(base + ".out")
	if err != nil {
		return err
	}
	defer stdout.Close()
	stderr, err := os.Create(base + ".err")
	if err != nil {
		return err
	}
	defer stderr.Close()

	args := append(append([]string{}, i.opts...), "org.skein.neo4j.Launcher",
		"--cleanup-if-orphaned="+i.home, i.home, strconv.Itoa(i.port))
	cmd := exec.Command(i.java, args...)
	cmd.Env = append(withoutNeo4jVars(os.Environ()), "CLASSPATH="+i.classpath, "NEO4J_PASSWORD="+i.password)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	fail := func(what string) error {
		_ = cmd.Process.Kill()
		<-exited
		diag := tail(base+".err", 30) + tail(filepath.Join(i.home, "logs", "debug.log"), 30)
		if strings.Contains(diag, "Address already in use") {
			return fmt.Errorf("%w: %s", errPortTaken, what)
		}
		return fmt.Errorf("%s (home %s)\n--- launcher stderr and debug.log (tails) ---\n%s", what, i.home, diag)
	}
	deadline := time.Now().Add(i.startTimeout)
	for {
		if m := readyLine.FindStringSubmatch(firstLine(base + ".out")); m != nil {
			if m[1] != strconv.Itoa(i.port) {
				return fail("it reported port " + m[1] + ", want " + strconv.Itoa(i.port))
			}
			i.cmd, i.exited, i.version = cmd, exited, m[2]
			return nil
		}
		select {
		case <-exited:
			return fail("it exited during startup: " + cmd.ProcessState.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fail(fmt.Sprintf("it did not start within %s", i.startTimeout))
		}
	}
}

// withoutNeo4jVars drops NEO4J_* variables (the shared server's), so the
// launcher sees only the password we give it.
func withoutNeo4jVars(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "NEO4J_") && !strings.HasPrefix(kv, "CLASSPATH=") {
			out = append(out, kv)
		}
	}
	return out
}

// firstLine returns the file's first line if it is complete.
func firstLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	line, _, complete := strings.Cut(string(b), "\n")
	if !complete {
		return ""
	}
	return line
}

// tail returns the last n lines of a file, or nothing.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "[" + filepath.Base(path) + "]\n" + strings.Join(lines, "\n") + "\n"
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("neo4jtest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomPassword(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("neo4jtest: random password: %v", err)
	}
	return hex.EncodeToString(b)
}
