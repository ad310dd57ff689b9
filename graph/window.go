package graph

import (
	"context"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Change windows: the view of a node of kind change_window and the parsing
// of their mutations' inputs. Resolvers in window.resolvers.go call these.

// maxOccurrences bounds ChangeWindow.occurrences(first:).
const maxOccurrences = 100

func windowView(n store.Node) *model.ChangeWindow {
	a := n.Attributes
	w := itsm.WindowOf(n)
	v := &model.ChangeWindow{
		ID: globalID(typeChangeWindow, n.ID), Attributes: attributesOut(a),
		Version: versionOut(n.Version), CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt, Raw: n,
		Name: w.Name, Type: model.ChangeWindowType(strings.ToUpper(w.Type)), Description: strAttr(a, "description"),
		StartAt: w.Start, EndAt: w.End, Recurrence: model.Recurrence(strings.ToUpper(w.Repeat)), Until: timeAttr(a, "until"),
		TimeZone: strOr(a, "time_zone", "UTC"), Active: a["active"] != false,
	}
	return v
}

func windowConnection(page store.Page[store.Node]) *model.ChangeWindowConnection {
	return &model.ChangeWindowConnection{TotalCount: page.Total, PageInfo: pageInfoOf(page),
		Edges: edgesOf(page, func(c string, n store.Node) model.ChangeWindowEdge {
			return model.ChangeWindowEdge{Cursor: c, Node: windowView(n)}
		})}
}

// windowInputFields are the attributes whose input field is not their
// camelCase name.
var windowInputFields = map[string]string{}

func createWindowIn(in model.CreateChangeWindowInput) (itsm.WindowInput, error) {
	a := map[string]any{"name": in.Name, "type": enumIn(&in.Type), "start_at": in.StartAt, "end_at": in.EndAt}
	for k, v := range map[string]any{"description": derefAnyPtr(in.Description), "recurrence": enumIn(in.Recurrence),
		"until": derefAnyPtr(in.Until), "time_zone": derefAnyPtr(in.TimeZone)} {
		if v != nil {
			a[k] = v
		}
	}
	out := itsm.WindowInput{Attributes: a}
	if in.CiIds != nil {
		ids, err := ciListIn("input.ciIds", in.CiIds)
		if err != nil {
			return out, err
		}
		out.CIs = ids
	}
	return out, nil
}

func updateWindowIn(in model.UpdateChangeWindowInput) (itsm.WindowInput, error) {
	a := map[string]any{}
	setOmittable(a, "name", in.Name)
	setOmittable(a, "description", in.Description)
	setOmittable(a, "start_at", in.StartAt)
	setOmittable(a, "end_at", in.EndAt)
	setOmittable(a, "until", in.Until)
	setOmittable(a, "time_zone", in.TimeZone)
	setOmittable(a, "active", in.Active)
	setEnum(a, "type", in.Type)
	setEnum(a, "recurrence", in.Recurrence)
	out := itsm.WindowInput{Attributes: a}
	if in.CiIds.IsSet() {
		ids, err := ciListIn("input.ciIds", in.CiIds.Value())
		if err != nil {
			return out, err
		}
		if ids == nil {
			ids = &[]store.ID{}
		}
		out.CIs = ids
	}
	return out, nil
}

// setEnum sets attribute k from an omittable enum input (null clears it).
func setEnum[E ~string](a map[string]any, k string, v graphql.Omittable[*E]) {
	if v.IsSet() {
		a[k] = enumIn(v.Value())
	}
}

// windowOccurrences answers ChangeWindow.occurrences.
func windowOccurrences(obj *model.ChangeWindow, from *time.Time, first *int) ([]model.TimeWindow, error) {
	n := deref(first, 5)
	if n < 1 || n > maxOccurrences {
		return nil, store.Invalid("first", "%d; allowed: 1 to %d", n, maxOccurrences)
	}
	at := time.Now()
	if from != nil {
		at = *from
	}
	w := itsm.WindowOf(obj.Raw)
	var out []model.TimeWindow
	for _, o := range w.Occurrences(at, at.Add(time.Duration(n+1)*7*24*time.Hour+w.End.Sub(w.Start))) {
		if len(out) == n {
			break
		}
		out = append(out, model.TimeWindow{StartAt: o.Start, EndAt: o.End})
	}
	if out == nil {
		out = []model.TimeWindow{}
	}
	return out, nil
}

// windowByIDOrName answers changeWindow(id|name).
func (r *queryResolver) windowByIDOrName(ctx context.Context, id, name *string) (*model.ChangeWindow, error) {
	switch {
	case (id == nil) == (name == nil):
		return nil, store.Invalid("id", "give exactly one of id and name")
	case id != nil:
		sid, err := idOf("id", *id, typeChangeWindow)
		if err != nil {
			return nil, err
		}
		return nodeOf(ctx, r.Resolver, itsm.KindChangeWindow, sid, windowView)
	}
	n, ok, err := r.ITSM.WindowByName(ctx, *name)
	if !ok || err != nil {
		return nil, err
	}
	return windowView(n), nil
}
