package model

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/skein-cmdb/skein/internal/store"
)

// MarshalTime writes the Time scalar: RFC 3339 with nanoseconds, in UTC as
// stored; a zero time is null.
func MarshalTime(t time.Time) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		if t.IsZero() {
			_, err := io.WriteString(w, "null")
			return err
		}
		_, err := io.WriteString(w, strconv.Quote(t.UTC().Format(time.RFC3339Nano)))
		return err
	})
}

// UnmarshalTime reads the Time scalar with store.ParseTime (RFC 3339, or a
// plain date meaning midnight UTC, within the range every backend stores).
// A malformed value is an *store.InvalidError naming the argument or input
// field as the client wrote it (e.g. "filter.notSeenSince") and the
// accepted formats.
func UnmarshalTime(ctx context.Context, v any) (time.Time, error) {
	field := inputPath(ctx)
	s, ok := v.(string)
	if !ok {
		return time.Time{}, store.Invalid(field, "must be a string; accepted: %s", store.TimeFormats)
	}
	t, err := store.ParseTime(field, s)
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// inputPath is the path of the argument or input field being read, from the
// argument down ("input.items[2].expiresAt").
func inputPath(ctx context.Context) string {
	var parts []string
	for p := graphql.GetPathContext(ctx); p != nil; p = p.Parent {
		switch {
		case p.Index != nil:
			parts = append(parts, "["+strconv.Itoa(*p.Index)+"]")
		case p.Field != nil:
			parts = append(parts, "."+*p.Field)
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return strings.TrimPrefix(b.String(), ".")
}
