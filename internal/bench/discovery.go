package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/discovery/push"
	"github.com/skein-cmdb/skein/internal/store"
)

// Target is a running Skein server that the discovery benchmarks write to
// over HTTP, as a discovery agent or an import client would.
type Target struct {
	// Backend names the server's store in reports: "embedded" or "neo4j".
	Backend string
	// URL is the server's base URL, such as "http://127.0.0.1:8080".
	URL string
	// Token is an agent token bound to the sources the benchmark writes as
	// (UpsertSources for RunUpsert, ImportSource for RunImport).
	Token string
	// Store is the server's store, read afterwards to count what was
	// written (and find duplicates).
	Store store.Store
}

// UpsertSources are the discovery sources RunUpsert writes as: the first
// reports every host, the second some of them again in the overlapping
// phase.
var UpsertSources = []string{"host", "ansible"}

// UpsertConfig says what RunUpsert sends.
type UpsertConfig struct {
	// CIs is about how many CIs the first load creates: one server and
	// three application instances a host.
	CIs int
	// BatchCIs is about how many CIs a batch carries (default 200); a
	// batch holds whole hosts.
	BatchCIs int
	// Writers is the number of concurrent agents of the parallel phases
	// (default 16).
	Writers int
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// UpsertRow is one phase of RunUpsert on one backend: Items counts the
// CIs sent, Relationships the relationships.
type UpsertRow struct {
	LoadRow
	Relationships int
	// Batches is the number of batches sent, Retries how many requests the
	// agents sent again (the server was busy).
	Batches, Retries int
	// CIStatuses counts the CIs the server answered with each status.
	CIStatuses map[push.Status]int
}

// RelationshipRate returns relationships per second.
func (r UpsertRow) RelationshipRate() float64 {
	return float64(r.Relationships) / r.Duration.Seconds()
}

// Census is what a store holds after a benchmark: CIs and relationships,
// and how many of them repeat one already counted (two CIs with one
// identity, two relationships of one type between the same CIs).
type Census struct {
	CIs, DuplicateCIs                     int
	Relationships, DuplicateRelationships int
}

// UpsertReport is RunUpsert's outcome on one backend.
type UpsertReport struct {
	Backend string
	Rows    []UpsertRow
	// Census counts the store after the last phase; WantCIs and
	// WantRelationships are the distinct CIs and relationships sent.
	Census                     Census
	WantCIs, WantRelationships int
}

// Phase names of RunUpsert.
const (
	PhaseCreate    = "first load (creates)"
	PhaseUnchanged = "same batches again (unchanged)"
	PhaseOverlap   = "overlapping writers (each host reported twice)"
	// PhaseScoped sends the same batches once more, each the complete
	// view of a scope, in one run completed at the end (scoped sync: the
	// scopes' membership recorded, then each scope synchronised).
	PhaseScoped = "same batches, scoped, in a completed run"
)

// appsPerHost are the application instances of every generated host.
var appsPerHost = []struct {
	name, application string
	port              int
}{{"web:80", "web", 80}, {"api:8080", "api", 8080}, {"worker", "worker", 0}}

// ciPerHost is the number of CIs RunUpsert reports per host; it reports as
// many relationships.
const ciPerHost = 4

// hostBatch is a discovery batch reporting hosts [from, to) as source:
// each host a LinuxServer (identified by serial number on even hosts, by
// name and DNS domain on odd ones) and three application instances
// (identified by name and host). web RUNS_ON the server and worker RUNS_ON
// it, both ends by batch ref; api RUNS_ON the server named by identity; web
// DEPENDS_ON the api instance of the host's partner (its number with the
// last bit flipped), named by identity: that host is in the same batch
// when batches start at even hosts and hold an even number of them.
func hostBatch(source string, from, to int) discovery.Batch {
	b := discovery.Batch{Source: source}
	for i := from; i < to; i++ {
		host := fmt.Sprintf("h%07d", i)
		srv := discovery.CI{Ref: "s" + host, Class: "LinuxServer", Attributes: map[string]any{
			"name": host, "dns_domain": "bench.example", "os_name": "Linux",
			"ip_address": fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
		}}
		if i%2 == 0 {
			srv.Attributes["serial_number"] = fmt.Sprintf("SN-%07d", i)
		}
		b.AddCI(srv)
		for _, a := range appsPerHost {
			b.AddCI(discovery.CI{Ref: a.application + host, Class: "ApplicationInstance", Attributes: map[string]any{
				"name": a.name, "application": a.application, "host": host + ".bench.example", "port": a.port,
			}})
		}
		b.Relate("RUNS_ON", discovery.ByRef("web"+host), discovery.ByRef(srv.Ref))
		b.Relate("RUNS_ON", discovery.ByRef("worker"+host), discovery.ByRef(srv.Ref))
		b.Relate("RUNS_ON", discovery.ByRef("api"+host), discovery.IdentityOf(srv, "Server", discovery.ServerIdentity()))
		b.Relate("DEPENDS_ON", discovery.ByRef("web"+host), discovery.ByIdentity("ApplicationInstance",
			map[string]any{"name": "api:8080", "host": fmt.Sprintf("h%07d.bench.example", i^1)}))
	}
	return b
}

// hostBatches cuts hosts [from, to) into batches of perBatch hosts, the
// first starting at from+offset (the hosts before it in a batch of their
// own).
func hostBatches(source string, from, to, perBatch, offset int) []discovery.Batch {
	var out []discovery.Batch
	lo := from
	for hi := from + offset; lo < to; hi += perBatch {
		if hi <= lo {
			continue
		}
		hi = min(hi, to)
		out = append(out, hostBatch(source, lo, hi))
		lo = hi
	}
	return out
}

// RunUpsert measures discovery batches sent to POST /api/v1/batches
// through skein-agent's pusher (JSON encoding, HTTP, the handler's
// decoding, identification, reconciliation, audit), in three phases with
// one writer (half the hosts) and cfg.Writers (the other half): a first
// load that creates every CI and relationship, the same batches again
// (every CI and relationship unchanged: discovery's steady state), and
// the same batches again as scoped sync sends them (each the complete view
// of a scope, in a run completed at the end; see pushScoped), and
// cfg.Writers agents reporting a quarter as many new hosts, each host by
// two sources in differently cut batches sent side by side. Any status
// but the one a phase expects (created; unchanged; created or unchanged
// when overlapping) is an error, and so is a duplicate CI or relationship
// in the store afterwards.
func RunUpsert(ctx context.Context, t Target, cfg UpsertConfig) (*UpsertReport, error) {
	if cfg.BatchCIs <= 0 {
		cfg.BatchCIs = 200
	}
	if cfg.Writers <= 0 {
		cfg.Writers = 16
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	perBatch := max(2, cfg.BatchCIs/ciPerHost&^1) // even, so that partners share a batch
	hosts := max(4, cfg.CIs/ciPerHost&^3)         // halves of even size
	half := hosts / 2
	tr := &http.Transport{MaxIdleConns: cfg.Writers, MaxIdleConnsPerHost: cfg.Writers, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	pusher, err := push.NewPusher(push.PusherOptions{Server: t.URL, Token: push.Secret(t.Token), Timeout: 10 * time.Minute,
		MaxRetryTime: 5 * time.Minute, Client: &http.Client{Transport: tr},
		Logger: slog.New(slog.NewTextHandler(cfg.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	rep := &UpsertReport{Backend: t.Backend}
	first, second := hostBatches(UpsertSources[0], 0, half, perBatch, 0), hostBatches(UpsertSources[0], half, hosts, perBatch, 0)
	unchanged := []push.Status{push.StatusUnchanged}
	for _, p := range []struct {
		phase   string
		batches []discovery.Batch
		writers int
		want    []push.Status
	}{
		{PhaseCreate, first, 1, []push.Status{push.StatusCreated}},
		{PhaseCreate, second, cfg.Writers, []push.Status{push.StatusCreated}},
		{PhaseUnchanged, first, 1, unchanged},
		{PhaseUnchanged, second, cfg.Writers, unchanged},
		{PhaseScoped, first, 1, unchanged},
		{PhaseScoped, second, cfg.Writers, unchanged},
		{PhaseOverlap, overlapping(hosts, hosts+max(2, hosts/4&^1), perBatch), cfg.Writers, []push.Status{push.StatusCreated, push.StatusUnchanged, push.StatusUpdated}},
	} {
		var row UpsertRow
		var err error
		if p.phase == PhaseScoped {
			row, err = pushScoped(ctx, pusher, t.Backend, p.batches, p.writers, p.want)
		} else {
			row, err = pushBatches(ctx, pusher, t.Backend, p.phase, p.batches, p.writers, p.want)
		}
		if err != nil {
			return nil, fmt.Errorf("%s, %s, %d writer(s): %w", t.Backend, p.phase, p.writers, err)
		}
		fmt.Fprintf(cfg.Log, "bench: %s: %s, %d writer(s): %d CIs, %d relationships in %v: %.0f CIs/s, %.0f relationships/s\n",
			t.Backend, p.phase, p.writers, row.Items, row.Relationships, row.Duration.Round(time.Millisecond), row.Rate(), row.RelationshipRate())
		rep.Rows = append(rep.Rows, row)
	}
	overlapHosts := max(2, hosts/4&^1)
	rep.WantCIs = (hosts + overlapHosts) * ciPerHost
	rep.WantRelationships = rep.WantCIs // one relationship a CI
	if rep.Census, err = checkCensus(ctx, t, rep.WantCIs, rep.WantRelationships); err != nil {
		return nil, err
	}
	return rep, nil
}

// checkCensus counts t's store (Count) and returns an error if it holds a
// duplicate, or not exactly the CIs and relationships wanted.
func checkCensus(ctx context.Context, t Target, wantCIs, wantRelationships int) (Census, error) {
	c, err := Count(ctx, t.Store)
	if err != nil {
		return c, fmt.Errorf("%s: count: %w", t.Backend, err)
	}
	if c.DuplicateCIs > 0 || c.DuplicateRelationships > 0 || c.CIs != wantCIs || c.Relationships != wantRelationships {
		return c, fmt.Errorf("%s: the store holds %d CIs (%d duplicates) and %d relationships (%d duplicates); %d and %d distinct ones were sent",
			t.Backend, c.CIs, c.DuplicateCIs, c.Relationships, c.DuplicateRelationships, wantCIs, wantRelationships)
	}
	return c, nil
}

// overlapping returns the batches of the overlapping phase: hosts [from,
// to) reported by both sources, cut differently (the second source's
// batches start half a batch later, on an even host), alternately, so that
// concurrent writers report the same hosts at the same time.
func overlapping(from, to, perBatch int) []discovery.Batch {
	a := hostBatches(UpsertSources[0], from, to, perBatch, perBatch)
	b := hostBatches(UpsertSources[1], from, to, perBatch, max(2, perBatch/2&^1))
	var out []discovery.Batch
	for i := 0; i < max(len(a), len(b)); i++ {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) {
			out = append(out, b[i])
		}
	}
	return out
}

// pushBatches sends the batches with that many concurrent writers and checks that
// every CI and relationship got one of the wanted statuses.
func pushBatches(ctx context.Context, p *push.Pusher, backend, phase string, batches []discovery.Batch, writers int, want []push.Status) (UpsertRow, error) {
	row := UpsertRow{LoadRow: LoadRow{Backend: backend, Phase: phase, Writers: writers}, Batches: len(batches), CIStatuses: map[push.Status]int{}}
	for _, b := range batches {
		row.Items += len(b.CIs)
		row.Relationships += len(b.Relationships)
	}
	var mu sync.Mutex
	start := time.Now()
	err := parallel(0, len(batches), 1, writers, func(lo, _ int) error {
		res, err := p.Push(ctx, batches[lo])
		mu.Lock()
		row.Retries += res.Retries
		for _, it := range res.CIs {
			row.CIStatuses[it.Status]++
		}
		mu.Unlock()
		if err != nil {
			return err
		}
		if len(res.CIs) != len(batches[lo].CIs) || len(res.Relationships) != len(batches[lo].Relationships) {
			return fmt.Errorf("batch %d: %d CIs and %d relationships answered for %d and %d sent",
				lo, len(res.CIs), len(res.Relationships), len(batches[lo].CIs), len(batches[lo].Relationships))
		}
		if err := expect("CI", lo, res.CIs, want); err != nil {
			return err
		}
		return expect("relationship", lo, res.Relationships, want)
	})
	row.Duration = time.Since(start)
	return row, err
}

// pushScoped is push with each batch the complete view of a scope of its
// own, in one run of the batches' source, completed once every batch was
// taken: the time includes starting and completing the run. Nothing
// disappears from a scope, so the completion must apply every scope and
// remove nothing.
func pushScoped(ctx context.Context, p *push.Pusher, backend string, batches []discovery.Batch, writers int, want []push.Status) (UpsertRow, error) {
	start := time.Now()
	source := batches[0].Source
	run, err := p.StartRun(ctx, source)
	if err != nil {
		return UpsertRow{}, fmt.Errorf("start a run: %w", err)
	}
	scoped := make([]discovery.Batch, len(batches))
	scopes := make([]string, len(batches))
	for i, b := range batches {
		scopes[i] = fmt.Sprintf("bench:%v", b.CIs[0].Attributes["name"]) // a batch's hosts are its own
		b.Scope = &discovery.Scope{Name: scopes[i], Run: run.Run}
		scoped[i] = b
	}
	row, err := pushBatches(ctx, p, backend, PhaseScoped, scoped, writers, want)
	if err != nil {
		return row, err
	}
	done, err := p.CompleteRun(ctx, source, run.Run, scopes)
	if err != nil {
		return row, fmt.Errorf("complete run %d: %w", run.Run, err)
	}
	if len(done.Scopes) != len(scopes) {
		return row, fmt.Errorf("run %d: %d scopes answered for %d", run.Run, len(done.Scopes), len(scopes))
	}
	for _, sc := range done.Scopes {
		if !sc.Applied || sc.ForgottenCIs+sc.ForgottenRelationships+sc.RetiredRelationships+sc.StaleCIs > 0 {
			return row, fmt.Errorf("run %d, scope %s: %+v; want applied, nothing removed", run.Run, sc.Name, sc)
		}
	}
	row.Duration = time.Since(start)
	return row, nil
}

// expect returns an error naming the first item whose status is not
// wanted.
func expect(what string, batch int, items []push.ItemResult, want []push.Status) error {
	for _, it := range items {
		ok := false
		for _, w := range want {
			ok = ok || it.Status == w
		}
		if !ok {
			msg := ""
			if it.Error != nil {
				msg = ": " + it.Error.Error()
			}
			return fmt.Errorf("batch %d, %s %d: %s%s", batch, what, it.Index, it.Status, msg)
		}
	}
	return nil
}

// Count lists every CI of st and the relationships from them and counts
// the duplicates: CIs of one class family sharing an identifying value
// (servers one name, application instances one name and host; what the
// benchmarks generate), and relationships of one type between the same
// two CIs (as identified).
func Count(ctx context.Context, st store.Store) (Census, error) {
	var c Census
	keyOf := map[store.ID]string{}
	seen := map[string]bool{}
	var ids []store.ID
	after := ""
	for {
		page, err := st.ListNodes(ctx, store.NodeFilter{Kind: store.KindCI}, store.PageRequest{First: 1000, After: after})
		if err != nil {
			return c, fmt.Errorf("list CIs: %w", err)
		}
		for _, n := range page.Items {
			k := identityKey(n)
			c.CIs++
			if seen[k] {
				c.DuplicateCIs++
			}
			seen[k] = true
			keyOf[n.ID] = k
			ids = append(ids, n.ID)
		}
		if !page.HasNext {
			break
		}
		after = page.EndCursor
	}
	seenRel := map[string]bool{}
	for lo := 0; lo < len(ids); lo += 1000 {
		rels, err := st.RelationshipsOf(ctx, ids[lo:min(lo+1000, len(ids))], store.Out, nil)
		if err != nil {
			return c, fmt.Errorf("list relationships: %w", err)
		}
		for _, rs := range rels {
			for _, r := range rs {
				k := r.Type + "|" + keyOf[r.Source] + "|" + keyOf[r.Target]
				c.Relationships++
				if seenRel[k] {
					c.DuplicateRelationships++
				}
				seenRel[k] = true
			}
		}
	}
	return c, nil
}

// identityKey is what identifies a generated CI: a server's name (each
// host has one, whether identified by serial number or by name and
// domain), an application instance's name and host, another CI's class
// and name.
func identityKey(n store.Node) string {
	name, _ := n.Attributes["name"].(string)
	switch n.Class {
	case "LinuxServer", "Server":
		return "server|" + strings.ToLower(name)
	case "ApplicationInstance":
		host, _ := n.Attributes["host"].(string)
		return "app|" + strings.ToLower(name) + "|" + strings.ToLower(host)
	}
	return n.Class + "|" + strings.ToLower(name)
}

// UpsertMarkdown writes the reports of RunUpsert as one table, then what
// each store held afterwards.
func UpsertMarkdown(w io.Writer, reps []*UpsertReport) {
	fmt.Fprintf(w, "| backend | phase | writers | batches | CIs | relationships | time | CIs/s | relationships/s |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range reps {
		for _, l := range r.Rows {
			fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %s | %.0f | %.0f |\n", l.Backend, l.Phase, l.Writers, l.Batches, l.Items, l.Relationships,
				l.Duration.Round(time.Millisecond), l.Rate(), l.RelationshipRate())
		}
	}
	fmt.Fprintln(w)
	for _, r := range reps {
		retries := 0
		overlap := ""
		for _, l := range r.Rows {
			retries += l.Retries
			if l.Phase == PhaseOverlap {
				overlap = fmt.Sprintf("; the overlapping writers' CIs were answered %d created, %d unchanged, %d updated",
					l.CIStatuses[push.StatusCreated], l.CIStatuses[push.StatusUnchanged], l.CIStatuses[push.StatusUpdated])
			}
		}
		fmt.Fprintf(w, "- %s afterwards: %d CIs and %d relationships (%d and %d distinct ones sent); duplicates: %d CIs, %d relationships%s; requests sent again (server busy): %d.\n",
			r.Backend, r.Census.CIs, r.Census.Relationships, r.WantCIs, r.WantRelationships, r.Census.DuplicateCIs, r.Census.DuplicateRelationships, overlap, retries)
	}
}
