package sipdouble

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/protocol/sip"
	"github.com/livekit/protocol/utils/guid"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/logging"
)

// Values of the sip.callStatus participant attribute, as livekit-sip sets
// them on an outbound call.
const (
	CallStatusDialing = "dialing"
	CallStatusRinging = "ringing"
	CallStatusActive  = "active"
	CallStatusHangup  = "hangup"
)

// CallInfo describes one call the double placed.
type CallInfo struct {
	// SIPCallID is the call's SCL_ id, as in the sip.callID attribute.
	SIPCallID           string
	Room                string
	ParticipantIdentity string
	// ParticipantSID is the PA_ id livekit-server gave the phone participant.
	ParticipantSID string
	CallTo         string
	TrunkID        string
	// Outcome is what the Script decided for the call.
	Outcome Outcome
	// CallStatus is the last sip.callStatus value the participant published.
	// Like livekit-sip, the double does not publish "hangup" for a call that
	// failed (busy, declined, unanswered...): it only leaves the room.
	CallStatus string
	// Answered reports that the callee picked up.
	Answered bool
	// Ended reports that the phone participant has left the room (or never
	// made it in).
	Ended bool
	// DisconnectReason is the reason the participant left with.
	DisconnectReason livekit.DisconnectReason
	// EndedAt is when the call ended on the phone's side: the moment the
	// phone participant was told to leave the room (a hang-up's BYE, in
	// livekit-sip), or the call failed. Zero while the call goes on.
	EndedAt time.Time
	// Err is the error CreateSIPParticipant returned, or would have returned
	// with WaitUntilAnswered, for a call that was not answered.
	Err error
}

// call is one simulated outbound call: a SIP participant in a LiveKit room
// and the callee behind it.
type call struct {
	s           *Server
	log         *slog.Logger
	req         *livekit.CreateSIPParticipantRequest
	ireq        *rpc.InternalCreateSIPParticipantRequest
	outcome     Outcome
	ringTimeout time.Duration
	maxDuration time.Duration

	gone      chan struct{} // the room dropped the participant
	goneOnce  sync.Once
	closing   chan struct{} // Server.Close
	closeOnce sync.Once
	others    chan struct{} // someone else joined or left; capacity 1

	mu         sync.Mutex
	room       *lksdk.Room
	present    map[string]struct{} // identities of the other participants
	seenOthers bool
	info       CallInfo
	finishOnce sync.Once
}

func newCall(s *Server, log *slog.Logger, req *livekit.CreateSIPParticipantRequest, ireq *rpc.InternalCreateSIPParticipantRequest, o Outcome) *call {
	if o.Code < 300 {
		o.Code = 200
	}
	ring := s.cfg.DefaultRingingTimeout
	if req.RingingTimeout != nil && req.RingingTimeout.AsDuration() > 0 {
		ring = req.RingingTimeout.AsDuration()
	}
	maxDur := maxCallDuration
	if d := req.MaxCallDuration.AsDuration(); req.MaxCallDuration != nil && d > 0 && d < maxDur {
		maxDur = d
	}
	return &call{
		s:           s,
		log:         log,
		req:         req,
		ireq:        ireq,
		outcome:     o,
		ringTimeout: ring,
		maxDuration: maxDur,
		gone:        make(chan struct{}),
		closing:     make(chan struct{}),
		others:      make(chan struct{}, 1),
		present:     make(map[string]struct{}),
		info: CallInfo{
			SIPCallID:           ireq.SipCallId,
			Room:                ireq.RoomName,
			ParticipantIdentity: ireq.ParticipantIdentity,
			CallTo:              ireq.CallTo,
			TrunkID:             ireq.SipTrunkId,
			Outcome:             o,
		},
	}
}

// join brings the phone participant into the room, as livekit-sip does before
// it sends the INVITE: kind SIP, the request's name, metadata and attributes
// plus the sip.* ones, sip.callStatus "dialing", subscribed to nothing,
// publishing one audio track.
func (c *call) join(ctx context.Context) error {
	attrs := maps.Clone(c.ireq.ParticipantAttributes)
	if attrs == nil {
		attrs = make(map[string]string)
	}
	attrs[livekit.AttrSIPCallStatus] = CallStatusDialing
	token, err := sip.BuildSIPToken(sip.SIPTokenParams{
		APIKey:                c.s.cfg.APIKey,
		APISecret:             c.s.cfg.APISecret,
		RoomName:              c.ireq.RoomName,
		ParticipantIdentity:   c.ireq.ParticipantIdentity,
		ParticipantName:       c.ireq.ParticipantName,
		ParticipantMetadata:   c.ireq.ParticipantMetadata,
		ParticipantAttributes: attrs,
	})
	if err != nil {
		return err
	}
	room := lksdk.NewRoom(&lksdk.RoomCallback{
		OnParticipantConnected:    func(rp *lksdk.RemoteParticipant) { c.otherJoined(rp.Identity()) },
		OnParticipantDisconnected: func(rp *lksdk.RemoteParticipant) { c.otherLeft(rp.Identity()) },
		OnDisconnected:            c.markGone,
	})
	err = room.JoinWithContextAndToken(ctx, c.s.wsURL, token,
		lksdk.WithAutoSubscribe(false),
		lksdk.WithLogger(logging.LiveKitSDK(c.log)),
	)
	if err != nil {
		return err
	}
	if err := publishSilence(room); err != nil {
		room.DisconnectWithReason(livekit.DisconnectReason_UNKNOWN_REASON)
		return fmt.Errorf("publish audio track: %w", err)
	}
	c.mu.Lock()
	c.room = room
	c.info.ParticipantSID = room.LocalParticipant.SID()
	c.info.CallStatus = CallStatusDialing
	c.mu.Unlock()
	for _, rp := range room.GetRemoteParticipants() {
		c.otherJoined(rp.Identity())
	}
	c.log.Info("phone joined room", "participant", c.ireq.ParticipantIdentity, "participant_sid", room.LocalParticipant.SID())
	return nil
}

// skipRoom stands in for join when Config.SkipRoom is set: the call gets a
// participant id but nobody enters the room.
func (c *call) skipRoom() {
	c.mu.Lock()
	c.info.ParticipantSID = guid.New(guid.ParticipantPrefix)
	c.info.CallStatus = CallStatusDialing
	c.mu.Unlock()
}

// dial plays the INVITE transaction: the carrier's latency, ringing, then the
// callee's final answer. It returns nil once the callee answered; otherwise
// the participant has left the room and the error is the one livekit-sip
// returns. ctx ends the ringing as the request's context does in livekit-sip.
func (c *call) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.ringTimeout)
	defer cancel()

	if !c.wait(ctx, c.s.cfg.InviteDelay) {
		return c.unanswered()
	}
	if c.outcome.RingFor > 0 {
		c.setStatus(CallStatusRinging, nil)
		c.log.Info("phone ringing", "ring_for", c.outcome.RingFor, "ringing_timeout", c.ringTimeout)
		if !c.wait(ctx, c.outcome.RingFor) {
			return c.unanswered()
		}
	}
	if c.outcome.Code == 200 {
		c.mu.Lock()
		c.info.Answered = true
		c.mu.Unlock()
		c.setStatus(CallStatusActive, sip.AnswerTimeAttributes(time.Now()))
		c.log.Info("phone answered")
		return nil
	}
	err := inviteError(c.outcome.Code, c.outcome.Reason)
	c.log.Info("phone rejected the call", "code", c.outcome.Code, "error", err)
	c.finish(rejectReason(c.outcome.Code), err)
	return err
}

// unanswered ends a call whose INVITE got no final answer in time.
func (c *call) unanswered() error {
	err := ringTimeoutError()
	c.log.Info("phone did not answer", "ringing_timeout", c.ringTimeout)
	c.finish(livekit.DisconnectReason_USER_UNAVAILABLE, err)
	return err
}

// talk holds an answered call until the callee hangs up (HangUpAfter,
// HangUpWhenAlone), the call reaches its max duration, the room drops the
// participant or the Server closes.
func (c *call) talk() {
	var hangUp <-chan time.Time
	if c.outcome.HangUpAfter > 0 {
		t := time.NewTimer(c.outcome.HangUpAfter)
		defer t.Stop()
		hangUp = t.C
	}
	limit := time.NewTimer(c.maxDuration)
	defer limit.Stop()
	for {
		if c.outcome.HangUpWhenAlone && c.alone() {
			c.log.Info("phone hangs up: everyone else left the room")
			c.hangUp()
			return
		}
		select {
		case <-c.others:
		case <-hangUp:
			c.log.Info("phone hangs up", "after", c.outcome.HangUpAfter)
			c.hangUp()
			return
		case <-limit.C:
			c.log.Info("call reached its max duration", "max_call_duration", c.maxDuration)
			c.hangUp()
			return
		case <-c.gone:
			c.log.Info("phone participant dropped from the room")
			c.finish(livekit.DisconnectReason_UNKNOWN_REASON, nil)
			return
		case <-c.closing:
			c.finish(livekit.DisconnectReason_SERVER_SHUTDOWN, nil)
			return
		}
	}
}

// hangUp ends an answered call from the callee's side: livekit-sip publishes
// sip.callStatus "hangup" and leaves the room.
func (c *call) hangUp() {
	c.setStatus(CallStatusHangup, nil)
	c.finish(livekit.DisconnectReason_CLIENT_INITIATED, nil)
}

// wait sleeps d unless ctx ends, the room drops the participant or the
// Server closes first; it reports whether the whole d passed. A d that would
// outlast ctx's deadline waits for ctx instead, so a callee ringing exactly
// as long as the ringing timeout always times out.
func (c *call) wait(ctx context.Context, d time.Duration) bool {
	var elapsed <-chan time.Time
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > d {
		t := time.NewTimer(d)
		defer t.Stop()
		elapsed = t.C
	}
	select {
	case <-elapsed:
		return true
	case <-ctx.Done():
	case <-c.gone:
	case <-c.closing:
	}
	return false
}

// setStatus publishes sip.callStatus (and extra attributes) on the phone
// participant.
func (c *call) setStatus(status string, extra map[string]string) {
	attrs := map[string]string{livekit.AttrSIPCallStatus: status}
	maps.Copy(attrs, extra)
	c.mu.Lock()
	room := c.room
	c.info.CallStatus = status
	c.mu.Unlock()
	if room != nil {
		room.LocalParticipant.SetAttributes(attrs)
	}
}

// finish takes the participant out of the room with reason and records the
// end of the call; err is the error of a call that was not answered. Only the
// first call has an effect.
func (c *call) finish(reason livekit.DisconnectReason, err error) {
	c.finishOnce.Do(func() {
		c.mu.Lock()
		room := c.room
		c.info.Ended = true
		c.info.EndedAt = time.Now()
		c.info.DisconnectReason = reason
		c.info.Err = err
		c.mu.Unlock()
		if room != nil {
			room.DisconnectWithReason(reason)
		}
		c.log.Info("phone left the room", "reason", reason.String())
		c.s.running.Done()
	})
}

// shutdown is Server.Close's request to end the call.
func (c *call) shutdown() {
	c.closeOnce.Do(func() { close(c.closing) })
}

func (c *call) markGone() {
	c.goneOnce.Do(func() { close(c.gone) })
}

func (c *call) otherJoined(identity string) {
	c.mu.Lock()
	c.present[identity] = struct{}{}
	c.seenOthers = true
	c.mu.Unlock()
	c.notifyOthers()
}

func (c *call) otherLeft(identity string) {
	c.mu.Lock()
	delete(c.present, identity)
	c.mu.Unlock()
	c.notifyOthers()
}

func (c *call) notifyOthers() {
	select {
	case c.others <- struct{}{}:
	default:
	}
}

// alone reports that others were in the room and all of them have left.
func (c *call) alone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seenOthers && len(c.present) == 0
}

func (c *call) participantSID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.ParticipantSID
}

func (c *call) snapshot() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// rejectReason is the disconnect reason livekit-sip gives the participant
// of a call the callee (or the carrier) refused with code.
func rejectReason(code int) livekit.DisconnectReason {
	switch {
	case code == 404, code == 408, code == 480:
		return livekit.DisconnectReason_USER_UNAVAILABLE
	case code >= 400 && code < 500, code >= 600:
		return livekit.DisconnectReason_USER_REJECTED
	default:
		return livekit.DisconnectReason_UNKNOWN_REASON
	}
}
