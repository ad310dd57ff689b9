package graph

import (
	"fmt"
	"strconv"
	"sync"

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
// argument arg, as the client wrote it): null means the schema's default
// (lowered to traversal.max_depth when the server allows less), and any
// value must be between 1 and traversal.max_depth, or the answer is an
// *store.InvalidError on arg.
func (r *Resolver) depthArg(typ, field, arg string, v *int) (int, error) {
	def, err := schemaIntDefault(typ, field, arg)
	if err != nil {
		return 0, err
	}
	limit := r.Impact.Options().MaxDepth
	d := deref(v, def)
	if d == def && d > limit {
		// The default, omitted or spelled out: gqlgen cannot tell them
		// apart, and a default must not fail on a server that allows less.
		d = limit
	}
	if err := r.Impact.CheckDepth(arg, d); err != nil {
		return 0, err
	}
	return d, nil
}
