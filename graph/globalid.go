package graph

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/google/uuid"

	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/apierr"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Global IDs are opaque to clients: the type name and the store ID,
// base64url-encoded, so node(id:) can tell which type to load.
const (
	typeCI           = "CI"
	typeRelationship = "Relationship"
	typeAuditRecord  = "AuditRecord"
	typePerson       = "Person"
	typeGroup        = "Group"
	typeIncident     = "Incident"
	typeJournalEntry = "JournalEntry"
	typeChange       = "Change"
	typeProblem      = "Problem"
	typeChangeTask   = "ChangeTask"
	typeProblemTask  = "ProblemTask"
	typeChangeWindow = "ChangeWindow"
	typeTemplate     = "ChangeTemplate"
	typeAsset        = "Asset"
	typeAssetModel   = "AssetModel"
	typeCatalogItem  = "CatalogItem"
	typeKnowledge    = "KnowledgeArticle"
	typeRequest      = "Request"
	typeRITM         = "RequestedItem"
	typeCatalogTask  = "CatalogTask"
)

// recordTypes are the API types of the model kinds of records.
var recordTypes = map[string]string{
	itsm.KindIncident: typeIncident, itsm.KindProblem: typeProblem, itsm.KindChange: typeChange,
	itsm.KindChangeTask: typeChangeTask, itsm.KindProblemTask: typeProblemTask, itsm.KindJournal: typeJournalEntry,
	itsm.KindChangeWindow: typeChangeWindow, itsm.KindChangeTemplate: typeTemplate,
	itsm.KindAsset: typeAsset, itsm.KindAssetModel: typeAssetModel, itsm.KindCatalogItem: typeCatalogItem,
	itsm.KindKnowledge: typeKnowledge, itsm.KindRequest: typeRequest, itsm.KindRequestedItem: typeRITM, itsm.KindCatalogTask: typeCatalogTask,
}

// nodeLoaders fetch each type of Node by store ID for node(id:), each
// through the service method that checks the caller may read it: nil when
// there is no such object. TestEveryNodeTypeLoads fails the build for a
// type implementing Node without one.
var nodeLoaders = map[string]func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error){
	typeCI: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		found, err := r.CMDB.CIs(ctx, []store.ID{id})
		if c, ok := found[id]; ok && err == nil {
			return ciView(c), nil
		}
		return nil, err
	},
	typeRelationship: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		found, err := r.CMDB.Relationships(ctx, []store.ID{id})
		if rel, ok := found[id]; ok && err == nil {
			return relView(rel), nil
		}
		return nil, err
	},
	typeAuditRecord: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		return r.auditRecord(ctx, id)
	},
	typePerson: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if p, err := r.person(ctx, id); p != nil || err != nil {
			return p, err
		}
		return nil, nil
	},
	typeGroup: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if g, err := r.group(ctx, id); g != nil || err != nil {
			return g, err
		}
		return nil, nil
	},
	typeIncident: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if i, err := r.incident(ctx, id); i != nil || err != nil {
			return i, err
		}
		return nil, nil
	},
	typeChange: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if c, err := r.change(ctx, id); c != nil || err != nil {
			return c, err
		}
		return nil, nil
	},
	typeProblem: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if p, err := r.problem(ctx, id); p != nil || err != nil {
			return p, err
		}
		return nil, nil
	},
	typeChangeTask: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if t, err := nodeOf(ctx, r.Resolver, itsm.KindChangeTask, id, changeTaskView); t != nil || err != nil {
			return t, err
		}
		return nil, nil
	},
	typeProblemTask: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if t, err := nodeOf(ctx, r.Resolver, itsm.KindProblemTask, id, problemTaskView); t != nil || err != nil {
			return t, err
		}
		return nil, nil
	},
	typeRequest: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if n, err := nodeOf(ctx, r.Resolver, itsm.KindRequest, id, requestView); n != nil || err != nil {
			return n, err
		}
		return nil, nil
	},
	typeRITM: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if n, err := nodeOf(ctx, r.Resolver, itsm.KindRequestedItem, id, requestedItemView); n != nil || err != nil {
			return n, err
		}
		return nil, nil
	},
	typeCatalogTask: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if n, err := nodeOf(ctx, r.Resolver, itsm.KindCatalogTask, id, catalogTaskView); n != nil || err != nil {
			return n, err
		}
		return nil, nil
	},
	typeCatalogItem: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if c, err := nodeOf(ctx, r.Resolver, itsm.KindCatalogItem, id, catalogItemView); c != nil || err != nil {
			return c, err
		}
		return nil, nil
	},
	typeAsset: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if a, err := nodeOf(ctx, r.Resolver, itsm.KindAsset, id, assetView); a != nil || err != nil {
			return a, err
		}
		return nil, nil
	},
	typeAssetModel: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if m, err := nodeOf(ctx, r.Resolver, itsm.KindAssetModel, id, assetModelView); m != nil || err != nil {
			return m, err
		}
		return nil, nil
	},
	typeTemplate: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if t, err := nodeOf(ctx, r.Resolver, itsm.KindChangeTemplate, id, templateView); t != nil || err != nil {
			return t, err
		}
		return nil, nil
	},
	typeKnowledge: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if a, err := nodeOf(ctx, r.Resolver, itsm.KindKnowledge, id, r.article); a != nil || err != nil {
			return a, err
		}
		return nil, nil
	},
	typeChangeWindow: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if w, err := nodeOf(ctx, r.Resolver, itsm.KindChangeWindow, id, windowView); w != nil || err != nil {
			return w, err
		}
		return nil, nil
	},
	typeJournalEntry: func(ctx context.Context, r *queryResolver, id store.ID) (model.Node, error) {
		if j, err := nodeOf(ctx, r.Resolver, itsm.KindJournal, id, journalView); j != nil || err != nil {
			return j, err
		}
		return nil, nil
	},
}

func globalID(typ string, id store.ID) string {
	return base64.RawURLEncoding.EncodeToString([]byte(typ + ":" + string(id)))
}

// parseGlobalID returns the type and store ID of a global ID, or an
// *store.InvalidError on field. An ID has one spelling, the one the API
// wrote: base64 decoders also accept padded, line-broken or trailing-bit
// variants, and a UUID can be written in upper case or braces, but none of
// these is the same ID.
func parseGlobalID(field, gid string) (string, store.ID, error) {
	b, err := base64.RawURLEncoding.DecodeString(gid)
	if err == nil && base64.RawURLEncoding.EncodeToString(b) == gid {
		if typ, id, ok := strings.Cut(string(b), ":"); ok && canonicalID(typ, store.ID(id)) {
			return typ, store.ID(id), nil
		}
	}
	return "", "", store.Invalid(field, "%q is not an ID returned by this API", clip(gid))
}

// canonicalID reports whether id is a store ID of type typ in its one form:
// a lower-case hyphenated UUID for CIs and audit records, a relationship ID
// as store.RelationshipKey.ID writes it.
func canonicalID(typ string, id store.ID) bool {
	switch typ {
	case typeCI, typeAuditRecord, typePerson, typeGroup, typeIncident, typeJournalEntry, typeChange, typeProblem, typeChangeTask, typeProblemTask,
		typeChangeWindow, typeTemplate, typeAsset, typeAssetModel, typeCatalogItem, typeKnowledge, typeWebhook,
		typeRequest, typeRITM, typeCatalogTask:
		u, err := uuid.Parse(string(id))
		return err == nil && u.String() == string(id)
	case typeRelationship:
		_, err := store.ParseRelationshipID(id)
		return err == nil
	}
	return false
}

// ciID returns the store ID of a CI's global ID.
func ciID(field, gid string) (store.ID, error) { return idOf(field, gid, typeCI) }

// idOf returns the store ID of a global ID of type want, or an
// *store.InvalidError on field.
func idOf(field, gid, want string) (store.ID, error) {
	typ, id, err := parseGlobalID(field, gid)
	if err != nil {
		return "", err
	}
	if typ != want {
		article := "a"
		if strings.ContainsAny(want[:1], "AEIOU") {
			article = "an"
		}
		return "", store.Invalid(field, "is the ID of a %s, not of %s %s", typ, article, want)
	}
	return id, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// CIGlobalID returns the API's global ID of a CI, for tools that talk to
// the API about CIs they know by store ID.
func CIGlobalID(id store.ID) string { return globalID(typeCI, id) }

// Refs names store IDs as this API does (CIs and relationships by their
// global IDs), for the REST endpoints that answer with the same IDs.
func Refs() apierr.Refs { return refs }

// PersonGlobalID returns the API's global ID of a person.
func PersonGlobalID(id store.ID) string { return globalID(typePerson, id) }

// GroupGlobalID returns the API's global ID of a group.
func GroupGlobalID(id store.ID) string { return globalID(typeGroup, id) }

// IncidentGlobalID returns the API's ID of the incident with store ID id.
func IncidentGlobalID(id store.ID) string { return globalID(typeIncident, id) }

// RecordGlobalID returns the API's ID of a record of kind (incident,
// problem, change, their tasks, a journal entry) with store ID id; the
// store ID for other kinds.
func RecordGlobalID(kind string, id store.ID) string {
	if typ, ok := recordTypes[kind]; ok {
		return globalID(typ, id)
	}
	return string(id)
}
