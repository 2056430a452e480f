package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/dialq"
)

// Enqueuer puts dial tasks on the queue.
type Enqueuer struct {
	client *asynq.Client
	opts   DialOptions
}

// NewEnqueuer returns an Enqueuer over client using opts for every task.
func NewEnqueuer(client *asynq.Client, opts DialOptions) *Enqueuer {
	return &Enqueuer{client: client, opts: opts}
}

// EnqueueDial puts the dial task of c on the queue. A task that already
// exists for the call is not an error: the call is queued once.
// Returns EUNAVAILABLE if Redis cannot be reached.
func (e *Enqueuer) EnqueueDial(ctx context.Context, c *dialq.Call) error {
	t, err := NewDialTask(DialPayload{CallID: c.ID, TenantID: c.TenantID}, e.opts)
	if err != nil {
		return err
	}
	if _, err := e.client.EnqueueContext(ctx, t); err != nil {
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			return nil
		}
		return &dialq.Error{Code: dialq.EUNAVAILABLE,
			Message: "The call queue is unavailable; the call was not placed. Try again.",
			Err:     fmt.Errorf("enqueue call %s: %w", c.ID, err)}
	}
	return nil
}
