package push

import "log/slog"

// Secret is a value that must not be printed or logged: it formats as
// "[redacted]" (or "" when empty) whatever the verb; Reveal returns it.
type Secret string

// Reveal returns the secret itself, for the Authorization header.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret under %#v as well.
func (s Secret) GoString() string { return s.String() }

// LogValue redacts the secret in log/slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText redacts the secret in JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
