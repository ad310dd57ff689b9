package discovery

import (
	"errors"
	"fmt"
	"regexp"
)

// InvalidError reports one problem of a batch; Field is its path, such as
// "relationships[3].to.ref" or "cis[0].attributes.port".
type InvalidError struct {
	Field, Reason string
}

// Error returns "field: reason".
func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// attributeName is the shape of model.yaml attribute names.
var attributeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Validate checks what can be checked without the class model: a source
// name, CIs with a class and unique refs, attribute names in snake_case
// with supported value types, relationships with a type and both ends
// resolvable (a ref of the batch, or a class with identifying attributes).
// It returns every problem at once, each an *InvalidError (find the first
// with errors.As, all of them through Unwrap() []error), or nil.
func (b Batch) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if b.Source == "" {
		bad("source", "required")
	}
	if b.Scope != nil && b.Scope.Name == "" {
		bad("scope.name", "required when a scope is given")
	}
	refs := make(map[string]int, len(b.CIs))
	for i, ci := range b.CIs {
		at := fmt.Sprintf("cis[%d]", i)
		if ci.Class == "" {
			bad(at+".class", "required")
		}
		if ci.Ref != "" {
			if j, dup := refs[ci.Ref]; dup {
				bad(at+".ref", "%q is already the ref of cis[%d]", ci.Ref, j)
			} else {
				refs[ci.Ref] = i
			}
		}
		checkAttributes(at+".attributes", ci.Attributes, bad)
	}
	for i, r := range b.Relationships {
		at := fmt.Sprintf("relationships[%d]", i)
		if r.Type == "" {
			bad(at+".type", "required")
		}
		checkEnd(at+".from", r.From, refs, bad)
		checkEnd(at+".to", r.To, refs, bad)
	}
	return errors.Join(errs...)
}

func checkEnd(at string, e End, refs map[string]int, bad func(string, string, ...any)) {
	byIdentity := e.Class != "" || len(e.Identity) > 0
	switch {
	case e.Ref != "" && byIdentity:
		bad(at, "give a ref or a class and identity, not both")
	case e.Ref != "":
		if _, ok := refs[e.Ref]; !ok {
			bad(at+".ref", "no CI of the batch has ref %q", e.Ref)
		}
	case !byIdentity:
		bad(at, "name a CI by ref, or by class and identity")
	case e.Class == "":
		bad(at+".class", "required with an identity")
	case len(e.Identity) == 0:
		bad(at+".identity", "required with a class: the identifying attributes of the CI")
	default:
		checkAttributes(at+".identity", e.Identity, bad)
	}
}

func checkAttributes(at string, attrs map[string]any, bad func(string, string, ...any)) {
	for name, v := range attrs {
		if !attributeName.MatchString(name) {
			bad(at+"."+name, "attribute names are snake_case, as in model.yaml")
			continue
		}
		switch v.(type) {
		case string, bool, int, int64, float64, []string:
		default:
			bad(at+"."+name, "unsupported value type %T (string, integer, float, bool or []string)", v)
		}
	}
}
