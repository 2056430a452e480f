package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/go-logr/logr"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// serveDouble is the child process running the SIP service double that both
// arms of benchmark (b) dial through: every phone answers 200 at once.
func serveDouble(args []string) error {
	fs := flag.NewFlagSet("sipdouble", flag.ExitOnError)
	lkURL := fs.String("livekit", os.Getenv("LIVEKIT_URL"), "livekit-server URL")
	skipRoom := fs.Bool("skip-room", true, "answer without joining the room (sipdouble.Config.SkipRoom)")
	inviteDelay := fs.Duration("invite-delay", time.Millisecond, "time from the dial request to the answer")
	hangUpAfter := fs.Duration("hang-up-after", 0, "callee hangs up this long after answering (0: stays)")
	fs.Parse(args)

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lksdk.SetLogger(protologger.LogRLogger(logr.FromSlogHandler(log.Handler())))
	srv, err := sipdouble.New(sipdouble.Config{
		LiveKitURL:  *lkURL,
		APIKey:      os.Getenv("LIVEKIT_API_KEY"),
		APISecret:   os.Getenv("LIVEKIT_API_SECRET"),
		Script:      sipdouble.Always(sipdouble.Outcome{Code: 200, HangUpAfter: *hangUpAfter}),
		InviteDelay: *inviteDelay,
		SkipRoom:    *skipRoom,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	l, err := sipdouble.Listen("127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel, _ := childContext()
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	announce("http://" + l.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("sip double stopped: %v", err)
	case <-ctx.Done():
	}
	return srv.Close()
}
