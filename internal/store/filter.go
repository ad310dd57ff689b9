package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Op is an operator of a filter expression (Expr). The names are those of
// the API's where input, so that an error can name the operator as the
// client wrote it ("where.and[2].gte").
type Op string

// Operators of filter expressions.
const (
	// OpAnd matches when every one of Args matches; OpOr when any does;
	// OpNot when its one Arg does not.
	OpAnd Op = "and"
	OpOr  Op = "or"
	OpNot Op = "not"
	// OpEq matches a field equal to Value (a whole string list for a list
	// attribute); OpIn one equal to any of Values.
	OpEq Op = "eq"
	OpIn Op = "in"
	// OpPrefix matches a string field starting with Value.
	OpPrefix Op = "prefix"
	// OpContains matches a string field containing Value as a substring, or
	// a string list (such as tags) holding Value as one of its elements.
	OpContains Op = "contains"
	// OpLt, OpLte, OpGt and OpGte compare numbers (integers and floats with
	// each other), times and strings (in byte order of their UTF-8, after
	// folding unless CaseSensitive).
	OpLt  Op = "lt"
	OpLte Op = "lte"
	OpGt  Op = "gt"
	OpGte Op = "gte"
	// OpExists matches when the field is set (Value true) or not (false).
	OpExists Op = "exists"
)

// Node fields a filter or a sort may name besides attributes. Their names
// are reserved (ReservedAttribute), so they never clash with an attribute.
const (
	FieldID         = "id"
	FieldClass      = "class"
	FieldCreatedAt  = "created_at"
	FieldUpdatedAt  = "updated_at"
	FieldLastSeenAt = "last_seen_at"
)

// Limits of filter expressions. They bound the text of the query a backend
// builds and the work of checking it.
const (
	// MaxExprDepth is how deeply and / or / not may nest (a lone
	// comparison has depth 1).
	MaxExprDepth = 8
	// MaxExprNodes is how many nodes (operators and comparisons) an
	// expression has at most.
	MaxExprNodes = 100
	// MaxExprValues is how many values the in lists of one expression hold
	// together at most.
	MaxExprValues = 1000
	// MaxExprText is the longest string value, in bytes.
	MaxExprText = 4096
	// MaxOffsetWindow bounds offset pages: Offset + First <= MaxOffsetWindow.
	// An offset page reads and drops Offset rows, so deep offsets cost what
	// they skip; keyset cursors (After) have no such bound.
	MaxOffsetWindow = 10000
)

// Expr is a filter expression over nodes: a tree of and / or / not above
// comparisons of one field (an attribute, or a node field such as
// FieldClass or FieldCreatedAt) with typed values. Values are the store's
// value types (string, int64, float64, bool, time.Time, []string):
// internal/cmdb converts what a client wrote to the declared attribute
// types before an Expr reaches a backend, and backends only compile it.
//
// A comparison on a field a node does not have, or whose stored value has
// another type, does not match; not inverts a match, so not(eq) also
// matches nodes without the field (two-valued logic on both backends).
type Expr struct {
	Op Op
	// Args are the operands of and, or (at least one) and not (exactly one).
	Args []Expr
	// Field is the attribute or node field a comparison reads.
	Field string
	// Value is the operand of eq, prefix, contains, the comparisons and
	// exists (a bool).
	Value any
	// Values are the operands of in (at least one, all of one type).
	Values []any
	// CaseSensitive makes string comparisons exact; by default both sides
	// are compared as FoldText folds them (ADR 0011).
	CaseSensitive bool
	// Path, when set, is where the client wrote this node ("where.and[2]"),
	// for errors; when empty it is derived from the node's place in the
	// tree (ExprPath). An API whose input does not map one object to one
	// node (several operators in one object) sets it.
	Path string
}

// And returns the conjunction of es, dropping nil ones; nil when none is
// left, the one expression when one is.
func And(es ...*Expr) *Expr {
	var args []Expr
	for _, e := range es {
		if e != nil {
			args = append(args, *e)
		}
	}
	switch len(args) {
	case 0:
		return nil
	case 1:
		return &args[0]
	}
	return &Expr{Op: OpAnd, Args: args}
}

// NodeField reports whether name is a node field (FieldID, FieldClass or
// one of the times) rather than an attribute.
func NodeField(name string) bool {
	switch name {
	case FieldID, FieldClass, FieldCreatedAt, FieldUpdatedAt, FieldLastSeenAt:
		return true
	}
	return false
}

// TimeField reports whether name is one of the node's time fields.
func TimeField(name string) bool {
	return name == FieldCreatedAt || name == FieldUpdatedAt || name == FieldLastSeenAt
}

// ExprPath returns the path of the operand of op number i (or the only one,
// for not) below path, as the where input spells it: "where.and[2]".
func ExprPath(path string, op Op, i int) string {
	if op == OpNot {
		return path + ".not"
	}
	return path + "." + string(op) + "[" + strconv.Itoa(i) + "]"
}

// CheckShape validates e's structure without looking at value types: the
// limits (MaxExprDepth, MaxExprNodes, MaxExprValues), operand counts, and
// field names that are identifiers. Errors are *InvalidErrors naming the
// node as the where input spells it, below path.
func (e *Expr) CheckShape(path string) error {
	var nodes, values int
	return e.checkShape(path, 1, &nodes, &values)
}

func (e *Expr) checkShape(path string, depth int, nodes, values *int) error {
	if e.Path != "" {
		path = e.Path
	}
	*nodes++
	if *nodes > MaxExprNodes {
		return Invalid(path, "a filter has at most %d operators and comparisons", MaxExprNodes)
	}
	if depth > MaxExprDepth {
		return Invalid(path, "and / or / not nest at most %d deep", MaxExprDepth)
	}
	switch e.Op {
	case OpAnd, OpOr, OpNot:
		if e.Field != "" || e.Value != nil || e.Values != nil {
			return Invalid(path, "%s takes operands only, not a field or value", e.Op)
		}
		if len(e.Args) == 0 {
			return Invalid(path+"."+string(e.Op), "needs at least one operand")
		}
		if e.Op == OpNot && len(e.Args) != 1 {
			return Invalid(path+".not", "takes exactly one operand")
		}
		for i := range e.Args {
			if err := e.Args[i].checkShape(ExprPath(path, e.Op, i), depth+1, nodes, values); err != nil {
				return err
			}
		}
		return nil
	case OpEq, OpIn, OpPrefix, OpContains, OpLt, OpLte, OpGt, OpGte, OpExists:
	case "":
		return Invalid(path, "needs an operator: and, or, not, or a field or attribute with one of eq, in, prefix, contains, lt, lte, gt, gte, exists")
	default:
		return Invalid(path, "unknown operator %q; allowed: and, or, not, eq, in, prefix, contains, lt, lte, gt, gte, exists", clip(string(e.Op), 40))
	}
	if len(e.Args) > 0 {
		return Invalid(path, "a comparison has no operands")
	}
	if !ValidIdentifier(e.Field) {
		return Invalid(path+".attribute", "%q is not an attribute name: a letter followed by letters, digits or underscores (at most 64)", clip(e.Field, 80))
	}
	if e.Op == OpIn {
		if len(e.Values) == 0 {
			return Invalid(path+".in", "needs at least one value")
		}
		*values += len(e.Values)
		if *values > MaxExprValues {
			return Invalid(path+".in", "a filter's in lists hold at most %d values together", MaxExprValues)
		}
		return nil
	}
	if e.Values != nil {
		return Invalid(path+"."+string(e.Op), "takes one value, not a list of values")
	}
	if e.Value == nil {
		return Invalid(path+"."+string(e.Op), "needs a value")
	}
	return nil
}

// Check validates e as backends accept it: CheckShape, and values of the
// store's types that suit their operator and field. Backends call it on
// every expression they compile.
func (e *Expr) Check(path string) error {
	if err := e.CheckShape(path); err != nil {
		return err
	}
	return e.checkValues(path)
}

func (e *Expr) checkValues(path string) error {
	if e.Path != "" {
		path = e.Path
	}
	switch e.Op {
	case OpAnd, OpOr, OpNot:
		for i := range e.Args {
			if err := e.Args[i].checkValues(ExprPath(path, e.Op, i)); err != nil {
				return err
			}
		}
		return nil
	case OpIn:
		var first string
		for i, v := range e.Values {
			p := fmt.Sprintf("%s.in[%d]", path, i)
			if err := checkOperand(p, e.Field, OpEq, v); err != nil {
				return err
			}
			if _, ok := v.([]string); ok {
				return Invalid(p, "in takes single values, not lists")
			}
			if t := fmt.Sprintf("%T", v); i == 0 {
				first = t
			} else if t != first {
				return Invalid(p, "all values of in must have one type")
			}
		}
		return nil
	}
	return checkOperand(path+"."+string(e.Op), e.Field, e.Op, e.Value)
}

// checkOperand checks that v, a value of op on field, has a type op and
// field accept.
func checkOperand(path, field string, op Op, v any) error {
	switch x := v.(type) {
	case string:
		if len(x) > MaxExprText {
			return Invalid(path, "a filter string is at most %d bytes, got %d", MaxExprText, len(x))
		}
		if op == OpExists || TimeField(field) {
			break
		}
		return nil
	case int64, float64:
		if op == OpExists || op == OpPrefix || op == OpContains || NodeField(field) {
			break
		}
		if f, ok := x.(float64); ok && f != f {
			return Invalid(path, "NaN is not a number a filter can compare")
		}
		return nil
	case bool:
		if op == OpExists || (op == OpEq && !NodeField(field)) {
			return nil
		}
	case time.Time:
		if err := CheckTime(path, x); err != nil {
			return err
		}
		if op == OpPrefix || op == OpContains || op == OpExists || (NodeField(field) && !TimeField(field)) {
			break
		}
		return nil
	case []string:
		if op != OpEq || NodeField(field) {
			break
		}
		if len(x) > MaxExprValues {
			return Invalid(path, "at most %d list elements", MaxExprValues)
		}
		for i, s := range x {
			if len(s) > MaxExprText {
				return Invalid(fmt.Sprintf("%s[%d]", path, i), "a filter string is at most %d bytes", MaxExprText)
			}
		}
		return nil
	default:
		return Invalid(path, "unsupported value type %T", v)
	}
	return Invalid(path, "%s does not take a %s value on %s", op, valueKind(v), fieldKind(field))
}

func valueKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case time.Time:
		return "time"
	case []string:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

func fieldKind(field string) string {
	if NodeField(field) {
		return "the node field " + field
	}
	return "attribute " + field
}

// Sort orders a list by one field, then by ID in the same direction, so
// that the order is total and keyset cursors are exact. The zero Sort is
// by ID ascending.
type Sort struct {
	// Field is FieldID (or ""), FieldClass, one of the time fields, or one
	// of SortableAttributes.
	Field string
	Desc  bool
}

// SortableAttributes are the attributes a list may be sorted by: the
// indexed copies every backend keeps of them (embedded: columns of cis;
// Neo4j: indexed properties). Values are compared exactly (byte order of
// their UTF-8), not folded; CIs without the attribute come last in
// ascending order and first in descending order.
var SortableAttributes = []string{"name", "status", "environment", "owner", "support_group"}

// SortFields lists every accepted Sort.Field, for error messages.
func SortFields() []string {
	return append([]string{FieldID, FieldClass, FieldCreatedAt, FieldUpdatedAt, FieldLastSeenAt}, SortableAttributes...)
}

// Check returns an *InvalidError on "orderBy.field" for a field that
// cannot be sorted by.
func (s Sort) Check() error {
	if s.Field == "" || slices.Contains(SortFields(), s.Field) {
		return nil
	}
	return Invalid("orderBy.field", "cannot sort by %q; allowed: %s", clip(s.Field, 80), strings.Join(SortFields(), ", "))
}

// ByID reports whether s is the ID order (the default).
func (s Sort) ByID() bool { return s.Field == "" || s.Field == FieldID }

// Nullable reports whether some nodes may lack s's field.
func (s Sort) Nullable() bool { return slices.Contains(SortableAttributes, s.Field) }

// SortKey returns c's value of s's field: a string, a time, or nil when c
// has none.
func (s Sort) SortKey(c CI) any {
	switch s.Field {
	case "", FieldID:
		return string(c.ID)
	case FieldClass:
		return c.Class
	case FieldCreatedAt:
		return c.CreatedAt
	case FieldUpdatedAt:
		return c.UpdatedAt
	case FieldLastSeenAt:
		return c.LastSeenAt
	}
	if v, ok := c.Attributes[s.Field].(string); ok {
		return v
	}
	return nil
}

// SortCursor is a position in a sorted list: after the item whose sort key
// is Key (nil when it had none) and whose ID is ID.
type SortCursor struct {
	Key any
	ID  string
}

const sortCursorPrefix = "s1\x1f"

// EncodeSortCursor returns the cursor of c in a list sorted by s. The ID
// order keeps the cursors of EncodeCursor, so cursors given out before
// sorting existed still work.
func EncodeSortCursor(s Sort, c CI) string {
	if s.ByID() && !s.Desc {
		return EncodeCursor(string(c.ID))
	}
	dir := "a"
	if s.Desc {
		dir = "d"
	}
	key := "n"
	switch v := s.SortKey(c).(type) {
	case string:
		key = "s" + v
	case time.Time:
		key = "t" + strconv.FormatInt(v.UnixNano(), 10)
	}
	field := s.Field
	if field == "" {
		field = FieldID
	}
	return EncodeCursor(sortCursorPrefix + field + "\x1f" + dir + "\x1f" + string(c.ID) + "\x1f" + key)
}

// DecodeSortCursor reverses EncodeSortCursor for a list sorted by s: nil
// for an empty cursor, an *InvalidError on "after" for a cursor of another
// list or another order.
func DecodeSortCursor(s Sort, cursor string) (*SortCursor, error) {
	if s.ByID() && !s.Desc {
		id, err := DecodeIDCursor(cursor)
		if err != nil || id == "" {
			return nil, err
		}
		return &SortCursor{Key: id, ID: id}, nil
	}
	raw, err := DecodeCursor(cursor)
	if err != nil || raw == "" {
		return nil, err
	}
	bad := Invalid("after", "not a cursor of this list in this order (orderBy must not change between pages)")
	rest, ok := strings.CutPrefix(raw, sortCursorPrefix)
	if !ok {
		return nil, bad
	}
	parts := strings.SplitN(rest, "\x1f", 4)
	field := s.Field
	if field == "" {
		field = FieldID
	}
	dir := "a"
	if s.Desc {
		dir = "d"
	}
	if len(parts) != 4 || parts[0] != field || parts[1] != dir || !canonicalUUID(parts[2]) || parts[3] == "" {
		return nil, bad
	}
	c := &SortCursor{ID: parts[2]}
	switch k := parts[3]; {
	case k == "n" && s.Nullable():
	case k[0] == 's' && !TimeField(field):
		c.Key = k[1:]
	case k[0] == 't' && TimeField(field):
		n, err := strconv.ParseInt(k[1:], 10, 64)
		if err != nil {
			return nil, bad
		}
		c.Key = time.Unix(0, n).UTC()
	default:
		return nil, bad
	}
	if s.ByID() && c.Key != c.ID {
		return nil, bad
	}
	return c, nil
}

// CheckOffset validates an offset page request: Offset >= 0, not together
// with After, and Offset + page size <= MaxOffsetWindow. It returns the
// page size.
func (p PageRequest) CheckOffset() (int, error) {
	size, err := PageRequest{First: p.First, After: p.After}.PageSize()
	if err != nil {
		return 0, err
	}
	switch {
	case p.Offset < 0:
		return 0, Invalid("offset", "must not be negative, got %d", p.Offset)
	case p.Offset > 0 && p.After != "":
		return 0, Invalid("offset", "cannot be combined with after: page by offset or by cursor")
	case p.Offset+size > MaxOffsetWindow:
		return 0, Invalid("offset", "offset + first must be at most %d, got %d; page further with after (cursors)", MaxOffsetWindow, p.Offset+size)
	}
	return size, nil
}

// Expr returns f's fields as one filter expression (nil when f selects
// everything), and f.Where with them: one tree for a backend to compile.
// The fixed fields are checked as before (attribute names by
// CheckAttributeNames on "filter.attributes"); f.Where by Check on
// "where".
func (f NodeFilter) Expr() (*Expr, error) {
	if f.Kind != AnyKind && !ValidIdentifier(string(f.Kind)) {
		return nil, Invalid("kind", "%q is not a node kind", clip(string(f.Kind), 80))
	}
	var parts []*Expr
	leaf := func(op Op, field string, v any, cs bool) {
		parts = append(parts, &Expr{Op: op, Field: field, Value: v, CaseSensitive: cs})
	}
	in := func(field string, vs []any, cs bool) {
		if len(vs) == 1 {
			leaf(OpEq, field, vs[0], cs)
			return
		}
		parts = append(parts, &Expr{Op: OpIn, Field: field, Values: vs, CaseSensitive: cs})
	}
	if len(f.Classes) > 0 {
		in(FieldClass, anys(f.Classes), true)
	}
	if len(f.IDs) > 0 {
		in(FieldID, anys(f.IDs), true)
	}
	if len(f.Status) > 0 {
		in("status", anys(f.Status), true)
	}
	if f.Environment != "" {
		leaf(OpEq, "environment", f.Environment, true)
	}
	if f.Owner != "" {
		leaf(OpEq, "owner", f.Owner, f.CaseSensitive)
	}
	if f.SupportGroup != "" {
		leaf(OpEq, "support_group", f.SupportGroup, f.CaseSensitive)
	}
	if f.Tag != "" {
		leaf(OpContains, "tags", f.Tag, f.CaseSensitive)
	}
	if f.Name != "" {
		leaf(OpEq, "name", f.Name, f.CaseSensitive)
	}
	if f.NamePrefix != "" {
		leaf(OpPrefix, "name", f.NamePrefix, f.CaseSensitive)
	}
	if len(f.Attributes) > 0 {
		if err := CheckAttributeNames("filter.attributes", f.Attributes); err != nil {
			return nil, err
		}
		for _, k := range sortedAttrNames(f.Attributes) {
			switch v := f.Attributes[k].(type) {
			case string, bool, int64, float64, time.Time, []string:
				leaf(OpEq, k, v, f.CaseSensitive)
			default:
				return nil, Invalid("filter.attributes."+k, "unsupported value type %T", v)
			}
		}
	}
	if !f.SeenBefore.IsZero() {
		leaf(OpLt, FieldLastSeenAt, clampTime(f.SeenBefore), true)
	}
	if f.Where != nil {
		if err := f.Where.Check("where"); err != nil {
			return nil, err
		}
		parts = append(parts, f.Where)
	}
	return And(parts...), nil
}

// clampTime brings t into MinTime to MaxTime.
func clampTime(t time.Time) time.Time {
	switch {
	case t.Before(MinTime):
		return MinTime
	case t.After(MaxTime):
		return MaxTime
	}
	return t.UTC()
}

func anys[T ~string](l []T) []any {
	out := make([]any, len(l))
	for i, v := range l {
		out[i] = string(v)
	}
	return out
}

func sortedAttrNames(a Attributes) []string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// RenderBool writes the boolean structure of e, as both backends' query
// languages spell it, with write: and / or as a parenthesised list, not as
// "NOT coalesce((...), <falseLit>)" so that a comparison on a missing value
// (null in SQL and Cypher), which matches nothing, negates to a match (the
// two-valued logic both backends share). leaf writes each comparison.
func RenderBool(e *Expr, write func(string), leaf func(*Expr) error, falseLit string) error {
	switch e.Op {
	case OpAnd, OpOr:
		sep := " AND "
		if e.Op == OpOr {
			sep = " OR "
		}
		write("(")
		for i := range e.Args {
			if i > 0 {
				write(sep)
			}
			if err := RenderBool(&e.Args[i], write, leaf, falseLit); err != nil {
				return err
			}
		}
		write(")")
		return nil
	case OpNot:
		write("NOT coalesce((")
		if err := RenderBool(&e.Args[0], write, leaf, falseLit); err != nil {
			return err
		}
		write("), " + falseLit + ")")
		return nil
	}
	return leaf(e)
}

// ComparisonOperator is the SQL and Cypher operator of a comparison op
// (OpLt, OpLte, OpGt, OpGte; " = " for any other).
func ComparisonOperator(op Op) string {
	switch op {
	case OpLt:
		return " < "
	case OpLte:
		return " <= "
	case OpGt:
		return " > "
	case OpGte:
		return " >= "
	}
	return " = "
}
