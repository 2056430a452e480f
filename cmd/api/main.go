// Command api serves dialq's HTTP API: it accepts outbound call requests,
// stores and enqueues them, and waits a bounded time for the worker's
// outcome. It also serves Asynqmon at /monitoring. The process is built by
// app.NewAPI; this file reads its config and runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/logging"
)

func main() {
	if code := envconf.ParseArgs(app.APIBinary, os.Args[1:], os.Stdout, os.Stderr); code >= 0 {
		os.Exit(code)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dialq api:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, level, err := loadConfig()
	if err != nil {
		return err
	}
	log := logging.New(os.Stderr, level).With("service", "api")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.NewAPI(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}
