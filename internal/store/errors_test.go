package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFieldPaths: field paths are rooted and renamed alike for invalid
// input and for the NOT_FOUND and CONFLICT errors about one field, inside
// an all-or-nothing batch's ItemError too.
func TestFieldPaths(t *testing.T) {
	notFound := AtField("items[2].source", fmt.Errorf("no CI has this ID: %w", ErrNotFound))
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"invalid", Invalid("items[2].class", "unknown"), "input.items[2].class"},
		{"not found", notFound, "input.items[2].source"},
		{"conflict in a batch", &ItemError{Index: 2, Err: AtField("items[2]", ErrConflict)}, "input.items[2]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := PrefixField(tt.err, "input")
			field, ok := FieldOf(got)
			assert.True(t, ok)
			assert.Equal(t, tt.want, field)
			assert.Contains(t, got.Error(), tt.want+": ", "the message starts with the path")
			if !errors.Is(tt.err, ErrConflict) && !errors.Is(tt.err, ErrNotFound) {
				return
			}
			assert.True(t, errors.Is(got, ErrConflict) || errors.Is(got, ErrNotFound), "the sentinel survives")
			var item *ItemError
			assert.Equal(t, errors.As(tt.err, &item), errors.As(got, &item), "an ItemError stays around it")
		})
	}
	_, ok := FieldOf(errors.New("plain"))
	assert.False(t, ok)
	assert.Equal(t, "plain", PrefixField(errors.New("plain"), "input").Error())
}
