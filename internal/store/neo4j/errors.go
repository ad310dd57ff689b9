package neo4j

import (
	"context"
	"errors"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/skein-cmdb/skein/internal/store"
)

var errClosed = &dbError{op: "use", desc: "store is closed", sentinel: store.ErrUnavailable}

// dbError is a driver or server error translated at the edge of the
// package: its message is a short description (operation, Neo4j status
// code) that never quotes query text or server messages, while the cause
// stays reachable through errors.Is / errors.As.
type dbError struct {
	op       string
	desc     string
	sentinel error // store.ErrUnavailable, store.ErrConflict or nil
	cause    error
}

func (e *dbError) Error() string {
	msg := "neo4j: " + e.op + ": "
	if e.sentinel != nil {
		msg += e.sentinel.Error() + ": "
	}
	return msg + e.desc
}

func (e *dbError) Unwrap() []error {
	var errs []error
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// appError carries an error decided by this package (not the driver) out of
// a transaction function, which rolls the transaction back. The driver does
// not retry it.
type appError struct{ err error }

func (e *appError) Error() string { return e.err.Error() }

// translate maps an error of the driver (or of a transaction function) to
// the store's vocabulary. op names the operation for the message.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var app *appError
	if errors.As(err, &app) {
		return app.err
	}
	var de *dbError
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &dbError{op: op, desc: "deadline exceeded", sentinel: store.ErrUnavailable, cause: err}
	}
	if errors.Is(err, context.Canceled) {
		return &dbError{op: op, desc: "canceled", sentinel: store.ErrUnavailable, cause: err}
	}
	var limit *neo4j.TransactionExecutionLimit
	if errors.As(err, &limit) {
		// A retryable error (see retryKind) that retry gave up on.
		desc := "connection failed"
		if n := len(limit.Errors); n > 0 {
			if code := neo4jCode(limit.Errors[n-1]); code != "" {
				desc = "transaction retries exhausted (last: " + code + ")"
			}
		}
		return &dbError{op: op, desc: desc, sentinel: store.ErrUnavailable, cause: err}
	}
	var conn *neo4j.ConnectivityError
	if errors.As(err, &conn) {
		return &dbError{op: op, desc: "connection failed", sentinel: store.ErrUnavailable, cause: err}
	}
	var auth *neo4j.InvalidAuthenticationError
	if errors.As(err, &auth) {
		return &dbError{op: op, desc: "invalid authentication settings", sentinel: store.ErrUnavailable, cause: err}
	}
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) {
		code := ne.Code
		switch {
		case code == "Neo.ClientError.Schema.ConstraintValidationFailed":
			return &dbError{op: op, desc: "uniqueness constraint violated", sentinel: store.ErrConflict, cause: err}
		case strings.HasPrefix(code, "Neo.TransientError."),
			strings.HasPrefix(code, "Neo.ClientError.Transaction.TransactionTimedOut"),
			code == "Neo.ClientError.Transaction.LockClientStopped",
			code == "Neo.ClientError.Database.DatabaseNotFound",
			code == "Neo.ClientError.Cluster.NotALeader",
			code == "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase":
			return &dbError{op: op, desc: code, sentinel: store.ErrUnavailable, cause: err}
		case strings.HasPrefix(code, "Neo.ClientError.Security."):
			return &dbError{op: op, desc: "authentication or authorization failed (" + code + ")", sentinel: store.ErrUnavailable, cause: err}
		}
		return &dbError{op: op, desc: "database error " + code, cause: err}
	}
	var ue *neo4j.UsageError
	if errors.As(err, &ue) {
		return &dbError{op: op, desc: "driver usage error", cause: err}
	}
	return &dbError{op: op, desc: "unexpected driver error", cause: err}
}

func neo4jCode(err error) string {
	var ne *neo4j.Neo4jError
	if errors.As(err, &ne) {
		return ne.Code
	}
	return ""
}

// raceLost reports errors a write transaction meets when a concurrent
// transaction committed a conflicting change between two of its
// statements, and which the driver does not retry: a uniqueness constraint
// violation, or an entity deleted under our feet. Re-running the whole
// transaction from scratch resolves them.
func raceLost(err error) bool {
	var app *appError
	if errors.As(err, &app) {
		return false
	}
	switch neo4jCode(err) {
	case "Neo.ClientError.Schema.ConstraintValidationFailed",
		"Neo.ClientError.Statement.EntityNotFound":
		return true
	}
	return false
}

// What retry does after a failed attempt.
type retryClass int

const (
	retryNone      retryClass = iota // give up: the error is final
	retryConnect                     // Neo4j or its database could not be reached, or the connection died before the commit
	retryTransient                   // another transient error of a reachable Neo4j, such as a deadlock
	retryRace                        // a race lost to a concurrent writer (raceLost)
)

// retryKind classifies the error of one managed transaction. The driver,
// configured with no retry time, wraps the error in a
// TransactionExecutionLimit exactly when it would have retried it: a
// transient Neo4j error, or a connectivity error other than a commit
// whose outcome is unknown (which must not be re-run). A database that is
// unavailable (stopped, starting, shutting down) counts as unreachable, not
// as contention to wait out.
func retryKind(err error) retryClass {
	var limit *neo4j.TransactionExecutionLimit
	if errors.As(err, &limit) && len(limit.Errors) > 0 {
		var ne *neo4j.Neo4jError
		if errors.As(limit.Errors[len(limit.Errors)-1], &ne) && ne.Code != "Neo.TransientError.General.DatabaseUnavailable" {
			return retryTransient
		}
		return retryConnect
	}
	if raceLost(err) {
		return retryRace
	}
	return retryNone
}
