package sipdouble

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/protocol/sip"
)

// sipService implements LiveKit's twirp SIP interface. Trunk and dispatch
// rule methods go to livekit-server through the embedded client, with the
// caller's own token; only the calls are simulated.
type sipService struct {
	livekit.SIP
	s *Server
}

// CreateSIPParticipant dials: see Server.createSIPParticipant.
func (svc *sipService) CreateSIPParticipant(ctx context.Context, req *livekit.CreateSIPParticipantRequest) (*livekit.SIPParticipantInfo, error) {
	return svc.s.createSIPParticipant(ctx, req)
}

// TransferSIPParticipant is not simulated: the double has no SIP leg to
// transfer.
func (svc *sipService) TransferSIPParticipant(ctx context.Context, _ *livekit.TransferSIPParticipantRequest) (*livekit.TransferSIPParticipantResponse, error) {
	if !canCall(ctx) {
		return nil, permissionDeniedError()
	}
	return nil, twirp.NewError(twirp.Unimplemented, "sipdouble: TransferSIPParticipant is not simulated")
}

// createSIPParticipant does what livekit-server and livekit-sip together do
// for an outbound call: check the grant, validate the request, load the trunk,
// build the participant (identity, attributes) with protocol's own code, join
// the room as that participant, and then play the Script's outcome. With
// WaitUntilAnswered it returns once the callee answered, or the error of the
// failed call; without, it returns as soon as the participant is in the room.
func (s *Server) createSIPParticipant(ctx context.Context, req *livekit.CreateSIPParticipantRequest) (*livekit.SIPParticipantInfo, error) {
	if !canCall(ctx) {
		return nil, permissionDeniedError()
	}
	req = proto.Clone(req).(*livekit.CreateSIPParticipantRequest)
	s.record(req)
	if s.isClosed() {
		return nil, shuttingDownError()
	}
	log := s.log.With("room", req.RoomName, "to", req.SipCallTo, "trunk_id", req.SipTrunkId)

	req.Upgrade()
	if err := req.ValidateResult().Error(); err != nil {
		log.Info("sip double refused request", "error", err)
		return nil, twirp.WrapError(twirp.NewError(twirp.InvalidArgument, err.Error()), err)
	}
	var trunk *livekit.SIPOutboundTrunkInfo
	if req.SipTrunkId != "" {
		var err error
		if trunk, err = s.lookupTrunk(ctx, req.SipTrunkId); err != nil {
			log.Info("sip double trunk look-up failed", "error", err)
			return nil, err
		}
	}
	callID := sip.NewCallID()
	ireq, result := rpc.NewCreateSIPParticipantRequestResult("", callID, "", "", "", req, trunk)
	if err := result.Error(); err != nil {
		log.Info("sip double refused request", "error", err)
		return nil, err
	}

	c := newCall(s, log.With("sip_call_id", callID), req, ireq, s.cfg.Script(proto.Clone(req).(*livekit.CreateSIPParticipantRequest)))
	if !s.track(c) {
		return nil, shuttingDownError()
	}
	if s.cfg.SkipRoom {
		c.skipRoom()
	} else if err := c.join(ctx); err != nil {
		c.finish(livekit.DisconnectReason_UNKNOWN_REASON, err)
		log.Warn("sip double could not join the room", "error", err)
		return nil, roomJoinError(err)
	}
	info := &livekit.SIPParticipantInfo{
		ParticipantId:       c.participantSID(),
		ParticipantIdentity: ireq.ParticipantIdentity,
		RoomName:            req.RoomName,
		SipCallId:           callID,
	}
	if !req.WaitUntilAnswered {
		go func() {
			if c.dial(context.Background()) == nil {
				c.talk()
			}
		}()
		return info, nil
	}
	if err := c.dial(ctx); err != nil {
		return nil, err
	}
	go c.talk()
	return info, nil
}

// lookupTrunk loads an outbound trunk from livekit-server, as livekit-server
// loads it from Redis. Returns trunkNotFoundError if there is none with id,
// or livekit-server's own error (e.g. "sip not connected (redis required)").
func (s *Server) lookupTrunk(ctx context.Context, id string) (*livekit.SIPOutboundTrunkInfo, error) {
	token, err := auth.NewAccessToken(s.cfg.APIKey, s.cfg.APISecret).
		SetSIPGrant(&auth.SIPGrant{Admin: true}).
		SetValidFor(time.Minute).
		ToJWT()
	if err != nil {
		return nil, fmt.Errorf("sign trunk look-up token: %w", err)
	}
	ctx = context.WithValue(ctx, upstreamTokenKey{}, token)
	resp, err := s.upstream.ListSIPOutboundTrunk(ctx, &livekit.ListSIPOutboundTrunkRequest{TrunkIds: []string{id}})
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Items {
		if t.SipTrunkId == id {
			return t, nil
		}
	}
	return nil, trunkNotFoundError()
}

type upstreamTokenKey struct{}

// forwardToken makes the upstream client authenticate as the caller of the
// proxied request, or with the double's own token where one is set.
func forwardToken() twirp.ClientOption {
	return twirp.WithClientInterceptors(func(next twirp.Method) twirp.Method {
		return func(ctx context.Context, req any) (any, error) {
			token, _ := ctx.Value(upstreamTokenKey{}).(string)
			if token == "" {
				if c := callerFrom(ctx); c != nil {
					token = c.token
				}
			}
			if token != "" {
				h, ok := twirp.HTTPRequestHeaders(ctx)
				if ok {
					h = h.Clone()
				} else {
					h = make(http.Header)
				}
				h.Set("Authorization", bearerPrefix+token)
				var err error
				if ctx, err = twirp.WithHTTPRequestHeaders(ctx, h); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	})
}
