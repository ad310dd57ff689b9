package cmdb

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/agnivade/levenshtein"
	"go.yaml.in/yaml/v3"

	"github.com/skein-cmdb/skein/internal/store"
)

//go:embed model.yaml
var defaultModel []byte

// AttrType is the type of an attribute.
type AttrType string

// Attribute types.
const (
	TypeString AttrType = "string"
	TypeInt    AttrType = "int"
	TypeFloat  AttrType = "float"
	TypeBool   AttrType = "bool"
	TypeTime   AttrType = "time"
	TypeEnum   AttrType = "enum"
	TypeList   AttrType = "list"
)

var attrTypes = []AttrType{TypeString, TypeInt, TypeFloat, TypeBool, TypeTime, TypeEnum, TypeList}

// Normalizers for identification values.
const (
	NormText   = "text"
	NormSerial = "serial"
	NormMAC    = "mac"
	NormFQDN   = "fqdn"
	NormExact  = "exact"
	NormEmail  = "email"
)

var normalizers = []string{NormText, NormSerial, NormMAC, NormFQDN, NormExact, NormEmail}

// AttributeDef declares one attribute of a class or relationship type.
type AttributeDef struct {
	Name     string   `yaml:"name" json:"name"`
	Type     AttrType `yaml:"type" json:"type"`
	Required bool     `yaml:"required,omitempty" json:"required,omitempty"`
	// Recommended marks an attribute a CI of the class should have, though
	// a CI without it is accepted: CMDB health (internal/health) counts a
	// CI missing one as incomplete. Class attributes only; an attribute is
	// required or recommended, not both.
	Recommended bool     `yaml:"recommended,omitempty" json:"recommended,omitempty"`
	Values      []string `yaml:"values,omitempty" json:"values,omitempty"`
	Min         *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max         *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	MaxLength   int      `yaml:"max_length,omitempty" json:"max_length,omitempty"`
	Default     any      `yaml:"default,omitempty" json:"default,omitempty"`
	Normalize   string   `yaml:"normalize,omitempty" json:"normalize,omitempty"`
	// Multiline marks free text (descriptions), which may hold line breaks
	// and tabs; other strings are one line (see store.CleanText).
	Multiline bool `yaml:"multiline,omitempty" json:"multiline,omitempty"`
	// Searchable puts the attribute's words in free-text search (string and
	// list attributes of classes); SearchWeight (1..10, default 1) is what
	// a match in it counts when results are ranked.
	Searchable   bool   `yaml:"searchable,omitempty" json:"searchable,omitempty"`
	SearchWeight int    `yaml:"search_weight,omitempty" json:"search_weight,omitempty"`
	Description  string `yaml:"description,omitempty" json:"description,omitempty"`
}

// ClassDef is the definition of a CI class as written in the model file or
// sent to registerCIClass.
type ClassDef struct {
	Name   string `yaml:"name" json:"name"`
	Parent string `yaml:"parent,omitempty" json:"parent,omitempty"`
	// Kind, on a root class only, names the kind of node the class tree
	// describes: "ci" (the default) for configuration items, "person",
	// "group", and the record kinds. Subclasses inherit it.
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Workflow, on a root class only, says that the kind's nodes are
	// records whose state belongs to a workflow (internal/itsm): they are
	// written through it, never upserted or updated as CIs, people and
	// groups are (UpsertNodes, UpdateNode and SetActive refuse the kind).
	Workflow       bool           `yaml:"workflow,omitempty" json:"workflow,omitempty"`
	Abstract       bool           `yaml:"abstract,omitempty" json:"abstract,omitempty"`
	Description    string         `yaml:"description,omitempty" json:"description,omitempty"`
	Attributes     []AttributeDef `yaml:"attributes,omitempty" json:"attributes,omitempty"`
	Identification [][]string     `yaml:"identification,omitempty" json:"identification,omitempty"`
}

// Impact says how failure travels along a relationship type.
type Impact struct {
	// Propagates is target_to_source, source_to_target or none.
	Propagates string `yaml:"propagates" json:"propagates"`
	// Effect is down or degrades.
	Effect string `yaml:"effect" json:"effect"`
	// Redundancy names the attribute of the receiving CI that holds how many
	// of its members must be up (k of n); empty when the type has no
	// redundancy rule.
	Redundancy string `yaml:"redundancy,omitempty" json:"redundancy,omitempty"`
}

// Impact propagation directions and effects.
const (
	TargetToSource = "target_to_source"
	SourceToTarget = "source_to_target"
	PropagatesNone = "none"
	EffectDown     = "down"
	EffectDegrades = "degrades"
)

// RelTypeDef is the definition of a relationship type.
type RelTypeDef struct {
	Name        string         `yaml:"name" json:"name"`
	Description string         `yaml:"description,omitempty" json:"description,omitempty"`
	Sources     []string       `yaml:"sources,omitempty" json:"sources,omitempty"`
	Targets     []string       `yaml:"targets,omitempty" json:"targets,omitempty"`
	Impact      Impact         `yaml:"impact" json:"impact"`
	Attributes  []AttributeDef `yaml:"attributes,omitempty" json:"attributes,omitempty"`
}

// PrecedenceRule ranks sources for some attributes of a class and its
// subclasses: for those attributes, a source it lists has the rank given
// here instead of its rank under "sources:". The rule of the nearest class
// wins (a rule on VirtualMachine over one on Server).
type PrecedenceRule struct {
	Class      string         `yaml:"class"`
	Attributes []string       `yaml:"attributes"`
	Sources    map[string]int `yaml:"sources"`
	// RefreshDays, when above 0, lets any source overwrite a value of
	// these attributes that has not been set for that many days, whatever
	// its rank: a stale value from a strong source gives way to a fresh
	// one from a weaker source (data refresh).
	RefreshDays int `yaml:"refresh_days,omitempty"`
}

// maxRefreshDays bounds PrecedenceRule.RefreshDays (ten years).
const maxRefreshDays = 3650

// maxPrecedence bounds a source's rank.
const maxPrecedence = 1000

type modelFile struct {
	Sources           map[string]int   `yaml:"sources"`
	Precedence        []PrecedenceRule `yaml:"attribute_precedence"`
	Classes           []ClassDef       `yaml:"classes"`
	RelationshipTypes []RelTypeDef     `yaml:"relationship_types"`
}

// Class is a resolved class: its own definition plus everything inherited.
type Class struct {
	Def ClassDef
	// Kind is the kind of node the class describes (see ClassDef.Kind).
	Kind string
	// Ancestors lists the parent chain, nearest first.
	Ancestors []string
	// Family is the topmost class (itself or an ancestor) that declares
	// identification rules; identity keys are unique within a family.
	Family string
	// Rules are the identification rules, inherited ones first.
	Rules [][]string
	attrs map[string]*AttributeDef
	names []string // sorted attribute names
	// searchable are the searchable attributes, own and inherited, by name.
	searchable []*AttributeDef
}

// Searchable returns the class's searchable attributes, own and inherited,
// sorted by name.
func (c *Class) Searchable() []*AttributeDef { return c.searchable }

// Attribute returns the definition of attribute name, own or inherited.
func (c *Class) Attribute(name string) (*AttributeDef, bool) {
	a, ok := c.attrs[name]
	return a, ok
}

// AttributeNames returns every attribute name of the class, sorted.
func (c *Class) AttributeNames() []string { return c.names }

// Expected returns the class's required and recommended attributes, own
// and inherited, each sorted by name: what a complete CI of the class has.
func (c *Class) Expected() (required, recommended []string) {
	for _, k := range c.names {
		switch a := c.attrs[k]; {
		case a.Required:
			required = append(required, k)
		case a.Recommended:
			recommended = append(recommended, k)
		}
	}
	return required, recommended
}

// RelType is a resolved relationship type.
type RelType struct {
	Def   RelTypeDef
	attrs map[string]*AttributeDef
	names []string
}

// Model is an immutable, resolved class model. Extending it returns a new
// Model, so readers never lock.
type Model struct {
	classes  map[string]*Class
	relTypes map[string]*RelType
	sources  map[string]int
	children map[string][]string
	order    []string // class names in definition order
	relOrder []string
	kinds    []string          // kind names in definition order
	roots    map[string]string // kind → its root class
	// attrPrec holds the attribute precedence rules: class → attribute →
	// source → rank.
	attrPrec map[string]map[string]map[string]int
	// refresh holds their refresh periods: class → attribute → days.
	refresh map[string]map[string]int
}

// KindCI is the kind of configuration items, the default kind of a class.
const KindCI = "ci"

// Kinds returns the kinds of node the model declares, in definition order
// (KindCI first).
func (m *Model) Kinds() []string { return m.kinds }

// KindRoot returns the root class of kind's class tree.
func (m *Model) KindRoot(kind string) (*Class, bool) {
	n, ok := m.roots[kind]
	if !ok {
		return nil, false
	}
	return m.classes[n], true
}

// KindOf returns the kind of class name ("" for an unknown class).
func (m *Model) KindOf(name string) string {
	if c, ok := m.classes[name]; ok {
		return c.Kind
	}
	return ""
}

// DefaultModel parses the model file embedded in the binary.
func DefaultModel() (*Model, error) {
	return ParseModel(defaultModel)
}

// ParseModel parses and resolves a model file.
func ParseModel(data []byte) (*Model, error) {
	var f modelFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse model: %w", err)
	}
	m := &Model{
		classes:  map[string]*Class{},
		relTypes: map[string]*RelType{},
		sources:  map[string]int{"default": 50},
		children: map[string][]string{},
		roots:    map[string]string{},
	}
	for k, v := range f.Sources {
		m.sources[k] = v
	}
	for i, c := range f.Classes {
		if err := m.addClass(c, true); err != nil {
			return nil, fmt.Errorf("model: classes[%d]: %w", i, err)
		}
	}
	for i, r := range f.RelationshipTypes {
		if err := m.addRelType(r, true); err != nil {
			return nil, fmt.Errorf("model: relationship_types[%d]: %w", i, err)
		}
	}
	for k, v := range m.sources {
		if v < 0 || v > maxPrecedence {
			return nil, fmt.Errorf("model: sources.%s: %d is out of range 0..%d", k, v, maxPrecedence)
		}
	}
	for i, r := range f.Precedence {
		if err := m.addPrecedence(r); err != nil {
			return nil, fmt.Errorf("model: attribute_precedence[%d]: %w", i, err)
		}
	}
	return m, nil
}

// addPrecedence checks and adds an attribute precedence rule.
func (m *Model) addPrecedence(r PrecedenceRule) error {
	c, ok := m.classes[r.Class]
	if !ok {
		return store.Invalid("class", "unknown class %q%s", clip(r.Class), m.suggestClass("", r.Class))
	}
	if len(r.Attributes) == 0 || (len(r.Sources) == 0 && r.RefreshDays == 0) {
		return store.Invalid("attributes", "a rule names at least one attribute, and sources or refresh_days")
	}
	if r.RefreshDays < 0 || r.RefreshDays > maxRefreshDays {
		return store.Invalid("refresh_days", "%d is out of range 0..%d", r.RefreshDays, maxRefreshDays)
	}
	if m.attrPrec == nil {
		m.attrPrec = map[string]map[string]map[string]int{}
	}
	byAttr := m.attrPrec[r.Class]
	if byAttr == nil {
		byAttr = map[string]map[string]int{}
		m.attrPrec[r.Class] = byAttr
	}
	for j, a := range r.Attributes {
		if _, ok := c.attrs[a]; !ok {
			return store.Invalid(fmt.Sprintf("attributes[%d]", j), "class %s has no attribute %q", r.Class, clip(a))
		}
		if byAttr[a] == nil {
			byAttr[a] = map[string]int{}
		}
		if r.RefreshDays > 0 {
			if m.refresh == nil {
				m.refresh = map[string]map[string]int{}
			}
			if m.refresh[r.Class] == nil {
				m.refresh[r.Class] = map[string]int{}
			}
			if _, dup := m.refresh[r.Class][a]; dup {
				return store.Invalid("refresh_days", "given twice for %s.%s", r.Class, a)
			}
			m.refresh[r.Class][a] = r.RefreshDays
		}
		for src, rank := range r.Sources {
			if src == "" || len(src) > 64 {
				return store.Invalid("sources", "source name %q must be 1 to 64 characters", clip(src))
			}
			if rank < 0 || rank > maxPrecedence {
				return store.Invalid("sources."+src, "%d is out of range 0..%d", rank, maxPrecedence)
			}
			if _, dup := byAttr[a][src]; dup {
				return store.Invalid("sources."+src, "ranked twice for %s.%s", r.Class, a)
			}
			byAttr[a][src] = rank
		}
	}
	return nil
}

func (m *Model) clone() *Model {
	n := &Model{
		classes:  make(map[string]*Class, len(m.classes)+1),
		relTypes: make(map[string]*RelType, len(m.relTypes)+1),
		sources:  m.sources,
		children: make(map[string][]string, len(m.children)+1),
		order:    append([]string(nil), m.order...),
		relOrder: append([]string(nil), m.relOrder...),
		kinds:    m.kinds,
		roots:    m.roots,
		attrPrec: m.attrPrec,
		refresh:  m.refresh,
	}
	for k, v := range m.classes {
		n.classes[k] = v
	}
	for k, v := range m.relTypes {
		n.relTypes[k] = v
	}
	for k, v := range m.children {
		n.children[k] = append([]string(nil), v...)
	}
	return n
}

// WithClass returns a new model extended with class def, or an
// *store.InvalidError naming the bad field (a duplicate name wraps
// store.ErrConflict).
//
// Classes registered at run time are CI classes: def must have a parent of
// kind ci and no kind of its own; the other kinds' class trees are declared
// in the model file.
func (m *Model) WithClass(def ClassDef) (*Model, error) {
	if def.Kind != "" && def.Kind != KindCI {
		return nil, store.Invalid("kind", "classes registered at run time are CI classes; kind %q is declared in the model file", clip(def.Kind))
	}
	if p, ok := m.classes[def.Parent]; ok && p.Kind != KindCI {
		return nil, store.Invalid("parent", "class %s is a %s class; classes registered at run time are CI classes, with a CI class as parent", p.Def.Name, p.Kind)
	}
	n := m.clone()
	if err := n.addClass(def, true); err != nil {
		return nil, err
	}
	return n, nil
}

// WithRelType returns a new model extended with relationship type def.
func (m *Model) WithRelType(def RelTypeDef) (*Model, error) {
	n := m.clone()
	if err := n.addRelType(def, true); err != nil {
		return nil, err
	}
	return n, nil
}

// validClassName reports whether s is an UpperCamel class name: an upper
// case letter, then letters, digits or underscores, at most 64 in all.
func validClassName(s string) bool {
	return store.ValidIdentifier(s) && s[0] >= 'A' && s[0] <= 'Z'
}

// addClass resolves and adds a class. Without strict (replaying what an
// older Skein persisted), names that the naming rules of today refuse are
// still loaded, so that a store written before a rule existed still opens.
func (m *Model) addClass(def ClassDef, strict bool) error {
	if !store.ValidIdentifier(def.Name) || (strict && !validClassName(def.Name)) {
		return store.Invalid("name", "class name %q must be UpperCamel: an upper case letter followed by letters, digits or underscores (at most 64), e.g. MessageQueue", clip(def.Name))
	}
	if _, dup := m.classes[def.Name]; dup {
		return store.AtField("name", fmt.Errorf("class %s is already registered: %w", def.Name, store.ErrConflict))
	}
	for _, other := range m.order {
		if strict && strings.EqualFold(other, def.Name) {
			// Server, server and SERVER would be three parallel families
			// that a discovery typo silently splits CIs across.
			return store.AtField("name", fmt.Errorf("class name %s clashes with the registered class %s: class names must differ by more than case: %w", def.Name, other, store.ErrConflict))
		}
	}
	c := &Class{Def: def, attrs: map[string]*AttributeDef{}}
	if def.Parent != "" {
		p, ok := m.classes[def.Parent]
		if !ok {
			return store.Invalid("parent", "unknown class %q%s", clip(def.Parent), m.suggestClass("", def.Parent))
		}
		c.Ancestors = append([]string{p.Def.Name}, p.Ancestors...)
		for k, v := range p.attrs {
			c.attrs[k] = v
		}
		c.Rules = append(c.Rules, p.Rules...)
		c.Family = p.Family
		c.Kind = p.Kind
		if def.Kind != "" && def.Kind != p.Kind {
			return store.Invalid("kind", "only a root class declares a kind; %s inherits kind %s from %s", def.Name, p.Kind, p.Def.Name)
		}
	} else {
		if err := m.addKind(c); err != nil {
			return err
		}
	}
	for i := range def.Attributes {
		a := &def.Attributes[i]
		field := fmt.Sprintf("attributes[%d]", i)
		if err := checkAttrDef(a); err != nil {
			return err.WithPrefix(field)
		}
		if _, dup := c.attrs[a.Name]; dup {
			return store.Invalid(field+".name", "attribute %q is already defined by %s or an ancestor", a.Name, def.Name)
		}
		c.attrs[a.Name] = a
	}
	for i, rule := range def.Identification {
		field := fmt.Sprintf("identification[%d]", i)
		if len(rule) == 0 || len(rule) > 8 {
			return store.Invalid(field, "a rule lists 1 to 8 attribute names")
		}
		for _, name := range rule {
			a, ok := c.attrs[name]
			if !ok {
				return store.Invalid(field, "unknown attribute %q", clip(name))
			}
			if a.Type == TypeList || a.Type == TypeTime || a.Type == TypeFloat {
				return store.Invalid(field, "attribute %q of type %s cannot identify a CI (use string, int, bool or enum)", name, a.Type)
			}
		}
		c.Rules = append(c.Rules, rule)
	}
	if c.Family == "" && len(c.Rules) > 0 {
		c.Family = def.Name
	}
	c.names = make([]string, 0, len(c.attrs))
	for k := range c.attrs {
		c.names = append(c.names, k)
	}
	sort.Strings(c.names)
	for _, k := range c.names {
		if a := c.attrs[k]; a.Searchable {
			c.searchable = append(c.searchable, a)
		}
	}
	m.classes[def.Name] = c
	m.order = append(m.order, def.Name)
	if def.Parent != "" {
		m.children[def.Parent] = append(m.children[def.Parent], def.Name)
	}
	if !def.Abstract && len(c.Rules) == 0 {
		return store.Invalid("identification", "class %s has no identification rule of its own or inherited; add at least one (e.g. [[name]])", def.Name)
	}
	return nil
}

// addKind makes root class c the root of its kind: the first root is the
// root of kind ci; any other root declares a kind of its own, which no other
// root has.
func (m *Model) addKind(c *Class) error {
	kind := c.Def.Kind
	if kind == "" {
		kind = KindCI
	}
	if !store.ValidIdentifier(kind) || strings.ToLower(kind) != kind {
		return store.Invalid("kind", "kind %q must be lower case letters, digits and underscores, starting with a letter", clip(kind))
	}
	if root, dup := m.roots[kind]; dup {
		if kind == KindCI {
			return store.Invalid("parent", "is required (the root class is %s)", root)
		}
		return store.Invalid("kind", "kind %s already has the root class %s; give %s a parent", kind, root, c.Def.Name)
	}
	if len(m.roots) == 0 && kind != KindCI {
		return store.Invalid("kind", "the first root class is the root of kind %s", KindCI)
	}
	c.Kind = kind
	roots := make(map[string]string, len(m.roots)+1)
	for k, v := range m.roots {
		roots[k] = v
	}
	roots[kind] = c.Def.Name
	m.roots = roots
	m.kinds = append(append([]string(nil), m.kinds...), kind)
	return nil
}

func checkAttrDef(a *AttributeDef) *store.InvalidError {
	if !store.ValidIdentifier(a.Name) || strings.ToLower(a.Name) != a.Name {
		return store.Invalid("name", "attribute name %q must be lower case letters, digits and underscores, starting with a letter", clip(a.Name))
	}
	if store.ReservedAttribute(a.Name) {
		return store.Invalid("name", "%q is reserved for the CI's own fields", a.Name)
	}
	if !contains(attrTypes, a.Type) {
		return store.Invalid("type", "unknown type %q; allowed: %s", clip(string(a.Type)), joinAny(attrTypes))
	}
	if a.Type == TypeEnum {
		if len(a.Values) == 0 || len(a.Values) > 256 {
			return store.Invalid("values", "an enum lists 1 to 256 values")
		}
	} else if len(a.Values) > 0 {
		return store.Invalid("values", "only enum attributes list values")
	}
	if a.Normalize != "" && !contains(normalizers, a.Normalize) {
		return store.Invalid("normalize", "unknown normalizer %q; allowed: %s", clip(a.Normalize), strings.Join(normalizers, ", "))
	}
	if a.MaxLength < 0 || a.MaxLength > maxStringLen {
		return store.Invalid("max_length", "must be between 0 and %d", maxStringLen)
	}
	if a.Recommended && a.Required {
		return store.Invalid("recommended", "attribute %q is required, which says more than recommended; declare one of them", a.Name)
	}
	if a.Searchable && a.Type != TypeString && a.Type != TypeList {
		return store.Invalid("searchable", "only string and list attributes are searchable, not %s", a.Type)
	}
	if a.SearchWeight != 0 && (!a.Searchable || a.SearchWeight < 1 || a.SearchWeight > 10) {
		return store.Invalid("search_weight", "must be 1..10, and only on a searchable attribute")
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		return store.Invalid("min", "must not exceed max")
	}
	if a.Default != nil {
		v, err := convertValue(a, a.Default)
		if err != nil {
			return store.Invalid("default", "%s", err.Reason)
		}
		a.Default = v
	}
	return nil
}

// addRelType resolves and adds a relationship type; strict as for addClass.
func (m *Model) addRelType(def RelTypeDef, strict bool) error {
	if !store.ValidIdentifier(def.Name) || strings.ToUpper(def.Name) != def.Name {
		return store.Invalid("name", "relationship type name %q must be upper case letters, digits and underscores, starting with a letter", clip(def.Name))
	}
	if _, dup := m.relTypes[def.Name]; dup {
		return store.AtField("name", fmt.Errorf("relationship type %s is already registered: %w", def.Name, store.ErrConflict))
	}
	for i, c := range def.Sources {
		if _, ok := m.classes[c]; !ok {
			return store.Invalid(fmt.Sprintf("sources[%d]", i), "unknown class %q%s", clip(c), m.suggestClass("", c))
		}
	}
	for i, c := range def.Targets {
		if _, ok := m.classes[c]; !ok {
			return store.Invalid(fmt.Sprintf("targets[%d]", i), "unknown class %q%s", clip(c), m.suggestClass("", c))
		}
	}
	switch def.Impact.Propagates {
	case TargetToSource, SourceToTarget, PropagatesNone:
	case "":
		def.Impact.Propagates = PropagatesNone
	default:
		return store.Invalid("impact.propagates", "must be one of %s, %s, %s", TargetToSource, SourceToTarget, PropagatesNone)
	}
	switch def.Impact.Effect {
	case EffectDown, EffectDegrades:
	case "":
		def.Impact.Effect = EffectDown
	default:
		return store.Invalid("impact.effect", "must be %s or %s", EffectDown, EffectDegrades)
	}
	if strict {
		if err := m.checkRedundancy(def); err != nil {
			return err
		}
	}
	rt := &RelType{Def: def, attrs: map[string]*AttributeDef{}}
	for i := range def.Attributes {
		a := &def.Attributes[i]
		field := fmt.Sprintf("attributes[%d]", i)
		if err := checkAttrDef(a); err != nil {
			return err.WithPrefix(field)
		}
		if a.Searchable {
			return store.Invalid(field+".searchable", "relationship attributes are not searchable")
		}
		if a.Recommended {
			return store.Invalid(field+".recommended", "relationship attributes are not recommended: only a class's attributes count in CMDB health")
		}
		if _, dup := rt.attrs[a.Name]; dup {
			return store.Invalid(field+".name", "attribute %q is defined twice", a.Name)
		}
		rt.attrs[a.Name] = a
		rt.names = append(rt.names, a.Name)
	}
	sort.Strings(rt.names)
	m.relTypes[def.Name] = rt
	m.relOrder = append(m.relOrder, def.Name)
	return nil
}

// checkRedundancy checks a relationship type's redundancy attribute: it
// needs a type along which impact travels, and must name an int attribute
// of every class that receives impact along it (the targets when impact
// travels from source to target, the sources otherwise), or of some class
// when any class may receive it.
func (m *Model) checkRedundancy(def RelTypeDef) error {
	name := def.Impact.Redundancy
	if name == "" {
		return nil
	}
	if !store.ValidIdentifier(name) {
		return store.Invalid("impact.redundancy", "%q is not an attribute name; it must name an int attribute of the receiving class", clip(name))
	}
	receivers := def.Targets
	switch def.Impact.Propagates {
	case TargetToSource:
		receivers = def.Sources
	case PropagatesNone:
		return store.Invalid("impact.redundancy", "a redundancy rule needs impact to travel along the type (propagates %s or %s)", SourceToTarget, TargetToSource)
	}
	isInt := func(c *Class) bool {
		a, ok := c.attrs[name]
		return ok && a.Type == TypeInt
	}
	if len(receivers) == 0 {
		for _, n := range m.order {
			if isInt(m.classes[n]) {
				return nil
			}
		}
		return store.Invalid("impact.redundancy", "no class has an int attribute %q; add it to the receiving classes first", name)
	}
	for _, n := range receivers {
		if c, ok := m.classes[n]; ok && !isInt(c) {
			return store.Invalid("impact.redundancy", "class %s, which receives impact along this type, has no int attribute %q", n, name)
		}
	}
	return nil
}

// Class returns the class named name.
func (m *Model) Class(name string) (*Class, bool) {
	c, ok := m.classes[name]
	return c, ok
}

// Classes returns every class in definition order (parents before
// children).
func (m *Model) Classes() []*Class {
	out := make([]*Class, len(m.order))
	for i, n := range m.order {
		out[i] = m.classes[n]
	}
	return out
}

// RelType returns the relationship type named name.
func (m *Model) RelType(name string) (*RelType, bool) {
	r, ok := m.relTypes[name]
	return r, ok
}

// RelTypes returns every relationship type in definition order.
func (m *Model) RelTypes() []*RelType {
	out := make([]*RelType, len(m.relOrder))
	for i, n := range m.relOrder {
		out[i] = m.relTypes[n]
	}
	return out
}

// IsA reports whether class is ancestor or one of its descendants.
func (m *Model) IsA(class, ancestor string) bool {
	if class == ancestor {
		return true
	}
	c, ok := m.classes[class]
	if !ok {
		return false
	}
	return contains(c.Ancestors, ancestor)
}

// WithSubclasses returns class and all its descendants.
func (m *Model) WithSubclasses(class string) []string {
	out := []string{class}
	for i := 0; i < len(out); i++ {
		out = append(out, m.children[out[i]]...)
	}
	return out
}

// Precedence returns the reconciliation precedence of a source.
func (m *Model) Precedence(source string) int {
	if p, ok := m.sources[source]; ok {
		return p
	}
	return m.sources["default"]
}

// Stale reports whether the value of attribute attr of class, set at
// setAt, may be overwritten at now by any source whatever its rank: the
// nearest attribute precedence rule for attr with refresh_days says how old
// a value must be. A value whose set time is unknown (set before set times
// were kept) is never stale.
func (m *Model) Stale(class, attr string, setAt, now time.Time) bool {
	if len(m.refresh) == 0 || setAt.IsZero() || now.IsZero() {
		return false
	}
	days, ok := m.refresh[class][attr]
	if c, found := m.classes[class]; !ok && found {
		for _, a := range c.Ancestors {
			if days, ok = m.refresh[a][attr]; ok {
				break
			}
		}
	}
	return ok && now.Sub(setAt) > time.Duration(days)*24*time.Hour
}

// AttributePrecedence returns the precedence of source for attribute attr
// of class: the rank given by the attribute precedence rule of the nearest
// class (class itself, then its ancestors) that ranks source for attr, or
// else the source's rank under "sources:".
func (m *Model) AttributePrecedence(class, attr, source string) int {
	if len(m.attrPrec) > 0 {
		if p, ok := m.attrPrec[class][attr][source]; ok {
			return p
		}
		if c, ok := m.classes[class]; ok {
			for _, a := range c.Ancestors {
				if p, ok := m.attrPrec[a][attr][source]; ok {
					return p
				}
			}
		}
	}
	return m.Precedence(source)
}

// LookupClass returns a concrete CI class by name or an *store.InvalidError
// on field that lists the valid classes.
func (m *Model) LookupClass(field, name string) (*Class, error) {
	return m.LookupClassOf(KindCI, field, name)
}

// LookupClassOf returns a concrete class of kind by name or an
// *store.InvalidError on field that lists the valid classes of that kind.
func (m *Model) LookupClassOf(kind, field, name string) (*Class, error) {
	c, ok := m.classes[name]
	if !ok {
		return nil, store.Invalid(field, "unknown class %q%s; valid classes: %s", clip(name), m.suggestClass(kind, name), strings.Join(m.concreteClasses(kind), ", "))
	}
	if c.Kind != kind {
		return nil, store.Invalid(field, "class %s is a %s class, not a %s class; valid classes: %s", name, c.Kind, kindLabel(kind), strings.Join(m.concreteClasses(kind), ", "))
	}
	if c.Def.Abstract {
		return nil, store.Invalid(field, "class %s is abstract; use one of: %s", name, strings.Join(m.concreteIn(name), ", "))
	}
	return c, nil
}

// classIn returns the class of kind (abstract or not) named name, or an
// *store.InvalidError on "" that lists the classes of kind.
func (m *Model) classIn(kind, name string) (*Class, *store.InvalidError) {
	c, ok := m.classes[name]
	if ok && c.Kind == kind {
		return c, nil
	}
	var names []string
	for _, c := range m.ClassesOf(kind) {
		names = append(names, c.Def.Name)
	}
	if ok {
		return nil, store.Invalid("", "class %s is a %s class, not a %s class; valid classes: %s", name, c.Kind, kindLabel(kind), strings.Join(names, ", "))
	}
	return nil, store.Invalid("", "unknown class %q%s; valid classes: %s", clip(name), m.suggestClass(kind, name), strings.Join(names, ", "))
}

// kindLabel is how messages name a kind: "CI" for ci, else the kind.
func kindLabel(kind string) string {
	if kind == KindCI {
		return "CI"
	}
	return kind
}

// ClassesOf returns the classes of kind in definition order.
func (m *Model) ClassesOf(kind string) []*Class {
	var out []*Class
	for _, n := range m.order {
		if c := m.classes[n]; c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// LookupRelType returns a relationship type by name or an
// *store.InvalidError on field that lists the valid types.
func (m *Model) LookupRelType(field, name string) (*RelType, error) {
	r, ok := m.relTypes[name]
	if !ok {
		sugg := ""
		if s := closest(strings.ToUpper(name), m.relOrder); s != "" {
			sugg = "; did you mean " + s + "?"
		}
		return nil, store.Invalid(field, "unknown relationship type %q%s; valid types: %s", clip(name), sugg, strings.Join(m.relOrder, ", "))
	}
	return r, nil
}

func (m *Model) concreteClasses(kind string) []string {
	var out []string
	for _, n := range m.order {
		if c := m.classes[n]; !c.Def.Abstract && c.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

func (m *Model) concreteIn(class string) []string {
	var out []string
	for _, n := range m.WithSubclasses(class) {
		if !m.classes[n].Def.Abstract {
			out = append(out, n)
		}
	}
	return out
}

// suggestClass suggests a class of kind (any kind when "") near name.
func (m *Model) suggestClass(kind, name string) string {
	names := m.order
	if kind != "" {
		names = nil
		for _, n := range m.order {
			if m.classes[n].Kind == kind {
				names = append(names, n)
			}
		}
	}
	if s := closest(name, names); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}

// closest returns the candidate nearest to s by edit distance, if near
// enough to be a likely typo.
func closest(s string, candidates []string) string {
	if len(s) > 128 {
		return "" // no name is that long; don't pay for comparing it
	}
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := levenshtein.ComputeDistance(ls, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD <= 2 || (bestD <= 3 && len(s) > 8) {
		return best
	}
	return ""
}

// MarshalClassDef encodes a class definition for persistence.
func MarshalClassDef(d ClassDef) ([]byte, error) { return json.Marshal(d) }

// MarshalRelTypeDef encodes a relationship type definition for persistence.
func MarshalRelTypeDef(d RelTypeDef) ([]byte, error) { return json.Marshal(d) }

// Extend applies persisted extensions, oldest first.
func (m *Model) Extend(exts []store.ModelExtension) (*Model, error) {
	out := m
	for _, e := range exts {
		var err error
		switch e.Kind {
		case store.KindClass:
			var d ClassDef
			if err = json.Unmarshal(e.Definition, &d); err == nil {
				if _, exists := out.classes[d.Name]; exists {
					continue // already in the base model (e.g. added to model.yaml later)
				}
				n := out.clone()
				if err = n.addClass(d, false); err == nil {
					out = n
				}
			}
		case store.KindRelationshipType:
			var d RelTypeDef
			if err = json.Unmarshal(e.Definition, &d); err == nil {
				if _, exists := out.relTypes[d.Name]; exists {
					continue
				}
				n := out.clone()
				if err = n.addRelType(d, false); err == nil {
					out = n
				}
			}
		default:
			err = fmt.Errorf("unknown kind %q", e.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("model extension %s %s: %w", e.Kind, e.Name, err)
		}
	}
	return out, nil
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func joinAny[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
