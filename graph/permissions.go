package graph

import (
	"strings"

	"github.com/skein-cmdb/skein/internal/auth"
)

// Shorthands for the field table.
var (
	apiRead      = auth.Permission{Kind: auth.KindAPI, Verb: auth.Read}
	apiWrite     = auth.Permission{Kind: auth.KindAPI, Verb: auth.Write}
	ciRead       = auth.Permission{Kind: auth.KindCI, Verb: auth.Read}
	relRead      = auth.Permission{Kind: auth.KindRelationship, Verb: auth.Read}
	classRead    = auth.Permission{Kind: auth.KindClass, Verb: auth.Read}
	relTypeRead  = auth.Permission{Kind: auth.KindRelationshipType, Verb: auth.Read}
	auditRead    = auth.Permission{Kind: auth.KindAudit, Verb: auth.Read}
	conflictRead = auth.Permission{Kind: auth.KindConflict, Verb: auth.Read}
	tokenRead    = auth.Permission{Kind: auth.KindToken, Verb: auth.Read}
	personRead   = auth.Permission{Kind: auth.KindPerson, Verb: auth.Read}
	groupRead    = auth.Permission{Kind: auth.KindGroup, Verb: auth.Read}
	incidentRead = auth.Permission{Kind: auth.KindIncident, Verb: auth.Read}
	incidentUpd  = auth.Permission{Kind: auth.KindIncident, Verb: auth.Update}
	changeRead   = auth.Permission{Kind: auth.KindChange, Verb: auth.Read}
	changeUpd    = auth.Permission{Kind: auth.KindChange, Verb: auth.Update}
	problemRead  = auth.Permission{Kind: auth.KindProblem, Verb: auth.Read}
	problemUpd   = auth.Permission{Kind: auth.KindProblem, Verb: auth.Update}
	ctaskRead    = auth.Permission{Kind: auth.KindChangeTask, Verb: auth.Read}
	windowRead   = auth.Permission{Kind: auth.KindChangeWindow, Verb: auth.Read}
	templateRead = auth.Permission{Kind: auth.KindChangeTemplate, Verb: auth.Read}
	assetRead    = auth.Permission{Kind: auth.KindAsset, Verb: auth.Read}
	assetUpd     = auth.Permission{Kind: auth.KindAsset, Verb: auth.Update}
	ctaskUpd     = auth.Permission{Kind: auth.KindChangeTask, Verb: auth.Update}
	ptaskRead    = auth.Permission{Kind: auth.KindProblemTask, Verb: auth.Read}
	ptaskUpd     = auth.Permission{Kind: auth.KindProblemTask, Verb: auth.Update}
	kbRead       = auth.Permission{Kind: auth.KindKnowledge, Verb: auth.Read}
	kbUpd        = auth.Permission{Kind: auth.KindKnowledge, Verb: auth.Update}
	kbFeedback   = auth.Permission{Kind: auth.KindKnowledge, Verb: auth.Feedback}
	kbVerRead    = auth.Permission{Kind: auth.KindKnowledgeVersion, Verb: auth.Read}
	reqRead      = auth.Permission{Kind: auth.KindRequest, Verb: auth.Read}
	ritmRead     = auth.Permission{Kind: auth.KindRequestedItem, Verb: auth.Read}
	ritmUpd      = auth.Permission{Kind: auth.KindRequestedItem, Verb: auth.Update}
	sctaskRead   = auth.Permission{Kind: auth.KindCatalogTask, Verb: auth.Read}
	sctaskUpd    = auth.Permission{Kind: auth.KindCatalogTask, Verb: auth.Update}
)

// fieldPermissions maps each root field of the schema ("Query.cis",
// "Mutation.upsertCIs") and each nested field that reaches beyond its
// object or holds its stored data ("CI.history") to the permissions of
// internal/auth it needs, all of them. Who holds a permission is decided
// there, once for every API (auth.Permissions); this table only says what
// each field is.
//
// A root field without an entry is refused to everyone, and
// TestEveryRootFieldHasAPermission fails the build for it. A nested field
// without an entry follows its root field. Nested entries keep a role that
// may not read the graph (agents) from walking it from the CIs a mutation
// returns, or from reading a CI it can name through an upsert that changes
// nothing: of a CI, an agent may select what identifies it (id, class) and
// when it was made, changed and seen.
var fieldPermissions = map[string][]auth.Permission{
	// Who am I, and what is the model.
	"Query.version":           {apiRead},
	"Query.viewer":            {apiRead},
	"Query.ciClasses":         {classRead},
	"Query.ciClass":           {classRead},
	"Query.relationshipTypes": {relTypeRead},

	// The configuration graph. node(id:) reads any kind; the service it
	// calls checks the kind the ID names.
	"Query.node":           {ciRead},
	"Query.ci":             {ciRead},
	"Query.cis":            {ciRead},
	"Query.search":         {ciRead},
	"Query.impactAnalysis": {ciRead, relRead},
	"Query.shortestPath":   {ciRead, relRead},
	"Query.auditRecords":   {auditRead},

	"Query.identityConflicts": {conflictRead},
	// CMDB health reads CIs, whether they have relationships, and the
	// open conflicts.
	"Query.cmdbHealth":  {ciRead, relRead, conflictRead},
	"Mutation.mergeCIs": {{Kind: auth.KindCI, Verb: auth.Merge}},

	"Query.apiTokens":         {tokenRead},
	"Mutation.createAPIToken": {{Kind: auth.KindToken, Verb: auth.Create}},
	"Mutation.revokeAPIToken": {{Kind: auth.KindToken, Verb: auth.Delete}},

	"Mutation.ping": {apiWrite},

	"Mutation.upsertCIs":           {{Kind: auth.KindCI, Verb: auth.Upsert}},
	"Mutation.createRelationships": {{Kind: auth.KindRelationship, Verb: auth.Create}},
	"Mutation.updateCI":            {{Kind: auth.KindCI, Verb: auth.Update}},
	"Mutation.deleteCI":            {{Kind: auth.KindCI, Verb: auth.Delete}},
	"Mutation.purgeCI":             {{Kind: auth.KindCI, Verb: auth.Purge}},
	"Mutation.deleteRelationships": {{Kind: auth.KindRelationship, Verb: auth.Delete}},

	"Mutation.registerCIClass":          {{Kind: auth.KindClass, Verb: auth.Create}},
	"Mutation.registerRelationshipType": {{Kind: auth.KindRelationshipType, Verb: auth.Create}},
	"Mutation.retireCIClass":            {{Kind: auth.KindClass, Verb: auth.Delete}},
	"Mutation.retireRelationshipType":   {{Kind: auth.KindRelationshipType, Verb: auth.Delete}},

	// People and groups: read and kept like CIs (delete deactivates);
	// membership and the manager are changes of the group.
	"Query.person":                {personRead},
	"Query.people":                {personRead},
	"Query.group":                 {groupRead},
	"Query.groups":                {groupRead},
	"Mutation.upsertPeople":       {{Kind: auth.KindPerson, Verb: auth.Upsert}},
	"Mutation.upsertGroups":       {{Kind: auth.KindGroup, Verb: auth.Upsert}},
	"Mutation.updatePerson":       {{Kind: auth.KindPerson, Verb: auth.Update}},
	"Mutation.updateGroup":        {{Kind: auth.KindGroup, Verb: auth.Update}},
	"Mutation.deactivatePerson":   {{Kind: auth.KindPerson, Verb: auth.Delete}},
	"Mutation.deactivateGroup":    {{Kind: auth.KindGroup, Verb: auth.Delete}},
	"Mutation.addGroupMembers":    {{Kind: auth.KindGroup, Verb: auth.Update}},
	"Mutation.removeGroupMembers": {{Kind: auth.KindGroup, Verb: auth.Update}},
	"Mutation.setGroupManager":    {{Kind: auth.KindGroup, Verb: auth.Update}},

	// Incidents: readers read; editors open, change and advance them.
	"Query.incident":           {incidentRead},
	"Query.incidents":          {incidentRead},
	"Mutation.createIncident":  {{Kind: auth.KindIncident, Verb: auth.Create}},
	"Mutation.updateIncident":  {incidentUpd},
	"Mutation.startIncident":   {incidentUpd},
	"Mutation.holdIncident":    {incidentUpd},
	"Mutation.resumeIncident":  {incidentUpd},
	"Mutation.resolveIncident": {incidentUpd},
	"Mutation.closeIncident":   {incidentUpd},
	"Mutation.reopenIncident":  {incidentUpd},
	"Mutation.cancelIncident":  {incidentUpd},
	"CI.incidents":             {incidentRead, relRead},
	"Incident.caller":          {personRead, relRead},
	"Incident.assignedTo":      {personRead, relRead},
	"Incident.assignmentGroup": {groupRead, relRead},
	"Incident.affectedCIs":     {ciRead, relRead},
	"Incident.history":         {auditRead},
	"Incident.journal":         {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},

	// Changes: readers read; editors open, assess, schedule and implement
	// them, and decide on them as their approvers (the service checks the
	// caller is one); overriding conflicts is checked by the service too.
	"Query.change":                   {changeRead},
	"Query.changes":                  {changeRead},
	"Mutation.createChange":          {{Kind: auth.KindChange, Verb: auth.Create}, templateRead},
	"Mutation.updateChange":          {changeUpd},
	"Mutation.assessChange":          {changeUpd},
	"Mutation.requestChangeApproval": {changeUpd},
	"Mutation.reviseChange":          {changeUpd},
	"Mutation.approveChange":         {{Kind: auth.KindChange, Verb: auth.Approve}},
	"Mutation.rejectChange":          {{Kind: auth.KindChange, Verb: auth.Approve}},
	"Mutation.scheduleChange":        {changeUpd},
	"Mutation.implementChange":       {changeUpd},
	"Mutation.reviewChange":          {changeUpd},
	"Mutation.closeChange":           {changeUpd},
	"Mutation.cancelChange":          {changeUpd},
	"Mutation.addChangeNote":         {{Kind: auth.KindJournal, Verb: auth.Create}},
	"Change.requestedBy":             {personRead, relRead},
	"Change.assignedTo":              {personRead, relRead},
	"Change.assignmentGroup":         {groupRead, relRead},
	"Change.affectedCIs":             {ciRead, relRead},
	"Change.conflicts":               {ciRead, relRead, incidentRead, windowRead},
	"Change.history":                 {auditRead},
	"Change.journal":                 {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},
	"Change.impactNow":               {ciRead, relRead},
	"Approval.approver":              {personRead},
	"Incident.suspectChanges":        {changeRead, ciRead, relRead},
	"ImpactAnalysis.openIncidents":   {incidentRead, relRead},
	"ImpactAnalysis.changesInWindow": {changeRead, relRead},
	"CI.changes":                     {changeRead, relRead},

	// Problems: as incidents.
	"Query.problem":                  {problemRead},
	"Query.problems":                 {problemRead},
	"Query.knownErrors":              {problemRead},
	"Mutation.createProblem":         {{Kind: auth.KindProblem, Verb: auth.Create}},
	"Mutation.updateProblem":         {problemUpd},
	"Mutation.assessProblem":         {problemUpd},
	"Mutation.analyzeProblem":        {problemUpd},
	"Mutation.fixProblem":            {problemUpd},
	"Mutation.resolveProblem":        {problemUpd},
	"Mutation.closeProblem":          {problemUpd},
	"Mutation.cancelProblem":         {problemUpd},
	"Mutation.linkIncidentToProblem": {incidentUpd, problemRead},
	"Mutation.setProblemFixChange":   {problemUpd, changeRead},
	"Mutation.setProblemRootCauseCI": {problemUpd, ciRead},
	"Problem.rootCauseCI":            {ciRead, relRead},
	"Mutation.addProblemNote":        {{Kind: auth.KindJournal, Verb: auth.Create}},
	"Incident.problem":               {problemRead, relRead},
	"Problem.incidents":              {incidentRead, relRead},
	"Problem.commonCauses":           {incidentRead, ciRead, relRead},
	"Problem.fixChange":              {changeRead, relRead},
	"Problem.assignedTo":             {personRead, relRead},
	"Problem.assignmentGroup":        {groupRead, relRead},
	"Problem.affectedCIs":            {ciRead, relRead},
	"Problem.history":                {auditRead},
	"Problem.journal":                {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},
	"CI.openRecordsAround":           {incidentRead, problemRead, changeRead, relRead},
	// What an incident rolls up to: as impact analysis.
	"Incident.impactAnalysis": {ciRead, relRead},
	// Change outcomes: readers.
	"Query.changeOutcomesByClass": {changeRead, ciRead, relRead},
	"CI.changeOutcomes":           {changeRead, relRead},
	"Change.ciCloseCodes":         {ciRead, relRead},
	// The service catalog: readers read it, admins keep it.
	"Query.catalogItem":             {{Kind: auth.KindCatalogItem, Verb: auth.Read}},
	"Query.catalogItems":            {{Kind: auth.KindCatalogItem, Verb: auth.Read}},
	"Mutation.createCatalogItem":    {{Kind: auth.KindCatalogItem, Verb: auth.Create}, groupRead},
	"Mutation.updateCatalogItem":    {{Kind: auth.KindCatalogItem, Verb: auth.Update}, groupRead},
	"CatalogItem.approvalGroup":     {groupRead, relRead},
	"CatalogItem.fulfillmentGroup":  {groupRead, relRead},
	"CatalogItem.assetModel":        {{Kind: auth.KindAssetModel, Verb: auth.Read}, relRead},
	"CatalogItem.history":           {auditRead},
	"CatalogItem.articles":          {{Kind: auth.KindKnowledge, Verb: auth.Read}, relRead},
	"KnowledgeArticle.catalogItems": {{Kind: auth.KindCatalogItem, Verb: auth.Read}, relRead},
	// Assets: readers read them, editors keep them; change managers keep
	// the models.
	"Query.asset":                       {assetRead},
	"Query.assets":                      {assetRead},
	"Query.assetModel":                  {{Kind: auth.KindAssetModel, Verb: auth.Read}},
	"Query.assetModels":                 {{Kind: auth.KindAssetModel, Verb: auth.Read}},
	"Query.stockLevels":                 {assetRead, {Kind: auth.KindAssetModel, Verb: auth.Read}, relRead},
	"Mutation.createAsset":              {{Kind: auth.KindAsset, Verb: auth.Create}, {Kind: auth.KindAssetModel, Verb: auth.Read}},
	"Mutation.updateAsset":              {assetUpd},
	"Mutation.receiveAsset":             {assetUpd},
	"Mutation.assignAsset":              {assetUpd, personRead},
	"Mutation.unassignAsset":            {assetUpd},
	"Mutation.repairAsset":              {assetUpd},
	"Mutation.returnAssetToStock":       {assetUpd},
	"Mutation.retireAsset":              {assetUpd},
	"Mutation.disposeAsset":             {assetUpd},
	"Mutation.setAssetCI":               {assetUpd, ciRead},
	"Mutation.createAssetModel":         {{Kind: auth.KindAssetModel, Verb: auth.Create}},
	"Mutation.updateAssetModel":         {{Kind: auth.KindAssetModel, Verb: auth.Update}},
	"Asset.model":                       {{Kind: auth.KindAssetModel, Verb: auth.Read}, relRead},
	"Asset.assignedTo":                  {personRead, relRead},
	"Asset.ci":                          {ciRead, relRead},
	"Asset.history":                     {auditRead},
	"AssetModel.inStock":                {assetRead, relRead},
	"AssetModel.assets":                 {assetRead, relRead},
	"AssetModel.history":                {auditRead},
	"Person.assets":                     {assetRead, relRead},
	"Query.request":                     {reqRead},
	"Query.requests":                    {reqRead},
	"Query.requestedItem":               {ritmRead},
	"Query.requestedItems":              {ritmRead},
	"Query.catalogTask":                 {sctaskRead},
	"Query.catalogTasks":                {sctaskRead},
	"Mutation.submitRequest":            {{Kind: auth.KindRequest, Verb: auth.Create}, {Kind: auth.KindRequestedItem, Verb: auth.Create}},
	"Mutation.cancelRequest":            {{Kind: auth.KindRequest, Verb: auth.Update}},
	"Mutation.approveRequestedItem":     {{Kind: auth.KindRequestedItem, Verb: auth.Approve}},
	"Mutation.rejectRequestedItem":      {{Kind: auth.KindRequestedItem, Verb: auth.Approve}},
	"Mutation.cancelRequestedItem":      {ritmUpd},
	"Mutation.addRequestNote":           {{Kind: auth.KindJournal, Verb: auth.Create}},
	"Mutation.addRequestedItemNote":     {{Kind: auth.KindJournal, Verb: auth.Create}},
	"Mutation.createCatalogTask":        {{Kind: auth.KindCatalogTask, Verb: auth.Create}, ritmRead},
	"Mutation.updateCatalogTask":        {sctaskUpd},
	"Mutation.startCatalogTask":         {sctaskUpd},
	"Mutation.holdCatalogTask":          {sctaskUpd},
	"Mutation.resumeCatalogTask":        {sctaskUpd},
	"Mutation.allocateCatalogTaskAsset": {sctaskUpd},
	"Mutation.closeCatalogTask":         {sctaskUpd},
	"Mutation.cancelCatalogTask":        {sctaskUpd},
	"Mutation.addCatalogTaskNote":       {{Kind: auth.KindJournal, Verb: auth.Create}},
	"Mutation.setPersonManager":         {{Kind: auth.KindPerson, Verb: auth.Update}},
	"Person.manager":                    {personRead, relRead},
	"Person.requests":                   {reqRead, relRead},
	"Request.requestedFor":              {personRead, relRead},
	"Request.items":                     {ritmRead, relRead},
	"Request.history":                   {auditRead},
	"Request.journal":                   {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},
	"RequestedItem.request":             {reqRead, relRead},
	"RequestedItem.catalogItem":         {{Kind: auth.KindCatalogItem, Verb: auth.Read}, relRead},
	"RequestedItem.requestedFor":        {personRead, relRead},
	"RequestedItem.tasks":               {sctaskRead, relRead},
	"RequestedItem.history":             {auditRead},
	"RequestedItem.journal":             {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},
	"CatalogTask.requestedItem":         {ritmRead, relRead},
	"CatalogTask.assetModel":            {{Kind: auth.KindAssetModel, Verb: auth.Read}, relRead},
	"CatalogTask.allocatedAsset":        {assetRead},
	"CatalogTask.assignedTo":            {personRead, relRead},
	"CatalogTask.assignmentGroup":       {groupRead, relRead},
	"CatalogTask.affectedCIs":           {ciRead, relRead},
	"CatalogTask.history":               {auditRead},
	"CatalogTask.journal":               {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},
	// Knowledge: readers read and search articles, editors write, review,
	// publish (which writes a version) and retire them; readers with a
	// token count views and vote (feedback).
	"Query.knowledgeArticle":            {kbRead},
	"Query.knowledgeArticles":           {kbRead},
	"Query.knowledgeSearch":             {kbRead},
	"Mutation.createKnowledgeArticle":   {{Kind: auth.KindKnowledge, Verb: auth.Create}},
	"Mutation.updateKnowledgeArticle":   {kbUpd},
	"Mutation.submitKnowledgeArticle":   {kbUpd},
	"Mutation.sendBackKnowledgeArticle": {kbUpd},
	"Mutation.publishKnowledgeArticle":  {kbUpd, {Kind: auth.KindKnowledgeVersion, Verb: auth.Create}},
	"Mutation.reviseKnowledgeArticle":   {kbUpd},
	"Mutation.retireKnowledgeArticle":   {kbUpd},
	"Mutation.recordArticleView":        {kbFeedback},
	"Mutation.voteArticle":              {kbFeedback},
	"KnowledgeArticle.versions":         {kbVerRead, relRead},
	"KnowledgeArticle.publishedVersion": {kbVerRead, relRead},
	"KnowledgeArticle.cis":              {ciRead, relRead},
	"KnowledgeArticle.problems":         {problemRead, relRead},
	"KnowledgeArticle.incidents":        {incidentRead, relRead},
	"KnowledgeArticle.history":          {auditRead},
	"CI.articles":                       {kbRead, ciRead, relRead},
	"Problem.articles":                  {kbRead, relRead},
	"Incident.articles":                 {kbRead, relRead},
	// Change templates: readers read them, change managers keep them.
	"Query.changeTemplate":          {templateRead},
	"Query.changeTemplates":         {templateRead},
	"Mutation.createChangeTemplate": {{Kind: auth.KindChangeTemplate, Verb: auth.Create}},
	"Mutation.updateChangeTemplate": {{Kind: auth.KindChangeTemplate, Verb: auth.Update}},
	"ChangeTemplate.changes":        {changeRead, relRead},
	"ChangeTemplate.history":        {auditRead},
	"Change.template":               {templateRead, relRead},
	// Change windows: readers read them, change managers keep them.
	"Query.changeWindow":           {windowRead},
	"Query.changeWindows":          {windowRead},
	"Mutation.createChangeWindow":  {{Kind: auth.KindChangeWindow, Verb: auth.Create}, ciRead},
	"Mutation.updateChangeWindow":  {{Kind: auth.KindChangeWindow, Verb: auth.Update}, ciRead},
	"ChangeWindow.cis":             {ciRead, relRead},
	"ChangeWindow.appliesToAllCIs": {relRead},
	"ChangeWindow.history":         {auditRead},
	"ChangeConflict.window":        {windowRead},
	// Tasks of changes and problems: as their parents.
	"Query.changeTask":            {ctaskRead},
	"Query.changeTasks":           {ctaskRead},
	"Mutation.createChangeTask":   {{Kind: auth.KindChangeTask, Verb: auth.Create}, changeRead},
	"Mutation.updateChangeTask":   {ctaskUpd},
	"Mutation.startChangeTask":    {ctaskUpd, changeRead},
	"Mutation.closeChangeTask":    {ctaskUpd},
	"Mutation.cancelChangeTask":   {ctaskUpd},
	"Mutation.addChangeTaskNote":  {{Kind: auth.KindJournal, Verb: auth.Create}},
	"Change.tasks":                {ctaskRead, relRead},
	"ChangeTask.change":           {changeRead, relRead},
	"ChangeTask.assignedTo":       {personRead, relRead},
	"ChangeTask.assignmentGroup":  {groupRead, relRead},
	"ChangeTask.affectedCIs":      {ciRead, relRead},
	"ChangeTask.history":          {auditRead},
	"ChangeTask.journal":          {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},
	"Query.problemTask":           {ptaskRead},
	"Query.problemTasks":          {ptaskRead},
	"Mutation.createProblemTask":  {{Kind: auth.KindProblemTask, Verb: auth.Create}, problemRead},
	"Mutation.updateProblemTask":  {ptaskUpd},
	"Mutation.assessProblemTask":  {ptaskUpd},
	"Mutation.startProblemTask":   {ptaskUpd},
	"Mutation.closeProblemTask":   {ptaskUpd},
	"Mutation.cancelProblemTask":  {ptaskUpd},
	"Mutation.addProblemTaskNote": {{Kind: auth.KindJournal, Verb: auth.Create}},
	"Problem.tasks":               {ptaskRead, relRead},
	"ProblemTask.problem":         {problemRead, relRead},
	"ProblemTask.assignedTo":      {personRead, relRead},
	"ProblemTask.assignmentGroup": {groupRead, relRead},
	"ProblemTask.affectedCIs":     {ciRead, relRead},
	"ProblemTask.history":         {auditRead},
	"ProblemTask.journal":         {{Kind: auth.KindJournal, Verb: auth.Read}, relRead},
	"Mutation.setIncidentCause":   {incidentUpd, changeRead},
	"Incident.causedBy":           {changeRead, relRead},
	"Change.causedIncidents":      {incidentRead, relRead},
	"Query.webhooks":              {{Kind: auth.KindWebhook, Verb: auth.Read}},
	"Mutation.createWebhook":      {{Kind: auth.KindWebhook, Verb: auth.Create}},
	"Mutation.updateWebhook":      {{Kind: auth.KindWebhook, Verb: auth.Update}},
	"Webhook.deliveries":          {{Kind: auth.KindDelivery, Verb: auth.Read}},
	"Mutation.addIncidentNote":    {{Kind: auth.KindJournal, Verb: auth.Create}},

	// Below the root: what reaches beyond a CI, and its stored data.
	"CI.relationships": {relRead},
	"CI.dependencies":  {ciRead, relRead},
	"CI.dependents":    {ciRead, relRead},
	"CI.pathTo":        {ciRead, relRead},
	"CI.history":       {auditRead},
	"CI.ownedBy":       {relRead, personRead, groupRead},
	"CI.supportedBy":   {relRead, groupRead},

	"CI.name":                 {ciRead},
	"CI.status":               {ciRead},
	"CI.environment":          {ciRead},
	"CI.owner":                {ciRead},
	"CI.supportGroup":         {ciRead},
	"CI.criticality":          {ciRead},
	"CI.tags":                 {ciRead},
	"CI.attributes":           {ciRead},
	"CI.seenBy":               {ciRead},
	"CI.provenance":           {ciRead},
	"Relationship.attributes": {relRead},
	"Relationship.seenBy":     {relRead},

	// Of a person or group in a directory sync's answers, an agent may
	// select what identifies it (id, userName, a group's name, class) and
	// its version and times; contact data and relations are for readers.
	"Person.name":           {personRead},
	"Person.email":          {personRead},
	"Person.title":          {personRead},
	"Person.department":     {personRead},
	"Person.location":       {personRead},
	"Person.phone":          {personRead},
	"Person.mobile":         {personRead},
	"Person.employeeNumber": {personRead},
	"Person.timeZone":       {personRead},
	"Person.attributes":     {personRead},
	"Person.groups":         {groupRead, relRead},
	"Person.manages":        {groupRead, relRead},
	"Person.ownedCIs":       {ciRead, relRead},
	"Person.history":        {auditRead},
	"Group.email":           {groupRead},
	"Group.phone":           {groupRead},
	"Group.description":     {groupRead},
	"Group.attributes":      {groupRead},
	"Group.members":         {personRead, relRead},
	"Group.manager":         {personRead, relRead},
	"Group.supportedCIs":    {ciRead, relRead},
	"Group.ownedCIs":        {ciRead, relRead},
	"Group.history":         {auditRead},
	"Contact.person":        {personRead},
	"Contact.group":         {groupRead},
}

// isRootField reports whether name ("Type.field") is a field of Query or
// Mutation.
func isRootField(name string) bool {
	return strings.HasPrefix(name, "Query.") || strings.HasPrefix(name, "Mutation.")
}

// allowedField reports whether role may call the root field name
// ("Type.field"); a root field without an entry is allowed to no one.
func allowedField(role auth.Role, name string) bool {
	perms, ok := fieldPermissions[name]
	return ok && auth.CanAll(role, perms...)
}

// allowedNested reports whether role may select the nested field name;
// fields without an entry are allowed (their root field decides).
func allowedNested(role auth.Role, name string) bool {
	perms, ok := fieldPermissions[name]
	return !ok || auth.CanAll(role, perms...)
}

// nestedGuarded holds the types and fields below the root that
// fieldPermissions names, so that authorizeNested costs one map lookup
// for every other field.
var nestedGuarded = func() map[[2]string]string {
	m := map[[2]string]string{}
	for name := range fieldPermissions {
		if isRootField(name) {
			continue
		}
		typ, field, _ := strings.Cut(name, ".")
		m[[2]string{typ, field}] = name
	}
	return m
}()
