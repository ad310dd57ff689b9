package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/skein-cmdb/skein/internal/store"
)

// Codes of the limit errors, in `extensions.code`.
const (
	CodeQueryTooDeep          = "QUERY_TOO_DEEP"
	CodeComplexityLimit       = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeTooManyAliases        = "TOO_MANY_ALIASES"
	CodeTooManyOperations     = "TOO_MANY_OPERATIONS"
	CodeTooManySelections     = "TOO_MANY_SELECTIONS"
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
)

// Defaults of Options.MaxAliases, Options.MaxOperations and
// Options.MaxSelections when left 0.
const (
	DefaultMaxAliases    = 30
	DefaultMaxOperations = 10
	DefaultMaxSelections = 2000
)

func limitError(code string, limit int, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": code}
	if limit >= 0 {
		err.Extensions["limit"] = limit
	}
	return err
}

// shapeLimit refuses, before any resolver runs, operations that nest
// deeper than maxDepth, hold more than maxAliases aliased fields, or expand
// to more than maxFields fields. Fragments count each time they are spread,
// at the depth they are spread, so a small document cannot multiply work
// through nested spreads; each fragment is measured once (memoised) and
// counts saturate, so the check itself stays linear in the document.
//
// maxFields is the complexity limit: every field costs at least 1, so an
// operation expanding to more fields exceeds it. Checking here first keeps
// gqlgen's complexity calculation, which expands every spread, from
// running on documents like "fragment F1 { ...F2 ...F2 } fragment F2 ...",
// whose expansion doubles with each fragment.
type shapeLimit struct{ maxDepth, maxAliases, maxFields int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = shapeLimit{}

func (shapeLimit) ExtensionName() string                   { return "ShapeLimit" }
func (shapeLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (l shapeLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := shapeWalker{cap: max(l.maxAliases, l.maxFields) + 1, frags: map[string]shape{}, visiting: map[string]bool{}}
	sh := w.set(oc.Operation.SelectionSet)
	switch {
	case sh.depth > l.maxDepth:
		return limitError(CodeQueryTooDeep, l.maxDepth, "query is nested %d levels deep; the limit is %d (graphql.max_depth)", sh.depth, l.maxDepth)
	case sh.aliases > l.maxAliases:
		return limitError(CodeTooManyAliases, l.maxAliases,
			"operation has more than %d aliased fields (graphql.max_aliases); ask for fewer, or split it into several requests", l.maxAliases)
	case sh.fields > l.maxFields:
		return limitError(CodeComplexityLimit, l.maxFields,
			"operation expands to more than %d fields, which exceeds the limit of %d (graphql.max_complexity)", l.maxFields, l.maxFields)
	}
	return nil
}

// shape is what shapeLimit measures of a selection set: its depth, and its
// aliased and total fields with fragments expanded (saturating).
type shape struct{ depth, aliases, fields int }

type shapeWalker struct {
	cap      int
	frags    map[string]shape // each fragment's shape, at depth 0
	visiting map[string]bool
}

func (w *shapeWalker) set(set ast.SelectionSet) shape {
	var out shape
	add := func(s shape, depth int) {
		out.depth = max(out.depth, depth+s.depth)
		out.aliases = min(w.cap, out.aliases+s.aliases)
		out.fields = min(w.cap, out.fields+s.fields)
	}
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			child := w.set(s.SelectionSet)
			child.fields++
			if s.Alias != "" && s.Alias != s.Name { // the parser sets Alias to Name when there is none
				child.aliases++
			}
			add(child, 1)
		case *ast.InlineFragment:
			add(w.set(s.SelectionSet), 0)
		case *ast.FragmentSpread:
			if s.Definition == nil || w.visiting[s.Name] {
				continue // validation rejects fragment cycles
			}
			f, ok := w.frags[s.Name]
			if !ok {
				w.visiting[s.Name] = true
				f = w.set(s.Definition.SelectionSet)
				delete(w.visiting, s.Name)
				w.frags[s.Name] = f
			}
			add(f, 0)
		}
	}
	return out
}

// documentLimit refuses, before the document is parsed and validated,
// documents with more than maxOperations operation definitions or more
// than maxSelections selections, and documents whose repeated fields
// would make validation slow. It measures them with one scan of the
// lexer, so a hostile document costs a linear scan, not a validation.
//
// Validation (the rule that fields of one response name can be merged)
// compares every pair of fields that share a response name, and their
// arguments: "{ version version ... }" 20,000 times costs 40 s of CPU, and
// 2,000 repetitions of a field with a 60-key object argument cost a
// minute. So besides the count of selections, each response name weighs
// k × (k + its fields' argument tokens) when it is written k times, and
// the total may not exceed maxSelections² (what maxSelections repetitions
// of one field without arguments weigh). Documents that do not repeat
// fields by the hundred never come near it.
type documentLimit struct{ maxOperations, maxSelections int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimit{}

func (documentLimit) ExtensionName() string                   { return "DocumentLimit" }
func (documentLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d documentLimit) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	m := measureDocument(p.Query, d.maxOperations, d.maxSelections)
	switch {
	case m.operations > d.maxOperations:
		return limitError(CodeTooManyOperations, d.maxOperations,
			"document holds more than %d operations (graphql.max_operations); send one operation per request, or name the one to run with operationName", d.maxOperations)
	case m.selections > d.maxSelections:
		return limitError(CodeTooManySelections, d.maxSelections,
			"document holds more than %d selections (fields, fragment spreads and inline fragments, as written; graphql.max_selections); ask for fewer fields, or split the request", d.maxSelections)
	case m.mergeWork > int64(d.maxSelections)*int64(d.maxSelections):
		return limitError(CodeTooManySelections, d.maxSelections,
			"document repeats fields under one name so often (%q, %d times) that validating it would take too long (graphql.max_selections); write each field once per selection set, or give repeated fields aliases",
			m.mostRepeated, m.repeats)
	}
	return nil
}

// docMeasure is what measureDocument finds in a document.
type docMeasure struct {
	operations int // operation definitions
	selections int // fields, fragment spreads and inline fragments, as written
	// mergeWork bounds the field comparisons of validation: the sum over
	// response names written k times of k × (k + argument tokens of those
	// fields).
	mergeWork    int64
	mostRepeated string // the response name written most often
	repeats      int    // how often
}

// measureDocument measures query with the lexer, stopping once there are
// more than maxOps operations or maxSel selections. A document the lexer
// cannot read measures 0: the parser reports it.
//
// Operations are each query, mutation or subscription keyword at the top
// level, and each top-level selection set without one (the "{ ... }"
// shorthand). Braces outside parentheses are selection sets (values, which
// may hold braces, only occur in parentheses). In a selection set, a name
// is a field unless it follows "@" (a directive), "..." (a fragment name
// or "on"), "... on" (a type condition) or an alias's ":" (the field the
// alias names); "..." is a fragment spread or an inline fragment.
func measureDocument(query string, maxOps, maxSel int) docMeasure {
	type group struct{ fields, weight int64 }
	var (
		m              docMeasure
		lx             = lexer.New(&ast.Source{Input: query})
		braces, parens int
		header         bool
		prev, prev2    lexer.Token
		groups         = map[string]*group{}
		current        *group // the field whose arguments are being read
	)
	for {
		tok, err := lx.ReadToken()
		if err != nil {
			return docMeasure{}
		}
		inSelection := braces > 0 && parens == 0
		switch tok.Kind {
		case lexer.EOF:
			for name, g := range groups {
				m.mergeWork += g.fields * g.weight
				if int(g.fields) > m.repeats || (int(g.fields) == m.repeats && name < m.mostRepeated) {
					m.mostRepeated, m.repeats = name, int(g.fields)
				}
			}
			return m
		case lexer.ParenL:
			parens++
		case lexer.ParenR:
			parens--
		case lexer.BraceR:
			if parens == 0 {
				braces--
				current = nil
			}
		case lexer.BraceL:
			if braces == 0 && parens == 0 {
				if !header {
					m.operations++ // shorthand query
				}
				header = false
			}
			if parens == 0 {
				braces++
				current = nil
			}
		case lexer.Spread:
			if inSelection {
				m.selections++
				current = nil
			}
		case lexer.Name:
			switch {
			case braces == 0 && parens == 0:
				if !header {
					switch tok.Value {
					case "query", "mutation", "subscription":
						m.operations++
						header = true
					case "fragment":
						header = true
					}
				}
			case !inSelection:
			case prev.Kind == lexer.At, prev.Kind == lexer.Spread,
				prev.Kind == lexer.Name && prev.Value == "on" && prev2.Kind == lexer.Spread:
				// directive, fragment name, "on" or type condition
			case prev.Kind == lexer.Colon:
				// the field an alias names: the alias was counted
			default:
				m.selections++
				g := groups[tok.Value]
				if g == nil {
					g = &group{}
					groups[tok.Value] = g
				}
				g.fields++
				g.weight++
				current = g
			}
		}
		if parens > 0 && current != nil && tok.Kind != lexer.ParenL {
			current.weight++ // an argument token of the current field
		}
		if m.operations > maxOps || m.selections > maxSel {
			return m
		}
		prev2, prev = prev, tok
	}
}

// introspectionOff refuses operations that select __schema or __type, with
// a code and the key that turns introspection on. Without it gqlgen answers
// such fields with a bare "introspection disabled" resolver error, which
// the error presenter can only report as internal. __typename stays allowed.
type introspectionOff struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = introspectionOff{}

func (introspectionOff) ExtensionName() string                   { return "IntrospectionOff" }
func (introspectionOff) Validate(graphql.ExecutableSchema) error { return nil }
func (introspectionOff) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !selectsIntrospection(oc.Operation.SelectionSet, map[string]bool{}) {
		return nil
	}
	return limitError(CodeIntrospectionDisabled, -1,
		"introspection (__schema, __type) is disabled on this server (graphql.introspection)")
}

// selectsIntrospection reports whether the root selection set selects
// __schema or __type, directly or through fragments (they exist on the
// query root only).
func selectsIntrospection(set ast.SelectionSet, visiting map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if selectsIntrospection(s.SelectionSet, visiting) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue
			}
			visiting[s.Name] = true
			if selectsIntrospection(s.Definition.SelectionSet, visiting) {
				return true
			}
		}
	}
	return false
}

// complexityLimit refuses operations that cost more than max, with the key
// that sets it. Costs follow the work a field makes the server do:
//
//   - a scalar or enum field costs nothing: it is read with its object;
//   - an object field costs 1 (a resolver, often a load) plus its fields;
//   - a connection (a field returning a *Connection with a first argument)
//     costs 1, plus its pageInfo and totalCount once, plus, when its edges
//     are selected, its page size (first, or the schema's default) times
//     what one edge costs (at least 1): a count is not a page;
//   - a traversal (dependencies, dependents, impactAnalysis) costs 1 plus
//     100 times what one reached item costs (at least 1), plus its pages
//     (impactedPage, nodesPage) at a page's cost;
//   - cmdbHealth costs 1 plus its first (offenders per figure, default 20)
//     times what its selection costs (at least 1): each figure lists up to
//     first CIs.
//
// Fragments count each time they are spread. shapeLimit runs first and
// bounds the expanded operation, so this walk is bounded too.
type complexityLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = complexityLimit{}

func (complexityLimit) ExtensionName() string                   { return "ComplexityLimit" }
func (complexityLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (c complexityLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	w := costWalker{vars: oc.Variables, cap: math.MaxInt32}
	if cost := w.set(oc.Operation.SelectionSet); cost > c.max {
		shown := fmt.Sprint(cost)
		if cost >= w.cap {
			shown = fmt.Sprintf("more than %d", w.cap-1)
		}
		return limitError(CodeComplexityLimit, c.max,
			"operation has complexity %s, which exceeds the limit of %d (graphql.max_complexity): a page costs its size times what each item costs; ask for smaller pages or fewer nested lists", shown, c.max)
	}
	return nil
}

// traversalFields return what a traversal reaches, up to its node budget.
var traversalFields = map[string]bool{"CI.dependencies": true, "CI.dependents": true, "Query.impactAnalysis": true}

// healthDefaultFirst is cmdbHealth's default first.
const healthDefaultFirst = 20

// traversalCost is what a traversal costs per reached item.
const traversalCost = 100

// costWalker computes complexityLimit's costs, saturating at cap.
type costWalker struct {
	vars map[string]any
	cap  int
}

func (w costWalker) add(a, b int) int { return min(w.cap, a+b) }

func (w costWalker) mul(n, each int) int {
	if n <= 0 || each <= 0 {
		return 0
	}
	if n >= w.cap || each >= w.cap || n > w.cap/each {
		return w.cap
	}
	return n * each
}

func (w costWalker) set(set ast.SelectionSet) int {
	cost := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			cost = w.add(cost, w.field(s))
		case *ast.InlineFragment:
			cost = w.add(cost, w.set(s.SelectionSet))
		case *ast.FragmentSpread:
			if s.Definition != nil {
				cost = w.add(cost, w.set(s.Definition.SelectionSet))
			}
		}
	}
	return cost
}

func (w costWalker) field(f *ast.Field) int {
	if f.Definition == nil || len(f.SelectionSet) == 0 || strings.HasPrefix(f.Name, "__") {
		return 0 // scalars, enums, __typename; introspection has its own switch
	}
	name := ""
	if f.ObjectDefinition != nil {
		name = f.ObjectDefinition.Name + "." + f.Name
	}
	switch {
	case isConnection(f):
		perPage, perItem, items := w.page(f.SelectionSet)
		cost := w.add(1, perPage)
		if items {
			n := pageSize(f.ArgumentMap(w.vars)["first"])
			if n <= 0 { // null or 0: what the resolver serves then
				n = store.DefaultPageSize
				if def := f.Definition.Arguments.ForName("first").DefaultValue; def != nil {
					if v, err := def.Value(nil); err == nil {
						n = max(n, pageSize(v))
					}
				}
			}
			cost = w.add(cost, w.mul(n, max(1, perItem)))
		}
		return cost
	case traversalFields[name]:
		perItem, pages := w.traversal(f.SelectionSet)
		return w.add(w.add(1, w.mul(traversalCost, max(1, perItem))), pages)
	case name == "Query.cmdbHealth":
		n := pageSize(f.ArgumentMap(w.vars)["first"])
		if n <= 0 {
			n = healthDefaultFirst
		}
		return w.add(1, w.mul(n, max(1, w.set(f.SelectionSet))))
	}
	return w.add(1, w.set(f.SelectionSet))
}

// traversal splits a traversal's selections into what is paid for every
// CI it may reach (lists, roll-ups) and its pages (impactedPage,
// nodesPage), which cost their own size: a page of a hub's answer is the
// cheap way to show it, not a hundred times its size.
func (w costWalker) traversal(set ast.SelectionSet) (perItem, pages int) {
	for _, sel := range set {
		var pi, pg int
		switch s := sel.(type) {
		case *ast.Field:
			if isConnection(s) {
				pg = w.field(s)
			} else {
				pi = w.field(s)
			}
		case *ast.InlineFragment:
			pi, pg = w.traversal(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				pi, pg = w.traversal(s.Definition.SelectionSet)
			}
		}
		perItem, pages = w.add(perItem, pi), w.add(pages, pg)
	}
	return perItem, pages
}

// isConnection reports whether f returns a page: a *Connection with a
// first argument.
func isConnection(f *ast.Field) bool {
	return f.Definition != nil && strings.HasSuffix(f.Definition.Type.Name(), "Connection") && f.Definition.Arguments.ForName("first") != nil
}

// page splits a connection's selections into what is paid once per page
// and what is paid per item (its edges), and says whether edges are asked.
func (w costWalker) page(set ast.SelectionSet) (perPage, perItem int, items bool) {
	for _, sel := range set {
		var pp, pi int
		var it bool
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "edges" {
				pi, it = w.set(s.SelectionSet), true
			} else {
				pp = w.field(s)
			}
		case *ast.InlineFragment:
			pp, pi, it = w.page(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				pp, pi, it = w.page(s.Definition.SelectionSet)
			}
		}
		perPage, perItem, items = w.add(perPage, pp), w.add(perItem, pi), items || it
	}
	return perPage, perItem, items
}

// pageSize reads a first argument as the complexity counts it; a null or
// unreadable one reads 0.
func pageSize(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case int32:
		return int(n)
	case int64:
		return int(min(n, math.MaxInt32))
	case float64:
		return int(min(n, math.MaxInt32))
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0
		}
		return int(min(i, math.MaxInt32))
	}
	return 0
}
