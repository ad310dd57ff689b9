package main

import (
	"context"
	"fmt"
	"io"
	"net"

	webbrowser "github.com/cli/browser"
)

// openPlayground waits until the service answers /readyz, then opens its
// Playground in the user's browser, or says where it is when no browser can
// be started (a server, a container). fragment (such as "#token=...") is
// added to the URL the browser opens, never to the one printed.
func openPlayground(ctx context.Context, addr, fragment string, w io.Writer) {
	base := playgroundBase(addr)
	if base == "" {
		return
	}
	if err := waitReady(ctx, base+"readyz"); err != nil {
		return
	}
	webbrowser.Stdout, webbrowser.Stderr = io.Discard, io.Discard
	if err := webbrowser.OpenURL(base + fragment); err != nil {
		fmt.Fprintf(w, "Playground: %s (open it in a browser)\n", base)
		return
	}
	fmt.Fprintf(w, "Playground opened in your browser: %s\n", base)
}

// playgroundBase is the Playground's URL (ending in "/") on a server
// listening on addr, reached from this machine; "" if addr is not
// host:port.
func playgroundBase(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
