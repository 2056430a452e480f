package bridge_test

import (
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
	"text/template"
	"time"

	"github.com/stretchr/testify/require"
)

// sippRun is one sipp process playing a UAS scenario from testdata, the way
// Exotel answers dialq's bridge.
type sippRun struct {
	Host      string
	Port      int
	MediaPort int
	dir       string
	exited    chan struct{}
	err       error // sipp's exit; read after exited is closed
}

// startSipp runs `sipp -sf testdata/<scenario>` on a free 127.0.0.1 port
// over transport ("tcp" or "udp") for one call, with the extra arguments,
// and returns once sipp listens. A scenario ending in .tmpl is a
// text/template, rendered with data first. sipp is killed when the test
// ends; its logs are printed if the test failed.
func startSipp(t *testing.T, scenario, transport string, data any, extra ...string) *sippRun {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	require.NoError(t, err, "sipp is not installed: install Debian's sip-tester (deploy/stack.sh tools does)")

	base := freePorts(t)
	s := &sippRun{
		Host:      "127.0.0.1",
		Port:      base,
		MediaPort: base + 2,
		dir:       t.TempDir(),
		exited:    make(chan struct{}),
	}
	mode := map[string]string{"tcp": "t1", "udp": "u1"}[transport]
	path, err := filepath.Abs(filepath.Join("testdata", scenario))
	require.NoError(t, err)
	if strings.HasSuffix(scenario, ".tmpl") {
		path = render(t, path, filepath.Join(s.dir, strings.TrimSuffix(scenario, ".tmpl")), data)
	}
	args := []string{
		"-sf", path,
		"-i", s.Host, "-p", strconv.Itoa(s.Port), "-t", mode,
		"-mi", s.Host, "-mp", strconv.Itoa(s.MediaPort),
		"-m", "1", "-nostdin",
		"-timeout", "30s", "-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
	}
	args = append(args, extra...)

	cmd := exec.Command(bin, args...)
	cmd.Dir = s.dir // sipp drops stray files in its working directory
	out, err := os.Create(filepath.Join(s.dir, "stdout.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
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
			t.Logf("sipp %s messages:\n%s", scenario, s.read("messages.log"))
			t.Logf("sipp %s errors:\n%s", scenario, s.read("errors.log"))
			t.Logf("sipp %s output (tail):\n%s", scenario, tail(s.read("stdout.log"), 3000))
		}
	})
	s.awaitListening(t, transport)
	return s
}

// render executes the template at path with data into a file at out.
func render(t *testing.T, path, out string, data any) string {
	t.Helper()
	tmpl, err := template.ParseFiles(path)
	require.NoError(t, err)
	f, err := os.Create(out)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, tmpl.Execute(f, data))
	return out
}

// nextBlock hands out blocks of portBlock ports below Linux's ephemeral
// range (32768-60999): a port there may still have a connection in
// TIME_WAIT, which sipp's bind (without SO_REUSEADDR) refuses although Go's
// succeeds. Each sipp takes one block (its SIP port first, then the four
// media ports it binds), and so does each trunk's RTP range. The blocks
// start at 29000, clear of the ones sipua's and rtpbridge's tests use when
// the packages run at once.
var nextBlock atomic.Int32

const portBlock = 8

func init() { nextBlock.Store(int32(29000 + portBlock*mrand.IntN(250))) }

// freePorts returns the first port of a block free on 127.0.0.1 for TCP
// and UDP now.
func freePorts(t *testing.T) int {
	t.Helper()
	for range 100 {
		base := int(nextBlock.Add(portBlock)) - portBlock
		if blockFree(base) {
			return base
		}
	}
	t.Fatal("no free ports for sipp")
	return 0
}

func blockFree(base int) bool {
	for port := base; port < base+portBlock; port++ {
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

// awaitListening waits until sipp has bound its port, as /proc/net shows
// it: sipp has no readiness signal, and probing by binding would race it.
func (s *sippRun) awaitListening(t *testing.T, transport string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !bound(t, transport, s.Port) {
		select {
		case <-s.exited:
			t.Fatalf("sipp exited before listening: %v\n%s", s.err, s.read("stdout.log"))
		case <-deadline:
			t.Fatalf("sipp is not listening on %s port %d after 5s", transport, s.Port)
		case <-tick.C:
		}
	}
}

// bound reports whether a socket listens on 127.0.0.1:port (TCP) or is
// bound to it (UDP), reading /proc/net/tcp or /proc/net/udp.
func bound(t *testing.T, transport string, port int) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/net/" + transport)
	require.NoError(t, err)
	local := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != local {
			continue
		}
		if transport == "udp" || f[3] == "0A" { // 0A: LISTEN
			return true
		}
	}
	return false
}

// requirePassed waits for sipp to exit and fails the test unless its
// scenario completed: every message it expected came, in order.
func (s *sippRun) requirePassed(t *testing.T) {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("sipp still running after 20s")
	}
	if exit, ok := errors.AsType[*exec.ExitError](s.err); ok {
		t.Fatalf("sipp scenario failed (exit %d)", exit.ExitCode())
	}
	require.NoError(t, s.err)
}

func (s *sippRun) read(name string) string {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

// received returns the messages sipp received, in order.
func (s *sippRun) received() []string { return s.messages("message received") }

// sent returns the messages sipp sent, in order.
func (s *sippRun) sent() []string { return s.messages("message sent") }

// messages returns the messages of sipp's message log whose header line
// says kind, with CRLF line ends turned into LF.
func (s *sippRun) messages(kind string) []string {
	var got []string
	for _, block := range strings.Split(s.read("messages.log"), "-----------------------------------------------") {
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

// firstLines returns the request or status line of each message.
func firstLines(msgs []string) []string {
	lines := make([]string, 0, len(msgs))
	for _, m := range msgs {
		first, _, _ := strings.Cut(m, "\n")
		lines = append(lines, first)
	}
	return lines
}

// header returns the value of the first header name (case-insensitive) of
// msg, or "".
func header(msg, name string) string {
	head, _, _ := strings.Cut(msg, "\n\n")
	for _, line := range strings.Split(head, "\n")[1:] {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// body returns the body of msg.
func body(msg string) string {
	_, b, _ := strings.Cut(msg, "\n\n")
	return b
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
