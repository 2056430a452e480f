package sipdouble_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// liveKit is the real livekit-server the tests run against.
type liveKit struct {
	URL, APIKey, APISecret string
}

// requireLiveKit reads the livekit-server of the local stack from the
// environment and fails the test, never skips it, when it is not set.
func requireLiveKit(t *testing.T) liveKit {
	t.Helper()
	lk := liveKit{
		URL:       os.Getenv("LIVEKIT_URL"),
		APIKey:    os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"),
	}
	if lk.URL == "" || lk.APIKey == "" || lk.APISecret == "" {
		t.Fatal("LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET must name a running livekit-server " +
			"with Redis (the SIP trunk APIs need it); start the local stack and source .dialq/stack.env")
	}
	return lk
}

// testLogger writes through t.Log, so logs show only for failed tests.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// sdkTestLogger sends the LiveKit SDK logs of a test's own rooms to t.Log.
func sdkTestLogger(t *testing.T) protologger.Logger {
	return protologger.LogRLogger(logr.FromSlogHandler(testLogger(t).Handler()))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// startDouble runs a double on a free loopback port for the test and returns
// it with its URL.
func startDouble(t *testing.T, lk liveKit, script sipdouble.Script) (*sipdouble.Server, string) {
	t.Helper()
	srv, err := sipdouble.New(sipdouble.Config{
		LiveKitURL: lk.URL,
		APIKey:     lk.APIKey,
		APISecret:  lk.APISecret,
		Script:     script,
		Logger:     testLogger(t),
	})
	require.NoError(t, err)
	l, err := sipdouble.Listen("127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-served)
	})
	return srv, "http://" + l.Addr().String()
}

// createTrunk creates an outbound trunk through client and deletes it when
// the test ends.
func createTrunk(t *testing.T, client *lksdk.SIPClient, number string) *livekit.SIPOutboundTrunkInfo {
	t.Helper()
	ctx := context.Background()
	trunk, err := client.CreateSIPOutboundTrunk(ctx, &livekit.CreateSIPOutboundTrunkRequest{
		Trunk: &livekit.SIPOutboundTrunkInfo{
			Name:    "sipdouble test " + t.Name(),
			Address: "sip.example.invalid",
			Numbers: []string{number},
		},
	})
	require.NoError(t, err)
	require.NotEmpty(t, trunk.SipTrunkId)
	t.Cleanup(func() {
		_, err := client.DeleteSIPTrunk(context.Background(), &livekit.DeleteSIPTrunkRequest{SipTrunkId: trunk.SipTrunkId})
		require.NoError(t, err)
	})
	return trunk
}

var roomSeq atomic.Int64

// uniqueRoom names a room no other test or run uses.
func uniqueRoom(t *testing.T) string {
	return fmt.Sprintf("sipdouble-%d-%d", time.Now().UnixNano(), roomSeq.Add(1))
}

// participants lists the room's participants by identity; a room that does
// not exist (any more) has none.
func participants(t *testing.T, rooms *lksdk.RoomServiceClient, room string) map[string]*livekit.ParticipantInfo {
	t.Helper()
	resp, err := rooms.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: room})
	var te twirp.Error
	if errors.As(err, &te) && te.Code() == twirp.NotFound {
		return nil
	}
	require.NoError(t, err)
	out := make(map[string]*livekit.ParticipantInfo)
	for _, p := range resp.Participants {
		out[p.Identity] = p
	}
	return out
}

// requireGone waits until identity has left room.
func requireGone(t *testing.T, rooms *lksdk.RoomServiceClient, room, identity string) {
	t.Helper()
	require.Eventually(t, func() bool {
		_, ok := participants(t, rooms, room)[identity]
		return !ok
	}, 10*time.Second, 100*time.Millisecond, "%s still in room %s", identity, room)
}

// observer is a plain participant that records the sip.callStatus values
// the phone participant goes through, and its leaving.
type observer struct {
	mu     sync.Mutex
	events []string
	change chan struct{}
}

func (o *observer) add(identity, phone, event string) {
	if identity != phone || event == "" {
		return
	}
	o.mu.Lock()
	if n := len(o.events); n == 0 || o.events[n-1] != event {
		o.events = append(o.events, event)
	}
	o.mu.Unlock()
	select {
	case o.change <- struct{}{}:
	default:
	}
}

func (o *observer) seen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

// observe joins room as an observer watching phone.
func observe(t *testing.T, lk liveKit, room, phone string) *observer {
	t.Helper()
	o := &observer{change: make(chan struct{}, 1)}
	token, err := auth.NewAccessToken(lk.APIKey, lk.APISecret).
		SetIdentity("observer").
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		ToJWT()
	require.NoError(t, err)
	r, err := lksdk.ConnectToRoomWithToken(lk.URL, token, &lksdk.RoomCallback{
		OnParticipantConnected: func(p *lksdk.RemoteParticipant) {
			o.add(p.Identity(), phone, p.Attributes()[livekit.AttrSIPCallStatus])
		},
		OnParticipantDisconnected: func(p *lksdk.RemoteParticipant) {
			o.add(p.Identity(), phone, "left")
		},
		ParticipantCallback: lksdk.ParticipantCallback{
			OnAttributesChanged: func(changed map[string]string, p lksdk.Participant) {
				o.add(p.Identity(), phone, changed[livekit.AttrSIPCallStatus])
			},
		},
	}, lksdk.WithAutoSubscribe(false), lksdk.WithLogger(sdkTestLogger(t)))
	require.NoError(t, err)
	t.Cleanup(r.Disconnect)
	return o
}

// requireEvents waits until the observer has seen want, in order.
func (o *observer) requireEvents(t *testing.T, want []string, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for {
		got := o.seen()
		if len(got) >= len(want) {
			require.Equal(t, want, got)
			return
		}
		select {
		case <-o.change:
		case <-deadline:
			require.Equal(t, want, got, "events seen within %s", within)
			return
		}
	}
}

// requestsFor returns the requests the double recorded for room.
func requestsFor(srv *sipdouble.Server, room string) []*livekit.CreateSIPParticipantRequest {
	var out []*livekit.CreateSIPParticipantRequest
	for _, r := range srv.Requests() {
		if r.RoomName == room {
			out = append(out, r)
		}
	}
	return out
}

// callIn returns the double's record of the call into room.
func callIn(t *testing.T, srv *sipdouble.Server, room string) sipdouble.CallInfo {
	t.Helper()
	for _, c := range srv.Calls() {
		if c.Room == room {
			return c
		}
	}
	t.Fatalf("no call into room %s", room)
	return sipdouble.CallInfo{}
}
