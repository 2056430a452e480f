package relay

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/livekit/media-sdk/jitter"
)

// roomJitter is how long a room track's packets wait for a missing one
// before them, as in PCMRemoteTrack (media-sdk sizes it for a mixer like
// this one's). Packets in order do not wait.
const roomJitter = 60 * time.Millisecond

// maxLostRun is the most packets in a row a room track may miss for the
// decoder to conceal them: a longer gap in sequence numbers (500 ms of
// 20 ms packets) is a new stream, not a loss.
const maxLostRun = 25

// closeWait bounds how long Close waits for a room track's read loop to
// end; the read ends with the peer connection in any case.
const closeWait = time.Second

// roomTrack decodes one audio track of the room into its input of the mix
// sent to the phone: it reads the track's RTP, puts the packets back in
// order (waiting up to roomJitter for a missing one), conceals the lost
// ones and decodes the Opus at 8 kHz straight into the input.
type roomTrack struct {
	track *webrtc.TrackRemote
	in    *input
	log   *slog.Logger
	jb    *jitter.Buffer

	closing atomic.Bool   // Close was called: read errors are expected
	done    chan struct{} // closed once read has returned

	// Used by play only, which the jitter buffer calls under its lock.
	dec     *OpusDecoder
	started bool   // a packet was played
	seq     uint16 // sequence number of the last packet played
	ts      uint32 // its RTP timestamp
}

// newRoomTrack starts decoding track into in. Returns an error if the
// decoder cannot be made.
func newRoomTrack(track *webrtc.TrackRemote, in *input, log *slog.Logger) (*roomTrack, error) {
	dec, err := NewOpusDecoder()
	if err != nil {
		return nil, err
	}
	rt := &roomTrack{track: track, in: in, log: log, dec: dec, done: make(chan struct{})}
	rt.jb = jitter.NewBuffer(audioPackets{}, roomJitter, rt.play)
	go rt.read()
	return rt, nil
}

// read feeds the track's packets to the jitter buffer until the track ends
// or Close stops it, then takes the input out of the mix.
func (rt *roomTrack) read() {
	defer close(rt.done)
	defer rt.in.Close()
	defer rt.jb.Close()
	buf := make([]byte, 1500)
	errRun := 0
	for {
		n, _, err := rt.track.Read(buf)
		if err != nil {
			switch {
			case rt.closing.Load(), errors.Is(err, io.EOF), errors.Is(err, io.ErrClosedPipe),
				errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded):
				return
			}
			if errRun++; errRun >= maxReadErrors {
				rt.log.Warn("audio track keeps failing; no more of its audio to the phone", "error", err)
				return
			}
			continue
		}
		errRun = 0
		// The jitter buffer keeps the packet: it gets its own copy.
		pkt := &rtp.Packet{}
		if pkt.Unmarshal(slices.Clone(buf[:n])) != nil {
			continue
		}
		rt.jb.Push(pkt)
	}
}

// play decodes the packets the jitter buffer releases, in order, into the
// input.
func (rt *roomTrack) play(packets []jitter.ExtPacket) {
	for _, p := range packets {
		if len(p.Payload) == 0 {
			continue
		}
		lost := 0
		if rt.started {
			lost = lostBefore(rt.seq, rt.ts, uint32(rt.dec.last*opusTicksPerSample), p.SequenceNumber, p.Timestamp)
		}
		pcm, err := rt.dec.Decode(p.Payload, lost)
		if err != nil {
			rt.log.Debug("cannot decode audio packet", "sequence_number", p.SequenceNumber, "error", err)
		}
		rt.started, rt.seq, rt.ts = true, p.SequenceNumber, p.Timestamp
		_ = rt.in.WriteSample(pcm) // never fails
	}
}

// lostBefore returns how many packets were lost between the last one
// played (sequence number seq0, timestamp ts0, lasting ticks) and the next
// (seq, ts): the gap in sequence numbers, if the timestamps moved on by as
// much audio. Padding packets take sequence numbers but no time, and a
// sender in DTX takes time but no sequence numbers: neither is a loss.
func lostBefore(seq0 uint16, ts0, ticks uint32, seq uint16, ts uint32) int {
	gap := int(seq-seq0) - 1
	if gap <= 0 || gap > maxLostRun {
		return 0
	}
	if ticks > 0 && ts-ts0 < uint32(gap+1)*ticks {
		return 0
	}
	return gap
}

// Close stops the decoding and takes the input out of the mix; audio from
// the track no longer reaches the phone once it returns, and the read loop
// ends without complaint.
func (rt *roomTrack) Close() {
	if !rt.closing.Swap(true) {
		// Unblocks the read; fails only if the track's stream is already
		// gone, and the read with it.
		_ = rt.track.SetReadDeadline(time.Now())
	}
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-rt.done:
	case <-t.C:
		rt.in.Close()
		rt.log.Debug("audio track still being read after close", "waited", closeWait)
	}
}

// audioPackets tells the jitter buffer that every packet is a whole frame,
// as every Opus packet is.
type audioPackets struct{}

func (audioPackets) Unmarshal(packet []byte) ([]byte, error) { return packet, nil }
func (audioPackets) IsPartitionHead([]byte) bool             { return true }
func (audioPackets) IsPartitionTail(bool, []byte) bool       { return true }
