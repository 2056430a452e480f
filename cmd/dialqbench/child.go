package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/logging"
)

// child is a process the bench started: a server of its own (dialq, the
// reference handler, the SIP double, an idle worker, the agents, a codec
// arm), or redis-server, livekit-server or sipp. Servers run in their own
// process so the load generator does not share a Go runtime with what it
// measures.
type child struct {
	name string
	cmd  *exec.Cmd
	// Addr is what the child announced on its "ready" line.
	Addr string
	// Lines receives the child's stdout lines after "ready".
	Lines chan string

	stdin io.WriteCloser
	done  chan struct{}
}

// errChildGone is returned when a child exits during a measurement.
var errChildGone = errors.New("child process exited")

// startSelf runs this binary again as the child sub-command sub with cfg
// (children) and waits for its "ready <addr>" line. Its stderr goes to
// logPath.
func startSelf(ctx context.Context, name, logPath, sub string, cfg any) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return startChild(ctx, name, logPath, true, exe, sub, string(b))
}

// startChild starts path with args. With announce, it waits for the child's
// "ready <addr>" line on stdout; without, stdout goes to logPath too.
func startChild(ctx context.Context, name, logPath string, announce bool, path string, args ...string) (*child, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log of %s: %w", name, err)
	}
	defer log.Close()
	cmd := exec.Command(path, args...)
	cmd.Stderr = log
	// The child dies with the bench even if the bench is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), Lines: make(chan string, 4096)}
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	var stdout io.ReadCloser
	if !announce {
		cmd.Stdout = log
	} else if stdout, err = cmd.StdoutPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	if !announce {
		return c, nil
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20) // a report line can be long
		for sc.Scan() {
			select {
			case c.Lines <- sc.Text():
			default: // nobody reads: drop rather than block the child
			}
		}
		close(c.Lines)
	}()
	if c.Addr, err = c.await(ctx, "ready", time.Minute); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s did not start (see %s): %w", name, logPath, err)
	}
	return c, nil
}

// Pid is the child's process id.
func (c *child) Pid() int { return c.cmd.Process.Pid }

// stop ends the child by its PID: SIGTERM, then SIGKILL after 15 s.
func (c *child) stop() {
	if c == nil || !c.alive() {
		return
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

// send writes one command line to the child's stdin.
func (c *child) send(cmd string) error {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return fmt.Errorf("tell %s %q: %w", c.name, cmd, err)
	}
	return nil
}

// await returns the rest of the child's first stdout line that starts with
// prefix and a space, skipping other lines; an error if the child exits or
// stays silent for timeout.
func (c *child) await(ctx context.Context, prefix string, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case line, ok := <-c.Lines:
			if !ok {
				return "", fmt.Errorf("%s exited before saying %q: %w", c.name, prefix, errChildGone)
			}
			if rest, found := strings.CutPrefix(line, prefix+" "); found {
				return rest, nil
			}
		case <-t.C:
			return "", fmt.Errorf("%s did not say %q within %s", c.name, prefix, timeout)
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// waitReady polls ready until it holds, for a child with no readiness
// signal of its own; an error if the child exits or timeout passes.
func (c *child) waitReady(ctx context.Context, what string, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for !ready() {
		if !c.alive() {
			return fmt.Errorf("%s exited before %s", c.name, what)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not %s after %s", c.name, what, timeout)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// childMain makes a child sub-command of f: it decodes the one JSON
// argument into f's config and runs f with the child's context and the
// commands the parent sends, one per line on stdin. The context ends on
// SIGTERM or SIGINT, or when the parent closes stdin (it went away).
func childMain[T any](f func(ctx context.Context, cmds <-chan string, cfg T) error) func([]string) error {
	return func(args []string) error {
		var cfg T
		if len(args) != 1 || json.Unmarshal([]byte(args[0]), &cfg) != nil {
			return fmt.Errorf("a child takes one argument, its config as JSON (%T), not %q", cfg, args)
		}
		ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer cancel()
		cmds := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				select {
				case cmds <- strings.TrimSpace(sc.Text()):
				case <-ctx.Done():
					return
				}
			}
			cancel()
		}()
		return f(ctx, cmds, cfg)
	}
}

// say writes a line to the parent: a word it awaits (child.await) and a
// value. Lines said from several goroutines do not mix: each is one write.
func say(word string, v any) { fmt.Println(word, v) }

// quietLog is the logger of a child that is not under test: warnings and
// errors only, the LiveKit SDK's too.
func quietLog() *slog.Logger {
	log := logging.New(os.Stderr, "warn")
	lksdk.SetLogger(logging.LiveKitSDK(log))
	return log
}

// profileChild writes a CPU profile of this child process to
// $DIALQBENCH_CPUPROFILE.<pid> when that is set, for finding where a server
// under test spends its CPU (go tool pprof <binary> <file>). The returned
// function stops it; calling it again does nothing.
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
