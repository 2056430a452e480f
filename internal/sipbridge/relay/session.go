package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// Why a Session ended by itself, as Reason reports it. A Session ended by
// Close reports the reason given to Close.
const (
	// ReasonNoRTP: the phone sent no RTP for Config.NoRTPTimeout.
	ReasonNoRTP = "no RTP"
	// ReasonMaxDuration: the call lasted Config.MaxDuration.
	ReasonMaxDuration = "max duration"
	// ReasonRoomClosed: the room was deleted or livekit-server removed the
	// phone participant.
	ReasonRoomClosed = "room closed"
	// ReasonAgentLeft: everyone else in the room (the agent) left it.
	ReasonAgentLeft = "agent left"
)

// G.711 payload types, the only audio codecs the bridge speaks.
const (
	PayloadTypePCMU uint8 = 0
	PayloadTypePCMA uint8 = 8
)

// Values of the sip.callStatus attribute, as livekit-sip sets them.
const (
	callStatusDialing = "dialing"
	callStatusRinging = "ringing"
	callStatusActive  = "active"
	callStatusHangup  = "hangup"
)

// ErrClosed is returned by the Session's methods once it has ended.
var ErrClosed = errors.New("relay: session closed")

// Session is one bridged call: the phone participant in the call's room and
// the RTP port the phone talks to. Its methods are safe for concurrent use.
type Session struct {
	cfg  Config
	log  *slog.Logger
	conn *net.UDPConn
	room *lksdk.Room
	// track carries the phone's audio into the room, encoded by phone.
	track *lksdk.LocalTrack
	phone *phoneTrack
	mix   *mixer
	stats counters
	// events is what the room's participants were told of the call.
	events callEvents
	// keysOut holds the DTMF digits on their way to the phone (SendDTMF);
	// ring the ringback the room hears while the phone rings.
	keysOut dtmfSender
	ring    ringback

	answered  chan struct{} // closed by Answered
	stop      chan struct{} // closed by Close: the loops end
	done      chan struct{} // closed once Close has finished
	end       chan string   // a loop or room callback asks to end; capacity 1
	hangupAck chan struct{} // livekit-server confirmed sip.callStatus hangup
	closeOnce sync.Once
	ackOnce   sync.Once
	loops     sync.WaitGroup // receive and pace

	mu         sync.Mutex
	status     string            // sip.callStatus last published
	dialog     map[string]string // sip.callID, sip.callIDFull, sip.callTag as published
	remote     netip.AddrPort    // where the phone's RTP comes from and goes to
	latched    bool              // a packet came from remote: it no longer moves
	audioPT    uint8
	dtmfPT     int // -1: no telephone-event
	onHold     bool
	heardAt    time.Time // last packet accepted from the phone, answer or resume
	reason     string
	removed    bool                  // livekit-server dropped the phone participant
	seenOthers bool                  // someone else has been in the room
	restarting bool                  // the SDK is reconnecting: participants seem to leave
	remotes    map[string]*roomTrack // by track SID
}

// New joins cfg.Room as the phone participant and publishes its audio track;
// conn is the RTP port from Listen, offered in the SDP. The participant
// joins as livekit-sip's would: kind SIP, name cfg.PhoneNumber,
// sip.callStatus "dialing", sip.phoneNumber, and sip.trunkPhoneNumber,
// sip.trunkID and sip.hostname when known, with dialq.callID. The SIP
// dialog's identifiers come once the INVITE is out (SetDialog). The
// Session takes conn: Close closes it, and so does New if it fails.
//
// ctx bounds joining the room only; the call then lives until Close, or until
// it ends by itself (see Done). Returns an error if cfg lacks a required
// field or has a negative duration, or if the room cannot be joined.
func New(ctx context.Context, cfg Config, conn *net.UDPConn) (*Session, error) {
	if err := cfg.validate(); err != nil {
		conn.Close()
		return nil, err
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("call_id", cfg.CallID, "room", cfg.Room)
	s := &Session{
		cfg:       cfg,
		log:       log,
		conn:      conn,
		mix:       &mixer{},
		answered:  make(chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		end:       make(chan string, 1),
		hangupAck: make(chan struct{}),
		status:    callStatusDialing,
		dialog:    make(map[string]string),
		dtmfPT:    -1,
		remotes:   make(map[string]*roomTrack),
	}
	s.events.told = make(map[string]callState)
	if err := s.join(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("join room %s as %s: %w", cfg.Room, cfg.Identity, err)
	}
	s.loops.Add(1)
	go s.receive()
	go s.supervise()
	s.log.Info("phone joined room", "participant", cfg.Identity,
		"participant_sid", s.room.LocalParticipant.SID(), "rtp_addr", conn.LocalAddr().String())
	return s, nil
}

// SetDialog publishes what identifies the call's SIP dialog on the phone
// participant, as livekit-sip does: callID, its Call-ID header, as
// sip.callIDFull and as sip.callID (which livekit-sip fills with its own
// SCL_ id: the bridge's own id of the call is the Call-ID, as the call's
// row records it), and tag, the far end's tag (the To tag of its answer),
// as sip.callTag. An empty or unchanged value is not published: the user
// agent knows the Call-ID once the INVITE is out, the tag once the far end
// answered.
func (s *Session) SetDialog(callID, tag string) {
	attrs := map[string]string{}
	s.mu.Lock()
	if s.reason != "" {
		s.mu.Unlock()
		return // the phone is leaving the room
	}
	for k, v := range map[string]string{livekit.AttrSIPCallID: callID, attrSIPCallIDFull: callID, attrSIPCallTag: tag} {
		if v != "" && s.dialog[k] != v {
			s.dialog[k] = v
			attrs[k] = v
		}
	}
	s.mu.Unlock()
	if len(attrs) > 0 {
		s.room.LocalParticipant.SetAttributes(attrs)
	}
}

// Ringing publishes sip.callStatus "ringing": the phone rings (180/183),
// and starts the ringback on the phone's track if Config.Ringtone is set.
// It does nothing once the call is answered or over.
func (s *Session) Ringing() {
	s.mu.Lock()
	ok := s.status == callStatusDialing && s.reason == ""
	if ok {
		s.status = callStatusRinging
	}
	s.mu.Unlock()
	if ok {
		s.room.LocalParticipant.SetAttributes(map[string]string{livekit.AttrSIPCallStatus: callStatusRinging})
		s.log.Debug("phone ringing")
		if s.cfg.Ringtone {
			s.ring.start(s)
		}
	}
}

// Answered starts the call once the phone picked up (200 OK): the media now
// flows between remote, the address in the phone's SDP answer, and the room.
// payloadType is the G.711 codec the answer chose (PayloadTypePCMU or
// PayloadTypePCMA) and dtmfPT the payload type of its telephone-event, or -1
// if it has none. Answered publishes sip.callStatus "active" with
// lk.sip.answerTime and dialq.hold "false", then sends
// {"event":"call_answered"} on the "sip_bridge_events" topic so the agent
// starts talking; an agent that joins later gets it when it joins. The
// ringback, if it played, stops first: the phone's track carries the phone
// from then on.
//
// Returns an error if remote is nil, payloadType is not G.711 or dtmfPT is
// not -1 or 0..127, ErrClosed if the session has ended; a second call does
// nothing.
func (s *Session) Answered(remote *net.UDPAddr, payloadType uint8, dtmfPT int) error {
	if remote == nil {
		return errors.New("answered: remote RTP address is required")
	}
	if payloadType != PayloadTypePCMU && payloadType != PayloadTypePCMA {
		return fmt.Errorf("answered: payload type %d is not G.711 (0 PCMU or 8 PCMA)", payloadType)
	}
	if dtmfPT < -1 || dtmfPT > 127 {
		return fmt.Errorf("answered: telephone-event payload type %d is not -1 or 0-127", dtmfPT)
	}
	s.ring.stop()
	now := time.Now()
	s.mu.Lock()
	if s.reason != "" {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.status == callStatusActive {
		s.mu.Unlock()
		return nil
	}
	s.status = callStatusActive
	s.remote = addrPort(remote)
	s.audioPT = payloadType
	s.dtmfPT = dtmfPT
	s.heardAt = now
	// Added under mu: Close sets reason under mu before it waits for the
	// loops, so it either waits for this one or made Answered fail above.
	s.loops.Add(1)
	s.mu.Unlock()

	s.mix.open.Store(true)
	close(s.answered)
	go s.pace(now)

	s.room.LocalParticipant.SetAttributes(map[string]string{
		livekit.AttrSIPCallStatus: callStatusActive,
		livekit.AttrSIPAnswerTime: fmt.Sprint(now.UnixMilli()),
		attrHold:                  "false",
	})
	s.announce(eventAnswered)
	s.log.Info("phone answered", "remote_rtp", s.remote.String(), "payload_type", payloadType, "dtmf_payload_type", dtmfPT)
	return nil
}

// Hold stops the audio to the phone, which the far end put on hold
// (re-INVITE with sendonly or inactive), publishes dialq.hold "true" and
// sends {"event":"call_hold"} on the "sip_bridge_events" topic; an agent
// that joins while the call is on hold gets it (after call_answered) when
// it joins. Silence from the phone while on hold does not end the call. It
// does nothing unless the call is active and not already on hold.
func (s *Session) Hold() {
	if s.setHold(true) {
		s.room.LocalParticipant.SetAttributes(map[string]string{attrHold: "true"})
		s.announce(eventHold)
		s.log.Info("call on hold")
	}
}

// Resume restarts the audio to the phone after Hold, publishes dialq.hold
// "false" and sends {"event":"call_resume"} on the "sip_bridge_events"
// topic. It does nothing unless the call is on hold.
func (s *Session) Resume() {
	if s.setHold(false) {
		s.room.LocalParticipant.SetAttributes(map[string]string{attrHold: "false"})
		s.announce(eventResume)
		s.log.Info("call resumed")
	}
}

func (s *Session) setHold(hold bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != callStatusActive || s.reason != "" || s.onHold == hold {
		return false
	}
	s.onHold = hold
	s.heardAt = time.Now()
	return true
}

// Close ends the call for reason (for example "phone hung up"): it stops the
// media, publishes sip.callStatus "hangup" if the call was answered (like
// livekit-sip, a call that never was leaves without it), takes the phone
// participant out of the room and closes the RTP port. It returns once all
// of that is done. Only the first call, or the Session ending by itself,
// sets Reason; later calls wait for the first to finish.
func (s *Session) Close(reason string) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.reason = reason
		answered := s.status == callStatusActive
		removed := s.removed
		s.mu.Unlock()

		s.stopEvents()
		close(s.stop)
		s.conn.Close()
		s.loops.Wait()
		s.ring.stop()
		s.leave(answered, removed, reason)
		s.track.Close()
		s.mu.Lock()
		remotes := s.remotes
		s.remotes = nil
		s.mu.Unlock()
		for _, t := range remotes {
			t.Close()
		}
		st := s.stats.snapshot()
		s.log.Info("call bridge closed", "reason", reason, "packets_in", st.PacketsIn, "packets_out", st.PacketsOut,
			"packets_dropped", st.PacketsDropped, "late_frames", st.LateFrames, "frames_skipped", st.FramesSkipped,
			"send_lateness_p99", st.SendLatenessP99, "max_send_jitter", st.MaxSendJitter, "dtmf", st.DTMF)
		close(s.done)
	})
}

// Done is closed once the Session has ended, by Close or by itself; Reason
// then says why. The SIP user agent watches it to send its BYE.
func (s *Session) Done() <-chan struct{} { return s.done }

// Reason says why the Session ended: one of the Reason* constants or the
// reason given to Close. It is empty while the call goes on.
func (s *Session) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Stats returns the Session's counters so far.
func (s *Session) Stats() Stats { return s.stats.snapshot() }

// requestEnd asks supervise to end the Session for reason. Only the first
// request counts.
func (s *Session) requestEnd(reason string) {
	select {
	case s.end <- reason:
	default:
	}
}

// supervise ends the Session when asked to, when the phone falls silent for
// NoRTPTimeout and when the call reaches MaxDuration.
func (s *Session) supervise() {
	var noRTP, maxDuration *time.Timer
	var noRTPC, maxDurationC <-chan time.Time
	defer func() {
		if noRTP != nil {
			noRTP.Stop()
		}
		if maxDuration != nil {
			maxDuration.Stop()
		}
	}()
	answered := s.answered
	for {
		select {
		case <-s.stop:
			return
		case reason := <-s.end:
			s.Close(reason)
			return
		case <-answered:
			answered = nil
			if d := s.cfg.NoRTPTimeout; d > 0 {
				noRTP = time.NewTimer(d)
				noRTPC = noRTP.C
			}
			if d := s.cfg.MaxDuration; d > 0 {
				maxDuration = time.NewTimer(d)
				maxDurationC = maxDuration.C
			}
		case <-noRTPC:
			s.mu.Lock()
			hold, heard := s.onHold, s.heardAt
			s.mu.Unlock()
			idle := time.Since(heard)
			switch {
			case hold:
				noRTP.Reset(s.cfg.NoRTPTimeout)
			case idle >= s.cfg.NoRTPTimeout:
				s.log.Warn("no RTP from the phone", "for", idle.Round(time.Millisecond))
				s.Close(ReasonNoRTP)
				return
			default:
				noRTP.Reset(s.cfg.NoRTPTimeout - idle)
			}
		case <-maxDurationC:
			s.log.Info("call reached its max duration", "max_duration", s.cfg.MaxDuration)
			s.Close(ReasonMaxDuration)
			return
		}
	}
}

// target returns where the next frame to the phone goes and in which
// payload type; ok is false while the call is on hold.
func (s *Session) target() (dst netip.AddrPort, pt uint8, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remote, s.audioPT, !s.onHold
}

// addrPort converts a UDP address for comparison with the ones the socket
// reports (IPv4 addresses unmapped).
func addrPort(a *net.UDPAddr) netip.AddrPort {
	ap := a.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// newSSRC picks the random SSRC, first sequence number and first timestamp
// of the stream to the phone (RFC 3550 §5.1).
func newSSRC() (ssrc uint32, seq uint16, ts uint32) {
	return rand.Uint32(), uint16(rand.Uint32()), rand.Uint32()
}

// ParticipantSID is the LiveKit participant id of the phone participant.
func (s *Session) ParticipantSID() string { return s.room.LocalParticipant.SID() }
