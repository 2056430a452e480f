// Command worker runs dialq's asynq server: it takes call:dial tasks off the
// queue and places the calls through LiveKit or dialq's own SIP bridge. The
// process is built by app.NewWorker; this file reads its config and runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/logging"
)

func main() {
	if code := envconf.ParseArgs(app.WorkerBinary, os.Args[1:], os.Stdout, os.Stderr); code >= 0 {
		os.Exit(code)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dialq worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, level, err := loadConfig()
	if err != nil {
		return err
	}
	log := logging.New(os.Stderr, level).With("service", "worker")
	// The SDK's own default logger prints WebRTC's state changes for every
	// bridged call, unstructured, at info level.
	lksdk.SetLogger(logging.LiveKitSDK(log.With("component", "livekit-sdk")))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	w, err := app.NewWorker(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer w.Close()
	return w.Run(ctx)
}
