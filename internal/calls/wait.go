package calls

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/notify"
)

// Wait waits until until(call) holds, d passes or ctx ends, and returns the
// call as last read. It is the one wait of dialq: woken by the call's
// change notifications, with a re-read from Postgres every PollInterval in
// case one was lost.
func (s *Service) Wait(ctx context.Context, call *dialq.Call, d time.Duration, until func(*dialq.Call) bool) *dialq.Call {
	w := s.watchFor(call.ID, d)
	defer w.close()
	// Re-read once watching: a change made before then is not announced again.
	if fresh, ok := s.reread(ctx, call); ok {
		call = fresh
	}
	return s.await(ctx, w, call, d, until)
}

// watch is a registration for one call's changes; the zero watch sees none.
type watch struct{ w *notify.Waiter }

// watchFor starts watching id when there is a wait to wake.
func (s *Service) watchFor(id uuid.UUID, d time.Duration) *watch {
	if d <= 0 || s.watch == nil {
		return &watch{}
	}
	return &watch{w: s.watch.Watch(id)}
}

func (w *watch) changes() <-chan dialq.CallStatus {
	if w.w == nil {
		return nil
	}
	return w.w.C
}

func (w *watch) close() {
	if w.w != nil {
		w.w.Close()
		w.w = nil
	}
}

// await is Wait on a watch registered before the change it waits for was
// asked for (the enqueue, the hang-up request).
func (s *Service) await(ctx context.Context, w *watch, call *dialq.Call, d time.Duration, until func(*dialq.Call) bool) *dialq.Call {
	if until(call) || d <= 0 {
		return call
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		select {
		case <-w.changes():
		case <-poll.C:
		case <-deadline.C:
			if fresh, ok := s.reread(ctx, call); ok {
				call = fresh
			}
			return call
		case <-ctx.Done():
			return call
		}
		if fresh, ok := s.reread(ctx, call); ok {
			call = fresh
			if until(call) {
				return call
			}
		}
	}
}

// reread reads call again; a caller gone does not cut the read short, so a
// request that answers still answers with what is stored.
func (s *Service) reread(ctx context.Context, call *dialq.Call) (*dialq.Call, bool) {
	fresh, err := s.store.FindCall(context.WithoutCancel(ctx), call.TenantID, call.ID)
	if err != nil {
		s.log.Warn("re-read waited call", "call_id", call.ID, "err", err)
		return nil, false
	}
	return fresh, true
}
