package relay

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSeqFilter(t *testing.T) {
	t.Parallel()
	var f seqFilter
	for _, tc := range []struct {
		ssrc uint32
		seq  uint16
		want bool
		why  string
	}{
		{1, 65534, true, "first packet"},
		{1, 65535, true, "next"},
		{1, 65535, false, "duplicate"},
		{1, 1, true, "wraps, one lost"},
		{1, 0, false, "reordered: later one already played"},
		{1, 2, true, "next"},
		{1, 40000, true, "far back: the sender restarted its numbering"},
		{1, 40001, true, "next after restart"},
		{2, 10, true, "new SSRC starts over"},
		{2, 9, false, "old"},
	} {
		require.Equal(t, tc.want, f.next(tc.ssrc, tc.seq), "ssrc %d seq %d: %s", tc.ssrc, tc.seq, tc.why)
	}
}

func TestDTMFDetector(t *testing.T) {
	t.Parallel()
	ev := func(code byte, end bool) []byte {
		p := []byte{code, 10, 0, 160}
		if end {
			p[1] |= 0x80
		}
		return p
	}
	var d dtmfDetector
	var got []byte
	feed := func(ts uint32, p []byte) {
		for _, k := range d.packet(ts, p) {
			got = append(got, k.digit)
		}
	}
	// '1': updates then three end packets.
	feed(100, ev(1, false))
	feed(100, ev(1, false))
	feed(100, ev(1, true))
	feed(100, ev(1, true))
	feed(100, ev(1, true))
	require.Equal(t, "1", string(got), "one digit per event")
	// '#' whose end packets were lost: reported when '5' starts.
	feed(900, ev(11, false))
	feed(1800, ev(5, false))
	require.Equal(t, "1#", string(got))
	feed(1800, ev(5, true))
	require.Equal(t, "1#5", string(got))
	// A straggler of an old event and a malformed packet change nothing.
	feed(900, ev(11, true))
	feed(2600, []byte{1, 2})
	// Flash (16) is no digit.
	feed(3000, ev(16, true))
	require.Equal(t, "1#5", string(got))
}

func TestMixer(t *testing.T) {
	t.Parallel()
	m := &mixer{}
	a, b := m.newInput("a"), m.newInput("b")
	frame := make([]int16, frameSamples)
	samples := func(v int16, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = v
		}
		return s
	}

	require.NoError(t, a.WriteSample(samples(100, startLevel)))
	m.read(frame)
	require.Equal(t, int16(0), frame[0], "audio before the answer is dropped")

	m.open.Store(true)
	require.NoError(t, a.WriteSample(samples(100, frameSamples)))
	m.read(frame)
	require.Equal(t, int16(0), frame[0], "an input starts only once it holds startLevel")
	require.NoError(t, a.WriteSample(samples(100, frameSamples)))
	require.NoError(t, b.WriteSample(samples(32700, startLevel)))
	m.read(frame)
	require.Equal(t, int16(32767), frame[0], "inputs add up, clipped")
	m.read(frame)
	require.Equal(t, int16(32767), frame[0])
	m.read(frame)
	require.Equal(t, int16(0), frame[0], "both ran dry")

	require.NoError(t, a.WriteSample(samples(7, 3*maxLevel)))
	a.mu.Lock()
	require.Equal(t, trimLevel, len(a.buf), "a source ahead of real time is cut back")
	a.mu.Unlock()

	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	require.Empty(t, m.inputs)
}

func TestListen(t *testing.T) {
	t.Parallel()
	conn, err := Listen("127.0.0.1", 22001, 22003)
	require.NoError(t, err)
	defer conn.Close()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	require.Equal(t, 22002, port, "the only even port")

	_, err = Listen("127.0.0.1", 22002, 22002)
	require.ErrorContains(t, err, "taken")
	_, err = Listen("127.0.0.1", 22003, 22003)
	require.ErrorContains(t, err, "no even port")
	_, err = Listen("localhost", 21000, 21999)
	require.ErrorContains(t, err, "not an IP address")
	_, err = Listen("127.0.0.1", 0, 10)
	require.ErrorContains(t, err, "1-65535")
}
