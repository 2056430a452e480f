package relay

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	msdk "github.com/livekit/media-sdk"
	"github.com/livekit/media-sdk/tones"
)

// ringbackVolume is the ringback's amplitude: livekit-sip's, whose calls
// play the same tone for play_ringtone.
const ringbackVolume = math.MaxInt16 / 2

// ringbackTone is what the room hears while the phone rings: media-sdk's
// ETSI ringing tone (425 Hz, 1 s on, 4 s off), the one livekit-sip plays,
// so that play_ringtone sounds the same whichever way a call goes out.
var ringbackTone = tones.ETSIRinging

// ringback plays the ringback tone on the phone's track while the phone
// rings (Config.Ringtone). Its zero value plays nothing.
type ringback struct {
	mu     sync.Mutex
	over   bool // stop was called: nothing plays any more
	cancel context.CancelFunc
	done   chan struct{}
}

// start plays the tone on s's track until stop, unless it plays already
// or was stopped.
func (r *ringback) start(s *Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over || r.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		w := &ringbackWriter{s: s}
		err := tones.Play(ctx, w, ringbackVolume, ringbackTone)
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("ringback stopped", "error", err)
		}
	}()
	s.log.Debug("playing ringback to the room")
}

// stop ends the tone and returns once nothing more of it reaches the
// track, which the phone's audio may then use. Later starts do nothing.
func (r *ringback) stop() {
	r.mu.Lock()
	r.over = true
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// ringbackWriter takes tones.Play's 20 ms frames to the phone's track.
type ringbackWriter struct {
	s      *Session
	failed bool
}

func (w *ringbackWriter) String() string  { return "ringback" }
func (w *ringbackWriter) SampleRate() int { return sampleRate }

// WriteSample encodes one frame onto the phone's track. An error is logged
// once and the tone goes on: the next frame may get through.
func (w *ringbackWriter) WriteSample(frame msdk.PCM16Sample) error {
	err := w.s.phone.writeLocal(frame, time.Now())
	if err != nil && !w.failed {
		w.s.log.Warn("cannot send the ringback to the room", "error", err)
	}
	w.failed = err != nil
	return nil
}
