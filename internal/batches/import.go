package batches

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// The streaming import: POST /api/v1/import takes NDJSON, one CI or
// relationship a line, of any length, and answers NDJSON, one result a
// line in the input's order, then a summary. It reads, writes and answers
// a chunk of lines at a time (each chunk one transaction, as a batch), so
// its memory is bounded by the chunk and the refs it remembers, never by
// the size of the input.
//
// A line is {"ci": {"ref", "class", "attributes"}} or {"relationship":
// {"type", "from", "to", "attributes"}}, ends as in a discovery batch. A
// ref names a CI of an earlier line: of the same chunk, or of one of the
// last MaxImportRefs refs defined before it.

// Import limits.
const (
	// DefaultImportChunk and MaxImportChunk are the lines one transaction
	// takes (query parameter chunk).
	DefaultImportChunk = 500
	MaxImportChunk     = 5000
	// MaxImportLine bounds one line, in bytes.
	MaxImportLine = 1 << 20
	// MaxImportRefs is how many refs of earlier chunks an import
	// remembers (the most recent).
	MaxImportRefs = 100_000
)

// ImportLine is one line of an import.
type ImportLine struct {
	CI           *discovery.CI           `json:"ci,omitempty"`
	Relationship *discovery.Relationship `json:"relationship,omitempty"`
}

// LineResult is the answer to one line.
type LineResult struct {
	Line          int                 `json:"line"`
	Kind          string              `json:"kind,omitempty"` // ci or relationship
	Ref           string              `json:"ref,omitempty"`
	Status        string              `json:"status"`
	ID            string              `json:"id,omitempty"`
	ChangedFields []string            `json:"changedFields,omitempty"`
	Error         *apierr.ItemProblem `json:"error,omitempty"`
}

// Summary is the last line of the answer.
type Summary struct {
	Lines    int            `json:"lines"`
	ByStatus map[string]int `json:"byStatus"`
	// Error is set when the import stopped before the end of its input
	// (the store failed, the client went away): the lines answered before
	// it were written, the rest were not read.
	Error *apierr.ItemProblem `json:"error,omitempty"`
}

// ImportHandler returns the streaming import's handler over svc;
// requestTimeout is the time each chunk may take to arrive and be answered
// (server.request_timeout: the import as a whole takes as long as its
// input).
func ImportHandler(svc *cmdb.Service, refs apierr.Refs, requestTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := DefaultImportChunk
		if c := r.URL.Query().Get("chunk"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || n < 1 || n > MaxImportChunk {
				apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Field: "chunk", Message: fmt.Sprintf("chunk: %q; allowed: 1 to %d lines", c, MaxImportChunk)})
				return
			}
			chunk = n
		}
		source := r.URL.Query().Get("source")
		rc := http.NewResponseController(w)
		// Answers stream while the input still arrives: an HTTP/1 handler
		// must ask for that, or the rest of the body may be cut off once
		// the first answers are flushed.
		if err := rc.EnableFullDuplex(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			apierr.WriteProblem(w, apierr.From(err, refs))
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		im := &importer{svc: svc, refs: refs, source: source, remembered: map[string]store.ID{},
			enc: json.NewEncoder(w), sum: Summary{ByStatus: map[string]int{}}}
		in := bufio.NewReaderSize(r.Body, 64<<10)
		started := false
		for {
			_ = rc.SetReadDeadline(time.Now().Add(requestTimeout))
			_ = rc.SetWriteDeadline(time.Now().Add(requestTimeout))
			lines, done, err := readChunk(in, chunk, im.sum.Lines)
			if err != nil {
				im.stop(err)
				break
			}
			if len(lines) > 0 {
				if err := im.write(r, lines); err != nil {
					if !started {
						apierr.WriteProblem(w, named(apierr.From(err, refs)))
						return
					}
					im.stop(err)
					break
				}
				started = true
				_ = rc.Flush()
			}
			if done {
				break
			}
		}
		_ = im.enc.Encode(map[string]Summary{"summary": im.sum})
	})
}

// rawLine is a line as read: its number and bytes, or why it could not be
// read whole.
type rawLine struct {
	n    int
	data []byte
	err  error
}

// readChunk reads up to n non-blank lines, numbered from after; done
// reports the end of the input. A line longer than MaxImportLine is
// skipped and answered invalid.
func readChunk(in *bufio.Reader, n, after int) ([]rawLine, bool, error) {
	var out []rawLine
	line := after
	for len(out) < n {
		var buf []byte
		tooLong := false
		for {
			frag, err := in.ReadSlice('\n')
			if len(buf)+len(frag) > MaxImportLine {
				tooLong = true
			} else {
				buf = append(buf, frag...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if errors.Is(err, io.EOF) {
				if len(buf) > 0 || tooLong {
					line++
					out = append(out, lineOf(line, buf, tooLong))
				}
				return out, true, nil
			}
			if err != nil {
				return out, false, err
			}
			break
		}
		if len(bytes.TrimSpace(buf)) == 0 && !tooLong {
			continue
		}
		line++
		out = append(out, lineOf(line, buf, tooLong))
	}
	return out, false, nil
}

func lineOf(n int, data []byte, tooLong bool) rawLine {
	if tooLong {
		return rawLine{n: n, err: fmt.Errorf("longer than %d bytes", MaxImportLine)}
	}
	return rawLine{n: n, data: bytes.TrimSpace(data)}
}

// importer is one import under way.
type importer struct {
	svc    *cmdb.Service
	refs   apierr.Refs
	source string
	enc    *json.Encoder
	sum    Summary
	// remembered maps the refs of earlier chunks to their CIs, at most
	// MaxImportRefs, the oldest forgotten first (order).
	remembered map[string]store.ID
	order      []string
}

// write writes one chunk and answers its lines.
func (im *importer) write(r *http.Request, lines []rawLine) error {
	results := make([]LineResult, len(lines))
	var b cmdb.GraphBatch
	var items, rels []int         // positions in lines
	chunkRefs := map[string]int{} // ref -> the line of this chunk defining it
	for i, l := range lines {
		results[i].Line = l.n
		var parsed ImportLine
		err := l.err
		if err == nil {
			dec := json.NewDecoder(bytes.NewReader(l.data))
			dec.UseNumber()
			dec.DisallowUnknownFields()
			err = dec.Decode(&parsed)
		}
		switch {
		case err != nil:
			results[i].Status, results[i].Error = string(store.StatusInvalid), invalidLine(l.n, "not a line of the import: "+clip(err.Error()))
		case (parsed.CI == nil) == (parsed.Relationship == nil):
			results[i].Status, results[i].Error = string(store.StatusInvalid), invalidLine(l.n, `one of "ci" or "relationship" a line`)
		case parsed.CI != nil && parsed.CI.Ref != "" && chunkRefs[parsed.CI.Ref] > 0:
			results[i].Kind, results[i].Status = "ci", string(store.StatusInvalid)
			results[i].Error = invalidLine(l.n, fmt.Sprintf("ref %q is defined on line %d too, close by: use another ref, or name the CI by identity",
				clip(parsed.CI.Ref), chunkRefs[parsed.CI.Ref]))
		case parsed.CI != nil:
			results[i].Kind, results[i].Ref = "ci", parsed.CI.Ref
			if parsed.CI.Ref != "" {
				chunkRefs[parsed.CI.Ref] = l.n
			}
			if _, dup := im.remembered[parsed.CI.Ref]; parsed.CI.Ref != "" && dup {
				im.forget(parsed.CI.Ref) // defined again: this line's CI from now on
			}
			items = append(items, i)
			b.Items = append(b.Items, cmdb.GraphItem{Ref: parsed.CI.Ref, UpsertItem: cmdb.UpsertItem{Class: parsed.CI.Class, Attributes: discovery.FromJSON(parsed.CI.Attributes)}})
		default:
			results[i].Kind = "relationship"
			rel := parsed.Relationship
			rels = append(rels, i)
			b.Relationships = append(b.Relationships, cmdb.GraphRelationship{Type: rel.Type, From: im.end(rel.From, b.Items), To: im.end(rel.To, b.Items)})
		}
	}
	if len(b.Items) > 0 || len(b.Relationships) > 0 {
		res, err := im.svc.UpsertGraph(r.Context(), store.Actor{Source: im.source}, b)
		if err != nil {
			return err
		}
		for j, it := range res.Items {
			lr := &results[items[j]]
			lr.Status, lr.ChangedFields = string(it.Status), changed(it.Changes)
			if it.Err != nil {
				p := apierr.Item(renamed(apierr.From(it.Err, im.refs), "items", j, lines[items[j]].n))
				lr.Error = &p
			} else if it.Node.ID != "" {
				lr.ID = im.refs.CI(it.Node.ID)
				if lr.Ref != "" {
					im.remember(lr.Ref, it.Node.ID)
				}
			}
		}
		for j, e := range res.Edges {
			lr := &results[rels[j]]
			lr.Status = string(e.Status)
			if e.Err != nil {
				p := apierr.Item(renamed(apierr.From(e.Err, im.refs), "relationships", j, lines[rels[j]].n))
				lr.Error = &p
			} else if e.Relationship.ID != "" {
				lr.ID = im.refs.Relationship(e.Relationship.ID)
			}
		}
	}
	for _, lr := range results {
		im.sum.Lines++
		im.sum.ByStatus[lr.Status]++
		if err := im.enc.Encode(lr); err != nil {
			return err
		}
	}
	return nil
}

// end turns an end of a line into the CMDB's: a ref of this chunk stays a
// ref, a ref of an earlier chunk becomes its CI's ID.
func (im *importer) end(e discovery.End, chunk []cmdb.GraphItem) cmdb.EdgeEndpoint {
	if e.Ref != "" {
		for _, it := range chunk {
			if it.Ref == e.Ref {
				return cmdb.EdgeEndpoint{Ref: e.Ref}
			}
		}
		if id, ok := im.remembered[e.Ref]; ok {
			return cmdb.EdgeEndpoint{ID: id}
		}
	}
	return cmdb.EdgeEndpoint{Ref: e.Ref, Class: e.Class, Identity: discovery.FromJSON(e.Identity)}
}

// remember keeps ref's CI for later chunks, forgetting the oldest beyond
// MaxImportRefs.
func (im *importer) remember(ref string, id store.ID) {
	if _, ok := im.remembered[ref]; !ok {
		im.order = append(im.order, ref)
	}
	im.remembered[ref] = id
	for len(im.remembered) > MaxImportRefs && len(im.order) > 0 {
		delete(im.remembered, im.order[0])
		im.order = im.order[1:]
	}
}

func (im *importer) forget(ref string) { delete(im.remembered, ref) }

// stop records why the import ended early.
func (im *importer) stop(err error) {
	p := apierr.Item(apierr.From(err, im.refs))
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, http.ErrBodyReadAfterClose) {
		p = apierr.Item(apierr.Problem{Code: apierr.Invalid, Message: "the input ended in the middle of a read: " + clip(err.Error())})
	}
	im.sum.Error = &p
}

// invalidLine is the error of a line that is not one.
func invalidLine(n int, msg string) *apierr.ItemProblem {
	p := apierr.Item(apierr.Problem{Code: apierr.Invalid, Field: fmt.Sprintf("line %d", n), Message: fmt.Sprintf("line %d: %s", n, msg)})
	return &p
}

// renamed names a chunk item's field by its line: items[j].attributes.x
// becomes "line N: attributes.x".
func renamed(p apierr.Problem, list string, j, line int) apierr.Problem {
	if rest, ok := strings.CutPrefix(p.Field, fmt.Sprintf("%s[%d]", list, j)); ok {
		old := p.Field
		p.Field = fmt.Sprintf("line %d%s", line, rest)
		p.Message = strings.Replace(p.Message, old, p.Field, 1)
	}
	return p
}
