package relay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/livekit/media-sdk/g711"

	"github.com/dialq/dialq/internal/testkit/testroom"
)

// phone stands in for Exotel's end of the call: a UDP socket that sends and
// receives the call's RTP.
type phone struct {
	t    *testing.T
	conn *net.UDPConn
	ssrc uint32
	seq  uint16
	ts   uint32
}

func newPhone(t *testing.T) *phone {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &phone{t: t, conn: conn, ssrc: 0x1234abcd, seq: 65500, ts: 4294960000} // both wrap during a test
}

func (p *phone) addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

// send sends one RTP packet to dst.
func (p *phone) send(dst net.Addr, h rtp.Header, payload []byte) {
	h.Version = 2
	h.SSRC = p.ssrc
	b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	require.NoError(p.t, err)
	_, err = p.conn.WriteTo(b, dst)
	require.NoError(p.t, err)
}

// talk sends a tone of freq Hz to dst in 20 ms G.711 frames of payload type
// pt, in real time, until the test ends. The phone must send nothing else
// meanwhile.
func (p *phone) talk(dst net.Addr, pt uint8, freq float64) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	p.t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tn := testroom.Tone{Freq: freq}
		payload := make([]byte, 160)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for first := true; ; first = false {
			encode(pt, payload, tn.Next(160))
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: p.ssrc, PayloadType: pt,
				SequenceNumber: p.seq, Timestamp: p.ts, Marker: first}, Payload: payload}
			if b, err := pkt.Marshal(); err == nil {
				_, _ = p.conn.WriteTo(b, dst)
			}
			p.seq++
			p.ts += 160
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// say sends n 20 ms G.711 frames of tn to dst, of payload type pt, in real
// time, and returns once it sent them.
func (p *phone) say(dst net.Addr, pt uint8, tn *testroom.Tone, n int) {
	payload := make([]byte, 160)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		encode(pt, payload, tn.Next(160))
		p.send(dst, rtp.Header{PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, Marker: i == 0}, payload)
		p.seq++
		p.ts += 160
		<-tick.C
	}
}

// lose lets n frames' time pass as if the network lost those frames.
func (p *phone) lose(n int) {
	time.Sleep(time.Duration(n) * 20 * time.Millisecond) // the phone's own pace
	p.seq += uint16(n)
	p.ts += uint32(160 * n)
}

// key sends the RFC 4733 events of digit (event code) to dst as a phone
// does for a short key press: three updates, the first with the marker bit,
// then the end packet three times, all with the event's timestamp.
func (p *phone) key(dst net.Addr, pt uint8, code byte) {
	ts := p.ts
	for i, dur := range []uint16{160, 320, 480, 640, 640, 640} {
		payload := make([]byte, 4)
		payload[0] = code
		payload[1] = 10 // volume
		if dur == 640 {
			payload[1] |= 0x80 // end
		}
		binary.BigEndian.PutUint16(payload[2:], dur)
		p.send(dst, rtp.Header{PayloadType: pt, SequenceNumber: p.seq, Timestamp: ts, Marker: i == 0}, payload)
		p.seq++
	}
	p.ts += 640
}

// receive reads the next RTP packet, failing the test if none comes within
// d.
func (p *phone) receive(d time.Duration) *rtp.Packet {
	p.t.Helper()
	pkt, err := p.tryReceive(d)
	require.NoError(p.t, err, "no RTP from the bridge")
	return pkt
}

// tryReceive reads the next RTP packet; os.ErrDeadlineExceeded if none
// comes within d.
func (p *phone) tryReceive(d time.Duration) (*rtp.Packet, error) {
	buf := make([]byte, 1500)
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(d)))
	n, err := p.conn.Read(buf)
	if err != nil {
		return nil, err
	}
	pkt := &rtp.Packet{}
	require.NoError(p.t, pkt.Unmarshal(buf[:n]))
	return pkt, nil
}

// quiet reports whether no RTP arrives for d.
func (p *phone) quiet(d time.Duration) bool {
	_, err := p.tryReceive(d)
	return errors.Is(err, os.ErrDeadlineExceeded)
}

func encode(pt uint8, dst []byte, pcm []int16) {
	if pt == 8 {
		g711.EncodeALawTo(dst, pcm)
	} else {
		g711.EncodeULawTo(dst, pcm)
	}
}

func decode(pt uint8, payload []byte) []int16 {
	out := make([]int16, len(payload))
	if pt == 8 {
		g711.DecodeALawTo(out, payload)
	} else {
		g711.DecodeULawTo(out, payload)
	}
	return out
}
