package store

import (
	"context"
	"fmt"
	"io"
	"time"
)

// ID is an opaque, stable identifier of a stored object (CI, relationship,
// audit record). Backends choose the format; callers never parse it.
type ID string

// Actor says who makes a write and through which channel. Every write method
// takes one and records it in the audit trail.
type Actor struct {
	// Name identifies the person, token or agent ("alice", "agent:web-01").
	Name string
	// Source is the channel the data comes from: "api", "import", or a
	// discovery source name such as "ansible" or "kubernetes". Attribute
	// precedence and per-source last-seen times are keyed by Source.
	Source string
}

// Attributes holds a CI's or relationship's attribute values. Values are
// always one of: string, int64, float64, bool, time.Time (UTC), []string.
// Backends return exactly these types, whatever they store underneath.
type Attributes map[string]any

// CI is a configuration item as stored: a Node of kind KindCI. It is an
// alias, so code written against CIs keeps compiling while the store speaks
// of nodes.
type CI = Node

// CIUpsert is one prepared item of a batch upsert of CIs (see NodeUpsert).
type CIUpsert = NodeUpsert

// Reconciled is what a ReconcileFunc decides an identified CI becomes (see
// Decision).
type Reconciled = Decision

// ReconcileFunc merges an upsert into the CI it was identified as, or makes
// a new CI from it when existing is nil: the CMDB's Decide (see Decide).
type ReconcileFunc = Decide

// UpsertBatch is a batch of identified upserts of nodes of one kind.
type UpsertBatch struct {
	// Kind is the kind of every node of the batch; empty means KindCI.
	// An item identified (by ID or by a key) as a node of another kind
	// is not_found (by ID) or a conflict (by key).
	Kind  ObjectKind
	Items []CIUpsert
	// Reconcile decides each item; required.
	Reconcile ReconcileFunc
	// Atomic makes the batch all-or-nothing: if any item fails, nothing is
	// written and UpsertNodes returns an *ItemError for the first failed item.
	Atomic bool
	// Edges are relationships written in the same transaction, after the
	// items (GraphWriter.UpsertGraph only): their ends are items of the
	// batch, nodes identified by keys, or nodes by ID. Their types and end
	// classes are the caller's to check.
	Edges []GraphEdge
	// Forget, when set, makes the batch drop a sighting instead of
	// recording one: each item names a node by ID, Reconcile decides it
	// as usual (Changes written and audited), and the node's sighting by
	// Forget.Source is dropped when older than Forget.Before (scoped
	// sync; see Forget). A node whose sightings and attributes stay as
	// they were is not written.
	Forget *Forget
}

// EdgeEnd names one end of a GraphEdge: the node item Item of the batch
// identified (when Item >= 0), else the node owning the first of Keys
// that has an owner (strongest first; never created), else the node ID.
type EdgeEnd struct {
	Item int
	Keys []string
	ID   ID
}

// GraphEdge is a relationship of a graph batch: From Type To, with its
// attributes (nil: a sighting only).
type GraphEdge struct {
	Type       string
	From, To   EdgeEnd
	Attributes Attributes
}

// GraphResult is the outcome of a graph batch: its items' results, then
// its edges', each in input order.
type GraphResult struct {
	Items []UpsertResult
	Edges []RelationshipResult
}

// GraphWriter writes nodes and the relationships between them in one
// transaction: a discovery batch that names its relationships' ends by
// identity, or by the items of the batch.
type GraphWriter interface {
	// UpsertGraph runs b's items as UpsertNodes does, then writes b.Edges
	// between the nodes they name as CreateRelationships does, in the
	// same write transaction: a failure writes nothing. An edge whose end
	// names an item that failed, or an identity no node owns, fails with an
	// error wrapping ErrNotFound (the whole batch when it is atomic).
	UpsertGraph(ctx context.Context, actor Actor, b UpsertBatch) (GraphResult, error)
}

// Status is the outcome of one item of a batch write.
type Status string

// Statuses of batch items.
const (
	StatusCreated   Status = "created"
	StatusUpdated   Status = "updated"
	StatusUnchanged Status = "unchanged"
	StatusDeleted   Status = "deleted"
	StatusInvalid   Status = "invalid"
	StatusConflict  Status = "conflict"
	StatusNotFound  Status = "not_found"
)

// FieldChange is one changed field, with its values before and after (nil
// for absent).
type FieldChange struct {
	Field  string
	Before any
	After  any
}

// UpsertResult is the outcome of one upsert item, in input order.
type UpsertResult struct {
	Status Status
	// Node is the Node as stored after the write (zero for invalid or conflict).
	Node CI
	// Changes lists the changed fields of an update (or every field of a
	// create).
	Changes []FieldChange
	// Err explains an invalid or conflict status: an *InvalidError, or an
	// error wrapping ErrConflict that names the CIs involved.
	Err error
}

// RelationshipInput asks for one relationship. A relationship is identified
// by (Source, Type, Target): creating an existing one updates its attributes
// (or reports it unchanged), never duplicates it.
type RelationshipInput struct {
	Type   string
	Source ID
	Target ID
	// Attributes replace the stored ones; nil leaves them as they are
	// (the input then only reports a sighting).
	Attributes Attributes
	// ExpectVersion, when not 0, makes the input a conflict unless the
	// relationship exists at that version (see DecideEdge).
	ExpectVersion int64
}

// Relationship is a typed, directed edge between two CIs.
type Relationship struct {
	ID         ID
	Type       string
	Source     ID
	Target     ID
	Attributes Attributes
	// Version is 1 when created and goes up by one with every change of
	// its attributes (a sighting is not a change).
	Version int64
	// SeenBy maps each source that reported the relationship to the last
	// time it did (empty for relationships written before sightings were
	// kept, until a source reports them again).
	SeenBy    map[string]time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RelationshipResult is the outcome of one relationship item, in input order.
type RelationshipResult struct {
	Status       Status // created, updated, unchanged, deleted, not_found, invalid
	Relationship Relationship
	Err          error
}

// Direction selects edges relative to a CI.
type Direction int

// Directions. Out follows edges from source to target, In from target to
// source, Both either way.
const (
	Out Direction = iota + 1
	In
	Both
)

// String returns "out", "in" or "both".
func (d Direction) String() string {
	switch d {
	case Out:
		return "out"
	case In:
		return "in"
	case Both:
		return "both"
	}
	return "invalid"
}

// EdgeRule lets a traversal follow relationships of one type in one
// direction. An empty Type means every type.
type EdgeRule struct {
	Type string
	Dir  Direction
}

// Traversal asks for a bounded breadth-first expansion.
type Traversal struct {
	Start []ID
	// Rules are the edges that may be followed; at least one.
	Rules []EdgeRule
	// MaxDepth bounds the number of hops (>= 1).
	MaxDepth int
	// MaxNodes bounds the number of nodes reached beyond the start set
	// (>= 1). When the budget runs out the result is Truncated.
	MaxNodes int
	// DepthOnly says the caller needs each reached node's ID and depth,
	// not how it was reached: a backend may then leave Reached.Via and
	// Step empty, and answer with one statement instead of one per level
	// (the Neo4j store does so from one start). A backend that knows the
	// predecessors for free still fills them. The nodes and depths are
	// those of the same traversal without DepthOnly.
	DepthOnly bool
}

// Step is one hop of an explaining path over relationship Rel.
type Step struct {
	// Rel names the relationship by Type, Source and Target. Traversals
	// may leave Rel.ID empty (derive it with Rel.Key().ID() where needed, so
	// a traversal of a million nodes does not encode a million IDs) and
	// Attributes nil.
	Rel Relationship
	// Forward is true when the hop went from Rel.Source to Rel.Target.
	Forward bool
}

// Reached is one node of a traversal, reported once, at its minimum depth.
type Reached struct {
	ID    ID
	Depth int
	// Via is the predecessor on one shortest explaining path ("" for a
	// start node, which has depth 0).
	Via ID
	// Type is the type of the relationship from Via to ID ("" for a start
	// node).
	Type string
	// Forward is true when that relationship's source is Via (the hop went
	// along it), false when its source is ID.
	Forward bool
}

// Step returns the hop from Via to ID (the zero Step for a start node),
// its relationship named by its natural key (Rel.ID empty; derive it with
// Rel.Key().ID()). A Reached keeps only the type and the direction: a
// traversal answers hundreds of thousands of them, and a Step in each
// made every one 184 bytes instead of 64.
func (r Reached) Step() Step {
	if r.Via == "" {
		return Step{}
	}
	src, dst := r.Via, r.ID
	if !r.Forward {
		src, dst = dst, src
	}
	return Step{Rel: Relationship{Type: r.Type, Source: src, Target: dst}, Forward: r.Forward}
}

// TraversalResult is the outcome of Expand.
type TraversalResult struct {
	// Nodes are the start nodes that exist (depth 0) followed by every node
	// reached, in non-decreasing depth. Each ID appears once.
	Nodes []Reached
	// Truncated reports that MaxNodes stopped the expansion early.
	Truncated bool
}

// PageRequest asks for one page of a list in the list's stable order.
type PageRequest struct {
	// First is the page size (1..1000; 0 means the default of 100).
	First int
	// After is the EndCursor of the previous page, or "" for the first.
	After string
	// Offset skips that many items before the page (offset pages, for
	// table APIs). Only ListNodes takes it (see CheckOffset for its bounds);
	// every other list refuses a non-zero Offset.
	Offset int
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T
	// EndCursor resumes after the last item; "" when Items is empty.
	EndCursor string
	// Cursors, where a method fills it (History does), holds one cursor
	// per item: passing Cursors[i] as After resumes after Items[i].
	Cursors []string
	// HasNext reports whether items follow this page.
	HasNext bool
	// Total counts every item matching the filter, across pages.
	Total int
}

// NodeFilter selects nodes of one kind (or of every kind); empty fields do
// not filter. All set fields must match. The attribute shorthands (Status,
// Environment, Owner, SupportGroup, Tag, Name, NamePrefix) match the
// attributes of those names, which the kinds that have them share.
type NodeFilter struct {
	// Kind is the kind listed (KindCI for CIs); AnyKind lists nodes of
	// every kind.
	Kind ObjectKind
	// Classes is the exact list of class names to match (internal/cmdb
	// expands a class into itself and its subclasses).
	Classes      []string
	IDs          []ID
	Status       []string
	Environment  string
	Owner        string
	SupportGroup string
	// Tag matches CIs whose tags contain it.
	Tag string
	// Name matches the whole name.
	Name string
	// NamePrefix matches names starting with it.
	NamePrefix string
	// Attributes match attribute values exactly (same type and value).
	Attributes Attributes
	// CaseSensitive makes Name, NamePrefix, Owner, SupportGroup, Tag and
	// string Attributes compare exactly; by default they compare as
	// FoldText folds them, so "ESX" finds "esx-01".
	CaseSensitive bool
	// SeenBefore matches CIs whose LastSeenAt is before it (stale CIs).
	SeenBefore time.Time
	// Where is a filter expression that must match too (see Expr): the
	// fields above are shorthands that NodeFilter.Expr turns into the same
	// tree, so a backend compiles one expression.
	Where *Expr
	// Sort orders the list; the zero Sort is by ID.
	Sort Sort
}

// ObjectKind names the kind of object an audit record is about.
type ObjectKind string

// Object kinds of audit records.
const (
	KindCI ObjectKind = "ci"
	// AnyKind is no kind: Nodes with AnyKind reads nodes of every kind.
	AnyKind              ObjectKind = ""
	KindRelationship     ObjectKind = "relationship"
	KindClass            ObjectKind = "class"
	KindRelationshipType ObjectKind = "relationship_type"
)

// Action names what a write did.
type Action string

// Audit actions.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// AuditRecord is one entry of the audit trail, stored in the same
// transaction as the write it describes.
type AuditRecord struct {
	ID      ID
	Time    time.Time
	Actor   Actor
	Kind    ObjectKind
	Object  string // the object's ID, or the class / type name
	Action  Action
	Changes []FieldChange
	// Related are the other objects the record concerns (see
	// AuditRelated): their history lists it too.
	Related []string
}

// MaxAuditRelated is how many related objects an audit record has at most.
const MaxAuditRelated = 2

// AuditRelated returns the objects besides the record's own that an audit
// record about object of kind concerns: a relationship's source and target
// CIs, so that a relationship's creation, change and deletion are in the
// history of both its ends. Backends store them with the record.
func AuditRelated(kind ObjectKind, object string) []string {
	if kind != KindRelationship {
		return nil
	}
	k, err := ParseRelationshipID(ID(object))
	if err != nil {
		return nil
	}
	return []string{string(k.Source), string(k.Target)}
}

// AuditFilter selects audit records; empty fields do not filter, set
// fields must all match.
type AuditFilter struct {
	// ID selects one record by its ID.
	ID ID
	// Objects selects records about any of these objects (a CI or
	// relationship ID, a class or relationship type name, a token's
	// TokenObject), or related to one of them (see AuditRelated). Objects
	// that no longer exist keep their records.
	Objects []string
	// Kinds selects records about objects of these kinds.
	Kinds []ObjectKind
	// Actor and Source select records by the writer's name and channel.
	Actor  string
	Source string
	// Since (inclusive) and Until (exclusive) bound the record's time.
	Since time.Time
	Until time.Time
}

// MaxAuditObjects is how many objects one AuditFilter names at most.
const MaxAuditObjects = 100

// MaxAuditKinds is how many kinds one AuditFilter names at most: more
// than the model has, so that "every kind the caller may read" always
// fits (it was 16, which the model's kinds outgrew).
const MaxAuditKinds = 64

// Check validates f: at most MaxAuditObjects objects and MaxAuditKinds
// kinds, and a time range that is not empty by construction.
func (f AuditFilter) Check() error {
	if len(f.Objects) > MaxAuditObjects {
		return Invalid("filter.objects", "at most %d objects", MaxAuditObjects)
	}
	if len(f.Kinds) > MaxAuditKinds {
		return Invalid("filter.kinds", "at most %d kinds", MaxAuditKinds)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return Invalid("filter.until", "must be after filter.since")
	}
	return nil
}

// ModelExtension is a class or relationship type registered at run time,
// persisted as an opaque JSON definition that internal/cmdb parses.
type ModelExtension struct {
	Kind       ObjectKind // KindClass or KindRelationshipType
	Name       string
	Definition []byte
	CreatedAt  time.Time
}

// NodeReader reads the nodes of the graph, of every kind. Implementations
// are safe for concurrent use.
type NodeReader interface {
	// Nodes returns the nodes of kind with the given ids (of any kind when
	// kind is AnyKind: a relationship's ends, what points at a node);
	// absent ids, and nodes of another kind, are absent from the map.
	Nodes(ctx context.Context, kind ObjectKind, ids []ID) (map[ID]Node, error)
	// ListNodes returns a page of the nodes matching f (of kind f.Kind),
	// ordered by f.Sort (by ID by default), with one cursor per item.
	// Cursors hold the sort key and stay valid across writes: a page never
	// repeats or skips a node that
	// existed throughout and whose sort key did not change. A malformed
	// cursor, or one of another order, is an *InvalidError on "after". An
	// offset page (p.Offset) starts after that many matches; see
	// PageRequest.CheckOffset for its bounds.
	ListNodes(ctx context.Context, f NodeFilter, p PageRequest) (Page[Node], error)
	// NodeFields returns, for each of ids that is a node of kind (of any
	// kind for AnyKind), a partial node: its ID, Kind, Class and Version,
	// and those of the attributes named in fields (none: no attributes)
	// that it has; no identity
	// keys, provenance, sightings or times. Absent ids are absent from the
	// map. It serves readers of many nodes that need a few attributes of
	// each (an impact analysis's summary), at a fraction of the cost of
	// Nodes. Bad input (see CheckNodeFields) is an *InvalidError.
	NodeFields(ctx context.Context, kind ObjectKind, ids []ID, fields []string) (map[ID]Node, error)
}

// SummaryAttributes are the attributes that show a node in a long list: an
// impact analysis reads them for every CI it reaches (its name for the
// order, what the roll-ups count, what a reader scans), and for every
// redundancy group it meets (min_members_up, the members the default
// model's groups need up). A backend may keep them in memory: the embedded
// store answers NodeFields naming only these without reading its database.
var SummaryAttributes = summaryAttributes[:]

// summaryAttributes is SummaryAttributes as an array, whose length is a
// constant (Summary.Values).
var summaryAttributes = [...]string{"name", "status", "environment", "owner", "support_group", "criticality", "min_members_up"}

// NodeWriter writes the nodes of the graph, of every kind.
type NodeWriter interface {
	// UpsertNodes identifies each item (of kind b.Kind) by its ID or keys,
	// then creates, changes (via b.Reconcile) or reports it unchanged:
	// store.UpsertPlan, run over the backend's WriteTx. Results follow
	// input order. An item whose keys belong to two different nodes is a
	// conflict and changes nothing. Items of one batch that identify the
	// same node are applied in order. Audit records and last-seen times are written in the same
	// transaction; an unchanged item only refreshes last-seen.
	UpsertNodes(ctx context.Context, actor Actor, b UpsertBatch) ([]UpsertResult, error)
	// DeleteNodes deletes nodes of kind (of any kind for AnyKind) with
	// their relationships and identity keys, with an audit record for each
	// node and relationship, in one transaction. Results follow input
	// order: deleted, or not_found (an ID of a node of another kind
	// included). It is the purge under internal/cmdb's retire (which keeps
	// the node): callers decide what may be deleted.
	DeleteNodes(ctx context.Context, actor Actor, kind ObjectKind, ids []ID) ([]UpsertResult, error)
}

// RelationshipStore writes and reads relationships.
type RelationshipStore interface {
	// CreateRelationships creates relationships (idempotent on source, type
	// and target). A missing endpoint is a not_found item. With atomic, any
	// failure writes nothing and returns an *ItemError.
	CreateRelationships(ctx context.Context, actor Actor, rels []RelationshipInput, atomic bool) ([]RelationshipResult, error)
	// DeleteRelationships deletes relationships by id: deleted or not_found.
	DeleteRelationships(ctx context.Context, actor Actor, ids []ID) ([]RelationshipResult, error)
	// ForgetRelationships drops f's sighting from the relationships with
	// the given ids, as ForgetEdge decides, in one transaction: deleted
	// (no sighting left; audited), updated (its sightings rewritten),
	// unchanged, or not_found.
	ForgetRelationships(ctx context.Context, actor Actor, ids []ID, f Forget) ([]RelationshipResult, error)
	// Relationships returns the relationships with the given ids.
	Relationships(ctx context.Context, ids []ID) (map[ID]Relationship, error)
	// RelationshipsOf returns, for each node in nodes, its relationships in
	// direction dir whose type is in types (all types when empty), ordered
	// by relationship ID. One call serves a whole batch of nodes.
	RelationshipsOf(ctx context.Context, nodes []ID, dir Direction, types []string) (map[ID][]Relationship, error)
	// RelationshipPages answers each request, in order, with one page of
	// a node's relationships in direction Dir whose type is in Types (all
	// when empty): under Both, outgoing ones before incoming ones; within
	// a direction by type, then by the node at the other end, in an order
	// the backend defines and keeps across writes, so that paging never
	// repeats or skips a relationship that existed throughout. A page costs
	// what it returns, not what the node has (hubs have tens of thousands).
	// Total counts every match; Cursors holds one cursor per item. An
	// unknown node gets an empty page; a malformed cursor is an
	// *InvalidError on "after".
	RelationshipPages(ctx context.Context, reqs []RelationshipPageRequest) ([]Page[Relationship], error)
}

// RelationshipPageRequest asks for one page of one node's relationships.
type RelationshipPageRequest struct {
	Node  ID
	Dir   Direction
	Types []string
	Page  PageRequest
}

// Traverser answers graph questions.
type Traverser interface {
	// Expand runs a bounded breadth-first expansion (see Traversal and
	// TraversalResult). Unknown start ids are ignored.
	Expand(ctx context.Context, t Traversal) (TraversalResult, error)
	// ShortestPath returns the hops of one shortest path from one CI to
	// another following rules, at most maxDepth hops long. It returns an
	// empty path when from == to and ErrNotFound when there is none.
	ShortestPath(ctx context.Context, from, to ID, rules []EdgeRule, maxDepth int) ([]Step, error)
	// Edges returns, for each of nodes, its relationships in direction
	// dir whose type is in types (all when empty), as RelationshipsOf
	// does, but only what the graph's shape says, in flat lists (Hops):
	// each relationship's type, the node at its other end and whether the
	// node asked for is its source; no ID (Relationship.Key().ID() is it),
	// attributes, version, sightings or times; in no particular order. For
	// readers of the shape (impact analysis), at a fraction of the cost: a
	// hub's tens of thousands of relationships are neither named nor
	// sorted, and cost no allocation each.
	Edges(ctx context.Context, nodes []ID, dir Direction, types []string) (Hops, error)
}

// AuditReader reads the audit trail.
type AuditReader interface {
	// History returns the audit records of one object (a CI or relationship
	// ID, or a class or relationship type name) and those related to it
	// (a CI's relationships), newest first: Audit with Objects: {object}.
	History(ctx context.Context, object string, p PageRequest) (Page[AuditRecord], error)
	// Audit returns a page of the audit records matching f, newest first
	// (ties broken by record ID, descending), with one cursor per record.
	// Total counts every match. A malformed cursor is an *InvalidError on
	// "after"; a filter that fails AuditFilter.Check is an *InvalidError.
	Audit(ctx context.Context, f AuditFilter, p PageRequest) (Page[AuditRecord], error)
}

// ModelStore persists run-time extensions of the class model.
type ModelStore interface {
	// ModelExtensions returns every registered extension, oldest first.
	ModelExtensions(ctx context.Context) ([]ModelExtension, error)
	// SaveModelExtension persists a new extension with its audit record. A
	// name already registered for that kind is ErrConflict.
	SaveModelExtension(ctx context.Context, actor Actor, ext ModelExtension) error
	// RetireModelExtension removes a registered extension, with an audit
	// record (action delete) holding its definition, so that the name can
	// be registered again. An extension not registered is ErrNotFound; a
	// class that a CI still has, or a relationship type that a relationship
	// still has, is ErrConflict, checked in the same transaction.
	RetireModelExtension(ctx context.Context, actor Actor, kind ObjectKind, name string) error
}

// IdentityConflict is an open identity conflict: a source reported a CI
// whose identity keys belong to two different CIs (see ConflictError),
// which stays open until one of them is merged into the other or deleted.
// A conflict among three CIs is recorded as its pairs.
type IdentityConflict struct {
	// CIs are the two CIs, the lower ID first.
	CIs [2]ID
	// Class is the class of the last report, Source its source.
	Class  string
	Source string
	// FirstSeen and LastSeen are the times of the first and last report
	// that hit the conflict; Count is how many did.
	FirstSeen time.Time
	LastSeen  time.Time
	Count     int
}

// ConflictStore keeps the open identity conflicts.
type ConflictStore interface {
	// RecordConflicts records reports that hit identity conflicts: a new
	// pair is opened, a known one gets its Class, Source and LastSeen
	// replaced (the time is the store's) and its Count incremented by the
	// report's Count (1 when 0). CIs must differ and be in order.
	RecordConflicts(ctx context.Context, cs []IdentityConflict) error
	// Conflicts returns a page of the open conflicts ordered by their CIs.
	// A malformed cursor is an *InvalidError on "after".
	Conflicts(ctx context.Context, p PageRequest) (Page[IdentityConflict], error)
	// ResolveConflicts closes every open conflict one of ids is part of.
	ResolveConflicts(ctx context.Context, ids []ID) error
}

// ConflictPair returns the IdentityConflict CIs of a and b, in order.
func ConflictPair(a, b ID) [2]ID {
	if b < a {
		a, b = b, a
	}
	return [2]ID{a, b}
}

// Store is everything a backend provides.
type Store interface {
	NodeReader
	NodeWriter
	GraphWriter
	RelationshipStore
	Traverser
	AuditReader
	ModelStore
	TokenStore
	ConflictStore
	SequenceStore
	SyncStore
	// Ping reports whether the backend is reachable (ErrUnavailable if not).
	Ping(ctx context.Context) error
	io.Closer
}

// CheckConflicts validates conflicts before they are recorded: at most
// MaxBatch, each of two different CIs in order.
func CheckConflicts(cs []IdentityConflict) error {
	if err := CheckBatch("conflicts", len(cs)); err != nil {
		return err
	}
	for i, c := range cs {
		if c.CIs[0] == "" || c.CIs[0] >= c.CIs[1] {
			return Invalid(fmt.Sprintf("conflicts[%d].cis", i), "must be two different CIs, the lower ID first")
		}
	}
	return nil
}
