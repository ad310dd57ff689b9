package auth

import (
	"context"
	"sync"
	"time"

	"github.com/skein-cmdb/skein/internal/store"
)

// TokenCache is a store.TokenStore that keeps the records Token returns
// for a short time, so that a client sending many requests does not cost a
// store read each. Revocations through the cache take effect at once;
// those made elsewhere (another Skein process on the same Neo4j, or `skein
// token revoke`) within the cache's lifetime. Lookups of unknown IDs are
// not cached.
type TokenCache struct {
	store.TokenStore
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	rec     store.APIToken
	fetched time.Time
}

// NewTokenCache caches ts's token records for ttl.
func NewTokenCache(ts store.TokenStore, ttl time.Duration) *TokenCache {
	return &TokenCache{TokenStore: ts, ttl: ttl, now: time.Now, entries: map[string]cached{}}
}

// Token returns the record with the given ID, from the cache while it is
// fresh.
func (c *TokenCache) Token(ctx context.Context, id string) (store.APIToken, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl {
		return e.rec, nil
	}
	rec, err := c.TokenStore.Token(ctx, id)
	if err != nil {
		return rec, err
	}
	c.mu.Lock()
	if len(c.entries) >= store.MaxTokens { // bounded: a store holds at most this many
		clear(c.entries)
	}
	c.entries[id] = cached{rec: rec, fetched: now}
	c.mu.Unlock()
	return rec, nil
}

// RevokeToken revokes the token in the store and forgets its record.
func (c *TokenCache) RevokeToken(ctx context.Context, actor store.Actor, id string) (store.APIToken, error) {
	rec, err := c.TokenStore.RevokeToken(ctx, actor, id)
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
	return rec, err
}
