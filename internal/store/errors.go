package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"
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

// FieldError is an error about one field of a request that is not bad
// input as such: the CI a field names does not exist (Err wraps
// ErrNotFound), or an item's identity keys belong to other CIs (Err wraps
// ErrConflict). Field is a path as for *InvalidError, which the layers
// above root and renumber as they do an *InvalidError's (see PrefixField,
// FieldOf, WithField).
type FieldError struct {
	Field string
	Err   error
}

// AtField returns a *FieldError for err about field.
func AtField(field string, err error) *FieldError { return &FieldError{Field: field, Err: err} }

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return e.Field + ": " + e.Err.Error()
}

// Unwrap returns the wrapped error, so errors.Is(err, ErrNotFound) sees it.
func (e *FieldError) Unwrap() error { return e.Err }

// FieldOf returns the field path of the *InvalidError or *FieldError err
// carries, and false when it carries neither.
func FieldOf(err error) (string, bool) {
	var ie *InvalidError
	if errors.As(err, &ie) {
		return ie.Field, true
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field, true
	}
	return "", false
}

// WithField returns err with the field path of the *InvalidError or
// *FieldError it carries replaced by field, keeping an *ItemError around
// it. Other errors pass through unchanged.
func WithField(err error, field string) error {
	var out error
	var ie *InvalidError
	var fe *FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		out = &InvalidError{Field: field, Reason: ie.Reason}
	case errors.As(err, &fe):
		out = &FieldError{Field: field, Err: fe.Err}
	default:
		return err
	}
	var item *ItemError
	if errors.As(err, &item) {
		return &ItemError{Index: item.Index, Err: out}
	}
	return out
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
// the *InvalidError or *FieldError it carries, keeping an *ItemError
// around it. Other errors pass through unchanged.
func PrefixField(err error, prefix string) error {
	field, ok := FieldOf(err)
	if !ok || prefix == "" {
		return err
	}
	return WithField(err, (&InvalidError{Field: field}).WithPrefix(prefix).Field)
}

// ConflictError reports an upsert item whose identity keys belong to more
// than one CI (two partial identities of one thing, such as a server known
// once by name and domain and once by serial number). It wraps ErrConflict.
// Clients see the CIs by API ID (the API layer renders it); Error names
// them by store ID, for logs.
type ConflictError struct {
	// CIs are the CIs the item's keys belong to, in the order the keys
	// matched them.
	CIs []ID
	// Rules[i] lists the identification rules ("serial_number",
	// "name+dns_domain") by which the item matched CIs[i].
	Rules [][]string
}

func (e *ConflictError) Error() string {
	parts := make([]string, len(e.CIs))
	for i, id := range e.CIs {
		parts[i] = "CI " + string(id)
		if i < len(e.Rules) && len(e.Rules[i]) > 0 {
			parts[i] += " (by " + strings.Join(e.Rules[i], ", ") + ")"
		}
	}
	return fmt.Sprintf("conflict: the identity keys match %d different CIs: %s", len(e.CIs), strings.Join(parts, "; "))
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// NewConflictError returns the *ConflictError of an item whose keys are
// owned as owner says (key → CI, "" for none), CIs in the order of keys.
func NewConflictError(keys []string, owner func(string) ID) *ConflictError {
	e := &ConflictError{}
	for _, k := range keys {
		o := owner(k)
		if o == "" {
			continue
		}
		i := slices.Index(e.CIs, o)
		if i < 0 {
			e.CIs = append(e.CIs, o)
			e.Rules = append(e.Rules, nil)
			i = len(e.CIs) - 1
		}
		if r := KeyRule(k); r != "" && !slices.Contains(e.Rules[i], r) {
			e.Rules[i] = append(e.Rules[i], r)
		}
	}
	return e
}

// KeyRule returns the identification rule of an identity key
// ("<family>|<rule>|<value>"), or "" if key has no such form.
func KeyRule(key string) string {
	parts := strings.SplitN(key, "|", 3)
	if len(parts) != 3 {
		return ""
	}
	return parts[1]
}
