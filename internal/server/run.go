package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/config"
)

// writeGrace is added to server.request_timeout for the connection's write
// deadline, so that a handler stopped by its request context still has time
// to send its answer (a 504) before the connection is cut.
const writeGrace = 5 * time.Second

// Run listens on cfg.Addr and serves h until ctx is cancelled, then shuts
// down gracefully; see Serve.
func Run(ctx context.Context, h http.Handler, cfg config.Server, logger *slog.Logger) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return Serve(ctx, ln, h, cfg, logger)
}

// Serve serves h on ln until ctx is cancelled. It logs the address and URL
// it serves. On cancellation it stops accepting connections and waits up to
// cfg.ShutdownTimeout for in-flight requests to finish (their contexts are
// not cancelled by ctx); it then returns nil, or, if some did not finish, an
// error wrapping context.DeadlineExceeded after closing their connections.
// An error of the listener is returned as is. Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg config.Server, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout + writeGrace,
		IdleTimeout:       cfg.IdleTimeout,
		// In-flight requests outlive ctx: shutdown lets them finish.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("skein listening", "addr", ln.Addr().String(), "url", URL(ln.Addr()))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-served
		return fmt.Errorf("shutdown: requests still running after %s (server.shutdown_timeout) were cut off: %w", cfg.ShutdownTimeout, err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// URL returns the http:// URL of the Playground at addr. An unspecified
// host (0.0.0.0, ::) is shown as localhost, which is where a browser on the
// same machine finds it.
func URL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// IsLoopback reports whether a listen address (host:port) accepts local
// connections only: a loopback IP (127.0.0.0/8, ::1) or "localhost". An
// empty host or an unspecified one (0.0.0.0, ::) listens everywhere.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
