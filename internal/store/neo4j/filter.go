package neo4j

import (
	"strconv"
	"strings"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// cypherFilter compiles a checked store.Expr into one Cypher condition on
// the node c. Only fixed text is produced: every value is a parameter, and
// attribute names are parameters too (c[$fN]); node fields and the
// properties of foldedProps are fixed names of this package.
type cypherFilter struct {
	b      strings.Builder
	params map[string]any
	n      int
}

// compileFilter returns e as a Cypher condition on c, adding its
// parameters to params ("" for nil).
func compileFilter(e *store.Expr, params map[string]any) (string, error) {
	if e == nil {
		return "", nil
	}
	c := &cypherFilter{params: params}
	if err := c.expr(e); err != nil {
		return "", err
	}
	return c.b.String(), nil
}

// param adds a parameter and returns its reference.
func (c *cypherFilter) param(v any) string {
	name := "f" + strconv.Itoa(c.n)
	c.n++
	c.params[name] = v
	return "$" + name
}

func (c *cypherFilter) w(s ...string) {
	for _, x := range s {
		c.b.WriteString(x)
	}
}

func (c *cypherFilter) expr(e *store.Expr) error {
	return store.RenderBool(e, func(s string) { c.w(s) }, c.leaf, "false")
}

// nodeProps are the node fields and indexed text attributes, by their
// fixed property names.
var nodeProps = map[string]string{
	store.FieldID: "c.id", store.FieldClass: "c.class", store.FieldCreatedAt: "c.created_at",
	store.FieldUpdatedAt: "c.updated_at", store.FieldLastSeenAt: "c.last_seen_at",
	"name": "c.name", "status": "c.status", "environment": "c.environment", "owner": "c.owner", "support_group": "c.support_group",
}

func (c *cypherFilter) leaf(e *store.Expr) error {
	prop, fixed := nodeProps[e.Field]
	if !fixed {
		prop = "c[" + c.param(e.Field) + "]"
	}
	if e.Op == store.OpExists {
		if set, _ := e.Value.(bool); set {
			c.w(prop, " IS NOT NULL")
		} else {
			c.w(prop, " IS NULL")
		}
		return nil
	}
	v := e.Value
	if e.Op == store.OpIn {
		v = e.Values[0]
	}
	switch x := v.(type) {
	case string:
		exact := e.CaseSensitive || e.Field == store.FieldID || e.Field == store.FieldClass
		if e.Op == store.OpContains && !store.NodeField(e.Field) {
			// A substring of a string, or an element of a list.
			list := prop
			val := x
			if !exact {
				val = store.FoldText(x)
				if p, ok := foldedProps[e.Field]; ok && e.Field == "tags" {
					list = "c." + p
				} else {
					list = "[s IN " + prop + " | toLower(s)]"
				}
			}
			ref := c.param(val)
			c.w("CASE WHEN ", prop, " IS :: LIST<STRING NOT NULL> THEN ", ref, " IN ", list)
			if e.Field != "tags" { // tags are a list; another stored value is not (as on the embedded store)
				c.w(" WHEN ", prop, " IS :: STRING THEN ")
				c.text(e, prop, exact)
			}
			c.w(" ELSE false END")
			return nil
		}
		if fixed { // always a string where set: no guard, so indexes serve
			c.text(e, prop, exact)
			return nil
		}
		c.w("CASE WHEN ", prop, " IS :: STRING THEN ")
		c.text(e, prop, exact)
		c.w(" ELSE false END")
		return nil
	case int64, float64:
		c.w("CASE WHEN ", prop, " IS :: INTEGER | FLOAT THEN ")
		c.compare(e, prop, func(v any) any { return v })
		c.w(" ELSE false END")
		return nil
	case bool:
		c.w("CASE WHEN ", prop, " IS :: BOOLEAN THEN ")
		c.compare(e, prop, func(v any) any { return v })
		c.w(" ELSE false END")
		return nil
	case time.Time:
		if fixed {
			c.compare(e, prop, func(v any) any { return v.(time.Time).UTC() })
			return nil
		}
		c.w("CASE WHEN ", prop, " IS :: ZONED DATETIME THEN ")
		c.compare(e, prop, func(v any) any { return v.(time.Time).UTC() })
		c.w(" ELSE false END")
		return nil
	case []string:
		c.w(prop, " = ", c.param(append([]string{}, x...)))
		return nil
	}
	return store.Invalid("where", "unsupported value type %T on %s", v, e.Field)
}

func (c *cypherFilter) compare(e *store.Expr, lhs string, conv func(any) any) {
	if e.Op == store.OpIn {
		vs := make([]any, len(e.Values))
		for i, v := range e.Values {
			vs[i] = conv(v)
		}
		c.w(lhs, " IN ", c.param(vs))
		return
	}
	c.w(lhs, store.ComparisonOperator(e.Op), c.param(conv(e.Value)))
}

// text writes a string comparison of the string-valued lhs, folded unless
// exact (through the indexed folded copy where there is one).
func (c *cypherFilter) text(e *store.Expr, lhs string, exact bool) {
	fold := func(v any) any { return v }
	if !exact {
		if p, ok := foldedProps[e.Field]; ok && e.Field != "tags" {
			lhs = "c." + p
		} else {
			lhs = "toLower(" + lhs + ")"
		}
		fold = func(v any) any { return store.FoldText(v.(string)) }
	}
	switch e.Op {
	case store.OpPrefix:
		c.w(lhs, " STARTS WITH ", c.param(fold(e.Value)))
	case store.OpContains:
		c.w(lhs, " CONTAINS ", c.param(fold(e.Value)))
	default:
		c.compare(e, lhs, fold)
	}
}

// sortProp is the property a sort reads.
func sortProp(s store.Sort) string {
	if s.ByID() {
		return "c.id"
	}
	return nodeProps[s.Field]
}

// cypherPart is one query of a sorted page: its conditions besides the
// filter (parameters in the shared map) and its ORDER BY.
type cypherPart struct {
	conds []string
	order string
	skip  bool
	// first marks the first of two parts: an offset page that passes it
	// counts its nodes.
	first bool
}

// cypherParts splits the order of s after cursor a into the queries that
// read it, as the embedded store does: a sort on a field some CIs lack
// reads the CIs that have it (a range of the field's index) and those that
// do not, missing values last in ascending order, first in descending
// order (Neo4j's own order of nulls); a condition "missing or after the
// cursor" would keep the index from serving the range.
func cypherParts(s store.Sort, a *store.SortCursor, params map[string]any) []cypherPart {
	p := sortProp(s)
	dir, lt, le := "", ">", ">="
	if s.Desc {
		dir, lt, le = " DESC", "<", "<="
	}
	if !s.Nullable() {
		part := cypherPart{order: " ORDER BY " + p + dir + ", c.id" + dir}
		if s.ByID() {
			part.order = " ORDER BY c.id" + dir
		}
		if a != nil {
			part.conds = []string{cypherAfter(s, a, params)}
		}
		return []cypherPart{part}
	}
	set := cypherPart{conds: []string{p + " IS NOT NULL"}, order: " ORDER BY " + p + dir + ", c.id" + dir}
	unset := cypherPart{conds: []string{p + " IS NULL"}, order: " ORDER BY c.id" + dir}
	if a != nil {
		params["afterID"] = a.ID
		if a.Key == nil {
			unset.conds = append(unset.conds, "c.id "+lt+" $afterID")
			set.skip = !s.Desc
		} else {
			params["afterKey"] = a.Key
			set.conds = append(set.conds, p+" "+le+" $afterKey AND ("+p+" "+lt+" $afterKey OR c.id "+lt+" $afterID)")
			unset.skip = s.Desc
		}
	}
	if s.Desc {
		unset.first = true
		return []cypherPart{unset, set}
	}
	set.first = true
	return []cypherPart{set, unset}
}

// cypherAfter is the condition of the nodes after cursor a in the order of
// a sort on a field every CI has.
func cypherAfter(s store.Sort, a *store.SortCursor, params map[string]any) string {
	p := sortProp(s)
	lt, le := ">", ">="
	if s.Desc {
		lt, le = "<", "<="
	}
	params["afterID"] = a.ID
	if s.ByID() {
		return "c.id " + lt + " $afterID"
	}
	if t, ok := a.Key.(time.Time); ok {
		params["afterKey"] = t.UTC()
	} else {
		params["afterKey"] = a.Key
	}
	return p + " " + le + " $afterKey AND (" + p + " " + lt + " $afterKey OR c.id " + lt + " $afterID)"
}
