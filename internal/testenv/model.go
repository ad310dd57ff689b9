package testenv

import (
	"fmt"
	"slices"
	"testing"

	"github.com/skein-cmdb/skein/discovery"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

// Model returns the server's default class model extended with the classes
// of discovery/model-proposal.yaml (discovery.Model), failing the test when
// either does not load: the proposal must stay registrable.
func Model(t testing.TB) *cmdb.Model {
	t.Helper()
	m, err := discovery.Model()
	if err != nil {
		t.Fatalf("model: %v", err)
	}
	return m
}

// CheckModel fails the test for every CI or relationship of the batches
// that the server's model (with the proposed classes) would refuse: an
// unknown or abstract class, an attribute the class lacks or a value of the
// wrong type or out of range, a CI that no identification rule identifies,
// an unknown relationship type or an end of a class the type does not link.
// It also runs Batch.Validate.
func CheckModel(t testing.TB, batches ...discovery.Batch) {
	t.Helper()
	m := Model(t)
	for bi, b := range batches {
		if err := b.Validate(); err != nil {
			t.Errorf("batches[%d]: %v", bi, err)
		}
		classOf := map[string]string{}
		for i, ci := range b.CIs {
			at := fmt.Sprintf("batches[%d].cis[%d] (%s %v)", bi, i, ci.Class, ci.Attributes["name"])
			classOf[ci.Ref] = ci.Class
			checkIdentified(t, m, at, ci.Class, ci.Attributes, true)
		}
		for i, r := range b.Relationships {
			at := fmt.Sprintf("batches[%d].relationships[%d] (%s)", bi, i, r.Type)
			rt, ok := m.RelType(r.Type)
			if !ok {
				t.Errorf("%s: unknown relationship type", at)
				continue
			}
			for _, e := range []struct {
				name    string
				end     discovery.End
				allowed []string
			}{{"from", r.From, rt.Def.Sources}, {"to", r.To, rt.Def.Targets}} {
				class := e.end.Class
				if e.end.Ref != "" {
					class = classOf[e.end.Ref]
				} else {
					checkIdentified(t, m, at+"."+e.name, class, e.end.Identity, false)
				}
				if len(e.allowed) > 0 && !slices.ContainsFunc(e.allowed, func(a string) bool { return m.IsA(class, a) }) {
					t.Errorf("%s.%s: %s may not be a %s end of %s (allowed: %v)", at, e.name, class, e.name, r.Type, e.allowed)
				}
			}
		}
	}
}

func checkIdentified(t testing.TB, m *cmdb.Model, at, class string, attrs map[string]any, whole bool) {
	t.Helper()
	cls, ok := m.Class(class)
	if !ok {
		t.Errorf("%s: unknown class %q", at, class)
		return
	}
	if whole && cls.Def.Abstract {
		t.Errorf("%s: class %s is abstract", at, class)
	}
	if whole && attrs["name"] == nil {
		t.Errorf("%s: no name (required)", at)
	}
	keyed := store.Attributes{}
	for name, v := range attrs {
		def, ok := cls.Attribute(name)
		if !ok {
			t.Errorf("%s: class %s has no attribute %q", at, class, name)
			continue
		}
		if err := checkValue(def, v); err != nil {
			t.Errorf("%s.attributes.%s: %v", at, name, err)
		}
		if n, ok := v.(int); ok {
			v = int64(n)
		}
		keyed[name] = v
	}
	if len(cls.Keys(keyed)) == 0 {
		t.Errorf("%s: no identification rule of %s applies to %v (rules %v)", at, class, attrs, cls.Rules)
	}
}

func checkValue(def *cmdb.AttributeDef, v any) error {
	inRange := func(f float64) error {
		if (def.Min != nil && f < *def.Min) || (def.Max != nil && f > *def.Max) {
			return fmt.Errorf("%v out of range", f)
		}
		return nil
	}
	switch def.Type {
	case cmdb.TypeString, cmdb.TypeTime:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, have %T", v)
		}
		if def.MaxLength > 0 && len(s) > def.MaxLength {
			return fmt.Errorf("longer than %d", def.MaxLength)
		}
	case cmdb.TypeEnum:
		if !slices.Contains(def.Values, fmt.Sprint(v)) {
			return fmt.Errorf("%v is not one of %v", v, def.Values)
		}
	case cmdb.TypeInt:
		switch n := v.(type) {
		case int:
			return inRange(float64(n))
		case int64:
			return inRange(float64(n))
		}
		return fmt.Errorf("want an integer, have %T", v)
	case cmdb.TypeFloat:
		f, ok := v.(float64)
		if !ok {
			return fmt.Errorf("want a float64, have %T", v)
		}
		return inRange(f)
	case cmdb.TypeBool:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want a bool, have %T", v)
		}
	case cmdb.TypeList:
		if _, ok := v.([]string); !ok {
			return fmt.Errorf("want []string, have %T", v)
		}
	}
	return nil
}
