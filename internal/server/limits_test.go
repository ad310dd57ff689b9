package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/internal/config"
)

// fakeClock is the rate limiter's clock in tests: time moves only when the
// test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestLimiter(perSecond float64, burst int) (*rateLimiter, *fakeClock) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	rl := newRateLimiter(perSecond, burst, nil)
	rl.now = clock.now
	return rl, clock
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_, _ = io.WriteString(w, "ok")
})

func fromIP(method, path, ip string) *http.Request {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = ip + ":40000"
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestRateLimitRefusesAndRefills(t *testing.T) {
	rl, clock := newTestLimiter(1, 2)
	h := rl.middleware(okHandler)
	a, b := "192.0.2.1", "192.0.2.2"

	assert.Equal(t, http.StatusOK, serve(h, fromIP("POST", "/graphql", a)).Code)
	assert.Equal(t, http.StatusOK, serve(h, fromIP("POST", "/graphql", a)).Code, "the burst")
	w := serve(h, fromIP("POST", "/graphql", a))
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	e := gqlErr(t, w)
	assert.Equal(t, CodeRateLimited, e.Extensions["code"])
	assert.Contains(t, e.Message, "server.rate_limit")
	assert.Contains(t, e.Message, "bursts of 2")
	assert.Equal(t, 1.0, e.Extensions["retry_after_seconds"])

	assert.Equal(t, http.StatusOK, serve(h, fromIP("POST", "/graphql", b)).Code, "another client has its own bucket")
	assert.Equal(t, http.StatusOK, serve(h, fromIP("GET", "/healthz", a)).Code, "probes are exempt")
	assert.Equal(t, http.StatusOK, serve(h, fromIP("GET", "/metrics", a)).Code, "metrics are exempt")

	clock.advance(500 * time.Millisecond)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, fromIP("POST", "/graphql", a)).Code, "half a token is not a token")
	clock.advance(500 * time.Millisecond)
	assert.Equal(t, http.StatusOK, serve(h, fromIP("POST", "/graphql", a)).Code, "refilled after 1s")
	assert.Equal(t, http.StatusTooManyRequests, serve(h, fromIP("POST", "/graphql", a)).Code)

	clock.advance(time.Hour)
	for i := 0; i < 2; i++ {
		assert.Equal(t, http.StatusOK, serve(h, fromIP("POST", "/graphql", a)).Code, "full again: the whole burst, no more")
	}
	assert.Equal(t, http.StatusTooManyRequests, serve(h, fromIP("POST", "/graphql", a)).Code)
}

func TestRateLimitRetryAfterRoundsUp(t *testing.T) {
	rl, clock := newTestLimiter(0.1, 1) // one request every 10s
	h := rl.middleware(okHandler)
	assert.Equal(t, http.StatusOK, serve(h, fromIP("GET", "/graphql", "192.0.2.9")).Code)
	w := serve(h, fromIP("GET", "/graphql", "192.0.2.9"))
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "10", w.Header().Get("Retry-After"))
	clock.advance(9500 * time.Millisecond)
	w = serve(h, fromIP("GET", "/graphql", "192.0.2.9"))
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"), "half a second left is still at least 1")
	clock.advance(500 * time.Millisecond)
	assert.Equal(t, http.StatusOK, serve(h, fromIP("GET", "/graphql", "192.0.2.9")).Code, "refused requests spent no token")
}

func TestRateLimiterTableIsBounded(t *testing.T) {
	rl, clock := newTestLimiter(1, 1)
	rl.max = 10
	h := rl.middleware(okHandler)
	for i := 0; i < 10; i++ {
		assert.Equal(t, http.StatusOK, serve(h, fromIP("GET", "/graphql", fmt.Sprintf("198.51.100.%d", i))).Code)
	}
	// A full table: newcomers share the overflow bucket (of burst 1).
	assert.Equal(t, http.StatusOK, serve(h, fromIP("GET", "/graphql", "203.0.113.1")).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, fromIP("GET", "/graphql", "203.0.113.2")).Code)
	assert.Equal(t, 10, rl.size())

	// Once they are idle, the old buckets are evicted and newcomers get
	// their own again.
	clock.advance(rl.idle)
	assert.Equal(t, http.StatusOK, serve(h, fromIP("GET", "/graphql", "203.0.113.3")).Code)
	assert.Equal(t, 1, rl.size())
}

func TestRemoteIP(t *testing.T) {
	key := func(addr string) string {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		return RemoteIP(r)
	}
	assert.Equal(t, "192.0.2.1", key("192.0.2.1:1234"))
	assert.Equal(t, "192.0.2.1", key("[::ffff:192.0.2.1]:1234"), "v4-mapped is the v4 address")
	assert.Equal(t, "2001:db8:1:2::/64", key("[2001:db8:1:2::1]:1234"))
	assert.Equal(t, key("[2001:db8:1:2::1]:1"), key("[2001:db8:1:2:ffff::9]:2"), "one /64, one client")
	assert.NotEqual(t, key("[2001:db8:1:2::1]:1"), key("[2001:db8:1:3::1]:1"))
	assert.Equal(t, "pipe", key("pipe"), "not an address: used as is")
}

func TestRateLimitThroughRouter(t *testing.T) {
	f := newFixture(t, func(c *config.Config, d *Deps) {
		c.Server.RateLimit, c.Server.RateBurst = 0.001, 1
		// The hook a later authentication change uses: key by token.
		d.ClientKey = func(r *http.Request) string { return r.Header.Get("X-Token") }
	})
	req := func(token string) *http.Request {
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(`{"query":"{__typename}"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Token", token)
		return r
	}
	assert.Equal(t, http.StatusOK, f.do(t, req("a")).Code)
	w := f.do(t, req("a"))
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, CodeRateLimited, gqlErr(t, w).Extensions["code"])
	assert.NotEmpty(t, w.Header().Get(RequestIDHeader))
	assert.NotEmpty(t, gqlErr(t, w).Extensions["request_id"])
	assert.Equal(t, http.StatusOK, f.do(t, req("b")).Code, "keyed by the hook, not the address")
	assert.Equal(t, http.StatusOK, f.do(t, httptest.NewRequest("GET", "/readyz", nil)).Code)

	off := newFixture(t, func(c *config.Config, _ *Deps) { c.Server.RateLimit, c.Server.RateBurst = 0, 0 })
	for i := 0; i < 300; i++ {
		require.Equal(t, http.StatusOK, off.do(t, req("a")).Code, "rate limiting off")
	}
}

func TestLoadShedding(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	f := newFixture(t, func(c *config.Config, d *Deps) {
		c.Server.MaxInFlight = 2
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Block") != "" {
				entered <- struct{}{}
				<-release
			}
			_, _ = io.WriteString(w, `{"data":{}}`)
		})
	})
	blocked := func() *http.Request {
		r := httptest.NewRequest("GET", "/graphql?query=%7B__typename%7D", nil)
		r.Header.Set("X-Block", "1")
		return r
	}
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for i := 0; i < 2; i++ {
		wg.Go(func() { codes <- f.do(t, blocked()).Code })
	}
	for i := 0; i < 2; i++ {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the blocking requests did not start")
		}
	}

	w := f.do(t, httptest.NewRequest("POST", "/graphql", strings.NewReader(`{"query":"{__typename}"}`)))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	e := gqlErr(t, w)
	assert.Equal(t, CodeOverloaded, e.Extensions["code"])
	assert.Contains(t, e.Message, "server.max_in_flight")
	assert.Equal(t, 2.0, e.Extensions["limit"])
	assert.Equal(t, http.StatusOK, f.do(t, httptest.NewRequest("GET", "/healthz", nil)).Code, "probes are never shed")
	assert.Equal(t, http.StatusOK, f.do(t, httptest.NewRequest("GET", "/readyz", nil)).Code)
	assert.Equal(t, http.StatusOK, f.do(t, httptest.NewRequest("GET", "/metrics", nil)).Code)

	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		assert.Equal(t, http.StatusOK, c)
	}
	assert.Equal(t, http.StatusOK, f.do(t, httptest.NewRequest("GET", "/graphql?query=%7B__typename%7D", nil)).Code, "slots are released")
	assert.Contains(t, f.do(t, httptest.NewRequest("GET", "/metrics", nil)).Body.String(),
		`skein_http_requests_total{method="POST",route="/graphql",status="503"} 1`, "shed requests are counted")
}

// TestLoadSheddingWaitsBriefly: a request that finds every slot taken
// waits, and takes a slot freed during its wait rather than being refused.
// The slot is freed only once the request is known to wait, so the test
// fails if requests are refused without waiting.
func TestLoadSheddingWaitsBriefly(t *testing.T) {
	entered, release, waiting := make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
	h := shed(1, time.Minute, func() { waiting <- struct{}{} })(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Block") != "" {
			close(entered)
			<-release
		}
	}))
	r := httptest.NewRequest("GET", "/graphql", nil)
	r.Header.Set("X-Block", "1")
	go serve(h, r)
	<-entered
	second := make(chan int, 1)
	go func() { second <- serve(h, httptest.NewRequest("GET", "/graphql", nil)).Code }()
	select {
	case <-waiting:
	case code := <-second:
		t.Fatalf("the second request was answered %d without waiting for a slot", code)
	case <-time.After(time.Minute):
		t.Fatal("the second request neither waited nor was answered")
	}
	close(release)
	assert.Equal(t, http.StatusOK, <-second)
}

func TestRefuseBatches(t *testing.T) {
	var seen string
	f := newFixture(t, func(_ *config.Config, d *Deps) {
		d.GraphQL = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			seen = string(b)
			_, _ = io.WriteString(w, `{"data":{}}`)
		})
	})
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return f.do(t, r)
	}
	w := post(" \n\t[{\"query\":\"{__typename}\"},{\"query\":\"{__typename}\"}]")
	require.Equal(t, http.StatusBadRequest, w.Code)
	e := gqlErr(t, w)
	assert.Equal(t, CodeBatchNotSupported, e.Extensions["code"])
	assert.Contains(t, e.Message, "batched requests")
	assert.NotContains(t, w.Body.String(), "__typename", "the body is not echoed")

	body := "  \n{\"query\":\"{__typename}\"}"
	assert.Equal(t, http.StatusOK, post(body).Code)
	assert.Equal(t, body, seen, "the handler reads the whole body, blanks included")
	assert.Equal(t, http.StatusOK, post("").Code)
}

func TestCORS(t *testing.T) {
	const allowed, other = "https://cmdb.example.com", "https://evil.example.net"
	preflight := func(origin string) *http.Request {
		r := httptest.NewRequest("OPTIONS", "/graphql", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "content-type")
		return r
	}
	actual := func(origin string) *http.Request {
		r := httptest.NewRequest("POST", "/graphql", strings.NewReader(`{"query":"{__typename}"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", origin)
		return r
	}

	t.Run("default allows no origin", func(t *testing.T) {
		f := newFixture(t)
		w := f.do(t, actual(allowed))
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
		w = f.do(t, preflight(allowed))
		assert.Empty(t, w.Header().Get("Access-Control-Allow-Origin"))
		assert.Empty(t, w.Header().Get("Access-Control-Allow-Methods"))
	})

	t.Run("allowlist", func(t *testing.T) {
		f := newFixture(t, func(c *config.Config, _ *Deps) {
			c.Server.CORSAllowedOrigins = []string{allowed, "https://*.tools.example.com"}
		})
		w := f.do(t, preflight(allowed))
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, allowed, w.Header().Get("Access-Control-Allow-Origin"))
		assert.Equal(t, "POST", w.Header().Get("Access-Control-Allow-Methods"))
		assert.Equal(t, "content-type", strings.ToLower(w.Header().Get("Access-Control-Allow-Headers")))
		assert.Empty(t, w.Header().Get("Access-Control-Allow-Credentials"))

		w = f.do(t, actual(allowed))
		assert.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, allowed, w.Header().Get("Access-Control-Allow-Origin"))
		assert.Contains(t, w.Header().Get("Access-Control-Expose-Headers"), "Retry-After")
		assert.Contains(t, w.Header().Values("Vary"), "Origin")

		w = f.do(t, actual("https://a.tools.example.com"))
		assert.Equal(t, "https://a.tools.example.com", w.Header().Get("Access-Control-Allow-Origin"), "wildcard")

		for _, r := range []*http.Request{preflight(other), actual(other), actual("https://cmdb.example.com.evil.net")} {
			w = f.do(t, r)
			assert.Empty(t, w.Header().Get("Access-Control-Allow-Origin"), "%s from %s", r.Method, r.Header.Get("Origin"))
			assert.Empty(t, w.Header().Get("Access-Control-Allow-Methods"))
		}
	})

	t.Run("refusals carry CORS headers for allowed origins", func(t *testing.T) {
		f := newFixture(t, func(c *config.Config, _ *Deps) {
			c.Server.CORSAllowedOrigins = []string{allowed}
			c.Server.RateLimit, c.Server.RateBurst = 0.001, 1
		})
		f.do(t, actual(allowed))
		w := f.do(t, actual(allowed))
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.Equal(t, allowed, w.Header().Get("Access-Control-Allow-Origin"))
	})
}
