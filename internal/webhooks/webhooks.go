// Package webhooks sends record events (itsm.Event) to the HTTP endpoints
// admins register (nodes of kind webhook): one POST per event and webhook,
// signed with HMAC-SHA256, retried with exponential back-off, each
// delivery logged (nodes of kind delivery).
//
// Events wait in a bounded in-memory queue: a process that stops loses
// the events not yet sent (the log shows what was). Receivers should be
// idempotent on the delivery ID (X-Skein-Delivery), since a delivery whose
// answer was lost is sent again.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Kinds of node of this package.
const (
	KindWebhook  = "webhook"
	KindDelivery = "delivery"
)

// Options configure a Dispatcher.
type Options struct {
	// Backoff are the waits before the second, third... attempt (1, 2, 4,
	// 8 and 16 s when nil): len(Backoff)+1 attempts in all.
	Backoff []time.Duration
	// Timeout bounds one attempt (10 s when 0).
	Timeout time.Duration
	// Queue is how many events may wait (1000 when 0); more are dropped,
	// with a log line each.
	Queue int
	// Workers is how many deliveries run at once (4 when 0).
	Workers int
	// RecordID names a record in payloads as the API does (its global ID);
	// nil uses the store ID.
	RecordID func(kind string, id store.ID) string
	Logger   *slog.Logger
	Client   *http.Client
}

// Dispatcher sends events to webhooks. Publish queues; Run sends.
type Dispatcher struct {
	cmdb  *cmdb.Service
	opts  Options
	queue chan itsm.Event
	sem   chan struct{}
	wg    sync.WaitGroup
}

// New returns a dispatcher reading webhooks and writing deliveries through
// c.
func New(c *cmdb.Service, o Options) *Dispatcher {
	if o.Backoff == nil {
		o.Backoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Queue <= 0 {
		o.Queue = 1000
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.RecordID == nil {
		o.RecordID = func(_ string, id store.ID) string { return string(id) }
	}
	return &Dispatcher{cmdb: c, opts: o, queue: make(chan itsm.Event, o.Queue), sem: make(chan struct{}, o.Workers)}
}

// Publish queues e without blocking; a full queue drops it (logged).
func (d *Dispatcher) Publish(e itsm.Event) {
	select {
	case d.queue <- e:
	default:
		d.opts.Logger.Warn("webhook event dropped: the queue is full", "event", e.Type, "record", e.Record.Attributes["number"])
	}
}

// Run sends queued events until ctx ends, then waits for the deliveries
// under way (their remaining retries are given up).
func (d *Dispatcher) Run(ctx context.Context) {
	defer d.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-d.queue:
			hooks, err := d.subscribers(ctx, e.Type)
			if err != nil {
				d.opts.Logger.Error("webhooks: cannot read the webhooks", "err", err)
				continue
			}
			for _, h := range hooks {
				select {
				case d.sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				d.wg.Add(1)
				go func() {
					defer func() { <-d.sem; d.wg.Done() }()
					d.deliver(ctx, h, e)
				}()
			}
		}
	}
}

// subscribers returns the active webhooks that take events of typ.
func (d *Dispatcher) subscribers(ctx context.Context, typ string) ([]store.Node, error) {
	all, err := d.all(auth.AsProcess(ctx), cmdb.Filter{Where: &store.Expr{Op: store.OpEq, Field: "active", Value: true}})
	if err != nil {
		return nil, err
	}
	var out []store.Node
	for _, h := range all {
		events, _ := h.Attributes["events"].([]string)
		if len(events) == 0 || slices.Contains(events, typ) {
			out = append(out, h)
		}
	}
	return out, nil
}

// Payload is the JSON body of a delivery.
type Payload struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurredAt"`
	Actor      string          `json:"actor"`
	Record     PayloadRecord   `json:"record"`
	Changes    []PayloadChange `json:"changes"`
}

// PayloadRecord is the record an event is about.
type PayloadRecord struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Number string `json:"number"`
	State  string `json:"state"`
}

// PayloadChange is one changed field.
type PayloadChange struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// Sign returns the X-Skein-Signature of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// deliver sends e to webhook h, retrying, and logs the outcome.
func (d *Dispatcher) deliver(ctx context.Context, h store.Node, e itsm.Event) {
	state, _ := e.Record.Attributes["state"].(string)
	number, _ := e.Record.Attributes["number"].(string)
	p := Payload{ID: e.ID, Type: e.Type, OccurredAt: e.At.UTC(), Actor: e.Actor,
		Record:  PayloadRecord{Kind: string(e.Record.Kind), ID: d.opts.RecordID(string(e.Record.Kind), e.Record.ID), Number: number, State: state},
		Changes: []PayloadChange{}}
	for _, c := range e.Changes {
		p.Changes = append(p.Changes, PayloadChange{Field: c.Field, Before: c.Before, After: c.After})
	}
	body, err := json.Marshal(p)
	if err != nil {
		d.opts.Logger.Error("webhooks: cannot encode an event", "err", err)
		return
	}
	url, _ := h.Attributes["url"].(string)
	secret, _ := h.Attributes["secret"].(string)
	name, _ := h.Attributes["name"].(string)
	deliveryID := uuid.NewString()
	var code int
	var lastErr string
	attempts := 0
	for i := 0; i <= len(d.opts.Backoff); i++ {
		if i > 0 {
			select {
			case <-time.After(d.opts.Backoff[i-1]):
			case <-ctx.Done():
				return
			}
		}
		attempts++
		code, err = d.post(ctx, url, secret, deliveryID, e.Type, body)
		if err == nil && code >= 200 && code < 300 {
			lastErr = ""
			break
		}
		if err != nil {
			lastErr = err.Error()
		} else {
			lastErr = fmt.Sprintf("HTTP %d", code)
		}
	}
	status := "delivered"
	if lastErr != "" {
		status = "failed"
		d.opts.Logger.Warn("webhook delivery failed", "webhook", name, "event", e.Type, "attempts", attempts, "err", lastErr)
	}
	attrs := map[string]any{"webhook": name, "event_type": e.Type, "event_id": e.ID, "status": status, "attempts": attempts}
	if number != "" {
		attrs["record"] = number
	}
	if code > 0 {
		attrs["response_code"] = code
	}
	if lastErr != "" {
		attrs["error"] = lastErr
	}
	_, err = d.cmdb.WriteNode(auth.AsProcess(context.WithoutCancel(ctx)), store.Actor{Name: "skein webhooks", Source: "api"}, KindDelivery, cmdb.NodeWrite{
		Verb: auth.Create, Input: attrs,
		Decide: func(_ *store.Node, input store.Attributes, _ time.Time) (store.Attributes, error) {
			out := store.Attributes{"delivery_id": deliveryID}
			for k, v := range input {
				out[k] = v
			}
			return out, nil
		},
	})
	if err != nil {
		d.opts.Logger.Error("webhooks: cannot log a delivery", "err", err)
	}
}

// post makes one attempt; the answer's body is read (bounded) and
// dropped.
func (d *Dispatcher) post(ctx context.Context, url, secret, deliveryID, typ string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "skein-webhooks")
	req.Header.Set("X-Skein-Event", typ)
	req.Header.Set("X-Skein-Delivery", deliveryID)
	req.Header.Set("X-Skein-Signature", Sign(secret, body))
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// all returns every webhook matching f.
func (d *Dispatcher) all(ctx context.Context, f cmdb.Filter) ([]store.Node, error) {
	return d.cmdb.AllNodes(ctx, KindWebhook, f)
}
