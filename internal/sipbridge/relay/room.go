package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/twitchtv/twirp"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/sip"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/signalling"

	"github.com/dialq/dialq/internal/logging"
)

const (
	// attrCallID carries dialq's call id on the phone participant, as on
	// calls dialed through a LiveKit trunk.
	attrCallID = "dialq.callID"
	// attrHold says whether the far end has the call on hold, "true" or
	// "false", from the answer on. livekit-sip has no such attribute: its
	// sip.callStatus stays "active" on hold, and so does the bridge's.
	attrHold = "dialq.hold"
	// attrSIPCallIDFull and attrSIPCallTag are livekit-sip's own names
	// (its package sip), not in github.com/livekit/protocol.
	attrSIPCallIDFull = livekit.AttrSIPPrefix + "callIDFull"
	attrSIPCallTag    = livekit.AttrSIPPrefix + "callTag"
	// trackName is the name of the phone's audio track.
	trackName = "phone"
	// eventTopic is the data topic of the call events the agent listens to.
	eventTopic = "sip_bridge_events"
	// hangupAckWait is how long Close waits for livekit-server to confirm
	// sip.callStatus "hangup" before leaving, so that the agent sees the
	// status before the participant goes.
	hangupAckWait = time.Second
)

// join builds the phone participant's token the way livekit-sip does (kind
// SIP, room-join, publish, subscribe, data and own-attribute grants), joins
// the room and publishes the phone's track. It subscribes to the audio of
// everyone already there.
func (s *Session) join(ctx context.Context) error {
	attrs := map[string]string{
		livekit.AttrSIPCallStatus:  callStatusDialing,
		livekit.AttrSIPPhoneNumber: s.cfg.PhoneNumber,
	}
	for k, v := range map[string]string{
		livekit.AttrSIPTrunkNumber: s.cfg.TrunkPhoneNumber,
		livekit.AttrSIPTrunkID:     s.cfg.TrunkID,
		livekit.AttrSIPHostName:    s.cfg.SIPHost,
		attrCallID:                 s.cfg.CallID,
	} {
		if v != "" {
			attrs[k] = v
		}
	}
	token, err := sip.BuildSIPToken(sip.SIPTokenParams{
		APIKey:                s.cfg.APIKey,
		APISecret:             s.cfg.APISecret,
		RoomName:              s.cfg.Room,
		ParticipantIdentity:   s.cfg.Identity,
		ParticipantName:       s.cfg.PhoneNumber,
		ParticipantAttributes: attrs,
	})
	if err != nil {
		return fmt.Errorf("build token: %w", err)
	}

	sdkLog := logging.LiveKitSDK(s.log)
	// The receive loop encodes the phone's audio itself (see phoneTrack);
	// the track only packetizes the frames.
	s.track, err = lksdk.NewLocalSampleTrack(phoneCodec)
	if err != nil {
		return fmt.Errorf("create phone track: %w", err)
	}
	s.track.SetLogger(sdkLog)
	if s.phone, err = newPhoneTrack(s.track); err != nil {
		return fmt.Errorf("create phone track: %w", err)
	}
	s.room = lksdk.NewRoom(&lksdk.RoomCallback{
		OnParticipantConnected:    s.participantJoined,
		OnParticipantDisconnected: s.participantLeft,
		OnDisconnected:            s.removedFromRoom,
		OnReconnecting:            s.reconnecting,
		OnReconnected:             s.reconnected,
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackPublished:    s.trackPublished,
			OnTrackSubscribed:   s.trackSubscribed,
			OnTrackUnsubscribed: s.trackUnsubscribed,
			OnAttributesChanged: s.attributesChanged,
			OnDataPacket:        s.dataReceived,
		},
	})
	// Subscribe to audio only, and only once it is published: an agent's
	// avatar video is of no use to a phone.
	err = s.room.JoinWithContextAndToken(ctx, signalling.ToWebsocketURL(s.cfg.LiveKitURL), token,
		lksdk.WithAutoSubscribe(false),
		lksdk.WithLogger(sdkLog),
	)
	if err != nil {
		s.track.Close()
		return err
	}
	_, err = s.room.LocalParticipant.PublishTrack(s.track, &lksdk.TrackPublicationOptions{
		Name:   trackName,
		Source: livekit.TrackSource_MICROPHONE,
	})
	if err != nil {
		s.room.DisconnectWithReason(livekit.DisconnectReason_CLIENT_INITIATED)
		s.track.Close()
		return fmt.Errorf("publish phone track: %w", err)
	}
	for _, rp := range s.room.GetRemoteParticipants() {
		s.participantJoined(rp)
		for _, pub := range rp.TrackPublications() {
			if rpub, ok := pub.(*lksdk.RemoteTrackPublication); ok {
				s.trackPublished(rpub, rp)
			}
		}
	}
	return nil
}

// leave takes the phone participant out of the room; answered says whether
// to publish sip.callStatus "hangup" first, removed that livekit-server has
// already dropped it.
func (s *Session) leave(answered, removed bool, reason string) {
	if removed {
		s.room.DisconnectWithReason(livekit.DisconnectReason_CLIENT_INITIATED) // releases the SDK's resources
		return
	}
	if answered {
		s.room.LocalParticipant.SetAttributes(map[string]string{livekit.AttrSIPCallStatus: callStatusHangup})
		t := time.NewTimer(hangupAckWait)
		select {
		case <-s.hangupAck:
		case <-t.C:
			s.log.Warn("livekit-server did not confirm the hangup status; leaving anyway", "waited", hangupAckWait)
		}
		t.Stop()
	}
	dr := livekit.DisconnectReason_CLIENT_INITIATED
	if reason == ReasonNoRTP {
		dr = livekit.DisconnectReason_MEDIA_FAILURE
	}
	s.room.DisconnectWithReason(dr)
	// In the background: livekit-server can take seconds to answer while
	// the participant is leaving, and the hang-up need not wait for it.
	go s.ensureGone()
}

// ensureGone removes the phone participant through the room API after the
// SDK left. DisconnectWithReason writes the leave request and closes the
// websocket at once; when livekit-server was writing to the socket just
// then, the socket is reset, the leave is never read, and the phone stayed
// in the room after about 1.5% of hang-ups in the tests. Removing it
// server-side is what the agent relies on; "not found" means it left.
func (s *Session) ensureGone() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rooms := lksdk.NewRoomServiceClient(s.cfg.LiveKitURL, s.cfg.APIKey, s.cfg.APISecret)
	_, err := rooms.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: s.cfg.Room, Identity: s.cfg.Identity})
	if err != nil && !alreadyGone(err) {
		s.log.Warn("remove the phone participant after leaving", "err", err)
	}
}

// alreadyGone says whether livekit-server refused to remove a participant
// because it is not there: the participant, or its whole room, is gone.
func alreadyGone(err error) bool {
	te, ok := errors.AsType[twirp.Error](err)
	return ok && te.Code() == twirp.NotFound
}

// publishDTMF sends a digit the phone keyed to the room as livekit-sip does:
// a SipDTMF data packet, reliable, to everyone.
func (s *Session) publishDTMF(k keyPress) {
	s.stats.digit(k.digit)
	if err := s.room.LocalParticipant.PublishDTMF(uint32(k.code), string(k.digit)); err != nil {
		s.log.Warn("could not send DTMF to the room", "digit", string(k.digit), "error", err)
		return
	}
	s.log.Info("phone sent DTMF", "digit", string(k.digit))
}

// participantJoined notes that someone other than a phone is in the room:
// from then on, their all leaving ends the call. It tells them what
// happened to the call so far.
func (s *Session) participantJoined(rp *lksdk.RemoteParticipant) {
	if rp.Kind() == lksdk.ParticipantSIP {
		return
	}
	s.mu.Lock()
	s.seenOthers = true
	s.mu.Unlock()
	s.log.Debug("participant joined", "participant", rp.Identity(), "kind", livekit.ParticipantInfo_Kind(rp.Kind()).String())
	s.catchUp()
}

// participantLeft ends the call if nobody but phones is left in the room:
// the agent is gone and nobody can answer the person any more.
func (s *Session) participantLeft(rp *lksdk.RemoteParticipant) {
	s.mu.Lock()
	if rp.Kind() != lksdk.ParticipantSIP {
		s.seenOthers = true // its join may not have been handled yet
	}
	restarting := s.restarting
	s.mu.Unlock()
	s.log.Debug("participant left", "participant", rp.Identity())
	if !restarting {
		s.endIfAlone()
	}
}

func (s *Session) endIfAlone() {
	for _, rp := range s.room.GetRemoteParticipants() {
		if rp.Kind() != lksdk.ParticipantSIP {
			return
		}
	}
	s.mu.Lock()
	seen := s.seenOthers
	s.mu.Unlock()
	if seen && s.cfg.OnAlone != nil {
		s.log.Info("everyone else left the room; the call goes on")
		s.cfg.OnAlone()
		return
	}
	if seen {
		s.log.Info("everyone else left the room")
		s.requestEnd(ReasonAgentLeft)
	}
}

// removedFromRoom handles livekit-server dropping the phone participant:
// the room was deleted or the participant removed.
func (s *Session) removedFromRoom() {
	select {
	case <-s.stop:
		return // Close is leaving the room itself
	default:
	}
	s.mu.Lock()
	s.removed = true
	s.mu.Unlock()
	s.log.Info("phone participant dropped from the room", "disconnect_reason", s.room.DisconnectReason().String())
	s.requestEnd(ReasonRoomClosed)
}

// reconnecting and reconnected bracket the SDK's reconnection to
// livekit-server, during which it reports every participant as gone.
func (s *Session) reconnecting() {
	s.mu.Lock()
	s.restarting = true
	s.mu.Unlock()
	s.log.Warn("reconnecting to livekit-server")
}

func (s *Session) reconnected() {
	s.mu.Lock()
	s.restarting = false
	s.mu.Unlock()
	s.log.Info("reconnected to livekit-server")
	s.endIfAlone()
}

// trackPublished subscribes to every audio track published in the room.
func (s *Session) trackPublished(pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if pub.Kind() != lksdk.TrackKindAudio {
		return
	}
	if err := pub.SetSubscribed(true); err != nil {
		s.log.Warn("could not subscribe to audio track", "participant", rp.Identity(), "track_sid", pub.SID(), "error", err)
	}
}

// trackSubscribed feeds an audio track into the mix sent to the phone,
// decoded to 8 kHz mono by a roomTrack (which also smooths its jitter).
func (s *Session) trackSubscribed(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	if track.Kind() != webrtc.RTPCodecTypeAudio {
		return
	}
	if mime := track.Codec().MimeType; !strings.EqualFold(mime, webrtc.MimeTypeOpus) {
		s.log.Warn("cannot decode audio track", "participant", rp.Identity(), "track_sid", pub.SID(), "codec", mime)
		return
	}
	s.mu.Lock()
	relaying := s.remotes[pub.SID()]
	s.mu.Unlock()
	if relaying != nil && relaying.track == track {
		return // the SDK reported this subscription already
	}
	in := s.mix.newInput(rp.Identity() + "/" + pub.SID())
	rt, err := newRoomTrack(track, in, s.log.With("participant", rp.Identity(), "track_sid", pub.SID()))
	if err != nil {
		in.Close()
		s.log.Warn("cannot decode audio track", "participant", rp.Identity(), "track_sid", pub.SID(), "error", err)
		return
	}
	s.mu.Lock()
	if s.remotes == nil { // closed meanwhile
		s.mu.Unlock()
		rt.Close()
		return
	}
	old := s.remotes[pub.SID()]
	s.remotes[pub.SID()] = rt
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	s.log.Info("relaying audio track to the phone", "participant", rp.Identity(),
		"kind", livekit.ParticipantInfo_Kind(rp.Kind()).String(), "track_sid", pub.SID())
}

func (s *Session) trackUnsubscribed(_ *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
	s.mu.Lock()
	rt := s.remotes[pub.SID()]
	delete(s.remotes, pub.SID())
	s.mu.Unlock()
	if rt != nil {
		rt.Close()
		s.log.Debug("stopped relaying audio track", "participant", rp.Identity(), "track_sid", pub.SID())
	}
}

// attributesChanged notices livekit-server confirming the phone's
// sip.callStatus "hangup", which Close waits for.
func (s *Session) attributesChanged(changed map[string]string, p lksdk.Participant) {
	if _, local := p.(*lksdk.LocalParticipant); local && changed[livekit.AttrSIPCallStatus] == callStatusHangup {
		s.ackOnce.Do(func() { close(s.hangupAck) })
	}
}
