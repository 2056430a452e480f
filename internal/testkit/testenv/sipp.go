package testenv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

// SippScenario returns the path of a sipp scenario: the test package's own
// testdata/<name> if it has one, else the scenario shared by the packages
// that test against sipp (internal/testenv/sipp/<name>: a phone that
// rings out, refuses, or holds and resumes).
func SippScenario(name string) string {
	local := filepath.Join("testdata", name)
	if _, err := os.Stat(local); err == nil {
		return local
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "sipp", name)
}

// SippOptions say how to run sipp as a SIP peer (Exotel, a phone).
type SippOptions struct {
	// Scenario is the path of the scenario file. One ending in .tmpl is a
	// text/template, rendered with Data first: sipp checks some values,
	// such as response codes, as it loads the scenario, before any -key
	// substitution.
	Scenario string
	// Data fills in a .tmpl scenario.
	Data any
	// Transport is "tcp" (default) or "udp".
	Transport string
	// Calls ends sipp after this many calls (-m); 0 serves until the test ends.
	Calls int
	// Timeout, when not 0, ends sipp as failed once it has run that long,
	// rounded up to whole seconds (-timeout, -timeout_error): a scenario
	// waiting for a message that never comes fails rather than hangs.
	Timeout time.Duration
	// Args are extra sipp arguments, e.g. "-rtp_echo".
	Args []string
}

// SippRun is one sipp process answering on 127.0.0.1.
type SippRun struct {
	// Host and Port are where sipp takes SIP requests.
	Host string
	Port int
	// MediaPort is the RTP port sipp answers with in its SDP.
	MediaPort int
	dir       string
	exited    chan struct{}
	err       error // sipp's exit; read after exited is closed
}

// Sipp starts sipp as a UAS on a free 127.0.0.1 port and returns once it
// listens. It is killed when the test ends, and its logs are printed if the
// test failed. sipp comes from Debian's sip-tester (deploy/stack.sh tools
// installs it).
func Sipp(t testing.TB, o SippOptions) *SippRun {
	t.Helper()
	bin, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatalf("sipp is not installed: install Debian's sip-tester (deploy/stack.sh tools does)")
	}
	if o.Transport == "" {
		o.Transport = "tcp"
	}
	base, _ := PortBlock(t)
	s := &SippRun{Host: "127.0.0.1", Port: base, MediaPort: base + 2, dir: t.TempDir(), exited: make(chan struct{})}
	scenario, err := filepath.Abs(o.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(scenario)
	if strings.HasSuffix(scenario, ".tmpl") {
		name = strings.TrimSuffix(name, ".tmpl")
		scenario = render(t, scenario, filepath.Join(s.dir, name), o.Data)
	}
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
	if o.Timeout > 0 {
		args = append(args, "-timeout", strconv.Itoa(int(math.Ceil(o.Timeout.Seconds())))+"s", "-timeout_error")
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
			t.Logf("sipp %s messages:\n%s", name, s.Read("messages.log"))
			t.Logf("sipp %s errors:\n%s", name, s.Read("errors.log"))
			t.Logf("sipp %s output (tail):\n%s", name, tail(s.Read("stdout.log"), 3000))
		}
	})
	s.awaitListening(t, o.Transport)
	return s
}

// render executes the template at path with data into a file at out, and
// returns out.
func render(t testing.TB, path, out string, data any) string {
	t.Helper()
	tmpl, err := template.ParseFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := tmpl.Execute(f, data); err != nil {
		t.Fatalf("render %s: %v", path, err)
	}
	return out
}

// Addr is sipp's SIP address.
func (s *SippRun) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Wait returns sipp's exit once it exits: nil when every call of the
// scenario passed, an *exec.ExitError when one failed.
func (s *SippRun) Wait(ctx context.Context) error {
	select {
	case <-s.exited:
		return s.err
	case <-ctx.Done():
		return fmt.Errorf("sipp still running: %w", ctx.Err())
	}
}

// RequirePassed waits up to 20 s for sipp to exit and fails the test unless
// every call of its scenario passed: each message it expected came, in
// order.
func (s *SippRun) RequirePassed(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := s.Wait(ctx)
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		t.Fatalf("sipp scenario failed (exit %d)", exit.ExitCode())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Received returns the SIP messages sipp received, in order, with LF line
// ends.
func (s *SippRun) Received() []string { return s.messages("message received") }

// Sent returns the SIP messages sipp sent, in order, with LF line ends.
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

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
