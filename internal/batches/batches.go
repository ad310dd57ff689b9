// Package batches is the HTTP adapter of discovery batches: POST
// /api/v1/batches takes one discovery.Batch (what skein-agent and other
// discovery tools send: CIs, and relationships whose ends name CIs of the
// batch or CIs by identity) and hands it to cmdb.Service.UpsertGraph,
// which writes it in one transaction. It parses and answers; it decides
// nothing.
package batches

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Result is the answer to a batch: what each CI and relationship did, in
// the batch's order.
type Result struct {
	Source string `json:"source"`
	// Scope says what became of the batch's scope: recorded in its run,
	// or (for a batch that is a run of its own) synchronised.
	Scope         *cmdb.ScopeOutcome `json:"scope,omitempty"`
	CIs           []Outcome          `json:"cis"`
	Relationships []Outcome          `json:"relationships"`
}

// Outcome is what one CI or relationship of a batch did.
type Outcome struct {
	Index  int    `json:"index"`
	Ref    string `json:"ref,omitempty"`
	Status string `json:"status"`
	// ID is the CI's or relationship's API ID, when it was written.
	ID string `json:"id,omitempty"`
	// ChangedFields are the attributes an update changed.
	ChangedFields []string            `json:"changedFields,omitempty"`
	Error         *apierr.ItemProblem `json:"error,omitempty"`
}

// Handler returns the endpoint's handler over svc; refs turn store IDs
// into the API's IDs.
func Handler(svc *cmdb.Service, refs apierr.Refs) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b discovery.Batch
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&b); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				apierr.WriteProblem(w, apierr.Problem{Code: "PAYLOAD_TOO_LARGE", Message: "the batch is larger than server.max_body_bytes: send smaller batches"})
				return
			}
			apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Message: "the body is not a discovery batch (JSON): " + clip(err.Error())})
			return
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Message: "the body holds more than one JSON value: one batch a request"})
			return
		}
		gb := GraphBatch(b)
		actor := store.Actor{Source: b.Source}
		var res store.GraphResult
		var scope *cmdb.ScopeOutcome
		var err error
		if b.Scope != nil {
			var o cmdb.ScopeOutcome
			res, o, err = svc.UpsertScoped(r.Context(), actor, gb, cmdb.BatchScope{Name: b.Scope.Name, Run: b.Scope.Run})
			scope = &o
		} else {
			res, err = svc.UpsertGraph(r.Context(), actor, gb)
		}
		if err != nil {
			apierr.WriteProblem(w, named(apierr.From(err, refs)))
			return
		}
		out := Result{Source: b.Source, Scope: scope, CIs: make([]Outcome, len(res.Items)), Relationships: make([]Outcome, len(res.Edges))}
		for i, it := range res.Items {
			o := Outcome{Index: i, Ref: gb.Items[i].Ref, Status: string(it.Status), ChangedFields: changed(it.Changes)}
			if it.Err != nil {
				p := apierr.Item(named(apierr.From(it.Err, refs)))
				o.Error = &p
			} else if it.Node.ID != "" {
				o.ID = refs.CI(it.Node.ID)
			}
			out.CIs[i] = o
		}
		for i, e := range res.Edges {
			o := Outcome{Index: i, Status: string(e.Status)}
			if e.Err != nil {
				p := apierr.Item(named(apierr.From(e.Err, refs)))
				o.Error = &p
			} else if e.Relationship.ID != "" {
				o.ID = refs.Relationship(e.Relationship.ID)
			}
			out.Relationships[i] = o
		}
		apierr.WriteJSON(w, http.StatusOK, out)
	})
}

// GraphBatch turns a discovery batch into the CMDB's graph batch (not
// atomic: each CI and relationship stands or fails on its own).
func GraphBatch(b discovery.Batch) cmdb.GraphBatch {
	out := cmdb.GraphBatch{Items: make([]cmdb.GraphItem, len(b.CIs)), Relationships: make([]cmdb.GraphRelationship, len(b.Relationships))}
	for i, c := range b.CIs {
		out.Items[i] = cmdb.GraphItem{Ref: c.Ref, UpsertItem: cmdb.UpsertItem{Class: c.Class, Attributes: discovery.FromJSON(c.Attributes)}}
	}
	end := func(e discovery.End) cmdb.EdgeEndpoint {
		return cmdb.EdgeEndpoint{Ref: e.Ref, Class: e.Class, Identity: discovery.FromJSON(e.Identity)}
	}
	for i, r := range b.Relationships {
		out.Relationships[i] = cmdb.GraphRelationship{Type: r.Type, From: end(r.From), To: end(r.To)}
	}
	return out
}

// named names p's field as the batch does: its CIs are "cis", which the
// CMDB calls items.
func named(p apierr.Problem) apierr.Problem {
	if rest, ok := strings.CutPrefix(p.Field, "items["); ok {
		old := p.Field
		p.Field = "cis[" + rest
		p.Message = strings.Replace(p.Message, old, p.Field, 1)
	}
	return p
}

// changed lists the fields of changes.
func changed(cs []store.FieldChange) []string {
	if len(cs) == 0 {
		return nil
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Field
	}
	return out
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
