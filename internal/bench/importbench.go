package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skein-cmdb/skein/internal/batches"
	"github.com/skein-cmdb/skein/internal/server"
	"github.com/skein-cmdb/skein/internal/store"
)

// ImportSource is the source RunImport's lines report as.
const ImportSource = "bench-import"

// ImportConfig says what RunImport streams.
type ImportConfig struct {
	// CIs is about how many CIs the import creates: one server and one
	// application instance a host, and one relationship between them.
	CIs int
	// Writers is the number of concurrent streams of the parallel phase
	// (default 16).
	Writers int
	// Chunk is the lines of one transaction (default
	// batches.DefaultImportChunk).
	Chunk int
	// Dir receives the generated NDJSON files.
	Dir string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// ImportRow is one phase of RunImport on one backend: Items counts the
// lines streamed.
type ImportRow struct {
	LoadRow
	CIs, Relationships int
	// Memory of this process (the server and the client) during the
	// phase: resident memory when it started, its peak (VmHWM, reset at
	// the start; the highest sample, every 50 ms, where the kernel does not
	// let it be reset), and the peak of the Go heap in use (sampled).
	StartRSS, PeakRSS, PeakHeap int64
}

// ImportReport is RunImport's outcome on one backend.
type ImportReport struct {
	Backend string
	Rows    []ImportRow
	// Census counts the store after the last phase; WantCIs and
	// WantRelationships are what the lines defined.
	Census                     Census
	WantCIs, WantRelationships int
}

// WriteImport writes the NDJSON lines of hosts [from, to) to w, as
// docs/PERFORMANCE.md's generator does: each host's LinuxServer (name,
// DNS domain, serial number), then each host's ApplicationInstance
// (identified by name and host), then each instance RUNS_ON its server,
// both ends named by identity. It returns the number of lines.
func WriteImport(w io.Writer, from, to int) (int, error) {
	bw := bufio.NewWriter(w)
	for i := from; i < to; i++ {
		fmt.Fprintf(bw, `{"ci": {"ref": "s%d", "class": "LinuxServer", "attributes": {"name": "m%07d", "dns_domain": "import.example", "serial_number": "M-%07d"}}}`+"\n", i, i, i)
	}
	for i := from; i < to; i++ {
		fmt.Fprintf(bw, `{"ci": {"ref": "a%d", "class": "ApplicationInstance", "attributes": {"name": "nginx:80", "host": "m%07d.import.example", "port": 80}}}`+"\n", i, i)
	}
	for i := from; i < to; i++ {
		fmt.Fprintf(bw, `{"relationship": {"type": "RUNS_ON", "from": {"class": "ApplicationInstance", "identity": {"name": "nginx:80", "host": "m%07d.import.example"}}, "to": {"class": "Server", "identity": {"serial_number": "M-%07d"}}}}`+"\n", i, i)
	}
	return 3 * (to - from), bw.Flush()
}

// RunImport measures the streaming import: it writes NDJSON files (see
// WriteImport) to cfg.Dir and streams them to POST /api/v1/import with
// t's token, one stream over the first half of the hosts, then
// cfg.Writers concurrent streams over disjoint parts of the other half. A
// line not created, or an import that stops early, is an error; so is a
// duplicate in the store afterwards.
func RunImport(ctx context.Context, t Target, cfg ImportConfig) (*ImportReport, error) {
	if cfg.Writers <= 0 {
		cfg.Writers = 16
	}
	if cfg.Chunk <= 0 {
		cfg.Chunk = batches.DefaultImportChunk
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	hosts := max(2*cfg.Writers, cfg.CIs/2&^1)
	half := hosts / 2
	rep := &ImportReport{Backend: t.Backend, WantCIs: 2 * hosts, WantRelationships: hosts}
	for _, p := range []struct{ from, to, writers int }{{0, half, 1}, {half, hosts, cfg.Writers}} {
		files, lines, err := importFiles(cfg.Dir, t.Backend, p.from, p.to, p.writers)
		if err != nil {
			return nil, err
		}
		row := ImportRow{LoadRow: LoadRow{Backend: t.Backend, Phase: "streaming import (creates)", Writers: p.writers, Items: lines},
			CIs: 2 * (p.to - p.from), Relationships: p.to - p.from}
		mem := watchMemory()
		start := time.Now()
		err = parallel(0, len(files), 1, p.writers, func(i, _ int) error {
			return stream(ctx, t, files[i], cfg.Chunk)
		})
		row.Duration = time.Since(start)
		row.StartRSS, row.PeakRSS, row.PeakHeap = mem()
		if err != nil {
			return nil, fmt.Errorf("%s import, %d stream(s): %w", t.Backend, p.writers, err)
		}
		fmt.Fprintf(cfg.Log, "bench: %s: import of %d lines, %d stream(s), in %v: %.0f lines/s, peak RSS %d MiB (%d MiB at the start)\n",
			t.Backend, row.Items, row.Writers, row.Duration.Round(time.Millisecond), row.Rate(), row.PeakRSS>>20, row.StartRSS>>20)
		rep.Rows = append(rep.Rows, row)
	}
	var err error
	if rep.Census, err = checkCensus(ctx, t, rep.WantCIs, rep.WantRelationships); err != nil {
		return nil, err
	}
	return rep, nil
}

// importFiles writes hosts [from, to) into n files of about equal parts
// and returns their paths and the number of lines.
func importFiles(dir, backend string, from, to, n int) ([]string, int, error) {
	var paths []string
	total := 0
	for k := 0; k < n; k++ {
		lo, hi := from+(to-from)*k/n, from+(to-from)*(k+1)/n
		path := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.ndjson", backend, lo, hi))
		f, err := os.Create(path)
		if err != nil {
			return nil, 0, err
		}
		lines, err := WriteImport(f, lo, hi)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, 0, fmt.Errorf("write %s: %w", path, err)
		}
		paths = append(paths, path)
		total += lines
	}
	return paths, total, nil
}

// stream posts the file to the import endpoint and reads the answer: every
// line must be created and the summary must count them all.
func stream(ctx context.Context, t Target, path string, chunk int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	q := url.Values{"chunk": {strconv.Itoa(chunk)}, "source": {ImportSource}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(t.URL, "/")+server.ImportPath+"?"+q.Encode(), f)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+t.Token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("import %s: %w", filepath.Base(path), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("import %s refused: %s: %s", filepath.Base(path), resp.Status, strings.TrimSpace(string(b)))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	answered := 0
	for sc.Scan() {
		var line struct {
			batches.LineResult
			Summary *batches.Summary `json:"summary"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("import %s: an answer line is not JSON: %w", filepath.Base(path), err)
		}
		if s := line.Summary; s != nil {
			if s.Error != nil {
				return fmt.Errorf("import %s stopped after %d lines: %s", filepath.Base(path), s.Lines, s.Error.Message)
			}
			if s.Lines != answered || s.ByStatus[string(store.StatusCreated)] != answered {
				return fmt.Errorf("import %s: summary %+v after %d lines answered created", filepath.Base(path), *s, answered)
			}
			return nil
		}
		if line.Status != string(store.StatusCreated) {
			msg := ""
			if line.Error != nil {
				msg = ": " + line.Error.Message
			}
			return fmt.Errorf("import %s, line %d: %s%s", filepath.Base(path), line.Line, line.Status, msg)
		}
		answered++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("import %s: read the answer: %w", filepath.Base(path), err)
	}
	return fmt.Errorf("import %s: the answer ended without a summary after %d lines", filepath.Base(path), answered)
}

// watchMemory starts sampling this process's memory; the function it
// returns stops and returns the resident memory at the start, the peak
// resident memory and the peak Go heap in use. The peak resident memory
// is the kernel's high-water mark (VmHWM), reset at the start, where that
// works (Linux, /proc/self/clear_refs), the highest sample otherwise. It
// first returns the memory Go has freed to the system, so that the start
// is what is in use.
func watchMemory() func() (startRSS, peakRSS, peakHeap int64) {
	debug.FreeOSMemory() // what an earlier phase freed is not counted at the start
	start := ResidentBytes()
	hwmReset := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	var mu sync.Mutex
	peakRSS, peakHeap := start, int64(0)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := ResidentBytes()
		mu.Lock()
		peakHeap = max(peakHeap, int64(ms.HeapInuse))
		peakRSS = max(peakRSS, rss)
		mu.Unlock()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	return func() (int64, int64, int64) {
		close(stop)
		<-done
		sample()
		if hwm := procStatus("VmHWM:"); hwmReset && hwm > 0 {
			peakRSS = max(peakRSS, hwm)
		}
		return start, peakRSS, peakHeap
	}
}

// ImportMarkdown writes the reports of RunImport as one table, then what
// each store held afterwards.
func ImportMarkdown(w io.Writer, reps []*ImportReport) {
	fmt.Fprintf(w, "| backend | streams | lines | CIs | relationships | time | lines/s | CIs/s | relationships/s | peak RSS (start) | peak Go heap |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range reps {
		for _, l := range r.Rows {
			secs := l.Duration.Seconds()
			fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %s | %.0f | %.0f | %.0f | %d MiB (%d MiB) | %d MiB |\n", l.Backend, l.Writers, l.Items, l.CIs, l.Relationships,
				l.Duration.Round(time.Millisecond), l.Rate(), float64(l.CIs)/secs, float64(l.Relationships)/secs, l.PeakRSS>>20, l.StartRSS>>20, l.PeakHeap>>20)
		}
	}
	fmt.Fprintf(w, "\nMemory is this process's, server and client together (the client streams from files and holds one answer line at a time): peak resident memory during the phase (the kernel's high-water mark, reset at its start), with the resident memory at its start; peak Go heap in use, sampled every 50 ms.\n\n")
	for _, r := range reps {
		fmt.Fprintf(w, "- %s afterwards: %d CIs and %d relationships (%d and %d defined by the lines); duplicates: %d CIs, %d relationships.\n",
			r.Backend, r.Census.CIs, r.Census.Relationships, r.WantCIs, r.WantRelationships, r.Census.DuplicateCIs, r.Census.DuplicateRelationships)
	}
}
