package webhooks

import (
	"context"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// OutboxStore makes the deliveries of an event of a call.
type OutboxStore interface {
	AddWebhookEvent(ctx context.Context, callID uuid.UUID, eventType, key string) (int, error)
}

// Outbox adds the call events that are not status changes (a call's status
// changes make their own deliveries, in Postgres). The agent-report feature
// calls Add(ctx, callID, dialq.EventCallReport) once the report is stored.
type Outbox struct {
	Store OutboxStore
}

// Add makes one delivery of eventType about call id, with the call as it is
// now, to each endpoint of the call's tenant that takes it, and returns how
// many. The workers are woken as for a status change. Each call of Add is a
// new event, with webhook-ids of its own.
// Returns EINVALID if eventType is not an event, ENOTFOUND if the call does
// not exist.
func (o *Outbox) Add(ctx context.Context, callID uuid.UUID, eventType string) (int, error) {
	if !dialq.KnownWebhookEvent(eventType) {
		return 0, dialq.InvalidField("event_type", "%q is not an event", eventType)
	}
	return o.Store.AddWebhookEvent(ctx, callID, eventType, "event/"+uuid.NewString())
}
