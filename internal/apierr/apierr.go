// Package apierr is the one table that turns the errors of Skein's
// services into what an API shows its clients: a stable code, an HTTP
// status, the field of the request to blame, and a message fit for
// clients. The GraphQL API (graph/errors.go: extensions.code and
// extensions.field) and the REST table API use it alike, so that one error
// reads the same through either.
//
// It sits above internal/store and internal/auth, whose typed errors it
// maps, and below every API: the store cannot hold the table, because
// auth's errors (which import store) and the API's limits and timeouts are
// not its own.
package apierr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/skein-cmdb/skein/internal/auth"
	"github.com/skein-cmdb/skein/internal/itsm"
	"github.com/skein-cmdb/skein/internal/store"
)

// Code is a stable, machine-readable error code. Clients branch on it;
// codes are never renamed.
type Code string

// Codes of the errors services return. The codes of the HTTP layer (a
// body too large, a rate limit) are listed in Statuses with their HTTP
// status; an API's own refusals of a request (GraphQL's query limits)
// are its own.
const (
	// Invalid: bad input; Field names it, the message says what is allowed.
	Invalid Code = "INVALID"
	// NotFound: an object the request names does not exist.
	NotFound Code = "NOT_FOUND"
	// Conflict: the write contradicts what is stored.
	Conflict Code = "CONFLICT"
	// Unauthenticated: the request needs a (valid) API token.
	Unauthenticated Code = "UNAUTHENTICATED"
	// Forbidden: the token's role may not do this.
	Forbidden Code = "FORBIDDEN"
	// Overloaded: too much is running; retry after RetryAfter seconds.
	Overloaded Code = "OVERLOADED"
	// Timeout: the request took too long and was stopped, or was
	// cancelled.
	Timeout Code = "TIMEOUT"
	// Unavailable: the store cannot be reached; retry later.
	Unavailable Code = "UNAVAILABLE"
	// Internal: anything else; the message says only "internal error" and
	// the error is logged.
	Internal Code = "INTERNAL"
)

// Statuses maps every code an API answers with to its HTTP status: the
// codes of Table, and those the HTTP layer answers before any API runs.
// internal/server and graph's transport take their statuses from here
// (Status). The GraphQL layer's own refusals of a document (its limits,
// parse and validation) keep the statuses gqlgen gives them.
var Statuses = map[Code]int{
	Invalid:         http.StatusBadRequest,
	NotFound:        http.StatusNotFound,
	Conflict:        http.StatusConflict,
	Unauthenticated: http.StatusUnauthorized,
	Forbidden:       http.StatusForbidden,
	Overloaded:      http.StatusServiceUnavailable,
	Timeout:         http.StatusGatewayTimeout,
	Unavailable:     http.StatusServiceUnavailable,
	Internal:        http.StatusInternalServerError,

	"BAD_REQUEST":            http.StatusBadRequest,
	"BATCH_NOT_SUPPORTED":    http.StatusBadRequest,
	"METHOD_NOT_ALLOWED":     http.StatusMethodNotAllowed,
	"UNSUPPORTED_MEDIA_TYPE": http.StatusUnsupportedMediaType,
	"PAYLOAD_TOO_LARGE":      http.StatusRequestEntityTooLarge,
	"RATE_LIMITED":           http.StatusTooManyRequests,
}

// Status returns the HTTP status of code (500 for a code not in Statuses).
func Status(code Code) int {
	if s, ok := Statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrOverloaded reports work refused because too much of it is running
// (traversal.max_concurrent); wrap it with what is busy. Clients see its
// message and retry after a second.
var ErrOverloaded = errors.New("overloaded")

// Problem is an error as a client sees it.
type Problem struct {
	Code   Code
	Status int
	// Field is the path of the input to blame, as the client wrote it
	// ("input.items[3].attributes.serial_number"), or "".
	Field string
	// Message is safe to show: it says what is wrong and what is allowed,
	// and never holds a stack, query text or a secret.
	Message string
	// RetryAfter, when positive, is how many seconds to wait before
	// retrying.
	RetryAfter int
	// Details are facts a client acts on, by name (for a version
	// conflict, the current version): GraphQL puts them in extensions,
	// a REST API in its error body.
	Details map[string]any
}

// Refs renders store IDs in messages as the API names them (the GraphQL
// API's global IDs, the table API's sys_ids). A nil func leaves the store
// ID.
type Refs struct {
	CI           func(store.ID) string
	Relationship func(store.ID) string
}

// ref names id of kind as the API does, or as stored when refs has no
// function for the kind.
func (r Refs) ref(kind store.ObjectKind, id store.ID) string {
	switch {
	case kind == store.KindCI && r.CI != nil:
		return r.CI(id)
	case kind == store.KindRelationship && r.Relationship != nil:
		return r.Relationship(id)
	}
	return string(id)
}

// Rule is one row of Table: Match picks the errors it maps, Present says
// what the client sees of them: Field, Message and Details (Code, Status
// and RetryAfter are filled in from the row).
type Rule struct {
	Code    Code
	Match   func(error) bool
	Present func(err error, refs Refs) Problem
}

// Table maps typed errors to codes, most specific first: the first row
// whose Match holds wins, and an error no row matches is Internal. To add
// an error (a workflow's refused transition, say), add its row here, before
// the row of any error it is a case of (as the version conflict's is before
// store.ErrConflict's), and a case to the table test.
var Table = []Rule{
	// A refused or expired request, whatever a store made of it.
	{Code: Overloaded, Match: is(ErrOverloaded), Present: ownMessage},
	{Code: Timeout, Match: is(context.DeadlineExceeded), Present: fixed("the request took too long and was stopped; narrow it (smaller depth, fewer items) or retry")},
	{Code: Timeout, Match: is(context.Canceled), Present: fixed("the request was cancelled")},

	// A workflow action refused: by the record's state (a conflict: the
	// record may have moved meanwhile) or by a guard on its input. Both
	// say the state and the actions allowed from it.
	{Code: Conflict, Match: transition(false), Present: transitionProblem},
	{Code: Invalid, Match: transition(true), Present: transitionProblem},

	{Code: Invalid, Match: as[*store.InvalidError], Present: func(err error, _ Refs) Problem {
		var ie *store.InvalidError
		errors.As(err, &ie)
		return Problem{Field: ie.Field, Message: ie.Error()}
	}},
	{Code: Conflict, Match: as[*store.ConflictError], Present: func(err error, refs Refs) Problem {
		var ce *store.ConflictError
		errors.As(err, &ce)
		field, _ := store.FieldOf(err)
		msg := ConflictMessage(ce, refs)
		if field != "" {
			msg = field + ": " + msg
		}
		return Problem{Field: field, Message: msg}
	}},
	{Code: NotFound, Match: is(store.ErrNotFound), Present: withField},
	// A write that expected another version: the client re-reads and
	// retries, so it gets the current version to compare.
	{Code: Conflict, Match: as[*store.VersionConflictError], Present: func(err error, refs Refs) Problem {
		var ve *store.VersionConflictError
		errors.As(err, &ve)
		field, _ := store.FieldOf(err)
		shown := *ve
		shown.ID = store.ID(refs.ref(ve.Kind, ve.ID))
		if ve.ID == "" {
			shown.ID = ""
		}
		msg := shown.Error()
		if field != "" {
			msg = field + ": " + msg
		}
		return Problem{Field: field, Message: msg, Details: map[string]any{"currentVersion": ve.Current}}
	}},
	{Code: Conflict, Match: is(store.ErrConflict), Present: withField},
	{Code: Unavailable, Match: is(store.ErrUnavailable), Present: fixed("the store is unavailable; try again later")},
	{Code: Unauthenticated, Match: is(auth.ErrUnauthenticated), Present: ownMessage},
	{Code: Forbidden, Match: is(auth.ErrForbidden), Present: ownMessage},
}

// From returns what a client sees of err. The failure of one item of an
// all-or-nothing batch (*store.ItemError) is shown as the item's error,
// whose field path already names the item.
func From(err error, refs Refs) Problem {
	var item *store.ItemError
	if errors.As(err, &item) {
		err = item.Err
	}
	for _, r := range Table {
		if r.Match(err) {
			p := r.Present(err, refs)
			p.Code, p.Status = r.Code, Status(r.Code)
			if r.Code == Overloaded {
				p.RetryAfter = 1
			}
			return p
		}
	}
	return Problem{Code: Internal, Status: Status(Internal), Message: "internal error"}
}

// ConflictMessage says which CIs an item's identity keys matched, by the
// API's IDs and identification rule, and how to resolve it.
func ConflictMessage(ce *store.ConflictError, refs Refs) string {
	parts := make([]string, len(ce.CIs))
	for i, id := range ce.CIs {
		ref := string(id)
		if refs.CI != nil {
			ref = refs.CI(id)
		}
		parts[i] = "CI " + ref
		if i < len(ce.Rules) && len(ce.Rules[i]) > 0 {
			parts[i] += " (by " + strings.Join(ce.Rules[i], ", ") + ")"
		}
	}
	return fmt.Sprintf("the identity keys match %d different CIs: %s; if they are one thing, merge them with mergeCIs (identityConflicts lists the open conflicts)",
		len(ce.CIs), strings.Join(parts, "; "))
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// ownMessage shows the error's own message: errors whose text is written
// for clients (auth's, ErrOverloaded's wrappers).
func ownMessage(err error, _ Refs) Problem { return Problem{Message: err.Error()} }

// withField shows the error's message and the field a *store.FieldError
// around it names.
func withField(err error, _ Refs) Problem {
	field, _ := store.FieldOf(err)
	return Problem{Field: field, Message: err.Error()}
}

func fixed(msg string) func(error, Refs) Problem {
	return func(error, Refs) Problem { return Problem{Message: msg} }
}

// Overload returns an error that wraps ErrOverloaded and reads msg, which
// says what is busy and names the setting that bounds it.
func Overload(msg string) error { return &overloadError{msg} }

type overloadError struct{ msg string }

func (e *overloadError) Error() string { return e.msg }

// Unwrap returns ErrOverloaded.
func (e *overloadError) Unwrap() error { return ErrOverloaded }

// transition matches an *itsm.TransitionError refused by a guard on the
// input (invalid true), or by the state or a conflict guard.
func transition(invalid bool) func(error) bool {
	return func(err error) bool {
		var te *itsm.TransitionError
		return errors.As(err, &te) && (te.Guard != "" && !te.Conflict) == invalid
	}
}

func transitionProblem(err error, _ Refs) Problem {
	var te *itsm.TransitionError
	errors.As(err, &te)
	field := te.Field // a guard names the input it is about
	if te.Guard == "" {
		field, _ = store.FieldOf(err)
	}
	msg := te.Error()
	if field != "" {
		msg = field + ": " + msg
	}
	allowed := te.Allowed
	if allowed == nil {
		allowed = []string{}
	}
	details := map[string]any{"state": te.State, "allowedActions": allowed}
	if te.Guard != "" {
		details["guard"] = te.Guard
	}
	return Problem{Field: field, Message: msg, Details: details}
}
