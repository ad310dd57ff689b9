package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/discovery/push"
)

// Sender sends one batch to the server: a *push.Pusher, or a stand-in.
type Sender interface {
	Push(ctx context.Context, b discovery.Batch) (push.Result, error)
}

// RunSender is a Sender that also runs discovery runs on the server (a
// *push.Pusher): the scoped batches of one source's collection are sent in one
// run, completed only when every batch was taken, so that the server
// synchronises their scopes once, and never after a failure.
type RunSender interface {
	Sender
	StartRun(ctx context.Context, source string) (push.RunResult, error)
	CompleteRun(ctx context.Context, source string, run int64, scopes []string) (push.RunResult, error)
	AbandonRun(ctx context.Context, source string, run int64) (push.RunResult, error)
}

// RunnerOptions tune a Runner.
type RunnerOptions struct {
	// Interval is the time between the starts of two runs of Run; 0 runs once.
	Interval time.Duration
	// Logger logs each source's outcome; nil means slog.Default().
	Logger *slog.Logger
	// DryRun, when set, receives the batches as NDJSON instead of the
	// server: nothing is sent, and a Runner needs no Sender.
	DryRun io.Writer
}

// Runner runs discovery sources and pushes what they report.
type Runner struct {
	sources []entry
	sender  Sender
	opts    RunnerOptions
}

// entry is one source to run: built, or the reason it could not be.
type entry struct {
	typ, name string
	src       discovery.Source
	err       error
}

// NewRunner returns a Runner that runs sources, in order, and pushes their
// batches through sender (which may be nil with opts.DryRun).
func NewRunner(sender Sender, opts RunnerOptions, sources ...discovery.Source) *Runner {
	r := &Runner{sender: sender, opts: opts}
	for _, s := range sources {
		r.sources = append(r.sources, entry{name: s.Name(), src: s})
	}
	r.init()
	return r
}

// New returns the Runner cfg describes: its sources, pushed through a
// push.Pusher to cfg.Server (none with opts.DryRun). It validates cfg first
// (only its interval and sources for a dry run) and returns the
// *FieldError values it finds. A source that cannot be built (a
// kubeconfig that does not load) does not stop the others: each run
// reports it as failed. opts.Interval is taken from cfg.
func New(cfg Config, opts RunnerOptions) (*Runner, error) {
	validate := cfg.Validate
	if opts.DryRun != nil {
		validate = cfg.ValidateSources
	}
	if err := validate(); err != nil {
		return nil, err
	}
	opts.Interval = cfg.Interval
	r := &Runner{opts: opts}
	r.init()
	if opts.DryRun == nil {
		p, err := push.NewPusher(push.PusherOptions{Server: cfg.Server, Token: cfg.Token, Timeout: cfg.Timeout,
			MaxRetryTime: cfg.MaxRetryTime, Logger: r.opts.Logger})
		if err != nil {
			return nil, err
		}
		r.sender = p
	}
	for i, sc := range cfg.Sources {
		src, err := sc.Build()
		e := entry{typ: sc.Type, name: sc.Name, src: src, err: err}
		if err != nil {
			r.opts.Logger.Error("source cannot be built; it will be reported as failed", "source", fmt.Sprintf("sources[%d]", i), "type", sc.Type, "error", err)
			if e.name == "" {
				e.name = sc.Type
			}
		} else {
			e.name = src.Name()
		}
		r.sources = append(r.sources, e)
	}
	return r, nil
}

func (r *Runner) init() {
	if r.opts.Logger == nil {
		r.opts.Logger = slog.Default()
	}
}

// Counts are numbers of batches, CIs and relationships.
type Counts struct {
	Batches, CIs, Relationships int
}

func (c *Counts) add(b discovery.Batch) {
	c.Batches++
	c.CIs += len(b.CIs)
	c.Relationships += len(b.Relationships)
}

// Refusal is one CI or relationship the server refused.
type Refusal struct {
	// Batch is the index of the batch among the source's batches, Scope
	// its scope.
	Batch int
	Scope string
	// Kind is "ci" or "relationship".
	Kind string
	push.ItemResult
}

// Failure is a batch that was not taken: refused whole by the server, or
// not sent because the server stayed unavailable.
type Failure struct {
	Batch int
	Scope string
	Err   error
}

// SourceReport is what became of one source in one run.
type SourceReport struct {
	// Name is the source name the batches report as; Type the configured
	// type ("" for a source given to NewRunner).
	Name, Type string
	// Err is why the source failed (it could not be built or its Collect
	// failed); nothing of it was sent.
	Err error
	// Collected counts what the source reported; Sent what the server
	// answered for.
	Collected, Sent Counts
	// Requests is the number of POSTs, Retries how many were sent again.
	Requests, Retries int
	// CIStatus and RelationshipStatus count the items by status.
	CIStatus, RelationshipStatus map[push.Status]int
	// Refused lists the items the server refused, with its errors.
	Refused []Refusal
	// Failed lists the batches the server did not take.
	Failed []Failure
	// Run is the server's run the scoped batches were sent in (0: none),
	// RunState what became of it: completed, or abandoned after a failure
	// (nothing removed).
	Run      int64
	RunState string
	// Scopes are what the server did with each scope the source sent:
	// synchronised (Applied) or not, and why.
	Scopes []push.ScopeResult
	// ScopesNotApplied names the scopes sent that the server did not
	// synchronise: what the source no longer sees in them keeps its
	// sighting.
	ScopesNotApplied []string
	// Skipped names what the source passed over (see Skipped).
	Skipped []string
	// Duration is how long the source took, collecting and sending.
	Duration time.Duration
}

// OK reports whether the source ran and everything it sent was taken.
func (s SourceReport) OK() bool {
	return s.Err == nil && len(s.Failed) == 0 && len(s.Refused) == 0
}

// Report is what became of one run.
type Report struct {
	Started  time.Time
	Duration time.Duration
	Sources  []SourceReport
}

// OK reports whether every source ran and everything sent was taken.
func (r Report) OK() bool {
	for _, s := range r.Sources {
		if !s.OK() {
			return false
		}
	}
	return true
}

// ErrRefused is wrapped by RunOnce's error when the server refused items
// of a batch it otherwise took.
var ErrRefused = errors.New("the server refused items")

// RunOnce runs every source once, in order, and pushes each batch (or, in
// a dry run, writes it). A source that fails does not stop the others; a
// refused token (push.ErrUnauthorized) stops the run, since every later push
// would be refused too. The error joins the failures of the run (nil when
// Report.OK).
func (r *Runner) RunOnce(ctx context.Context) (Report, error) {
	rep := Report{Started: time.Now()}
	var errs []error
	for _, e := range r.sources {
		sr := r.runSource(ctx, e)
		rep.Sources = append(rep.Sources, sr)
		r.log(sr)
		if sr.Err != nil {
			errs = append(errs, fmt.Errorf("source %s: %w", sr.Name, sr.Err))
		}
		for _, f := range sr.Failed {
			errs = append(errs, fmt.Errorf("source %s batch %d: %w", sr.Name, f.Batch, f.Err))
		}
		if n := len(sr.Refused); n > 0 {
			errs = append(errs, fmt.Errorf("source %s: %w: %d", sr.Name, ErrRefused, n))
		}
		if ctx.Err() != nil || hasUnauthorized(sr) {
			break
		}
	}
	rep.Duration = time.Since(rep.Started)
	return rep, errors.Join(errs...)
}

func hasUnauthorized(sr SourceReport) bool {
	for _, f := range sr.Failed {
		if errors.Is(f.Err, push.ErrUnauthorized) {
			return true
		}
	}
	return false
}

func (r *Runner) runSource(ctx context.Context, e entry) SourceReport {
	start := time.Now()
	sr := SourceReport{Name: e.name, Type: e.typ, CIStatus: map[push.Status]int{}, RelationshipStatus: map[push.Status]int{}}
	defer func() { sr.Duration = time.Since(start) }()
	if e.err != nil {
		sr.Err = e.err
		return sr
	}
	batches, err := e.src.Collect(ctx)
	sr.Skipped = Skipped(e.src)
	if err != nil {
		sr.Err = fmt.Errorf("collect: %w", err)
		return sr
	}
	for _, b := range batches {
		sr.Collected.add(b)
	}
	if r.opts.DryRun != nil {
		if err := discovery.WriteNDJSON(r.opts.DryRun, batches); err != nil {
			sr.Err = err
		}
		return sr
	}
	rs, runs := r.sender.(RunSender)
	var scopes []string // in the order first sent
	for _, b := range batches {
		if b.Scope != nil && !slices.Contains(scopes, b.Scope.Name) {
			scopes = append(scopes, b.Scope.Name)
		}
	}
	if runs && len(scopes) > 0 {
		run, err := rs.StartRun(ctx, e.name)
		if err != nil {
			sr.Failed = append(sr.Failed, Failure{Batch: -1, Err: fmt.Errorf("start a run: %w", err)})
			return sr
		}
		sr.Run, sr.RunState = run.Run, run.State
	}
	for i, b := range batches {
		scope := ""
		if b.Scope != nil {
			scope = b.Scope.Name
			if sr.Run != 0 {
				sc := *b.Scope
				sc.Run = sr.Run
				b.Scope = &sc
			}
		}
		res, err := r.sender.Push(ctx, b)
		sr.Requests += res.Requests
		sr.Retries += res.Retries
		// What the server answered counts even when a later part of a cut
		// batch failed: those items were taken (or refused) all the same.
		for _, it := range res.CIs {
			sr.CIStatus[it.Status]++
			if it.Status.Refused() {
				sr.Refused = append(sr.Refused, Refusal{Batch: i, Scope: scope, Kind: "ci", ItemResult: it})
			}
		}
		for _, it := range res.Relationships {
			sr.RelationshipStatus[it.Status]++
			if it.Status.Refused() {
				sr.Refused = append(sr.Refused, Refusal{Batch: i, Scope: scope, Kind: "relationship", ItemResult: it})
			}
		}
		if err != nil {
			sr.Failed = append(sr.Failed, Failure{Batch: i, Scope: scope, Err: err})
			if errors.Is(err, push.ErrUnauthorized) || ctx.Err() != nil {
				break
			}
			continue
		}
		sr.Sent.add(b)
		if sr.Run == 0 && res.Scope != nil { // a batch that is a run of its own
			sr.Scopes = append(sr.Scopes, *res.Scope)
		}
	}
	if sr.Run != 0 {
		r.endRun(ctx, rs, &sr, scopes)
	}
	for _, sc := range sr.Scopes {
		if !sc.Applied {
			sr.ScopesNotApplied = append(sr.ScopesNotApplied, sc.Name)
		}
	}
	return sr
}

// abandonTimeout bounds abandoning a run once the agent is stopping.
const abandonTimeout = 10 * time.Second

// endRun completes the source's run when every batch was taken, and
// abandons it otherwise: a run that failed halfway removes nothing.
func (r *Runner) endRun(ctx context.Context, rs RunSender, sr *SourceReport, scopes []string) {
	if len(sr.Failed) > 0 || ctx.Err() != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
		defer cancel()
		sr.RunState = "abandoned"
		if _, err := rs.AbandonRun(actx, sr.Name, sr.Run); err != nil {
			// The run stays open until it expires; it removes nothing either way.
			r.opts.Logger.Warn("run not abandoned; it will expire", "source", sr.Name, "run", sr.Run, "error", err)
		}
		for _, sc := range scopes {
			sr.Scopes = append(sr.Scopes, push.ScopeResult{Name: sc, Run: sr.Run, Reason: "the run failed: nothing removed"})
		}
		return
	}
	done, err := rs.CompleteRun(ctx, sr.Name, sr.Run, scopes)
	if err != nil {
		sr.Failed = append(sr.Failed, Failure{Batch: -1, Err: fmt.Errorf("complete run %d: %w", sr.Run, err)})
		return
	}
	sr.RunState, sr.Scopes = done.State, done.Scopes
}

// maxLoggedRefusals bounds the refused items logged one by one per source.
const maxLoggedRefusals = 20

func (r *Runner) log(sr SourceReport) {
	log := r.opts.Logger.With("source", sr.Name)
	if sr.Type != "" {
		log = log.With("type", sr.Type)
	}
	if sr.Err != nil {
		log.Error("source failed", "error", sr.Err, "duration", sr.Duration)
		return
	}
	if len(sr.Skipped) > 0 {
		log.Warn("source skipped what nothing identifies or that had no data", "skipped", sr.Skipped)
	}
	if r.opts.DryRun != nil {
		log.Info("source collected (dry run: nothing sent)", "batches", sr.Collected.Batches,
			"cis", sr.Collected.CIs, "relationships", sr.Collected.Relationships, "duration", sr.Duration)
		return
	}
	for i, rf := range sr.Refused {
		if i == maxLoggedRefusals {
			log.Warn("more items refused", "not_logged", len(sr.Refused)-i)
			break
		}
		attrs := []any{"batch", rf.Batch, "kind", rf.Kind, "index", rf.Index, "status", rf.Status}
		if rf.Ref != "" {
			attrs = append(attrs, "ref", rf.Ref)
		}
		if rf.Error != nil {
			attrs = append(attrs, "code", rf.Error.Code, "field", rf.Error.Field, "message", rf.Error.Message)
		}
		log.Warn("item refused", attrs...)
	}
	for _, f := range sr.Failed {
		log.Error("batch not taken", "batch", f.Batch, "scope", f.Scope, "error", f.Err)
	}
	if sr.Run != 0 {
		var forgot, stale, retired int
		for _, sc := range sr.Scopes {
			forgot += sc.ForgottenCIs + sc.ForgottenRelationships
			stale += sc.StaleCIs
			retired += sc.RetiredRelationships
		}
		log.Info("run "+sr.RunState, "run", sr.Run, "scopes", len(sr.Scopes), "scopes_not_applied", len(sr.ScopesNotApplied),
			"sightings_dropped", forgot, "cis_marked_stale", stale, "relationships_retired", retired)
	} else if len(sr.ScopesNotApplied) > 0 {
		log.Info("scopes not applied: what the source no longer sees there keeps its sighting", "scopes", len(sr.ScopesNotApplied))
	}
	log.Info("source done", "batches_sent", sr.Sent.Batches, "batches_collected", sr.Collected.Batches,
		"cis", sr.Sent.CIs, "relationships", sr.Sent.Relationships,
		"ci_status", statusText(sr.CIStatus), "relationship_status", statusText(sr.RelationshipStatus),
		"refused", len(sr.Refused), "requests", sr.Requests, "retries", sr.Retries, "duration", sr.Duration)
}

// statusText formats counts by status in a stable order.
func statusText(m map[push.Status]int) string {
	s := ""
	for _, st := range []push.Status{push.StatusCreated, push.StatusUpdated, push.StatusUnchanged, push.StatusInvalid, push.StatusConflict, push.StatusNotFound} {
		if n := m[st]; n > 0 {
			s += fmt.Sprintf("%s=%d ", st, n)
		}
	}
	for st, n := range m {
		switch st {
		case push.StatusCreated, push.StatusUpdated, push.StatusUnchanged, push.StatusInvalid, push.StatusConflict, push.StatusNotFound:
		default:
			s += fmt.Sprintf("%s=%d ", st, n)
		}
	}
	if s == "" {
		return "none"
	}
	return s[:len(s)-1]
}

// Run runs the sources once when the interval is 0, returning RunOnce's
// error; otherwise every interval until ctx ends, logging each run's
// failures, and returns nil when ctx ends, or the error of a run whose
// token the server refused.
func (r *Runner) Run(ctx context.Context) error {
	if r.opts.Interval <= 0 {
		_, err := r.RunOnce(ctx)
		return err
	}
	ticker := time.NewTicker(r.opts.Interval)
	defer ticker.Stop()
	for {
		rep, err := r.RunOnce(ctx)
		if errors.Is(err, push.ErrUnauthorized) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		r.opts.Logger.Info("run done", "ok", rep.OK(), "duration", rep.Duration, "next_in", r.opts.Interval)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}
