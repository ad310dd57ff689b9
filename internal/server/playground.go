package server

import (
	"bytes"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
)

// dist is the Playground bundle built by `make playground` (web/playground,
// vite). Only its README is committed; without the bundle the Playground
// route explains how to build it.
//
//go:embed all:playground/dist
var dist embed.FS

// playground serves the bundled GraphiQL: index.html at / and the hashed,
// immutable files under /assets/.
type playground struct {
	index  http.HandlerFunc
	assets http.HandlerFunc
}

// bundle returns the embedded bundle's directory.
func bundle() fs.FS {
	root, err := fs.Sub(dist, "playground/dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return root
}

// newPlayground serves the bundle in root, or the "not built" page when
// root has no index.html.
func newPlayground(root fs.FS, logger *slog.Logger) playground {
	page, err := fs.ReadFile(root, "index.html")
	if err != nil {
		logger.Debug("playground bundle not built; / explains how to build it")
		return playground{
			index:  htmlPage(http.StatusOK, []byte(notBuiltPage)),
			assets: notBuiltAssets,
		}
	}
	files := http.FileServerFS(root)
	return playground{
		index: htmlPage(http.StatusOK, page),
		assets: func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
				writeError(w, r, "NOT_FOUND", "no such file: "+r.URL.Path, nil)
				return
			}
			h := w.Header()
			h.Set("Content-Security-Policy", playgroundCSP)
			// Vite puts a content hash in every asset name.
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			files.ServeHTTP(w, r)
		},
	}
}

func htmlPage(status int, page []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", playgroundCSP)
		// The page names the current assets: revalidate it every time.
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(status)
		_, _ = bytes.NewReader(page).WriteTo(w)
	}
}

func notBuiltAssets(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, "NOT_FOUND", "the Playground is not built: run `make playground`", nil)
}

const notBuiltPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Skein Playground</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;line-height:1.5;padding:0 1rem}code{background:#eee;padding:.1rem .3rem;border-radius:3px}</style>
</head>
<body>
<h1>Playground not built: run <code>make playground</code></h1>
<p>This skein binary was built without the Playground bundle. Build it with
<code>make playground</code> (which runs <code>npm ci</code> and <code>npm run build</code>
in <code>web/playground</code>), then rebuild skein.</p>
<p>The GraphQL API works without it: send queries to <code>POST /graphql</code>.</p>
</body>
</html>
`
