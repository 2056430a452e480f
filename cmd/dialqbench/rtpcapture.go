package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// wireStats is how the frames to the phones went out, as the loopback
// interface saw them leave the bridge during the measured window.
type wireStats struct {
	Frames int `json:"frames"`
	Calls  int `json:"calls"` // RTP streams seen
	// Skipped is the frames missing from the streams' RTP timestamps: frames
	// the pacer skipped after falling behind, or lost.
	Skipped int `json:"skipped"`
	// Lateness of each frame behind its place in its stream's 20 ms
	// schedule (RTP timestamp / 8 kHz), measured from the stream's earliest
	// frame in the window: p50, p99, p99.9 and max, and how many were more
	// than 5 ms late.
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
	Late  int           `json:"late"`
	Drops uint32        `json:"capture_drops"` // frames the capture socket lost
}

// LatePct is the share of frames more than 5 ms late, in percent.
func (w *wireStats) LatePct() float64 {
	if w.Frames == 0 {
		return 0
	}
	return float64(w.Late) / float64(w.Frames) * 100
}

// lateAfter is relay's threshold for a late frame.
const lateAfter = 5 * time.Millisecond

// rtpCapture watches the RTP the bridge sends: an AF_PACKET socket on the
// loopback interface whose BPF filter keeps only IPv4 UDP packets from the
// bridge's RTP port range to the phone's port, with the kernel's timestamp of each. On loopback
// a packet is received within the sender's sendto, and the kernel stamps
// it as it queues it (net.core.netdev_tstamp_prequeue, on by default), so
// the stamp is when the bridge sent it. It needs CAP_NET_RAW (root), as
// sipp's pcap play does.
type rtpCapture struct {
	fd   int
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	flows map[uint64]*rtpFlow
	err   error
}

// rtpFlow is one call's stream to the phone.
type rtpFlow struct {
	t0, ts0 int64 // first frame: arrival (ns) and RTP timestamp
	lastTS  int64 // RTP timestamp, unwrapped
	offsets []int64
}

// startRTPCapture starts capturing the UDP packets sent from source ports
// portMin..portMax to port dstPort on the loopback interface.
func startRTPCapture(portMin, portMax, dstPort int) (*rtpCapture, error) {
	lo, err := loopback()
	if err != nil {
		return nil, err
	}
	// Protocol 0 receives nothing until the bind below, after the filter
	// is in place.
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("packet socket (needs root or CAP_NET_RAW): %w", err)
	}
	const drop = 13
	prog := []syscall.SockFilter{
		{Code: syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS, K: 0xfffff000 + 4}, // pkttype
		{Code: syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K, K: syscall.PACKET_HOST, Jf: drop - 2},
		{Code: syscall.BPF_LD | syscall.BPF_B | syscall.BPF_ABS, K: 9}, // IP protocol
		{Code: syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K, K: syscall.IPPROTO_UDP, Jf: drop - 4},
		{Code: syscall.BPF_LD | syscall.BPF_H | syscall.BPF_ABS, K: 6}, // fragment offset
		{Code: syscall.BPF_JMP | syscall.BPF_JSET | syscall.BPF_K, K: 0x1fff, Jt: drop - 6},
		{Code: syscall.BPF_LDX | syscall.BPF_B | syscall.BPF_MSH, K: 0}, // IP header length
		{Code: syscall.BPF_LD | syscall.BPF_H | syscall.BPF_IND, K: 0},  // UDP source port
		{Code: syscall.BPF_JMP | syscall.BPF_JGE | syscall.BPF_K, K: uint32(portMin), Jf: drop - 9},
		{Code: syscall.BPF_JMP | syscall.BPF_JGT | syscall.BPF_K, K: uint32(portMax), Jt: drop - 10},
		{Code: syscall.BPF_LD | syscall.BPF_H | syscall.BPF_IND, K: 2}, // UDP destination port
		{Code: syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K, K: uint32(dstPort), Jf: drop - 12},
		{Code: syscall.BPF_RET | syscall.BPF_K, K: 128}, // IP + UDP + RTP headers
		{Code: syscall.BPF_RET | syscall.BPF_K, K: 0},
	}
	fail := func(what string, err error) (*rtpCapture, error) {
		syscall.Close(fd)
		return nil, fmt.Errorf("rtp capture: %s: %w", what, err)
	}
	//lint:ignore SA1019 the classic BPF program above is syscall's own type; x/net/bpf would only re-encode it
	if err := syscall.AttachLsf(fd, prog); err != nil {
		return fail("attach filter", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		return fail("timestamps", err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 16<<20); err != nil {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<20)
	}
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return fail("receive timeout", err)
	}
	proto := htons(syscall.ETH_P_IP)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: proto, Ifindex: lo}); err != nil {
		return fail("bind to lo", err)
	}
	c := &rtpCapture{fd: fd, stop: make(chan struct{}), done: make(chan struct{}), flows: map[uint64]*rtpFlow{}}
	go c.read()
	return c, nil
}

func loopback() (int, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0, err
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 {
			return i.Index, nil
		}
	}
	return 0, errors.New("rtp capture: no loopback interface")
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (c *rtpCapture) read() {
	defer close(c.done)
	buf := make([]byte, 256)
	oob := make([]byte, 128)
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		n, oobn, _, _, err := syscall.Recvmsg(c.fd, buf, oob, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		at, ok := kernelTime(oob[:oobn])
		if !ok {
			continue
		}
		c.packet(buf[:n], at)
	}
}

// kernelTime finds the SCM_TIMESTAMPNS of a received packet.
func kernelTime(oob []byte) (int64, bool) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0, false
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(m.Data[0:]))
			nsec := int64(binary.NativeEndian.Uint64(m.Data[8:]))
			return sec*1e9 + nsec, true
		}
	}
	return 0, false
}

// packet takes one IPv4 UDP packet (the filter let only those through).
func (c *rtpCapture) packet(p []byte, at int64) {
	if len(p) < 20 {
		return
	}
	ihl := int(p[0]&0x0f) * 4
	if len(p) < ihl+8+12 {
		return
	}
	udp := p[ihl:]
	rtp := udp[8:]
	if rtp[0]>>6 != 2 {
		return
	}
	key := uint64(binary.BigEndian.Uint16(udp[0:]))<<32 | uint64(binary.BigEndian.Uint32(rtp[8:]))
	ts := binary.BigEndian.Uint32(rtp[4:])
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.flows[key]
	if f == nil {
		f = &rtpFlow{t0: at, ts0: int64(ts), lastTS: int64(ts)}
		c.flows[key] = f
	}
	// Unwrap the 32-bit timestamp around the last one.
	uts := f.lastTS + int64(int32(ts-uint32(f.lastTS)))
	f.lastTS = max(f.lastTS, uts)
	// 8 kHz: one timestamp unit is 125 µs.
	f.offsets = append(f.offsets, (at-f.t0)-(uts-f.ts0)*125_000)
}

// finish stops the capture and summarizes it.
func (c *rtpCapture) finish() (*wireStats, error) {
	close(c.stop)
	<-c.done
	var st struct{ packets, drops uint32 }
	size := uint32(unsafe.Sizeof(st))
	_, _, errno := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(c.fd), syscall.SOL_PACKET, syscall.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&size)), 0)
	syscall.Close(c.fd)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, fmt.Errorf("rtp capture: %w", c.err)
	}
	w := &wireStats{Calls: len(c.flows)}
	if errno == 0 {
		w.Drops = st.drops
	}
	var all []time.Duration
	for _, f := range c.flows {
		if len(f.offsets) == 0 {
			continue
		}
		least := slices.Min(f.offsets)
		for _, o := range f.offsets {
			d := time.Duration(o - least)
			all = append(all, d)
			if d > lateAfter {
				w.Late++
			}
		}
		frames := int((f.lastTS-f.ts0)/160) + 1
		w.Skipped += max(0, frames-len(f.offsets))
	}
	slices.Sort(all)
	w.Frames = len(all)
	w.P50, w.P99 = percentile(all, 50), percentile(all, 99)
	w.P999 = percentile(all, 99.9)
	if len(all) > 0 {
		w.Max = all[len(all)-1]
	}
	return w, nil
}
