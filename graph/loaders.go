package graph

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/skein-cmdb/skein/internal/store"
)

// Loaders batch the store reads of one request: however many CIs a query
// touches, each wave of fields costs one store call per loader.
type Loaders struct {
	CI   *dataloadgen.Loader[store.ID, store.CI]
	Rels *dataloadgen.Loader[relKey, []store.Relationship]
}

// relKey asks for one CI's relationships in one direction, of some types
// (sorted, comma-joined; empty for all).
type relKey struct {
	CI    store.ID
	Dir   store.Direction
	Types string
}

// Reader is what the loaders read from.
type Reader interface {
	store.CIReader
	RelationshipsOf(ctx context.Context, cis []store.ID, dir store.Direction, types []string) (map[store.ID][]store.Relationship, error)
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
			out := make([]store.CI, len(ids))
			errs := make([]error, len(ids))
			for start := 0; start < len(ids); start += store.MaxBatch {
				part := ids[start:min(start+store.MaxBatch, len(ids))]
				found, err := r.CIs(ctx, part)
				for i, id := range part {
					switch c, ok := found[id]; {
					case err != nil:
						errs[start+i] = err
					case !ok:
						errs[start+i] = fmt.Errorf("CI %s: %w", id, store.ErrNotFound)
					default:
						out[start+i] = c
					}
				}
			}
			return out, errs
		}, w),
		Rels: dataloadgen.NewLoader(func(ctx context.Context, keys []relKey) ([][]store.Relationship, []error) {
			out := make([][]store.Relationship, len(keys))
			errs := make([]error, len(keys))
			// One store call per (direction, types) group.
			groups := map[[2]string][]int{}
			for i, k := range keys {
				g := [2]string{k.Dir.String(), k.Types}
				groups[g] = append(groups[g], i)
			}
			for _, idx := range groups {
				k0 := keys[idx[0]]
				var types []string
				if k0.Types != "" {
					types = strings.Split(k0.Types, ",")
				}
				ids := make([]store.ID, len(idx))
				for j, i := range idx {
					ids[j] = keys[i].CI
				}
				found, err := r.RelationshipsOf(ctx, ids, k0.Dir, types)
				for _, i := range idx {
					if err != nil {
						errs[i] = err
						continue
					}
					out[i] = found[keys[i].CI]
				}
			}
			return out, errs
		}, w),
	}
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
