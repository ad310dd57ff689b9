package graph

import (
	"strings"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/store"
)

// Webhooks: views of nodes of kinds webhook and delivery.

const typeWebhook = "Webhook"

func webhookView(n store.Node) *model.Webhook {
	a := n.Attributes
	v := &model.Webhook{ID: globalID(typeWebhook, n.ID), Description: strAttr(a, "description"), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Events: []string{}}
	v.Name, _ = a["name"].(string)
	v.URL, _ = a["url"].(string)
	if e, ok := a["events"].([]string); ok {
		v.Events = e
	}
	v.Active = activeOf(n)
	return v
}

func deliveryView(n store.Node) model.WebhookDelivery {
	a := n.Attributes
	v := model.WebhookDelivery{Record: strAttr(a, "record"), EventID: strAttr(a, "event_id"), Error: strAttr(a, "error"), CreatedAt: n.CreatedAt}
	v.DeliveryID, _ = a["delivery_id"].(string)
	v.Event, _ = a["event_type"].(string)
	v.Status = model.DeliveryStatus(strings.ToUpper(strOr(a, "status", "failed")))
	v.Attempts = intAttr(a, "attempts", 0)
	if c, ok := a["response_code"].(int64); ok {
		code := int(c)
		v.ResponseCode = &code
	}
	return v
}

// optList turns an optional list argument into a pointer (nil: not given).
func optList(l []string) *[]string {
	if l == nil {
		return nil
	}
	return &l
}

// unprefixAttributes names a service error's "attributes.x" field as the
// input field "x" (the webhook inputs are flat).
func unprefixAttributes(err error) error {
	if f, ok := store.FieldOf(err); ok && strings.HasPrefix(f, "attributes.") {
		return store.WithField(err, strings.TrimPrefix(f, "attributes."))
	}
	return err
}
