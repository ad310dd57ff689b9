package store

import (
	"fmt"
	"time"
)

// Node is one node of the configuration graph as stored: a CI, and later a
// person, a group or a record. Its Kind says which; the model of its kind
// (internal/cmdb) gives its classes, attributes and identity rules. The
// store carries Kind and filters on it, and applies no rule of any kind.
type Node struct {
	ID ID
	// Kind is the node's kind (KindCI for every CI). A node never changes
	// kind.
	Kind  ObjectKind
	Class string
	// Attributes are the typed attribute values, common ones (name, status,
	// environment, owner, support_group, criticality, tags) included.
	Attributes Attributes
	// Keys are the node's normalised identity keys (see NodeUpsert.Keys).
	Keys []string
	// Sources maps an attribute key to the Actor.Source that last set it;
	// reconciliation uses it to apply source precedence.
	Sources map[string]string
	// SetAt maps an attribute key to when it got its value from
	// Sources[key] (absent for values set before set times were kept).
	// With Sources it is the node's provenance (see AppendProvenance).
	SetAt map[string]time.Time
	// SeenBy maps a source to the last time that source reported the node.
	SeenBy map[string]time.Time
	// Version is 1 when the node is created and grows by one with every
	// write that changes its class, attributes or identity keys. A write
	// that only records a sighting (an unchanged upsert: SeenBy,
	// LastSeenAt) leaves it alone, as ServiceNow's sys_mod_count does.
	// NodeUpsert.ExpectedVersion compares against it.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastSeenAt is the latest of SeenBy (or CreatedAt for a node no source
	// reported).
	LastSeenAt time.Time
}

// NodeUpsert is one prepared item of a batch upsert: validated, typed, with
// its identity keys computed by the model of its kind (internal/cmdb).
type NodeUpsert struct {
	// ID, when set, makes the item an update of that node: the planner
	// finds and locks it by ID inside the write transaction (Keys are then
	// not used to identify it and may be empty), and a node that does not
	// exist is a not_found item, never a create. The update still claims
	// the keys the Decide function derives (another node's key is a
	// conflict).
	ID    ID
	Class string
	// Attributes are the reported values. A nil value asks the Decide
	// function to clear that attribute; nothing stores Attributes as
	// given, only Decision.Attributes.
	Attributes Attributes
	// Keys are the normalised identity keys derived from Attributes,
	// strongest rule first, each of the form "<family>|<rule>|<value>". A
	// stored node owns each of its keys exclusively: the backend enforces
	// this with a uniqueness constraint, not with a read-then-write check. At
	// least one key is required, unless ID is set.
	Keys []string
	// ExpectedVersion, when not 0, makes the item conditional: if the node
	// it identifies is not at this version (or it identifies none), the
	// item fails with status conflict and a *VersionConflictError, and
	// writes nothing (REST If-Match, ServiceNow's sys_mod_count).
	ExpectedVersion int64
	// At is the time of the write. The planner sets it before it calls
	// the Decide function, which must not read the clock (a rule such as
	// "a lower source may overwrite a value older than 30 days" reads it
	// here).
	At time.Time
}

// Decision is what a Decide function decides an identified node becomes.
type Decision struct {
	Class      string
	Attributes Attributes
	Sources    map[string]string
	// Keys are the identity keys of the decided attributes. The planner
	// makes the stored key set equal to Keys: keys no longer derived are
	// released, new keys are claimed (a new key owned by another node is a
	// conflict).
	Keys []string
	// Changes lists every changed attribute (and "class" when the class
	// changes) with its before and after value; empty means unchanged.
	Changes []FieldChange
}

// Decide is the caller's rule for one item of a write, run by the planner
// inside the backend's write transaction once the item is identified:
// current is the node as stored (and locked) at that point of the batch,
// or nil when the item identifies none. The CMDB's reconciliation
// (cmdb.Model.Reconcile: merge a report, apply source precedence) is one;
// a workflow transition is another (refuse current == nil with
// ErrNotFound, check the transition's guard against current and return an
// *InvalidError naming the allowed states, or the new attributes).
//
// It must be pure: no I/O, and the same output for the same input (a
// backend may run it again when it retries a transaction). An error
// wrapping ErrConflict or ErrNotFound, or an *InvalidError, fails that item
// only; any other error fails the call.
type Decide func(current *Node, in NodeUpsert, source string) (Decision, error)

// VersionConflictError is the failure of an item whose ExpectedVersion is
// not the version of the node it identifies. It wraps ErrConflict.
type VersionConflictError struct {
	Kind ObjectKind
	// ID is the node's ID ("" when the item identified no node).
	ID ID
	// Current is the node's version (0 when the item identified no node).
	Current  int64
	Expected int64
}

func (e *VersionConflictError) Error() string {
	name := "CI"
	if e.Kind != "" && e.Kind != KindCI {
		name = string(e.Kind)
	}
	if e.ID == "" {
		return fmt.Sprintf("no %s is stored yet, not version %d", name, e.Expected)
	}
	return fmt.Sprintf("%s %s is at version %d, not %d", name, e.ID, e.Current, e.Expected)
}

// Unwrap returns ErrConflict.
func (e *VersionConflictError) Unwrap() error { return ErrConflict }
