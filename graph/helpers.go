package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func setPageInfo(pi *model.PageInfo, n int, cursor func(int) string) {
	if n == 0 {
		return
	}
	s, e := cursor(0), cursor(n-1)
	pi.StartCursor, pi.EndCursor = &s, &e
}

// prefixInput roots the field paths of batch errors ("items[3]...") at the
// mutation's input argument.
func prefixInput(err error) error { return store.PrefixField(err, "input") }

func filterIn(f *model.CIFilter) (cmdb.Filter, error) {
	if f == nil {
		return cmdb.Filter{}, nil
	}
	out := cmdb.Filter{
		Class: deref(f.Class, ""), ExactClass: deref(f.ExactClass, false), Status: f.Status,
		Environment: deref(f.Environment, ""), Owner: deref(f.Owner, ""), SupportGroup: deref(f.SupportGroup, ""),
		Tag: deref(f.Tag, ""), NamePrefix: deref(f.NamePrefix, ""),
	}
	if f.NotSeenSince != nil {
		out.SeenBefore = *f.NotSeenSince
	}
	for i, gid := range f.Ids {
		id, err := ciID(fmt.Sprintf("filter.ids[%d]", i), gid)
		if err != nil {
			return out, err
		}
		out.IDs = append(out.IDs, id)
	}
	if f.Attributes != nil {
		attrs, err := objectIn("filter.attributes", f.Attributes)
		if err != nil {
			return out, err
		}
		out.Attributes = attrs
	}
	return out, nil
}

// classDefIn converts a registration input into a class definition.
func classDefIn(in model.RegisterCIClassInput) cmdb.ClassDef {
	return cmdb.ClassDef{
		Name: in.Name, Parent: in.Parent, Abstract: deref(in.Abstract, false), Description: deref(in.Description, ""),
		Attributes: attrDefsIn(in.Attributes), Identification: in.IdentificationRules,
	}
}

func relTypeDefIn(in model.RegisterRelationshipTypeInput) cmdb.RelTypeDef {
	d := cmdb.RelTypeDef{
		Name: in.Name, Description: deref(in.Description, ""), Sources: in.SourceClasses, Targets: in.TargetClasses,
		Attributes: attrDefsIn(in.Attributes),
	}
	d.Impact.Propagates = strings.ToLower(string(in.Propagates))
	d.Impact.Effect = cmdb.EffectDown
	if in.Effect != nil && *in.Effect == model.ImpactEffectDegraded {
		d.Impact.Effect = cmdb.EffectDegrades
	}
	d.Impact.Redundancy = deref(in.RedundancyAttribute, "")
	return d
}

// relTypeInputPath names the fields of a relationship type definition's
// errors as RegisterRelationshipTypeInput spells them.
func relTypeInputPath(err error) error {
	for _, r := range [][2]string{
		{"input.impact.redundancy", "input.redundancyAttribute"},
		{"input.impact.propagates", "input.propagates"},
		{"input.impact.effect", "input.effect"},
		{"input.sources", "input.sourceClasses"},
		{"input.targets", "input.targetClasses"},
	} {
		err = renamePath(err, r[0], r[1])
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// renamePath rewrites the start of an *InvalidError's field path, keeping
// an *ItemError around it.
func renamePath(err error, from, to string) error {
	var ie *store.InvalidError
	if err == nil || !errors.As(err, &ie) {
		return err
	}
	rest, ok := strings.CutPrefix(ie.Field, from)
	if !ok {
		return err
	}
	out := &store.InvalidError{Field: to + rest, Reason: ie.Reason}
	var item *store.ItemError
	if errors.As(err, &item) {
		return &store.ItemError{Index: item.Index, Err: out}
	}
	return out
}

// ptr returns a pointer to a copy of v.
func ptr[T any](v T) *T { return &v }

// countOnly returns the page size a connection resolver should read: size,
// or 1 when the query asks for neither its edges nor its pageInfo (a count
// is not a page; complexityLimit prices it so). A size the store refuses
// is passed on for it to refuse.
func countOnly(ctx context.Context, size int) int {
	if size < 1 || size > store.MaxPageSize || graphql.GetFieldContext(ctx) == nil {
		return size
	}
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "edges" || f.Name == "pageInfo" {
			return size
		}
	}
	return 1
}
