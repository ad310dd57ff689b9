package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/skein-cmdb/skein/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The browser test runs the Playground as a user would: the real skein binary
// serving its embedded GraphiQL bundle, headless Chromium typing a query into
// the editor and pressing the run button. It needs Chromium
// (tools/browser/ensure-chromium.sh installs it) and a built Playground
// (make playground); `make test` provides both. Without them it skips,
// except with CI=true, where it fails.

// playgroundQuery is what the test types into the editor.
const playgroundQuery = `{ cis(first: 3) { totalCount edges { node { name class } } } }`

// viewerQuery asks who the Playground acts as.
const viewerQuery = `{ viewer { name role } }`

// tokenPattern matches a Skein API token.
var tokenPattern = regexp.MustCompile(`skn_[a-z2-7]{10}_[A-Za-z0-9_-]{43}`)

// Where the screenshot of the Playground goes, relative to the repository
// root (git-ignored /artifacts/).
const playgroundScreenshot = "artifacts/playground.png"

func TestBrowserPlayground(t *testing.T) {
	chromium := requireChromium(t)
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "internal/server/playground/dist/index.html")); err != nil {
		skipOrFailInCI(t, "the Playground is not built (run `make playground`): "+err.Error())
	}

	start := time.Now()
	bin := buildSkein(t)
	built := time.Now()
	base, out := startSkein(t, bin, "--demo")
	ready := time.Now()
	// serve --demo prints an admin token and the Playground URL carrying it.
	tok := tokenPattern.FindString(out.String())
	require.NotEmpty(t, tok, "serve --demo prints an admin token:\n%s", out.String())
	require.Contains(t, out.String(), base+"/#token="+tok, "and the Playground URL that pre-fills it")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The page must be the bundle, not the "not built" page.
	page := httpGet(t, ctx, base+"/")
	if strings.Contains(page, "Playground not built") {
		skipOrFailInCI(t, "the skein binary has no Playground bundle (run `make playground`)")
	}

	b := newBrowser(t, ctx, chromium)
	b.do("open the Playground with the demo token",
		chromedp.Navigate(base+"/#token="+tok),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-query-editor .monaco-editor .view-lines")),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-execute-button")),
	)
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`window.location.href`))
	require.NoError(t, err, "read the address bar")
	assert.Equal(t, base+"/", href, "the Playground removes the token from the address bar")

	// Type the query as a user would: select everything in the editor,
	// delete it, and type. Monaco closes brackets as they open and types
	// over the closing ones, so the text ends up as typed; the check below
	// waits for it (the editor renders asynchronously).
	b.do("type the query",
		chromedp.Click(chromedp.CSS(".graphiql-query-editor .monaco-editor .view-lines")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(kb.ModifierCtrl)),
		chromedp.KeyEvent(kb.Backspace),
		chromedp.KeyEvent(playgroundQuery),
		chromedp.KeyEvent(kb.Escape), // close the completion popup, if any
	)
	b.poll("the query editor holds the query", 10*time.Second, `(() => {
		const el = document.querySelector('.graphiql-query-editor .view-lines');
		return el && el.textContent.replace(/\u00a0/g, ' ').trim() === `+jsString(playgroundQuery)+`;
	})()`, func() string { return b.text("read the editor", ".graphiql-query-editor .view-lines") })

	// Prettify it (the toolbar button), which also makes the screenshot
	// readable, then run it (the run button).
	b.do("prettify the query", chromedp.Click(chromedp.CSS(`.graphiql-container button[aria-label^="Prettify query"]`)))
	b.poll("the query is prettified", 10*time.Second,
		`document.querySelectorAll('.graphiql-query-editor .view-line').length > 5`,
		func() string { return b.text("read the editor", ".graphiql-query-editor .view-lines") })
	b.do("run the query", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	result := b.poll("the result pane shows the result", 30*time.Second, `(() => {
		const el = document.querySelector('.graphiql-response .view-lines');
		const text = el ? el.textContent.replace(/\u00a0/g, ' ') : '';
		return /"(totalCount|errors)"/.test(text) ? text : false;
	})()`, func() string { return b.text("read the result pane", ".graphiql-response .view-lines") })
	answered := time.Now()
	t.Logf("result pane: %s", result)

	// The pane shows what the API answers for the same query.
	assert.NotContains(t, result, `"errors"`)
	for _, s := range []string{`"data"`, `"cis"`, `"totalCount"`, `"edges"`} {
		assert.Contains(t, result, s)
	}
	want := postQuery(t, ctx, base+"/graphql", playgroundQuery)
	m := regexp.MustCompile(`"totalCount":\s*(\d+)`).FindStringSubmatch(result)
	require.NotNil(t, m, "totalCount in the result pane")
	shown, _ := strconv.Atoi(m[1])
	assert.Equal(t, want.Data.CIs.TotalCount, shown, "the Playground shows the API's totalCount")
	for _, e := range want.Data.CIs.Edges {
		assert.Contains(t, result, jsString(e.Node.Name), "the Playground shows the CIs")
	}
	if want.Data.CIs.TotalCount == 0 {
		t.Log("the store is empty (no demo estate): only the shape of the result is checked")
	}

	// The token handed over in the fragment is in the headers editor, so
	// the Playground acts as the demo admin.
	b.do("type a viewer query",
		chromedp.Click(chromedp.CSS(".graphiql-query-editor .monaco-editor .view-lines")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(kb.ModifierCtrl)),
		chromedp.KeyEvent(kb.Backspace),
		chromedp.KeyEvent(viewerQuery),
		chromedp.KeyEvent(kb.Escape),
	)
	b.poll("the query editor holds the viewer query", 10*time.Second, `(() => {
		const el = document.querySelector('.graphiql-query-editor .view-lines');
		return el && el.textContent.replace(/\u00a0/g, ' ').trim() === `+jsString(viewerQuery)+`;
	})()`, func() string { return b.text("read the editor", ".graphiql-query-editor .view-lines") })
	b.do("run the viewer query", chromedp.Click(chromedp.CSS(".graphiql-execute-button")))
	who := b.poll("the result pane shows the viewer", 30*time.Second, `(() => {
		const el = document.querySelector('.graphiql-response .view-lines');
		const text = el ? el.textContent.replace(/\u00a0/g, ' ') : '';
		return /"role"/.test(text) ? text : false;
	})()`, func() string { return b.text("read the result pane", ".graphiql-response .view-lines") })
	assert.Contains(t, who, `"ADMIN"`, "the Playground sends the demo token")
	assert.Contains(t, who, `"demo admin"`)
	assert.NotContains(t, out.String(), "Authorization", "the server never logs the header")

	path := b.screenshot(playgroundScreenshot)
	t.Logf("screenshot: %s", path)
	t.Logf("timings: build %v, start and ready %v, browser until result %v, total %v",
		built.Sub(start).Round(time.Millisecond), ready.Sub(built).Round(time.Millisecond),
		answered.Sub(ready).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// The page ran cleanly: no uncaught exception, nothing blocked by the
	// server's Content-Security-Policy (which Chromium reports on the console).
	for _, m := range b.console() {
		msg := formatConsole(m)
		t.Logf("console: %s", msg)
		assert.False(t, m.IsException(), "uncaught exception in the page: %s", msg)
		assert.NotContains(t, m.Text, "Content Security Policy", "the bundle must work under the server's CSP")
	}
}

// jsString returns s as a JSON (and JavaScript) string literal.
func jsString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// skipOrFailInCI skips the test, or fails it when CI=true: a test CI cannot
// run is a broken pipeline, not a pass.
func skipOrFailInCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: a skip is a failure)")
	}
	t.Skip(why)
}

// requireChromium returns the Chromium to drive: $SKEIN_TEST_CHROMIUM, else
// Debian's /usr/bin/chromium, else one on PATH.
func requireChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	if p := os.Getenv("SKEIN_TEST_CHROMIUM"); p != "" {
		candidates = []string{p}
	}
	for _, name := range candidates {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFailInCI(t, fmt.Sprintf("Chromium not found (%s): run tools/browser/ensure-chromium.sh (make test does), or set SKEIN_TEST_CHROMIUM",
		strings.Join(candidates, ", ")))
	return ""
}

// buildSkein builds the skein binary, with the Playground bundle as it is
// in internal/server/playground/dist, into a temporary directory.
func buildSkein(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "skein")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// startSkein runs `skein serve` on a free loopback port with a fresh data
// directory, waits until /readyz answers 200, and stops it when the test
// ends. It returns the base URL.
func startSkein(t *testing.T, bin string, args ...string) (string, *lockedBuffer) {
	t.Helper()
	addr := freeAddr(t)
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data")}, args...)...)
	cmd.Dir = dir // no skein.yaml
	cmd.Env = skeinEnv()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Error("skein did not stop within 15s of SIGINT")
		}
		if t.Failed() {
			t.Logf("skein output:\n%s", out.String())
		}
	})

	base := "http://" + addr
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.After(90 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base, &out
			}
		}
		select {
		case err := <-exited:
			exited <- err // for the clean-up
			t.Fatalf("skein exited before it was ready (%v):\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("skein not ready within 90s:\n%s", out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func httpGet(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", url, body)
	return string(body)
}

// cisResult is the answer to playgroundQuery.
type cisResult struct {
	Data struct {
		CIs struct {
			TotalCount int `json:"totalCount"`
			Edges      []struct {
				Node struct{ Name, Class string } `json:"node"`
			} `json:"edges"`
		} `json:"cis"`
	} `json:"data"`
	Errors []json.RawMessage `json:"errors"`
}

func postQuery(t *testing.T, ctx context.Context, url, query string) cisResult {
	t.Helper()
	body, err := json.Marshal(map[string]string{"query": query})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r cisResult
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Empty(t, r.Errors)
	return r
}

// browser is one headless Chromium tab, with the page's console recorded.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T, parent context.Context, chromium string) *browser {
	t.Helper()
	var chromeOut lockedBuffer
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox, // root in containers; the page is our own
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
		chromedp.CombinedOutput(&chromeOut),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output:\n%s", chromeOut.String())
		}
	})

	b := &browser{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		require.NoError(t, err, "start %s:\n%s", chromium, chromeOut.String())
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	return b
}

// console returns the page's console messages so far.
func (b *browser) console() []chromedp.ConsoleMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), b.messages...)
}

func formatConsole(m chromedp.ConsoleMessage) string {
	return fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text)
}

// do runs steps, and on error fails the test with a screenshot.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// text returns the text content of the element sel, no-break spaces (which
// Monaco renders) turned into spaces.
func (b *browser) text(what, sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.fail("%s: %v", what, err)
	}
	return strings.ReplaceAll(s, "\u00a0", " ")
}

// poll waits until the JavaScript expression is truthy and returns its value
// as a string (so a string or true); on timeout it fails the test with what
// got says (the state the expression was waiting to change).
func (b *browser) poll(what string, timeout time.Duration, expr string, got func() string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Poll[any](expr, chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.fail("%s: %v; got %q", what, err, got())
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// fail fails the test after saving a screenshot and logging the console.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	if path, err := b.trySave("artifacts/playground-failure.png"); err == nil {
		b.t.Logf("screenshot of the failure: %s", path)
	}
	for _, m := range b.console() {
		b.t.Logf("console: %s", formatConsole(m))
	}
	b.t.Fatalf(format, args...)
}

// screenshot saves a PNG of the viewport at rel, under the repository root.
func (b *browser) screenshot(rel string) string {
	b.t.Helper()
	path, err := b.trySave(rel)
	require.NoError(b.t, err)
	return path
}

func (b *browser) trySave(rel string) (string, error) {
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", err
	}
	if len(png) == 0 {
		return "", errors.New("empty screenshot")
	}
	path := filepath.Join(repoRoot(b.t), rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, png, 0o644)
}

// lockedBuffer is safe for the concurrent writes of a subprocess's stdout
// and stderr.
type lockedBuffer = testenv.LogBuffer
