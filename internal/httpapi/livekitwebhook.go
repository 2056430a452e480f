package httpapi

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// LiveKitWebhooks verifies and reads the webhooks livekit-server posts
// (package livekit). Read returns ok false for events dialq does not act
// on, and an error wrapping dialq.ErrBadSignature when it does not verify.
type LiveKitWebhooks interface {
	Read(r *http.Request) (ev dialq.RoomEvent, ok bool, err error)
}

// LiveKitWebhookPath is where livekit-server posts its webhooks (the
// `webhook: urls:` of its config).
const LiveKitWebhookPath = "/livekit/webhook"

// handleLiveKitWebhook is POST /livekit/webhook: LiveKit's room and
// participant events, which end LiveKit SIP calls. A webhook whose
// signature does not verify is a 401 and changes nothing. A failure to
// apply it is a 500, so that livekit-server's retry (and, past it, the
// worker's reconciler) gets another chance.
func (s *Server) handleLiveKitWebhook(c *gin.Context) {
	if s.cfg.LiveKitWebhooks == nil {
		writeError(c, s.log, dialq.Errorf(dialq.EUNAVAILABLE,
			"This API runs without LiveKit credentials (LIVEKIT_API_KEY, LIVEKIT_API_SECRET): it cannot verify LiveKit's webhooks."))
		return
	}
	ev, ok, err := s.cfg.LiveKitWebhooks.Read(c.Request)
	if err != nil {
		s.log.Warn("LiveKit webhook refused", "err", err)
		code := dialq.EUNAUTHORIZED
		if !errors.Is(err, dialq.ErrBadSignature) {
			code = dialq.EINVALID
		}
		writeError(c, s.log, dialq.Errorf(code, "The webhook's signature does not verify with this API's LiveKit key and secret, or its body is not a LiveKit webhook."))
		return
	}
	if ok {
		if err := s.calls.RoomEvent(c.Request.Context(), ev); err != nil {
			writeError(c, s.log, err)
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"success": true})
}
