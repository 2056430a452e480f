package testenv

import (
	mrand "math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/dialq/dialq/internal/localport"
)

// PortBlockSize is how many consecutive ports PortBlock hands out: sipp's
// SIP port and the four media ports it binds after it (audio and video,
// RTP and RTCP), or an Exotel trunk's RTP range of four even ports.
const PortBlockSize = 8

// The blocks come from regions of ports between portsLow and portsHigh:
// below Linux's ephemeral range (32768-60999), because sipp binds without
// SO_REUSEADDR and is refused a port a connection still holds in TIME_WAIT,
// which Go's bind (with it) does not see; and below 21000, where
// relay's tests bind fixed ranges.
//
// Each package's tests run as a process of their own, several at once, so
// each process reserves whole regions for itself: it holds a UDP socket on
// a region's first port for as long as it runs (the kernel lets go of it
// when the process ends), and another process finding that port taken
// moves on to the next region. Within a process no block is handed out
// twice. The first region is picked at random so that runs following each
// other do not start on ports the last one left in TIME_WAIT.
const (
	portsLow    = 10000
	portsHigh   = 21000
	regionSize  = 32 * PortBlockSize
	portRegions = (portsHigh - portsLow) / regionSize
	// portBlocks is how many blocks the regions hold, without the ones
	// that hold their locks.
	portBlocks = portRegions * (regionSize/PortBlockSize - 1)
)

var ports struct {
	mu        sync.Mutex
	next, end int              // the next block's first port, and the end of the region in use
	regions   int              // regions tried so far
	first     int              // the region tried first
	locks     []net.PacketConn // the regions reserved, held until the process ends
}

// PortBlock returns the first and last of PortBlockSize consecutive ports
// that are free on 127.0.0.1 for TCP and UDP now, and that no other test of
// any package running at the same time is handed. It fails the test if
// there are none left.
func PortBlock(t testing.TB) (first, last int) {
	t.Helper()
	ports.mu.Lock()
	defer ports.mu.Unlock()
	for range portBlocks {
		if ports.next == ports.end && !reservePortRegion() {
			break
		}
		base := ports.next
		ports.next += PortBlockSize
		if localport.Free(base, PortBlockSize) {
			return base, base + PortBlockSize - 1
		}
	}
	t.Fatalf("no free block of %d ports left in %d-%d", PortBlockSize, portsLow, portsHigh-1)
	return 0, 0
}

// reservePortRegion takes the next region no other process holds, and
// reports whether there was one. Its first block holds the lock.
func reservePortRegion() bool {
	if ports.regions == 0 {
		ports.first = mrand.IntN(portRegions)
	}
	for ports.regions < portRegions {
		base := portsLow + ((ports.first+ports.regions)%portRegions)*regionSize
		ports.regions++
		lock, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(base)))
		if err != nil {
			continue // another test process holds it
		}
		ports.locks = append(ports.locks, lock)
		ports.next, ports.end = base+PortBlockSize, base+regionSize
		return true
	}
	return false
}
