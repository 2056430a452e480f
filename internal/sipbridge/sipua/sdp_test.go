package sipua

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func sdpBody(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

func TestParseAnswer(t *testing.T) {
	t.Parallel()
	head := []string{"v=0", "o=exotel 1 1 IN IP4 203.0.113.7", "s=-"}
	cases := []struct {
		name string
		body []string
		want Answer
	}{{
		name: "session connection, PCMA first, DTMF",
		body: append(head, "c=IN IP4 203.0.113.7", "t=0 0", "m=audio 10000 RTP/AVP 8 0 101",
			"a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=sendrecv"),
		want: Answer{RemoteIP: "203.0.113.7", RemotePort: 10000, PayloadType: 8, Codec: "PCMA", DTMFPayloadType: 101, Direction: SendRecv},
	}, {
		name: "media connection wins, static payload without rtpmap, no DTMF, no direction",
		body: append(head, "c=IN IP4 198.51.100.1", "t=0 0", "m=audio 10002 RTP/AVP 18 0", "c=IN IP4 203.0.113.9",
			"a=rtpmap:18 G729/8000"),
		want: Answer{RemoteIP: "203.0.113.9", RemotePort: 10002, PayloadType: 0, Codec: "PCMU", DTMFPayloadType: -1, Direction: SendRecv},
	}, {
		name: "session-level direction",
		body: append(head, "c=IN IP4 203.0.113.7", "t=0 0", "a=inactive", "m=audio 10000 RTP/AVP 0 96",
			"a=rtpmap:96 telephone-event/8000"),
		want: Answer{RemoteIP: "203.0.113.7", RemotePort: 10000, PayloadType: 0, Codec: "PCMU", DTMFPayloadType: 96, Direction: Inactive},
	}, {
		name: "old-style hold",
		body: append(head, "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 10000 RTP/AVP 0"),
		want: Answer{RemoteIP: "0.0.0.0", RemotePort: 10000, PayloadType: 0, Codec: "PCMU", DTMFPayloadType: -1, Direction: SendRecv},
	}}
	for _, tc := range cases {
		got, err := parseAnswer(sdpBody(tc.body...))
		require.NoError(t, err, tc.name)
		require.Equal(t, tc.want, got, tc.name)
	}
	require.True(t, cases[3].want.OnHold(), "c=0.0.0.0 is hold")
	require.True(t, Answer{Direction: SendOnly}.OnHold())
	require.False(t, Answer{Direction: RecvOnly}.OnHold())

	for name, body := range map[string][]string{
		"no G.711":          append(head, "c=IN IP4 203.0.113.7", "t=0 0", "m=audio 10000 RTP/AVP 18", "a=rtpmap:18 G729/8000"),
		"audio rejected":    append(head, "c=IN IP4 203.0.113.7", "t=0 0", "m=audio 0 RTP/AVP 0"),
		"no connection":     append(head, "t=0 0", "m=audio 10000 RTP/AVP 0"),
		"video only":        append(head, "c=IN IP4 203.0.113.7", "t=0 0", "m=video 10000 RTP/AVP 96"),
		"not SDP":           {"hello"},
		"PCMU at 16000 Hz?": append(head, "c=IN IP4 203.0.113.7", "t=0 0", "m=audio 10000 RTP/AVP 97", "a=rtpmap:97 PCMU/16000"),
	} {
		_, err := parseAnswer(sdpBody(body...))
		require.Error(t, err, name)
	}
	_, err := parseAnswer(nil)
	require.ErrorIs(t, err, errNoAudio)
}

func TestAnswerToReinvite(t *testing.T) {
	t.Parallel()
	s := sdpSession{offer: Offer{MediaIP: "192.0.2.10", RTPPort: 30000}, id: 42}
	require.Contains(t, string(s.initialOffer()), "o=dialq 42 1 IN IP4 192.0.2.10\r\n")

	for dir, want := range map[string]string{SendOnly: RecvOnly, RecvOnly: SendOnly, Inactive: Inactive, SendRecv: SendRecv} {
		body := string(s.answerTo(Answer{PayloadType: 8, Codec: "PCMA", DTMFPayloadType: 96, Direction: dir}))
		require.Contains(t, body, "m=audio 30000 RTP/AVP 8 96\r\n", dir)
		require.Contains(t, body, "a=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n", dir)
		require.True(t, strings.HasSuffix(body, "a=ptime:20\r\na="+want+"\r\n"), "%s answered with %s", dir, body)
	}
	body := string(s.answerTo(Answer{PayloadType: 0, Codec: "PCMU", DTMFPayloadType: -1, Direction: SendRecv}))
	require.Contains(t, body, "m=audio 30000 RTP/AVP 0\r\n")
	require.NotContains(t, body, "telephone-event")
	require.Contains(t, body, "o=dialq 42 6 IN IP4", "every body raises the version")
}
