package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/queue"
)

// DeliveryStore is what the deliverer reads and records in Postgres.
type DeliveryStore interface {
	ClaimWebhookDelivery(ctx context.Context, id int64, now, dueBy, leaseUntil time.Time) (*postgres.WebhookJob, error)
	RecordWebhookAttempt(ctx context.Context, id int64, o postgres.WebhookOutcome) (int64, time.Time, error)
	ReleaseWebhookDelivery(ctx context.Context, id int64) error
}

// Enqueuer schedules an attempt at a delivery (queue.WebhookEnqueuer).
type Enqueuer interface {
	EnqueueDelivery(ctx context.Context, id int64, kind string, stamp int64, at time.Time) error
}

// DelivererConfig configures a Deliverer.
type DelivererConfig struct {
	Store   DeliveryStore
	Enqueue Enqueuer
	// Client sends the requests; default Guard{}.Client(RequestTimeout),
	// which refuses private addresses.
	Client *http.Client
	Log    *slog.Logger
	// Now is the clock of the schedule and the webhook-timestamp header.
	// Default time.Now.
	Now func() time.Time
	// Backoff are the waits before each retry; default DefaultBackoff.
	Backoff []time.Duration
	// Lease is how long an attempt holds its delivery: longer than a
	// request may take. Default a minute.
	Lease time.Duration
	// Observe hears the result of each attempt: AttemptDelivered,
	// AttemptRetrying or AttemptFailed (metrics.Metrics.ObserveWebhook).
	// Optional.
	Observe func(result string)
}

// The results of an attempt Observe hears.
const (
	// AttemptDelivered: the endpoint answered 2xx.
	AttemptDelivered = "delivered"
	// AttemptRetrying: it failed and another attempt is scheduled.
	AttemptRetrying = "retrying"
	// AttemptFailed: it failed and was the last; the delivery failed.
	AttemptFailed = "failed"
)

// Deliverer runs the webhook:deliver tasks: one attempt at one delivery,
// then the next step of its schedule.
type Deliverer struct {
	cfg DelivererConfig
}

// NewDeliverer returns a deliverer of cfg.
func NewDeliverer(cfg DelivererConfig) *Deliverer {
	if cfg.Client == nil {
		cfg.Client = Guard{}.Client(RequestTimeout)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.Backoff) == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	return &Deliverer{cfg: cfg}
}

// Register adds the deliverer's handler to mux.
func (d *Deliverer) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(queue.TypeWebhookDeliver, d.HandleDeliverTask)
}

// earlyBy is how early a task may run before its delivery is due and still
// send it: the clocks of the worker that scheduled it and of the one that
// runs it may differ a little.
const earlyBy = time.Second

// HandleDeliverTask makes one attempt at the task's delivery if it is to be
// sent now (Deliver). Only a failure to reach Postgres is an error, which
// asynq retries; a failed request is the delivery's own business.
func (d *Deliverer) HandleDeliverTask(ctx context.Context, t *asynq.Task) error {
	p, err := queue.ParseWebhookPayload(t)
	if err != nil {
		return err
	}
	_, err = d.Deliver(ctx, p.DeliveryID)
	return err
}

// Deliver sends delivery id once, if it is pending, due, held by no other
// worker and waits for no earlier delivery of its call to its endpoint,
// and records the attempt. It then schedules the retry of a failed attempt
// or, once the delivery is over (delivered, or failed for good), sends on
// the call's next event to the endpoint. It reports whether it sent.
func (d *Deliverer) Deliver(ctx context.Context, id int64) (bool, error) {
	now := d.cfg.Now()
	job, err := d.cfg.Store.ClaimWebhookDelivery(ctx, id, now, now.Add(earlyBy), now.Add(d.cfg.Lease))
	if err != nil || job == nil {
		return false, err
	}
	log := d.cfg.Log.With("call_id", job.CallID, "delivery_id", job.ID, "webhook_id", job.WebhookID, "event", job.EventType)
	a := d.send(ctx, job, now)
	if a.Error != "" && ctx.Err() != nil {
		// The task's context ended mid-request: the worker is shutting down
		// past its timeout (asynq requeues the task) or the task timed out
		// (asynq retries it). The endpoint did not fail, so no attempt is
		// counted; the delivery is let go for that retry to send.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		log.Info("webhook request cut short by the worker; not counted, sent again", "err", a.Error, "attempt", job.Attempts+1)
		if err := d.cfg.Store.ReleaseWebhookDelivery(rctx, job.ID); err != nil {
			log.Warn("release cut webhook delivery; the sweeper sends it once its lease ends", "err", err)
		}
		return false, fmt.Errorf("webhook delivery %d cut short: %w", job.ID, ctx.Err())
	}
	o := postgres.WebhookOutcome{Attempt: a, Status: dialq.DeliveryDelivered, NextAttemptAt: now}
	result := AttemptDelivered
	switch {
	case a.Error == "":
		log.Debug("webhook delivered", "status_code", a.StatusCode, "latency_ms", a.LatencyMS, "attempt", job.Attempts+1)
	case job.Attempts < len(d.cfg.Backoff):
		o.Status, result = dialq.DeliveryPending, AttemptRetrying
		o.NextAttemptAt = a.At.Add(time.Duration(a.LatencyMS)*time.Millisecond + d.cfg.Backoff[job.Attempts]).Truncate(time.Microsecond)
		log.Info("webhook attempt failed; will retry", "status_code", a.StatusCode, "err", a.Error,
			"attempt", job.Attempts+1, "retry_at", o.NextAttemptAt)
	default:
		o.Status, result = dialq.DeliveryFailed, AttemptFailed
		log.Warn("webhook attempt failed; giving up", "status_code", a.StatusCode, "err", a.Error, "attempt", job.Attempts+1)
	}
	if d.cfg.Observe != nil {
		d.cfg.Observe(result)
	}
	// The attempt is recorded even if the task's context is over: the
	// request went out.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	next, nextAt, err := d.cfg.Store.RecordWebhookAttempt(rctx, job.ID, o)
	if err != nil {
		// The lease runs out and the sweeper sends it again.
		return true, err
	}
	if o.Status == dialq.DeliveryPending {
		if err := d.cfg.Enqueue.EnqueueDelivery(rctx, job.ID, "retry", stamp(o.NextAttemptAt), o.NextAttemptAt); err != nil {
			log.Warn("schedule webhook retry; the sweeper will", "err", err)
		}
	}
	if next != 0 {
		if err := d.cfg.Enqueue.EnqueueDelivery(rctx, next, "next", stamp(nextAt), nextAt); err != nil {
			log.Warn("enqueue the call's next webhook; the sweeper will", "next_delivery_id", next, "err", err)
		}
	}
	return true, nil
}

// stamp is a schedule in microseconds, as Postgres's webhook_stamp.
func stamp(t time.Time) int64 { return t.UnixMicro() }

// userAgent names dialq to the receivers.
const userAgent = "dialq-webhooks/1"

// send makes the request of one attempt and says how it went: Error is ""
// only for a 2xx answer.
func (d *Deliverer) send(ctx context.Context, job *postgres.WebhookJob, now time.Time) dialq.WebhookAttempt {
	a := dialq.WebhookAttempt{At: now.Truncate(time.Microsecond)}
	key, err := dialq.WebhookKey(job.Secret)
	if err != nil {
		a.Error = "the endpoint's secret is unreadable"
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, job.URL, bytes.NewReader(job.Payload))
	if err != nil {
		a.Error = "bad request: " + err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("webhook-id", job.WebhookID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(key, job.WebhookID, now, job.Payload))
	start := time.Now()
	resp, err := d.cfg.Client.Do(req)
	a.LatencyMS = int(time.Since(start).Milliseconds())
	if err != nil {
		a.Error = requestError(err)
		return a
	}
	// Read a little of the answer so the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = fmt.Sprintf("HTTP %d: redirects are not followed", resp.StatusCode)
	default:
		a.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return a
}

// requestError says why a request got no answer, without the URL (it is
// the endpoint's, shown beside).
func requestError(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
