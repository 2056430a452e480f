package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// startPrivateLiveKit runs a livekit-server of the bridge benchmark's own
// (the stack's binary, the stack's API key) on free loopback ports, with
// WebRTC on one UDP port (rtc.udp_port) and warnings-only logs. The stack's
// server takes its WebRTC ports from a range of 100, fewer than the
// benchmark's 200 participants need, and other tests on this machine share
// it; a private one is this benchmark's alone, so its CPU is the rooms'
// cost. It returns the child and the server's URL.
func startPrivateLiveKit(ctx context.Context, e env, logPath string) (*child, string, error) {
	bin := filepath.Join(e.StateDir, "bin", "livekit-server")
	if _, err := os.Stat(bin); err != nil {
		return nil, "", fmt.Errorf("livekit-server binary: %w (run make up)", err)
	}
	port, err := freePort("tcp")
	if err != nil {
		return nil, "", err
	}
	udp, err := freePort("udp")
	if err != nil {
		return nil, "", err
	}
	conf := fmt.Sprintf(`port: %d
bind_addresses: [127.0.0.1]
keys:
  %s: %s
rtc:
  tcp_port: 0
  udp_port: %d
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  ips:
    includes: [127.0.0.1/32]
logging:
  level: warn
`, port, e.LiveKitAPIKey, e.LiveKitAPISecret, udp)
	c, err := startChild(ctx, "livekit-server (bridge bench)", logPath, false, bin, "--config-body", conf)
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
