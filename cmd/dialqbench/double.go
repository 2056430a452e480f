package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// doubleConfig is the SIP double's child config.
type doubleConfig struct {
	LiveKit string
	// SkipRoom answers without joining the room (sipdouble.Config.SkipRoom).
	SkipRoom    bool
	InviteDelay time.Duration // from the dial request to the answer
	HangUpAfter time.Duration // the callee hangs up this long after answering; 0 stays
}

// serveDouble is the child process running the SIP service double that
// LiveKit calls are dialed through: every phone answers 200.
func serveDouble(ctx context.Context, _ <-chan string, c doubleConfig) error {
	srv, err := sipdouble.New(sipdouble.Config{
		LiveKitURL: c.LiveKit, APIKey: os.Getenv("LIVEKIT_API_KEY"), APISecret: os.Getenv("LIVEKIT_API_SECRET"),
		Script:      sipdouble.Always(sipdouble.Outcome{Code: 200, HangUpAfter: c.HangUpAfter}),
		InviteDelay: c.InviteDelay, SkipRoom: c.SkipRoom, Logger: quietLog(),
	})
	if err != nil {
		return err
	}
	l, err := sipdouble.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	say("ready", "http://"+l.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("sip double stopped: %v", err)
	case <-ctx.Done():
	}
	return srv.Close()
}
