// Command phonesim is the local phone simulator of `make run`: it serves
// LiveKit's SIP API in place of LiveKit's SIP service (which cannot run here),
// so that dialq's Twilio path can place "calls" end to end on one machine.
// Every dialled number rings, answers and sits in the LiveKit room as a SIP
// participant; nothing is sent to any phone network.
//
// Its settings are environment variables (sipdouble.ReadPhonesimConfig):
// `phonesim -h` lists them, as does the README's Configuration table.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"

	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

func main() {
	if code := envconf.ParseArgs(sipdouble.PhonesimBinary, os.Args[1:], os.Stdout, os.Stderr); code >= 0 {
		os.Exit(code)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log); err != nil {
		log.Error("phonesim stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := sipdouble.ReadPhonesimConfig(envconf.New())
	if err != nil {
		return fmt.Errorf("%w (make run: source .dialq/stack.env)", err)
	}
	// The SDK logs WebRTC chatter through its global logger: warnings only.
	lksdk.SetLogger(protologger.LogRLogger(logr.FromSlogHandler(
		slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))

	srv, err := sipdouble.New(sipdouble.Config{
		LiveKitURL: cfg.LiveKit,
		APIKey:     cfg.APIKey,
		APISecret:  cfg.APISecret,
		Script: sipdouble.Always(sipdouble.Outcome{
			Code:            cfg.Answer,
			RingFor:         cfg.Ring,
			HangUpAfter:     cfg.Talk,
			HangUpWhenAlone: true,
		}),
		Logger: log,
	})
	if err != nil {
		return err
	}
	l, err := sipdouble.Listen(cfg.Addr)
	if err != nil {
		return fmt.Errorf("PHONESIM_ADDR: %w", err)
	}

	url := "http://" + l.Addr().String()
	log.Warn("==================================================================")
	log.Warn("LOCAL PHONE SIMULATOR: this is NOT LiveKit's SIP service and places NO real phone calls")
	log.Warn("it stands in for LiveKit's SIP API; every dialled number is a simulated phone that joins the LiveKit room",
		"url", url, "livekit_url", cfg.LiveKit, "answers", cfg.Answer, "rings_for", cfg.Ring, "hangs_up_after", cfg.Talk)
	log.Warn("point dialq's SIP API URL at " + url + " to use it")
	log.Warn("==================================================================")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	select {
	case err := <-served:
		_ = srv.Close()
		if err == nil {
			err = errors.New("server stopped unexpectedly")
		}
		return err
	case <-ctx.Done():
	}
	log.Info("phonesim shutting down: hanging up every simulated phone")
	if err := srv.Close(); err != nil {
		return err
	}
	if err := <-served; err != nil {
		return err
	}
	log.Info("phonesim stopped")
	return nil
}
