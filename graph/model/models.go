package model

import (
	"time"

	"github.com/skein-cmdb/skein/internal/impact"
	"github.com/skein-cmdb/skein/internal/store"
)

// CI is the API's view of a configuration item. Fields that need more
// data (its class, relationships, traversals, history) have resolvers.
type CI struct {
	ID           string
	Name         string
	Class        string
	Status       *string
	Environment  *string
	Owner        *string
	SupportGroup *string
	Criticality  *int
	Tags         []string
	Attributes   map[string]any
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastSeenAt   time.Time
	SeenBy       []Sighting
	// Version is the stored CI's version (store.Node.Version).
	Version int
	// Raw is the stored CI the view was made from.
	Raw store.CI
}

// IsNode marks CI as a Node.
func (CI) IsNode() {}

// GetID returns the CI's global ID.
func (c CI) GetID() string { return c.ID }

// Relationship is the API's view of a relationship; its ends are resolved
// through the CI loader.
type Relationship struct {
	ID         string
	Type       string
	Attributes map[string]any
	CreatedAt  *time.Time
	UpdatedAt  *time.Time
	Version    int
	SeenBy     []Sighting
	LastSeenAt *time.Time
	// Key is the relationship's natural key (source, type, target).
	Key store.RelationshipKey
}

// IsNode marks Relationship as a Node.
func (Relationship) IsNode() {}

// GetID returns the relationship's global ID.
func (r Relationship) GetID() string { return r.ID }

// PathStep is one hop of a path; its CIs are resolved through the loader.
type PathStep struct {
	Type    string
	Forward bool
	// From and To are the hop's CIs in path order.
	From, To store.ID
	Rel      store.Relationship
}

// Path is a path through the graph.
type Path struct {
	Length int
	Steps  []PathStep
	// IDs are the CIs along the path, first to last.
	IDs []store.ID
}

// Reachability is a traversal's answer; its lists are built by resolvers
// for the fields a query selects (a page converts only its CIs).
type Reachability struct {
	Reach      *impact.Reach
	Truncated  bool
	TotalCount int
}

// ReachedCI is a CI reached by a traversal; the CI is made from the summary
// the traversal read, or loaded when a query asks for more (summaryCI), the
// path from Reach (impact.Reach.Paths) when a query asks.
type ReachedCI struct {
	Depth int
	// Ci is the CI, set by the resolver of the list it is in when the
	// query selects it (a plain field: gqlgen resolves one with a
	// resolver in a goroutine of its own, a CI each).
	Ci *CI
	// Reach is the traversal's answer and Index this CI's place in its
	// Nodes.
	Reach *impact.Reach
	Index int
}

// ImpactAnalysis is the answer of an impact analysis. Its counts and
// roll-ups are set; the lists of impacted CIs are built by resolvers from
// Result for the fields a query selects (a page converts only its CIs).
type ImpactAnalysis struct {
	Result *impact.Result
	// Kept are Result.Impacted that the effects argument keeps, in
	// Result's order; BusinessServices likewise.
	Kept, BusinessServices []impact.Impacted
	Starts                 []CI
	NotOperationalStarts   []CI
	Owners                 []Contact
	SupportGroups          []Contact
	CountsByClass          []ClassCount
	DownCount              int
	AtRiskCount            int
	RedundancyReducedCount int
	DegradedCount          int
	Truncated              bool
}

// ImpactedCI is a CI reached by an impact analysis; the CI is made from
// the summary the analysis read, or loaded when a query asks for more
// (summaryCI), and the path is built from the analysis, for the CIs a
// query shows and only when it selects them.
type ImpactedCI struct {
	// Summary is the impacted CI's summary as the analysis read it (an
	// element of Result's lists, not a copy).
	Summary *store.Summary
	// Ci is the CI, set by the resolver of the list it is in when the
	// query selects it (as ReachedCI.Ci).
	Ci       *CI
	Depth    int
	Effect   ImpactOutcome
	Headroom *Headroom
	// Result is the analysis, which the path is read from.
	Result *impact.Result
}

// Headroom is how much redundancy is left to an impacted CI; its group is
// resolved through the loader (an analysis keeps the group's summary).
type Headroom struct {
	GroupID       store.ID
	MembersUp     int
	MembersNeeded int
}

// IdentityConflict is the API's view of an open identity conflict; its
// CIs are loaded by a resolver.
type IdentityConflict struct {
	CIIDs     [2]store.ID
	Class     string
	Source    string
	FirstSeen time.Time
	LastSeen  time.Time
	Count     int
}

// HealthCIList is the CIs a CMDB health figure lists, by ID; its cis
// field loads them.
type HealthCIList struct {
	TotalCount int
	Truncated  bool
	CIIDs      []store.ID
}

// IncompleteCI is an incomplete CI of a CMDB health figure, by ID.
type IncompleteCI struct {
	CIID              store.ID
	MissingAttributes []string
}

// HealthCIPair is two CIs a CMDB health figure says may be one thing, by
// ID.
type HealthCIPair struct {
	CIIDs            [2]store.ID
	SharedAttributes []string
	NameDistance     int
}

// Person is the API's view of a node of kind person. Its relations
// (groups, owned CIs, history) have resolvers.
type Person struct {
	ID             string
	UserName       string
	Name           string
	Email          *string
	Title          *string
	Department     *string
	Location       *string
	Phone          *string
	Mobile         *string
	EmployeeNumber *string
	TimeZone       *string
	Active         bool
	Class          string
	Attributes     map[string]any
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks Person as a Node.
func (Person) IsNode() {}

// GetID returns the person's global ID.
func (p Person) GetID() string { return p.ID }

// Group is the API's view of a node of kind group. Its relations
// (members, manager, CIs, history) have resolvers.
type Group struct {
	ID          string
	Name        string
	Type        *string
	Email       *string
	Phone       *string
	Description *string
	Active      bool
	Class       string
	Attributes  map[string]any
	Version     int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks Group as a Node.
func (Group) IsNode() {}

// GetID returns the group's global ID.
func (g Group) GetID() string { return g.ID }

// IsOwner marks Person as an Owner.
func (Person) IsOwner() {}

// IsOwner marks Group as an Owner.
func (Group) IsOwner() {}

// Incident is the API's view of a node of kind incident. Its links
// (caller, assignee, group, affected CIs, history) and allowedActions
// have resolvers.
type Incident struct {
	ID               string
	Number           string
	ShortDescription string
	Description      *string
	State            IncidentState
	StateCode        int
	Impact           int
	Urgency          int
	Priority         int
	PriorityLabel    string
	Category         *string
	Subcategory      *string
	OnHoldReason     *OnHoldReason
	ResolutionCode   *ResolutionCode
	ResolutionNotes  *string
	CloseNotes       *string
	ReopenReason     *string
	ReopenCount      int
	OpenedAt         time.Time
	ResolvedAt       *time.Time
	ClosedAt         *time.Time
	Attributes       map[string]any
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks Incident as a Node.
func (Incident) IsNode() {}

// GetID returns the incident's global ID.
func (i Incident) GetID() string { return i.ID }

// JournalEntry is the API's view of a node of kind journal.
type JournalEntry struct {
	ID        string
	Type      NoteType
	Text      string
	Author    *string
	Record    *string
	CreatedAt time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks JournalEntry as a Node.
func (JournalEntry) IsNode() {}

// GetID returns the entry's global ID.
func (j JournalEntry) GetID() string { return j.ID }

// Change is the API's view of a node of kind change. Its links, approvals,
// conflicts and allowedActions have resolvers.
type Change struct {
	ID                     string
	Number                 string
	ShortDescription       string
	Description            *string
	Type                   ChangeType
	State                  ChangeState
	StateCode              int
	Category               *string
	Risk                   *ChangeRisk
	PlannedStartAt         *time.Time
	PlannedEndAt           *time.Time
	ImplementationPlan     *string
	BackoutPlan            *string
	TestPlan               *string
	Approval               ApprovalState
	ConflictOverrideReason *string
	CloseCode              *CloseCode
	CloseNotes             *string
	OpenedAt               time.Time
	ClosedAt               *time.Time
	ImplementedAt          *time.Time
	ImplementationEndedAt  *time.Time
	Attributes             map[string]any
	Version                int
	CreatedAt              time.Time
	UpdatedAt              time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks Change as a Node.
func (Change) IsNode() {}

// GetID returns the change's global ID.
func (c Change) GetID() string { return c.ID }

// Approval is one approver of a change and their decision; approver has a
// resolver.
type Approval struct {
	ApproverID store.ID
	UserName   string
	Reason     ApproverReason
	State      ApprovalState
	Comment    *string
	DecidedAt  *time.Time
}

// ChangeConflict is what a change's window collides with; the records and
// CIs have resolvers.
type ChangeConflict struct {
	Kind           ConflictKind
	Number         string
	RecordID       store.ID
	PlannedStartAt *time.Time
	PlannedEndAt   *time.Time
	CIIDs          []store.ID
}

// SuspectChange is a change that may have caused an incident; its CIs have
// resolvers.
type SuspectChange struct {
	Change                *Change
	CIID, IncidentCIID    store.ID
	Distance              int
	Path                  []PathStep
	ImplementedAt         time.Time
	MinutesBeforeIncident int
}

// Problem is the API's view of a node of kind problem. Its links,
// incidents, common causes and allowedActions have resolvers.
type Problem struct {
	ID               string
	Number           string
	ShortDescription string
	Description      *string
	State            ProblemState
	StateCode        int
	Impact           int
	Urgency          int
	Priority         int
	Category         *string
	RootCause        *string
	KnownError       bool
	Workaround       *string
	ResolutionCode   *ProblemResolution
	FixNotes         *string
	OpenedAt         time.Time
	ResolvedAt       *time.Time
	ClosedAt         *time.Time
	Attributes       map[string]any
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks Problem as a Node.
func (Problem) IsNode() {}

// GetID returns the problem's global ID.
func (p Problem) GetID() string { return p.ID }

// CommonCause is a CI in several of a problem's incidents' trees; the CI
// has a resolver.
type CommonCause struct {
	CIID      store.ID
	Incidents int
	Distance  int
}

// RecordNearCI is a record on a CI near another; the CI has a resolver.
type RecordNearCI struct {
	CIID     store.ID
	Distance int
	Record   Record
}

// IsRecord marks Incident as a Record.
func (Incident) IsRecord() {}

// IsRecord marks Problem as a Record.
func (Problem) IsRecord() {}

// IsRecord marks Change as a Record.
func (Change) IsRecord() {}

// Webhook is the API's view of a node of kind webhook (never its secret).
type Webhook struct {
	ID          string
	Name        string
	URL         string
	Events      []string
	Active      bool
	Description *string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TaskFields are the fields change tasks and problem tasks share; the
// parent, people, CIs, history and journal have resolvers.
type TaskFields struct {
	ID               string
	Number           string
	ShortDescription string
	Description      *string
	StateCode        int
	PlannedStartAt   *time.Time
	PlannedEndAt     *time.Time
	CloseCode        *TaskCloseCode
	CloseNotes       *string
	OpenedAt         time.Time
	StartedAt        *time.Time
	ClosedAt         *time.Time
	Attributes       map[string]any
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// GetID returns the task's global ID.
func (t TaskFields) GetID() string { return t.ID }

// ChangeTask is the view of a change task.
type ChangeTask struct {
	TaskFields
	State ChangeTaskState
}

// IsNode marks ChangeTask as a Node.
func (ChangeTask) IsNode() {}

// ProblemTask is the view of a problem task.
type ProblemTask struct {
	TaskFields
	State ProblemTaskState
}

// IsNode marks ProblemTask as a Node.
func (ProblemTask) IsNode() {}

// ChangeWindow is the view of a change window; its CIs, whether it
// applies to every CI, its occurrences and history have resolvers.
type ChangeWindow struct {
	ID          string
	Name        string
	Type        ChangeWindowType
	Description *string
	StartAt     time.Time
	EndAt       time.Time
	Recurrence  Recurrence
	Until       *time.Time
	TimeZone    string
	Active      bool
	Attributes  map[string]any
	Version     int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks ChangeWindow as a Node.
func (ChangeWindow) IsNode() {}

// GetID returns the window's global ID.
func (w ChangeWindow) GetID() string { return w.ID }

// CICloseCode is how a closed change went on one CI; the CI has a
// resolver.
type CICloseCode struct {
	CIID      store.ID
	CloseCode CloseCode
}

// ChangeTemplate is the view of a change template; its changes and
// history have resolvers.
type ChangeTemplate struct {
	ID                 string
	Name               string
	ShortDescription   *string
	Description        *string
	Category           *string
	ImplementationPlan *string
	BackoutPlan        *string
	TestPlan           *string
	Risk               ChangeRisk
	Active             bool
	Attributes         map[string]any
	Version            int
	CreatedAt          time.Time
	UpdatedAt          time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks ChangeTemplate as a Node.
func (ChangeTemplate) IsNode() {}

// GetID returns the template's global ID.
func (t ChangeTemplate) GetID() string { return t.ID }

// Asset is the view of an asset; its model, person, CI, allowed actions
// and history have resolvers.
type Asset struct {
	ID             string
	AssetTag       string
	SerialNumber   *string
	State          AssetState
	StateCode      int
	Cost           *float64
	Currency       *string
	PurchaseDate   *time.Time
	WarrantyEnd    *time.Time
	Vendor         *string
	Location       *string
	Notes          *string
	ReceivedAt     *time.Time
	AssignedAt     *time.Time
	RetiredAt      *time.Time
	DisposedAt     *time.Time
	DisposalReason *string
	Attributes     map[string]any
	Version        int
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks Asset as a Node.
func (Asset) IsNode() {}

// GetID returns the asset's global ID.
func (a Asset) GetID() string { return a.ID }

// AssetModel is the view of an asset model; its stock, assets and history
// have resolvers.
type AssetModel struct {
	ID               string
	Name             string
	Manufacturer     *string
	Category         *string
	Description      *string
	ReorderThreshold int
	Active           bool
	Attributes       map[string]any
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks AssetModel as a Node.
func (AssetModel) IsNode() {}

// GetID returns the model's global ID.
func (m AssetModel) GetID() string { return m.ID }

// CatalogItem is the view of a catalog item; its groups, asset model and
// history have resolvers.
type CatalogItem struct {
	ID               string
	Name             string
	ShortDescription *string
	Description      *string
	Category         *string
	Approval         CatalogApproval
	Variables        []CatalogVariable
	Active           bool
	Attributes       map[string]any
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks CatalogItem as a Node.
func (CatalogItem) IsNode() {}

// GetID returns the item's global ID.
func (c CatalogItem) GetID() string { return c.ID }

// KnowledgeArticle is the view of a knowledge article; its versions,
// links and history have resolvers.
type KnowledgeArticle struct {
	ID              string
	Number          string
	Title           string
	Body            *string
	Keywords        []string
	Category        *string
	State           KnowledgeState
	AllowedActions  []KnowledgeAction
	CurrentVersion  int
	ReviewNotes     *string
	OpenedAt        *time.Time
	PublishedAt     *time.Time
	RetiredAt       *time.Time
	ViewCount       int
	HelpfulCount    int
	NotHelpfulCount int
	Attributes      map[string]any
	Version         int
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks KnowledgeArticle as a Node.
func (KnowledgeArticle) IsNode() {}

// GetID returns the article's global ID.
func (a KnowledgeArticle) GetID() string { return a.ID }

// KnowledgeArticleForCI is an article about a CI of a dependency tree;
// its CI has a resolver.
type KnowledgeArticleForCI struct {
	Article  *KnowledgeArticle
	CIID     store.ID
	Distance int
}

// KnowledgeHit is an article found by a knowledge search.
type KnowledgeHit struct {
	Article    *KnowledgeArticle
	Score      float64
	Highlights []SearchHighlight
}

// CatalogTask is the view of a catalog task; its wait reason is its own,
// its item, asset model, allocated asset, people and CIs have resolvers.
type CatalogTask struct {
	TaskFields
	State      CatalogTaskState
	WaitReason *string
}

// IsNode marks CatalogTask as a Node.
func (CatalogTask) IsNode() {}

// Request is the view of a request; its person, items, actions, history
// and journal have resolvers.
type Request struct {
	ID               string
	Number           string
	ShortDescription string
	Description      *string
	State            RequestState
	StateCode        int
	Priority         int
	RequestedBy      *string
	CloseNotes       *string
	OpenedAt         time.Time
	ClosedAt         *time.Time
	Attributes       map[string]any
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks Request as a Node.
func (Request) IsNode() {}

// GetID returns the request's global ID.
func (r Request) GetID() string { return r.ID }

// RequestedItem is the view of a requested item; its approvals, SLA,
// request, catalog item, person, tasks, actions, history and journal have
// resolvers.
type RequestedItem struct {
	ID               string
	Number           string
	ShortDescription string
	State            RequestedItemState
	StateCode        int
	Quantity         int
	Variables        map[string]any
	Approval         ApprovalState
	Priority         int
	CloseNotes       *string
	OpenedAt         time.Time
	ApprovedAt       *time.Time
	ClosedAt         *time.Time
	Attributes       map[string]any
	Version          int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	// Raw is the stored node the view was made from.
	Raw store.Node
}

// IsNode marks RequestedItem as a Node.
func (RequestedItem) IsNode() {}

// GetID returns the item's global ID.
func (r RequestedItem) GetID() string { return r.ID }
