package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Backends wrap them with context (fmt.Errorf("...: %w",
// ErrNotFound)); callers test them with errors.Is.
var (
	// ErrNotFound reports that an object named by id does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports a write that contradicts stored data, such as an
	// upsert whose identity keys belong to two different CIs, or a name that
	// is already registered.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable reports that the backend cannot be reached or timed out;
	// the request may succeed if retried later.
	ErrUnavailable = errors.New("store unavailable")
)

// InvalidError reports bad input. Field is a path into the request such as
// "items[3].attributes.serial_number"; Reason says what is wrong and, where
// there is a closed set, what is allowed.
type InvalidError struct {
	Field  string
	Reason string
}

// Invalid returns an *InvalidError for field with a formatted reason.
func Invalid(field, format string, args ...any) *InvalidError {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "invalid: " + e.Reason
	}
	return e.Field + ": " + e.Reason
}

// WithPrefix returns a copy of e whose field path is prefixed by prefix, as
// in "items[3]" + "." + "attributes.name".
func (e *InvalidError) WithPrefix(prefix string) *InvalidError {
	if prefix == "" {
		return e
	}
	f := prefix
	if e.Field != "" {
		if e.Field[0] == '[' {
			f += e.Field
		} else {
			f += "." + e.Field
		}
	}
	return &InvalidError{Field: f, Reason: e.Reason}
}

// ItemError reports the failure of one item of an all-or-nothing batch: the
// batch was not written because item Index failed with Err.
type ItemError struct {
	Index int
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }

// Unwrap returns the item's error, so errors.Is(err, ErrConflict) and
// errors.As(err, &*InvalidError) see through the batch.
func (e *ItemError) Unwrap() error { return e.Err }

// PrefixField returns err with prefix put in front of the field path of
// the *InvalidError it carries, keeping an *ItemError around it. Errors
// without an *InvalidError pass through unchanged.
func PrefixField(err error, prefix string) error {
	var ie *InvalidError
	if err == nil || !errors.As(err, &ie) {
		return err
	}
	p := ie.WithPrefix(prefix)
	var item *ItemError
	if errors.As(err, &item) {
		return &ItemError{Index: item.Index, Err: p}
	}
	return p
}
