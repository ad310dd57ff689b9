package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"
)

// Codes of the limit errors, in `extensions.code`.
const (
	CodeQueryTooDeep          = "QUERY_TOO_DEEP"
	CodeComplexityLimit       = "COMPLEXITY_LIMIT_EXCEEDED"
	CodeTooManyAliases        = "TOO_MANY_ALIASES"
	CodeTooManyOperations     = "TOO_MANY_OPERATIONS"
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"
)

// Defaults of Options.MaxAliases and Options.MaxOperations when left 0.
const (
	DefaultMaxAliases    = 30
	DefaultMaxOperations = 10
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

// operationLimit refuses documents with more than max operation
// definitions. It counts them with the lexer before the document is parsed
// and validated, so a document of thousands of operations costs one linear
// scan, not a validation whose cost grows with operations times fragments.
type operationLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = operationLimit{}

func (operationLimit) ExtensionName() string                   { return "OperationLimit" }
func (operationLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (o operationLimit) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if n := countOperations(p.Query, o.max); n > o.max {
		return limitError(CodeTooManyOperations, o.max,
			"document holds more than %d operations (graphql.max_operations); send one operation per request, or name the one to run with operationName", o.max)
	}
	return nil
}

// countOperations counts the operation definitions of query, stopping once
// there are more than max: each query, mutation or subscription keyword at
// the top level, and each top-level selection set without one (the "{ ... }"
// shorthand). A document the lexer cannot read counts 0: the parser reports
// it.
func countOperations(query string, max int) int {
	lx := lexer.New(&ast.Source{Input: query})
	n, braces, parens, header := 0, 0, 0, false
	for {
		tok, err := lx.ReadToken()
		if err != nil {
			return 0
		}
		switch tok.Kind {
		case lexer.EOF:
			return n
		case lexer.ParenL:
			parens++
		case lexer.ParenR:
			parens--
		case lexer.BraceR:
			braces--
		case lexer.BraceL:
			if braces == 0 && parens == 0 {
				if !header {
					n++ // shorthand query
				}
				header = false
			}
			braces++
		case lexer.Name:
			if braces == 0 && parens == 0 && !header {
				switch tok.Value {
				case "query", "mutation", "subscription":
					n++
					header = true
				case "fragment":
					header = true
				}
			}
		}
		if n > max {
			return n
		}
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

// pageCost is the complexity of a connection: its page size times what
// each item costs.
func pageCost(child int, first *int, def int) int {
	n := def
	if first != nil && *first > 0 {
		n = *first
	}
	return 1 + n*child
}
