// Package webhooks sends call events to the tenants' endpoints in the
// Standard Webhooks format (docs/webhooks.md). Postgres makes the
// deliveries, in the transaction that records each status change (a
// trigger on call_events), and holds their state; this package holds the
// use cases of the endpoints (Service), the worker side that sends
// (Deliverer, run by asynq webhook:deliver tasks), and the two background
// services that wake it: the Dispatcher, woken by Postgres NOTIFY, and the
// Sweeper, for what a lost notification or task left behind.
package webhooks

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
)

// Store is what the service reads and writes in Postgres.
type Store interface {
	CreateWebhookEndpoint(ctx context.Context, e *dialq.WebhookEndpoint) error
	WebhookEndpoints(ctx context.Context, tenantID uuid.UUID) ([]dialq.WebhookEndpoint, error)
	FindWebhookEndpoint(ctx context.Context, tenantID, id uuid.UUID) (*dialq.WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, tenantID, id uuid.UUID) error
	FindCall(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Call, error)
	CallWebhookDeliveries(ctx context.Context, tenantID, callID uuid.UUID) ([]dialq.WebhookDelivery, error)
	RedeliverWebhooks(ctx context.Context, tenantID, endpointID uuid.UUID, r postgres.Redelivery) ([]int64, error)
}

// Service is the use cases of a tenant's webhook endpoints. Its methods are
// safe for concurrent use.
type Service struct {
	store Store
	guard Guard
	// Now is the clock endpoints are stamped with.
	Now func() time.Time
}

// NewService returns the service over store, checking endpoint URLs with
// guard.
func NewService(store Store, guard Guard) *Service {
	return &Service{store: store, guard: guard, Now: time.Now}
}

// CreateEndpoint makes an endpoint of the tenant that takes events (every
// event when nil) at rawURL, with a new secret, and returns it with the
// secret: the only time it is shown.
// Returns EINVALID naming url or events[i] if either breaks a rule.
func (s *Service) CreateEndpoint(ctx context.Context, tenantID uuid.UUID, rawURL string, events []string) (*dialq.WebhookEndpoint, error) {
	u, err := dialq.ParseWebhookURL(rawURL)
	if err != nil {
		return nil, err
	}
	if events, err = checkEvents(events); err != nil {
		return nil, err
	}
	if err := s.guard.CheckURL(ctx, u); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	e := &dialq.WebhookEndpoint{ID: id, TenantID: tenantID, URL: u.String(), Events: events,
		Secret: dialq.NewWebhookSecret(), CreatedAt: s.Now().UTC().Truncate(time.Microsecond)}
	if err := s.store.CreateWebhookEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// checkEvents returns the events an endpoint takes: every one for nil, else
// events without repeats. Returns EINVALID naming events or events[i].
func checkEvents(events []string) ([]string, error) {
	if events == nil {
		return dialq.WebhookEvents(), nil
	}
	if len(events) == 0 {
		return nil, dialq.InvalidField("events", "must name at least one event, or be left out for every event")
	}
	var out []string
	for i, ev := range events {
		if !dialq.KnownWebhookEvent(ev) {
			return nil, dialq.InvalidField("events["+strconv.Itoa(i)+"]", "%q is not an event; known events: %v", ev, dialq.WebhookEvents())
		}
		if !slices.Contains(out, ev) {
			out = append(out, ev)
		}
	}
	return out, nil
}

// Endpoints returns the tenant's endpoints, oldest first.
func (s *Service) Endpoints(ctx context.Context, tenantID uuid.UUID) ([]dialq.WebhookEndpoint, error) {
	return s.store.WebhookEndpoints(ctx, tenantID)
}

// DeleteEndpoint deletes the tenant's endpoint id; its pending deliveries
// are given up. Returns ENOTFOUND if it is not the tenant's.
func (s *Service) DeleteEndpoint(ctx context.Context, tenantID, id uuid.UUID) error {
	return s.store.DeleteWebhookEndpoint(ctx, tenantID, id)
}

// CallDeliveries returns the deliveries of the tenant's call id to every
// endpoint, in the order of the events, each with its attempts.
// Returns ENOTFOUND if the call is not the tenant's.
func (s *Service) CallDeliveries(ctx context.Context, tenantID, callID uuid.UUID) ([]dialq.WebhookDelivery, error) {
	if _, err := s.store.FindCall(ctx, tenantID, callID); err != nil {
		return nil, err
	}
	return s.store.CallWebhookDeliveries(ctx, tenantID, callID)
}

// Redelivery names what Redeliver sends again: one delivery, or the
// given-up deliveries of one call, or (both zero) every given-up delivery
// of the endpoint.
type Redelivery = postgres.Redelivery

// Redeliver sends again, with the same webhook-id and body, the deliveries
// of the tenant's endpoint that r names, and returns their ids. A delivery
// named by id is sent again whatever its status.
// Returns ENOTFOUND if the endpoint, the call or the delivery is not the
// tenant's (the delivery: not the endpoint's).
func (s *Service) Redeliver(ctx context.Context, tenantID, endpointID uuid.UUID, r Redelivery) ([]int64, error) {
	if _, err := s.store.FindWebhookEndpoint(ctx, tenantID, endpointID); err != nil {
		return nil, err
	}
	if r.CallID != uuid.Nil {
		if _, err := s.store.FindCall(ctx, tenantID, r.CallID); err != nil {
			return nil, err
		}
	}
	ids, err := s.store.RedeliverWebhooks(ctx, tenantID, endpointID, r)
	if err != nil {
		return nil, err
	}
	if r.DeliveryID != 0 && len(ids) == 0 {
		return nil, dialq.Errorf(dialq.ENOTFOUND, "Delivery %d of webhook endpoint %s not found.", r.DeliveryID, endpointID)
	}
	return ids, nil
}
