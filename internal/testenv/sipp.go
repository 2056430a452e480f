package testenv

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// SippOptions say how to run sipp as a SIP peer (Exotel, a phone).
type SippOptions struct {
	// Scenario is the path of the scenario file.
	Scenario string
	// Transport is "tcp" (default) or "udp".
	Transport string
	// Calls ends sipp after this many calls (-m); 0 serves until the test ends.
	Calls int
	// Args are extra sipp arguments, e.g. "-rtp_echo".
	Args []string
}

// SippRun is one sipp process answering on 127.0.0.1.
type SippRun struct {
	Host      string
	Port      int
	MediaPort int
	dir       string
	exited    chan struct{}
	err       error // sipp's exit; read after exited is closed
}

// Sipp starts sipp as a UAS on a free 127.0.0.1 port and returns once it
// listens. It is killed when the test ends, and its message log is printed
// if the test failed. sipp comes from Debian's sip-tester (deploy/stack.sh
// tools installs it).
func Sipp(t testing.TB, o SippOptions) *SippRun {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed: install Debian's sip-tester (deploy/stack.sh tools does)")
	}
	if o.Transport == "" {
		o.Transport = "tcp"
	}
	scenario, err := filepath.Abs(o.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	base := freeSippPorts(t)
	s := &SippRun{Host: "127.0.0.1", Port: base, MediaPort: base + 2, dir: t.TempDir(), exited: make(chan struct{})}
	mode := map[string]string{"tcp": "t1", "udp": "u1"}[o.Transport]
	args := []string{
		"-sf", scenario,
		"-i", s.Host, "-p", strconv.Itoa(s.Port), "-t", mode,
		"-mi", s.Host, "-mp", strconv.Itoa(s.MediaPort),
		"-nostdin",
		"-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
	}
	if o.Calls > 0 {
		args = append(args, "-m", strconv.Itoa(o.Calls))
	}
	args = append(args, o.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir // sipp drops stray files in its working directory
	out, err := os.Create(filepath.Join(s.dir, "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sipp: %v", err)
	}
	go func() {
		s.err = cmd.Wait()
		out.Close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("sipp %s messages:\n%s", filepath.Base(scenario), s.Read("messages.log"))
			t.Logf("sipp %s errors:\n%s", filepath.Base(scenario), s.Read("errors.log"))
		}
	})
	s.awaitListening(t, o.Transport)
	return s
}

// Addr is sipp's SIP address.
func (s *SippRun) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Wait returns sipp's exit once it exits: nil when every call of the
// scenario passed.
func (s *SippRun) Wait(ctx context.Context) error {
	select {
	case <-s.exited:
		return s.err
	case <-ctx.Done():
		return fmt.Errorf("sipp still running: %w", ctx.Err())
	}
}

// Received returns the SIP messages sipp received, in order.
func (s *SippRun) Received() []string { return s.messages("message received") }

// Sent returns the SIP messages sipp sent, in order.
func (s *SippRun) Sent() []string { return s.messages("message sent") }

// Read returns one of sipp's files (messages.log, errors.log, stdout.log).
func (s *SippRun) Read(name string) string {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

func (s *SippRun) messages(kind string) []string {
	var got []string
	for _, block := range strings.Split(s.Read("messages.log"), "-----------------------------------------------") {
		_, msg, ok := strings.Cut(strings.ReplaceAll(block, "\r", ""), "\n")
		if !ok {
			continue
		}
		head, msg, _ := strings.Cut(msg, "\n")
		if strings.Contains(head, kind) {
			got = append(got, strings.TrimSpace(msg))
		}
	}
	return got
}

// FirstLines returns the request or status line of each message.
func FirstLines(msgs []string) []string {
	lines := make([]string, 0, len(msgs))
	for _, m := range msgs {
		first, _, _ := strings.Cut(m, "\n")
		lines = append(lines, first)
	}
	return lines
}

// sipp binds without SO_REUSEADDR, so a port with a connection in
// TIME_WAIT is refused although Go's bind succeeds: blocks are handed out
// below Linux's ephemeral range (32768-60999), 8 ports each (SIP, then the
// four media ports sipp binds).
var nextSippBlock atomic.Int32

const sippBlock = 8

func init() { nextSippBlock.Store(int32(10000 + sippBlock*mrand.IntN(1000))) }

func freeSippPorts(t testing.TB) int {
	t.Helper()
	for range 100 {
		base := int(nextSippBlock.Add(sippBlock)) - sippBlock
		if portsFree(base, sippBlock) {
			return base
		}
	}
	t.Fatal("no free ports for sipp")
	return 0
}

func portsFree(base, n int) bool {
	for port := base; port < base+n; port++ {
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

// awaitListening waits until sipp has bound its port, as /proc/net shows:
// sipp has no readiness signal, and probing by binding would race it.
func (s *SippRun) awaitListening(t testing.TB, transport string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := boundOnLoopback(transport, s.Port)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case <-s.exited:
			t.Fatalf("sipp exited before listening: %v\n%s", s.err, s.Read("stdout.log"))
		case <-deadline:
			t.Fatalf("sipp is not listening on %s port %d after 5s", transport, s.Port)
		case <-tick.C:
		}
	}
}

// boundOnLoopback reports whether a socket listens on 127.0.0.1:port (TCP)
// or is bound to it (UDP), from /proc/net/tcp or /proc/net/udp.
func boundOnLoopback(transport string, port int) (bool, error) {
	b, err := os.ReadFile("/proc/net/" + transport)
	if err != nil {
		return false, errors.New("reading /proc/net: " + err.Error())
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != local {
			continue
		}
		if transport == "udp" || f[3] == "0A" { // 0A: LISTEN
			return true, nil
		}
	}
	return false, nil
}
