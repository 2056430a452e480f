package calls

import (
	"context"
	"fmt"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// Follow calls send with each event of c's timeline recorded after the
// event after (its ID; 0 for the whole timeline), oldest first, then with
// each new one as it is recorded. It returns nil once the call is terminal
// and the event that ended it was sent; ctx's error when ctx ends first;
// send's error, wrapped, when send fails. c is a call Get returned: Get is
// where the tenant is checked.
//
// It learns of new events as Wait does: woken by the call's change
// notifications, with a re-read from Postgres every PollInterval, which
// also picks up the events that change no status (and are not announced).
func (s *Service) Follow(ctx context.Context, c *dialq.Call, after int64, send func(dialq.CallEvent) error) error {
	// Watch before the first read, so that a change made between the read
	// and the wait still wakes it.
	w := s.watchFor(c.ID, time.Duration(1<<63-1))
	defer w.close()
	poll := time.NewTicker(s.cfg.PollInterval)
	defer poll.Stop()
	for {
		// The call first, its events second: the event that ends a call is
		// stored in the same statement as its terminal status, so a call
		// read terminal has that event in the read that follows.
		call, err := s.store.FindCall(ctx, c.TenantID, c.ID)
		if err != nil {
			return s.followErr(ctx, c, err)
		}
		events, err := s.store.EventsAfter(ctx, c.ID, after)
		if err != nil {
			return s.followErr(ctx, c, err)
		}
		for _, ev := range events {
			if err := send(ev); err != nil {
				return fmt.Errorf("send event %d of call %s: %w", ev.ID, c.ID, err)
			}
			after = ev.ID
		}
		if call.Status.Terminal() {
			return nil
		}
		select {
		case <-w.changes():
		case <-poll.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// followErr is ctx's error when a read failed because ctx ended, so that
// the caller tells a client gone from a broken read.
func (s *Service) followErr(ctx context.Context, c *dialq.Call, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("follow call %s: %w", c.ID, err)
}
