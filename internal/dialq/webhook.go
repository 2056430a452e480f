package dialq

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// WebhookEndpoint is a URL of a tenant's that dialq sends call events to,
// in the Standard Webhooks format (docs/webhooks.md).
type WebhookEndpoint struct {
	ID       uuid.UUID `db:"id"`
	TenantID uuid.UUID `db:"tenant_id"`
	URL      string    `db:"url"`
	// Events are the event types it takes, each one of WebhookEvents.
	Events []string `db:"-"`
	// Secret is whsec_ and the base64 of the HMAC key the deliveries are
	// signed with. It is shown to the tenant once, when the endpoint is made.
	Secret    string    `db:"secret"`
	CreatedAt time.Time `db:"created_at"`
}

// EventCallReport is the event of a call's agent report; the other events
// are a call's status changes, "call." and the status.
const EventCallReport = "call.report"

// webhookStatuses are the statuses a call can move to, each an event
// call.<status>. They are the call lifecycle's statuses (docs/call-lifecycle.md),
// listed here so that the event names an endpoint subscribes to stay fixed
// whichever statuses this build already records.
var webhookStatuses = []string{"queued", "dialing", "ringing", "answered", "completed",
	"busy", "no_answer", "rejected", "unreachable", "failed", "canceled"}

// WebhookEvents returns every event type an endpoint can take: call.<status>
// for each call status, then call.report.
func WebhookEvents() []string {
	events := make([]string, 0, len(webhookStatuses)+1)
	for _, s := range webhookStatuses {
		events = append(events, "call."+s)
	}
	return append(events, EventCallReport)
}

// KnownWebhookEvent reports whether name is an event type of WebhookEvents.
func KnownWebhookEvent(name string) bool { return slices.Contains(WebhookEvents(), name) }

// WebhookSecretPrefix starts every endpoint secret, as Standard Webhooks
// libraries expect.
const WebhookSecretPrefix = "whsec_"

// NewWebhookSecret returns a new endpoint secret: whsec_ and the standard
// base64 of 32 random bytes.
func NewWebhookSecret() string {
	key := make([]byte, 32)
	rand.Read(key)
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// WebhookKey returns the HMAC key of an endpoint secret.
// Returns EINVALID if the secret is not whsec_ and base64.
func WebhookKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) == 0 {
		return nil, InvalidField("secret", "must be %s followed by base64", WebhookSecretPrefix)
	}
	return key, nil
}

// MaxWebhookURLLength bounds an endpoint's URL.
const MaxWebhookURLLength = 2048

// ParseWebhookURL checks raw by the rules of an endpoint URL: absolute http
// or https with a host, no user name or password, at most
// MaxWebhookURLLength bytes. Which addresses the host may have is checked
// apart (package webhooks), at creation and at every delivery.
// Returns EINVALID naming url.
func ParseWebhookURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, InvalidField("url", "is required")
	}
	if len(raw) > MaxWebhookURLLength {
		return nil, InvalidField("url", "must be at most %d bytes", MaxWebhookURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, InvalidField("url", "is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, InvalidField("url", "must be an http or https URL")
	}
	if u.User != nil {
		return nil, InvalidField("url", "must not carry a user name or password")
	}
	if u.Hostname() == "" {
		return nil, InvalidField("url", "must name a host")
	}
	if u.Fragment != "" {
		return nil, InvalidField("url", "must not have a #fragment")
	}
	return u, nil
}

// WebhookDeliveryStatus is where one delivery of an event to an endpoint is.
type WebhookDeliveryStatus string

// Delivery statuses.
const (
	// DeliveryPending: not yet answered 2xx; a next attempt is scheduled,
	// or waits for the call's earlier events to the same endpoint.
	DeliveryPending WebhookDeliveryStatus = "pending"
	// DeliveryDelivered: the endpoint answered 2xx.
	DeliveryDelivered WebhookDeliveryStatus = "delivered"
	// DeliveryFailed: every attempt of the retry schedule failed; dialq
	// gave up until a redelivery is asked for.
	DeliveryFailed WebhookDeliveryStatus = "failed"
)

// WebhookDelivery is one event of a call to one endpoint, with its attempts.
type WebhookDelivery struct {
	ID         int64     `db:"id"`
	EndpointID uuid.UUID `db:"endpoint_id"`
	TenantID   uuid.UUID `db:"tenant_id"`
	CallID     uuid.UUID `db:"call_id"`
	EventType  string    `db:"event_type"`
	// WebhookID is the webhook-id header: the same on every attempt.
	WebhookID string                `db:"webhook_id"`
	Status    WebhookDeliveryStatus `db:"status"`
	// Attempts counts the attempts since it was made or last redelivered.
	Attempts       int        `db:"attempts"`
	NextAttemptAt  time.Time  `db:"next_attempt_at"`
	LastStatusCode int        `db:"last_status_code"`
	LastError      string     `db:"last_error"`
	LastLatencyMS  int        `db:"last_latency_ms"`
	DeliveredAt    *time.Time `db:"delivered_at"`
	CreatedAt      time.Time  `db:"created_at"`
	// Log is every attempt ever made, oldest first.
	Log []WebhookAttempt `db:"-"`
}

// WebhookAttempt is one request dialq sent for a delivery.
type WebhookAttempt struct {
	At time.Time `db:"at" json:"at"`
	// StatusCode is the endpoint's HTTP status, 0 when none came back.
	StatusCode int    `db:"status_code" json:"status_code"`
	LatencyMS  int    `db:"latency_ms" json:"latency_ms"`
	Error      string `db:"error" json:"error,omitempty"`
}
