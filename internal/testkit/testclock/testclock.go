// Package testclock is a clock for tests that reads only what the test sets:
// its Now goes where a `Now func() time.Time` is injected (the store, the
// dialer, the bridge and its background services), so that a test can put
// times where it wants them without sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock. Its methods are safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock that reads t until it is moved.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d forward and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}
