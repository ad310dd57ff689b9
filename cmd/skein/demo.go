package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/demo"
	"github.com/skein-cmdb/skein/internal/store"
)

// demoActor is who loads the demo estate: its audit records and per-source
// last-seen times say "demo", a source of the default (discovery)
// precedence, so later corrections through the API take precedence.
var demoActor = store.Actor{Name: "skein-demo", Source: "demo"}

// seedDemo loads the demo estate into a's store if the store holds no CI:
// its CIs, people and groups, then its service desk records (incidents, a
// known error, changes), opened through the service desk as its people
// would; and prints one line saying what it did. A store that holds CIs is
// left alone: the demo is for trying Skein out, never for mixing with real
// data.
func seedDemo(ctx context.Context, a *app, w io.Writer) error {
	page, err := a.CMDB.ListCIs(ctx, cmdb.Filter{}, store.PageRequest{First: 1})
	if err != nil {
		return fmt.Errorf("check that the store is empty: %w", err)
	}
	if page.Total > 0 {
		_, err := fmt.Fprintln(w, "store not empty; demo estate not loaded")
		return err
	}
	sum, err := demo.Seed(ctx, a.CMDB, demoActor)
	if err != nil {
		return err
	}
	recs, err := demo.SeedRecords(ctx, a.ITSM, a.CMDB, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "demo estate loaded: %s; records: %s; try the Playground, and docs/API.md and docs/ITSM.md for a tour\n", sum, recs)
	return err
}

// demoTokenName names the admin token of a demo server.
const demoTokenName = "demo admin"

// demoTokenLifetime is how long the token of a demo server works.
const demoTokenLifetime = 7 * 24 * time.Hour

// demoToken creates an admin token for a demo server and prints it on w
// (standard output, never the log), with the Playground URL that pre-fills
// it. The token goes in the URL's fragment, which browsers never send to
// the server, so it stays out of access logs; the Playground moves it into
// its headers editor and removes it from the address bar.
//
// The demo tokens of earlier runs are revoked first, so restarting a demo
// does not pile up admin tokens.
func demoToken(ctx context.Context, a *app, w io.Writer, addr string) (string, error) {
	old, err := a.Store.Tokens(ctx)
	if err != nil {
		return "", err
	}
	for _, t := range old {
		if t.CreatedBy == demoActor.Name && t.Name == demoTokenName && t.RevokedAt.IsZero() {
			if _, err := a.Store.RevokeToken(ctx, demoActor, t.ID); err != nil {
				return "", err
			}
		}
	}
	tok, rec, err := auth.Issue(ctx, a.Store, demoActor, demoTokenName, auth.Admin, time.Now().Add(demoTokenLifetime))
	if err != nil {
		return "", err
	}
	_, err = fmt.Fprintf(w, `
Demo admin token (shown once; expires %s; revoke with: skein token revoke %s):
  %s
Open the Playground with it filled in:
  %s#token=%s

`, rec.ExpiresAt.Format(time.RFC3339), rec.ID, tok, playgroundBase(addr), tok)
	return tok, err
}
