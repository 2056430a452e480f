package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/testkit/testagent"
)

// agentConfig is the voice agent's child config.
type agentConfig struct {
	LiveKit   string
	AgentName string
}

// serveAgent is the child process standing in for the voice agent of the
// benchmarks that place whole calls: the Go test agent registered under
// the assistant's agent name, taking every job dialq dispatches, joining
// its room and leaving it once the phone has (as make run's demo agent
// does). "leave <room>" on stdin takes it out of a room earlier, as an
// agent that ends the call does; it says "left <room>" or "notin <room>".
func serveAgent(ctx context.Context, cmds <-chan string, c agentConfig) error {
	quietLog() // the SDK's
	log := logging.New(os.Stderr, "info")
	a, err := testagent.Start(ctx, testagent.Config{URL: c.LiveKit, APIKey: os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"), AgentName: c.AgentName, Logger: log, LeaveWhenAlone: true})
	if err != nil {
		return err
	}
	defer a.Close()
	say("ready", a.WorkerID())
	for {
		select {
		case cmd := <-cmds:
			if room, ok := strings.CutPrefix(cmd, "leave "); ok {
				if err := a.Leave(room); err != nil {
					log.Warn("told to leave a room it is not in", "room", room)
					say("notin", room)
				} else {
					log.Info("left the room as told", "room", room)
					say("left", room)
				}
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// agentChild starts the agent child under name on lkURL.
func agentChild(ctx context.Context, lkURL, name, logPath string) (*child, error) {
	c, err := startSelf(ctx, "agent", logPath, "agent", agentConfig{LiveKit: lkURL, AgentName: name})
	if err != nil {
		return nil, fmt.Errorf("test agent: %w", err)
	}
	return c, nil
}
