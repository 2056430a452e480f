package sipua

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// DefaultRingTimeout is how long a call rings when its DialRequest gives no
// RingTimeout.
const DefaultRingTimeout = 60 * time.Second

// cancelBudget is how long Dial waits for a CANCEL to complete once its
// context ended: the 200 to the CANCEL and the 487 take one round trip each.
const cancelBudget = 5 * time.Second

// DialRequest is one call to place through a carrier's SIP trunk.
type DialRequest struct {
	// CallID is dialq's id of the call, put on every log line about it.
	CallID string
	// Profile is the carrier's (dialq.Exotel, say): it writes the callee
	// in the Request-URI and names the carrier in failure messages.
	// Required.
	Profile dialq.SIPProfile
	// Trunk is the carrier's trunk, normalized for Profile
	// (dialq.SIPTrunkConfig.Normalize). Transport "" means TCP; FromDomain
	// "" means SIPHost.
	Trunk dialq.SIPTrunkConfig
	// ToNumber is the callee in E.164 form, e.g. +918044319240. It is
	// dialled as Profile.DialledNumber writes it.
	ToNumber string
	// Offer is the local end of the media.
	Offer Offer
	// RingTimeout is how long the call may go without a final response
	// before dialq cancels it and it fails as no_answer. It counts from the
	// INVITE, so it includes the time the carrier takes to reach the phone.
	// Zero means DefaultRingTimeout.
	RingTimeout time.Duration
	// Headers are extra INVITE headers, e.g. X-Dialq-Call-Id. They may not
	// replace the headers the UA writes itself.
	Headers map[string]string
	// DisplayName is the caller's name in the From header, quoted; "" shows
	// the caller ID (Trunk.CallerID) there instead. It may not contain
	// quotes, backslashes or control characters.
	DisplayName string
}

// reserved are the headers the UA writes itself; Headers may not set them.
var reserved = []string{"via", "from", "to", "call-id", "cseq", "contact", "max-forwards",
	"content-type", "content-length", "authorization", "proxy-authorization", "route", "user-agent", "allow"}

// validate fills the trunk's defaults and returns what is wrong with r.
func (r *DialRequest) validate() *dialq.StepError {
	t := &r.Trunk
	t.Transport = strings.ToLower(t.Transport)
	if t.Transport == "" {
		t.Transport = "tcp"
	}
	if t.FromDomain == "" {
		t.FromDomain = t.SIPHost
	}
	if r.RingTimeout == 0 {
		r.RingTimeout = DefaultRingTimeout
	}
	name := r.Profile.Name
	switch {
	case name == "" || r.Profile.Number == nil:
		return invalid(dialq.ReasonInternal, errors.New("the dial request has no SIP profile"))
	case t.SIPHost == "":
		return invalid(dialq.ReasonTrunk, fmt.Errorf("the %s trunk has no SIP host", name))
	case t.SIPPort < 1 || t.SIPPort > 65535:
		return invalid(dialq.ReasonTrunk, fmt.Errorf("the %s trunk's SIP port %d is not 1 to 65535", name, t.SIPPort))
	case t.Transport != "tcp" && t.Transport != "udp":
		return invalid(dialq.ReasonTrunk, fmt.Errorf("the %s trunk's transport %q is not tcp or udp", name, t.Transport))
	case t.CallerID == "":
		return invalid(dialq.ReasonTrunk, fmt.Errorf("the %s trunk has no caller ID", name))
	case r.RingTimeout < 0:
		return invalid(dialq.ReasonInternal, fmt.Errorf("ring timeout %s is negative", r.RingTimeout))
	}
	if err := r.Offer.validate(); err != nil {
		return invalid(dialq.ReasonInternal, err)
	}
	if strings.ContainsFunc(r.DisplayName, func(c rune) bool { return c == '"' || c == '\\' || c < 0x20 || c == 0x7f }) {
		return invalid(dialq.ReasonInternal, fmt.Errorf("display name %q has a quote, a backslash or a control character", r.DisplayName))
	}
	for name, value := range r.Headers {
		if !validHeaderName(name) || strings.ContainsAny(value, "\r\n") {
			return invalid(dialq.ReasonInternal, fmt.Errorf("header %q is not a valid SIP header", name))
		}
		if slices.Contains(reserved, strings.ToLower(name)) {
			return invalid(dialq.ReasonInternal, fmt.Errorf("header %q is written by the SIP user agent", name))
		}
	}
	return nil
}

// validHeaderName reports whether name is a SIP token (RFC 3261 section 25.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-.!%*_+`'~", r)
		if !ok {
			return false
		}
	}
	return true
}

// Start sends the INVITE of r and returns once it is out; the call then
// goes on in the background, reporting to ev (which may be nil). Wait for
// its outcome with Call.Answered; end it with Call.Hangup. ctx bounds only
// connecting to the carrier and sending the INVITE, not the ringing, which
// ends with r.RingTimeout.
//
// Start returns a *dialq.StepError: with Retry and NotPlaced set when the
// INVITE could not be sent (the carrier unreachable), without them when r
// is invalid. It returns ErrClosed once the UA is closed.
func (ua *UA) Start(ctx context.Context, r DialRequest, ev Events) (*Call, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	user, err := r.Profile.DialledNumber(r.ToNumber)
	if err != nil {
		return nil, invalid(dialq.ReasonInternal, err)
	}
	if ev == nil {
		ev = NoEvents{}
	}

	callID := uuid.NewString()
	dialCtx, stop := context.WithCancelCause(context.Background())
	c := &Call{
		ua:          ua,
		ev:          ev,
		log:         ua.log.With("call_id", r.CallID, "sip_call_id", callID),
		callID:      callID,
		reliable:    r.Trunk.Transport == "tcp",
		contact:     ua.contact(r.Trunk.CallerID, r.Trunk.Transport),
		sdp:         sdpSession{offer: r.Offer, id: sessionID()},
		auth:        sipgo.AnswerOptions{Username: r.Trunk.Username, Password: r.Trunk.Password},
		ringTimeout: r.RingTimeout,
		carrier:     r.Profile.Name,
		dialCtx:     dialCtx,
		stopDialing: stop,
		settled:     make(chan struct{}),
		done:        make(chan struct{}),
		acks:        make(chan uint32, 4),
	}
	req := ua.newInvite(r, user, callID, c.contact, c.sdp.initialOffer())
	c.invite = snapshot(req)
	if err := ua.track(c); err != nil {
		stop(err)
		return nil, err
	}

	// From here Close may hang the call up, so the call must reach its end
	// whatever happens.
	dialogUA := &sipgo.DialogUA{Client: ua.client, ContactHDR: c.contact}
	sess, err := dialogUA.WriteInvite(ctx, req)
	if err != nil {
		se := unreachable(c.carrier, false, fmt.Errorf("send INVITE to %s:%d over %s: %w",
			r.Trunk.SIPHost, r.Trunk.SIPPort, r.Trunk.Transport, err))
		se.NotPlaced = true // never written: the dialer may dial again
		c.log.Warn("INVITE not sent", "error", err)
		c.settle(se)
		return nil, se
	}
	c.sess = sess
	c.mu.Lock()
	c.invite = snapshot(req)
	c.mu.Unlock()
	c.log.Info("INVITE sent", "to", user, "trunk", fmt.Sprintf("%s:%d", r.Trunk.SIPHost, r.Trunk.SIPPort),
		"transport", r.Trunk.Transport, "ring_timeout", r.RingTimeout)
	go c.dial()
	return c, nil
}

// Dial places the call and waits until it is answered: Start, then
// Answered. If ctx ends first it cancels the call (CANCEL) and returns an
// error wrapping ErrCanceled and ctx's error. Other errors are Start's and
// Answered's.
func (ua *UA) Dial(ctx context.Context, r DialRequest, ev Events) (*Call, error) {
	c, err := ua.Start(ctx, r, ev)
	if err != nil {
		return nil, err
	}
	if err := c.Answered(ctx); err != nil {
		if ctx.Err() == nil || err != ctx.Err() {
			return nil, err // dialing's own outcome
		}
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelBudget)
		defer cancel()
		if herr := c.Hangup(hctx); herr != nil {
			c.log.Warn("cancel call", "error", herr)
		}
		return nil, fmt.Errorf("%w: %w", ErrCanceled, ctx.Err())
	}
	return c, nil
}

// newInvite builds the INVITE: Request-URI and To are the dialled number at
// the trunk's SIP host, From is the caller ID at the From domain, shown as
// the display name when the request has none.
func (ua *UA) newInvite(r DialRequest, user, callID string, contact sip.ContactHeader, body []byte) *sip.Request {
	t := r.Trunk
	target := sip.Uri{Scheme: "sip", User: user, Host: t.SIPHost, Port: t.SIPPort}
	req := sip.NewRequest(sip.INVITE, target)
	req.SetTransport(strings.ToUpper(t.Transport))
	if t.Transport == "udp" {
		req.Laddr = ua.udpSource()
	}

	name := r.DisplayName
	if name == "" {
		name = t.CallerID
	}
	// sipgo writes the display name as a quoted string; validate made sure
	// it needs no escaping.
	from := &sip.FromHeader{
		DisplayName: name,
		Address:     sip.Uri{Scheme: "sip", User: t.CallerID, Host: t.FromDomain},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	to := &sip.ToHeader{Address: *target.Clone(), Params: sip.NewParams()}
	ct := sip.ContentTypeHeader("application/sdp")
	cid := sip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&contact)
	req.AppendHeader(sip.NewHeader("User-Agent", ua.userAgent))
	req.AppendHeader(sip.NewHeader("Allow", allowed.Value()))
	for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
		req.AppendHeader(sip.NewHeader(name, r.Headers[name]))
	}
	req.AppendHeader(&ct)
	req.SetBody(body)
	return req
}

// sessionID is a random SDP session id, kept below 2^62 so that every SIP
// stack reads it as a positive 64-bit number.
func sessionID() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return binary.BigEndian.Uint64(b[:]) >> 2
}

// SentInvite is the INVITE as dialq last sent it (after answering any
// digest challenge), for logs and tests.
type SentInvite struct {
	RequestURI string
	// From, To and Contact are the header values.
	From, To, Contact string
	// Authorization is the digest credentials header, empty until the
	// carrier challenged. It holds the digest response, never the password.
	Authorization string
	SDP           string
	// Raw is the whole request.
	Raw string
}

func snapshot(req *sip.Request) SentInvite {
	s := SentInvite{RequestURI: req.Recipient.String(), SDP: string(req.Body()), Raw: req.String()}
	if h := req.From(); h != nil {
		s.From = h.Value()
	}
	if h := req.To(); h != nil {
		s.To = h.Value()
	}
	if h := req.Contact(); h != nil {
		s.Contact = h.Value()
	}
	if h := req.GetHeader("Authorization"); h != nil {
		s.Authorization = h.Value()
	}
	return s
}

// Why dialing stopped before a final response.
var (
	errRingTimeout = errors.New("ring timeout")
	errHangup      = errors.New("hung up by dialq")
)

// dial follows the INVITE until it has an outcome: answered (ACK sent),
// failed, or canceled. It runs on its own goroutine from Start.
func (c *Call) dial() {
	ctx, cancel := context.WithTimeoutCause(c.dialCtx, c.ringTimeout, errRingTimeout)
	defer cancel()
	opts := c.auth
	opts.OnResponse = c.onResponse
	err := c.sess.WaitAnswer(ctx, opts)
	cause := context.Cause(ctx)
	res := c.sess.InviteResponse
	c.mu.Lock()
	c.invite = snapshot(c.sess.InviteRequest)
	c.mu.Unlock()

	answered := res != nil && res.IsSuccess()
	switch {
	case answered && !errors.Is(cause, errHangup):
		// The callee answered, perhaps just as the ring time ran out: the
		// 200 crossed the CANCEL, so the call is up all the same.
		c.establish(res)
	case answered:
		c.log.Info("answered as dialq canceled; hanging up")
		c.ackAndBye()
		c.settle(ErrCanceled)
	case errors.Is(cause, errHangup):
		c.log.Info("canceled before answer")
		c.settle(ErrCanceled)
	case errors.Is(cause, errRingTimeout):
		c.settle(c.ringTimedOut(res, err))
	default:
		if dr, ok := errors.AsType[*sipgo.ErrDialogResponse](err); ok {
			c.log.Info("call failed", "sip_code", dr.Res.StatusCode, "sip_status", dr.Res.Reason)
			c.settle(final(sipFailure(c.carrier, dr.Res.StatusCode, dr.Res.Reason), err))
			return
		}
		c.log.Warn("INVITE failed", "error", err, "got_response", c.gotResponse)
		c.settle(unreachable(c.carrier, c.gotResponse, err))
	}
}

// ringTimedOut is the outcome of a call canceled at the end of its ring
// time: no_answer, unless a different final response crossed the CANCEL or
// nothing ever came back.
func (c *Call) ringTimedOut(res *sip.Response, err error) error {
	// WaitAnswer returns the ring context's own error; keep only news.
	cause := errRingTimeout
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		cause = errors.Join(errRingTimeout, err)
	}
	switch {
	case res != nil && res.StatusCode >= 300 && res.StatusCode != 487:
		c.log.Info("call failed as its ring time ran out", "sip_code", res.StatusCode, "sip_status", res.Reason)
		return final(sipFailure(c.carrier, res.StatusCode, res.Reason), cause)
	case !c.gotResponse:
		c.log.Warn("no response to the INVITE within the ring time", "error", err)
		return unreachable(c.carrier, false, cause)
	case res != nil && res.StatusCode == 487:
		c.log.Info("no answer within the ring time; canceled")
		return final(noAnswer(res.StatusCode, res.Reason), cause)
	default:
		c.log.Info("no answer within the ring time; canceled, no 487 came", "error", err)
		return final(noAnswer(0, ""), cause)
	}
}

// onResponse sees every response to the INVITE that sipgo's transaction
// passes up while dialing, on the dial goroutine, before sipgo acts on it.
// It first reports the ringing the wire saw before (see Call.wireMu).
func (c *Call) onResponse(res *sip.Response) error {
	c.gotResponse = true
	c.mu.Lock()
	c.invite = snapshot(c.sess.InviteRequest)
	c.mu.Unlock()
	for _, code := range c.takeWireRings() {
		c.ringing(code)
	}
	switch code := res.StatusCode; {
	case code == 180 || code == 183:
		c.ringing(code)
	case code == 401 || code == 407:
		c.challenges++
		if c.challenges > 1 {
			// sipgo would try once more; a second challenge to an
			// authenticated INVITE means the credentials are wrong.
			return &sipgo.ErrDialogResponse{Res: res}
		}
		c.log.Info("answering digest challenge", "sip_code", code, "username", c.auth.Username)
	case res.IsSuccess():
		// Bind the dialog now: a BYE may overtake our ACK.
		c.bindDialog(res)
	}
	return nil
}

// ringing reports a 180 or 183 unless it repeats the last one. Dial
// goroutine only.
func (c *Call) ringing(code int) {
	if code == c.lastRinging {
		return
	}
	c.lastRinging = code
	c.log.Info("ringing", "sip_code", code)
	c.ev.Ringing(code)
}

// wireResponse notes a response to the INVITE with CSeq seq (the first,
// or the one that answered a digest challenge) as the transport read it.
func (c *Call) wireResponse(seq uint32, code int) {
	c.wireMu.Lock()
	defer c.wireMu.Unlock()
	switch {
	case code >= 200:
		c.wireFinal = max(c.wireFinal, seq)
	case (code == 180 || code == 183) && seq > c.wireFinal:
		c.wireRings = append(c.wireRings, code)
	}
}

// takeWireRings returns the 18x codes the wire saw since the last call.
func (c *Call) takeWireRings() []int {
	c.wireMu.Lock()
	defer c.wireMu.Unlock()
	rings := c.wireRings
	c.wireRings = nil
	return rings
}

func (c *Call) bindDialog(res *sip.Response) {
	id, err := sip.DialogIDFromResponse(res)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.dialogID = id
	c.mu.Unlock()
	c.ua.bindDialog(id, c)
}

// establish ACKs the 200 and makes the call answered, unless its SDP has no
// audio dialq can use or dialq hung up meanwhile.
func (c *Call) establish(res *sip.Response) {
	c.bindDialog(res)
	if err := c.sess.Ack(context.Background()); err != nil {
		c.log.Error("ACK the answer", "error", err)
		c.settle(final(dialq.Failure{Reason: dialq.ReasonCarrier, SIPCode: res.StatusCode, SIPStatus: res.Reason,
			Message: "dialq could not acknowledge " + c.carrier + "'s answer"}, err))
		return
	}
	a, err := parseAnswer(res.Body())
	if err != nil {
		c.log.Warn("answer has no usable audio; hanging up", "error", err)
		c.bye()
		c.settle(final(dialq.Failure{Reason: dialq.ReasonCarrier, SIPCode: res.StatusCode, SIPStatus: res.Reason,
			Message: c.carrier + " answered without audio dialq can use: " + err.Error()}, err))
		return
	}

	c.mu.Lock()
	if c.hangupAsked {
		c.mu.Unlock()
		c.log.Info("answered as dialq hung up; hanging up")
		c.bye()
		c.settle(ErrCanceled)
		return
	}
	c.state = stateAnswered
	c.answer = a
	c.mu.Unlock()
	c.log.Info("answered", "codec", a.Codec, "remote", net.JoinHostPort(a.RemoteIP, fmt.Sprint(a.RemotePort)),
		"dtmf_pt", a.DTMFPayloadType, "direction", a.Direction)
	close(c.settled)
}

// ackAndBye ends a call the far end answered after dialq gave up on it.
func (c *Call) ackAndBye() {
	if err := c.sess.Ack(context.Background()); err != nil {
		c.log.Warn("ACK the late answer", "error", err)
		return
	}
	c.bye()
}

// bye sends BYE within the SIP transaction timeout, logging a failure.
func (c *Call) bye() {
	ctx, cancel := context.WithTimeout(context.Background(), sip.Timer_F)
	defer cancel()
	if err := c.sendBye(ctx); err != nil {
		c.log.Warn("send BYE", "error", err)
	}
}

// sendBye sends BYE and waits for its response. Any final response ends
// the dialog, so only a BYE that got none is an error.
func (c *Call) sendBye(ctx context.Context) error {
	err := c.sess.Bye(ctx)
	if _, ok := errors.AsType[sipgo.ErrDialogResponse](err); ok {
		c.log.Info("BYE answered with an error", "error", err)
		return nil
	}
	if errors.Is(err, sip.ErrTransactionTransport) {
		// The far end closed the connection as the BYE went out (a carrier
		// or sipp that answers 200 and hangs up the TCP connection at
		// once): the dialog is over either way, nothing is left to end.
		c.log.Info("connection closed as the BYE went out", "error", err)
		return nil
	}
	return err
}

// settle records why dialing failed and ends the call.
func (c *Call) settle(err error) {
	c.mu.Lock()
	c.result = err
	c.state = stateEnded
	id := c.dialogID
	c.mu.Unlock()
	c.ua.forget(c, id)
	close(c.settled)
	close(c.done)
}
