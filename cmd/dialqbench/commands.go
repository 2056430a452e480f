package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// commandContext is the context of a child process that takes commands
// from the parent, one per line on stdin (the bridge benchmark's children
// are told when the measured window starts and when to hang up). Like
// childContext, it ends on SIGTERM or SIGINT, or when the parent closes
// stdin.
func commandContext() (context.Context, context.CancelFunc, <-chan string) {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
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
	return ctx, cancel, cmds
}

// send writes one command line to the child's stdin.
func (c *child) send(cmd string) error {
	_, err := io.WriteString(c.stdin, cmd+"\n")
	if err != nil {
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
