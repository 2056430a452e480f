package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/dialq/dialq/internal/localport"
)

// privateLiveKit is how a benchmark's own livekit-server differs from the
// bridge benchmark's: the zero value is that one.
type privateLiveKit struct {
	// Redis, when set, is the server's Redis (its SIP trunk APIs need one).
	// It must be a server of the benchmark's own: livekit-servers sharing a
	// Redis database route rooms to each other.
	Redis string
	// Webhooks are the URLs the server posts its webhooks to.
	Webhooks []string
	// Ports, when set, is the size of a range of UDP ports for WebRTC, one
	// port per ICE session as the stack's server has (rtc.port_range_*),
	// instead of one shared UDP port (rtc.udp_port).
	Ports int
	// PortRange is the range picked for Ports, set by startPrivateLiveKit.
	PortRange [2]int
}

// startPrivateLiveKit runs a livekit-server of the bridge benchmark's own
// (the stack's binary, the stack's API key) on free loopback ports, with
// WebRTC on one UDP port (rtc.udp_port) and warnings-only logs. The stack's
// server takes its WebRTC ports from a range of 100, fewer than the
// benchmark's 200 participants need, and other tests on this machine share
// it; a private one is this benchmark's alone, so its CPU is the rooms'
// cost. It returns the child and the server's URL. Other benchmarks set
// opt; nil is the bridge's server.
func startPrivateLiveKit(ctx context.Context, e env, logPath string, opt *privateLiveKit) (*child, string, error) {
	if opt == nil {
		opt = &privateLiveKit{}
	}
	bin := filepath.Join(e.StateDir, "bin", "livekit-server")
	if _, err := os.Stat(bin); err != nil {
		return nil, "", fmt.Errorf("livekit-server binary: %w (run make up)", err)
	}
	port, err := freePort("tcp")
	if err != nil {
		return nil, "", err
	}
	rtc := ""
	if opt.Ports > 0 {
		first, err := freeUDPRange(opt.Ports)
		if err != nil {
			return nil, "", err
		}
		opt.PortRange = [2]int{first, first + opt.Ports - 1}
		rtc = fmt.Sprintf("  port_range_start: %d\n  port_range_end: %d\n", first, first+opt.Ports-1)
	} else {
		udp, err := freePort("udp")
		if err != nil {
			return nil, "", err
		}
		rtc = fmt.Sprintf("  udp_port: %d\n", udp)
	}
	extra := ""
	if opt.Redis != "" {
		extra += fmt.Sprintf("redis:\n  address: %s\n", opt.Redis)
	}
	if len(opt.Webhooks) > 0 {
		extra += fmt.Sprintf("webhook:\n  api_key: %s\n  urls:\n", e.LiveKitAPIKey)
		for _, u := range opt.Webhooks {
			extra += "    - " + u + "\n"
		}
	}
	conf := fmt.Sprintf(`port: %d
bind_addresses: [127.0.0.1]
keys:
  %s: %s
rtc:
  tcp_port: 0
%s  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  ips:
    includes: [127.0.0.1/32]
%slogging:
  level: warn
`, port, e.LiveKitAPIKey, e.LiveKitAPISecret, rtc, extra)
	c, err := startChild(ctx, "livekit-server (private)", logPath, false, bin, "--config-body", conf)
	if err != nil {
		return nil, "", err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	up := func() bool {
		resp, err := http.Get(url + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b) == "OK"
	}
	if err := c.waitReady(ctx, "serving", 30*time.Second, up); err != nil {
		c.stop()
		return nil, "", fmt.Errorf("private livekit-server: %w (see %s)", err, logPath)
	}
	return c, url, nil
}

// freeUDPRange returns the first of n consecutive ports free on 127.0.0.1
// now, in 30000-32767: below Linux's ephemeral range (where the kernel
// hands out ports to any connection) and above the tests' and the other
// benchmarks' ports.
func freeUDPRange(n int) (int, error) {
	for range 50 {
		first := 30000 + rand.IntN(2768-n)
		if localport.Free(first, n) {
			return first, nil
		}
	}
	return 0, fmt.Errorf("no %d free consecutive ports in 30000-32767", n)
}

// freePort returns a port free on 127.0.0.1 for network ("tcp" or "udp")
// now.
func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
