package httpapi

import (
	"sync"
	"time"
)

// ttlCache keeps values for a fixed time. The accept path reads the same
// keys, assistants and trunks on every call; a short TTL bounds how long a
// revoked key or edited assistant keeps its old form.
type ttlCache[K comparable, V any] struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu sync.RWMutex
	m  map[K]ttlEntry[V]
}

type ttlEntry[V any] struct {
	v       V
	expires time.Time
}

func newTTLCache[K comparable, V any](ttl time.Duration, max int, now func() time.Time) *ttlCache[K, V] {
	return &ttlCache[K, V]{ttl: ttl, max: max, now: now, m: make(map[K]ttlEntry[V])}
}

func (c *ttlCache[K, V]) get(k K) (V, bool) {
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

func (c *ttlCache[K, V]) put(k K, v V) {
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
	c.m[k] = ttlEntry[V]{v: v, expires: now.Add(c.ttl)}
	c.mu.Unlock()
}
