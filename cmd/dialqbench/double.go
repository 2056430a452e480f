package main

import (
	"context"
	"encoding/json"
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
	// RingFor and HangUpWhenAlone are sipdouble.Outcome's: cmd/phonesim
	// rings 1 s and hangs up when alone.
	RingFor         time.Duration `json:",omitempty"`
	HangUpWhenAlone bool          `json:",omitempty"`
}

// phoneEnd is when the double's phone of a room left it, as the "calls"
// command reports.
type phoneEnd struct {
	Room     string
	Answered bool
	Ended    bool
	EndedAt  time.Time
}

// serveDouble is the child process running the SIP service double that
// LiveKit calls are dialed through: every phone answers 200. "calls" on
// stdin prints "calls <json>", the []phoneEnd of every call so far.
func serveDouble(ctx context.Context, cmds <-chan string, c doubleConfig) error {
	srv, err := sipdouble.New(sipdouble.Config{
		LiveKitURL: c.LiveKit, APIKey: os.Getenv("LIVEKIT_API_KEY"), APISecret: os.Getenv("LIVEKIT_API_SECRET"),
		Script: sipdouble.Always(sipdouble.Outcome{Code: 200, HangUpAfter: c.HangUpAfter,
			RingFor: c.RingFor, HangUpWhenAlone: c.HangUpWhenAlone}),
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
	for {
		select {
		case err := <-served:
			return fmt.Errorf("sip double stopped: %v", err)
		case cmd := <-cmds:
			if cmd == "calls" {
				var out []phoneEnd
				for _, ci := range srv.Calls() {
					out = append(out, phoneEnd{Room: ci.Room, Answered: ci.Answered, Ended: ci.Ended, EndedAt: ci.EndedAt})
				}
				b, _ := json.Marshal(out)
				say("calls", string(b))
			}
		case <-ctx.Done():
			return srv.Close()
		}
	}
}
