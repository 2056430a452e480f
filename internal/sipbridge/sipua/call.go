package sipua

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Who ended a call, as Events.HungUp reports it.
const (
	ByRemote = "remote"
	ByLocal  = "local"
)

// Events are what happens to a call after Start. The UA calls them from its
// own goroutines, so they must return quickly. They may call the Call's
// methods, but Hangup called from Ringing waits for its context to end:
// Ringing runs on the goroutine that carries the cancel out, so hang up from
// another goroutine.
type Events interface {
	// Ringing reports a 180 or 183 provisional response, once per change
	// of code.
	Ringing(code int)
	// Hold reports that the far end put the call on hold: a re-INVITE or
	// UPDATE whose SDP stopped listening (a=sendonly, a=inactive or
	// c=0.0.0.0). The UA has already answered it 200 OK with the mirrored
	// direction (recvonly, inactive).
	Hold(a Answer)
	// Resume reports that the far end took the call off hold.
	Resume(a Answer)
	// HungUp reports the end of an answered call, once. by is ByRemote when
	// the far end sent BYE (reason is its Reason header, else "bye"), or
	// ByLocal when dialq ended it (reason "hangup", or "shutdown" when the
	// UA closed). Done is closed before HungUp is called.
	HungUp(by, reason string)
}

// NoEvents ignores every event. Embed it to implement only some of Events.
type NoEvents struct{}

// Ringing implements Events.
func (NoEvents) Ringing(int) {}

// Hold implements Events.
func (NoEvents) Hold(Answer) {}

// Resume implements Events.
func (NoEvents) Resume(Answer) {}

// HungUp implements Events.
func (NoEvents) HungUp(string, string) {}

type callState int

const (
	stateDialing  callState = iota
	stateAnswered           // ACK sent, media flowing
	stateEnding             // dialq's BYE in flight
	stateEnded
)

// settleWait bounds how long a request of the far end waits for dialing to
// finish: one that overtakes the ACK arrives while the 200 is being handled.
const settleWait = 5 * time.Second

// Call is one outbound call, from its INVITE to its BYE. Its methods are
// safe for concurrent use.
type Call struct {
	ua          *UA
	ev          Events
	log         *slog.Logger
	reliable    bool // TCP: no retransmissions to make
	contact     sip.ContactHeader
	auth        sipgo.AnswerOptions
	ringTimeout time.Duration
	carrier     string // the profile's Name, for failure messages
	sess        *sipgo.DialogClientSession
	callID      string

	dialCtx     context.Context
	stopDialing context.CancelCauseFunc
	settled     chan struct{} // closed once dialing has its outcome
	done        chan struct{} // closed once the call is over
	acks        chan uint32   // CSeq numbers of ACKs to our 200s to re-INVITEs

	// Touched only by the dial goroutine.
	gotResponse bool
	lastRinging int
	challenges  int

	// wireMu guards what the transport saw of the INVITE's responses, in
	// the order they arrived. sipgo's transaction layer handles each
	// response on a goroutine of its own: a 200 right behind a 180 can win,
	// and the transaction, answered, then drops the 180. The 18x codes seen
	// on the wire are reported from the next response the dial goroutine
	// gets, so the answer never comes without the ringing before it.
	wireMu    sync.Mutex
	wireRings []int  // 180 and 183 codes not yet reported
	wireFinal uint32 // CSeq of the last INVITE with a final response (a challenge, the answer): its 18x are stale

	// offerMu serializes the far end's offers; it guards sdp after Start.
	offerMu sync.Mutex
	sdp     sdpSession

	mu          sync.Mutex
	state       callState
	hangupAsked bool
	result      error
	answer      Answer
	invite      SentInvite
	dialogID    string
	remoteCSeq  uint32
}

// CallID is the SIP Call-ID of the call.
func (c *Call) CallID() string { return c.callID }

// RemoteTag is the far end's tag of the dialog, from the To header of its
// 200 OK to the INVITE (livekit-sip's sip.callTag). It is empty until
// Answered returns nil, and for a call that failed or was canceled.
func (c *Call) RemoteTag() string {
	select {
	case <-c.settled:
	default:
		return ""
	}
	c.mu.Lock()
	failed := c.result != nil
	c.mu.Unlock()
	if failed {
		return ""
	}
	// The dial goroutine wrote the response before it settled the call,
	// and nothing writes it since.
	res := c.sess.InviteResponse
	if res == nil || !res.IsSuccess() || res.To() == nil {
		return ""
	}
	tag, _ := res.To().Params.Get("tag")
	return tag
}

// SentInvite is the INVITE as last sent: after a digest challenge, the
// authenticated one.
func (c *Call) SentInvite() SentInvite {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invite
}

// Answer is the far end's media as last negotiated: by the 200 OK, then by
// each re-INVITE or UPDATE, including those that move the media without a
// change of hold, which raise no event. It is the zero Answer until the
// call is answered.
func (c *Call) Answer() Answer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answer
}

// Done is closed when the call is over: failed, canceled, or hung up by
// either side.
func (c *Call) Done() <-chan struct{} { return c.done }

// Answered waits until dialing has an outcome. It returns nil once the
// callee answered (the call goes on until Hangup or the far end's BYE);
// a *dialq.StepError when the call failed, carrying the dialq.Failure to
// record (busy, no_answer, rejected, unreachable, carrier_error, trunk_error,
// with the SIP code and reason phrase); ErrCanceled when dialq hung up first;
// or ctx's error if ctx ends first, which leaves the call ringing.
func (c *Call) Answered(ctx context.Context) error {
	select {
	case <-c.settled:
	default:
		select {
		case <-c.settled:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.result
}

// Hangup ends the call: BYE once answered, CANCEL while it rings. It waits
// for the far end's response, or for ctx. Hanging up an ended call does
// nothing. It returns ctx's error if ctx ends first, and an error if the BYE
// got no response at all; either way the call is over for dialq.
func (c *Call) Hangup(ctx context.Context) error {
	return c.hangup(ctx, "hangup")
}

func (c *Call) hangup(ctx context.Context, reason string) error {
	c.mu.Lock()
	state := c.state
	switch state {
	case stateDialing:
		c.hangupAsked = true
	case stateAnswered:
		c.state = stateEnding
	}
	c.mu.Unlock()

	switch state {
	case stateDialing:
		c.log.Info("canceling", "reason", reason)
		c.stopDialing(errHangup)
	case stateAnswered:
		c.log.Info("hanging up", "reason", reason)
		err := c.sendBye(ctx)
		c.end(ByLocal, reason)
		if err != nil {
			return fmt.Errorf("hang up call %s: %w", c.callID, err)
		}
		return nil
	}
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// end finishes an answered call and reports it, once. Calls that never
// got answered end through settle instead.
func (c *Call) end(by, reason string) {
	c.mu.Lock()
	if c.state != stateAnswered && c.state != stateEnding {
		c.mu.Unlock()
		return
	}
	c.state = stateEnded
	id := c.dialogID
	c.mu.Unlock()
	c.ua.forget(c, id)
	close(c.done)
	c.log.Info("call ended", "by", by, "reason", reason)
	c.ev.HungUp(by, reason)
}

// awaitSettled waits for the dial goroutine to finish with the 200 OK that
// a request of the far end may have overtaken.
func (c *Call) awaitSettled() {
	t := time.NewTimer(settleWait)
	defer t.Stop()
	select {
	case <-c.settled:
	case <-t.C:
	}
}

// onBye answers the far end's BYE and ends the call.
func (c *Call) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c.awaitSettled()
	c.mu.Lock()
	live := c.state == stateAnswered || c.state == stateEnding
	c.mu.Unlock()
	if !live {
		c.ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.ua.respond(tx, req, 200, "OK")
	reason := "bye"
	if h := req.GetHeader("Reason"); h != nil {
		reason = h.Value()
	}
	c.end(ByRemote, reason)
}

// onAck takes the ACK of our 200 to a re-INVITE. ACKs of 2xx are
// transactions of their own, so they reach the UA's ACK handler rather than
// the re-INVITE's server transaction.
func (c *Call) onAck(req *sip.Request) {
	select {
	case c.acks <- req.CSeq().SeqNo:
	default: // nobody waits (TCP) or a stale ACK is already queued
	}
}

// onOffer answers the far end's re-INVITE or UPDATE: with its codec and the
// mirror of its direction, reporting Hold or Resume when that changes. An
// UPDATE without SDP is a session refresh and gets a bare 200.
func (c *Call) onOffer(req *sip.Request, tx sip.ServerTransaction) {
	c.awaitSettled()
	c.offerMu.Lock()
	defer c.offerMu.Unlock()

	cseq := req.CSeq().SeqNo
	c.mu.Lock()
	live := c.state == stateAnswered
	stale := c.remoteCSeq != 0 && cseq <= c.remoteCSeq
	if live && !stale {
		c.remoteCSeq = cseq
	}
	prev := c.answer
	c.mu.Unlock()
	switch {
	case !live:
		c.ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	case stale:
		// RFC 3261 section 12.2.2: a request out of order is refused.
		c.ua.respond(tx, req, 500, "Server Internal Error")
		return
	}

	next := prev
	var body []byte
	switch {
	case len(req.Body()) > 0:
		a, err := parseAnswer(req.Body())
		if err != nil {
			c.log.Warn("refusing offer", "method", req.Method.String(), "error", err)
			c.ua.respond(tx, req, 488, "Not Acceptable Here")
			return
		}
		next = a
		body = c.sdp.answerTo(a)
	case req.IsInvite():
		// A re-INVITE without SDP wants an offer in our 200 (its answer
		// comes in the ACK); offer the media as it stands.
		body = c.sdp.answerTo(prev)
	}

	res := sip.NewResponseFromRequest(req, 200, "OK", body)
	res.AppendHeader(sip.HeaderClone(&c.contact))
	if body != nil {
		ct := sip.ContentTypeHeader("application/sdp")
		res.AppendHeader(&ct)
	}
	if err := tx.Respond(res); err != nil {
		c.log.Warn("answer offer", "method", req.Method.String(), "error", err)
		return
	}

	c.mu.Lock()
	c.answer = next
	c.mu.Unlock()
	switch {
	case !prev.OnHold() && next.OnHold():
		c.log.Info("far end put the call on hold", "direction", next.Direction)
		c.ev.Hold(next)
	case prev.OnHold() && !next.OnHold():
		c.log.Info("far end resumed the call", "direction", next.Direction)
		c.ev.Resume(next)
	}
	if req.IsInvite() && !c.reliable {
		c.awaitAck(tx, res, cseq)
	}
}

// awaitAck retransmits our 200 to a re-INVITE over UDP until its ACK comes
// (RFC 3261 section 13.3.1.4): sipgo's server transaction leaves 2xx
// retransmission to the user agent.
func (c *Call) awaitAck(tx sip.ServerTransaction, res *sip.Response, cseq uint32) {
	wait := sip.T1
	retransmit := time.NewTimer(wait)
	defer retransmit.Stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case seq := <-c.acks:
			if seq == cseq {
				return
			}
		case <-c.done:
			return
		case <-giveUp.C:
			c.log.Warn("no ACK to our 200 to a re-INVITE", "cseq", cseq)
			return
		case <-retransmit.C:
			if err := tx.Respond(res); err != nil {
				c.log.Warn("retransmit 200 to re-INVITE", "error", err)
				return
			}
			wait = min(2*wait, sip.T2)
			retransmit.Reset(wait)
		}
	}
}
