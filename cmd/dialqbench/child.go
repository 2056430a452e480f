package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is a process the bench started: a server of its own (the API under
// test, the reference handler, the SIP double, an idle worker) or a private
// redis-server. Servers run in their own process so the load generator does
// not share a Go runtime with what it measures.
type child struct {
	name string
	cmd  *exec.Cmd
	// Addr is what the child announced on its "ready" line.
	Addr string
	// Lines receives the child's stdout lines after "ready".
	Lines chan string

	stdin io.WriteCloser
	done  chan struct{}
	err   error
}

// startSelf runs this binary again with args and waits for its "ready
// <addr>" line. Its stderr goes to logPath.
func startSelf(ctx context.Context, name, logPath string, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	return startChild(ctx, name, logPath, true, exe, args...)
}

// startChild starts path with args. With announce, it waits for the child's
// "ready <addr>" line on stdout.
func startChild(ctx context.Context, name, logPath string, announce bool, path string, args ...string) (*child, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Stderr = logf
	// The child dies with the bench even if the bench is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	var stdout io.ReadCloser
	if announce {
		if stdout, err = cmd.StdoutPipe(); err != nil {
			return nil, err
		}
	} else {
		cmd.Stdout = logf
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, stdin: stdin, done: make(chan struct{}), Lines: make(chan string, 4096)}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	if !announce {
		return c, nil
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				ready <- line
				continue
			}
			select {
			case c.Lines <- line:
			default: // nobody reads: drop rather than block the child
			}
		}
		close(c.Lines)
		if first {
			close(ready)
		}
	}()
	select {
	case line, ok := <-ready:
		addr, found := strings.CutPrefix(line, "ready ")
		if !ok || !found {
			c.stop()
			return nil, fmt.Errorf("%s did not start (see %s): %q", name, logPath, line)
		}
		c.Addr = addr
		return c, nil
	case <-time.After(60 * time.Second):
		c.stop()
		return nil, fmt.Errorf("%s did not announce itself within 60s (see %s)", name, logPath)
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
}

// Pid is the child's process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// stop ends the child by its PID: SIGTERM, then SIGKILL after 15 s.
func (c *child) stop() {
	if c == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.stdin.Close()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// alive reports whether the child is still running.
func (c *child) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// childContext is the context of a child process: it ends on SIGTERM or
// SIGINT, or when the parent closes our stdin (the parent went away).
func childContext() (context.Context, context.CancelFunc) {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx, cancel
}

// announce tells the parent the child is ready, at addr.
func announce(addr string) {
	fmt.Printf("ready %s\n", addr)
}

// stdoutLines writes lines to stdout from many goroutines.
type stdoutLines struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (s *stdoutLines) println(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		s.w = bufio.NewWriter(os.Stdout)
	}
	s.w.WriteString(line)
	s.w.WriteByte('\n')
	s.w.Flush()
}

// errChildGone is returned when a child exits during a measurement.
var errChildGone = errors.New("child process exited")

// profileChild writes a CPU profile of this child process to
// $DIALQBENCH_CPUPROFILE.<pid> when that is set, for finding where a server
// under test spends its CPU (go tool pprof <binary> <file>). The returned
// function stops it; calling it again does nothing. The servers profile
// their whole life, the bridge child only its measured window.
func profileChild() (func(), error) {
	p := os.Getenv("DIALQBENCH_CPUPROFILE")
	if p == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", p, os.Getpid()))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}
