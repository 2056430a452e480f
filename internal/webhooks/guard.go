package webhooks

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// Guard keeps webhooks from reaching dialq's own network (SSRF): an
// endpoint whose host is or resolves to a loopback, private, link-local,
// unspecified, multicast or otherwise reserved address is refused when it
// is made, and every connection of a delivery is checked again at dial
// time, after DNS resolution, so a name that later resolves inward (DNS
// rebinding) is caught too.
type Guard struct {
	// AllowPrivate lets webhooks reach every address
	// (DIALQ_WEBHOOK_ALLOW_PRIVATE): local development, and receivers on
	// the same private network.
	AllowPrivate bool
	// Resolver looks up an endpoint's host at creation; nil uses
	// net.DefaultResolver.
	Resolver *net.Resolver
}

// reserved are ranges no public receiver has, besides those netip.Addr
// names itself.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// nat64 carries an IPv4 address in its last 32 bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Forbidden reports whether a webhook may not be sent to addr unless
// private addresses are allowed.
func Forbidden(addr netip.Addr) bool {
	addr = addr.Unmap()
	if nat64.Contains(addr) {
		b := addr.As16()
		return Forbidden(netip.AddrFrom4([4]byte(b[12:])))
	}
	if addr.IsLoopback() || addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsInterfaceLocalMulticast() || addr.IsMulticast() || addr.IsUnspecified() || !addr.IsValid() {
		return true
	}
	for _, p := range reserved {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// CheckURL refuses an endpoint URL whose host is a forbidden address or a
// name that resolves to one. A name that does not resolve now is let
// through: its deliveries are checked when they connect.
// Returns EINVALID naming url.
func (g Guard) CheckURL(ctx context.Context, u *url.URL) error {
	if g.AllowPrivate {
		return nil
	}
	host := u.Hostname()
	if addr, err := netip.ParseAddr(host); err == nil {
		if Forbidden(addr) {
			return dialq.InvalidField("url", "must not point at a private, loopback, link-local or reserved address (%s)", addr)
		}
		return nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if Forbidden(a) {
			return dialq.InvalidField("url", "must not point at a private, loopback, link-local or reserved address (%s resolves to %s)", host, a.Unmap())
		}
	}
	return nil
}

// control is the net.Dialer's Control: it runs on the resolved address of
// every connection, just before it is made.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook target %s: %w", address, err)
	}
	if Forbidden(ap.Addr()) {
		return fmt.Errorf("webhook target %s is a private, loopback, link-local or reserved address, refused (DIALQ_WEBHOOK_ALLOW_PRIVATE)", ap.Addr().Unmap())
	}
	return nil
}

// RequestTimeout is how long one delivery request may take, end to end.
const RequestTimeout = 10 * time.Second

// Client returns the HTTP client deliveries are sent with: connections
// checked by the guard, no proxy from the environment (the guard would
// check the proxy's address, not the receiver's), no redirect followed (a
// 3xx is the answer, and counts as a failure), and timeout per request.
func (g Guard) Client(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = RequestTimeout
	}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
