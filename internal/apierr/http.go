package apierr

import (
	"encoding/json"
	"net/http"
)

// The REST endpoints' answers (Alertmanager's webhook, discovery batches):
// JSON, with errors shaped as GraphQL's, so that one client reads both.

// WriteProblem answers an error as the API does: {"errors": [{message,
// extensions: {code, field, details...}}]} with the code's status. An
// internal error says only "internal error".
func WriteProblem(w http.ResponseWriter, p Problem) {
	WriteJSON(w, Status(p.Code), map[string]any{"errors": []ItemProblem{Item(p)}})
}

// ItemProblem is a Problem as a JSON answer shows it: in a list of errors,
// or on the item of a batch that failed.
type ItemProblem struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// Item returns p as an answer shows it.
func Item(p Problem) ItemProblem {
	ext := map[string]any{"code": string(p.Code)}
	if p.Field != "" {
		ext["field"] = p.Field
	}
	for k, v := range p.Details {
		ext[k] = v
	}
	if p.Code == Internal {
		p.Message = "internal error"
	}
	return ItemProblem{Message: p.Message, Extensions: ext}
}

// WriteJSON answers v as JSON with status, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
