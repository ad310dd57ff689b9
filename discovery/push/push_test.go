package push_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/discovery/push"
	"github.com/skein-cmdb/skein/discovery/push/pushtest"
)

func TestPushAnswers(t *testing.T) {
	answer := func(status int, body string, header ...string) func(w http.ResponseWriter, n int) bool {
		return func(w http.ResponseWriter, n int) bool {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
			return true
		}
	}
	// firstThen answers the first n requests with f, the rest normally.
	firstThen := func(n int, f func(http.ResponseWriter, int) bool) func(http.ResponseWriter, int) bool {
		return func(w http.ResponseWriter, i int) bool { return i <= n && f(w, i) }
	}
	for _, tc := range []struct {
		name     string
		fail     func(http.ResponseWriter, int) bool
		requests int   // the stub saw
		retries  int   // the push.Result counts
		is       error // the error wraps
		rejected *push.RejectedError
		noRetry  bool // MaxRetryTime 0
	}{
		{name: "ok", requests: 1},
		{name: "503 twice then ok", fail: firstThen(2, answer(503, "busy")), requests: 3, retries: 2},
		{name: "429, 502, 504 then ok", fail: firstThen(3, func(w http.ResponseWriter, n int) bool {
			w.WriteHeader([]int{429, 502, 504}[n-1])
			return true
		}), requests: 4, retries: 3},
		{name: "400 not retried", fail: answer(400, pushtest.ErrorBody("INVALID", "cis[0].class", "unknown class")), requests: 1,
			rejected: &push.RejectedError{StatusCode: 400, Code: "INVALID", Field: "cis[0].class", Message: "unknown class"}},
		{name: "401 not retried", fail: answer(401, pushtest.ErrorBody("UNAUTHENTICATED", "", "bad token")), requests: 1,
			is: push.ErrUnauthorized, rejected: &push.RejectedError{StatusCode: 401, Code: "UNAUTHENTICATED", Message: "bad token"}},
		{name: "403 not retried", fail: answer(403, ""), requests: 1, is: push.ErrUnauthorized, rejected: &push.RejectedError{StatusCode: 403}},
		{name: "413 not retried", fail: answer(413, "too large"), requests: 1, is: push.ErrTooLarge, rejected: &push.RejectedError{StatusCode: 413}},
		{name: "500 not retried", fail: answer(500, "boom"), requests: 1},
		{name: "503 for ever gives up", fail: answer(503, "busy"), is: push.ErrUnavailable},
		{name: "no retries when max_retry_time is 0", fail: answer(503, "busy"), requests: 1, is: push.ErrUnavailable, noRetry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := pushtest.New(t)
			s.Fail = tc.fail
			log, _ := pushtest.Logger()
			p := pushtest.Pusher(t, s, log, func(o *push.PusherOptions) {
				o.MaxRetryTime = 200 * time.Millisecond
				if tc.noRetry {
					o.MaxRetryTime = 0
				}
			})
			res, err := p.Push(context.Background(), pushtest.SmallBatch())
			if tc.requests > 0 {
				assert.Equal(t, tc.requests, s.Count(), "requests the server saw")
			} else {
				assert.Greater(t, s.Count(), 2, "requests the server saw")
			}
			if tc.fail == nil || tc.retries > 0 {
				require.NoError(t, err)
				assert.Equal(t, tc.retries, res.Retries)
				assert.Len(t, res.CIs, 2)
				assert.Len(t, res.Relationships, 1)
				return
			}
			require.Error(t, err)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			var rej *push.RejectedError
			if tc.rejected != nil {
				require.ErrorAs(t, err, &rej)
				assert.Equal(t, tc.rejected, rej)
			} else {
				assert.False(t, errors.As(err, &rej), "not a *push.RejectedError: %v", err)
			}
		})
	}
}

func TestPushHonoursRetryAfter(t *testing.T) {
	s := pushtest.New(t)
	s.Fail = func(w http.ResponseWriter, n int) bool {
		if n > 1 {
			return false
		}
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	log, logs := pushtest.Logger()
	p := pushtest.Pusher(t, s, log)
	res, err := p.Push(context.Background(), pushtest.SmallBatch())
	require.NoError(t, err)
	assert.Equal(t, 1, res.Retries)
	assert.Equal(t, 2, s.Count())
	// The wait is the server's, not the back-off's millisecond.
	assert.Contains(t, logs.String(), "wait=1s")
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"soon", 0, false},
	} {
		t.Run(tc.header, func(t *testing.T) {
			got, ok := push.RetryAfter(tc.header, now)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestPushSendsTokenAndNeverLogsIt(t *testing.T) {
	s := pushtest.New(t)
	s.Fail = func(w http.ResponseWriter, n int) bool {
		if n == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	}
	log, logs := pushtest.Logger()
	p := pushtest.Pusher(t, s, log)
	_, err := p.Push(context.Background(), pushtest.SmallBatch())
	require.NoError(t, err)
	require.Len(t, s.Headers(), 2)
	for _, h := range s.Headers() {
		assert.Equal(t, "Bearer "+pushtest.Token, h.Get("Authorization"))
		assert.Equal(t, "application/json", h.Get("Content-Type"))
	}
	log.Info("configuration", "token", push.Secret(pushtest.Token))
	assert.NotContains(t, logs.String(), pushtest.Token)
	assert.Contains(t, logs.String(), "token=[redacted]")
	for _, verb := range []string{"%v", "%s", "%#v", "%q"} {
		assert.NotContains(t, fmt.Sprintf(verb, push.Secret(pushtest.Token)), pushtest.Token, verb)
	}
	data, err := json.Marshal(struct{ Token push.Secret }{pushtest.Token})
	require.NoError(t, err)
	assert.NotContains(t, string(data), pushtest.Token)
}

func TestPushMapsScope(t *testing.T) {
	for _, applied := range []bool{false, true} {
		t.Run(fmt.Sprint("applied=", applied), func(t *testing.T) {
			s := pushtest.New(t)
			s.Applied = applied
			log, _ := pushtest.Logger()
			res, err := pushtest.Pusher(t, s, log).Push(context.Background(), pushtest.SmallBatch())
			require.NoError(t, err)
			require.NotNil(t, res.Scope)
			assert.Equal(t, push.ScopeResult{Name: "host:web01.example.com", Applied: applied}, *res.Scope)
		})
	}
}

// TestPushDoesNotRetryAnUntrustedServer: a certificate the agent does not
// trust cannot heal by waiting: the push fails at once, without retries,
// and never as push.ErrUnavailable.
func TestPushDoesNotRetryAnUntrustedServer(t *testing.T) {
	calls := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	t.Cleanup(srv.Close)
	p, err := push.NewPusher(push.PusherOptions{Server: srv.URL, Token: "t", MaxRetryTime: time.Minute, InitialInterval: time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	res, err := p.Push(context.Background(), pushtest.SmallBatch())
	require.Error(t, err)
	assert.NotErrorIs(t, err, push.ErrUnavailable)
	assert.Contains(t, err.Error(), "not trusted")
	assert.Zero(t, res.Retries)
	assert.Zero(t, calls, "the handshake failed: no request reached the handler")
	assert.Less(t, time.Since(start), 10*time.Second)
}

// TestPushSplitsBigBatch posts a batch over the limits: the server sees
// requests within them, and the push.Result answers for every item, indexed as
// in the batch given.
func TestPushSplitsBigBatch(t *testing.T) {
	s := pushtest.New(t)
	log, logs := pushtest.Logger()
	b := push.BigBatch(1250)
	res, err := pushtest.Pusher(t, s, log).Push(context.Background(), b)
	require.NoError(t, err)
	got := s.Received()
	require.Len(t, got, 3)
	for _, r := range got {
		assert.LessOrEqual(t, len(r.CIs), push.MaxCIs)
		assert.LessOrEqual(t, len(r.Relationships), push.MaxRelationships)
		assert.Nil(t, r.Scope)
	}
	assert.Equal(t, 3, res.Requests)
	require.Len(t, res.CIs, len(b.CIs))
	for i, it := range res.CIs {
		assert.Equal(t, i, it.Index)
		assert.Equal(t, b.CIs[i].Ref, it.Ref)
	}
	require.Len(t, res.Relationships, len(b.Relationships))
	idx := map[int]bool{}
	for _, it := range res.Relationships {
		idx[it.Index] = true
	}
	assert.Len(t, idx, len(b.Relationships))
	require.NotNil(t, res.Scope)
	assert.True(t, res.Scope.Dropped)
	assert.False(t, res.Scope.Applied)
	assert.Contains(t, logs.String(), "batch cut into requests")
}

func TestPushSendsWholeWhatItCannotCut(t *testing.T) {
	s := pushtest.New(t)
	log, logs := pushtest.Logger()
	b := push.BigBatch(3)
	b.CIs[1].Class = "Gadget"
	res, err := pushtest.Pusher(t, s, log, func(o *push.PusherOptions) { o.MaxCIs = 2 }).Push(context.Background(), b)
	require.NoError(t, err)
	require.Len(t, s.Received(), 1)
	assert.Len(t, s.Received()[0].CIs, 6)
	assert.Contains(t, res.Whole, "Gadget")
	assert.Contains(t, logs.String(), "sent whole")
}

// TestNewPusherNeedsServer: a pusher without a server URL is refused at
// once, with an error naming the option.
func TestNewPusherNeedsServer(t *testing.T) {
	_, err := push.NewPusher(push.PusherOptions{Token: pushtest.Token})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "PusherOptions.Server")
}
