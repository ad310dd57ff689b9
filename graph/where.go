package graph

import (
	"fmt"
	"strings"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/store"
)

// whereFields maps the CIField enum to the store's node fields.
var whereFields = map[model.CIField]string{
	model.CIFieldClass:      store.FieldClass,
	model.CIFieldCreatedAt:  store.FieldCreatedAt,
	model.CIFieldUpdatedAt:  store.FieldUpdatedAt,
	model.CIFieldLastSeenAt: store.FieldLastSeenAt,
}

// whereIn converts a where argument into a store expression, untyped
// (internal/cmdb converts the values to the model's types). Each object
// is the conjunction of what it sets; every node carries the path of the
// object the client wrote, so errors name it ("where.and[2].attribute").
// Nesting and size are bounded here already (store.MaxExprDepth,
// store.MaxExprNodes), before the tree is walked again.
func whereIn(w *model.CIWhere, path string) (*store.Expr, error) {
	nodes := 0
	return whereNode(w, path, 1, &nodes)
}

func whereNode(w *model.CIWhere, path string, depth int, nodes *int) (*store.Expr, error) {
	*nodes++
	if *nodes > store.MaxExprNodes {
		return nil, store.Invalid(path, "a filter has at most %d operators and comparisons", store.MaxExprNodes)
	}
	if depth > store.MaxExprDepth {
		return nil, store.Invalid(path, "and / or / not nest at most %d deep", store.MaxExprDepth)
	}
	var parts []store.Expr
	for _, list := range []struct {
		op   store.Op
		args []model.CIWhere
	}{{store.OpAnd, w.And}, {store.OpOr, w.Or}} {
		if list.args == nil {
			continue
		}
		if len(list.args) == 0 {
			return nil, store.Invalid(path+"."+string(list.op), "needs at least one expression")
		}
		e := store.Expr{Op: list.op, Path: path, Args: make([]store.Expr, len(list.args))}
		for i := range list.args {
			a, err := whereNode(&list.args[i], store.ExprPath(path, list.op, i), depth+1, nodes)
			if err != nil {
				return nil, err
			}
			e.Args[i] = *a
		}
		parts = append(parts, e)
	}
	if w.Not != nil {
		a, err := whereNode(w.Not, path+".not", depth+1, nodes)
		if err != nil {
			return nil, err
		}
		parts = append(parts, store.Expr{Op: store.OpNot, Path: path, Args: []store.Expr{*a}})
	}
	cmps, err := comparisonsIn(w, path)
	if err != nil {
		return nil, err
	}
	parts = append(parts, cmps...)
	*nodes += len(parts) - 1
	switch len(parts) {
	case 0:
		return nil, store.Invalid(path, "is empty; set and, or, not, or an attribute (or field) with an operator: eq, in, prefix, contains, lt, lte, gt, gte, exists")
	case 1:
		return &parts[0], nil
	}
	return &store.Expr{Op: store.OpAnd, Path: path, Args: parts}, nil
}

// comparisonsIn returns the comparisons of one where object: one per
// operator it sets, all on its attribute or field.
func comparisonsIn(w *model.CIWhere, path string) ([]store.Expr, error) {
	type operand struct {
		op  store.Op
		set bool
		v   any
	}
	ops := []operand{
		{store.OpEq, w.Eq != nil, w.Eq},
		{store.OpIn, w.In != nil, nil},
		{store.OpPrefix, w.Prefix != nil, derefAny(w.Prefix)},
		{store.OpContains, w.Contains != nil, derefAny(w.Contains)},
		{store.OpLt, w.Lt != nil, w.Lt},
		{store.OpLte, w.Lte != nil, w.Lte},
		{store.OpGt, w.Gt != nil, w.Gt},
		{store.OpGte, w.Gte != nil, w.Gte},
		{store.OpExists, w.Exists != nil, derefAny(w.Exists)},
	}
	var set []string
	for _, o := range ops {
		if o.set {
			set = append(set, string(o.op))
		}
	}
	var field string
	switch {
	case w.Attribute != nil && w.Field != nil:
		return nil, store.Invalid(path+".field", "compare either an attribute or a field, not both in one object")
	case w.Attribute != nil:
		field = *w.Attribute
		if store.NodeField(field) {
			return nil, store.Invalid(path+".attribute", "%q is a CI field, not an attribute; compare CI fields with field: CLASS, CREATED_AT, UPDATED_AT or LAST_SEEN_AT (IDs with filter.ids)", field)
		}
	case w.Field != nil:
		f, ok := whereFields[*w.Field]
		if !ok {
			return nil, store.Invalid(path+".field", "unknown field %q", string(*w.Field))
		}
		field = f
	case len(set) > 0:
		return nil, store.Invalid(path+"."+set[0], "an operator needs an attribute or a field to compare")
	default:
		if w.CaseSensitive != nil && *w.CaseSensitive {
			return nil, store.Invalid(path+".caseSensitive", "applies to the comparisons of its object, and there is none")
		}
		return nil, nil
	}
	if len(set) == 0 {
		return nil, store.Invalid(path, "an attribute or field needs an operator: eq, in, prefix, contains, lt, lte, gt, gte, exists")
	}
	cs := deref(w.CaseSensitive, false)
	var out []store.Expr
	for _, o := range ops {
		if !o.set {
			continue
		}
		e := store.Expr{Op: o.op, Field: field, Value: o.v, CaseSensitive: cs, Path: path}
		if o.op == store.OpIn {
			if len(w.In) > store.MaxExprValues {
				return nil, store.Invalid(path+".in", "at most %d values", store.MaxExprValues)
			}
			e.Values = make([]any, len(w.In))
			for i, v := range w.In {
				if v == nil {
					return nil, store.Invalid(fmt.Sprintf("%s.in[%d]", path, i), "must not be null")
				}
				e.Values[i] = v
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// derefAny returns *p as an any, or nil for a nil p.
func derefAny[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// orderIn converts an orderBy argument.
func orderIn(o *model.CIOrder) store.Sort {
	if o == nil {
		return store.Sort{}
	}
	return store.Sort{
		Field: strings.ToLower(string(o.Field)),
		Desc:  o.Direction != nil && *o.Direction == model.SortDirectionDesc,
	}
}
