package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/skein-cmdb/skein/internal/apierr"
)

// Error codes in `extensions.code`, from the one error table
// (internal/apierr). Parse and validation errors keep the codes gqlgen
// gives them (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED).
const (
	CodeInvalid     = string(apierr.Invalid)
	CodeNotFound    = string(apierr.NotFound)
	CodeConflict    = string(apierr.Conflict)
	CodeUnavailable = string(apierr.Unavailable)
	CodeTimeout     = string(apierr.Timeout)
	CodeOverloaded  = string(apierr.Overloaded)
	CodeInternal    = string(apierr.Internal)
	// CodeUnauthenticated: the operation needs an API token.
	CodeUnauthenticated = string(apierr.Unauthenticated)
	// CodeForbidden: the token's role may not do this.
	CodeForbidden = string(apierr.Forbidden)
)

// presentError is where domain errors become GraphQL errors, by the one
// error table (apierr.From): a code, the field path for invalid input, and
// a message fit for clients. Errors the table does not know are logged
// and shown only as "internal error".
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
		p := apierr.From(err, refs) // an *store.ItemError shows as its item's error
		code := string(p.Code)
		if p.Code == apierr.Internal {
			logger.ErrorContext(ctx, "internal error", "err", err, "path", out.Path.String())
		}
		out.Message = p.Message
		out.Extensions = map[string]any{"code": code}
		if p.Field != "" {
			out.Extensions["field"] = p.Field
		}
		for k, v := range p.Details {
			out.Extensions[k] = v
		}
		if p.RetryAfter > 0 {
			out.Extensions["retryAfter"] = p.RetryAfter // seconds
			hint(ctx, 0, "Retry-After", strconv.Itoa(p.RetryAfter))
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
