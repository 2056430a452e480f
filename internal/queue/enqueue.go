package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

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

// EnqueueDial puts the dial task of c on the queue, a campaign's call on
// the campaign queue (DialOptions.CampaignQueueName). A task that already
// exists for the call is not an error: the call is queued once.
// Returns EUNAVAILABLE if Redis cannot be reached.
func (e *Enqueuer) EnqueueDial(ctx context.Context, c *dialq.Call) error {
	opts := e.opts
	// A call's own ring time may need longer than the deployment's
	// timeout: the task must outlast the ring, or it is retried while the
	// phone rings.
	opts.Timeout = dialq.DialTaskTimeout(c, opts.Timeout)
	if c.CampaignID != nil {
		opts.Queue = opts.CampaignQueueName()
	}
	t, err := NewDialTask(DialPayload{CallID: c.ID, TenantID: c.TenantID}, opts)
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

// WebhookEnqueuer puts webhook tasks on the queue.
type WebhookEnqueuer struct {
	client *asynq.Client
	opts   WebhookOptions
}

// NewWebhookEnqueuer returns a WebhookEnqueuer over client using opts.
func NewWebhookEnqueuer(client *asynq.Client, opts WebhookOptions) *WebhookEnqueuer {
	return &WebhookEnqueuer{client: client, opts: opts}
}

// EnqueueDelivery schedules an attempt at delivery id for at (NewWebhookTask
// says what kind and stamp are). A task of the same attempt that is already
// queued is not an error.
func (e *WebhookEnqueuer) EnqueueDelivery(ctx context.Context, id int64, kind string, stamp int64, at time.Time) error {
	t, err := NewWebhookTask(WebhookPayload{DeliveryID: id}, kind, stamp, at, e.opts)
	if err != nil {
		return err
	}
	if _, err := e.client.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue webhook delivery %d: %w", id, err)
	}
	return nil
}
