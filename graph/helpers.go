package graph

import (
	"errors"
	"fmt"
	"strings"

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

// pageIn is the one rule for every connection's `first` and `after`:
// omitted or null means the field's default (def), 1 to store.MaxPageSize is
// a page size, and anything else, 0 included, is an *InvalidError naming
// "first" (the store reads 0 as "its default", which a client asking for
// zero items does not mean). Cursors are checked by the store, which names
// "after".
func pageIn(first *int, def int, after *string) (store.PageRequest, error) {
	n := deref(first, def)
	if n < 1 || n > store.MaxPageSize {
		return store.PageRequest{}, store.Invalid("first", "must be between 1 and %d, got %d", store.MaxPageSize, n)
	}
	return store.PageRequest{First: n, After: deref(after, "")}, nil
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
