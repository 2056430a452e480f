package livekit

import (
	"context"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// Line dials through a LiveKit SIP outbound trunk: LiveKit's SIP service
// sends the INVITE and the phone joins the call's room as a participant. It
// implements dialq.Line.
type Line struct {
	SIP dialq.SIPParticipants
	// RingTimeout is how long the phone may ring, unless the call has its
	// own ring_timeout.
	RingTimeout time.Duration
	// FollowInterval is how often Recover looks again at a phone an earlier
	// attempt left ringing.
	FollowInterval time.Duration
	// Now is the clock.
	Now func() time.Time
}

var _ dialq.Line = (*Line)(nil)

// NewLine returns the LiveKit SIP line of sip.
func NewLine(sip dialq.SIPParticipants, ringTimeout time.Duration) *Line {
	return &Line{SIP: sip, RingTimeout: ringTimeout, FollowInterval: 500 * time.Millisecond, Now: time.Now}
}

// Dial dials c's phone through its LiveKit trunk, with the call's dial
// options, and returns once it answered (the SDK waits up to the ring time
// plus 2 s).
func (l *Line) Dial(ctx context.Context, c *dialq.Call) (dialq.Dialed, error) {
	p, err := l.SIP.DialSIP(ctx, dialq.DialRequest{
		CallID:         c.ID.String(),
		Room:           c.RoomName,
		LiveKitTrunkID: c.LiveKitTrunkID,
		ToNumber:       c.ToNumber,
		Identity:       dialq.ParticipantIdentityFor(c.ToNumber),
		RingTimeout:    c.Options.Ring(l.RingTimeout),
		// A call's own max_duration is LiveKit's to keep, to the second;
		// without one the reconciler hangs up at DIALQ_MAX_CALL_DURATION.
		MaxDuration: c.Options.MaxCall(0),
		Options:     c.Options,
	})
	if err != nil {
		return dialq.Dialed{}, err
	}
	return dialq.Dialed{Answered: &p}, nil
}

// Recover looks for the phone in the call's room: an earlier attempt that
// died after its dial left it there, ringing or answered. It follows a
// ringing phone until it answers, hangs up, leaves or outlasts the ring time.
func (l *Line) Recover(ctx context.Context, c *dialq.Call) (dialq.Dialed, bool, error) {
	ps, found, err := l.SIP.FindPhone(ctx, c.RoomName, dialq.ParticipantIdentityFor(c.ToNumber))
	if err != nil || !found {
		return dialq.Dialed{}, false, err
	}
	d, err := l.follow(ctx, c, ps)
	return d, true, err
}

func (l *Line) follow(ctx context.Context, c *dialq.Call, ps dialq.PhoneState) (dialq.Dialed, error) {
	deadline := l.Now().Add(c.Options.Ring(l.RingTimeout) + dialq.DialMargin)
	for {
		switch ps.CallStatus {
		case "active", "":
			p := ps.Participant
			return dialq.Dialed{Answered: &p}, nil
		case "hangup":
			return dialq.Dialed{}, &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonNoAnswer,
				Message: "the phone dialed by an earlier attempt hung up before an answer was seen"}}
		}
		if l.Now().After(deadline) {
			return dialq.Dialed{}, &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonNoAnswer,
				Message: "the phone dialed by an earlier attempt did not answer within the ring time"}}
		}
		select {
		case <-ctx.Done():
			return dialq.Dialed{}, ctx.Err()
		case <-time.After(l.FollowInterval):
		}
		var found bool
		var err error
		if ps, found, err = l.SIP.FindPhone(ctx, c.RoomName, ps.Identity); err != nil {
			return dialq.Dialed{}, err
		}
		if !found {
			return dialq.Dialed{}, &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonNoAnswer,
				Message: "the phone dialed by an earlier attempt left the room without answering"}}
		}
	}
}
