package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/skein-cmdb/skein/internal/store"
)

// Error codes in `extensions.code`. Parse and validation errors keep the
// codes gqlgen gives them (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED).
const (
	CodeInvalid     = "INVALID"
	CodeNotFound    = "NOT_FOUND"
	CodeConflict    = "CONFLICT"
	CodeUnavailable = "UNAVAILABLE"
	CodeTimeout     = "TIMEOUT"
	CodeOverloaded  = "OVERLOADED"
	CodeInternal    = "INTERNAL"
	// CodeUnauthenticated: the operation needs an API token.
	CodeUnauthenticated = "UNAUTHENTICATED"
	// CodeForbidden: the token's role may not do this.
	CodeForbidden = "FORBIDDEN"
)

// presentError is the one place where domain errors become GraphQL errors:
// a code, the field path for invalid input, and a message fit for clients.
// Errors it does not know are logged and shown only as "internal error".
func presentError(logger *slog.Logger, onCode func(string)) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && gqlErr.Err == nil {
			// Already a GraphQL error (parse, validation, limits).
			nameVariableField(ctx, gqlErr)
			nameOperationField(ctx, gqlErr)
			if gqlErr.Extensions != nil {
				if c, ok := gqlErr.Extensions["code"].(string); ok {
					onCode(c)
				}
			}
			return gqlErr
		}
		out := graphql.DefaultErrorPresenter(ctx, err)
		if gqlErr != nil && gqlErr.Err != nil {
			err = gqlErr.Err // the resolver's own error, without gqlgen's position prefix
		}
		var ie *store.ItemError
		if errors.As(err, &ie) {
			err = ie.Err
		}
		code, field, msg := classify(err)
		switch {
		case errors.Is(err, errTraversalsBusy):
			code, msg = CodeOverloaded, err.Error()
		case errors.Is(err, context.DeadlineExceeded):
			code, msg = CodeTimeout, "the request took too long and was stopped; narrow it (smaller depth, fewer items) or retry"
		case errors.Is(err, context.Canceled):
			code, msg = CodeTimeout, "the request was cancelled"
		}
		if code == CodeInternal {
			logger.ErrorContext(ctx, "internal error", "err", err, "path", out.Path.String())
		}
		out.Message = msg
		out.Extensions = map[string]any{"code": code}
		if field != "" {
			out.Extensions["field"] = field
		}
		var ve *store.VersionConflictError
		if code == CodeConflict && errors.As(err, &ve) {
			out.Extensions["currentVersion"] = ve.Current
		}
		if code == CodeOverloaded {
			out.Extensions["retryAfter"] = 1 // seconds
			hint(ctx, 0, "Retry-After", "1")
		}
		onCode(code)
		return out
	}
}

// recoverPanic logs a resolver panic with its stack and answers INTERNAL.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in resolver", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errors.New("internal error")
	}
}
