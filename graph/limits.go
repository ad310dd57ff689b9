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

// depthLimit refuses operations whose selections nest deeper than max,
// before any resolver runs. Fragments count at the depth they are spread.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0, map[string]bool{}); depth > d.max {
		err := gqlerror.Errorf("query is nested %d levels deep; the limit is %d (graphql.max_depth)", depth, d.max)
		err.Extensions = map[string]any{"code": "QUERY_TOO_DEEP", "limit": d.max}
		return err
	}
	return nil
}

func selectionDepth(set ast.SelectionSet, depth int, visiting map[string]bool) int {
	max := depth
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = depth + 1
			} else {
				d = selectionDepth(s.SelectionSet, depth+1, visiting)
			}
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, depth, visiting)
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue // validation rejects fragment cycles
			}
			visiting[s.Name] = true
			d = selectionDepth(s.Definition.SelectionSet, depth, visiting)
			delete(visiting, s.Name)
		}
		if d > max {
			max = d
		}
	}
	return max
}

// aliasLimit refuses operations with more than max aliased fields, before
// any resolver runs. A fragment counts each time it is spread, so a small
// document cannot multiply aliases through nested spreads.
type aliasLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = aliasLimit{}

func (aliasLimit) ExtensionName() string                   { return "AliasLimit" }
func (aliasLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (a aliasLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if n := a.count(oc.Operation.SelectionSet, map[string]int{}, map[string]bool{}); n > a.max {
		return limitError(CodeTooManyAliases, a.max,
			"operation has more than %d aliased fields (graphql.max_aliases); ask for fewer, or split it into several requests", a.max)
	}
	return nil
}

// count returns the aliased fields of set, saturating at max+1 so that
// nested spreads cannot make the count (or the work) blow up. frags
// memoises each fragment's count.
func (a aliasLimit) count(set ast.SelectionSet, frags map[string]int, visiting map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			// The parser sets Alias to Name when there is no alias.
			if s.Alias != "" && s.Alias != s.Name {
				n++
			}
			n += a.count(s.SelectionSet, frags, visiting)
		case *ast.InlineFragment:
			n += a.count(s.SelectionSet, frags, visiting)
		case *ast.FragmentSpread:
			if s.Definition == nil || visiting[s.Name] {
				continue // validation rejects fragment cycles
			}
			c, ok := frags[s.Name]
			if !ok {
				visiting[s.Name] = true
				c = a.count(s.Definition.SelectionSet, frags, visiting)
				delete(visiting, s.Name)
				frags[s.Name] = c
			}
			n += c
		}
		if n > a.max {
			return a.max + 1
		}
	}
	return n
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
