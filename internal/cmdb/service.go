package cmdb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/store"
)

// Store is the part of a store the CMDB service uses.
type Store interface {
	store.NodeReader
	store.NodeWriter
	store.GraphWriter
	store.RelationshipStore
	store.ModelStore
	store.AuditReader
	store.ConflictStore
	store.SequenceStore
	store.SyncStore
}

// Service applies the model's rules to every CMDB read and write. It is
// safe for concurrent use.
type Service struct {
	st    Store
	base  *Model
	model atomic.Pointer[Model]
	regMu sync.Mutex // serialises registrations and reloads within this process

	missMu     sync.Mutex    // serialises reloads for unknown names
	lastMissAt time.Time     // when such a reload last ran
	missEvery  time.Duration // minMissReload (tests change it)

	maxAge     time.Duration // modelMaxAge (tests change it; 0 never refreshes)
	loadedAt   atomic.Int64  // when the last reload started or was tried (Unix ns)
	refreshing atomic.Bool   // a background refresh is running
}

// minMissReload is how often at most an unknown class or relationship type
// name reloads the model from the store: a client repeating a typo must not
// cost a store read per request. A name another process registered is seen
// within that time.
const minMissReload = time.Second

// modelMaxAge is how old the model may grow before a request refreshes
// it, in the background: other Skein processes sharing the store register
// and retire classes and relationship types, and a process that never
// meets an unknown name would otherwise keep listing a new class as
// missing, or accept a retired one, for as long as it runs.
const modelMaxAge = 5 * time.Second

// refreshTimeout bounds a background refresh of the model.
const refreshTimeout = 30 * time.Second

// NewService returns a service over st whose model is base extended with
// the extensions persisted in st.
func NewService(ctx context.Context, st Store, base *Model) (*Service, error) {
	s := &Service{st: st, base: base, missEvery: minMissReload, maxAge: modelMaxAge}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Model returns the current model. If the model is older than
// modelMaxAge, it starts a refresh in the background (one at a time) and
// returns the current model meanwhile.
func (s *Service) Model() *Model {
	if s.maxAge > 0 && time.Since(time.Unix(0, s.loadedAt.Load())) > s.maxAge && s.refreshing.CompareAndSwap(false, true) {
		go func() {
			defer s.refreshing.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), refreshTimeout)
			defer cancel()
			_ = s.Reload(ctx) // on failure the current model answers; the next request past the age tries again
		}()
	}
	return s.model.Load()
}

// Reload rebuilds the model from the base model and the persisted
// extensions, picking up classes and relationship types that other Skein
// processes registered or retired.
func (s *Service) Reload(ctx context.Context) error {
	// A reload must not overwrite a registration of this process that
	// committed after it read the extensions: registrations hold regMu
	// from their read to their swap, and so does a reload.
	s.regMu.Lock()
	defer s.regMu.Unlock()
	return s.reload(ctx)
}

// reload is Reload with regMu held.
func (s *Service) reload(ctx context.Context) error {
	s.loadedAt.Store(time.Now().UnixNano())
	exts, err := s.st.ModelExtensions(ctx)
	if err != nil {
		return fmt.Errorf("load model extensions: %w", err)
	}
	m, err := s.base.Extend(exts)
	if err != nil {
		return err
	}
	s.model.Store(m)
	return nil
}

// modelFor returns the current model, reloaded if it lacks one of the
// named classes or relationship types (another process may have registered
// them since) and no such reload ran in the last minMissReload.
func (s *Service) modelFor(ctx context.Context, classes, relTypes []string) *Model {
	m := s.Model()
	for _, c := range classes {
		if _, ok := m.classes[c]; !ok && store.ValidIdentifier(c) {
			return s.reloadForMiss(ctx)
		}
	}
	for _, r := range relTypes {
		if _, ok := m.relTypes[r]; !ok && store.ValidIdentifier(r) {
			return s.reloadForMiss(ctx)
		}
	}
	return m
}

// reloadForMiss reloads the model unless a reload for an unknown name ran
// less than minMissReload ago (concurrent callers wait for one reload), and
// returns the current model; on failure the current model answers.
func (s *Service) reloadForMiss(ctx context.Context) *Model {
	s.missMu.Lock()
	defer s.missMu.Unlock()
	if time.Since(s.lastMissAt) >= s.missEvery {
		s.lastMissAt = time.Now()
		_ = s.Reload(ctx)
	}
	return s.Model()
}

// UpsertItem is one CI as reported by a source: its class and raw attribute
// values (JSON-like: strings, numbers, booleans, lists; nil clears).
type UpsertItem struct {
	Class      string
	Attributes map[string]any
}

// Upsert validates, identifies and merges a batch of CIs: UpsertNodes of
// kind ci. Results follow input order; an invalid item gets StatusInvalid
// with an *InvalidError whose field path starts with "items[i]". With
// atomic, any failing item fails the whole batch with an *store.ItemError
// and nothing is written.
func (s *Service) Upsert(ctx context.Context, actor store.Actor, items []UpsertItem, atomic bool) ([]store.UpsertResult, error) {
	return s.UpsertNodes(ctx, actor, KindCI, items, atomic)
}

// UpdateCI changes attributes of one CI named by id (nil clears). The patch
// is merged like an upsert from the actor's source, so precedence applies.
// The write finds the CI by id inside its transaction and merges into the CI
// as stored then: a CI deleted meanwhile is ErrNotFound (never re-created),
// and a CI renamed meanwhile is still the one updated. The read before it
// only finds the class to validate the patch against (a class only ever
// becomes more specific, so the patch stays valid).
func (s *Service) UpdateCI(ctx context.Context, actor store.Actor, id store.ID, attrs map[string]any) (store.UpsertResult, error) {
	return s.UpdateCIAtVersion(ctx, actor, id, attrs, 0)
}

// UpdateCIAtVersion is UpdateCI made conditional on the CI's version: with
// expected not 0, a CI at another version (another writer changed it
// since the client read it) is not changed, and the error wraps
// store.ErrConflict as a *store.VersionConflictError naming the current
// version. The version is compared inside the write transaction, so of
// concurrent updates expecting one version exactly one succeeds. It is
// UpdateNode of kind ci.
func (s *Service) UpdateCIAtVersion(ctx context.Context, actor store.Actor, id store.ID, attrs map[string]any, expected int64) (store.UpsertResult, error) {
	return s.UpdateNode(ctx, actor, KindCI, id, attrs, expected)
}

// RelationshipItem asks for one relationship.
type RelationshipItem struct {
	Type       string
	Source     store.ID
	Target     store.ID
	Attributes map[string]any
	// ExpectedVersion, when set, makes the item a conflict unless the
	// relationship exists at that version.
	ExpectedVersion *int
}

// CreateRelationships validates relationship types, attributes and the
// classes of both endpoints against the model, then creates the
// relationships (idempotently). Results follow input order; field paths
// start with "relationships[i]".
func (s *Service) CreateRelationships(ctx context.Context, actor store.Actor, items []RelationshipItem, atomic bool) ([]store.RelationshipResult, error) {
	actor, err := batchWriter(ctx, actor, auth.KindRelationship, auth.Create, "relationships", len(items))
	if err != nil {
		return nil, err
	}
	types := make([]string, len(items))
	idSet := map[store.ID]bool{}
	for i, it := range items {
		types[i] = it.Type
		if it.Source != "" {
			idSet[it.Source] = true
		}
		if it.Target != "" {
			idSet[it.Target] = true
		}
	}
	m := s.modelFor(ctx, nil, types)
	ids := make([]store.ID, 0, len(idSet))
	for id := range idSet {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var cis map[store.ID]store.CI
	if len(ids) > 0 {
		var err error
		// The ends may be nodes of any kind (a CI OWNED_BY a person); the
		// types' class lists say which kinds each end may be. Only their
		// classes are checked: no attribute is read.
		if cis, err = s.st.NodeFields(ctx, store.AnyKind, ids, nil); err != nil {
			return nil, err
		}
	}
	results := make([]store.RelationshipResult, len(items))
	var batch []store.RelationshipInput
	var index []int
	for i, it := range items {
		in, status, err := m.prepareRel(it, cis)
		if err != nil {
			err = store.PrefixField(err, fmt.Sprintf("relationships[%d]", i))
			if atomic {
				return nil, &store.ItemError{Index: i, Err: err}
			}
			results[i] = store.RelationshipResult{Status: status, Err: err}
			continue
		}
		batch = append(batch, in)
		index = append(index, i)
	}
	if len(batch) == 0 {
		return results, nil
	}
	res, err := s.st.CreateRelationships(ctx, actor, batch, atomic)
	if err != nil {
		var ie *store.ItemError
		if errors.As(err, &ie) && ie.Index >= 0 && ie.Index < len(index) {
			return nil, &store.ItemError{Index: index[ie.Index], Err: reprefixRel(ie.Err, ie.Index, index[ie.Index])}
		}
		return nil, err
	}
	for j, r := range res {
		r.Err = reprefixRel(r.Err, j, index[j])
		results[index[j]] = r
	}
	return results, nil
}

func (m *Model) prepareRel(it RelationshipItem, cis map[store.ID]store.CI) (store.RelationshipInput, store.Status, error) {
	rt, err := m.LookupRelType("type", it.Type)
	if err != nil {
		return store.RelationshipInput{}, store.StatusInvalid, err
	}
	attrs, _, err := validateAttributes(rt, rt.Def.Name, "attributes", it.Attributes)
	if err != nil {
		return store.RelationshipInput{}, store.StatusInvalid, err
	}
	if it.Source == "" {
		return store.RelationshipInput{}, store.StatusInvalid, store.Invalid("source", "is required")
	}
	if it.Target == "" {
		return store.RelationshipInput{}, store.StatusInvalid, store.Invalid("target", "is required")
	}
	if it.Source == it.Target {
		return store.RelationshipInput{}, store.StatusInvalid, store.Invalid("target", "must differ from source")
	}
	for _, end := range []struct {
		field   string
		id      store.ID
		allowed []string
	}{{"source", it.Source, rt.Def.Sources}, {"target", it.Target, rt.Def.Targets}} {
		ci, ok := cis[end.id]
		if !ok {
			return store.RelationshipInput{}, store.StatusNotFound, store.AtField(end.field, fmt.Errorf("no node has this ID: %w", store.ErrNotFound))
		}
		if len(end.allowed) == 0 {
			// A type that names no classes joins CIs, never people,
			// groups or records.
			if k := m.KindOf(ci.Class); k != KindCI {
				return store.RelationshipInput{}, store.StatusInvalid, store.Invalid(end.field,
					"node %s is a %s, and %s joins CIs only", end.id, k, rt.Def.Name)
			}
			continue
		}
		ok = false
		for _, a := range end.allowed {
			if m.IsA(ci.Class, a) {
				ok = true
				break
			}
		}
		if !ok {
			return store.RelationshipInput{}, store.StatusInvalid, store.Invalid(end.field,
				"CI %s is of class %s, which cannot be the %s of %s; allowed %s classes: %s (and their subclasses)",
				end.id, ci.Class, end.field, rt.Def.Name, end.field, strings.Join(end.allowed, ", "))
		}
	}
	in := store.RelationshipInput{Type: rt.Def.Name, Source: it.Source, Target: it.Target, Attributes: attrs}
	if it.ExpectedVersion != nil {
		if *it.ExpectedVersion < 1 {
			return store.RelationshipInput{}, store.StatusInvalid, store.Invalid("expectedVersion", "must be at least 1 (versions start at 1), got %d", *it.ExpectedVersion)
		}
		in.ExpectVersion = int64(*it.ExpectedVersion)
	}
	return in, "", nil
}

// Filter selects CIs in terms of the model.
type Filter struct {
	// Class matches the class and, unless ExactClass, its subclasses.
	Class        string
	ExactClass   bool
	IDs          []store.ID
	Status       []string
	Environment  string
	Owner        string
	SupportGroup string
	Tag          string
	// Name matches the whole name; NamePrefix its start.
	Name       string
	NamePrefix string
	// CaseSensitive makes the text filters (name, name prefix, owner,
	// support group, tag, string attributes) compare exactly instead of
	// ignoring case.
	CaseSensitive bool
	// Attributes match by equality; values are converted to the attribute's
	// type like upsert values.
	Attributes map[string]any
	SeenBefore time.Time
	// Where is a filter expression as the client wrote it (values of any
	// JSON type); checkWhere converts it to the model's types. Errors name
	// its nodes below "where".
	Where *store.Expr
	// Sort orders the list (by ID when zero).
	Sort store.Sort
}

// ListCIs returns a page of CIs matching f.
func (s *Service) ListCIs(ctx context.Context, f Filter, p store.PageRequest) (store.Page[store.CI], error) {
	return s.ListNodes(ctx, KindCI, f, p)
}

// storeFilter checks f against the model of kind and returns the store's
// filter for it. Errors name the filter's fields ("filter.class",
// "where.and[2].attribute").
func (s *Service) storeFilter(ctx context.Context, kind string, f Filter) (store.NodeFilter, error) {
	var classes []string
	if f.Class != "" {
		classes = []string{f.Class}
	}
	m := s.modelFor(ctx, classes, nil)
	root, ok := m.KindRoot(kind)
	if !ok {
		return store.NodeFilter{}, store.Invalid("kind", "%q is not a kind of node; allowed: %s", clip(kind), strings.Join(m.Kinds(), ", "))
	}
	set := attrSet(root)
	// Text is stored in NFC (store.CleanText); text filters compare in NFC
	// too, so a name typed with a combining accent finds its CI.
	sf := store.NodeFilter{Kind: store.ObjectKind(kind), IDs: f.IDs, Tag: norm.NFC.String(f.Tag), Name: norm.NFC.String(f.Name), NamePrefix: norm.NFC.String(f.NamePrefix),
		Owner: norm.NFC.String(f.Owner), SupportGroup: norm.NFC.String(f.SupportGroup), SeenBefore: f.SeenBefore, CaseSensitive: f.CaseSensitive}
	if f.Class != "" {
		cls, err := m.classIn(kind, f.Class)
		if err != nil {
			return sf, err.WithPrefix("filter.class")
		}
		set = cls
		if f.ExactClass {
			sf.Classes = []string{f.Class}
		} else {
			sf.Classes = m.WithSubclasses(f.Class)
		}
	}
	if len(f.IDs) > store.MaxBatch {
		return sf, store.Invalid("filter.ids", "at most %d ids", store.MaxBatch)
	}
	statusDef, hasStatus := root.Attribute("status")
	if len(f.Status) > 0 && !hasStatus {
		return sf, store.Invalid("filter.status", "a %s has no status", kindLabel(kind))
	}
	for i, st := range f.Status {
		v, err := convertValue(statusDef, st)
		if err != nil || v == nil {
			return sf, store.Invalid(fmt.Sprintf("filter.status[%d]", i), "%q is not a status; allowed: %s", clip(st), strings.Join(statusDef.Values, ", "))
		}
		sf.Status = append(sf.Status, v.(string))
	}
	if f.Environment != "" {
		envDef, ok := root.Attribute("environment")
		if !ok {
			return sf, store.Invalid("filter.environment", "a %s has no environment", kindLabel(kind))
		}
		v, err := convertValue(envDef, f.Environment)
		if err != nil {
			return sf, err.WithPrefix("filter.environment")
		}
		sf.Environment, _ = v.(string)
	}
	if len(f.Attributes) > 0 {
		if len(f.Attributes) > 32 {
			return sf, store.Invalid("filter.attributes", "at most 32 attribute filters")
		}
		sf.Attributes = store.Attributes{}
		for _, k := range sortedKeys(f.Attributes) {
			def, ok := set.Attribute(k)
			if !ok {
				def = m.anyAttribute(kind, k)
			}
			if def == nil {
				return sf, store.Invalid("filter.attributes."+clip(k), "no %s class has this attribute", kindLabel(kind))
			}
			v, err := convertValue(def, f.Attributes[k])
			if err != nil {
				return sf, err.WithPrefix("filter.attributes." + k)
			}
			if v == nil {
				return sf, store.Invalid("filter.attributes."+k, "needs a value")
			}
			sf.Attributes[k] = v
		}
	}
	if f.Where != nil {
		w, err := m.checkWhere(kind, f.Where, "where", set)
		if err != nil {
			return sf, err
		}
		sf.Where = w
	}
	if err := f.Sort.Check(); err != nil {
		return sf, err
	}
	sf.Sort = f.Sort
	return sf, nil
}

// anyAttribute finds an attribute definition by name in any class of kind.
func (m *Model) anyAttribute(kind, name string) *AttributeDef {
	for _, n := range m.order {
		if c := m.classes[n]; c.Kind != kind {
			continue
		}
		if a, ok := m.classes[n].attrs[name]; ok {
			return a
		}
	}
	return nil
}

// RegisterClass adds a class to the model, persists it and returns it.
func (s *Service) RegisterClass(ctx context.Context, actor store.Actor, def ClassDef) (*Class, error) {
	if err := auth.Check(ctx, auth.KindClass, auth.Create); err != nil {
		return nil, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return nil, err
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	m, err := s.Model().WithClass(def)
	if err != nil {
		return nil, store.PrefixField(err, "input")
	}
	data, err := MarshalClassDef(m.classes[def.Name].Def)
	if err != nil {
		return nil, err
	}
	if err := s.st.SaveModelExtension(ctx, actor, store.ModelExtension{Kind: store.KindClass, Name: def.Name, Definition: data}); err != nil {
		return nil, err
	}
	s.model.Store(m)
	return m.classes[def.Name], nil
}

// RegisterRelationshipType adds a relationship type, persists it and
// returns it.
func (s *Service) RegisterRelationshipType(ctx context.Context, actor store.Actor, def RelTypeDef) (*RelType, error) {
	if err := auth.Check(ctx, auth.KindRelationshipType, auth.Create); err != nil {
		return nil, err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return nil, err
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if err := s.reload(ctx); err != nil {
		return nil, err
	}
	m, err := s.Model().WithRelType(def)
	if err != nil {
		return nil, store.PrefixField(err, "input")
	}
	data, err := MarshalRelTypeDef(m.relTypes[def.Name].Def)
	if err != nil {
		return nil, err
	}
	if err := s.st.SaveModelExtension(ctx, actor, store.ModelExtension{Kind: store.KindRelationshipType, Name: def.Name, Definition: data}); err != nil {
		return nil, err
	}
	s.model.Store(m)
	return m.relTypes[def.Name], nil
}

// RetireClass removes a class registered at run time from the model, so
// that no CI can be given it and the name can be registered again. The
// default model's classes stay; so does a class with subclasses, one that
// a relationship type names, or one that a CI still has (store.ErrConflict).
// Other Skein processes drop it at their next model reload. Errors name
// "input.name".
func (s *Service) RetireClass(ctx context.Context, actor store.Actor, name string) error {
	if err := auth.Check(ctx, auth.KindClass, auth.Delete); err != nil {
		return err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return err
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if err := s.reload(ctx); err != nil {
		return err
	}
	m := s.Model()
	if _, ok := m.classes[name]; !ok {
		return fmt.Errorf("class %q is not in the model: %w", clip(name), store.ErrNotFound)
	}
	if _, ok := s.base.classes[name]; ok {
		return store.Invalid("input.name", "class %s is part of the default model; only classes registered at run time can be retired", name)
	}
	if sub := m.children[name]; len(sub) > 0 {
		return store.Invalid("input.name", "class %s has subclasses (%s); retire them first", name, strings.Join(sub, ", "))
	}
	for _, rn := range m.relOrder {
		d := m.relTypes[rn].Def
		if contains(d.Sources, name) || contains(d.Targets, name) {
			return store.Invalid("input.name", "relationship type %s names class %s; retire it first", rn, name)
		}
	}
	if err := s.st.RetireModelExtension(ctx, actor, store.KindClass, name); err != nil {
		return err
	}
	return s.reload(ctx)
}

// RetireRelationshipType removes a relationship type registered at run
// time from the model; one that a relationship still has stays
// (store.ErrConflict). Errors name "input.name".
func (s *Service) RetireRelationshipType(ctx context.Context, actor store.Actor, name string) error {
	if err := auth.Check(ctx, auth.KindRelationshipType, auth.Delete); err != nil {
		return err
	}
	actor, err := auth.WriteActor(ctx, actor)
	if err != nil {
		return err
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	if err := s.reload(ctx); err != nil {
		return err
	}
	if _, ok := s.Model().relTypes[name]; !ok {
		return fmt.Errorf("relationship type %q is not in the model: %w", clip(name), store.ErrNotFound)
	}
	if _, ok := s.base.relTypes[name]; ok {
		return store.Invalid("input.name", "relationship type %s is part of the default model; only types registered at run time can be retired", name)
	}
	if err := s.st.RetireModelExtension(ctx, actor, store.KindRelationshipType, name); err != nil {
		return err
	}
	return s.reload(ctx)
}

// unprefix removes a leading path element from an *InvalidError's field.
func unprefix(err error, prefix string) error {
	var ie *store.InvalidError
	if !errors.As(err, &ie) {
		return err
	}
	if rest, ok := strings.CutPrefix(ie.Field, prefix); ok {
		return &store.InvalidError{Field: strings.TrimPrefix(rest, "."), Reason: ie.Reason}
	}
	return err
}

// reprefix rewrites "items[j]" to "items[i]" in an error from the store,
// which numbered items within the batch it saw.
func reprefix(err error, j, i int) error { return renumber(err, "items", j, i) }

func reprefixRel(err error, j, i int) error { return renumber(err, "relationships", j, i) }

func renumber(err error, list string, j, i int) error {
	field, ok := store.FieldOf(err)
	if !ok {
		return err
	}
	from := fmt.Sprintf("%s[%d]", list, j)
	if rest, ok := strings.CutPrefix(field, from); ok {
		return store.WithField(err, fmt.Sprintf("%s[%d]%s", list, i, rest))
	}
	if !strings.HasPrefix(field, list+"[") {
		return store.PrefixField(err, fmt.Sprintf("%s[%d]", list, i))
	}
	return err
}
