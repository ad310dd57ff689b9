package graph

import (
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/skein-cmdb/skein/graph/generated"
	"github.com/skein-cmdb/skein/graph/model"
	"github.com/skein-cmdb/skein/internal/auth"
)

// rootFields returns "Query.x" and "Mutation.y" for every root field of the
// schema, introspection fields aside.
func rootFields(t *testing.T) []string {
	t.Helper()
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	var out []string
	for _, def := range []string{"Query", "Mutation"} {
		typ := s.Types[def]
		require.NotNil(t, typ, def)
		for _, f := range typ.Fields {
			if !strings.HasPrefix(f.Name, "__") {
				out = append(out, def+"."+f.Name)
			}
		}
	}
	require.NotEmpty(t, out)
	return out
}

// TestEveryRootFieldHasAPermission fails the build when a query or
// mutation is added to the schema without saying which (kind, verb) it is
// (it would be refused to everyone), when an entry names a permission
// internal/auth has no rule for, or when an entry outlives its field.
func TestEveryRootFieldHasAPermission(t *testing.T) {
	fields := rootFields(t)
	for _, f := range fields {
		perms, ok := fieldPermissions[f]
		if assert.True(t, ok, "%s has no entry in graph/permissions.go fieldPermissions: say which (kind, verb) it is", f) {
			assert.NotEmpty(t, perms, f)
		}
	}
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	var stale []string
	for f, perms := range fieldPermissions {
		for _, p := range perms {
			_, ok := auth.Permissions[p]
			assert.True(t, ok, "%s needs %s, which internal/auth Permissions has no rule for", f, p)
		}
		typ, field, _ := strings.Cut(f, ".")
		if def := s.Types[typ]; def == nil || def.Fields.ForName(field) == nil {
			stale = append(stale, f)
		}
	}
	sort.Strings(stale)
	assert.Empty(t, stale, "entries for fields the schema does not have")
	assert.False(t, allowedField(auth.Admin, "Mutation.noSuchField"), "a root field without an entry is refused to everyone")
	assert.True(t, allowedNested(auth.Agent, "CI.id"), "a nested field without an entry follows its root field")
}

// legacyRules is the role table by GraphQL field as it was before rules
// were keyed by (kind, verb) (internal/auth Rules and NestedRules, issue
// 10): TestFieldRolesUnchanged holds every field to it for every role.
var legacyRules = func() map[string][]auth.Role {
	everyone := []auth.Role{auth.Anonymous, auth.Viewer, auth.Agent, auth.Engineer, auth.ChangeManager, auth.Admin}
	readers := []auth.Role{auth.Anonymous, auth.Viewer, auth.Engineer, auth.ChangeManager, auth.Admin}
	tokens := []auth.Role{auth.Viewer, auth.Agent, auth.Engineer, auth.ChangeManager, auth.Admin}
	loaders := []auth.Role{auth.Agent, auth.Engineer, auth.ChangeManager, auth.Admin}
	editors := []auth.Role{auth.Engineer, auth.ChangeManager, auth.Admin}
	managers := []auth.Role{auth.ChangeManager, auth.Admin}
	admins := []auth.Role{auth.Admin}
	viewers := []auth.Role{auth.Viewer, auth.Engineer, auth.ChangeManager, auth.Admin}
	return map[string][]auth.Role{
		"Query.version": everyone, "Query.viewer": everyone, "Query.ciClasses": everyone, "Query.ciClass": everyone,
		"Query.relationshipTypes": everyone,
		"Query.node":              readers, "Query.ci": readers, "Query.cis": readers, "Query.search": readers,
		"Query.impactAnalysis": readers, "Query.shortestPath": readers, "Query.auditRecords": readers,
		"Query.identityConflicts": readers, "Mutation.mergeCIs": editors,
		// Added with CMDB health (issue 14, item 4): readers.
		"Query.cmdbHealth": readers,
		"Query.apiTokens":  admins, "Mutation.createAPIToken": admins, "Mutation.revokeAPIToken": admins,
		"Mutation.ping":      tokens,
		"Mutation.upsertCIs": loaders, "Mutation.createRelationships": loaders,
		"Mutation.updateCI": editors, "Mutation.deleteCI": editors, "Mutation.deleteRelationships": editors,
		"Mutation.registerCIClass": admins, "Mutation.registerRelationshipType": admins,
		"Mutation.retireCIClass": admins, "Mutation.retireRelationshipType": admins,

		"CI.relationships": readers, "CI.dependencies": readers, "CI.dependents": readers, "CI.pathTo": readers,
		"CI.history": readers, "CI.name": readers, "CI.status": readers, "CI.environment": readers,
		"CI.owner": readers, "CI.supportGroup": readers, "CI.criticality": readers, "CI.tags": readers,
		"CI.attributes": readers, "CI.seenBy": readers, "Relationship.attributes": readers,
		// Added after the move to (kind, verb): guarded like CI.seenBy.
		"Relationship.seenBy": readers,
		"Mutation.purgeCI":    {auth.Admin},
		"CI.provenance":       readers,

		// Added with people and groups (issue 10, item 7): people and
		// groups as CIs are; membership and manager are group updates.
		"Query.person": readers, "Query.people": readers, "Query.group": readers, "Query.groups": readers,
		"Mutation.upsertPeople": loaders, "Mutation.upsertGroups": loaders,
		"Mutation.updatePerson": editors, "Mutation.updateGroup": editors,
		"Mutation.deactivatePerson": editors, "Mutation.deactivateGroup": editors,
		"Mutation.addGroupMembers": editors, "Mutation.removeGroupMembers": editors, "Mutation.setGroupManager": editors,
		"Person.name": readers, "Person.email": readers, "Person.title": readers, "Person.department": readers,
		"Person.location": readers, "Person.phone": readers, "Person.mobile": readers, "Person.employeeNumber": readers,
		"Person.timeZone": readers, "Person.attributes": readers, "Person.groups": readers, "Person.manages": readers,
		"Person.ownedCIs": readers, "Person.history": readers,
		"Group.email": readers, "Group.phone": readers, "Group.description": readers, "Group.attributes": readers,
		"Group.members": readers, "Group.manager": readers, "Group.supportedCIs": readers, "Group.ownedCIs": readers,
		"Group.history": readers, "CI.ownedBy": readers, "CI.supportedBy": readers,
		"Contact.person": readers, "Contact.group": readers,

		// Added with incidents (issue 12): readers read, editors open,
		// change and advance them; agents neither.
		"Query.incident": readers, "Query.incidents": readers, "Mutation.createIncident": editors,
		"Mutation.updateIncident": editors, "Mutation.startIncident": editors, "Mutation.holdIncident": editors,
		"Mutation.resumeIncident": editors, "Mutation.resolveIncident": editors, "Mutation.closeIncident": editors,
		"Mutation.reopenIncident": editors, "Mutation.cancelIncident": editors,
		"CI.incidents": readers, "Incident.caller": readers, "Incident.assignedTo": readers,
		"Incident.assignmentGroup": readers, "Incident.affectedCIs": readers, "Incident.history": readers,
		"Incident.journal": readers, "Mutation.addIncidentNote": editors,
		"Query.change": readers, "Query.changes": readers, "Mutation.createChange": editors, "Mutation.updateChange": editors,
		"Mutation.assessChange": editors, "Mutation.requestChangeApproval": editors, "Mutation.reviseChange": editors,
		"Mutation.approveChange": editors, "Mutation.rejectChange": editors, "Mutation.scheduleChange": editors,
		"Mutation.implementChange": editors, "Mutation.reviewChange": editors, "Mutation.closeChange": editors,
		"Mutation.cancelChange": editors, "Mutation.addChangeNote": editors,
		"Change.requestedBy": readers, "Change.assignedTo": readers, "Change.assignmentGroup": readers,
		"Change.affectedCIs": readers, "Change.conflicts": readers, "Change.history": readers, "Change.journal": readers,
		"Approval.approver": readers, "Incident.suspectChanges": readers, "Change.impactNow": readers,
		"ImpactAnalysis.openIncidents": readers, "ImpactAnalysis.changesInWindow": readers, "CI.changes": readers,
		"Query.problem": readers, "Query.problems": readers, "Query.knownErrors": readers, "Mutation.createProblem": editors,
		"Mutation.updateProblem": editors, "Mutation.assessProblem": editors, "Mutation.analyzeProblem": editors,
		"Mutation.fixProblem": editors, "Mutation.resolveProblem": editors, "Mutation.closeProblem": editors,
		"Mutation.cancelProblem": editors, "Mutation.linkIncidentToProblem": editors, "Mutation.setProblemFixChange": editors, "Mutation.setProblemRootCauseCI": editors, "Problem.rootCauseCI": readers,
		"Mutation.addProblemNote": editors, "Incident.problem": readers, "Problem.incidents": readers,
		"Problem.commonCauses": readers, "Problem.fixChange": readers, "Problem.assignedTo": readers,
		"Problem.assignmentGroup": readers, "Problem.affectedCIs": readers, "Problem.history": readers, "Problem.journal": readers,
		"Query.changeTask": readers, "Query.changeTasks": readers, "Mutation.createChangeTask": editors, "Mutation.updateChangeTask": editors,
		"Mutation.startChangeTask": editors, "Mutation.closeChangeTask": editors, "Mutation.cancelChangeTask": editors,
		"Mutation.addChangeTaskNote": editors, "Change.tasks": readers, "ChangeTask.change": readers, "ChangeTask.assignedTo": readers,
		"ChangeTask.assignmentGroup": readers, "ChangeTask.affectedCIs": readers, "ChangeTask.history": readers, "ChangeTask.journal": readers,
		"Query.problemTask": readers, "Query.problemTasks": readers, "Mutation.createProblemTask": editors, "Mutation.updateProblemTask": editors,
		"Mutation.assessProblemTask": editors, "Mutation.startProblemTask": editors, "Mutation.closeProblemTask": editors,
		"Mutation.cancelProblemTask": editors, "Mutation.addProblemTaskNote": editors, "Problem.tasks": readers, "ProblemTask.problem": readers,
		"ProblemTask.assignedTo": readers, "ProblemTask.assignmentGroup": readers, "ProblemTask.affectedCIs": readers,
		"ProblemTask.history": readers, "ProblemTask.journal": readers,
		"Query.changeWindow": readers, "Query.changeWindows": readers, "Mutation.createChangeWindow": managers,
		"Mutation.updateChangeWindow": managers, "ChangeWindow.cis": readers, "ChangeWindow.appliesToAllCIs": readers,
		"ChangeWindow.history": readers, "ChangeConflict.window": readers,
		"Query.changeOutcomesByClass": readers, "CI.changeOutcomes": readers, "Change.ciCloseCodes": readers,
		"Incident.impactAnalysis": readers,
		"Query.changeTemplate":    readers, "Query.changeTemplates": readers, "Mutation.createChangeTemplate": managers,
		"Mutation.updateChangeTemplate": managers, "ChangeTemplate.changes": readers, "ChangeTemplate.history": readers,
		"Change.template": readers,
		"Query.asset":     readers, "Query.assets": readers, "Query.assetModel": readers, "Query.assetModels": readers,
		"Query.stockLevels": readers, "Mutation.createAsset": editors, "Mutation.updateAsset": editors,
		"Mutation.receiveAsset": editors, "Mutation.assignAsset": editors, "Mutation.unassignAsset": editors,
		"Mutation.repairAsset": editors, "Mutation.returnAssetToStock": editors, "Mutation.retireAsset": editors,
		"Mutation.disposeAsset": editors, "Mutation.setAssetCI": editors, "Mutation.createAssetModel": managers,
		"Mutation.updateAssetModel": managers, "Asset.model": readers, "Asset.assignedTo": readers, "Asset.ci": readers,
		"Asset.history": readers, "AssetModel.inStock": readers, "AssetModel.assets": readers, "AssetModel.history": readers,
		"Person.assets": readers,
		"Query.request": readers, "Query.requests": readers, "Query.requestedItem": readers, "Query.requestedItems": readers,
		"Query.catalogTask": readers, "Query.catalogTasks": readers, "Mutation.submitRequest": viewers, "Mutation.cancelRequest": editors,
		"Mutation.approveRequestedItem": viewers, "Mutation.rejectRequestedItem": viewers, "Mutation.cancelRequestedItem": editors, "Mutation.addRequestNote": editors, "Mutation.addRequestedItemNote": editors,
		"Mutation.createCatalogTask": editors, "Mutation.updateCatalogTask": editors, "Mutation.startCatalogTask": editors,
		"Mutation.holdCatalogTask": editors, "Mutation.resumeCatalogTask": editors, "Mutation.allocateCatalogTaskAsset": editors,
		"Mutation.closeCatalogTask": editors, "Mutation.cancelCatalogTask": editors, "Mutation.addCatalogTaskNote": editors,
		"Mutation.setPersonManager": editors, "Person.manager": readers, "Person.requests": readers,
		"Request.requestedFor": readers, "Request.items": readers, "Request.history": readers, "Request.journal": readers,
		"RequestedItem.request": readers, "RequestedItem.catalogItem": readers, "RequestedItem.requestedFor": readers,
		"RequestedItem.tasks": readers, "RequestedItem.history": readers, "RequestedItem.journal": readers,
		"CatalogTask.requestedItem": readers, "CatalogTask.assetModel": readers, "CatalogTask.allocatedAsset": readers,
		"CatalogTask.assignedTo": readers, "CatalogTask.assignmentGroup": readers, "CatalogTask.affectedCIs": readers,
		"CatalogTask.history": readers, "CatalogTask.journal": readers,
		"Query.catalogItem": readers, "Query.catalogItems": readers, "Mutation.createCatalogItem": admins,
		"Mutation.updateCatalogItem": admins, "CatalogItem.approvalGroup": readers, "CatalogItem.fulfillmentGroup": readers,
		"CatalogItem.assetModel": readers, "CatalogItem.history": readers,
		"CatalogItem.articles": readers, "KnowledgeArticle.catalogItems": readers,
		"Query.knowledgeArticle": readers, "Query.knowledgeArticles": readers, "Query.knowledgeSearch": readers,
		"Mutation.createKnowledgeArticle": editors, "Mutation.updateKnowledgeArticle": editors,
		"Mutation.submitKnowledgeArticle": editors, "Mutation.sendBackKnowledgeArticle": editors,
		"Mutation.publishKnowledgeArticle": editors, "Mutation.reviseKnowledgeArticle": editors,
		"Mutation.retireKnowledgeArticle": editors, "Mutation.recordArticleView": viewers, "Mutation.voteArticle": viewers,
		"KnowledgeArticle.versions": readers, "KnowledgeArticle.publishedVersion": readers, "KnowledgeArticle.cis": readers,
		"KnowledgeArticle.problems": readers, "KnowledgeArticle.incidents": readers, "KnowledgeArticle.history": readers,
		"CI.articles": readers, "Problem.articles": readers, "Incident.articles": readers,
		"CI.openRecordsAround":      readers,
		"Mutation.setIncidentCause": editors, "Incident.causedBy": readers, "Change.causedIncidents": readers,
		"Query.webhooks": admins, "Mutation.createWebhook": admins, "Mutation.updateWebhook": admins, "Webhook.deliveries": admins,
	}
}()

// TestFieldRolesUnchanged: mapping fields to (kind, verb) changed no
// role's access to any field, root or nested.
func TestFieldRolesUnchanged(t *testing.T) {
	roles := []auth.Role{auth.Anonymous, auth.Viewer, auth.Agent, auth.Engineer, auth.ChangeManager, auth.Admin}
	assert.Len(t, fieldPermissions, len(legacyRules), "one entry for every field the old tables had")
	for f, want := range legacyRules {
		for _, r := range roles {
			got := allowedNested(r, f)
			if isRootField(f) {
				got = allowedField(r, f)
			}
			assert.Equal(t, contains(want, r), got, "%s as %s", f, r)
		}
	}
}

// TestNoMutationForAnonymous: an unauthenticated request never writes.
func TestNoMutationForAnonymous(t *testing.T) {
	for _, f := range rootFields(t) {
		if strings.HasPrefix(f, "Mutation.") {
			assert.False(t, allowedField(auth.Anonymous, f), f)
		}
	}
}

func TestViewerAllowed(t *testing.T) {
	agent := viewerOf(auth.Identity{TokenID: "x", Name: "vcenter", Role: auth.Agent})
	assert.Equal(t, []string{
		"Mutation.createRelationships", "Mutation.ping", "Mutation.upsertCIs", "Mutation.upsertGroups", "Mutation.upsertPeople",
		"Query.ciClass", "Query.ciClasses", "Query.relationshipTypes", "Query.version", "Query.viewer",
	}, agent.Allowed, "an agent writes discovery data and reads the model only")
	assert.Equal(t, model.RoleAgent, agent.Role)
	assert.Equal(t, "x", *agent.TokenID)
	anon := viewerOf(auth.Identity{Name: "anonymous", Role: auth.Anonymous})
	assert.False(t, anon.Authenticated)
	assert.Nil(t, anon.TokenID)
	for _, f := range anon.Allowed {
		assert.True(t, strings.HasPrefix(f, "Query."), "anonymous callers only read: %s", f)
	}
	admin := viewerOf(auth.Identity{TokenID: "x", Name: "n", Role: auth.Admin})
	assert.Len(t, admin.Allowed, len(rootFields(t)), "admins may call every root field")
}

// TestNestedRulesCoverCIFields fails the build when a field of CI,
// Relationship, Person or Group is added without deciding whether roles that may not read
// the graph (agents) may select it in a mutation's payload: every field is
// either guarded by fieldPermissions or listed here as harmless (it only
// identifies the object or says when it was written).
func TestNestedRulesCoverCIFields(t *testing.T) {
	open := map[string]bool{
		"CI.id": true, "CI.class": true, "CI.ciClass": true, "CI.createdAt": true, "CI.updatedAt": true, "CI.lastSeenAt": true,
		"Relationship.id": true, "Relationship.type": true, "Relationship.source": true, "Relationship.target": true,
		"Relationship.createdAt": true, "Relationship.updatedAt": true, "Relationship.lastSeenAt": true, "Relationship.version": true,
		"CI.version": true,
		// Ends of any kind identify them as source and target do; a
		// person's or group's own fields are guarded below.
		"Relationship.sourceNode": true, "Relationship.targetNode": true,
		"Person.id": true, "Person.userName": true, "Person.class": true, "Person.active": true,
		"Person.version": true, "Person.createdAt": true, "Person.updatedAt": true,
		"Group.id": true, "Group.name": true, "Group.type": true, "Group.class": true, "Group.active": true,
		"Group.version": true, "Group.createdAt": true, "Group.updatedAt": true,
	}
	s := generated.NewExecutableSchema(generated.Config{Resolvers: &Resolver{}}).Schema()
	for _, typ := range []string{"CI", "Relationship", "Person", "Group"} {
		for _, f := range s.Types[typ].Fields {
			name := typ + "." + f.Name
			if strings.HasPrefix(f.Name, "__") || open[name] {
				continue
			}
			_, guarded := fieldPermissions[name]
			assert.True(t, guarded, "%s: guard it in fieldPermissions or list it as harmless here", name)
			assert.False(t, allowedNested(auth.Agent, name), "%s is stored data an agent may not read", name)
		}
	}
}
