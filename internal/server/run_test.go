package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/config"
)

// slowHandler answers "done" once release is closed, after telling started
// that it is in flight.
func slowHandler(started chan<- struct{}, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		time.Sleep(10 * time.Millisecond) // and takes a little longer still
		_, _ = io.WriteString(w, "done")
	})
}

type served struct {
	resp *http.Response
	body string
	err  error
}

func get(url string) <-chan served {
	out := make(chan served, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			out <- served{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		out <- served{resp: resp, body: string(b), err: err}
	}()
	return out
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// waitRefused waits until addr refuses connections, which Shutdown does
// first of all. It is how the test knows shutdown has begun without
// measuring time.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		_ = c.Close()
		select {
		case <-t.Context().Done():
			t.Fatal("listener still open")
		case <-time.After(time.Millisecond):
		}
	}
}

func TestServeFinishesInFlightRequestsOnShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	ln := listen(t)
	addr := ln.Addr().String()
	cfg := config.Default().Server
	cfg.ShutdownTimeout = time.Minute // generous: the test releases the handler itself

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, slowHandler(started, release), cfg, nil) }()

	inflight := get("http://" + addr + "/slow")
	<-started
	cancel()             // SIGTERM
	waitRefused(t, addr) // shutdown has begun: no new connections...
	close(release)       // ...and the request in flight now finishes
	res := <-inflight
	require.NoError(t, res.err)
	assert.Equal(t, http.StatusOK, res.resp.StatusCode)
	assert.Equal(t, "done", res.body)
	assert.NoError(t, <-done)
}

func TestServeCutsOffRequestsAfterTheShutdownTimeout(t *testing.T) {
	started := make(chan struct{})
	ln := listen(t)
	cfg := config.Default().Server
	cfg.ShutdownTimeout = time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // never finishes on its own
	})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, cfg, nil) }()
	inflight := get("http://" + ln.Addr().String() + "/stuck")
	<-started
	cancel()
	err := <-done
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), err)
	assert.Contains(t, err.Error(), "server.shutdown_timeout")
	assert.Error(t, (<-inflight).err, "the stuck request's connection was closed")
}

func TestRunLogsItsURLAndStops(t *testing.T) {
	logs := &logBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	cfg := config.Default().Server
	cfg.Addr = "127.0.0.1:0"
	h := New(config.Default(), Deps{Logger: logger})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, h, cfg, logger) }()

	var url string
	for url == "" {
		if l := logs.lines(t, "skein listening"); len(l) == 1 {
			url, _ = l[0]["url"].(string)
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	res := <-get(url + "healthz")
	require.NoError(t, res.err)
	assert.Equal(t, "ok\n", res.body)

	cancel()
	assert.NoError(t, <-done)
	assert.Len(t, logs.lines(t, "stopped"), 1)
}

func TestRunReportsListenErrors(t *testing.T) {
	ln := listen(t) // the port is taken
	t.Cleanup(func() { _ = ln.Close() })
	cfg := config.Default().Server
	cfg.Addr = ln.Addr().String()
	err := Run(t.Context(), http.NotFoundHandler(), cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listen on "+cfg.Addr)
}

func TestURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080/",
		"0.0.0.0:8080":   "http://localhost:8080/",
		"[::]:9000":      "http://localhost:9000/",
		"[::1]:9000":     "http://[::1]:9000/",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		require.NoError(t, err)
		assert.Equal(t, want, URL(tcp), addr)
	}
}
