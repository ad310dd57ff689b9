package embedded

import (
	"database/sql/driver"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"

	"github.com/skein-cmdb/skein/internal/store"
)

// nanosFunc is the SQL name of a function that reads a time as the store
// encodes it (RFC 3339 with nanoseconds, store.EncodeAttributes) and
// returns its Unix nanoseconds, or NULL for anything else: time attributes
// compare as instants, not as text. No index holds its results.
const nanosFunc = "skein_nanos1"

var registerNanos = sync.OnceValue(func() error {
	return sqlite.RegisterDeterministicScalarFunction(nanosFunc, 1, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var s string
		switch v := args[0].(type) {
		case string:
			s = v
		case []byte:
			s = string(v)
		default:
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, nil
		}
		return clampNanos(t), nil
	})
})

// textColumns are the columns of cis that copy a string attribute of the
// same name (and are indexed, some folded too: migrations 1 and 7).
var textColumns = map[string]bool{"name": true, "status": true, "environment": true, "owner": true, "support_group": true}

// timeColumns are the node's time fields, Unix nanoseconds in cis.
var timeColumns = map[string]bool{store.FieldCreatedAt: true, store.FieldUpdatedAt: true, store.FieldLastSeenAt: true}

// sqlFilter compiles a checked store.Expr into one SQL condition on cis.
// Only fixed SQL text is produced; every value, attribute names (JSON
// paths) included, is a bound parameter. With noIndex, indexed columns are
// written as +column, which keeps SQLite from driving the query by their
// indexes (it walks the uid index instead; see listCIs).
type sqlFilter struct {
	b       strings.Builder
	args    []any
	noIndex bool
}

// compileFilter returns e as an SQL condition and its arguments ("" for
// nil).
func compileFilter(e *store.Expr, noIndex bool) (string, []any, error) {
	if e == nil {
		return "", nil, nil
	}
	c := &sqlFilter{noIndex: noIndex}
	if err := c.expr(e); err != nil {
		return "", nil, err
	}
	return c.b.String(), c.args, nil
}

func (c *sqlFilter) w(s string, args ...any) {
	c.b.WriteString(s)
	c.args = append(c.args, args...)
}

func (c *sqlFilter) col(name string) string {
	if c.noIndex {
		return "+" + name
	}
	return name
}

func (c *sqlFilter) expr(e *store.Expr) error {
	return store.RenderBool(e, func(s string) { c.w(s) }, c.leaf, "0")
}

func (c *sqlFilter) leaf(e *store.Expr) error {
	if e.Op == store.OpExists {
		set, _ := e.Value.(bool)
		switch {
		case store.NodeField(e.Field):
			c.w(map[bool]string{true: "1", false: "0"}[set])
		case textColumns[e.Field]:
			c.w(e.Field + map[bool]string{true: " IS NOT NULL", false: " IS NULL"}[set])
		default:
			c.w("json_type(attrs, ?)"+map[bool]string{true: " IS NOT NULL", false: " IS NULL"}[set], "$."+e.Field)
		}
		return nil
	}
	v := e.Value
	if e.Op == store.OpIn {
		v = e.Values[0]
	}
	switch {
	case e.Field == store.FieldID:
		// The uid index drives an ID filter whatever the route.
		return c.text(e, "uid", true)
	case e.Field == store.FieldClass:
		name := "class" // the (class, uid) index gives the ID order
		if e.Op != store.OpEq {
			name = c.col("class")
		}
		return c.text(e, name, true)
	case timeColumns[e.Field]:
		return c.compare(e, c.col(e.Field), func(v any) any { return clampNanos(v.(time.Time)) })
	}
	path := "$." + e.Field // e.Field is an identifier (Expr.Check): no quoting needed
	switch x := v.(type) {
	case string:
		if textColumns[e.Field] {
			return c.text(e, c.col(e.Field), e.CaseSensitive)
		}
		if e.Field == "tags" && e.Op == store.OpContains {
			if e.CaseSensitive {
				c.w(c.col("id")+" IN (SELECT ci FROM ci_tags WHERE tag = ?)", x)
			} else {
				c.w(c.col("id")+" IN (SELECT ci FROM ci_tags WHERE "+foldFunc+"(tag) = ?)", store.FoldText(x))
			}
			return nil
		}
		if e.Op == store.OpContains {
			// Either a substring of a string or an element of a list.
			elem := "value"
			if !e.CaseSensitive {
				elem = foldFunc + "(value)"
				x = store.FoldText(x)
			}
			c.w("(CASE json_type(attrs, ?) WHEN 'text' THEN ", path)
			if err := c.text(e, "json_extract(attrs, ?)", e.CaseSensitive, path); err != nil {
				return err
			}
			c.w(" WHEN 'array' THEN EXISTS (SELECT 1 FROM json_each(attrs, ?) WHERE "+elem+" = ?) ELSE 0 END)", path, x)
			return nil
		}
		c.w("json_type(attrs, ?) = 'text' AND ", path)
		return c.text(e, "json_extract(attrs, ?)", e.CaseSensitive, path)
	case int64, float64:
		c.w("json_type(attrs, ?) IN ('integer', 'real') AND ", path)
		return c.compare(e, "json_extract(attrs, ?)", func(v any) any { return v }, path)
	case bool:
		if e.Op == store.OpIn {
			c.w("json_type(attrs, ?) IN (SELECT CASE value WHEN 1 THEN 'true' ELSE 'false' END FROM json_each(?))", path, jsonBools(e.Values))
			return nil
		}
		c.w("json_type(attrs, ?) = ?", path, map[bool]string{true: "true", false: "false"}[x])
		return nil
	case time.Time:
		c.w("json_type(attrs, ?) = 'object' AND ", path)
		return c.compare(e, nanosFunc+"(json_extract(attrs, ?))", func(v any) any { return clampNanos(v.(time.Time)) }, path+`."$time"`)
	case []string:
		c.w("json_type(attrs, ?) = 'array' AND json(json_extract(attrs, ?)) = json(?)", path, path, string(store.AppendStrings(nil, x)))
		return nil
	}
	return store.Invalid("where", "unsupported value type %T on %s", v, e.Field)
}

// compare writes a comparison of the SQL expression lhs (whose own
// parameters are lhsArgs) with e's value(s), converted by conv.
func (c *sqlFilter) compare(e *store.Expr, lhs string, conv func(any) any, lhsArgs ...any) error {
	switch e.Op {
	case store.OpEq, store.OpLt, store.OpLte, store.OpGt, store.OpGte:
		c.w(lhs+store.ComparisonOperator(e.Op)+"?", append(lhsArgs, conv(e.Value))...)
	case store.OpIn:
		vs := make([]any, len(e.Values))
		for i, v := range e.Values {
			vs[i] = conv(v)
		}
		c.w(lhs+" IN (SELECT value FROM json_each(?))", append(lhsArgs, jsonValues(vs))...)
	default:
		return store.Invalid("where", "%s does not apply to %s", e.Op, e.Field)
	}
	return nil
}

// text writes a string comparison of the SQL expression lhs, folded
// unless exact.
func (c *sqlFilter) text(e *store.Expr, lhs string, exact bool, lhsArgs ...any) error {
	fold := func(v any) any { return v }
	if !exact {
		if strings.HasPrefix(lhs, "+") {
			lhs = "+" + foldFunc + "(" + lhs[1:] + ")"
		} else {
			lhs = foldFunc + "(" + lhs + ")"
		}
		fold = func(v any) any { return store.FoldText(v.(string)) }
	}
	switch e.Op {
	case store.OpPrefix:
		p := fold(e.Value).(string)
		if hi, ok := prefixEnd(p); ok {
			c.w(lhs+" >= ? AND ", append(lhsArgs, p)...)
			c.w(lhs+" < ?", append(lhsArgs, hi)...)
		} else {
			c.w(lhs+" >= ?", append(lhsArgs, p)...)
		}
		return nil
	case store.OpContains:
		c.w("instr("+strings.TrimPrefix(lhs, "+")+", ?) > 0", append(lhsArgs, fold(e.Value))...)
		return nil
	}
	return c.compare(e, lhs, fold, lhsArgs...)
}

// jsonValues encodes strings and numbers as a JSON array for json_each.
func jsonValues(vs []any) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		switch x := v.(type) {
		case string:
			b.Write(store.AppendJSONString(nil, x))
		case float64:
			s := strconv.FormatFloat(x, 'g', -1, 64)
			if !strings.ContainsAny(s, ".eE") {
				s += ".0"
			}
			b.WriteString(s)
		case int64:
			b.WriteString(strconv.FormatInt(x, 10))
		}
	}
	b.WriteByte(']')
	return b.String()
}

func jsonBools(vs []any) string {
	l := make([]any, len(vs))
	for i, v := range vs {
		if v.(bool) {
			l[i] = int64(1)
		} else {
			l[i] = int64(0)
		}
	}
	return jsonValues(l)
}

// sortColumn is the column of cis a sort reads.
func sortColumn(s store.Sort) string {
	if s.ByID() {
		return "uid"
	}
	return s.Field
}

// orderBy is the ORDER BY clause of a sort on a field every CI has, then
// by uid (sortParts reads the others).
func orderBy(s store.Sort) string {
	col := sortColumn(s)
	dir := ""
	if s.Desc {
		dir = " DESC"
	}
	if s.ByID() {
		return " ORDER BY uid" + dir
	}
	return " ORDER BY " + col + dir + ", uid" + dir
}

// afterCond is the condition of the rows after cursor a in the order of a
// sort on a field every CI has.
func afterCond(s store.Sort, a *store.SortCursor) (string, []any) {
	col := sortColumn(s)
	lt, le := ">", ">="
	if s.Desc {
		lt, le = "<", "<="
	}
	if s.ByID() {
		return "uid " + lt + " ?", []any{a.ID}
	}
	key := a.Key
	if t, ok := key.(time.Time); ok {
		key = clampNanos(t)
	}
	return col + " " + le + " ? AND (" + col + " " + lt + " ? OR uid " + lt + " ?)", []any{key, key, a.ID}
}

// sortPart is one query of a sorted page: its conditions and arguments
// besides the filter, and its ORDER BY.
type sortPart struct {
	conds []string
	args  []any
	order string
	skip  bool
	// first marks the first of two parts: an offset page counts its rows
	// to know where the offset falls.
	first bool
}

// sortParts splits the order of s after cursor a into the queries that
// read it. A sort on a field some CIs lack is read in two parts, the CIs
// that have it (by the field's index, which holds no NULLs) and those
// that do not (by uid), in the order of s (missing values last in
// ascending order): one ORDER BY over both would sort every match for each
// page.
func sortParts(s store.Sort, a *store.SortCursor) []sortPart {
	if !s.Nullable() {
		p := sortPart{order: orderBy(s)}
		if a != nil {
			c, args := afterCond(s, a)
			p.conds, p.args = []string{c}, args
		}
		return []sortPart{p}
	}
	col := s.Field
	set := sortPart{conds: []string{col + " IS NOT NULL"}, order: " ORDER BY " + col + ", uid"}
	unset := sortPart{conds: []string{col + " IS NULL"}, order: " ORDER BY uid"}
	if s.Desc {
		set.order = " ORDER BY " + col + " DESC, uid DESC"
		unset.order = " ORDER BY uid DESC"
	}
	if a != nil {
		lt, le := ">", ">="
		if s.Desc {
			lt, le = "<", "<="
		}
		if a.Key == nil { // in the unset part: after a.ID there
			unset.conds = append(unset.conds, "uid "+lt+" ?")
			unset.args = []any{a.ID}
			set.skip = !s.Desc
		} else { // in the set part: after (key, a.ID) there
			set.conds = append(set.conds, col+" "+le+" ? AND ("+col+" "+lt+" ? OR uid "+lt+" ?)")
			set.args = []any{a.Key, a.Key, a.ID}
			unset.skip = s.Desc
		}
	}
	if s.Desc {
		unset.first = true
		return []sortPart{unset, set}
	}
	set.first = true
	return []sortPart{set, unset}
}

// indexedSort reports whether an index of cis gives s's order (all but
// the created and updated times).
func indexedSort(s store.Sort) bool {
	return s.Field != store.FieldCreatedAt && s.Field != store.FieldUpdatedAt
}
