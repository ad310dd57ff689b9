package batches

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Discovery runs (scoped sync; see cmdb.StartRun):
//
//	POST /api/v1/runs                 {"source": "host"}  → 201, the run
//	GET  /api/v1/runs/{run}                               → the run
//	POST /api/v1/runs/{run}/complete  {"scopes": [...]}   → the run, with what each scope did
//	POST /api/v1/runs/{run}/abandon                       → the run, abandoned: nothing removed
//
// A batch joins a run by naming it in its scope: {"scope": {"name":
// "host:web01", "run": 12}}.

// maxRunBody bounds the body of a run request (a completion names up to
// 1,000 scopes of 255 bytes).
const maxRunBody = 1 << 20

// RunsHandler returns the runs endpoints over svc, to be mounted at
// /api/v1/runs.
func RunsHandler(svc *cmdb.Service) http.Handler {
	r := chi.NewRouter()
	r.Post("/", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Source string `json:"source"`
		}
		if !decodeRunBody(w, r, &in) {
			return
		}
		out, err := svc.StartRun(r.Context(), store.Actor{Source: in.Source})
		answerRun(w, http.StatusCreated, out, err)
	})
	r.Get("/{run}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := runNumber(w, r)
		if !ok {
			return
		}
		out, err := svc.Run(r.Context(), n)
		answerRun(w, http.StatusOK, out, err)
	})
	r.Post("/{run}/complete", func(w http.ResponseWriter, r *http.Request) {
		n, ok := runNumber(w, r)
		if !ok {
			return
		}
		var in struct {
			Source string   `json:"source"`
			Scopes []string `json:"scopes"`
		}
		if !decodeRunBody(w, r, &in) {
			return
		}
		out, err := svc.CompleteRun(r.Context(), store.Actor{Source: in.Source}, n, in.Scopes)
		answerRun(w, http.StatusOK, out, err)
	})
	r.Post("/{run}/abandon", func(w http.ResponseWriter, r *http.Request) {
		n, ok := runNumber(w, r)
		if !ok {
			return
		}
		var in struct {
			Source string `json:"source"`
		}
		if !decodeRunBody(w, r, &in) {
			return
		}
		out, err := svc.AbandonRun(r.Context(), store.Actor{Source: in.Source}, n)
		answerRun(w, http.StatusOK, out, err)
	})
	return r
}

// runNumber parses the {run} of the path, or answers INVALID.
func runNumber(w http.ResponseWriter, r *http.Request) (int64, bool) {
	s := chi.URLParam(r, "run")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Field: "run", Message: "run: " + strconv.Quote(clip(s)) + " is not a run number (1 or more)"})
		return 0, false
	}
	return n, true
}

// decodeRunBody decodes an optional JSON object body into v (an empty
// body leaves v as it is), or answers INVALID.
func decodeRunBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRunBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return true
	}
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return true
		}
		err = errors.New("more than one JSON value")
	}
	apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Message: "the body is not a run request (a JSON object): " + clip(err.Error())})
	return false
}

func answerRun(w http.ResponseWriter, status int, out cmdb.RunOutcome, err error) {
	if err != nil {
		apierr.WriteProblem(w, apierr.From(err, apierr.Refs{}))
		return
	}
	apierr.WriteJSON(w, status, out)
}
