package auth

// Role sets the rules are made of.
var (
	everyone = []Role{Anonymous, Viewer, Agent, Engineer, ChangeManager, Admin}
	readers  = []Role{Anonymous, Viewer, Engineer, ChangeManager, Admin}
	tokens   = []Role{Viewer, Agent, Engineer, ChangeManager, Admin}
	loaders  = []Role{Agent, Engineer, ChangeManager, Admin}
	editors  = []Role{Engineer, ChangeManager, Admin}
	admins   = []Role{Admin}
)

// Rules maps each root field of the schema, "Query.cis" or
// "Mutation.upsertCIs", to the roles that may call it. A field that is not
// here is refused to everyone.
//
// Anonymous in a rule means a request without a token, which the HTTP
// layer lets through only while anonymous reads are allowed
// (auth.anonymous_read, and only on a loopback listener); no mutation
// lists it, so an unauthenticated request never writes.
var Rules = map[string][]Role{
	// Who am I, and what is the model: every caller.
	"Query.version":           everyone,
	"Query.viewer":            everyone,
	"Query.ciClasses":         everyone,
	"Query.ciClass":           everyone,
	"Query.relationshipTypes": everyone,

	// The configuration graph: readers (agents write, they do not read).
	"Query.node":           readers,
	"Query.ci":             readers,
	"Query.cis":            readers,
	"Query.search":         readers,
	"Query.impactAnalysis": readers,
	"Query.shortestPath":   readers,
	"Query.auditRecords":   readers,

	// Identity conflicts: readers list them, editors merge.
	"Query.identityConflicts": readers,
	"Mutation.mergeCIs":       editors,

	// Tokens: admins.
	"Query.apiTokens":         admins,
	"Mutation.createAPIToken": admins,
	"Mutation.revokeAPIToken": admins,

	// Checks that the caller may write at all.
	"Mutation.ping": tokens,

	// Discovery data: agents and editors.
	"Mutation.upsertCIs":           loaders,
	"Mutation.createRelationships": loaders,

	// Changes by hand: editors.
	"Mutation.updateCI":            editors,
	"Mutation.deleteCI":            editors,
	"Mutation.deleteRelationships": editors,

	// The class model: admins.
	"Mutation.registerCIClass":          admins,
	"Mutation.registerRelationshipType": admins,
	"Mutation.retireCIClass":            admins,
	"Mutation.retireRelationshipType":   admins,
}

// Allowed reports whether role may call the root field named "Type.field".
// A field without a rule is allowed to no one.
func Allowed(role Role, field string) bool {
	for _, r := range Rules[field] {
		if r == role {
			return true
		}
	}
	return false
}

// NestedRules maps fields below the root that reach beyond the object they
// belong to (a CI's relationships, dependencies, paths and history) or hold
// its stored data (name, attributes, sightings) to the roles that may
// select them. Without them an agent, which may not read the graph, could
// walk it from the CIs a mutation returns, or read any CI it can name
// through an upsert that changes nothing. What an agent may select of a CI
// is what identifies it (id, class) and when it was made, changed and seen.
// Fields not listed follow their root field's rule.
var NestedRules = map[string][]Role{
	"CI.relationships": readers,
	"CI.dependencies":  readers,
	"CI.dependents":    readers,
	"CI.pathTo":        readers,
	"CI.history":       readers,

	"CI.name":                 readers,
	"CI.status":               readers,
	"CI.environment":          readers,
	"CI.owner":                readers,
	"CI.supportGroup":         readers,
	"CI.criticality":          readers,
	"CI.tags":                 readers,
	"CI.attributes":           readers,
	"CI.seenBy":               readers,
	"Relationship.attributes": readers,
	"Relationship.seenBy":     readers,
}

// AllowedNested reports whether role may select the nested field named
// "Type.field"; fields without a nested rule are allowed (their root field
// decides).
func AllowedNested(role Role, field string) bool {
	roles, ok := NestedRules[field]
	if !ok {
		return true
	}
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}

// AuditKindRules maps kinds of audit record (store.ObjectKind) to the
// roles that may read them wherever the audit trail is read
// (Query.auditRecords, node(id:)). Token records name tokens and their
// roles, which only admins may list. Kinds not listed follow the field's
// rule.
var AuditKindRules = map[string][]Role{
	"token": admins,
}

// MayReadAuditKind reports whether role may read audit records about
// objects of kind.
func MayReadAuditKind(role Role, kind string) bool {
	roles, ok := AuditKindRules[kind]
	if !ok {
		return true
	}
	for _, r := range roles {
		if r == role {
			return true
		}
	}
	return false
}
