// Package localport probes loopback ports, for the tests' and the
// benchmarks' peers (sipp, RTP ranges) that must bind ports of their own.
package localport

import (
	"net"
	"strconv"
)

// Free reports whether the n ports from first can be bound on 127.0.0.1
// now, for TCP and for UDP. sipp binds without SO_REUSEADDR, so callers pick
// ports below Linux's ephemeral range, where no connection lingers in
// TIME_WAIT.
func Free(first, n int) bool {
	for port := first; port < first+n; port++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			return false
		}
		l.Close()
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}
