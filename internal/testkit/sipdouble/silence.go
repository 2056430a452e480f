package sipdouble

import (
	"context"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	lksdk "github.com/livekit/server-sdk-go/v2"
)

// opusSilence is one 20 ms Opus frame of silence (the frame WebRTC stacks
// send during discontinuous transmission).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// silence feeds a LocalTrack with Opus silence in real time.
type silence struct{ lksdk.BaseSampleProvider }

// NextSample returns the next 20 ms of silence; the track paces the calls.
func (*silence) NextSample(context.Context) (media.Sample, error) {
	return media.Sample{Data: opusSilence, Duration: 20 * time.Millisecond}, nil
}

// publishSilence publishes the phone's audio track, as livekit-sip publishes
// the callee's audio (named after the participant) right after joining. The
// double has no audio to send, so the track carries silence. Publishing also
// makes livekit-server announce the participant to the room at once rather
// than in its next batch of updates for non-publishers (up to 3 s later).
func publishSilence(room *lksdk.Room) error {
	track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{
		MimeType:  webrtc.MimeTypeOpus,
		ClockRate: 48000,
		Channels:  2,
	})
	if err != nil {
		return err
	}
	if err := track.StartWrite(&silence{}, nil); err != nil {
		return err
	}
	_, err = room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{
		Name: room.LocalParticipant.Identity(),
	})
	return err
}
