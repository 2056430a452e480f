// Package ttlcache keeps values for a fixed time. The accept path reads
// the same keys, assistants and trunks on every call; a short TTL bounds
// how long a revoked key or an edited assistant keeps its old form.
package ttlcache

import (
	"sync"
	"time"
)

// Cache keeps up to max values for ttl each; a ttl of 0 keeps nothing.
// Its methods are safe for concurrent use.
type Cache[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu sync.RWMutex
	m  map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a Cache on the clock now.
func New[K comparable, V any](ttl time.Duration, max int, now func() time.Time) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, now: now, m: make(map[K]entry[V])}
}

// Get returns the value of k, unless it is missing or expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	if c.ttl <= 0 {
		var zero V
		return zero, false
	}
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || c.now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps v for k for the cache's ttl.
func (c *Cache[K, V]) Put(k K, v V) {
	if c.ttl <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	if len(c.m) >= c.max {
		// Full: drop what has expired, and everything if nothing has.
		for k, e := range c.m {
			if now.After(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = entry[V]{v: v, expires: now.Add(c.ttl)}
	c.mu.Unlock()
}
