// Package testrtp stands in for the media end of a phone in tests of the
// Exotel bridge: a Receiver is a UDP port on 127.0.0.1 that keeps every RTP
// packet the bridge sends it, and Keys reads the RFC 4733 telephone-events
// among them as the digits a phone would hear.
//
// It is used only by tests.
package testrtp

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

// Packet is one RTP packet as it arrived.
type Packet struct {
	rtp.Packet
	At time.Time
}

// Receiver keeps the RTP packets sent to its port, in the order they came.
// It is safe for concurrent use.
type Receiver struct {
	conn *net.UDPConn

	mu      sync.Mutex
	pkts    []Packet
	changed chan struct{} // closed and replaced on each packet
}

// Listen binds a Receiver on an ephemeral port of 127.0.0.1 and reads into
// it until the test ends.
func Listen(t testing.TB) *Receiver {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	r := &Receiver{conn: conn, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var p rtp.Packet
			if err != nil || p.Unmarshal(buf[:n]) != nil {
				continue
			}
			p.Payload = slices.Clone(p.Payload)
			r.mu.Lock()
			r.pkts = append(r.pkts, Packet{Packet: p, At: time.Now()})
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return r
}

// Addr is the Receiver's address.
func (r *Receiver) Addr() *net.UDPAddr { return r.conn.LocalAddr().(*net.UDPAddr) }

// Port is the Receiver's port.
func (r *Receiver) Port() int { return r.Addr().Port }

// Packets returns the packets received so far.
func (r *Receiver) Packets() []Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.pkts)
}

// Await waits up to within until cond holds of the packets received so
// far, checking again on each new one, and fails the test if it does not.
// It returns the packets cond held of.
func (r *Receiver) Await(t testing.TB, what string, within time.Duration, cond func([]Packet) bool) []Packet {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		pkts, changed := slices.Clone(r.pkts), r.changed
		r.mu.Unlock()
		if cond(pkts) {
			return pkts
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("RTP receiver: no %s within %s (%d packets)", what, within, len(pkts))
		}
	}
}

// Key is one telephone-event: the packets of payload type pt that share an
// RTP timestamp.
type Key struct {
	// Digit is the event's key: '0'-'9', '*', '#', 'A'-'D'; 0 for another
	// event.
	Digit byte
	// Timestamp is the RTP timestamp all its packets carry.
	Timestamp uint32
	// Packets counts its packets, Ends those with the end bit.
	Packets, Ends int
	// Marker is whether its first packet had the marker bit; Markers
	// counts the packets that had it.
	Marker  bool
	Markers int
	// Durations are the duration fields of its packets, in order.
	Durations []uint16
	// Volume is the first packet's volume, in -dBm0.
	Volume byte
	// First and Last are when its first and last packets arrived; Seqs
	// are its packets' sequence numbers.
	First, Last time.Time
	Seqs        []uint16
}

// Ended reports whether an end packet of the key came.
func (k Key) Ended() bool { return k.Ends > 0 }

// Keys returns the telephone-events among pkts, of payload type pt, in the
// order they started.
func Keys(pkts []Packet, pt uint8) []Key {
	var keys []Key
	for _, p := range pkts {
		if p.PayloadType != pt || len(p.Payload) < 4 {
			continue
		}
		if n := len(keys); n == 0 || keys[n-1].Timestamp != p.Timestamp {
			keys = append(keys, Key{Digit: digitOf(p.Payload[0]), Timestamp: p.Timestamp, Marker: p.Marker,
				Volume: p.Payload[1] & 0x3f, First: p.At})
		}
		k := &keys[len(keys)-1]
		k.Packets++
		if p.Payload[1]&0x80 != 0 {
			k.Ends++
		}
		if p.Marker {
			k.Markers++
		}
		k.Durations = append(k.Durations, binary.BigEndian.Uint16(p.Payload[2:4]))
		k.Last = p.At
		k.Seqs = append(k.Seqs, p.SequenceNumber)
	}
	return keys
}

// Digits returns the digits of the keys that ended, in order.
func Digits(keys []Key) string {
	var s []byte
	for _, k := range keys {
		if k.Ended() && k.Digit != 0 {
			s = append(s, k.Digit)
		}
	}
	return string(s)
}

// digitOf is the key of RFC 4733 event code c (§3.2), 0 for other events.
func digitOf(c byte) byte {
	switch {
	case c <= 9:
		return '0' + c
	case c == 10:
		return '*'
	case c == 11:
		return '#'
	case c <= 15:
		return 'A' + c - 12
	}
	return 0
}
