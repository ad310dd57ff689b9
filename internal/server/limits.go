package server

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/cors"
	"golang.org/x/time/rate"
)

// Codes of the refusals answered by the limits of this file.
const (
	CodeRateLimited       = "RATE_LIMITED"
	CodeOverloaded        = "OVERLOADED"
	CodeBatchNotSupported = "BATCH_NOT_SUPPORTED"
)

// RemoteIP is the default client key of the rate limiter: the request's
// remote IP address, IPv6 addresses reduced to their /64 (one host usually
// owns a whole /64, and could otherwise take a fresh budget per address).
// It does not trust X-Forwarded-For, which any client can set.
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// Bounds of the rate limiter's table of clients.
const (
	// maxClients is how many clients get a bucket of their own. Beyond it
	// (a flood of distinct addresses) new clients share one overflow bucket
	// until idle ones are evicted, so memory stays bounded.
	maxClients = 100_000
	// minIdle and maxIdle bound how long an unused bucket is kept. A bucket
	// idle for as long as it takes to refill is full, so evicting it then
	// changes nothing for its client.
	minIdle = time.Minute
	maxIdle = time.Hour
	// fullSweepEvery bounds how often a full table triggers a sweep.
	fullSweepEvery = time.Second
)

// rateLimiter keeps one token bucket per client key.
type rateLimiter struct {
	limit rate.Limit
	burst int
	key   func(*http.Request) string
	now   func() time.Time
	idle  time.Duration // unused buckets are evicted after this
	max   int           // most buckets kept

	mu        sync.Mutex
	clients   map[string]*bucket
	overflow  *rate.Limiter
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// newRateLimiter returns a limiter of perSecond requests with bursts of
// burst per client key (RemoteIP when key is nil).
func newRateLimiter(perSecond float64, burst int, key func(*http.Request) string) *rateLimiter {
	if key == nil {
		key = RemoteIP
	}
	idle := minIdle
	if refill := time.Duration(float64(burst) / perSecond * float64(time.Second)); refill > idle {
		idle = min(refill, maxIdle)
	}
	return &rateLimiter{
		limit: rate.Limit(perSecond), burst: burst, key: key, now: time.Now, idle: idle, max: maxClients,
		clients:  map[string]*bucket{},
		overflow: rate.NewLimiter(rate.Limit(perSecond), burst),
	}
}

// limiter returns the bucket of key, creating it (or handing out the
// overflow bucket when the table is full) and evicting idle ones now and
// then.
func (rl *rateLimiter) limiter(key string, now time.Time) *rate.Limiter {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.lastSweep.IsZero() {
		rl.lastSweep = now
	}
	if b, ok := rl.clients[key]; ok {
		b.seen = now
		return b.lim
	}
	since := now.Sub(rl.lastSweep)
	if since >= rl.idle || (len(rl.clients) >= rl.max && since >= fullSweepEvery) {
		rl.sweep(now)
	}
	if len(rl.clients) >= rl.max {
		return rl.overflow
	}
	b := &bucket{lim: rate.NewLimiter(rl.limit, rl.burst), seen: now}
	rl.clients[key] = b
	return b.lim
}

func (rl *rateLimiter) sweep(now time.Time) {
	rl.lastSweep = now
	for k, b := range rl.clients {
		if now.Sub(b.seen) >= rl.idle {
			delete(rl.clients, k)
		}
	}
}

func (rl *rateLimiter) size() int {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return len(rl.clients)
}

// allow takes a token for r's client, or says how long until one is free.
func (rl *rateLimiter) allow(r *http.Request) (bool, time.Duration) {
	now := rl.now()
	lim := rl.limiter(rl.key(r), now)
	res := lim.ReserveN(now, 1)
	if !res.OK() {
		return false, time.Second
	}
	d := res.DelayFrom(now)
	if d <= 0 {
		return true, 0
	}
	res.CancelAt(now) // the refused request does not spend the token
	return false, d
}

// exempt paths are never rate limited: load balancers and Prometheus poll
// them from one address.
func exempt(path string) bool { return probes[path] }

// middleware answers 429 RATE_LIMITED, with Retry-After in whole seconds
// (at least 1), to requests beyond the client's budget.
func (rl *rateLimiter) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if exempt(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		ok, wait := rl.allow(r)
		if ok {
			next.ServeHTTP(w, r)
			return
		}
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, r, CodeRateLimited,
			fmt.Sprintf("too many requests from this client: the limit is %s requests per second with bursts of %d (server.rate_limit, server.rate_burst); retry in %d s",
				strconv.FormatFloat(float64(rl.limit), 'g', -1, 64), rl.burst, secs),
			map[string]any{"limit": float64(rl.limit), "burst": rl.burst, "retry_after_seconds": secs})
	})
}

// shedWait is how long a request beyond max_in_flight waits for a slot
// before it is refused: enough to absorb a burst, short enough that
// clients are not queued behind a backlog.
const shedWait = 50 * time.Millisecond

// shed serves at most max requests at once; a request that finds no slot
// within wait gets 503 OVERLOADED with Retry-After: 1. onWait, if not nil,
// is called when a request starts waiting (tests use it).
func shed(max int, wait time.Duration, onWait func()) func(http.Handler) http.Handler {
	slots := make(chan struct{}, max)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case slots <- struct{}{}:
			default:
				if onWait != nil {
					onWait()
				}
				t := time.NewTimer(wait)
				select {
				case slots <- struct{}{}:
					t.Stop()
				case <-t.C:
					overloaded(w, r, max)
					return
				case <-r.Context().Done():
					t.Stop()
					overloaded(w, r, max)
					return
				}
			}
			defer func() { <-slots }()
			next.ServeHTTP(w, r)
		})
	}
}

func overloaded(w http.ResponseWriter, r *http.Request, max int) {
	w.Header().Set("Retry-After", "1")
	writeError(w, r, CodeOverloaded,
		fmt.Sprintf("the server is busy: it serves at most %d GraphQL requests at once (server.max_in_flight); retry in 1 s", max),
		map[string]any{"limit": max})
}

// refuseBatches answers 400 BATCH_NOT_SUPPORTED to a POST whose body is a
// JSON array (a batch of requests), which gqlgen would otherwise answer
// with a code-less decoding error that echoes the whole body. It peeks
// at the body up to its first non-blank byte and hands it on intact.
func refuseBatches(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		br := bufio.NewReaderSize(r.Body, 512)
		r.Body = struct {
			io.Reader
			io.Closer
		}{br, r.Body}
		// Peek, not read: the handler gets every byte. A body of more than
		// a buffer of blanks is passed on unexamined.
		for i := 1; i <= br.Size(); i++ {
			b, _ := br.Peek(i)
			if len(b) < i {
				break // EOF or a read error: the handler meets it itself
			}
			c := b[i-1]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				continue
			}
			if c == '[' {
				writeError(w, r, CodeBatchNotSupported,
					"batched requests (a JSON array of requests) are not supported: send one request object per POST; "+
						"a document may hold several named operations, operationName choosing one (graphql.max_operations)", nil)
				return
			}
			break
		}
		next.ServeHTTP(w, r)
	})
}

// corsHandler allows the listed origins to call the API from browsers:
// simple and preflighted GET and POST with the headers a GraphQL client
// sends, no credentials. It returns nil for an empty list: go-chi/cors
// reads an empty list as "every origin", the opposite of what we mean.
func corsHandler(origins []string) func(http.Handler) http.Handler {
	if len(origins) == 0 {
		return nil
	}
	return cors.Handler(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodHead},
		AllowedHeaders: []string{"Accept", "Content-Type", "Authorization", RequestIDHeader},
		ExposedHeaders: []string{RequestIDHeader, "Retry-After"},
		MaxAge:         600,
	})
}
