package embedded

import (
	"context"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/skein-cmdb/skein/internal/store"
)

// dbError is a database failure as callers see it: it wraps
// store.ErrUnavailable and the driver error, but its message names only the
// operation and a short code, never query text or driver internals.
type dbError struct {
	op  string
	err error
}

func (e *dbError) Error() string {
	return "embedded: " + e.op + ": " + store.ErrUnavailable.Error() + " (" + shortReason(e.err) + ")"
}

func (e *dbError) Unwrap() []error { return []error{store.ErrUnavailable, e.err} }

// corruptError reports stored data that does not decode: a bug or a
// damaged file, which retrying cannot mend, so unlike *dbError it is not
// store.ErrUnavailable (the API shows it as an internal error and logs
// this message).
type corruptError struct {
	what string
	err  error
}

func (e *corruptError) Error() string {
	return "embedded: stored " + e.what + " does not decode: " + e.err.Error()
}
func (e *corruptError) Unwrap() error { return e.err }

// corrupt wraps a decoding error of stored data (nil stays nil).
func corrupt(what string, err error) error {
	if err == nil {
		return nil
	}
	return &corruptError{what: what, err: err}
}

// dbErr wraps err (nil stays nil) as a *dbError for op, unless it is one
// already, a *corruptError, or a store error that must keep its meaning.
func dbErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var de *dbError
	var ie *store.InvalidError
	var item *store.ItemError
	var ce *corruptError
	if errors.As(err, &de) || errors.As(err, &ie) || errors.As(err, &item) || errors.As(err, &ce) ||
		errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return &dbError{op: op, err: err}
}

func shortReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline exceeded"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, errClosed):
		return "closed"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return fmt.Sprintf("sqlite code %d", se.Code())
	}
	return "database error"
}

// errClosed reports a call on a closed store.
var errClosed = errors.New("store closed")

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isUniqueViolation reports a UNIQUE or PRIMARY KEY constraint failure.
func isUniqueViolation(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// isBusy reports a lock the busy timeout did not resolve.
func isBusy(err error) bool {
	c := sqliteCode(err) & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// errRetry asks the writer to roll the call back and run it again from
// scratch (a constraint violation that a fresh identification resolves).
type errRetry struct{ err error }

func (e *errRetry) Error() string { return "retry: " + e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }
