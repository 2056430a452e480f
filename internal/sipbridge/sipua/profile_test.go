package sipua_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// sbc is a carrier other than Exotel: a customer's SBC that takes E.164
// numbers as they are, over UDP. It is what a second fixed-IP carrier
// takes: a profile, nothing in the UA.
var sbc = dialq.SIPProfile{
	Name:         "Acme SBC",
	Transport:    "udp",
	Number:       func(e164 string) string { return e164 },
	CallerID:     func(id string) (string, bool) { return id, e164.MatchString(id) },
	CallerIDRule: "must be an E.164 number (e.g. +14155550100)",
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// sbcRequest dials callee through sipp as the SBC's trunk, over UDP.
func sbcRequest(t *testing.T, s *testenv.SippRun) sipua.DialRequest {
	t.Helper()
	trunk := dialq.SIPTrunkConfig{SIPHost: s.Host, SIPPort: s.Port, FromDomain: "sbc.test",
		CallerID: "+14155550100", Username: "exotel-user", Password: "s3cret", // the scenario's credentials
		MediaIP: mediaIP, RTPPortMin: rtpPort, RTPPortMax: rtpPort + 1}
	require.NoError(t, trunk.Normalize(sbc))
	return sipua.DialRequest{
		CallID: "call-sbc", Profile: sbc, Trunk: trunk, ToNumber: callee,
		Offer:       sipua.Offer{MediaIP: mediaIP, RTPPort: rtpPort},
		RingTimeout: 10 * time.Second,
	}
}

// TestOtherCarrierProfile dials through a carrier that is not Exotel: the
// INVITE carries the callee and caller ID in E.164 form, as the SBC's
// profile writes them, goes over the profile's transport, and answers the
// digest challenge as any trunk does.
func TestOtherCarrierProfile(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "digest_answer_bye.xml", "udp", nil)
	ua := newUA(t)
	ev := newRecorder()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	call, err := ua.Dial(ctx, sbcRequest(t, s), ev)
	require.NoError(t, err)

	trunk := s.Addr()
	inv := call.SentInvite()
	require.Equal(t, "sip:"+callee+"@"+trunk, inv.RequestURI)
	require.Regexp(t, `^"\+14155550100" <sip:\+14155550100@sbc\.test>;tag=\S+$`, inv.From)
	require.Equal(t, "<sip:"+callee+"@"+trunk+">", inv.To)
	require.Equal(t, fmt.Sprintf("<sip:+14155550100@%s;transport=udp>", ua.LocalAddr("udp")), inv.Contact)
	require.Contains(t, inv.Authorization, `uri="sip:`+callee+"@"+trunk+`"`)

	require.Equal(t, `remote: Q.850;cause=16;text="Normal call clearing"`, await(t, ev.ended, "hang-up"))
	awaitDone(t, call)
	s.RequirePassed(t)
	require.Equal(t, []string{
		"INVITE sip:" + callee + "@" + trunk + " SIP/2.0",
		"ACK sip:" + callee + "@" + trunk + " SIP/2.0",
		"INVITE sip:" + callee + "@" + trunk + " SIP/2.0",
		"ACK sip:" + trunk + ";transport=UDP SIP/2.0",
		"SIP/2.0 200 OK",
	}, testenv.FirstLines(s.Received()))
}

// TestOtherCarrierNamedInFailures: failure messages name the carrier of the
// request's profile, whether it refused the call or never answered.
func TestOtherCarrierNamedInFailures(t *testing.T) {
	t.Parallel()
	s := startSipp(t, "digest_answer_bye.xml", "udp", nil)
	ua := newUA(t)
	r := sbcRequest(t, s)
	r.Trunk.Password = "wrong"
	call, err := ua.Start(context.Background(), r, nil)
	require.NoError(t, err)
	err = call.Answered(context.Background())
	requireFailure(t, err, dialq.ReasonTrunk, 403, "Forbidden")
	se, _ := errors.AsType[*dialq.StepError](err)
	require.Equal(t, "Acme SBC refused dialq's credentials or caller ID (SIP 403 Forbidden)", se.Failure.Message)
	awaitDone(t, call)

	port, _ := testenv.PortBlock(t)
	r = sbcRequest(t, &testenv.SippRun{Host: "127.0.0.1", Port: port})
	r.Trunk.Transport = "tcp" // nobody listens: the INVITE cannot be sent
	_, err = ua.Start(context.Background(), r, nil)
	se, ok := errors.AsType[*dialq.StepError](err)
	require.True(t, ok, "got %v", err)
	require.Equal(t, "Acme SBC did not answer the INVITE", se.Failure.Message)
	require.True(t, se.Retry)

	r.Trunk.SIPHost = ""
	_, err = ua.Start(context.Background(), r, nil)
	se, ok = errors.AsType[*dialq.StepError](err)
	require.True(t, ok, "got %v", err)
	require.Equal(t, "the Acme SBC trunk has no SIP host", se.Failure.Message)
}
