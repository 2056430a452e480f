package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/signalling"
)

// serveAgents is the child process standing in for the voice agents of the
// bridge benchmark: one participant of kind AGENT in each room, talking all
// the time. To keep this load generator cheap it does no audio work: it
// loops the same Opus packets (agentClip, encoded once) on a plain sample
// track, 20 ms apart, each agent from its own place in the clip. It
// subscribes to nothing. It says "ready" once every agent is publishing.
func serveAgents(args []string) error {
	fs := flag.NewFlagSet("bridge-agents", flag.ExitOnError)
	lkURL := fs.String("livekit", "", "livekit-server URL")
	roomList := fs.String("rooms", "", "the rooms, comma-separated")
	fs.Parse(args)
	names := strings.Split(*roomList, ",")

	ctx, cancel, _ := childContext()
	defer cancel()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lksdk.SetLogger(protologger.LogRLogger(logr.FromSlogHandler(log.Handler())))
	clip, err := agentClip()
	if err != nil {
		return err
	}
	key, secret := os.Getenv("LIVEKIT_API_KEY"), os.Getenv("LIVEKIT_API_SECRET")
	wsURL := signalling.ToWebsocketURL(*lkURL)

	var (
		mu    sync.Mutex
		rooms []*lksdk.Room
		first error
		wg    sync.WaitGroup
		slots = make(chan struct{}, 8) // joins at once
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rooms {
			r.Disconnect()
		}
	}()
	for i, name := range names {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			room, track, err := joinAgent(*lkURL, wsURL, key, secret, name, i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			rooms = append(rooms, room)
			go talk(ctx, track, clip)
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	announce(fmt.Sprintf("%d agents", len(rooms)))
	<-ctx.Done()
	return nil
}

// joinAgent joins room as agent i and publishes its microphone track.
func joinAgent(httpURL, wsURL, key, secret, room string, i int) (*lksdk.Room, *lksdk.LocalTrack, error) {
	token, err := auth.NewAccessToken(key, secret).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room}).
		SetIdentity(fmt.Sprintf("agent-%03d", i)).
		SetKind(livekit.ParticipantInfo_AGENT).
		ToJWT()
	if err != nil {
		return nil, nil, err
	}
	r, err := lksdk.ConnectToRoomWithToken(wsURL, token, &lksdk.RoomCallback{}, lksdk.WithAutoSubscribe(false))
	if err != nil {
		return nil, nil, fmt.Errorf("agent %d joins %s on %s: %w", i, room, httpURL, err)
	}
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		r.Disconnect()
		return nil, nil, err
	}
	if _, err := r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: "agent", Source: livekit.TrackSource_MICROPHONE}); err != nil {
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
	select {
	case <-time.After(time.Duration(rand.Int64N(int64(20 * time.Millisecond)))):
	case <-ctx.Done():
		return
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := track.WriteSample(media.Sample{Data: clip[k], Duration: 20 * time.Millisecond}, nil); err != nil {
			return
		}
		k = (k + 1) % len(clip)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
