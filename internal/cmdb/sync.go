package cmdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Scoped sync. A discovery source declares that what it sends about a
// scope (all connections of one host, all workloads of one namespace) is
// its complete view of that scope. It does so in a run: the source starts
// a run (StartRun), sends its batches, each naming its scope and the run
// (UpsertScoped), then completes the run (CompleteRun) naming the scopes
// it covered completely. Completing a scope compares what the source
// reported there in this run with what it reported there before:
//
//   - a CI it reported before and not in this run loses the source's
//     sighting (its attributes and other sightings stay); one that no
//     discovery source reports any more is marked stale at once
//     (stale_since: when it was last reported), and the staleness policy
//     (discovery.stale_action) retires it after its class's period;
//   - a relationship it reported before and not now loses the source's
//     sighting; one that no source reports any more (not even "api", a
//     person) is retired: removed from the graph that impact analysis
//     walks, with an audit record holding its type, ends and attributes;
//   - what another source reported is never touched, and a sighting newer
//     than the run's start is kept (another run of the source saw it).
//
// Nothing is removed for a run that is not completed: an agent that fails
// or stops halfway leaves the graph as it was (its writes are sightings
// like any other). Nothing is removed from a scope of which part could not
// be written in the run (an invalid or conflicting item): the run's view
// of it is not complete. A batch naming a scope but no run is a run of its
// own, completed once written. Runs are numbered by a sequence, so a later
// run always wins: completing run 7 never removes what run 8 reported.

// RunMaxAge is how long a run may stay open: an older one takes no batch
// and cannot complete (it removes nothing); the agent starts another.
const RunMaxAge = 24 * time.Hour

// runSequence names the counter of run numbers.
const runSequence = "discovery_run"

// maxRunScopes bounds the scopes one completion names.
const maxRunScopes = store.MaxBatch

// BatchScope says that a graph batch reports part of its source's complete
// view of a scope.
type BatchScope struct {
	// Name names the scope within the source, e.g. "host:web01".
	Name string
	// Run is the open run the batch is part of; 0 makes the batch a run
	// of its own, completed once written.
	Run int64
}

// ScopeOutcome is what became of a scope in a run.
type ScopeOutcome struct {
	Name string `json:"name"`
	Run  int64  `json:"run"`
	// Applied is true once the scope was synchronised: its run completed
	// and what the source no longer reports there lost its sighting.
	Applied bool `json:"applied"`
	// Reason says why the scope is not applied (yet).
	Reason string `json:"reason,omitempty"`
	// ForgottenCIs counts the CIs that lost the source's sighting;
	// StaleCIs those of them no discovery source reports any more,
	// marked stale.
	ForgottenCIs int `json:"forgottenCIs"`
	StaleCIs     int `json:"staleCIs"`
	// ForgottenRelationships counts the relationships that lost the
	// source's sighting and that another source still reports;
	// RetiredRelationships those no source reports any more, retired.
	ForgottenRelationships int `json:"forgottenRelationships"`
	RetiredRelationships   int `json:"retiredRelationships"`
}

// RunOutcome is a run as the API shows it.
type RunOutcome struct {
	Run       int64          `json:"run"`
	Source    string         `json:"source"`
	State     string         `json:"state"`
	StartedAt time.Time      `json:"startedAt"`
	EndedAt   *time.Time     `json:"endedAt,omitempty"`
	Scopes    []ScopeOutcome `json:"scopes"`
}

// outcome returns r as the API shows it, with what its completion did.
func outcome(r store.SyncRun) (RunOutcome, error) {
	out := RunOutcome{Run: r.Number, Source: r.Source, State: r.State, StartedAt: r.StartedAt, Scopes: []ScopeOutcome{}}
	if !r.EndedAt.IsZero() {
		t := r.EndedAt
		out.EndedAt = &t
	}
	if len(r.Outcome) > 0 {
		if err := json.Unmarshal(r.Outcome, &out.Scopes); err != nil {
			return RunOutcome{}, fmt.Errorf("run %d: decode outcome: %w", r.Number, err)
		}
	}
	return out, nil
}

// checkSync checks that the caller may report discovery (upsert CIs,
// create relationships) and returns the actor its token writes as: a
// discovery source, never "api" (a person's word is not a source's view
// of a scope).
func checkSync(ctx context.Context, actor store.Actor) (store.Actor, error) {
	if err := auth.Check(ctx, auth.KindCI, auth.Upsert); err != nil {
		return actor, err
	}
	if err := auth.Check(ctx, auth.KindRelationship, auth.Create); err != nil {
		return actor, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return actor, err
	}
	if actor.Source == "" || strings.EqualFold(actor.Source, "api") {
		return actor, store.Invalid("source", "runs and scopes belong to a discovery source (such as host or ansible), not %q", actor.Source)
	}
	return actor, nil
}

// StartRun opens a run for actor's source (the token's, for an agent).
func (s *Service) StartRun(ctx context.Context, actor store.Actor) (RunOutcome, error) {
	actor, err := checkSync(ctx, actor)
	if err != nil {
		return RunOutcome{}, err
	}
	r, err := s.startRun(ctx, actor)
	if err != nil {
		return RunOutcome{}, err
	}
	return outcome(r)
}

func (s *Service) startRun(ctx context.Context, actor store.Actor) (store.SyncRun, error) {
	n, err := s.st.NextSequence(ctx, runSequence, 1)
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("number a run: %w", err)
	}
	r := store.SyncRun{Number: n, Source: actor.Source, Actor: actor.Name, State: store.RunOpen, StartedAt: time.Now().UTC()}
	if err := s.st.SaveRun(ctx, r); err != nil {
		return store.SyncRun{}, fmt.Errorf("save run %d: %w", n, err)
	}
	return r, nil
}

// Run returns run n. Anyone who may read CIs may read runs.
func (s *Service) Run(ctx context.Context, n int64) (RunOutcome, error) {
	if err := auth.Check(ctx, auth.KindCI, auth.Read); err != nil {
		return RunOutcome{}, err
	}
	r, err := s.st.LoadRun(ctx, n)
	if err != nil {
		return RunOutcome{}, err
	}
	return outcome(r)
}

// openRun loads run n for a write by actor: it must exist, be the
// actor's source's, be open and be younger than RunMaxAge. field names
// the run number as the client wrote it.
func (s *Service) openRun(ctx context.Context, actor store.Actor, field string, n int64) (store.SyncRun, error) {
	if n < 1 {
		return store.SyncRun{}, store.Invalid(field, "%d is not a run number; start a run first", n)
	}
	r, err := s.st.LoadRun(ctx, n)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.SyncRun{}, store.AtField(field, fmt.Errorf("no run %d: %w", n, store.ErrNotFound))
		}
		return store.SyncRun{}, err
	}
	if r.Source != actor.Source {
		return store.SyncRun{}, store.Invalid(field, "run %d belongs to source %s, not %s", n, r.Source, actor.Source)
	}
	if r.State != store.RunOpen {
		return r, store.AtField(field, fmt.Errorf("run %d is %s: start a new run: %w", n, r.State, store.ErrConflict))
	}
	if age := time.Since(r.StartedAt); age > RunMaxAge {
		return r, store.AtField(field, fmt.Errorf("run %d started %s ago, more than %s: it can no longer take batches or complete; start a new run: %w",
			n, age.Round(time.Minute), RunMaxAge, store.ErrConflict))
	}
	return r, nil
}

// UpsertScoped writes b as UpsertGraph does, as part of the source's
// complete view of scope sc: it records which CIs and relationships the
// batch reported there (and whether part of it failed) in sc.Run, and,
// for a batch that is a run of its own (sc.Run 0), completes the scope.
// The outcome is "recorded" until the run completes.
func (s *Service) UpsertScoped(ctx context.Context, actor store.Actor, b GraphBatch, sc BatchScope) (store.GraphResult, ScopeOutcome, error) {
	actor, err := checkSync(ctx, actor)
	if err != nil {
		return store.GraphResult{}, ScopeOutcome{}, err
	}
	if err := store.CheckScopeName("scope.name", sc.Name); err != nil {
		return store.GraphResult{}, ScopeOutcome{}, err
	}
	var r store.SyncRun
	if sc.Run != 0 {
		r, err = s.openRun(ctx, actor, "run", sc.Run)
	} else {
		r, err = s.startRun(ctx, actor)
	}
	if err != nil {
		return store.GraphResult{}, ScopeOutcome{}, err
	}
	res, err := s.UpsertGraph(ctx, actor, b)
	if err != nil {
		return store.GraphResult{}, ScopeOutcome{}, err
	}
	var members []string
	failed := false
	for _, it := range res.Items {
		switch it.Status {
		case store.StatusCreated, store.StatusUpdated, store.StatusUnchanged:
			members = append(members, string(it.Node.ID))
		default:
			failed = true
		}
	}
	for _, e := range res.Edges {
		switch e.Status {
		case store.StatusCreated, store.StatusUpdated, store.StatusUnchanged:
			members = append(members, string(e.Relationship.ID))
		default:
			failed = true
		}
	}
	if failed {
		members = append(members, store.ScopeFailed)
	}
	ref := store.ScopeRef{Source: actor.Source, Name: sc.Name}
	for part := range slices.Chunk(members, store.MaxBatch) {
		if err := s.st.MarkScope(ctx, ref, r.Number, part); err != nil {
			return store.GraphResult{}, ScopeOutcome{}, fmt.Errorf("written, but not recorded in scope %q of run %d (send the batch again): %w", sc.Name, r.Number, err)
		}
	}
	if sc.Run != 0 {
		return res, ScopeOutcome{Name: sc.Name, Run: r.Number, Reason: fmt.Sprintf("recorded in run %d: applied when the run completes", r.Number)}, nil
	}
	done, err := s.completeRun(ctx, actor, r, []string{sc.Name})
	if err != nil {
		return store.GraphResult{}, ScopeOutcome{}, fmt.Errorf("written, but scope %q not synchronised: %w", sc.Name, err)
	}
	return res, done.Scopes[0], nil
}

// CompleteRun completes run n of actor's source: each of scopes (the
// scopes it covered completely; those its batches named, or others, which
// the run then reports empty) is synchronised, and the run ends
// completed. Completing a completed run again answers what it did.
func (s *Service) CompleteRun(ctx context.Context, actor store.Actor, n int64, scopes []string) (RunOutcome, error) {
	actor, err := checkSync(ctx, actor)
	if err != nil {
		return RunOutcome{}, err
	}
	if len(scopes) > maxRunScopes {
		return RunOutcome{}, store.Invalid("scopes", "at most %d scopes a completion, got %d", maxRunScopes, len(scopes))
	}
	seen := make(map[string]int, len(scopes))
	for i, sc := range scopes {
		field := fmt.Sprintf("scopes[%d]", i)
		if err := store.CheckScopeName(field, sc); err != nil {
			return RunOutcome{}, err
		}
		if j, dup := seen[sc]; dup {
			return RunOutcome{}, store.Invalid(field, "%q is scopes[%d] already", sc, j)
		}
		seen[sc] = i
	}
	r, err := s.st.LoadRun(ctx, n)
	if err == nil && r.Source == actor.Source && r.State == store.RunCompleted {
		return outcome(r) // completed before: what it did
	}
	if err == nil && r.Source == actor.Source && r.State == store.RunClosing {
		r.State = store.RunOpen // a completion cut short: run it again (it is idempotent)
	} else {
		r, err = s.openRun(ctx, actor, "run", n)
	}
	if err != nil {
		return RunOutcome{}, err
	}
	return s.completeRun(ctx, actor, r, scopes)
}

// AbandonRun ends run n without synchronising any scope: nothing is
// removed, and the run takes no more batches.
func (s *Service) AbandonRun(ctx context.Context, actor store.Actor, n int64) (RunOutcome, error) {
	actor, err := checkSync(ctx, actor)
	if err != nil {
		return RunOutcome{}, err
	}
	r, err := s.st.LoadRun(ctx, n)
	switch {
	case err == nil && r.Source == actor.Source && r.State == store.RunAbandoned:
		return outcome(r)
	case err == nil && r.Source == actor.Source && r.State == store.RunOpen: // age does not matter
	default:
		if r, err = s.openRun(ctx, actor, "run", n); err != nil {
			return RunOutcome{}, err
		}
	}
	r.State, r.EndedAt = store.RunAbandoned, time.Now().UTC()
	if err := s.st.SaveRun(ctx, r); err != nil {
		return RunOutcome{}, err
	}
	return outcome(r)
}

// completeRun marks r closing (no more batches), synchronises scopes, and
// marks it completed with what that did.
func (s *Service) completeRun(ctx context.Context, actor store.Actor, r store.SyncRun, scopes []string) (RunOutcome, error) {
	r.State = store.RunClosing
	if err := s.st.SaveRun(ctx, r); err != nil {
		return RunOutcome{}, err
	}
	outs := make([]ScopeOutcome, len(scopes))
	for i, sc := range scopes {
		o, err := s.syncScope(ctx, actor, r, sc)
		if err != nil {
			return RunOutcome{}, fmt.Errorf("run %d, scope %q: %w (complete the run again to finish)", r.Number, sc, err)
		}
		outs[i] = o
	}
	enc, err := json.Marshal(outs)
	if err != nil {
		return RunOutcome{}, err
	}
	r.State, r.EndedAt, r.Outcome = store.RunCompleted, time.Now().UTC(), enc
	if err := s.st.SaveRun(ctx, r); err != nil {
		return RunOutcome{}, err
	}
	return outcome(r)
}

// syncScope synchronises one scope of a completing run: what earlier runs
// reported there and r did not loses r's source's sighting.
func (s *Service) syncScope(ctx context.Context, actor store.Actor, r store.SyncRun, name string) (ScopeOutcome, error) {
	out := ScopeOutcome{Name: name, Run: r.Number}
	ref := store.ScopeRef{Source: r.Source, Name: name}
	forget := store.Forget{Source: r.Source, Before: r.StartedAt}
	after := ""
	for first := true; ; first = false {
		page, err := s.st.ScopeMembers(ctx, ref, after, store.MaxPageSize)
		if err != nil {
			return out, err
		}
		// The failure mark sorts first: the first page says whether this
		// run's view of the scope is complete, before anything is removed.
		if first && len(page) > 0 && page[0].Member == store.ScopeFailed && page[0].Run == r.Number {
			out.Reason = "part of this scope could not be written in this run (an invalid or conflicting item): nothing was removed"
			return out, nil
		}
		var gone []string
		var cis, rels []store.ID
		for _, m := range page {
			if m.Run >= r.Number {
				continue // reported by this run, or a later one
			}
			gone = append(gone, m.Member)
			switch {
			case m.Member == store.ScopeFailed:
			case isRelationshipID(m.Member):
				rels = append(rels, store.ID(m.Member))
			default:
				cis = append(cis, store.ID(m.Member))
			}
		}
		if len(rels) > 0 {
			res, err := s.st.ForgetRelationships(ctx, actor, rels, forget)
			if err != nil {
				return out, err
			}
			for _, e := range res {
				switch e.Status {
				case store.StatusDeleted:
					out.RetiredRelationships++
				case store.StatusUpdated:
					out.ForgottenRelationships++
				}
			}
		}
		if len(cis) > 0 {
			items := make([]store.NodeUpsert, len(cis))
			for i, id := range cis {
				items[i] = store.NodeUpsert{ID: id}
			}
			res, err := s.st.UpsertNodes(ctx, actor, store.UpsertBatch{Kind: store.KindCI, Items: items, Reconcile: unseen(forget), Forget: &forget})
			if err != nil {
				return out, err
			}
			for _, u := range res {
				if _, kept := u.Node.SeenBy[r.Source]; u.Node.ID == "" || kept {
					continue // gone, or seen again since the run started
				}
				out.ForgottenCIs++
				if u.Status == store.StatusUpdated {
					out.StaleCIs++
				}
			}
		}
		if len(gone) > 0 {
			if err := s.st.ForgetScope(ctx, ref, gone, r.Number); err != nil {
				return out, err
			}
		}
		if len(page) < store.MaxPageSize {
			out.Applied = true
			return out, nil
		}
		after = page[len(page)-1].Member
	}
}

// unseen is the decision of a CI losing f.Source's sighting: unchanged,
// unless no discovery source is left to report it, when it is marked
// stale_since the time the source last reported it (once: a CI marked
// stale keeps its mark; a retired CI is left alone).
func unseen(f store.Forget) store.Decide {
	return func(cur *store.Node, in store.NodeUpsert, _ string) (store.Decision, error) {
		if cur == nil {
			return store.Decision{}, fmt.Errorf("CI %s: %w", in.ID, store.ErrNotFound)
		}
		d := store.Decision{Class: cur.Class, Attributes: maps.Clone(cur.Attributes), Sources: maps.Clone(cur.Sources), Keys: slices.Clone(cur.Keys)}
		if d.Sources == nil {
			d.Sources = map[string]string{}
		}
		seenBy, dropped := f.Drop(cur.SeenBy)
		if !dropped || cur.Attributes["status"] == Retired {
			return d, nil
		}
		if _, marked := cur.Attributes[AttrStaleSince]; marked {
			return d, nil
		}
		if last, _ := DiscoveryLastSeen(store.Node{SeenBy: seenBy}); !last.IsZero() {
			return d, nil // another discovery source still reports it
		}
		at := cur.SeenBy[f.Source].UTC()
		d.Attributes[AttrStaleSince], d.Sources[AttrStaleSince] = at, f.Source
		d.Changes = []store.FieldChange{{Field: AttrStaleSince, After: at}}
		return d, nil
	}
}

// isRelationshipID reports whether a scope member is a relationship.
func isRelationshipID(member string) bool {
	_, err := store.ParseRelationshipID(store.ID(member))
	return err == nil
}
