package dialq

import (
	"context"
	"time"
)

// A Line dials the phone of a call whose room and agent dispatch exist. There
// is one per way out: a LiveKit SIP trunk (package livekit) and dialq's own
// SIP bridge (package sipbridge). The rules every line shares (mark the call
// dialing first, never dial twice, what a failure does to the call) are the
// dialer's (package dialer); a line only dials and finds what it dialed, so a
// new carrier is one more Line.
type Line interface {
	// Dial sends the call to the phone, once. It returns when the phone
	// answered (Dialed.Answered is set) or when the line has taken the call
	// over and follows it to its end itself (the bridge, once its INVITE is
	// out and recorded). Errors are *StepError, with Retry set only when the
	// dial provably did not reach the phone.
	Dial(ctx context.Context, c *Call) (Dialed, error)
	// Recover finds what an earlier, interrupted attempt of c dialed and
	// follows it as far as Dial would have. found is false when that attempt
	// left no trace on the line.
	Recover(ctx context.Context, c *Call) (d Dialed, found bool, err error)
}

// Dialed is how far a Line took a call.
type Dialed struct {
	// Answered is the phone participant once the phone answered; nil when
	// the line follows the call from here on.
	Answered *Participant
}

// DialMargin is the time the dial step needs beyond the ring time: the
// LiveKit SDK waits RingingTimeout plus 2 s for the answer, and the answer
// must still be recorded. A dial never starts with less than RingTimeout +
// DialMargin left before its deadline: the task would time out while the
// phone rings, and its retry would ring the person a second time.
const DialMargin = 5 * time.Second
