package cmdb

import (
	"fmt"
	"sort"

	"github.com/skein-cmdb/skein/internal/store"
)

// Reconcile is the model's store.ReconcileFunc. It decides what an
// identified CI becomes when a source reports it:
//
//   - Class: the most specific class wins. A CI stored as Server and
//     reported as LinuxServer becomes a LinuxServer; reported again as
//     Server it stays a LinuxServer. Two classes of which neither is an
//     ancestor of the other (LinuxServer and WindowsServer) conflict.
//   - Attributes: a reported value replaces the stored one only when the
//     reporting source's precedence for that attribute of the class (see
//     Model.AttributePrecedence) is at least that of the source that set
//     the stored value, or that value is stale (Model.Stale: older than
//     its rule's refresh_days at in.At); attributes not reported are kept,
//     and a nil value clears (with the same precedence rule).
//   - Defaults apply when a CI is created.
//   - Keys are recomputed from the merged attributes.
//
// It is pure: the same inputs always give the same output.
func (m *Model) Reconcile(existing *store.CI, in store.CIUpsert, source string) (store.Reconciled, error) {
	return m.reconcile(existing, in, source, false)
}

// Apply is Reconcile without source precedence: every value of in
// replaces the stored one (nil clears), whichever source set it. It is
// the decision of a deliberate write that owns its attributes, such as a
// workflow transition (a record's state is the workflow's, not a
// discovery source's); defaults, required attributes and keys are as
// Reconcile's.
func (m *Model) Apply(existing *store.Node, in store.NodeUpsert, source string) (store.Decision, error) {
	return m.reconcile(existing, in, source, true)
}

func (m *Model) reconcile(existing *store.CI, in store.CIUpsert, source string, force bool) (store.Reconciled, error) {
	if existing == nil {
		return m.create(in, source)
	}
	class := existing.Class
	switch {
	case in.Class == existing.Class:
	case m.IsA(in.Class, existing.Class):
		class = in.Class
	case m.IsA(existing.Class, in.Class):
	default:
		return store.Reconciled{}, fmt.Errorf("reported as %s but identified as CI %s of class %s, and neither class is a kind of the other: %w",
			in.Class, existing.ID, existing.Class, store.ErrConflict)
	}
	cls, ok := m.classes[class]
	if !ok {
		return store.Reconciled{}, store.Invalid("class", "unknown class %q", clip(class))
	}
	r := store.Reconciled{
		Class:      class,
		Attributes: make(store.Attributes, len(existing.Attributes)+len(in.Attributes)),
		Sources:    make(map[string]string, len(existing.Sources)+len(in.Attributes)),
	}
	for k, v := range existing.Attributes {
		r.Attributes[k] = v
	}
	for k, v := range existing.Sources {
		r.Sources[k] = v
	}
	if class != existing.Class {
		r.Changes = append(r.Changes, store.FieldChange{Field: "class", Before: existing.Class, After: class})
	}
	for _, k := range sortedKeys(in.Attributes) {
		v := in.Attributes[k]
		old, has := r.Attributes[k]
		if has && store.EqualValues(old, v) {
			continue
		}
		if !has && v == nil {
			continue
		}
		if setBy := r.Sources[k]; !force && has && setBy != "" && m.AttributePrecedence(class, k, source) < m.AttributePrecedence(class, k, setBy) &&
			!m.Stale(class, k, existing.SetAt[k], in.At) {
			continue // a source of higher precedence owns this value, and it is fresh
		}
		if v == nil {
			if def, ok := cls.attrs[k]; ok && def.Required {
				return store.Reconciled{}, store.Invalid("attributes."+k, "is required and cannot be cleared")
			}
			delete(r.Attributes, k)
			delete(r.Sources, k)
			r.Changes = append(r.Changes, store.FieldChange{Field: k, Before: old})
			continue
		}
		r.Attributes[k] = v
		r.Sources[k] = source
		r.Changes = append(r.Changes, store.FieldChange{Field: k, Before: nilIfAbsent(old, has), After: v})
	}
	r.Keys = cls.Keys(r.Attributes)
	if len(r.Keys) == 0 {
		return store.Reconciled{}, cls.noKeyError("attributes")
	}
	return r, nil
}

func (m *Model) create(in store.CIUpsert, source string) (store.Reconciled, error) {
	cls, ok := m.classes[in.Class]
	if !ok {
		return store.Reconciled{}, store.Invalid("class", "unknown class %q", clip(in.Class))
	}
	r := store.Reconciled{
		Class:      in.Class,
		Attributes: make(store.Attributes, len(in.Attributes)+2),
		Sources:    make(map[string]string, len(in.Attributes)+2),
		Changes:    []store.FieldChange{{Field: "class", After: in.Class}},
	}
	for k, v := range in.Attributes {
		if v != nil {
			r.Attributes[k] = v
			r.Sources[k] = source
		}
	}
	for _, name := range cls.names {
		if def := cls.attrs[name]; def.Default != nil {
			if _, ok := r.Attributes[name]; !ok {
				r.Attributes[name] = def.Default
				r.Sources[name] = source
			}
		}
	}
	if err := checkRequired(cls, "attributes", r.Attributes); err != nil {
		return store.Reconciled{}, err
	}
	for _, k := range sortedKeys(r.Attributes) {
		r.Changes = append(r.Changes, store.FieldChange{Field: k, After: r.Attributes[k]})
	}
	r.Keys = cls.Keys(r.Attributes)
	if len(r.Keys) == 0 {
		return store.Reconciled{}, cls.noKeyError("attributes")
	}
	return r, nil
}

func nilIfAbsent(v any, has bool) any {
	if !has {
		return nil
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
