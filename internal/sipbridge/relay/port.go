package relay

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"syscall"
)

// Listen binds a UDP port for a call's RTP on ip, an even port from
// portMin..portMax (RTP takes the even port, leaving the odd one above it to
// RTCP). The SIP user agent calls it before the INVITE to put the port in its
// SDP offer, and hands the connection to New. Ports are tried from a random
// start so that calls placed at once do not race for the same one.
//
// Returns an error if ip is not an IP address, the range is not within
// 1..65535 or holds no even port, or every even port in it is taken.
func Listen(ip string, portMin, portMax int) (*net.UDPConn, error) {
	addr := net.ParseIP(ip)
	if addr == nil {
		return nil, fmt.Errorf("listen for RTP: %q is not an IP address", ip)
	}
	if portMin < 1 || portMax > 65535 || portMin > portMax {
		return nil, fmt.Errorf("listen for RTP: port range %d-%d must be within 1-65535, low to high", portMin, portMax)
	}
	first := portMin + portMin%2
	if first > portMax {
		return nil, fmt.Errorf("listen for RTP: port range %d-%d holds no even port", portMin, portMax)
	}
	n := (portMax-first)/2 + 1
	start := rand.IntN(n)
	for i := range n {
		port := first + 2*((start+i)%n)
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: addr, Port: port})
		if err == nil {
			return conn, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listen for RTP on %s:%d: %w", ip, port, err)
		}
	}
	return nil, fmt.Errorf("listen for RTP: every even port in %d-%d on %s is taken", portMin, portMax, ip)
}
