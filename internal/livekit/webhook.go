package livekit

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/livekit/protocol/auth"
	lkp "github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/protojson"
	"github.com/livekit/protocol/webhook"

	"github.com/dialq/dialq/internal/dialq"
)

// Webhooks reads the webhooks livekit-server posts (its `webhook:` config)
// and verifies them as LiveKit's SDK does: a JWT signed with the API
// secret, whose sha256 claim is the body's.
type Webhooks struct {
	keys auth.KeyProvider
}

// NewWebhooks verifies webhooks signed with apiKey's secret.
func NewWebhooks(apiKey, apiSecret string) *Webhooks {
	return &Webhooks{keys: auth.NewSimpleKeyProvider(apiKey, apiSecret)}
}

// Read verifies r and returns the room event it carries; ok is false for an
// event dialq does not act on (track published, room started, ...).
// Returns an error wrapping dialq.ErrBadSignature when it does not verify.
func (w *Webhooks) Read(r *http.Request) (ev dialq.RoomEvent, ok bool, err error) {
	body, err := webhook.Receive(r, w.keys)
	if err != nil {
		return dialq.RoomEvent{}, false, fmt.Errorf("%w: %w", dialq.ErrBadSignature, err)
	}
	e := &lkp.WebhookEvent{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true, AllowPartial: true}).Unmarshal(body, e); err != nil {
		return dialq.RoomEvent{}, false, fmt.Errorf("read LiveKit webhook: %w", err)
	}
	ev = dialq.RoomEvent{ID: e.Id, Room: e.GetRoom().GetName()}
	ev.CallID = callOfRoom(e.GetRoom().GetMetadata())
	switch e.Event {
	case webhook.EventParticipantLeft, webhook.EventParticipantConnectionAborted:
		p := e.GetParticipant()
		ev.Kind = dialq.RoomParticipantLeft
		ev.Identity = p.GetIdentity()
		ev.Agent = p.GetKind() == lkp.ParticipantInfo_AGENT
		ev.SIPCallStatus = p.GetAttributes()["sip.callStatus"]
		ev.DisconnectReason = p.GetDisconnectReason().String()
	case webhook.EventRoomFinished:
		ev.Kind = dialq.RoomFinished
	default:
		return ev, false, nil
	}
	return ev, true, nil
}

// callOfRoom is the call id the room's metadata names (roomMetadata of
// the dialer), or Nil.
func callOfRoom(md string) uuid.UUID {
	var m struct {
		CallID string `json:"call_id"`
	}
	if json.Unmarshal([]byte(md), &m) != nil {
		return uuid.Nil
	}
	id, err := uuid.Parse(m.CallID)
	if err != nil {
		return uuid.Nil
	}
	return id
}
