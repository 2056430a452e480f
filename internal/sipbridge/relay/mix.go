package relay

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	msdk "github.com/livekit/media-sdk"
)

// Levels of an input's buffer, in 8 kHz samples. Audio from the room arrives
// in bursts (network, jitter buffer, concealment of lost packets); the pacer
// takes exactly one frame every 20 ms.
const (
	// startLevel is how much an input holds before the mixer starts taking
	// from it, and again after it ran dry: 40 ms absorbs the bursts without
	// adding much delay.
	startLevel = 2 * frameSamples
	// maxLevel is the most an input holds. A source that got ahead of real
	// time (a stall, then a burst) is cut back to trimLevel, dropping its
	// oldest audio, so the delay it adds to the call stays bounded.
	maxLevel  = 10 * frameSamples
	trimLevel = 3 * frameSamples
)

// mixer sums the room's audio tracks into the frames sent to the phone.
// livekit-sip mixes every track too: the agent usually speaks alone, but a
// human joining for a transfer must be heard with it.
type mixer struct {
	// open is set at the answer: audio that reached an input before it would
	// only delay what the phone hears once the pacer starts.
	open atomic.Bool

	mu     sync.Mutex
	inputs []*input
	acc    [frameSamples]int32
}

// input is one room track's audio on its way to the mixer. A roomTrack
// writes to it at 8 kHz mono.
type input struct {
	m    *mixer
	name string

	mu      sync.Mutex
	buf     []int16
	playing bool // buf reached startLevel since it last ran dry
	closed  bool
}

// newInput adds an input named name (for logs) to the mix.
func (m *mixer) newInput(name string) *input {
	in := &input{m: m, name: name, buf: make([]int16, 0, maxLevel+frameSamples)}
	m.mu.Lock()
	m.inputs = append(m.inputs, in)
	m.mu.Unlock()
	return in
}

// read fills frame with the next 20 ms of the mix; inputs with nothing ready
// add silence.
func (m *mixer) read(frame []int16) {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.acc[:])
	for _, in := range m.inputs {
		in.readInto(m.acc[:len(frame)])
	}
	for i := range frame {
		frame[i] = int16(max(math.MinInt16, min(math.MaxInt16, m.acc[i])))
	}
}

func (m *mixer) remove(in *input) {
	m.mu.Lock()
	m.inputs = slices.DeleteFunc(m.inputs, func(x *input) bool { return x == in })
	m.mu.Unlock()
}

// WriteSample queues audio from the track.
func (in *input) WriteSample(s msdk.PCM16Sample) error {
	if !in.m.open.Load() {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return nil
	}
	in.buf = append(in.buf, s...)
	if len(in.buf) > maxLevel {
		n := copy(in.buf, in.buf[len(in.buf)-trimLevel:])
		in.buf = in.buf[:n]
	}
	return nil
}

// readInto adds the input's next len(acc) samples to acc.
func (in *input) readInto(acc []int32) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.playing {
		if len(in.buf) < startLevel {
			return
		}
		in.playing = true
	}
	n := min(len(acc), len(in.buf))
	for i, v := range in.buf[:n] {
		acc[i] += int32(v)
	}
	rest := copy(in.buf, in.buf[n:])
	in.buf = in.buf[:rest]
	if n < len(acc) {
		in.playing = false
	}
}

// Close takes the input out of the mix; the roomTrack calls it when it
// stops.
func (in *input) Close() error {
	in.mu.Lock()
	in.closed = true
	in.buf = nil
	in.mu.Unlock()
	in.m.remove(in)
	return nil
}

func (in *input) String() string { return fmt.Sprintf("mixer input %s", in.name) }
