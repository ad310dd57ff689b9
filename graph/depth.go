package graph

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/skein-cmdb/skein/graph/generated"
)

// parsedSchema is the API's schema, the one place where the defaults of
// arguments are declared.
var parsedSchema = sync.OnceValue(func() *ast.Schema {
	return generated.NewExecutableSchema(generated.Config{}).Schema()
})

// schemaIntDefault returns the default the schema declares for the Int
// argument arg of typ.field.
func schemaIntDefault(typ, field, arg string) (int, error) {
	t := parsedSchema().Types[typ]
	if t == nil {
		return 0, fmt.Errorf("graph: no type %s in the schema", typ)
	}
	f := t.Fields.ForName(field)
	if f == nil {
		return 0, fmt.Errorf("graph: no field %s.%s in the schema", typ, field)
	}
	a := f.Arguments.ForName(arg)
	if a == nil || a.DefaultValue == nil || a.DefaultValue.Kind != ast.IntValue {
		return 0, fmt.Errorf("graph: %s.%s(%s) has no Int default in the schema", typ, field, arg)
	}
	return strconv.Atoi(a.DefaultValue.Raw)
}

// depthArg is the one rule of every traversal depth argument (typ.field's
// argument arg, as the client wrote it): null or omitted means the schema's
// default, lowered to traversal.max_depth when the server allows less; a
// value the client wrote must be between 1 and traversal.max_depth, or the
// answer is an *store.InvalidError on arg. A written value is never lowered,
// so an answer is never shallower than asked without saying so.
func (r *Resolver) depthArg(ctx context.Context, typ, field, arg string, v *int) (int, error) {
	def, err := schemaIntDefault(typ, field, arg)
	if err != nil {
		return 0, err
	}
	limit := r.Impact.Options().MaxDepth
	if v == nil || !argWritten(ctx, arg) {
		// gqlgen fills an omitted argument with its default.
		return min(def, limit), nil
	}
	if err := r.Impact.CheckDepth(arg, *v); err != nil {
		return 0, err
	}
	return *v, nil
}

// argWritten reports whether the field being resolved names arg in the
// document (with a value or a variable); true when there is no field
// context to tell.
func argWritten(ctx context.Context, arg string) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil {
		return true
	}
	return fc.Field.Arguments.ForName(arg) != nil
}
