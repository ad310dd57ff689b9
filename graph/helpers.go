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
		Tag: deref(f.Tag, ""), Name: deref(f.Name, ""), NamePrefix: deref(f.NamePrefix, ""), CaseSensitive: deref(f.CaseSensitive, false),
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

// notFoundAt is the NOT_FOUND error about the ID the client gave in field,
// named as the client wrote it (never the store's internal ID).
func notFoundAt(field, what, id string) error {
	return store.AtField(field, fmt.Errorf("no %s has the ID %s: %w", what, clip(id), store.ErrNotFound))
}

// renamePath rewrites the start of the field path of the *InvalidError or
// *store.FieldError err carries, keeping an *ItemError around it.
func renamePath(err error, from, to string) error {
	field, ok := store.FieldOf(err)
	if !ok {
		return err
	}
	rest, ok := strings.CutPrefix(field, from)
	if !ok {
		return err
	}
	return store.WithField(err, to+rest)
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

// Model field names as the registration inputs spell them: the class model
// (internal/cmdb, model.yaml) names some fields differently from the API.
var (
	classDefFields = map[string]string{"identification": "identificationRules", "max_length": "maxLength"}
	relTypeFields  = map[string]string{
		"sources": "sourceClasses", "targets": "targetClasses", "impact.propagates": "propagates",
		"impact.effect": "effect", "impact.redundancy": "redundancyAttribute", "max_length": "maxLength",
	}
)

// apiFieldNames rewrites the field path of the *InvalidError err carries
// from the model's names to the API's (names: model name -> API name, a
// name matching a whole dotted run of segments or one segment without its
// index).
func apiFieldNames(err error, names map[string]string) error {
	field, ok := store.FieldOf(err)
	if !ok {
		return err
	}
	segs := strings.Split(field, ".")
	var out []string
	for i := 0; i < len(segs); i++ {
		if i+1 < len(segs) {
			if to, ok := names[segs[i]+"."+segs[i+1]]; ok {
				out = append(out, to)
				i++
				continue
			}
		}
		name, index, _ := strings.Cut(segs[i], "[")
		if to, ok := names[name]; ok {
			name = to
		}
		if index != "" {
			name += "[" + index
		}
		out = append(out, name)
	}
	return store.WithField(err, strings.Join(out, "."))
}

// graphBatchIn parses upsertCIs' input: its items (with their refs) and
// relationships.
func graphBatchIn(input model.UpsertCIsInput) (cmdb.GraphBatch, error) {
	b := cmdb.GraphBatch{Items: make([]cmdb.GraphItem, len(input.Items)), Atomic: deref(input.Atomic, false)}
	for i, it := range input.Items {
		attrs, err := objectIn(fmt.Sprintf("input.items[%d].attributes", i), it.Attributes)
		if err != nil {
			return b, err
		}
		b.Items[i] = cmdb.GraphItem{Ref: deref(it.Ref, ""), UpsertItem: cmdb.UpsertItem{Class: it.Class, Attributes: attrs}}
	}
	b.Relationships = make([]cmdb.GraphRelationship, len(input.Relationships))
	for i, rel := range input.Relationships {
		field := fmt.Sprintf("input.relationships[%d]", i)
		r := cmdb.GraphRelationship{Type: rel.Type}
		if rel.Attributes != nil {
			a, err := objectIn(field+".attributes", rel.Attributes)
			if err != nil {
				return b, err
			}
			r.Attributes = a
		}
		for _, end := range []struct {
			name string
			in   *model.CIEndInput
			out  *cmdb.EdgeEndpoint
		}{{"from", rel.From, &r.From}, {"to", rel.To, &r.To}} {
			e, err := endIn(field+"."+end.name, end.in)
			if err != nil {
				return b, err
			}
			*end.out = e
		}
		b.Relationships[i] = r
	}
	return b, nil
}

// endIn parses one end of a batch relationship, which names one CI one
// way.
func endIn(field string, in *model.CIEndInput) (cmdb.EdgeEndpoint, error) {
	var out cmdb.EdgeEndpoint
	ways := 0
	if in.Ref != nil {
		out.Ref, ways = *in.Ref, ways+1
	}
	if in.Class != nil || in.Identity != nil {
		ways++
		if in.Class == nil || in.Identity == nil {
			return out, store.Invalid(field, "an end by identity gives both class and identity")
		}
		id, err := objectIn(field+".identity", in.Identity)
		if err != nil {
			return out, err
		}
		out.Class, out.Identity = *in.Class, id
	}
	if in.ID != nil {
		id, err := endID(field+".id", *in.ID)
		if err != nil {
			return out, err
		}
		out.ID, ways = id, ways+1
	}
	if ways != 1 {
		return out, store.Invalid(field, "give one of ref, class with identity, or id")
	}
	return out, nil
}

// upsertItemsOf returns the items of a batch without their refs.
func upsertItemsOf(items []cmdb.GraphItem) []cmdb.UpsertItem {
	out := make([]cmdb.UpsertItem, len(items))
	for i, it := range items {
		out[i] = it.UpsertItem
	}
	return out
}
