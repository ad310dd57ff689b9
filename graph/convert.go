package graph

import (
	"fmt"
	"sort"
	"time"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/cmdb"
	"github.com/skein-cmdb/skein/internal/store"
)

func ciView(c store.CI) *model.CI {
	v := &model.CI{
		ID:         globalID(typeCI, c.ID),
		Class:      c.Class,
		Attributes: attributesOut(c.Attributes),
		CreatedAt:  c.CreatedAt,
		UpdatedAt:  c.UpdatedAt,
		LastSeenAt: c.LastSeenAt,
		Version:    versionOut(c.Version),
		Tags:       []string{},
		Raw:        c,
	}
	setSummaryFields(v, func(k string) any { return c.Attributes[k] })
	if t, ok := c.Attributes["tags"].([]string); ok {
		v.Tags = t
	}
	v.SeenBy = sightings(c.SeenBy)
	return v
}

// ciSummaryView is ciView of a CI of which only the summary is known: the
// fields of summaryCIFields are as ciView makes them of the whole CI.
func ciSummaryView(s *store.Summary) *model.CI {
	v := &model.CI{ID: globalID(typeCI, s.ID), Class: s.Class, Version: versionOut(s.Version), Tags: []string{},
		Raw: store.CI{ID: s.ID, Kind: s.Kind, Class: s.Class, Version: s.Version}}
	setSummaryFields(v, s.Attr)
	return v
}

// setSummaryFields sets the fields of v that a CI's summary attributes
// answer, from attr.
func setSummaryFields(v *model.CI, attr func(string) any) {
	v.Name, _ = attr("name").(string)
	v.Status = strOut(attr("status"))
	v.Environment = strOut(attr("environment"))
	v.Owner = strOut(attr("owner"))
	v.SupportGroup = strOut(attr("support_group"))
	if n, ok := attr("criticality").(int64); ok {
		i := int(n)
		v.Criticality = &i
	}
}

// versionOut is a stored version as the API shows it: at least 1.
func versionOut(v int64) int { return int(max(v, 1)) }

// strOut is a string value, nil for any other.
func strOut(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

func strAttr(a store.Attributes, k string) *string { return strOut(a[k]) }

// attributesOut makes attribute values JSON-friendly: times as RFC 3339.
func attributesOut(a store.Attributes) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = valueOut(v)
	}
	return out
}

func valueOut(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func relView(r store.Relationship) *model.Relationship {
	v := &model.Relationship{
		ID:         globalID(typeRelationship, r.Key().ID()),
		Type:       r.Type,
		Attributes: attributesOut(r.Attributes),
		Key:        r.Key(),
	}
	if !r.CreatedAt.IsZero() {
		v.CreatedAt = &r.CreatedAt
	}
	if !r.UpdatedAt.IsZero() {
		v.UpdatedAt = &r.UpdatedAt
	}
	v.Version = versionOut(r.Version)
	v.SeenBy = sightings(r.SeenBy)
	if last := store.LastSeen(r.SeenBy); !last.IsZero() {
		v.LastSeenAt = &last
	}
	return v
}

// provenanceView lists each attribute's source and set time, by attribute.
func provenanceView(c store.CI) []model.AttributeProvenance {
	out := make([]model.AttributeProvenance, 0, len(c.Sources))
	for attr, src := range c.Sources {
		p := model.AttributeProvenance{Attribute: attr, Source: src}
		if t, ok := c.SetAt[attr]; ok {
			p.SetAt = &t
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attribute < out[j].Attribute })
	return out
}

// sightings lists per-source last-seen times, by source.
func sightings(seenBy map[string]time.Time) []model.Sighting {
	out := make([]model.Sighting, 0, len(seenBy))
	for src, at := range seenBy {
		out = append(out, model.Sighting{Source: src, LastSeenAt: at})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

func stepsView(steps []store.Step, from store.ID) []model.PathStep {
	out := make([]model.PathStep, len(steps))
	at := from
	for i, s := range steps {
		next := s.Rel.Target
		if !s.Forward {
			next = s.Rel.Source
		}
		out[i] = model.PathStep{Type: s.Rel.Type, Forward: s.Forward, From: at, To: next, Rel: s.Rel}
		at = next
	}
	return out
}

func pathView(steps []store.Step, from store.ID) *model.Path {
	p := &model.Path{Length: len(steps), Steps: stepsView(steps, from), IDs: []store.ID{from}}
	for _, s := range p.Steps {
		p.IDs = append(p.IDs, s.To)
	}
	return p
}

func classView(m *cmdb.Model, c *cmdb.Class) *model.CIClass {
	v := &model.CIClass{
		Name: c.Def.Name, Ancestors: c.Ancestors, Abstract: c.Def.Abstract,
		IdentificationRules: c.Rules, Subclasses: []string{},
	}
	if v.Ancestors == nil {
		v.Ancestors = []string{}
	}
	if v.IdentificationRules == nil {
		v.IdentificationRules = [][]string{}
	}
	if c.Def.Parent != "" {
		v.Parent = &c.Def.Parent
	}
	if c.Def.Description != "" {
		v.Description = &c.Def.Description
	}
	if c.Family != "" {
		v.Family = &c.Family
	}
	for _, sub := range m.WithSubclasses(c.Def.Name)[1:] {
		if sc, ok := m.Class(sub); ok && sc.Def.Parent == c.Def.Name {
			v.Subclasses = append(v.Subclasses, sub)
		}
	}
	for _, name := range c.AttributeNames() {
		a, _ := c.Attribute(name)
		v.Attributes = append(v.Attributes, *attrDefView(a))
	}
	return v
}

func attrDefView(a *cmdb.AttributeDef) *model.AttributeDefinition {
	v := &model.AttributeDefinition{Name: a.Name, Type: string(a.Type), Required: a.Required, Recommended: a.Recommended, Values: a.Values, Min: a.Min, Max: a.Max, Multiline: a.Multiline}
	if a.MaxLength > 0 {
		v.MaxLength = &a.MaxLength
	}
	if a.Searchable {
		v.Searchable = true
		w := max(a.SearchWeight, 1)
		v.SearchWeight = &w
	}
	if a.Description != "" {
		v.Description = &a.Description
	}
	return v
}

func relTypeView(r *cmdb.RelType) *model.RelationshipType {
	v := &model.RelationshipType{
		Name: r.Def.Name, SourceClasses: nonNil(r.Def.Sources), TargetClasses: nonNil(r.Def.Targets),
		Attributes: []model.AttributeDefinition{},
	}
	if r.Def.Description != "" {
		v.Description = &r.Def.Description
	}
	switch r.Def.Impact.Propagates {
	case cmdb.TargetToSource:
		v.Propagates = model.ImpactPropagationTargetToSource
	case cmdb.SourceToTarget:
		v.Propagates = model.ImpactPropagationSourceToTarget
	default:
		v.Propagates = model.ImpactPropagationNone
	}
	v.Effect = model.ImpactEffectDown
	if r.Def.Impact.Effect == cmdb.EffectDegrades {
		v.Effect = model.ImpactEffectDegraded
	}
	if r.Def.Impact.Redundancy != "" {
		v.RedundancyAttribute = &r.Def.Impact.Redundancy
	}
	for _, name := range r.AttributeNames() {
		a, _ := r.Attribute(name)
		v.Attributes = append(v.Attributes, *attrDefView(a))
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func attrDefsIn(in []model.AttributeDefinitionInput) []cmdb.AttributeDef {
	out := make([]cmdb.AttributeDef, 0, len(in))
	for _, a := range in {
		d := cmdb.AttributeDef{Name: a.Name, Type: cmdb.AttrType(a.Type), Values: a.Values, Min: a.Min, Max: a.Max}
		if a.Required != nil {
			d.Required = *a.Required
		}
		if a.Recommended != nil {
			d.Recommended = *a.Recommended
		}
		if a.MaxLength != nil {
			d.MaxLength = *a.MaxLength
		}
		if a.Normalize != nil {
			d.Normalize = *a.Normalize
		}
		if a.Multiline != nil {
			d.Multiline = *a.Multiline
		}
		if a.Searchable != nil {
			d.Searchable = *a.Searchable
		}
		if a.SearchWeight != nil {
			d.SearchWeight = *a.SearchWeight
		}
		if a.Description != nil {
			d.Description = *a.Description
		}
		out = append(out, d)
	}
	return out
}

// objectIn checks that a JSON input is an object.
func objectIn(field string, v any) (map[string]any, error) {
	switch m := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return m, nil
	}
	return nil, store.Invalid(field, "must be a JSON object of attribute values")
}

// refs names store IDs in error messages as this API does.
var refs = apierr.Refs{
	CI:           func(id store.ID) string { return globalID(typeCI, id) },
	Relationship: func(id store.ID) string { return globalID(typeRelationship, id) },
}

// fieldError turns an item's error into the API's FieldError.
func fieldError(err error) *model.FieldError {
	if err == nil {
		return nil
	}
	p := apierr.From(err, refs)
	fe := &model.FieldError{Code: string(p.Code), Message: p.Message}
	if p.Field != "" {
		fe.Field = &p.Field
	}
	return fe
}

func changedFields(ch []store.FieldChange) []string {
	out := make([]string, len(ch))
	for i, c := range ch {
		out[i] = c.Field
	}
	return out
}

func upsertStatus(s store.Status) (model.UpsertStatus, error) {
	switch s {
	case store.StatusCreated:
		return model.UpsertStatusCreated, nil
	case store.StatusUpdated:
		return model.UpsertStatusUpdated, nil
	case store.StatusUnchanged:
		return model.UpsertStatusUnchanged, nil
	case store.StatusConflict:
		return model.UpsertStatusConflict, nil
	case store.StatusInvalid:
		return model.UpsertStatusInvalid, nil
	}
	return "", fmt.Errorf("unexpected upsert status %q", s)
}

func relStatus(s store.Status) (model.RelationshipStatus, error) {
	switch s {
	case store.StatusCreated:
		return model.RelationshipStatusCreated, nil
	case store.StatusUpdated:
		return model.RelationshipStatusUpdated, nil
	case store.StatusUnchanged:
		return model.RelationshipStatusUnchanged, nil
	case store.StatusDeleted:
		return model.RelationshipStatusDeleted, nil
	case store.StatusNotFound:
		return model.RelationshipStatusNotFound, nil
	case store.StatusInvalid:
		return model.RelationshipStatusInvalid, nil
	case store.StatusConflict:
		return model.RelationshipStatusConflict, nil
	}
	return "", fmt.Errorf("unexpected relationship status %q", s)
}

func dirIn(d *model.Direction) store.Direction {
	if d == nil {
		return store.Both
	}
	switch *d {
	case model.DirectionOut:
		return store.Out
	case model.DirectionIn:
		return store.In
	}
	return store.Both
}

// relConnection is a page of a CI's relationships as a connection.
func relConnection(page store.Page[store.Relationship]) *model.RelationshipConnection {
	conn := &model.RelationshipConnection{
		TotalCount: page.Total,
		Edges:      make([]model.RelationshipEdge, len(page.Items)),
		PageInfo:   &model.PageInfo{HasNextPage: page.HasNext},
	}
	for i, rel := range page.Items {
		conn.Edges[i] = model.RelationshipEdge{Cursor: page.Cursors[i], Node: relView(rel)}
	}
	setPageInfo(conn.PageInfo, len(conn.Edges), func(i int) string { return conn.Edges[i].Cursor })
	return conn
}

// searchConnection shapes a page of search results.
func searchConnection(res cmdb.SearchResult) *model.SearchConnection {
	conn := &model.SearchConnection{TotalCount: res.Total, Truncated: res.Truncated, Edges: make([]model.SearchEdge, len(res.Items)), PageInfo: &model.PageInfo{}}
	for i, h := range res.Items {
		e := model.SearchEdge{Cursor: res.Cursors[i], Node: ciView(h.CI), Score: h.Score, Highlights: make([]model.SearchHighlight, len(h.Highlights))}
		for j, hl := range h.Highlights {
			frags := make([]model.SearchFragment, len(hl.Fragments))
			for k, fr := range hl.Fragments {
				frags[k] = model.SearchFragment{Text: fr.Text, Match: fr.Match}
			}
			e.Highlights[j] = model.SearchHighlight{Attribute: hl.Attribute, Fragments: frags}
		}
		conn.Edges[i] = e
	}
	conn.PageInfo.HasNextPage = res.HasNext
	setPageInfo(conn.PageInfo, len(conn.Edges), func(i int) string { return conn.Edges[i].Cursor })
	return conn
}
