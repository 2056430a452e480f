// Package background runs the background services of a dialq process, as
// asynq's server runs its heartbeater, recoverer and janitor: each service
// is a type of its own that does one job (sipbridge.Heartbeat,
// sipbridge.Orphans, sipbridge.StatsLog, dialer.Sweeper), started with the
// process and shut down with it. A service holds what one pass of its job
// does; the Loop here holds the goroutine that makes a pass every interval.
package background

import (
	"context"
	"sync"
	"time"
)

// Service is a background service: Start starts its goroutine, Shutdown
// stops it and returns once it has ended. Each is called once, Shutdown
// after Start.
type Service interface {
	Start()
	Shutdown()
}

// Loop is the goroutine of one background service.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Start calls pass every interval on a goroutine of its own, the first time
// one interval from now, until Shutdown. Passes never overlap: one that
// outlasts the interval delays the next. interval must be more than 0.
func Start(interval time.Duration, pass func(ctx context.Context)) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ctx.Err() != nil {
					// A tick and Shutdown both ready: select picks either,
					// and no pass may start after Shutdown.
					return
				}
				pass(ctx)
			}
		}
	}()
	return l
}

// Shutdown stops the loop: it cancels the context of a pass under way and
// returns once that pass has returned and the goroutine has ended; no pass
// starts after. Later calls, and calls on a nil Loop (a service never
// started), return at once.
func (l *Loop) Shutdown() {
	if l == nil {
		return
	}
	l.once.Do(l.cancel)
	<-l.done
}
