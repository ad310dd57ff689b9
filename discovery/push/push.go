package push

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/skein-cmdb/skein/discovery"
)

// DefaultTimeout is how long one HTTP request may take when
// PusherOptions.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// BatchesPath is the server's endpoint for discovery batches.
const BatchesPath = "/api/v1/batches"

// RunsPath is the server's endpoint for discovery runs (scoped sync).
const RunsPath = "/api/v1/runs"

// Status is the outcome of one CI or relationship of a batch, as the
// server reports it.
type Status string

// The statuses the server reports.
const (
	StatusCreated   Status = "created"
	StatusUpdated   Status = "updated"
	StatusUnchanged Status = "unchanged"
	StatusInvalid   Status = "invalid"
	StatusConflict  Status = "conflict"
	StatusNotFound  Status = "not_found"
)

// Refused reports whether the server refused the item: any status but
// created, updated and unchanged.
func (s Status) Refused() bool {
	return s != StatusCreated && s != StatusUpdated && s != StatusUnchanged
}

// APIError is an error as the server spells it: a code such as INVALID,
// the field it concerns, such as "cis[0].attributes.port", and a message.
// On the wire it is shaped as GraphQL's errors are: {"message": ...,
// "extensions": {"code": ..., "field": ...}}.
type APIError struct {
	Code    string
	Field   string
	Message string
}

// apiErrorJSON is APIError on the wire.
type apiErrorJSON struct {
	Message    string `json:"message"`
	Extensions struct {
		Code  string `json:"code"`
		Field string `json:"field,omitempty"`
	} `json:"extensions"`
}

// UnmarshalJSON reads the server's error shape.
func (e *APIError) UnmarshalJSON(data []byte) error {
	var w apiErrorJSON
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	e.Code, e.Field, e.Message = w.Extensions.Code, w.Extensions.Field, w.Message
	return nil
}

// MarshalJSON writes the server's error shape.
func (e APIError) MarshalJSON() ([]byte, error) {
	var w apiErrorJSON
	w.Message, w.Extensions.Code, w.Extensions.Field = e.Message, e.Code, e.Field
	return json.Marshal(w)
}

// Error returns "CODE field: message".
func (e *APIError) Error() string {
	s := e.Code
	if e.Field != "" {
		s += " " + e.Field
	}
	return s + ": " + e.Message
}

// ItemResult is the outcome of one CI or relationship.
type ItemResult struct {
	// Index is the item's index in the batch given to Push (not in the
	// chunk that carried it).
	Index int `json:"index"`
	// Ref is a CI's batch-local ref.
	Ref string `json:"ref,omitempty"`
	// Status is what the server did with it.
	Status Status `json:"status"`
	// ID is the server's id of the CI or relationship.
	ID string `json:"id,omitempty"`
	// Error says why a refused item was refused.
	Error *APIError `json:"error,omitempty"`
}

// ScopeResult says what became of a batch's scope, or of a scope of a
// completed run.
type ScopeResult struct {
	// Name is the scope's name, Run the run it was part of.
	Name string `json:"name"`
	Run  int64  `json:"run,omitempty"`
	// Applied is true once the server synchronised the scope: what the
	// source no longer reports there lost its sighting. A batch of an open
	// run is recorded, not applied yet.
	Applied bool `json:"applied"`
	// Reason says why a scope is not applied (yet).
	Reason string `json:"reason,omitempty"`
	// What synchronising the scope did (see the server's docs/DISCOVERY.md).
	ForgottenCIs           int `json:"forgottenCIs,omitempty"`
	StaleCIs               int `json:"staleCIs,omitempty"`
	ForgottenRelationships int `json:"forgottenRelationships,omitempty"`
	RetiredRelationships   int `json:"retiredRelationships,omitempty"`
	// Dropped is set by the agent when it cut a batch that was not part
	// of a run into several requests: each is only a part of the scope,
	// so none carried it.
	Dropped bool `json:"dropped,omitempty"`
}

// RunResult is a discovery run as the server answers it.
type RunResult struct {
	Run    int64         `json:"run"`
	Source string        `json:"source"`
	State  string        `json:"state"`
	Scopes []ScopeResult `json:"scopes"`
}

// StartRun opens a run of source on the server (POST /api/v1/runs): its
// batches then name it in their scope, and CompleteRun synchronises the
// scopes it covered.
func (p *Pusher) StartRun(ctx context.Context, source string) (RunResult, error) {
	return p.runCall(ctx, source, p.runs, map[string]any{"source": source})
}

// CompleteRun completes run n: each of scopes is synchronised.
func (p *Pusher) CompleteRun(ctx context.Context, source string, n int64, scopes []string) (RunResult, error) {
	return p.runCall(ctx, source, fmt.Sprintf("%s/%d/complete", p.runs, n), map[string]any{"source": source, "scopes": scopes})
}

// AbandonRun ends run n without synchronising anything.
func (p *Pusher) AbandonRun(ctx context.Context, source string, n int64) (RunResult, error) {
	return p.runCall(ctx, source, fmt.Sprintf("%s/%d/abandon", p.runs, n), map[string]any{"source": source})
}

func (p *Pusher) runCall(ctx context.Context, source, url string, in any) (RunResult, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return RunResult{}, err
	}
	var out RunResult
	_, err = p.call(ctx, p.opts.Logger.With("source", source), url, body, &out)
	return out, err
}

// Result is the server's answer to one batch, gathered over the requests
// that carried it.
type Result struct {
	// Source is the batch's source name.
	Source string `json:"source"`
	// Scope is set when the batch had one.
	Scope *ScopeResult `json:"scope,omitempty"`
	// CIs and Relationships are the outcomes, indexed as in the batch.
	CIs           []ItemResult `json:"cis"`
	Relationships []ItemResult `json:"relationships"`
	// Requests is how many POSTs carried the batch (1 unless it was cut);
	// Retries how many times one was sent again.
	Requests int `json:"requests"`
	Retries  int `json:"retries"`
	// Whole, when set, says why a batch over the limits was sent uncut.
	Whole string `json:"whole,omitempty"`
}

// Counts returns how many CIs and relationships got each status.
func (r Result) Counts() (cis, relationships map[Status]int) {
	count := func(items []ItemResult) map[Status]int {
		m := map[Status]int{}
		for _, it := range items {
			m[it.Status]++
		}
		return m
	}
	return count(r.CIs), count(r.Relationships)
}

// Refused returns the items the server refused, CIs first.
func (r Result) Refused() (cis, relationships []ItemResult) {
	for _, it := range r.CIs {
		if it.Status.Refused() {
			cis = append(cis, it)
		}
	}
	for _, it := range r.Relationships {
		if it.Status.Refused() {
			relationships = append(relationships, it)
		}
	}
	return cis, relationships
}

// Errors a push may wrap; RejectedError unwraps to the first two.
var (
	// ErrUnauthorized: the server refused the token (401) or what it allows
	// (403). Retrying cannot help; the agent's configuration must change.
	ErrUnauthorized = errors.New("the server refused the agent token")
	// ErrTooLarge: the server found a request too large (413).
	ErrTooLarge = errors.New("the server found the request too large")
	// ErrUnavailable: the server stayed unreachable or busy (429, 502,
	// 503, 504, network errors, timeouts) for as long as the retries were
	// allowed to last.
	ErrUnavailable = errors.New("the server is unavailable")
)

// RejectedError is a request the server refused with a 4xx status: the
// batch itself is wrong (400), the token is (401, 403), or the request is
// too large (413). It is not retried.
type RejectedError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code, Field and Message are the server's error, when it sent one.
	Code, Field, Message string
}

// Error returns the status and the server's error.
func (e *RejectedError) Error() string {
	s := fmt.Sprintf("the server refused the batch: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Field != "" {
		s += " " + e.Field
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns ErrUnauthorized for 401 and 403, ErrTooLarge for 413.
func (e *RejectedError) Unwrap() error {
	switch e.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	case http.StatusRequestEntityTooLarge:
		return ErrTooLarge
	}
	return nil
}

// PusherOptions configure a Pusher; only Server and Token are required.
type PusherOptions struct {
	// Server is the server's base URL.
	Server string
	// Token is the agent token.
	Token Secret
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRetryTime bounds the retries of one request, waits included; 0
	// means no retry.
	MaxRetryTime time.Duration
	// InitialInterval is the first wait before a retry, which grows
	// exponentially (with jitter) up to MaxInterval; 0 means 500ms and 30s.
	InitialInterval, MaxInterval time.Duration
	// MaxCIs and MaxRelationships bound one request; 0 means MaxCIs and
	// MaxRelationships.
	MaxCIs, MaxRelationships int
	// Client sends the requests; nil means a new http.Client.
	Client *http.Client
	// Logger logs retries and cut batches; nil means slog.Default().
	Logger *slog.Logger
}

// Pusher posts batches to a Skein server.
type Pusher struct {
	url  string // of batches
	runs string // of runs
	opts PusherOptions
}

// NewPusher returns a Pusher posting to opts.Server.
func NewPusher(opts PusherOptions) (*Pusher, error) {
	if opts.Server == "" {
		return nil, errors.New("push: no server URL (PusherOptions.Server)")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.InitialInterval <= 0 {
		opts.InitialInterval = 500 * time.Millisecond
	}
	if opts.MaxInterval <= 0 {
		opts.MaxInterval = 30 * time.Second
	}
	if opts.MaxCIs <= 0 {
		opts.MaxCIs = MaxCIs
	}
	if opts.MaxRelationships <= 0 {
		opts.MaxRelationships = MaxRelationships
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	base := strings.TrimSuffix(opts.Server, "/")
	return &Pusher{url: base + BatchesPath, runs: base + RunsPath, opts: opts}, nil
}

// Push sends the batch, cut into requests of at most MaxCIs CIs and
// MaxRelationships relationships (see split: refs across requests become
// identities; each request carries the scope of a batch of a run, none
// that of a batch that is a run of its own), retrying each request on 429,
// 502, 503, 504 and network errors with exponential back-off and jitter,
// honouring Retry-After, for at most MaxRetryTime.
//
// The Result holds what the server answered for the requests sent so far.
// The error is a *RejectedError for a 4xx answer, an error wrapping
// ErrUnavailable when the retries ran out, or the context's error; on the
// first failing request, Push sends no more of the batch.
func (p *Pusher) Push(ctx context.Context, b discovery.Batch) (Result, error) {
	res := Result{Source: b.Source}
	log := p.opts.Logger.With("source", b.Source)
	if b.Scope != nil {
		log = log.With("scope", b.Scope.Name)
	}
	chunks, err := split(b, p.opts.MaxCIs, p.opts.MaxRelationships)
	if err != nil {
		res.Whole = err.Error()
		log.Warn("batch over the request limits sent whole: it cannot be cut",
			"cis", len(b.CIs), "relationships", len(b.Relationships), "reason", err)
		chunks = []chunk{{batch: b, cis: indexes(len(b.CIs)), rels: indexes(len(b.Relationships))}}
	} else if len(chunks) > 1 {
		log.Info("batch cut into requests", "requests", len(chunks), "cis", len(b.CIs), "relationships", len(b.Relationships))
	}
	if b.Scope != nil {
		// Chunks of a batch of a run each carry its scope (the run
		// gathers them); a batch that is a run of its own is the
		// complete view, which no chunk of it is.
		inRun := b.Scope.Run != 0
		res.Scope = &ScopeResult{Name: b.Scope.Name, Run: b.Scope.Run, Dropped: len(chunks) > 1 && !inRun}
		if inRun && len(chunks) > 1 {
			for i := range chunks {
				sc := *b.Scope
				chunks[i].batch.Scope = &sc
			}
		}
	}
	for i, c := range chunks {
		ans, retries, err := p.post(ctx, log, c.batch)
		res.Requests++
		res.Retries += retries
		if err != nil {
			return res, fmt.Errorf("push %s batch (request %d of %d): %w", b.Source, i+1, len(chunks), err)
		}
		if ans.Scope != nil && res.Scope != nil && !res.Scope.Dropped {
			*res.Scope = *ans.Scope
		}
		res.CIs = append(res.CIs, remap(ans.CIs, c.cis)...)
		res.Relationships = append(res.Relationships, remap(ans.Relationships, c.rels)...)
	}
	return res, nil
}

// remap gives the items the index in the original batch of the item of the
// chunk they answer for.
func remap(items []ItemResult, index []int) []ItemResult {
	for i := range items {
		if n := items[i].Index; n >= 0 && n < len(index) {
			items[i].Index = index[n]
		}
	}
	return items
}

// Answer is the body of the server's 200 answer to one batch (POST
// /api/v1/batches): each CI's and relationship's outcome, and the scope's.
type Answer struct {
	Source        string       `json:"source"`
	Scope         *ScopeResult `json:"scope"`
	CIs           []ItemResult `json:"cis"`
	Relationships []ItemResult `json:"relationships"`
}

// post sends one request, retrying what may be transient.
func (p *Pusher) post(ctx context.Context, log *slog.Logger, b discovery.Batch) (Answer, int, error) {
	body, err := json.Marshal(b)
	if err != nil {
		return Answer{}, 0, fmt.Errorf("encode the batch: %w", err)
	}
	var ans Answer
	retries, err := p.call(ctx, log, p.url, body, &ans)
	return ans, retries, err
}

// call POSTs body to url, retrying what may be transient, and decodes a
// 200 or 201 answer into out.
func (p *Pusher) call(ctx context.Context, log *slog.Logger, url string, body []byte, out any) (int, error) {
	eb := backoff.NewExponentialBackOff()
	eb.InitialInterval = p.opts.InitialInterval
	eb.MaxInterval = p.opts.MaxInterval
	retries := 0
	opts := []backoff.RetryOption{
		backoff.WithBackOff(eb),
		backoff.WithNotify(func(err error, wait time.Duration) {
			retries++
			log.Warn("server unavailable, retrying", "attempt", retries, "wait", wait, "error", err)
		}),
	}
	if p.opts.MaxRetryTime > 0 {
		opts = append(opts, backoff.WithMaxElapsedTime(p.opts.MaxRetryTime))
	} else {
		opts = append(opts, backoff.WithMaxTries(1))
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, p.once(ctx, url, body, out) }, opts...)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("%w (after %d retries)", err, retries)
		case errors.Is(err, ErrUnavailable):
			err = fmt.Errorf("gave up after %d retries: %w", retries, err)
		}
	}
	return retries, err
}

// once sends one request. It returns a permanent error (not retried) for
// answers a retry cannot change, and a *backoff.RetryAfterError when the
// server said when to come back.
func (p *Pusher) once(ctx context.Context, url string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(fmt.Errorf("build the request: %w", err))
	}
	req.Header.Set("Authorization", "Bearer "+p.opts.Token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		if untrusted(err) {
			return backoff.Permanent(fmt.Errorf("the server's certificate is not trusted: %w", err)) // retrying cannot mend it
		}
		return fmt.Errorf("%w: %w", ErrUnavailable, err) // a network error or a timeout: transient
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%w: read the answer: %w", ErrUnavailable, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK || code == http.StatusCreated:
		if err := json.Unmarshal(data, out); err != nil {
			return backoff.Permanent(fmt.Errorf("decode the answer: %w", err))
		}
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout:
		err := fmt.Errorf("%w: %d %s", ErrUnavailable, code, http.StatusText(code))
		if wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return &retryAfterError{RetryAfterError: backoff.RetryAfterError{Duration: wait}, status: err}
		}
		return err
	case code >= 400 && code < 500:
		rej := &RejectedError{StatusCode: code}
		var e struct {
			Errors []APIError `json:"errors"`
		}
		if json.Unmarshal(data, &e) == nil && len(e.Errors) > 0 {
			rej.Code, rej.Field, rej.Message = e.Errors[0].Code, e.Errors[0].Field, e.Errors[0].Message
		}
		return backoff.Permanent(rej)
	default:
		return backoff.Permanent(fmt.Errorf("unexpected answer %d %s: %.200s", code, http.StatusText(code), data))
	}
}

// untrusted reports whether err is a TLS verification failure: a
// certificate of an unknown authority, for another host, or otherwise
// invalid.
func untrusted(err error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &verify)
}

// retryAfterError is backoff's RetryAfterError that also says which
// status asked for the wait.
type retryAfterError struct {
	backoff.RetryAfterError
	status error
}

func (e *retryAfterError) Error() string {
	return fmt.Sprintf("%v (Retry-After %s)", e.status, e.Duration)
}

// Unwrap lets backoff.Retry find the RetryAfterError, and callers the
// status error (which wraps ErrUnavailable).
func (e *retryAfterError) Unwrap() []error { return []error{&e.RetryAfterError, e.status} }

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}
