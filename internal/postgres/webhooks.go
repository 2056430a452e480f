package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

// endpointRow is a webhook_endpoints row as scanned.
type endpointRow struct {
	dialq.WebhookEndpoint
	EventList pq.StringArray `db:"events"`
}

func (r endpointRow) endpoint() dialq.WebhookEndpoint {
	e := r.WebhookEndpoint
	e.Events = []string(r.EventList)
	return e
}

// CreateWebhookEndpoint stores a new endpoint of e.TenantID.
func (s *DB) CreateWebhookEndpoint(ctx context.Context, e *dialq.WebhookEndpoint) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, tenant_id, url, events, secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.ID, e.TenantID, e.URL, pq.StringArray(e.Events), e.Secret, e.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert webhook endpoint: %w", err)
	}
	return nil
}

// WebhookEndpoints returns the tenant's endpoints, oldest first.
func (s *DB) WebhookEndpoints(ctx context.Context, tenantID uuid.UUID) ([]dialq.WebhookEndpoint, error) {
	var rows []endpointRow
	err := s.db.SelectContext(ctx, &rows, `SELECT id, tenant_id, url, events, secret, created_at
		FROM webhook_endpoints WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	out := make([]dialq.WebhookEndpoint, len(rows))
	for i, r := range rows {
		out[i] = r.endpoint()
	}
	return out, nil
}

// FindWebhookEndpoint returns the tenant's endpoint id.
// Returns ENOTFOUND if it does not exist, was deleted or is another tenant's.
func (s *DB) FindWebhookEndpoint(ctx context.Context, tenantID, id uuid.UUID) (*dialq.WebhookEndpoint, error) {
	var r endpointRow
	err := s.db.GetContext(ctx, &r, `SELECT id, tenant_id, url, events, secret, created_at
		FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL`, id, tenantID)
	if err != nil {
		return nil, notFound(err, "Webhook endpoint %s not found.", id)
	}
	e := r.endpoint()
	return &e, nil
}

// DeleteWebhookEndpoint deletes the tenant's endpoint id: it takes no new
// events, and its pending deliveries are given up. Its deliveries stay in
// the calls' delivery logs.
// Returns ENOTFOUND if it does not exist, was deleted or is another tenant's.
func (s *DB) DeleteWebhookEndpoint(ctx context.Context, tenantID, id uuid.UUID) error {
	var n int
	err := s.db.GetContext(ctx, &n, `
		WITH e AS (
			UPDATE webhook_endpoints SET deleted_at = $3
			WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL RETURNING id
		), d AS (
			UPDATE webhook_deliveries SET status = 'failed', last_error = 'endpoint deleted', lease_until = NULL
			WHERE endpoint_id IN (SELECT id FROM e) AND status = 'pending'
		)
		SELECT count(*) FROM e`, id, tenantID, s.now())
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	if n == 0 {
		return dialq.Errorf(dialq.ENOTFOUND, "Webhook endpoint %s not found.", id)
	}
	return nil
}

// AddWebhookEvent makes the deliveries of an event of call id that is not a
// status change (dialq.EventCallReport) to each of the call's tenant's
// endpoints that take it, with the call as it is now, and returns how many.
// key names the event: adding the same key twice makes the second
// deliveries fail as duplicates. The call's row is locked while the
// payload is read, so the event falls in its place among the status
// changes. Returns ENOTFOUND if the call does not exist.
func (s *DB) AddWebhookEvent(ctx context.Context, callID uuid.UUID, eventType, key string) (int, error) {
	var n sql.NullInt64
	err := s.db.GetContext(ctx, &n, `
		SELECT webhook_enqueue(c, NULL, $2, $3, $4) FROM calls c WHERE c.id = $1 FOR SHARE`,
		callID, eventType, s.now(), key)
	if err != nil {
		return 0, notFound(err, "Call %s not found.", callID)
	}
	return int(n.Int64), nil
}

// WebhookJob is a delivery a worker holds, with what sending it needs.
type WebhookJob struct {
	ID        int64     `db:"id"`
	CallID    uuid.UUID `db:"call_id"`
	EventType string    `db:"event_type"`
	WebhookID string    `db:"webhook_id"`
	Payload   []byte    `db:"payload"`
	Attempts  int       `db:"attempts"`
	URL       string    `db:"url"`
	Secret    string    `db:"secret"`
}

// ClaimWebhookDelivery takes delivery id for one attempt, holding it until
// leaseUntil, if it is pending, due by dueBy, held by no other worker, and
// no earlier delivery of its call to its endpoint is still pending (those
// go first: when one ends, RecordWebhookAttempt names the next). It
// returns nil when the delivery is not to be sent now.
func (s *DB) ClaimWebhookDelivery(ctx context.Context, id int64, now, dueBy, leaseUntil time.Time) (*WebhookJob, error) {
	var j WebhookJob
	err := s.get(ctx, &j, `
		UPDATE webhook_deliveries d SET lease_until = $4
		FROM webhook_endpoints e
		WHERE d.id = $1 AND e.id = d.endpoint_id AND e.deleted_at IS NULL
		  AND d.status = 'pending' AND d.next_attempt_at <= $3
		  AND (d.lease_until IS NULL OR d.lease_until < $2)
		  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
		                  WHERE p.endpoint_id = d.endpoint_id AND p.call_id = d.call_id
		                    AND p.status = 'pending' AND p.id < d.id)
		RETURNING d.id, d.call_id, d.event_type, d.webhook_id, d.payload::text AS payload, d.attempts, e.url, e.secret`,
		id, now, dueBy, leaseUntil)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim webhook delivery %d: %w", id, err)
	}
	return &j, nil
}

// ReleaseWebhookDelivery lets delivery id go without recording an attempt:
// its request was cut short by the worker itself (shutting down), not
// answered or refused by the endpoint, so the next worker to claim it sends
// it again at once, as the same attempt.
func (s *DB) ReleaseWebhookDelivery(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `
		UPDATE webhook_deliveries SET lease_until = NULL WHERE id = $1 AND status = 'pending'`, id); err != nil {
		return fmt.Errorf("release webhook delivery %d: %w", id, err)
	}
	return nil
}

// WebhookOutcome is how one attempt ended and what becomes of its delivery.
type WebhookOutcome struct {
	Attempt dialq.WebhookAttempt
	// Status is the delivery's status after it: delivered, failed (given
	// up) or pending, then tried again at NextAttemptAt.
	Status        dialq.WebhookDeliveryStatus
	NextAttemptAt time.Time
}

// RecordWebhookAttempt logs an attempt of delivery id, stores its outcome
// and lets the delivery go. A delivery given up meanwhile (its endpoint
// was deleted) only gets the attempt logged. When the delivery is over (delivered or given
// up) it returns the next pending delivery of its call to its endpoint and
// that one's schedule, to send now; otherwise 0.
func (s *DB) RecordWebhookAttempt(ctx context.Context, id int64, o WebhookOutcome) (next int64, nextAt time.Time, err error) {
	a := o.Attempt
	var row struct {
		ID            int64     `db:"id"`
		NextAttemptAt time.Time `db:"next_attempt_at"`
	}
	err = s.get(ctx, &row, `
		WITH a AS (
			INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, error)
			VALUES ($1, $2, $3, $4, $5)
		), u AS (
			UPDATE webhook_deliveries SET status = $6, attempts = attempts + 1, next_attempt_at = $7,
				lease_until = NULL, last_status_code = $3, last_latency_ms = $4, last_error = $5,
				delivered_at = CASE WHEN $6 = 'delivered' THEN $2 ELSE delivered_at END
			WHERE id = $1 AND status = 'pending' RETURNING endpoint_id, call_id, status
		)
		SELECT n.id, n.next_attempt_at FROM webhook_deliveries n, u
		WHERE u.status <> 'pending' AND n.endpoint_id = u.endpoint_id AND n.call_id = u.call_id
		  AND n.status = 'pending' AND n.id > $1
		ORDER BY n.id LIMIT 1`,
		id, a.At, a.StatusCode, a.LatencyMS, a.Error, o.Status, o.NextAttemptAt)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("record attempt of webhook delivery %d: %w", id, err)
	}
	return row.ID, row.NextAttemptAt, nil
}

// DueWebhook is a delivery to be sent, and its schedule.
type DueWebhook struct {
	ID            int64     `db:"id"`
	NextAttemptAt time.Time `db:"next_attempt_at"`
}

// OverdueWebhookDeliveries returns up to limit pending deliveries that were
// due before dueBefore, that no worker holds at now and that wait for no
// earlier delivery: those whose task may have been lost.
func (s *DB) OverdueWebhookDeliveries(ctx context.Context, dueBefore, now time.Time, limit int) ([]DueWebhook, error) {
	var out []DueWebhook
	err := s.db.SelectContext(ctx, &out, `
		SELECT d.id, d.next_attempt_at FROM webhook_deliveries d
		WHERE d.status = 'pending' AND d.next_attempt_at < $1 AND (d.lease_until IS NULL OR d.lease_until < $2)
		  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
		                  WHERE p.endpoint_id = d.endpoint_id AND p.call_id = d.call_id
		                    AND p.status = 'pending' AND p.id < d.id)
		ORDER BY d.next_attempt_at LIMIT $3`, dueBefore, now, limit)
	if err != nil {
		return nil, fmt.Errorf("list overdue webhook deliveries: %w", err)
	}
	return out, nil
}

const deliveryColumns = `id, endpoint_id, tenant_id, call_id, event_type, webhook_id, status, attempts,
	next_attempt_at, last_status_code, last_error, last_latency_ms, delivered_at, created_at`

// CallWebhookDeliveries returns the deliveries of the tenant's call id, in
// the order the events happened, each with its attempts.
func (s *DB) CallWebhookDeliveries(ctx context.Context, tenantID, callID uuid.UUID) ([]dialq.WebhookDelivery, error) {
	var list []dialq.WebhookDelivery
	err := s.db.SelectContext(ctx, &list, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE call_id = $1 AND tenant_id = $2 ORDER BY id`, callID, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list webhook deliveries of call %s: %w", callID, err)
	}
	if len(list) == 0 {
		return list, nil
	}
	ids := make([]int64, len(list))
	at := make(map[int64]int, len(list))
	for i, d := range list {
		ids[i] = d.ID
		at[d.ID] = i
	}
	var attempts []struct {
		DeliveryID int64 `db:"delivery_id"`
		dialq.WebhookAttempt
	}
	err = s.db.SelectContext(ctx, &attempts, `SELECT delivery_id, at, status_code, latency_ms, error
		FROM webhook_attempts WHERE delivery_id = ANY ($1) ORDER BY id`, pq.Int64Array(ids))
	if err != nil {
		return nil, fmt.Errorf("list webhook attempts of call %s: %w", callID, err)
	}
	for _, a := range attempts {
		d := &list[at[a.DeliveryID]]
		d.Log = append(d.Log, a.WebhookAttempt)
	}
	return list, nil
}

// Redelivery says which deliveries of an endpoint to send again: one, or
// the given-up ones of a call, or every given-up one.
type Redelivery struct {
	DeliveryID int64     // 0: not one delivery
	CallID     uuid.UUID // uuid.Nil: of every call
}

// RedeliverWebhooks makes the endpoint's deliveries r names pending again,
// due now, with a fresh retry schedule and the same webhook-id and body,
// wakes the workers, and returns their ids. A delivery named by id is sent
// again whatever its status; one being sent right now keeps its worker's
// hold, so it is not sent twice at once. The endpoint must be the tenant's
// (FindWebhookEndpoint).
func (s *DB) RedeliverWebhooks(ctx context.Context, tenantID, endpointID uuid.UUID, r Redelivery) ([]int64, error) {
	var ids []int64
	err := s.db.SelectContext(ctx, &ids, `
		WITH u AS (
			UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $5
			WHERE endpoint_id = $1 AND tenant_id = $2
			  AND CASE WHEN $3::bigint <> 0 THEN id = $3
			           ELSE status = 'failed' AND ($4::uuid = '00000000-0000-0000-0000-000000000000' OR call_id = $4) END
			RETURNING id, next_attempt_at
		)
		SELECT u.id FROM u, LATERAL pg_notify(webhook_channel(), u.id || ':' || webhook_stamp(u.next_attempt_at)) n
		ORDER BY u.id`, endpointID, tenantID, r.DeliveryID, r.CallID, s.now())
	if err != nil {
		return nil, fmt.Errorf("redeliver webhooks of endpoint %s: %w", endpointID, err)
	}
	return ids, nil
}

// WebhookChannel is the channel new and redelivered deliveries are
// announced on, for LISTEN: one per schema.
func (s *DB) WebhookChannel(ctx context.Context) (string, error) {
	var ch string
	if err := s.db.GetContext(ctx, &ch, `SELECT webhook_channel()`); err != nil {
		return "", fmt.Errorf("webhook channel: %w", err)
	}
	return ch, nil
}
