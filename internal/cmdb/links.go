package cmdb

import (
	"context"
	"fmt"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// CIs name their owner and support group twice: by the string attributes
// owner and support_group that sources have always sent, and by OWNED_BY
// and SUPPORTED_BY edges to people and groups. The attributes stay the
// input; the service keeps the edges in step with them:
//
//   - owner names a person by user name, else by e-mail address, else a
//     group by name; support_group names a group by name. Each is compared
//     as the model's identity keys compare it (ignoring case and spaces).
//   - When a CI is created or its attribute changes, the edge that came
//     from the attribute is created, moved to the new node, or removed
//     when the attribute is cleared or names nobody: at most one edge of
//     each type from a CI comes from its attribute.
//   - When a person or group is created, the CIs whose attributes name it
//     (found by the Owner and SupportGroup filters, which ignore case) get
//     their edge, a page of CIs at a time.
//   - An edge that came from an attribute is one whose only reporting
//     source (Relationship.SeenBy) is LinkSource. An edge a client created
//     (createRelationships, with any other source) is never moved or
//     removed by this rule, even when it joins the same two nodes.
//
// The edges are written after the node write, with their own audit
// records (actor: the writer, source: LinkSource).

// LinkSource is the source of the OWNED_BY and SUPPORTED_BY edges made
// from CIs' owner and support_group attributes (see above). It is one of
// auth.ReservedSources: no agent token may be bound to it or report as it.
const LinkSource = auth.LinkSource

// linkRule is one attribute kept as an edge.
type linkRule struct {
	attr, relType string
	// byKey lists, in order, the (class, attribute) whose identity key the
	// value is looked up as.
	byKey [][2]string
}

// linkRules are the attributes that link a CI to people and groups.
var linkRules = []linkRule{
	{"owner", RelOwnedBy, [][2]string{{"Person", "user_name"}, {"Person", "email"}, {"Group", "name"}}},
	{"support_group", RelSupportedBy, [][2]string{{"Group", "name"}}},
}

// linkReadAll is how many people (or groups) resolveNames reads whole,
// page by page through the kind index, rather than by a filter on their
// attributes, which the embedded store answers by reading every node of
// every kind.
const linkReadAll = 5000

// linkPage is how many CIs a newly created person or group links per
// batch of writes.
const linkPage = 1000

// linkAfterUpsert keeps the links that follow from a write of nodes of
// kind: for CIs created or whose owner or support_group changed, their
// edges; for people and groups created, the CIs that name them.
func (s *Service) linkAfterUpsert(ctx context.Context, actor store.Actor, kind string, results []store.UpsertResult) error {
	switch kind {
	case KindCI:
		var cis []store.Node
		for _, r := range results {
			if linkChanged(r) {
				cis = append(cis, r.Node)
			}
		}
		return s.syncLinks(ctx, actor, cis)
	case KindPerson, KindGroup:
		for _, r := range results {
			if r.Status == store.StatusCreated {
				if err := s.linkNamed(ctx, actor, r.Node); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// linkChanged reports whether a CI write may change the CI's links.
func linkChanged(r store.UpsertResult) bool {
	if r.Status == store.StatusCreated {
		_, o := r.Node.Attributes["owner"]
		_, sg := r.Node.Attributes["support_group"]
		return o || sg
	}
	if r.Status != store.StatusUpdated {
		return false
	}
	for _, c := range r.Changes {
		if c.Field == "owner" || c.Field == "support_group" {
			return true
		}
	}
	return false
}

// linkNamed links the CIs whose owner or support_group names n, a person
// or group just created: the CIs are found by the filters that ignore case,
// then linked by syncLinks, which checks each against the identity keys.
func (s *Service) linkNamed(ctx context.Context, actor store.Actor, n store.Node) error {
	var filters []store.NodeFilter
	for _, attr := range []string{"user_name", "email", "name"} {
		v, _ := n.Attributes[attr].(string)
		if v == "" || (n.Kind == KindPerson && attr == "name") {
			continue
		}
		filters = append(filters, store.NodeFilter{Kind: store.KindCI, Owner: v})
		if n.Kind == KindGroup {
			filters = append(filters, store.NodeFilter{Kind: store.KindCI, SupportGroup: v})
		}
	}
	for _, f := range filters {
		p := store.PageRequest{First: linkPage}
		for {
			page, err := s.st.ListNodes(ctx, f, p)
			if err != nil {
				return fmt.Errorf("link %s %s: %w", n.Kind, n.ID, err)
			}
			if err := s.syncLinks(ctx, actor, page.Items); err != nil {
				return err
			}
			if !page.HasNext {
				break
			}
			p.After = page.EndCursor
		}
	}
	return nil
}

// syncLinks makes the attribute edges of cis follow their attributes: one
// read of their edges, a few reads to resolve the names, one delete and
// one create for the whole batch.
func (s *Service) syncLinks(ctx context.Context, actor store.Actor, cis []store.Node) error {
	if len(cis) == 0 {
		return nil
	}
	m := s.Model()
	// A CI created by this write has no edges yet: only the others are read.
	var ids []store.ID
	for _, c := range cis {
		if c.Version > 1 {
			ids = append(ids, c.ID)
		}
	}
	var edges map[store.ID][]store.Relationship
	if len(ids) > 0 {
		var err error
		if edges, err = s.st.RelationshipsOf(ctx, ids, store.Out, []string{RelOwnedBy, RelSupportedBy}); err != nil {
			return fmt.Errorf("link CIs: %w", err)
		}
	}
	owners, err := s.resolveNames(ctx, m, cis)
	if err != nil {
		return fmt.Errorf("link CIs: %w", err)
	}
	var drop []store.ID
	var add []store.RelationshipInput
	for _, c := range cis {
		for _, rule := range linkRules {
			v, _ := c.Attributes[rule.attr].(string)
			want := owners[nameKey{rule.attr, v}]
			has := false // an edge to want exists, from the attribute or not
			for _, e := range edges[c.ID] {
				if e.Type != rule.relType {
					continue
				}
				if e.Target == want {
					has = true
				} else if FromAttribute(e) {
					drop = append(drop, e.ID)
				}
			}
			if want != "" && !has {
				add = append(add, store.RelationshipInput{Type: rule.relType, Source: c.ID, Target: want})
			}
		}
	}
	link := store.Actor{Name: actor.Name, Source: LinkSource}
	for start := 0; start < len(drop); start += store.MaxBatch {
		if _, err := s.st.DeleteRelationships(ctx, link, drop[start:min(start+store.MaxBatch, len(drop))]); err != nil {
			return fmt.Errorf("unlink CIs: %w", err)
		}
	}
	for start := 0; start < len(add); start += store.MaxBatch {
		// Not atomic: a CI deleted meanwhile is a not_found item that
		// leaves the others linked.
		if _, err := s.st.CreateRelationships(ctx, link, add[start:min(start+store.MaxBatch, len(add))], false); err != nil {
			return fmt.Errorf("link CIs: %w", err)
		}
	}
	return nil
}

// FromAttribute reports whether an edge came from a CI's attribute: its
// only reporting source is LinkSource.
func FromAttribute(e store.Relationship) bool {
	_, ok := e.SeenBy[LinkSource]
	return ok && len(e.SeenBy) == 1
}

// nameKey is one attribute value to resolve.
type nameKey struct{ attr, value string }

// resolveNames resolves the owner and support_group values of cis to the
// people and groups they name (absent when none): for each (class,
// attribute) of the rules, one list of the nodes whose attribute is any
// of the values, then the identity keys decide.
func (s *Service) resolveNames(ctx context.Context, m *Model, cis []store.Node) (map[nameKey]store.ID, error) {
	// The values to look up as each (class, attribute), from every rule
	// that looks there (owner and support_group both name groups).
	var lookups [][2]string
	values := map[[2]string][]any{}
	seen := map[[3]string]bool{}
	for _, rule := range linkRules {
		for _, ca := range rule.byKey {
			for _, c := range cis {
				v, _ := c.Attributes[rule.attr].(string)
				if v == "" || seen[[3]string{ca[0], ca[1], v}] {
					continue
				}
				seen[[3]string{ca[0], ca[1], v}] = true
				if _, ok := values[ca]; !ok {
					lookups = append(lookups, ca)
				}
				values[ca] = append(values[ca], v)
			}
		}
	}
	// The lookups of one kind are one list (an or of the attributes'
	// in-lists, up to store.MaxExprValues values a query): on the embedded
	// store a filter on an attribute of people or groups reads every node,
	// so people cost one such read a batch, not one per attribute.
	var kinds []string
	parts := map[string][]store.Expr{}
	for _, ca := range lookups {
		cls, ok := m.Class(ca[0])
		if !ok {
			continue
		}
		if _, ok := parts[cls.Kind]; !ok {
			kinds = append(kinds, cls.Kind)
		}
		parts[cls.Kind] = append(parts[cls.Kind], store.Expr{Op: store.OpIn, Field: ca[1], Values: values[ca]})
	}
	byKey := map[string]store.ID{}
	for _, kind := range kinds {
		// Whether the kind has any node at all: a list of one node of the
		// kind, which both backends answer from their kind index. A store
		// without people (a CMDB before its directory sync) pays only this.
		page, err := s.st.ListNodes(ctx, store.NodeFilter{Kind: store.ObjectKind(kind)}, store.PageRequest{First: 1})
		if err != nil {
			return nil, err
		}
		if len(page.Items) == 0 {
			continue
		}
		wheres := chunkIn(parts[kind], store.MaxExprValues)
		if page.Total <= linkReadAll {
			// A small directory is cheaper read whole, by the kind index,
			// than filtered by attribute.
			wheres = []*store.Expr{nil}
		}
		for _, where := range wheres {
			f := store.NodeFilter{Kind: store.ObjectKind(kind), Where: where}
			p := store.PageRequest{First: store.MaxPageSize}
			for {
				page, err := s.st.ListNodes(ctx, f, p)
				if err != nil {
					return nil, err
				}
				for _, n := range page.Items {
					for _, k := range n.Keys {
						byKey[k] = n.ID
					}
				}
				if !page.HasNext {
					break
				}
				p.After = page.EndCursor
			}
		}
	}
	out := map[nameKey]store.ID{}
	for _, c := range cis {
		for _, rule := range linkRules {
			v, _ := c.Attributes[rule.attr].(string)
			if v == "" {
				continue
			}
			if _, done := out[nameKey{rule.attr, v}]; done {
				continue
			}
			for _, ca := range rule.byKey {
				cls, ok := m.Class(ca[0])
				if !ok {
					continue
				}
				if id := keyOwner(byKey, cls.Keys(store.Attributes{ca[1]: v})); id != "" {
					out[nameKey{rule.attr, v}] = id
					break
				}
			}
		}
	}
	return out, nil
}

// keyOwner returns the node owning the first of keys that one owns.
func keyOwner(byKey map[string]store.ID, keys []string) store.ID {
	for _, k := range keys {
		if id, ok := byKey[k]; ok {
			return id
		}
	}
	return ""
}

// chunkIn splits in-comparisons into expressions (an or of them) holding
// at most max values each.
func chunkIn(ins []store.Expr, max int) []*store.Expr {
	var out []*store.Expr
	cur := &store.Expr{Op: store.OpOr}
	n := 0
	for _, in := range ins {
		for start := 0; start < len(in.Values); {
			if n == max {
				out = append(out, cur)
				cur, n = &store.Expr{Op: store.OpOr}, 0
			}
			end := min(start+max-n, len(in.Values))
			cur.Args = append(cur.Args, store.Expr{Op: store.OpIn, Field: in.Field, Values: in.Values[start:end]})
			n += end - start
			start = end
		}
	}
	if len(cur.Args) > 0 {
		out = append(out, cur)
	}
	for i, e := range out {
		if len(e.Args) == 1 {
			out[i] = &e.Args[0]
		}
	}
	return out
}
