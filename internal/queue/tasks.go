// Package queue owns the wire contract of dialq's asynq tasks: their type
// names, payloads and the options every enqueue uses. Both binaries use it;
// nothing else builds a task.
package queue

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// Task types.
const (
	// TypeCallDial places one call: room, agent dispatch, dial.
	TypeCallDial = "call:dial"
	// TypeWebhookDeliver makes one attempt at sending one webhook delivery.
	TypeWebhookDeliver = "webhook:deliver"
)

// QueueCalls is the queue dial tasks go to.
const QueueCalls = "calls"

// CampaignQueueSuffix names a dial queue's campaign queue by default:
// calls → calls-campaigns.
const CampaignQueueSuffix = "-campaigns"

// DialPayload is the payload of a TypeCallDial task. It carries only ids:
// Postgres holds the call, so the payload shows no phone number or prompt.
type DialPayload struct {
	CallID   uuid.UUID `json:"call_id"`
	TenantID uuid.UUID `json:"tenant_id"`
}

// DialOptions are the fixed options of a dial task.
type DialOptions struct {
	// Queue defaults to QueueCalls; tests use their own queue to stay apart.
	Queue string
	// CampaignQueue is where campaign calls' dial tasks go
	// (DIALQ_CAMPAIGN_QUEUE); empty: Queue + CampaignQueueSuffix. Workers
	// serve it with a concurrency of its own, so a single call asked for
	// through the API never waits behind a campaign for a worker slot.
	CampaignQueue string
	// MaxRetry bounds retries of failures that may pass (LiveKit down).
	// Failures of the call itself are never retried.
	MaxRetry int
	// Timeout must exceed the ring time plus the LiveKit request budgets: a
	// task that times out while the phone rings would be retried.
	Timeout time.Duration
	// Retention keeps the finished task for Asynqmon, and keeps its TaskID
	// taken so the call cannot be enqueued twice while it is kept.
	Retention time.Duration
}

// DefaultDialOptions are the options dialq runs with unless configured.
func DefaultDialOptions() DialOptions {
	return DialOptions{Queue: QueueCalls, MaxRetry: 3, Timeout: 90 * time.Second, Retention: 24 * time.Hour}
}

// CampaignQueueName is the queue campaign calls go to.
func (o DialOptions) CampaignQueueName() string {
	if o.CampaignQueue != "" {
		return o.CampaignQueue
	}
	q := o.Queue
	if q == "" {
		q = QueueCalls
	}
	return q + CampaignQueueSuffix
}

// NewDialTask returns the dial task of one call. Its TaskID is the call id,
// so enqueueing the same call twice conflicts instead of dialing twice.
func NewDialTask(p DialPayload, o DialOptions) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode dial payload: %w", err)
	}
	q := o.Queue
	if q == "" {
		q = QueueCalls
	}
	return asynq.NewTask(TypeCallDial, b,
		asynq.TaskID(p.CallID.String()),
		asynq.Queue(q),
		asynq.MaxRetry(o.MaxRetry),
		asynq.Timeout(o.Timeout),
		asynq.Retention(o.Retention),
	), nil
}

// ParseDialPayload decodes a dial task's payload. A payload that does not
// decode can never succeed, so the error wraps asynq.SkipRetry.
func ParseDialPayload(t *asynq.Task) (DialPayload, error) {
	var p DialPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if p.CallID == uuid.Nil {
		return p, fmt.Errorf("%s payload has no call_id: %w", t.Type(), asynq.SkipRetry)
	}
	return p, nil
}

// WebhookPayload is the payload of a TypeWebhookDeliver task: the delivery's
// id. Postgres holds the delivery, its body and its state; a task only says
// "look at it now", so a duplicate or late one sends nothing twice.
type WebhookPayload struct {
	DeliveryID int64 `json:"delivery_id"`
}

// WebhookOptions are the fixed options of a webhook task.
type WebhookOptions struct {
	// Queue defaults to QueueCalls. Webhook tasks share the dial queue
	// unless told otherwise: an idle worker polls each of its queues every
	// TaskCheckInterval, so a queue more is one more Redis script per poll
	// of every idle worker, while a webhook task takes its delivery's turn
	// in milliseconds (a slow endpoint holds a worker slot either way).
	Queue string
}

// webhookTaskTimeout bounds one attempt: the request's 10 s, and the
// Postgres writes before and after it.
const webhookTaskTimeout = 30 * time.Second

// NewWebhookTask returns the task of one attempt at delivery p.DeliveryID,
// scheduled for at. kind says who enqueues it ("new", "retry", "next",
// "sweep") and stamp names the attempt (the delivery's schedule in
// microseconds): together they are the TaskID, so that every worker woken
// by the same change enqueues it once. The task is not kept once done
// (Retention 0), and asynq retries it only when Postgres could not be
// reached: a failed request is recorded and rescheduled by the delivery's
// own schedule, not asynq's.
func NewWebhookTask(p WebhookPayload, kind string, stamp int64, at time.Time, o WebhookOptions) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode webhook payload: %w", err)
	}
	q := o.Queue
	if q == "" {
		q = QueueCalls
	}
	return asynq.NewTask(TypeWebhookDeliver, b,
		asynq.TaskID(fmt.Sprintf("webhook:%d:%s:%d", p.DeliveryID, kind, stamp)),
		asynq.Queue(q),
		asynq.MaxRetry(3),
		asynq.Timeout(webhookTaskTimeout),
		asynq.ProcessAt(at),
	), nil
}

// ParseWebhookPayload decodes a webhook task's payload. A payload that does
// not decode can never succeed, so the error wraps asynq.SkipRetry.
func ParseWebhookPayload(t *asynq.Task) (WebhookPayload, error) {
	var p WebhookPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	if p.DeliveryID <= 0 {
		return p, fmt.Errorf("%s payload has no delivery_id: %w", t.Type(), asynq.SkipRetry)
	}
	return p, nil
}
