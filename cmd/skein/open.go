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
// be started (a server, a container).
func openPlayground(ctx context.Context, addr string, w io.Writer) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	base := "http://" + net.JoinHostPort(host, port) + "/"
	if err := waitReady(ctx, base+"readyz"); err != nil {
		return
	}
	webbrowser.Stdout, webbrowser.Stderr = io.Discard, io.Discard
	if err := webbrowser.OpenURL(base); err != nil {
		fmt.Fprintf(w, "Playground: %s (open it in a browser)\n", base)
		return
	}
	fmt.Fprintf(w, "Playground opened in your browser: %s\n", base)
}
