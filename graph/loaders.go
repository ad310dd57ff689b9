package graph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/skein-cmdb/skein/internal/store"
)

// Loaders batch the store reads of one request: however many CIs a query
// touches, each wave of fields costs one store call per loader.
type Loaders struct {
	CI       *dataloadgen.Loader[store.ID, store.CI]
	RelPages *dataloadgen.Loader[relPageKey, store.Page[store.Relationship]]
	// Node loads nodes of any kind by ID (the people, groups and CIs at
	// the other end of a relationship).
	Node *dataloadgen.Loader[store.ID, store.Node]
	// Rel loads whole relationships by ID (a traversal's steps name them
	// without their attributes, version or sightings).
	Rel *dataloadgen.Loader[store.ID, store.Relationship]
}

// relPageKey asks for one page of one CI's relationships in one direction,
// of some types (sorted, comma-joined; empty for all).
type relPageKey struct {
	CI    store.ID
	Dir   store.Direction
	Types string
	First int
	After string
}

func (k relPageKey) request() store.RelationshipPageRequest {
	var types []string
	if k.Types != "" {
		types = strings.Split(k.Types, ",")
	}
	return store.RelationshipPageRequest{Node: k.CI, Dir: k.Dir, Types: types, Page: store.PageRequest{First: k.First, After: k.After}}
}

// Reader is what the loaders read from.
type Reader interface {
	store.NodeReader
	RelationshipPages(ctx context.Context, reqs []store.RelationshipPageRequest) ([]store.Page[store.Relationship], error)
	Relationships(ctx context.Context, ids []store.ID) (map[store.ID]store.Relationship, error)
}

// DefaultLoaderWait is how long a loader gathers keys before one batched
// store call. Sibling fields resolve concurrently and ask within
// microseconds of each other; half a millisecond gathers them without
// taxing small queries much.
const DefaultLoaderWait = 500 * time.Microsecond

// NewLoaders returns fresh loaders over r that gather keys for wait; make
// one set per request.
func NewLoaders(r Reader, wait time.Duration) *Loaders {
	if wait <= 0 {
		wait = DefaultLoaderWait
	}
	w := dataloadgen.WithWait(wait)
	return &Loaders{
		CI: dataloadgen.NewLoader(func(ctx context.Context, ids []store.ID) ([]store.CI, []error) {
			cis := func(ctx context.Context, ids []store.ID) (map[store.ID]store.CI, error) {
				return r.Nodes(ctx, store.KindCI, ids)
			}
			return loadByID(ctx, ids, cis, "CI")
		}, w),
		Node: dataloadgen.NewLoader(func(ctx context.Context, ids []store.ID) ([]store.Node, []error) {
			nodes := func(ctx context.Context, ids []store.ID) (map[store.ID]store.Node, error) {
				return r.Nodes(ctx, store.AnyKind, ids)
			}
			return loadByID(ctx, ids, nodes, "node")
		}, w),
		Rel: dataloadgen.NewLoader(func(ctx context.Context, ids []store.ID) ([]store.Relationship, []error) {
			return loadByID(ctx, ids, r.Relationships, "relationship")
		}, w),
		RelPages: dataloadgen.NewLoader(func(ctx context.Context, keys []relPageKey) ([]store.Page[store.Relationship], []error) {
			out := make([]store.Page[store.Relationship], len(keys))
			errs := make([]error, len(keys))
			for start := 0; start < len(keys); start += store.MaxBatch {
				part := keys[start:min(start+store.MaxBatch, len(keys))]
				reqs := make([]store.RelationshipPageRequest, len(part))
				for i, k := range part {
					reqs[i] = k.request()
				}
				pages, perr := relPages(ctx, r, reqs)
				for i := range part {
					out[start+i], errs[start+i] = pages[i], perr[i]
				}
			}
			return out, errs
		}, w),
	}
}

// loadByID reads ids in batches of at most store.MaxBatch with read; an id
// read does not return is ErrNotFound naming what.
func loadByID[T any](ctx context.Context, ids []store.ID, read func(context.Context, []store.ID) (map[store.ID]T, error), what string) ([]T, []error) {
	out := make([]T, len(ids))
	errs := make([]error, len(ids))
	for start := 0; start < len(ids); start += store.MaxBatch {
		part := ids[start:min(start+store.MaxBatch, len(ids))]
		found, err := read(ctx, part)
		for i, id := range part {
			switch c, ok := found[id]; {
			case err != nil:
				errs[start+i] = err
			case !ok:
				errs[start+i] = fmt.Errorf("%s %s: %w", what, id, store.ErrNotFound)
			default:
				out[start+i] = c
			}
		}
	}
	return out, errs
}

// relPages answers a batch of page requests, one answer or error each. A
// request the store refuses (a bad cursor, say) must not fail its
// siblings: the store names it in the error ("reqs[3].after"), so it gets
// the error and the others are asked again, still as one batch.
func relPages(ctx context.Context, r Reader, reqs []store.RelationshipPageRequest) ([]store.Page[store.Relationship], []error) {
	pages := make([]store.Page[store.Relationship], len(reqs))
	errs := make([]error, len(reqs))
	idx := make([]int, len(reqs)) // positions of the requests still to answer
	for i := range idx {
		idx[i] = i
	}
	for len(idx) > 0 {
		batch := make([]store.RelationshipPageRequest, len(idx))
		for j, i := range idx {
			batch[j] = reqs[i]
		}
		got, err := r.RelationshipPages(ctx, batch)
		if err == nil {
			for j, i := range idx {
				pages[i] = got[j]
			}
			return pages, errs
		}
		bad, ok := failedRequest(err, len(batch))
		if !ok { // not about one request: it is every request's error
			for _, i := range idx {
				errs[i] = err
			}
			return pages, errs
		}
		errs[idx[bad]] = unprefixRequest(err)
		idx = append(idx[:bad], idx[bad+1:]...)
	}
	return pages, errs
}

// failedRequest returns the index of the request an *InvalidError on
// "reqs[i]..." names.
func failedRequest(err error, n int) (int, bool) {
	var inv *store.InvalidError
	if !errors.As(err, &inv) || !strings.HasPrefix(inv.Field, "reqs[") {
		return 0, false
	}
	num, _, ok := strings.Cut(inv.Field[len("reqs["):], "]")
	i, convErr := strconv.Atoi(num)
	if !ok || convErr != nil || i < 0 || i >= n {
		return 0, false
	}
	return i, true
}

// unprefixRequest names the fields of an *InvalidError about one request
// of a batch ("reqs[3].after") as the GraphQL arguments they came from
// ("after").
func unprefixRequest(err error) error {
	var inv *store.InvalidError
	if !errors.As(err, &inv) || !strings.HasPrefix(inv.Field, "reqs[") {
		return err
	}
	_, field, _ := strings.Cut(inv.Field, "].")
	return &store.InvalidError{Field: field, Reason: inv.Reason}
}

func typesKey(types []string) string {
	t := append([]string(nil), types...)
	sort.Strings(t)
	return strings.Join(t, ",")
}

type loadersKey struct{}

// WithLoaders returns a context carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// LoaderMiddleware gives every request its own loaders.
func LoaderMiddleware(r Reader, wait time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		next.ServeHTTP(w, req.WithContext(WithLoaders(req.Context(), NewLoaders(r, wait))))
	})
}

// loadersFor returns the request's loaders, or fresh ones over r when the
// request came in without them (tests calling the executor directly).
func loadersFor(ctx context.Context, r Reader) *Loaders {
	if l, ok := ctx.Value(loadersKey{}).(*Loaders); ok {
		return l
	}
	return NewLoaders(r, 0)
}
