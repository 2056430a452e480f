package sipua_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

const (
	callerID = "08044319240"
	callee   = "+919876543210"
	dialled  = "09876543210"
	mediaIP  = "127.0.0.1"
	rtpPort  = 40000
)

// newUA starts a UA on an ephemeral loopback port, closed when the test ends.
func newUA(t *testing.T) *sipua.UA {
	t.Helper()
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("test", t.Name())
	ua, err := sipua.New(sipua.Config{Log: log})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ua.Close()) })
	return ua
}

// dialRequest dials callee through sipp as the Exotel trunk.
func dialRequest(s *testenv.SippRun, transport string) sipua.DialRequest {
	return sipua.DialRequest{
		CallID:  "call-test",
		Profile: dialq.Exotel,
		Trunk: dialq.SIPTrunkConfig{
			SIPHost:    s.Host,
			SIPPort:    s.Port,
			Transport:  transport,
			FromDomain: "dialq.exotel.test",
			CallerID:   callerID,
			Username:   "exotel-user",
			Password:   "s3cret",
			MediaIP:    mediaIP,
		},
		ToNumber:    callee,
		Offer:       sipua.Offer{MediaIP: mediaIP, RTPPort: rtpPort},
		RingTimeout: 10 * time.Second,
		Headers:     map[string]string{"X-Dialq-Call-Id": "call-test"},
	}
}

// recorder records a call's events; each kind also goes to a channel so a
// test can await it.
type recorder struct {
	mu      sync.Mutex
	ringing []int
	holds   []sipua.Answer
	resumes []sipua.Answer
	hungUp  []string

	rings   chan int
	held    chan sipua.Answer
	resumed chan sipua.Answer
	ended   chan string
}

func newRecorder() *recorder {
	return &recorder{rings: make(chan int, 4), held: make(chan sipua.Answer, 4),
		resumed: make(chan sipua.Answer, 4), ended: make(chan string, 4)}
}

func (r *recorder) Ringing(code int) {
	r.mu.Lock()
	r.ringing = append(r.ringing, code)
	r.mu.Unlock()
	r.rings <- code
}

func (r *recorder) Hold(a sipua.Answer) {
	r.mu.Lock()
	r.holds = append(r.holds, a)
	r.mu.Unlock()
	r.held <- a
}

func (r *recorder) Resume(a sipua.Answer) {
	r.mu.Lock()
	r.resumes = append(r.resumes, a)
	r.mu.Unlock()
	r.resumed <- a
}

func (r *recorder) HungUp(by, reason string) {
	r.mu.Lock()
	r.hungUp = append(r.hungUp, by+": "+reason)
	r.mu.Unlock()
	r.ended <- by + ": " + reason
}

func (r *recorder) hangups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hungUp...)
}

func (r *recorder) rang() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.ringing...)
}

// await returns the next value of ch, failing the test after 10 s.
func await[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		panic("unreachable")
	}
}

func awaitDone(t *testing.T, c *sipua.Call) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("call not done within 10s")
	}
}

// TestDigestAnswerRemoteBye dials through a trunk that challenges the
// INVITE: sipp checks the digest (verifyauth) before it rings and answers,
// then hangs up from its side.
func TestDigestAnswerRemoteBye(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "digest_answer_bye.xml", "tcp", nil)
	ua := newUA(t)
	ev := newRecorder()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	call, err := ua.Dial(ctx, dialRequest(s, "tcp"), ev)
	require.NoError(t, err)

	trunk := fmt.Sprintf("%s:%d", s.Host, s.Port)
	inv := call.SentInvite()
	require.Equal(t, "sip:"+dialled+"@"+trunk, inv.RequestURI)
	require.Regexp(t, `^"08044319240" <sip:08044319240@dialq\.exotel\.test>;tag=\S+$`, inv.From)
	require.Equal(t, "<sip:"+dialled+"@"+trunk+">", inv.To)
	require.Equal(t, fmt.Sprintf("<sip:%s@%s;transport=tcp>", callerID, ua.LocalAddr("tcp")), inv.Contact)
	require.Contains(t, inv.Raw, "\r\nX-Dialq-Call-Id: call-test\r\n")
	require.Contains(t, inv.Raw, "\r\nUser-Agent: dialq\r\n")
	for _, field := range []string{`username="exotel-user"`, `realm="exotel.test"`,
		`nonce="4f3c2b1a0e9d8c7b"`, `uri="sip:` + dialled + "@" + trunk + `"`} {
		require.Contains(t, inv.Authorization, field)
	}
	require.Regexp(t, `^Digest .*response="[0-9a-f]{32}"`, inv.Authorization)
	require.NotContains(t, inv.Raw, "s3cret")
	requireOffer(t, inv.SDP)

	require.Equal(t, sipua.Answer{RemoteIP: "127.0.0.1", RemotePort: s.MediaPort, PayloadType: 0, Codec: "PCMU",
		DTMFPayloadType: 101, Direction: "sendrecv"}, call.Answer())
	require.Equal(t, []int{180}, ev.rang())
	require.NotEmpty(t, call.CallID())

	require.Equal(t, `remote: Q.850;cause=16;text="Normal call clearing"`, await(t, ev.ended, "hang-up"))
	awaitDone(t, call)
	require.NoError(t, call.Hangup(ctx), "hanging up an ended call does nothing")
	s.RequirePassed(t)
	require.Equal(t, []string{
		"INVITE sip:" + dialled + "@" + trunk + " SIP/2.0",
		"ACK sip:" + dialled + "@" + trunk + " SIP/2.0",
		"INVITE sip:" + dialled + "@" + trunk + " SIP/2.0",
		"ACK sip:" + s.Host + ":" + strconv.Itoa(s.Port) + ";transport=TCP SIP/2.0",
		"SIP/2.0 200 OK",
	}, testenv.FirstLines(s.Received()))
}

// requireOffer checks dialq's SDP offer line by line; the o= line carries a
// random session id.
func requireOffer(t *testing.T, body string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n")
	require.Len(t, lines, 12, body)
	require.Regexp(t, `^o=dialq \d+ 1 IN IP4 127\.0\.0\.1$`, lines[1])
	lines[1] = "o=dialq <id> 1 IN IP4 127.0.0.1"
	require.Equal(t, []string{
		"v=0",
		"o=dialq <id> 1 IN IP4 127.0.0.1",
		"s=dialq",
		"c=IN IP4 127.0.0.1",
		"t=0 0",
		"m=audio 40000 RTP/AVP 0 8 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=sendrecv",
	}, lines)
}

// TestWrongPasswordFailsAsTrunkError answers the challenge with the wrong
// password: sipp's verifyauth refuses the digest with 403, which is the
// trunk's fault, not the callee's.
func TestWrongPasswordFailsAsTrunkError(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "digest_answer_bye.xml", "tcp", nil)
	ua := newUA(t)
	r := dialRequest(s, "tcp")
	r.Trunk.Password = "wrong"

	call, err := ua.Start(context.Background(), r, nil)
	require.NoError(t, err)
	err = call.Answered(context.Background())
	requireFailure(t, err, dialq.ReasonTrunk, 403, "Forbidden")
	awaitDone(t, call)
	require.Contains(t, call.SentInvite().Authorization, `username="exotel-user"`)
}

// requireFailure checks that err is a final *dialq.StepError carrying a
// failure with reason, code and status.
func requireFailure(t *testing.T, err error, reason dialq.FailureReason, code int, status string) {
	t.Helper()
	se, ok := errors.AsType[*dialq.StepError](err)
	require.True(t, ok, "want *dialq.StepError, got %T: %v", err, err)
	require.Equal(t, reason, se.Failure.Reason, se.Failure.Message)
	require.Equal(t, code, se.Failure.SIPCode)
	require.Equal(t, status, se.Failure.SIPStatus)
	require.False(t, se.Retry, "the carrier answered: trying again will not help")
}

// TestFinalResponsesMapToFailures checks each final response the callee's
// side can give maps to its failure reason, keeping the SIP code and
// reason phrase, and that dialq ACKs it.
func TestFinalResponsesMapToFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code   int
		status string
		reason dialq.FailureReason
	}{
		{486, "Busy Here", dialq.ReasonBusy},
		{600, "Busy Everywhere", dialq.ReasonBusy},
		{480, "Temporarily Unavailable", dialq.ReasonNoAnswer},
		{603, "Decline", dialq.ReasonRejected},
		{404, "Not Found", dialq.ReasonUnreachable},
		{484, "Address Incomplete", dialq.ReasonUnreachable},
		{503, "Service Unavailable", dialq.ReasonCarrier},
	}
	ua := newUA(t)
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			s := startSipp(t, "reject.xml.tmpl", "tcp", struct {
				Code   int
				Reason string
			}{tc.code, tc.status})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			call, err := ua.Dial(ctx, dialRequest(s, "tcp"), nil)
			require.Nil(t, call)
			requireFailure(t, err, tc.reason, tc.code, tc.status)
			s.RequirePassed(t) // sipp got its ACK
		})
	}
}

// TestRingTimeoutCancels lets the phone ring past the ring time: dialq
// sends CANCEL, sipp answers it 200 and the INVITE 487, dialq ACKs the
// 487, and the call fails as no_answer.
func TestRingTimeoutCancels(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
	ua := newUA(t)
	ev := newRecorder()
	r := dialRequest(s, "tcp")
	r.RingTimeout = 2 * time.Second

	start := time.Now()
	call, err := ua.Dial(context.Background(), r, ev)
	took := time.Since(start)
	require.Nil(t, call)
	requireFailure(t, err, dialq.ReasonNoAnswer, 487, "Request Terminated")
	require.GreaterOrEqual(t, took, r.RingTimeout)
	require.Less(t, took, r.RingTimeout+2*time.Second)
	require.Equal(t, []int{180}, ev.rang())

	s.RequirePassed(t)
	trunk := fmt.Sprintf("%s:%d", s.Host, s.Port)
	require.Equal(t, []string{
		"INVITE sip:" + dialled + "@" + trunk + " SIP/2.0",
		"CANCEL sip:" + dialled + "@" + trunk + " SIP/2.0",
		"ACK sip:" + dialled + "@" + trunk + " SIP/2.0",
	}, testenv.FirstLines(s.Received()))
	require.Equal(t, []string{
		"SIP/2.0 100 Trying",
		"SIP/2.0 180 Ringing",
		"SIP/2.0 200 OK", // to the CANCEL
		"SIP/2.0 487 Request Terminated",
	}, testenv.FirstLines(s.Sent()))
}

// TestHangupWhileRinging starts a call, sees Answered give up on its own
// context while the phone rings, and hangs up: dialq cancels the INVITE and
// Answered reports ErrCanceled.
func TestHangupWhileRinging(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "ring_no_answer.xml", "tcp", nil)
	ua := newUA(t)
	ev := newRecorder()

	call, err := ua.Start(context.Background(), dialRequest(s, "tcp"), ev)
	require.NoError(t, err)
	await(t, ev.rings, "ringing")

	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, call.Answered(short), context.DeadlineExceeded, "the call keeps ringing")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, call.Hangup(ctx))
	awaitDone(t, call)
	require.ErrorIs(t, call.Answered(ctx), sipua.ErrCanceled)
	require.Empty(t, ev.hangups(), "a call never answered is not hung up")
	s.RequirePassed(t)
}

// TestHoldResume has the far end put the call on hold and take it off with
// re-INVITEs: dialq reports Hold and Resume and answers each with the
// mirrored direction, which sipp checks (recvonly, then sendrecv). Over UDP
// the 200s are retransmitted until their ACK, which must stop them.
func TestHoldResume(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			s := startSipp(t, "hold_resume.xml", transport, nil)
			ua := newUA(t)
			ev := newRecorder()

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			call, err := ua.Dial(ctx, dialRequest(s, transport), ev)
			require.NoError(t, err)
			require.False(t, call.Answer().OnHold())

			held := await(t, ev.held, "hold")
			require.Equal(t, "sendonly", held.Direction)
			require.True(t, held.OnHold())
			resumed := await(t, ev.resumed, "resume")
			require.Equal(t, "sendrecv", resumed.Direction)
			require.Equal(t, resumed, call.Answer())
			require.Equal(t, "remote: bye", await(t, ev.ended, "hang-up"))
			awaitDone(t, call)
			s.RequirePassed(t)

			// dialq's answers as sipp saw them: the codec of the offer,
			// the mirrored direction, a newer o= version each time; the
			// OPTIONS answered too.
			msgs := s.Read("messages.log")
			require.Regexp(t, `(?s)SIP/2\.0 200 OK.*CSeq: 1 INVITE.*o=dialq \d+ 2 IN IP4.*m=audio 40000 RTP/AVP 0 101.*a=recvonly`, msgs)
			require.Regexp(t, `(?s)SIP/2\.0 200 OK.*CSeq: 2 INVITE.*o=dialq \d+ 3 IN IP4.*a=sendrecv`, msgs)
			require.Regexp(t, `(?s)SIP/2\.0 200 OK.*CSeq: 3 OPTIONS`, msgs)
			holdAnswers := 0
			for _, m := range s.Received() {
				if strings.HasPrefix(m, "SIP/2.0 200 OK") && strings.Contains(m, "CSeq: 1 INVITE") {
					holdAnswers++
				}
			}
			require.Equal(t, 1, holdAnswers, "the ACK stops the 200's retransmissions")
		})
	}
}

// TestLocalHangup hangs up an answered call: sipp receives dialq's BYE and
// answers it 200.
func TestLocalHangup(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	ua := newUA(t)
	ev := newRecorder()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := ua.Dial(ctx, dialRequest(s, "tcp"), ev)
	require.NoError(t, err)
	require.Equal(t, sipua.Answer{RemoteIP: "127.0.0.1", RemotePort: s.MediaPort, PayloadType: 8, Codec: "PCMA",
		DTMFPayloadType: 101, Direction: "sendrecv"}, call.Answer())

	require.NoError(t, call.Hangup(ctx))
	require.Equal(t, "local: hangup", await(t, ev.ended, "hang-up"))
	awaitDone(t, call)
	require.NoError(t, call.Hangup(ctx), "hanging up twice does nothing")
	require.Equal(t, []string{"local: hangup"}, ev.hangups())
	s.RequirePassed(t)
	require.Contains(t, testenv.FirstLines(s.Received()), "BYE sip:"+s.Host+":"+strconv.Itoa(s.Port)+";transport=TCP SIP/2.0")
}

// TestDisplayNameInFrom: a request's display name is From's, quoted, in
// place of the caller ID, which stays its user.
func TestDisplayNameInFrom(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	ua := newUA(t)
	r := dialRequest(s, "tcp")
	r.DisplayName = "Clínica Acme 24×7"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := ua.Dial(ctx, r, nil)
	require.NoError(t, err)
	require.Regexp(t, `^"Clínica Acme 24×7" <sip:08044319240@dialq\.exotel\.test>;tag=\S+$`, call.SentInvite().From)
	require.NoError(t, call.Hangup(ctx))
	awaitDone(t, call)
	s.RequirePassed(t)
	require.Contains(t, s.Received()[0], "\nFrom: \"Clínica Acme 24×7\" <sip:08044319240@dialq.exotel.test>;tag=")
}

// TestUDPAnswerRemoteBye is the happy path over UDP, without a challenge:
// the INVITE leaves from the UA's UDP listener, which is also its Contact,
// and the far end's BYE reaches it there.
func TestUDPAnswerRemoteBye(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_bye.xml", "udp", nil)
	ua := newUA(t)
	ev := newRecorder()
	r := dialRequest(s, "udp")
	r.Trunk.Password = ""

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := ua.Dial(ctx, r, ev)
	require.NoError(t, err)

	inv := call.SentInvite()
	listener := ua.LocalAddr("udp").String()
	require.Equal(t, fmt.Sprintf("<sip:%s@%s;transport=udp>", callerID, listener), inv.Contact)
	require.Contains(t, inv.Raw, "\r\nVia: SIP/2.0/UDP "+listener+";")
	require.Empty(t, inv.Authorization)
	require.Equal(t, sipua.Answer{RemoteIP: "127.0.0.1", RemotePort: s.MediaPort, PayloadType: 0, Codec: "PCMU",
		DTMFPayloadType: 101, Direction: "sendrecv"}, call.Answer())
	require.Equal(t, []int{180}, ev.rang())

	require.Equal(t, "remote: bye", await(t, ev.ended, "hang-up"))
	awaitDone(t, call)
	s.RequirePassed(t)
}

// TestRingingRightBeforeTheAnswerIsReported has phones answer the moment
// they ring: over UDP the 180 and the 200 arrive back to back and sipgo
// handles each on a goroutine of its own, so the 200 can overtake the 180,
// after which sipgo drops it. Every call must still report its ringing,
// and before Dial returns with the answer. Many calls at once make the
// overtaking likely (about one call in four before it was handled).
func TestRingingRightBeforeTheAnswerIsReported(t *testing.T) {
	t.Parallel()
	const calls = 40
	s := testenv.Sipp(t, testenv.SippOptions{Scenario: "testdata/ring_answer_at_once.xml", Transport: "udp",
		Calls: calls, Timeout: 25 * time.Second})
	ua := newUA(t)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			ev := newRecorder()
			r := dialRequest(s, "udp")
			r.Trunk.Password = ""
			r.CallID = fmt.Sprintf("call-%d", i)
			call, err := ua.Dial(ctx, r, ev)
			if !assert.NoError(t, err) {
				return
			}
			assert.Equal(t, []int{180}, ev.rang(), "call %d: the ringing before the answer", i)
			select { // not await: FailNow must not run off the test's goroutine
			case by := <-ev.ended:
				assert.Equal(t, "remote: bye", by, "call %d", i)
			case <-ctx.Done():
				t.Errorf("call %d: no hang-up", i)
				return
			}
			select {
			case <-call.Done():
			case <-ctx.Done():
				t.Errorf("call %d: not done after the hang-up", i)
			}
		})
	}
	wg.Wait()
	s.RequirePassed(t)
}

// TestCloseHangsUpLiveCalls closes the UA under an answered call: it sends
// BYE and reports the call hung up locally for "shutdown".
func TestCloseHangsUpLiveCalls(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "answer_await_bye.xml", "tcp", nil)
	ua := newUA(t)
	ev := newRecorder()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := ua.Dial(ctx, dialRequest(s, "tcp"), ev)
	require.NoError(t, err)

	require.NoError(t, ua.Close())
	awaitDone(t, call)
	require.Equal(t, []string{"local: shutdown"}, ev.hangups())
	s.RequirePassed(t)
	_, err = ua.Start(ctx, dialRequest(s, "tcp"), nil)
	require.ErrorIs(t, err, sipua.ErrClosed)
}

// TestStartRefusesBadRequests checks requests dialq got wrong fail before
// anything is sent, as final errors naming what is wrong.
func TestStartRefusesBadRequests(t *testing.T) {
	t.Parallel()
	ua := newUA(t)
	good := sipua.DialRequest{
		Profile:  dialq.Exotel,
		Trunk:    dialq.SIPTrunkConfig{SIPHost: "127.0.0.1", SIPPort: 9, CallerID: callerID},
		ToNumber: callee,
		Offer:    sipua.Offer{MediaIP: mediaIP, RTPPort: rtpPort},
	}
	cases := map[string]struct {
		edit   func(r *sipua.DialRequest)
		reason dialq.FailureReason
		msg    string
	}{
		"no profile":      {func(r *sipua.DialRequest) { r.Profile = dialq.SIPProfile{} }, dialq.ReasonInternal, "no SIP profile"},
		"no host":         {func(r *sipua.DialRequest) { r.Trunk.SIPHost = "" }, dialq.ReasonTrunk, "the Exotel trunk has no SIP host"},
		"bad port":        {func(r *sipua.DialRequest) { r.Trunk.SIPPort = 0 }, dialq.ReasonTrunk, "SIP port"},
		"bad transport":   {func(r *sipua.DialRequest) { r.Trunk.Transport = "tls" }, dialq.ReasonTrunk, "transport"},
		"no caller ID":    {func(r *sipua.DialRequest) { r.Trunk.CallerID = "" }, dialq.ReasonTrunk, "caller ID"},
		"national":        {func(r *sipua.DialRequest) { r.ToNumber = "08044319240" }, dialq.ReasonInternal, "E.164"},
		"no media IP":     {func(r *sipua.DialRequest) { r.Offer.MediaIP = "" }, dialq.ReasonInternal, "media IP"},
		"no RTP port":     {func(r *sipua.DialRequest) { r.Offer.RTPPort = 0 }, dialq.ReasonInternal, "RTP port"},
		"header inject":   {func(r *sipua.DialRequest) { r.Headers = map[string]string{"X-A": "1\r\nBYE: x"} }, dialq.ReasonInternal, "X-A"},
		"reserved header": {func(r *sipua.DialRequest) { r.Headers = map[string]string{"From": "x"} }, dialq.ReasonInternal, "From"},
		"quoted name":     {func(r *sipua.DialRequest) { r.DisplayName = `Acme "Clinic"` }, dialq.ReasonInternal, "display name"},
		"name on 2 lines": {func(r *sipua.DialRequest) { r.DisplayName = "Acme\r\nX-A: 1" }, dialq.ReasonInternal, "display name"},
	}
	for name, tc := range cases {
		r := good
		tc.edit(&r)
		_, err := ua.Start(context.Background(), r, nil)
		se, ok := errors.AsType[*dialq.StepError](err)
		require.True(t, ok, "%s: got %v", name, err)
		require.Equal(t, tc.reason, se.Failure.Reason, name)
		require.Contains(t, se.Failure.Message, tc.msg, name)
		require.False(t, se.Retry, name)
	}
}

// TestUnreachableTrunkIsRetried dials a TCP port nobody listens on: the
// INVITE cannot be sent, nothing reached the phone, so trying again may help.
func TestUnreachableTrunkIsRetried(t *testing.T) {
	t.Parallel()
	ua := newUA(t)
	port, _ := testenv.PortBlock(t)
	r := dialRequest(&testenv.SippRun{Host: "127.0.0.1", Port: port}, "tcp")
	_, err := ua.Start(context.Background(), r, nil)
	se, ok := errors.AsType[*dialq.StepError](err)
	require.True(t, ok, "got %v", err)
	require.Equal(t, dialq.ReasonCarrier, se.Failure.Reason)
	require.True(t, se.Retry)
}
