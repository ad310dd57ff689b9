package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// nameVariableField gives an error about a variable's value (gqlgen's path
// ["variable", "in", "items", 0, "attributes"]) the field path the
// client's operation gives that value: the argument the variable is passed
// as, then the path inside it ("input.items[0].attributes"), in
// extensions.field and at the start of the message, as for every other
// invalid input. A variable the operation does not pass anywhere is named
// as "$in.items[0].attributes".
func nameVariableField(ctx context.Context, e *gqlerror.Error) {
	if len(e.Path) < 2 {
		return
	}
	if v, ok := e.Path[0].(ast.PathName); !ok || v != "variable" {
		return
	}
	name, ok := e.Path[1].(ast.PathName)
	if !ok {
		return
	}
	field := "$" + string(name)
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Operation != nil {
			if f, found := variableUse(oc.Doc, oc.Operation.SelectionSet, string(name), map[string]bool{}); found {
				field = f
			}
		}
	}
	var b strings.Builder
	b.WriteString(field)
	for _, p := range e.Path[2:] {
		switch p := p.(type) {
		case ast.PathIndex:
			fmt.Fprintf(&b, "[%d]", int(p))
		case ast.PathName:
			b.WriteString("." + string(p))
		}
	}
	field = b.String()
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["field"] = field
	msg := e.Message
	if msg == "must be defined" {
		msg = "is required"
	}
	e.Message = field + ": " + msg
}

// variableUse returns the field path of the first argument (or part of
// one) that passes variable name in set, following fragments once.
func variableUse(doc *ast.QueryDocument, set ast.SelectionSet, name string, seen map[string]bool) (string, bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			for _, arg := range s.Arguments {
				if p, ok := valueUse(arg.Value, name); ok {
					return arg.Name + p, true
				}
			}
			if p, ok := variableUse(doc, s.SelectionSet, name, seen); ok {
				return p, true
			}
		case *ast.InlineFragment:
			if p, ok := variableUse(doc, s.SelectionSet, name, seen); ok {
				return p, true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] || doc == nil {
				continue
			}
			seen[s.Name] = true
			if f := doc.Fragments.ForName(s.Name); f != nil {
				if p, ok := variableUse(doc, f.SelectionSet, name, seen); ok {
					return p, true
				}
			}
		}
	}
	return "", false
}

// valueUse returns the path inside v ("", ".items[0]") where variable name
// is passed.
func valueUse(v *ast.Value, name string) (string, bool) {
	if v == nil {
		return "", false
	}
	switch v.Kind {
	case ast.Variable:
		return "", v.Raw == name
	case ast.ObjectValue:
		for _, c := range v.Children {
			if p, ok := valueUse(c.Value, name); ok {
				return "." + c.Name + p, true
			}
		}
	case ast.ListValue:
		for i, c := range v.Children {
			if p, ok := valueUse(c.Value, name); ok {
				return fmt.Sprintf("[%d]%s", i, p), true
			}
		}
	}
	return "", false
}

// nameOperationField words gqlgen's "operation X not found" (whose X is
// empty when a document holds several operations and the request names
// none) as what to do, naming the request's operationName field.
func nameOperationField(ctx context.Context, e *gqlerror.Error) {
	if !strings.HasPrefix(e.Message, "operation ") || !strings.HasSuffix(e.Message, " not found") || !graphql.HasOperationContext(ctx) {
		return
	}
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Doc == nil {
		return
	}
	var names []string
	for _, op := range oc.Doc.Operations {
		if op.Name != "" {
			names = append(names, op.Name)
		}
	}
	if oc.OperationName == "" {
		e.Message = "operationName: the document has several operations (" + strings.Join(names, ", ") + "); name the one to run"
	} else {
		e.Message = fmt.Sprintf("operationName: the document has no operation named %q; it has %s", oc.OperationName, strings.Join(names, ", "))
	}
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["field"] = "operationName"
}
