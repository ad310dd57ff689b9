package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// WebhookInput is what an admin writes of a webhook; a nil field of an
// update is left as it is.
type WebhookInput struct {
	Name, URL, Secret, Description *string
	Events                         *[]string
	Active                         *bool
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return store.Invalid(field, "must be an http or https URL with a host and no credentials")
	}
	return nil
}

// checkEvents accepts known event types.
func checkEvents(events []string) error {
	for i, e := range events {
		if !slices.Contains(itsm.EventTypes, e) {
			return store.Invalid(fmt.Sprintf("events[%d]", i), "%q; allowed: %s", e, strings.Join(itsm.EventTypes, ", "))
		}
	}
	return nil
}

// NewSecret returns a random signing secret.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// attrs turns in into attributes, checked.
func (in WebhookInput) attrs() (map[string]any, error) {
	a := map[string]any{}
	if in.Name != nil {
		a["name"] = *in.Name
	}
	if in.URL != nil {
		if err := checkURL("url", *in.URL); err != nil {
			return nil, err
		}
		a["url"] = *in.URL
	}
	if in.Secret != nil {
		if len(*in.Secret) < 16 {
			return nil, store.Invalid("secret", "at least 16 characters")
		}
		a["secret"] = *in.Secret
	}
	if in.Description != nil {
		a["description"] = *in.Description
	}
	if in.Events != nil {
		if err := checkEvents(*in.Events); err != nil {
			return nil, err
		}
		a["events"] = *in.Events
	}
	if in.Active != nil {
		a["active"] = *in.Active
	}
	return a, nil
}

// Create registers a webhook (admins); without a secret, one is made. It
// returns the webhook and its secret, which the API shows only then.
func (d *Dispatcher) Create(ctx context.Context, actor store.Actor, in WebhookInput) (store.Node, string, error) {
	if in.Secret == nil {
		s := NewSecret()
		in.Secret = &s
	}
	if in.Name == nil || in.URL == nil {
		return store.Node{}, "", store.Invalid("name", "name and url are required")
	}
	a, err := in.attrs()
	if err != nil {
		return store.Node{}, "", err
	}
	res, err := d.cmdb.WriteNode(ctx, actor, KindWebhook, cmdb.NodeWrite{Input: a, Verb: auth.Create, Redact: []string{"secret"},
		Decide: func(_ *store.Node, input store.Attributes, _ time.Time) (store.Attributes, error) { return input, nil }})
	return res.Node, *in.Secret, err
}

// Update changes a webhook (admins): its URL, events, secret,
// description, or whether it is active.
func (d *Dispatcher) Update(ctx context.Context, actor store.Actor, id store.ID, in WebhookInput) (store.Node, error) {
	a, err := in.attrs()
	if err != nil {
		return store.Node{}, err
	}
	res, err := d.cmdb.WriteNode(ctx, actor, KindWebhook, cmdb.NodeWrite{ID: id, Input: a, Verb: auth.Update, Redact: []string{"secret"},
		Decide: func(_ *store.Node, input store.Attributes, _ time.Time) (store.Attributes, error) { return input, nil }})
	return res.Node, err
}

// List returns every webhook (admins), by name.
func (d *Dispatcher) List(ctx context.Context) ([]store.Node, error) {
	return d.all(ctx, cmdb.Filter{Sort: store.Sort{Field: "name"}})
}

// Deliveries returns the latest deliveries to the webhook named name,
// newest first (admins).
func (d *Dispatcher) Deliveries(ctx context.Context, name string, first int) ([]store.Node, error) {
	page, err := d.cmdb.ListNodes(ctx, KindDelivery, cmdb.Filter{Attributes: map[string]any{"webhook": name}, CaseSensitive: true,
		Sort: store.Sort{Field: store.FieldCreatedAt, Desc: true}}, store.PageRequest{First: first})
	return page.Items, err
}
