package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/webhooks"
)

// endpointView is a webhook endpoint as the API shows it. Secret is set
// only in the answer to its creation.
type endpointView struct {
	ID        uuid.UUID `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

func endpointViewOf(e *dialq.WebhookEndpoint) endpointView {
	return endpointView{ID: e.ID, URL: e.URL, Events: e.Events, CreatedAt: e.CreatedAt}
}

// deliveryView is one delivery of a call's event, as GET
// /call/{id}/webhooks shows it.
type deliveryView struct {
	ID             int64                       `json:"id"`
	EndpointID     uuid.UUID                   `json:"endpoint_id"`
	EventType      string                      `json:"event_type"`
	WebhookID      string                      `json:"webhook_id"`
	Status         dialq.WebhookDeliveryStatus `json:"status"`
	NextAttemptAt  *time.Time                  `json:"next_attempt_at,omitempty"`
	LastStatusCode int                         `json:"last_status_code,omitempty"`
	LastError      string                      `json:"last_error,omitempty"`
	DeliveredAt    *time.Time                  `json:"delivered_at,omitempty"`
	CreatedAt      time.Time                   `json:"created_at"`
	Attempts       []dialq.WebhookAttempt      `json:"attempts"`
}

// webhooksService returns the webhooks service, or answers 503 when the
// API runs without one.
func (s *Server) webhooksService(c *gin.Context) *webhooks.Service {
	if s.cfg.Webhooks == nil {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAVAILABLE, "Webhooks are not configured on this server."))
		return nil
	}
	return s.cfg.Webhooks
}

// handleCreateWebhook is POST /webhooks: a new endpoint of the tenant,
// answered 201 with its secret, shown this once.
func (s *Server) handleCreateWebhook(c *gin.Context) {
	svc := s.webhooksService(c)
	if svc == nil {
		return
	}
	body, err := readJSONBody(c.Request)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var req struct {
		URL    *string   `json:"url"`
		Events *[]string `json:"events"`
	}
	if err := decodeStrict(body, &req, "url, events"); err != nil {
		writeError(c, s.log, err)
		return
	}
	if req.URL == nil {
		writeError(c, s.log, dialq.InvalidField("url", "is required"))
		return
	}
	var events []string
	if req.Events != nil {
		events = *req.Events
		if events == nil { // "events": null
			events = []string{}
		}
	}
	e, err := svc.CreateEndpoint(c.Request.Context(), tenantOf(c), *req.URL, events)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	v := endpointViewOf(e)
	v.Secret = e.Secret
	c.Header("Location", "/webhooks/"+e.ID.String())
	c.JSON(http.StatusCreated, gin.H{"success": true, "data": v})
}

// handleListWebhooks is GET /webhooks: the tenant's endpoints, without
// their secrets.
func (s *Server) handleListWebhooks(c *gin.Context) {
	svc := s.webhooksService(c)
	if svc == nil {
		return
	}
	list, err := svc.Endpoints(c.Request.Context(), tenantOf(c))
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	views := make([]endpointView, len(list))
	for i := range list {
		views[i] = endpointViewOf(&list[i])
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": views})
}

// handleDeleteWebhook is DELETE /webhooks/{id}.
func (s *Server) handleDeleteWebhook(c *gin.Context) {
	svc := s.webhooksService(c)
	if svc == nil {
		return
	}
	id, err := webhookIDParam(c)
	if err == nil {
		err = svc.DeleteEndpoint(c.Request.Context(), tenantOf(c), id)
	}
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "message": "Webhook endpoint deleted."})
}

// handleRedeliverWebhook is POST /webhooks/{id}/redeliver: the endpoint's
// given-up deliveries sent again (of one call with {"call_id"}), or one
// delivery with {"delivery_id"}. The body is optional.
func (s *Server) handleRedeliverWebhook(c *gin.Context) {
	svc := s.webhooksService(c)
	if svc == nil {
		return
	}
	id, err := webhookIDParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var r webhooks.Redelivery
	if c.Request.ContentLength != 0 {
		if r, err = decodeRedelivery(c.Request); err != nil {
			writeError(c, s.log, err)
			return
		}
	}
	ids, err := svc.Redeliver(c.Request.Context(), tenantOf(c), id, r)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"success": true, "data": gin.H{"redelivered": nonNil(ids)}})
}

// decodeRedelivery reads the optional body of a redelivery. Returns
// EINVALID naming call_id or delivery_id.
func decodeRedelivery(r *http.Request) (webhooks.Redelivery, error) {
	var out webhooks.Redelivery
	body, err := readJSONBody(r)
	if err != nil {
		if f := dialq.ErrorFields(err); len(f) == 1 && f[0].Field == "body" && strings.Contains(f[0].Message, "empty") {
			return out, nil
		}
		return out, err
	}
	var req struct {
		CallID     *string `json:"call_id"`
		DeliveryID *int64  `json:"delivery_id"`
	}
	if err := decodeStrict(body, &req, "call_id, delivery_id"); err != nil {
		return out, err
	}
	if req.CallID != nil && req.DeliveryID != nil {
		return out, dialq.InvalidField("delivery_id", "cannot be given with call_id; give one or neither")
	}
	if req.CallID != nil {
		if out.CallID, err = dialq.ParseUUID(*req.CallID); err != nil {
			return out, dialq.InvalidField("call_id", "must be a UUID")
		}
	}
	if req.DeliveryID != nil {
		if *req.DeliveryID <= 0 {
			return out, dialq.InvalidField("delivery_id", "must be a delivery's id, a number above 0")
		}
		out.DeliveryID = *req.DeliveryID
	}
	return out, nil
}

// handleCallWebhooks is GET /call/{id}/webhooks: the call's deliveries to
// every endpoint, in the order of the events, with each attempt.
func (s *Server) handleCallWebhooks(c *gin.Context) {
	svc := s.webhooksService(c)
	if svc == nil {
		return
	}
	id, err := callIDParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	list, err := svc.CallDeliveries(c.Request.Context(), tenantOf(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	views := make([]deliveryView, len(list))
	for i, d := range list {
		views[i] = deliveryView{ID: d.ID, EndpointID: d.EndpointID, EventType: d.EventType, WebhookID: d.WebhookID,
			Status: d.Status, LastStatusCode: d.LastStatusCode, LastError: d.LastError, DeliveredAt: d.DeliveredAt,
			CreatedAt: d.CreatedAt, Attempts: nonNil(d.Log)}
		if d.Status == dialq.DeliveryPending {
			views[i].NextAttemptAt = &list[i].NextAttemptAt
		}
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": views})
}

// webhookIDParam reads the {id} of a /webhooks/{id} path. Returns EINVALID
// naming webhook_id.
func webhookIDParam(c *gin.Context) (uuid.UUID, error) {
	id, err := dialq.ParseUUID(c.Param("id"))
	if err != nil {
		return uuid.Nil, dialq.InvalidField("webhook_id", "must be a UUID")
	}
	return id, nil
}

// decodeStrict decodes one JSON object into dst, refusing fields it does
// not have; allowed lists them for the message.
func decodeStrict(body []byte, dst any, allowed string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return dialq.InvalidField(strings.Trim(name, `"`), "is not a known field; allowed: %s", allowed)
		}
		if ute, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && ute.Field != "" {
			return dialq.InvalidField(ute.Field, "has the wrong type: %s", ute.Value)
		}
		return jsonError(err)
	}
	if dec.More() {
		return dialq.InvalidField("body", "must hold one JSON object and nothing after it")
	}
	return nil
}
