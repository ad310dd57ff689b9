package cmdb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/skein-cmdb/skein/internal/store"
)

// Operators allowed on each kind of field, for the filter language
// (store.Expr), in the order error messages list them.
var (
	textOps   = []store.Op{store.OpEq, store.OpIn, store.OpPrefix, store.OpContains, store.OpLt, store.OpLte, store.OpGt, store.OpGte, store.OpExists}
	numberOps = []store.Op{store.OpEq, store.OpIn, store.OpLt, store.OpLte, store.OpGt, store.OpGte, store.OpExists}
	boolOps   = []store.Op{store.OpEq, store.OpIn, store.OpExists}
	listOps   = []store.Op{store.OpContains, store.OpEq, store.OpExists}
	classOps  = []store.Op{store.OpEq, store.OpIn}
	idOps     = []store.Op{store.OpEq, store.OpIn}
)

// checkWhere checks a filter expression as a client wrote it against the
// model and returns it with every value converted to the declared type of
// its field: the one place where filter types are checked, above both
// backends. set is the class whose attributes are looked up first (the
// root class when the filter names none); an attribute no class declares
// is an error. Errors are *InvalidErrors naming the node below path as the
// where input spells it ("where.and[2].attribute").
func (m *Model) checkWhere(kind string, e *store.Expr, path string, set attrSet) (*store.Expr, error) {
	if err := e.CheckShape(path); err != nil {
		return nil, err
	}
	out, err := m.whereNode(kind, e, path, set)
	if err != nil {
		return nil, err
	}
	if err := out.Check(path); err != nil {
		return nil, err
	}
	return out, nil
}

func (m *Model) whereNode(kind string, e *store.Expr, path string, set attrSet) (*store.Expr, error) {
	if e.Path != "" {
		path = e.Path
	}
	switch e.Op {
	case store.OpAnd, store.OpOr, store.OpNot:
		out := &store.Expr{Op: e.Op, Args: make([]store.Expr, len(e.Args)), Path: e.Path}
		for i := range e.Args {
			a, err := m.whereNode(kind, &e.Args[i], store.ExprPath(path, e.Op, i), set)
			if err != nil {
				return nil, err
			}
			out.Args[i] = *a
		}
		return out, nil
	}
	out := &store.Expr{Op: e.Op, Field: e.Field, CaseSensitive: e.CaseSensitive, Path: e.Path}
	var ops []store.Op
	var conv func(v any, op store.Op) (any, *store.InvalidError)
	what := ""
	switch {
	case e.Field == store.FieldClass:
		ops, what = classOps, "the class"
		conv = func(v any, _ store.Op) (any, *store.InvalidError) {
			s, ok := v.(string)
			if !ok {
				return nil, store.Invalid("", "must be a class name, got %s", jsonType(v))
			}
			if _, err := m.classIn(kind, s); err != nil {
				return nil, err
			}
			return s, nil
		}
	case e.Field == store.FieldID:
		ops, what = idOps, "the ID"
		conv = func(v any, _ store.Op) (any, *store.InvalidError) {
			s, ok := v.(string)
			if !ok {
				return nil, store.Invalid("", "must be an ID, got %s", jsonType(v))
			}
			return s, nil
		}
	case store.TimeField(e.Field):
		ops, what = numberOps, "a time"
		conv = func(v any, _ store.Op) (any, *store.InvalidError) { return filterTime(v) }
	default:
		def, ok := set.Attribute(e.Field)
		if !ok {
			def = m.anyAttribute(kind, e.Field)
		}
		if def == nil {
			return nil, store.Invalid(path+".attribute", "no %s class has the attribute %q", kindLabel(kind), clip(e.Field))
		}
		ops, what, conv = attrOps(def)
	}
	if !opIn(e.Op, ops) {
		names := make([]string, len(ops))
		for i, o := range ops {
			names[i] = string(o)
		}
		kind := "attribute"
		if store.NodeField(e.Field) {
			kind = "field"
		}
		return nil, store.Invalid(path+"."+string(e.Op), "not an operator for %s %s (%s); allowed: %s", kind, clip(e.Field), what, strings.Join(names, ", "))
	}
	switch e.Op {
	case store.OpExists:
		b, ok := e.Value.(bool)
		if !ok {
			return nil, store.Invalid(path+".exists", "must be true or false, got %s", jsonType(e.Value))
		}
		out.Value = b
	case store.OpIn:
		out.Values = make([]any, len(e.Values))
		for i, v := range e.Values {
			c, err := conv(v, store.OpEq)
			if err != nil {
				return nil, err.WithPrefix(fmt.Sprintf("%s.in[%d]", path, i))
			}
			out.Values[i] = c
		}
		// Integers and floats may be mixed in a client's list; the store
		// takes one type.
		if mixedNumbers(out.Values) {
			for i, v := range out.Values {
				if n, ok := v.(int64); ok {
					out.Values[i] = float64(n)
				}
			}
		}
	default:
		c, err := conv(e.Value, e.Op)
		if err != nil {
			return nil, err.WithPrefix(path + "." + string(e.Op))
		}
		out.Value = c
	}
	// Enum values are canonical (as stored); the class and IDs are exact.
	if e.Field == store.FieldClass || e.Field == store.FieldID || canonicalEnum(kind, e, set, m) {
		out.CaseSensitive = true
	}
	return out, nil
}

// canonicalEnum reports whether e compares an enum attribute with whole
// values (eq, in), which the conversion made canonical.
func canonicalEnum(kind string, e *store.Expr, set attrSet, m *Model) bool {
	if e.Op != store.OpEq && e.Op != store.OpIn || store.NodeField(e.Field) {
		return false
	}
	def, ok := set.Attribute(e.Field)
	if !ok {
		def = m.anyAttribute(kind, e.Field)
	}
	return def != nil && def.Type == TypeEnum
}

func opIn(op store.Op, ops []store.Op) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func mixedNumbers(vs []any) bool {
	var ints, floats bool
	for _, v := range vs {
		switch v.(type) {
		case int64:
			ints = true
		case float64:
			floats = true
		}
	}
	return ints && floats
}

// attrOps returns the operators an attribute takes, a word for its type,
// and the conversion of a filter value to it. Unlike upsert values, filter
// values are not held to the attribute's range or length: a filter may ask
// for cpu_count < 1000000 or a name longer than any stored.
func attrOps(def *AttributeDef) ([]store.Op, string, func(any, store.Op) (any, *store.InvalidError)) {
	str := func(v any, _ store.Op) (any, *store.InvalidError) {
		s, ok := v.(string)
		if !ok {
			return nil, store.Invalid("", "must be a string, got %s", jsonType(v))
		}
		return norm.NFC.String(s), nil
	}
	switch def.Type {
	case TypeEnum:
		return textOps, "an enum", func(v any, op store.Op) (any, *store.InvalidError) {
			if op != store.OpEq {
				return str(v, op)
			}
			s, ok := v.(string)
			if !ok {
				return nil, typeErr(def, v)
			}
			for _, allowed := range def.Values {
				if strings.EqualFold(strings.TrimSpace(s), allowed) {
					return allowed, nil
				}
			}
			return nil, store.Invalid("", "%q is not allowed; allowed values: %s", clip(s), strings.Join(def.Values, ", "))
		}
	case TypeInt, TypeFloat:
		return numberOps, "a number", func(v any, _ store.Op) (any, *store.InvalidError) {
			if def.Type == TypeInt {
				if n, err := toInt(v); err == nil {
					return n, nil
				}
			}
			// A float compares with an integer attribute as a number.
			f, err := toFloat(v)
			if err != nil {
				return nil, store.Invalid("", "%s", err)
			}
			return f, nil
		}
	case TypeBool:
		return boolOps, "a boolean", func(v any, _ store.Op) (any, *store.InvalidError) {
			switch x := v.(type) {
			case bool:
				return x, nil
			case string:
				if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
					return b, nil
				}
			}
			return nil, store.Invalid("", "must be true or false, got %s", jsonType(v))
		}
	case TypeTime:
		return numberOps, "a time", func(v any, _ store.Op) (any, *store.InvalidError) { return filterTime(v) }
	case TypeList:
		return listOps, "a list of strings", func(v any, op store.Op) (any, *store.InvalidError) {
			if op == store.OpContains {
				return str(v, op)
			}
			// The whole list, as stored: a set, deduplicated and sorted.
			l, err := convertValue(def, v)
			if err != nil {
				return nil, err
			}
			if l == nil {
				return []string{}, nil
			}
			return l, nil
		}
	}
	return textOps, "a string", str
}

// filterTime converts a filter value to a time (store.ParseTime's formats).
func filterTime(v any) (any, *store.InvalidError) {
	switch x := v.(type) {
	case time.Time:
		if err := store.CheckTime("", x); err != nil {
			return nil, err
		}
		return x.UTC(), nil
	case string:
		t, err := store.ParseTime("", x)
		if err != nil {
			return nil, err
		}
		return t, nil
	}
	return nil, store.Invalid("", "must be a time (%s), got %s", store.TimeFormats, jsonType(v))
}
