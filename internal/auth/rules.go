package auth

import (
	"context"
	"fmt"
	"slices"
	"sort"
)

// Kind names what a permission is about: a kind of node of the graph
// ("ci"), of record, or of the objects around them (the class model, the
// audit trail, API tokens). Kinds are data: a new kind is a row of
// Permissions, not new code. The kinds of audited objects
// (store.ObjectKind: ci, relationship, class, relationship_type, token) are
// kinds here under the same names.
type Kind string

// Kinds with rules today. The kinds of node are those the model declares
// (ci, person, group; TestEveryModelKindHasPermissions in internal/cmdb
// holds this table to the model); the record kinds (incident, problem,
// change, request, asset, knowledge) get theirs with their model entries.
const (
	// KindAPI is the API itself: who am I, which version, may I write.
	KindAPI Kind = "api"
	// KindCI is configuration items.
	KindCI Kind = "ci"
	// KindPerson is people (model kind person).
	KindPerson Kind = "person"
	// KindGroup is groups of people (model kind group).
	KindGroup Kind = "group"
	// KindIncident is incidents (model kind incident).
	KindIncident Kind = "incident"
	// KindWebhook is outbound webhooks (model kind webhook).
	KindWebhook Kind = "webhook"
	// KindDelivery is the log of webhook deliveries (model kind delivery).
	KindDelivery Kind = "delivery"
	// KindProblem is problems (model kind problem).
	KindProblem Kind = "problem"
	// KindChange is changes (model kind change).
	KindChange Kind = "change"
	// KindJournal is the journal entries of records (model kind journal):
	// work notes and comments.
	KindJournal Kind = "journal"
	// KindChangeTask is the tasks of changes (model kind change_task).
	KindChangeTask Kind = "change_task"
	// KindProblemTask is the tasks of problems (model kind problem_task).
	KindProblemTask Kind = "problem_task"
	// KindChangeWindow is maintenance windows and blackouts (model kind
	// change_window).
	KindChangeWindow Kind = "change_window"
	// KindChangeTemplate is the pre-approved change templates (model kind
	// change_template).
	KindChangeTemplate Kind = "change_template"
	// KindRequest is service requests (model kind request).
	KindRequest Kind = "request"
	// KindRequestedItem is the items of requests (model kind
	// requested_item).
	KindRequestedItem Kind = "requested_item"
	// KindCatalogTask is the fulfilment tasks of requested items (model
	// kind catalog_task).
	KindCatalogTask Kind = "catalog_task"
	// KindAsset is assets (model kind asset).
	KindAsset Kind = "asset"
	// KindAssetModel is asset models (model kind asset_model).
	KindAssetModel Kind = "asset_model"
	// KindCatalogItem is the service catalog's items (model kind
	// catalog_item).
	KindCatalogItem Kind = "catalog_item"
	// KindKnowledge is knowledge base articles (model kind knowledge).
	KindKnowledge Kind = "knowledge"
	// KindKnowledgeVersion is the published versions of knowledge
	// articles (model kind knowledge_version).
	KindKnowledgeVersion Kind = "knowledge_version"
	// KindRelationship is relationships between CIs.
	KindRelationship Kind = "relationship"
	// KindClass is the CI classes of the model.
	KindClass Kind = "class"
	// KindRelationshipType is the relationship types of the model.
	KindRelationshipType Kind = "relationship_type"
	// KindAudit is the audit trail.
	KindAudit Kind = "audit"
	// KindToken is API tokens.
	KindToken Kind = "token"
	// KindConflict is open identity conflicts (two CIs one item matched).
	KindConflict Kind = "conflict"
)

// Verb names what is done to a kind.
type Verb string

// Verbs.
const (
	// Read lists and reads objects of the kind.
	Read Verb = "read"
	// Upsert reports objects as discovered: each is identified and
	// created or merged by source precedence, never duplicated.
	Upsert Verb = "upsert"
	// Create makes a new object (for relationships: idempotently).
	Create Verb = "create"
	// Update changes an object named by ID (an edit by hand).
	Update Verb = "update"
	// Delete deletes, retires or revokes an object.
	Delete Verb = "delete"
	// Purge deletes an object for good, history and links included.
	Purge Verb = "purge"
	// Merge merges two objects known to be one.
	Merge Verb = "merge"
	// Alert is reporting alerts that open, update and resolve records (an
	// Alertmanager's webhook).
	Alert Verb = "alert"
	// Approve is deciding on a record as one of its approvers (a CAB
	// member approving a change).
	Approve Verb = "approve"
	// Override is going past a check a record's workflow makes (a change
	// scheduled despite conflicts), with a reason.
	Override Verb = "override"
	// Feedback is telling a record's authors how it served its reader: a
	// knowledge article's views and helpful votes. It is a write (counted
	// and audited) that readers with a token make, without the right to
	// edit the record.
	Feedback Verb = "feedback"
	// Write is a write that changes nothing (KindAPI: "may I write?").
	Write Verb = "write"
)

// Permission is a verb on a kind: {KindCI, Read}.
type Permission struct {
	Kind Kind
	Verb Verb
}

func (p Permission) String() string { return string(p.Verb) + " " + string(p.Kind) }

// Role sets the rules are made of.
var (
	everyone = []Role{Anonymous, Viewer, Agent, Monitor, Engineer, ChangeManager, Admin}
	readers  = []Role{Anonymous, Viewer, Engineer, ChangeManager, Admin}
	tokens   = []Role{Viewer, Agent, Monitor, Engineer, ChangeManager, Admin}
	loaders  = []Role{Agent, Engineer, ChangeManager, Admin}
	editors  = []Role{Engineer, ChangeManager, Admin}
	managers = []Role{ChangeManager, Admin}
	admins   = []Role{Admin}
	// viewers are the readers with a token (Anonymous never writes).
	viewers = []Role{Viewer, Engineer, ChangeManager, Admin}
)

// Permissions is the one table of who may do what, shared by every API:
// each (kind, verb) maps to the roles allowed. What is not here is refused
// to everyone (default deny), so a new kind or verb is unreachable until
// someone decides who may use it. docs/SECURITY.md shows it as a table.
//
// Anonymous in a rule means a request without a token, which the HTTP
// layer lets through only while anonymous reads are allowed
// (auth.anonymous_read, and only on a loopback listener); only Read lists
// it, so an unauthenticated request never writes.
var Permissions = map[Permission][]Role{
	// Who am I, which version: every caller; "may I write": every token.
	{KindAPI, Read}:  everyone,
	{KindAPI, Write}: tokens,

	// The configuration graph: readers read (agents write, they do not
	// read), agents and editors report discovered data, editors edit.
	{KindCI, Read}:             readers,
	{KindCI, Upsert}:           loaders,
	{KindCI, Update}:           editors,
	{KindCI, Delete}:           editors, // retires
	{KindCI, Purge}:            admins,  // deletes for good
	{KindCI, Merge}:            editors,
	{KindRelationship, Read}:   readers,
	{KindRelationship, Create}: loaders,
	// Agents may not delete relationships: they carry no per-source
	// ownership to check a delete against (ADR 0008).
	{KindRelationship, Delete}: editors,

	// People and groups, as CIs: readers read, a directory sync (an agent)
	// reports them, editors keep them by hand (delete deactivates).
	{KindPerson, Read}:   readers,
	{KindPerson, Upsert}: loaders,
	{KindPerson, Update}: editors,
	{KindPerson, Delete}: editors,
	{KindGroup, Read}:    readers,
	{KindGroup, Upsert}:  loaders,
	{KindGroup, Update}:  editors,
	{KindGroup, Delete}:  editors,

	// Incidents: readers read, editors (engineers and up) open, work and
	// resolve them; agents do not (the Alertmanager endpoint will have a
	// role of its own).
	{KindIncident, Read}:   readers,
	{KindIncident, Create}: editors,
	{KindIncident, Update}: editors,
	// Alerts from monitoring open, update and resolve incidents: the
	// monitor role, and admins.
	{KindIncident, Alert}: {Monitor, Admin},
	// Problems: as incidents.
	{KindProblem, Read}:   readers,
	{KindProblem, Create}: editors,
	{KindProblem, Update}: editors,
	// Webhooks and their deliveries: admins.
	{KindWebhook, Read}:   admins,
	{KindWebhook, Create}: admins,
	{KindWebhook, Update}: admins,
	{KindDelivery, Read}:  admins,
	// Deliveries are written by Skein (as the process) only: this row
	// makes the kind writable by someone, as every kind must be.
	{KindDelivery, Create}: admins,
	// Changes: readers read; editors open, assess and implement them and,
	// when they are among a change's approvers, approve or reject it;
	// change managers (and admins) also schedule over conflicts.
	{KindChange, Read}:     readers,
	{KindChange, Create}:   editors,
	{KindChange, Update}:   editors,
	{KindChange, Approve}:  editors,
	{KindChange, Override}: managers,
	// Change windows (maintenance, blackouts): readers read them, change
	// managers keep them.
	{KindChangeWindow, Read}:   readers,
	{KindChangeWindow, Create}: managers,
	{KindChangeWindow, Update}: managers,
	// The service catalog: whoever reads the CMDB reads it; admins keep
	// it.
	{KindCatalogItem, Read}:   readers,
	{KindCatalogItem, Create}: admins,
	{KindCatalogItem, Update}: admins,
	// Requests: readers read them; everyone with a token who reads
	// (viewers and up: an employee asking for a phone) submits them and
	// decides on the items they are an approver of (a manager need not be
	// an engineer); editors (the service desk, fulfilment groups) work
	// them and their tasks. Steps the workflow takes by itself (tasks
	// opened on approval, an asset allocated, an item closed with its last
	// task) are the process's, audited under the caller who set them off.
	{KindRequest, Read}:          readers,
	{KindRequest, Create}:        viewers,
	{KindRequest, Update}:        editors,
	{KindRequestedItem, Read}:    readers,
	{KindRequestedItem, Create}:  viewers,
	{KindRequestedItem, Update}:  editors,
	{KindRequestedItem, Approve}: viewers,
	{KindCatalogTask, Read}:      readers,
	{KindCatalogTask, Create}:    editors,
	{KindCatalogTask, Update}:    editors,
	// Assets: readers read them; editors record and move them through
	// their lifecycle; change managers (and admins) keep the models.
	{KindAsset, Read}:        readers,
	{KindAsset, Create}:      editors,
	{KindAsset, Update}:      editors,
	{KindAssetModel, Read}:   readers,
	{KindAssetModel, Create}: managers,
	{KindAssetModel, Update}: managers,
	// Change templates (the standard change catalog): readers read them,
	// change managers keep them.
	{KindChangeTemplate, Read}:   readers,
	{KindChangeTemplate, Create}: managers,
	{KindChangeTemplate, Update}: managers,
	// Knowledge: readers read articles and their versions; editors write,
	// submit, publish (editors review one another's articles: there is no
	// role that reviews without writing, so publishing is an update), send
	// back, revise and retire them; a version is written by the publish
	// that makes it. Readers with a token count views and vote (Feedback).
	{KindKnowledge, Read}:          readers,
	{KindKnowledge, Create}:        editors,
	{KindKnowledge, Update}:        editors,
	{KindKnowledge, Feedback}:      viewers,
	{KindKnowledgeVersion, Read}:   readers,
	{KindKnowledgeVersion, Create}: editors,
	// Tasks of changes and problems: as their parents, worked by editors.
	{KindChangeTask, Read}:    readers,
	{KindChangeTask, Create}:  editors,
	{KindChangeTask, Update}:  editors,
	{KindProblemTask, Read}:   readers,
	{KindProblemTask, Create}: editors,
	{KindProblemTask, Update}: editors,
	// Journals: whoever reads records reads their notes; whoever works
	// them writes notes.
	{KindJournal, Read}:   readers,
	{KindJournal, Create}: editors,

	// The class model: everyone reads it, admins change it.
	{KindClass, Read}:              everyone,
	{KindClass, Create}:            admins,
	{KindClass, Delete}:            admins,
	{KindRelationshipType, Read}:   everyone,
	{KindRelationshipType, Create}: admins,
	{KindRelationshipType, Delete}: admins,

	// The audit trail and identity conflicts: readers.
	{KindAudit, Read}:    readers,
	{KindConflict, Read}: readers,

	// Tokens: admins.
	{KindToken, Read}:   admins,
	{KindToken, Create}: admins,
	{KindToken, Delete}: admins,
}

// Can reports whether role may do verb on kind.
func Can(role Role, kind Kind, verb Verb) bool {
	return slices.Contains(Permissions[Permission{kind, verb}], role)
}

// CanAll reports whether role holds every one of perms.
func CanAll(role Role, perms ...Permission) bool {
	for _, p := range perms {
		if !Can(role, p.Kind, p.Verb) {
			return false
		}
	}
	return true
}

// Check returns nil if the caller ctx carries may do verb on kind, else an
// *Error: ErrUnauthenticated for a request without a token, ErrForbidden
// for a token whose role may not. Services call it first thing, so every
// API that calls them is covered.
//
// A context that carries no identity at all is the process itself: a
// command-line tool (skein import, seed, token), the demo loader, a test.
// Every API adapter attaches the caller's identity, Anonymous included,
// before it calls a service (internal/server's authentication middleware,
// graph.NewHandler), so that no request is ever taken for the process.
func Check(ctx context.Context, kind Kind, verb Verb) error {
	id, ok := Caller(ctx)
	if !ok || Can(id.Role, kind, verb) {
		return nil
	}
	return Refused(id.Role, Permission{kind, verb}.String())
}

// MayReadAudit reports whether role may read audit records about objects
// of kind (a store.ObjectKind): it needs to read the audit trail and the
// kind itself, so records about tokens, which name tokens and their roles,
// are for admins only.
func MayReadAudit(role Role, kind Kind) bool {
	return Can(role, KindAudit, Read) && Can(role, kind, Read)
}

// Roles returns the roles that hold every one of perms, least to most
// powerful, Anonymous first.
func Roles(perms ...Permission) []Role {
	var out []Role
	for _, r := range everyone {
		if CanAll(r, perms...) {
			out = append(out, r)
		}
	}
	return out
}

// Refused returns the error for role lacking permission what ("read
// ci"): UNAUTHENTICATED for Anonymous, which a token might allow,
// FORBIDDEN for a token's role. (A GraphQL field refused by name is
// Forbidden.)
func Refused(role Role, what string) error {
	if role == Anonymous {
		return unauthenticated("to %s, send an API token (\"Authorization: Bearer skn_...\")", what)
	}
	return &Error{Kind: ErrForbidden, Reason: fmt.Sprintf("the %s role may not %s", role, what)}
}

// SortedPermissions returns the rows of Permissions in a stable order
// (by kind, then verb), for documentation and tests.
func SortedPermissions() []Permission {
	out := make([]Permission, 0, len(Permissions))
	for p := range Permissions {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Verb < out[j].Verb
	})
	return out
}
