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

// EndWaits ends every wait, now and from now on: each returns the call as
// it stands, as if its time were up. A shutting down API calls it so that
// a request waiting on a call's outcome answers its 202 at once instead of
// holding the process for the rest of its wait; the call goes on in the
// workers and the client follows it with GET /call/{id}.
func (s *Service) EndWaits() { s.endWaits.Do(func() { close(s.waitsEnded) }) }

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
	select {
	case <-s.waitsEnded:
		return s.final(ctx, call)
	default:
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
			return s.final(ctx, call)
		case <-s.waitsEnded:
			return s.final(ctx, call)
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

// final is the call as it stands when a wait is over.
func (s *Service) final(ctx context.Context, call *dialq.Call) *dialq.Call {
	if fresh, ok := s.reread(ctx, call); ok {
		return fresh
	}
	return call
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
