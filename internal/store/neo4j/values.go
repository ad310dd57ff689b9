package neo4j

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"github.com/skein-cmdb/skein/internal/store"
)

// Property names of a CI node besides its attributes. Attribute names start
// with a letter and may not be reserved (store.ReservedAttribute), so they
// never collide with these.
const (
	propID         = "id"
	propClass      = "class"
	propCreatedAt  = "created_at"
	propUpdatedAt  = "updated_at"
	propLastSeenAt = "last_seen_at"
	propSources    = "_sources"
	propSeen       = "_seen"
	propKeys       = "_keys"
	// propKind and propVersion hold store.Node.Kind and Version. They are
	// internal properties (a leading underscore), not "kind" and
	// "version": those name attributes of some classes (an application's
	// version, a Kubernetes workload's kind), which are properties too.
	propKind    = "_kind"
	propVersion = "_version"
	// propSearch holds the CI's search document (store.SearchDocument),
	// indexed by the full-text index skein_node_search.
	propSearch = "_search"
)

// Folded copies of the text attributes that filters ignoring case look up
// (store.FoldText; see store.NodeFilter.CaseSensitive), indexed like the
// attributes themselves (schemaStatements). Written with every CI
// (ciProperties); nodes written before them get them from foldsBackfill.
var foldedProps = map[string]string{"name": "_fold_name", "owner": "_fold_owner", "support_group": "_fold_support_group", "tags": "_fold_tags"}

// foldProperties adds to props the folded copies of attrs' text attributes.
func foldProperties(attrs store.Attributes, props map[string]any) {
	for attr, prop := range foldedProps {
		switch v := attrs[attr].(type) {
		case string:
			props[prop] = store.FoldText(v)
		case []string:
			l := make([]string, len(v))
			for i, s := range v {
				l[i] = store.FoldText(s)
			}
			props[prop] = l
		}
	}
}

// toProperty converts an attribute value to the value stored in Neo4j.
func toProperty(v any) (any, error) {
	switch x := v.(type) {
	case string, int64, bool:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("float %v cannot be stored", x)
		}
		return x, nil
	case time.Time:
		if err := store.CheckTime("", x); err != nil {
			return nil, errors.New(err.Reason)
		}
		return x.UTC(), nil
	case []string:
		if x == nil {
			return []string{}, nil
		}
		return slices.Clone(x), nil
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

// fromProperty converts a stored property back to the store's value types.
func fromProperty(v any) (any, error) {
	switch x := v.(type) {
	case string, int64, bool, float64:
		return x, nil
	case time.Time:
		return x.UTC(), nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("list element %d is %T, want string", i, e)
			}
			out[i] = s
		}
		return out, nil
	case []string:
		return slices.Clone(x), nil
	}
	return nil, fmt.Errorf("unexpected stored value type %T", v)
}

// attributeProperties converts attributes for storage, naming the first bad
// value in an *InvalidError on field.
func attributeProperties(field string, a store.Attributes, into map[string]any) error {
	for k, v := range a {
		p, err := toProperty(v)
		if err != nil {
			return store.Invalid(field+"."+k, "%v", err)
		}
		into[k] = p
	}
	return nil
}

// ciProperties is the full property map of a CI node.
func ciProperties(c *store.CI) (map[string]any, error) {
	props := make(map[string]any, len(c.Attributes)+8)
	if err := attributeProperties("attributes", c.Attributes, props); err != nil {
		return nil, err
	}
	sources := store.AppendProvenance(nil, c.Attributes, c.Sources, c.SetAt)
	seen := seenJSON(c.SeenBy)
	keys := c.Keys
	if keys == nil {
		keys = []string{}
	}
	props[propID] = string(c.ID)
	props[propClass] = c.Class
	props[propCreatedAt] = c.CreatedAt.UTC()
	props[propUpdatedAt] = c.UpdatedAt.UTC()
	props[propLastSeenAt] = c.LastSeenAt.UTC()
	props[propSources] = string(sources)
	props[propSeen] = seen
	props[propKeys] = slices.Clone(keys)
	props[propKind] = string(kindOrCI(c.Kind))
	props[propVersion] = max(c.Version, 1)
	foldProperties(c.Attributes, props)
	props[propSearch] = store.SearchDocument(c.Attributes)
	return props, nil
}

// seenJSON encodes a node's or relationship's per-source last-seen times
// in the store's one encoding ({source: Unix nanoseconds},
// store.AppendSeen), which the embedded store writes too. Nodes and
// relationships written before kept RFC 3339 strings ({source: time});
// decodeSeen reads both.
func seenJSON(seenBy map[string]time.Time) string {
	return string(store.AppendSeen(nil, seenBy))
}

// decodeSeen decodes what seenJSON encoded, or the older form of RFC 3339
// strings, into seenBy.
func decodeSeen(s string, seenBy map[string]time.Time) error {
	if s == "" {
		return nil
	}
	if seen, err := store.DecodeSeen([]byte(s)); err == nil {
		maps.Copy(seenBy, seen)
		return nil
	}
	var seen map[string]string
	if err := json.Unmarshal([]byte(s), &seen); err != nil {
		return fmt.Errorf("decode seen: %w", err)
	}
	for src, ts := range seen {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return fmt.Errorf("decode seen: %w", err)
		}
		seenBy[src] = t.UTC()
	}
	return nil
}

// ciFromNode decodes a CI node.
func ciFromNode(v any) (store.CI, error) {
	var props map[string]any
	switch n := v.(type) {
	case dbtype.Node:
		props = n.Props
	case map[string]any:
		props = n
	default:
		return store.CI{}, fmt.Errorf("unexpected CI value %T", v)
	}
	c := store.CI{
		Attributes: store.Attributes{},
		Keys:       []string{},
		Sources:    map[string]string{},
		SeenBy:     map[string]time.Time{},
	}
	var provenance string
	for k, v := range props {
		switch k {
		case propID:
			s, _ := v.(string)
			c.ID = store.ID(s)
		case propClass:
			c.Class, _ = v.(string)
		case propCreatedAt:
			c.CreatedAt = asTime(v)
		case propUpdatedAt:
			c.UpdatedAt = asTime(v)
		case propLastSeenAt:
			c.LastSeenAt = asTime(v)
		case propSources:
			// Read once every attribute is known: "*" stands for those
			// without an entry of their own.
			provenance, _ = v.(string)
		case propSeen:
			s, _ := v.(string)
			if err := decodeSeen(s, c.SeenBy); err != nil {
				return store.CI{}, err
			}
		case propKind:
			s, _ := v.(string)
			c.Kind = store.ObjectKind(s)
		case propVersion:
			c.Version, _ = v.(int64)
		case propKeys:
			keys, err := fromProperty(v)
			if err != nil {
				return store.CI{}, fmt.Errorf("decode keys: %w", err)
			}
			if ks, ok := keys.([]string); ok {
				c.Keys = ks
			}
		default:
			if len(k) > 0 && k[0] == '_' {
				continue // internal property (e.g. a leftover lock marker)
			}
			av, err := fromProperty(v)
			if err != nil {
				return store.CI{}, fmt.Errorf("attribute %q: %w", k, err)
			}
			c.Attributes[k] = av
		}
	}
	if provenance != "" {
		var err error
		if c.Sources, c.SetAt, err = store.DecodeProvenance([]byte(provenance), c.Attributes); err != nil {
			return store.CI{}, err
		}
	}
	// A node written before kinds and versions (and not yet migrated,
	// nodeBackfill) is a CI at version 1.
	c.Kind = kindOrCI(c.Kind)
	c.Version = max(c.Version, 1)
	return c, nil
}

// kindOrCI returns k, or store.KindCI for the empty kind.
func kindOrCI(k store.ObjectKind) store.ObjectKind {
	if k == "" || k == store.KindCI {
		return store.KindCI
	}
	return k
}

func asTime(v any) time.Time {
	if t, ok := v.(time.Time); ok {
		return t.UTC()
	}
	return time.Time{}
}

// cloneAttributes deep-copies attributes, with times in UTC (as stored)
// and nil lists as empty ones.
func cloneAttributes(a store.Attributes) store.Attributes {
	out := make(store.Attributes, len(a))
	for k, v := range a {
		switch x := v.(type) {
		case []string:
			v = slices.Clone(x)
			if x == nil {
				v = []string{}
			}
		case time.Time:
			v = x.UTC()
		}
		out[k] = v
	}
	return out
}

// Property names of a relationship besides its attributes.
const (
	relPropID        = "id"
	relPropCreatedAt = "created_at"
	relPropUpdatedAt = "updated_at"
	// relPropVersion and relPropSeen start with "_", which no attribute
	// name does: a relationship type may declare an attribute "version".
	relPropVersion = "_version"
	relPropSeen    = "_seen"
	// relPropSeenBy and relPropSeenAt hold a relationship's sightings when
	// one source reported it (the common case): its name and the time in
	// Unix nanoseconds. Neo4j keeps a short string and an integer inside
	// the relationship's property record, where the JSON object of
	// relPropSeen (used for two sources or more) lives in the string store,
	// one more record to read per relationship: reading a hub's 20,000
	// relationships took 12-14 % longer with it (BenchmarkHubPage).
	relPropSeenBy = "_seen_by"
	relPropSeenAt = "_seen_at"
)

// setRelSeen sets the sightings properties of a relationship in props:
// relPropSeenBy and relPropSeenAt for one source, relPropSeen for more;
// the unused ones nil (which removes them under SET r.p = null).
func setRelSeen(seenBy map[string]time.Time, props map[string]any) {
	props[relPropSeen], props[relPropSeenBy], props[relPropSeenAt] = nil, nil, nil
	if len(seenBy) == 1 {
		for src, t := range seenBy {
			props[relPropSeenBy], props[relPropSeenAt] = src, t.UnixNano()
		}
		return
	}
	props[relPropSeen] = seenJSON(seenBy)
}

// relProperties is the full property map of a relationship.
func relProperties(r *store.Relationship) (map[string]any, error) {
	props := make(map[string]any, len(r.Attributes)+3)
	if err := attributeProperties("attributes", r.Attributes, props); err != nil {
		return nil, err
	}
	props[relPropID] = string(r.ID)
	props[relPropCreatedAt] = r.CreatedAt.UTC()
	props[relPropUpdatedAt] = r.UpdatedAt.UTC()
	props[relPropVersion] = max(r.Version, 1)
	setRelSeen(r.SeenBy, props)
	for k, v := range props {
		if v == nil {
			delete(props, k) // SET r = props stores no nulls
		}
	}
	return props, nil
}

// relFromProperties decodes a relationship's properties.
func relFromProperties(key store.RelationshipKey, v any) (store.Relationship, error) {
	props, _ := v.(map[string]any)
	r := store.Relationship{
		ID:         key.ID(),
		Type:       key.Type,
		Source:     key.Source,
		Target:     key.Target,
		Attributes: store.Attributes{},
		Version:    1, // written before versions were kept
		SeenBy:     map[string]time.Time{},
	}
	var (
		seenBy    string
		seenAt    int64
		hasSeenAt bool
	)
	for k, v := range props {
		switch k {
		case relPropID:
		case relPropCreatedAt:
			r.CreatedAt = asTime(v)
		case relPropUpdatedAt:
			r.UpdatedAt = asTime(v)
		case relPropVersion:
			if n, ok := v.(int64); ok && n > 0 {
				r.Version = n
			}
		case relPropSeen:
			s, _ := v.(string)
			if err := decodeSeen(s, r.SeenBy); err != nil {
				return store.Relationship{}, err
			}
		case relPropSeenBy:
			seenBy, _ = v.(string)
		case relPropSeenAt:
			seenAt, hasSeenAt = v.(int64)
		default:
			if len(k) > 0 && k[0] == '_' {
				continue
			}
			av, err := fromProperty(v)
			if err != nil {
				return store.Relationship{}, fmt.Errorf("attribute %q: %w", k, err)
			}
			r.Attributes[k] = av
		}
	}
	if seenBy != "" && hasSeenAt {
		r.SeenBy[seenBy] = time.Unix(0, seenAt).UTC()
	}
	return r, nil
}

func cloneRel(r store.Relationship) store.Relationship {
	r.Attributes = cloneAttributes(r.Attributes)
	r.SeenBy = maps.Clone(r.SeenBy)
	return r
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// asString reads a string record value ("" for null).
func asString(v any) string {
	s, _ := v.(string)
	return s
}
