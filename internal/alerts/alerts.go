// Package alerts is the HTTP adapter of Prometheus Alertmanager's webhook:
// POST /api/v1/alerts/alertmanager takes Alertmanager's notification
// (webhook_config, payload version 4) and hands its alerts to
// itsm.Service.ReceiveAlerts, which opens, groups, updates and resolves
// incidents. It parses and answers; it decides nothing.
//
// The payload's types are written here rather than imported from
// Alertmanager's module, which would bring the whole of Alertmanager in for
// a dozen fields of a documented, stable format.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Notification is Alertmanager's webhook payload (version 4).
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Result is the answer: what each alert did, in the notification's order.
type Result struct {
	Received int       `json:"received"`
	Results  []Outcome `json:"results"`
}

// Outcome is what one alert did.
type Outcome struct {
	Fingerprint string `json:"fingerprint"`
	Status      string `json:"status"`
	Action      string `json:"action"`
	Incident    string `json:"incident,omitempty"`
	Number      string `json:"number,omitempty"`
	CI          string `json:"ci,omitempty"`
}

// IDs turns store IDs into the API's global IDs (graph's
// IncidentGlobalID and CIGlobalID).
type IDs struct {
	Incident, CI func(store.ID) string
}

// Handler returns the webhook's handler over svc.
func Handler(svc *itsm.Service, ids IDs) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n Notification
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&n); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				apierr.WriteProblem(w, apierr.Problem{Code: "PAYLOAD_TOO_LARGE", Message: "the notification is larger than server.max_body_bytes"})
				return
			}
			apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Message: "the body is not Alertmanager's webhook JSON: " + clip(err.Error())})
			return
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Message: "the body holds more than one JSON value"})
			return
		}
		if n.Version != "4" {
			apierr.WriteProblem(w, apierr.Problem{Code: apierr.Invalid, Field: "version",
				Message: fmt.Sprintf("version: %q; this endpoint takes Alertmanager's webhook version \"4\"", clip(n.Version))})
			return
		}
		in := make([]itsm.Alert, len(n.Alerts))
		for i, a := range n.Alerts {
			in[i] = itsm.Alert{Status: a.Status, Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt,
				GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint}
			if in[i].Labels == nil {
				in[i].Labels = map[string]string{}
			}
			for k, v := range n.CommonLabels { // Alertmanager repeats them in each alert; a hand-made payload may not
				if _, ok := in[i].Labels[k]; !ok {
					in[i].Labels[k] = v
				}
			}
			if in[i].Annotations == nil {
				in[i].Annotations = n.CommonAnnotations
			}
		}
		out, err := svc.ReceiveAlerts(r.Context(), store.Actor{Source: "alertmanager"}, in)
		if err != nil {
			apierr.WriteProblem(w, apierr.From(err, apierr.Refs{}))
			return
		}
		res := Result{Received: len(out), Results: make([]Outcome, len(out))}
		for i, o := range out {
			res.Results[i] = Outcome{Fingerprint: o.Fingerprint, Status: o.Status, Action: o.Action, Number: o.Number}
			if o.Incident != "" {
				res.Results[i].Incident = ids.Incident(o.Incident)
			}
			if o.CI != "" {
				res.Results[i].CI = ids.CI(o.CI)
			}
		}
		apierr.WriteJSON(w, http.StatusOK, res)
	})
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
