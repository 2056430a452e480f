package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/signalling"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// agentsConfig is the agents' child config.
type agentsConfig struct {
	LiveKit string
	Rooms   []string
}

// serveAgents is the child process standing in for the voice agents of the
// bridge benchmark: one participant of kind AGENT in each room, talking all
// the time. To keep this load generator cheap it does no audio work: it
// loops the same Opus packets (agentClip, encoded once) on a plain sample
// track, 20 ms apart, each agent from its own place in the clip. It
// subscribes to nothing. It says "ready" once every agent is publishing.
func serveAgents(ctx context.Context, _ <-chan string, c agentsConfig) error {
	quietLog()
	clip, err := agentClip()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var rooms []*lksdk.Room
	var first error
	defer func() {
		for _, r := range rooms {
			r.Disconnect()
		}
	}()
	inParallel(len(c.Rooms), 4, func(i int) { // 4 joins at once
		room, track, err := joinAgent(c.LiveKit, c.Rooms[i], i)
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
		if err == nil {
			rooms = append(rooms, room)
			go talk(ctx, track, clip)
		}
	})
	if first != nil {
		return first
	}
	say("ready", len(rooms))
	<-ctx.Done()
	return nil
}

// joinAgent joins room as agent i and publishes its microphone track.
func joinAgent(lkURL, room string, i int) (*lksdk.Room, *lksdk.LocalTrack, error) {
	token, err := auth.NewAccessToken(os.Getenv("LIVEKIT_API_KEY"), os.Getenv("LIVEKIT_API_SECRET")).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		SetIdentity(fmt.Sprintf("agent-%03d", i)).
		SetKind(livekit.ParticipantInfo_AGENT).
		ToJWT()
	if err != nil {
		return nil, nil, err
	}
	// A join that times out while a hundred are under way is tried again
	// after a pause, as agent frameworks do: the bench measures the bridge,
	// not one join.
	var r *lksdk.Room
	for try := 1; ; try++ {
		r, err = lksdk.ConnectToRoomWithToken(signalling.ToWebsocketURL(lkURL), token, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
		if err == nil {
			break
		}
		if try == 5 {
			return nil, nil, fmt.Errorf("agent %d joins %s on %s (%d tries): %w", i, room, lkURL, try, err)
		}
		time.Sleep(time.Duration(try) * time.Second)
	}
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err == nil {
		_, err = r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "agent", Source: livekit.TrackSource_MICROPHONE})
	}
	if err != nil {
		r.Disconnect()
		return nil, nil, fmt.Errorf("agent %d publishes in %s: %w", i, room, err)
	}
	return r, track, nil
}

// talk writes the clip's packets to track in a loop, one every 20 ms, from
// a random place in the clip and at a random phase, so that the agents'
// packets do not all reach the bridge at the same instant.
func talk(ctx context.Context, track *lksdk.LocalTrack, clip [][]byte) {
	k := rand.IntN(len(clip))
	paced(ctx, func() bool {
		err := track.WriteSample(media.Sample{Data: clip[k], Duration: 20 * time.Millisecond}, nil)
		k = (k + 1) % len(clip)
		return err == nil
	})
}

// paced calls frame every 20 ms, from a random phase, until ctx ends or
// frame returns false: the pace of a call's audio.
func paced(ctx context.Context, frame func() bool) {
	if sleep(ctx, time.Duration(rand.Int64N(int64(20*time.Millisecond)))) != nil {
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for frame() {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
