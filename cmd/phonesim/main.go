// Command phonesim is the local phone simulator of `make run`: it serves
// LiveKit's SIP API in place of LiveKit's SIP service (which cannot run here),
// so that dialq's Twilio path can place "calls" end to end on one machine.
// Every dialled number rings, answers and sits in the LiveKit room as a SIP
// participant; nothing is sent to any phone network.
//
// Environment:
//
//	PHONESIM_ADDR       listen address, loopback only (default 127.0.0.1:58090)
//	LIVEKIT_URL         livekit-server the phones join (required)
//	LIVEKIT_API_KEY     API key of that server (required)
//	LIVEKIT_API_SECRET  API secret of that server (required)
//	PHONESIM_RING       how long each phone rings before answering (default 1s)
//	PHONESIM_ANSWER     SIP code every phone answers with (default 200;
//	                    486, 480, 603... to try failures)
//	PHONESIM_TALK       how long an answered phone stays before it hangs up
//	                    (default 30s, like make run's Exotel phone; 0 stays
//	                    until everyone else left the room)
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/testkit/sipdouble"
)

// config is phonesim's configuration, read from the environment.
type config struct {
	Addr      string
	LiveKit   string
	APIKey    string
	APISecret string
	Ring      time.Duration
	Talk      time.Duration
	Answer    int
}

// loadConfig reads the environment and says which variable is wrong.
func loadConfig() (config, error) {
	cfg := config{
		Addr:      envOr("PHONESIM_ADDR", "127.0.0.1:58090"),
		LiveKit:   os.Getenv("LIVEKIT_URL"),
		APIKey:    os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"),
		Ring:      time.Second,
		Talk:      30 * time.Second,
		Answer:    200,
	}
	for _, name := range []string{"LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"} {
		if os.Getenv(name) == "" {
			return cfg, fmt.Errorf("%s is required (source .dialq/stack.env)", name)
		}
	}
	if v := os.Getenv("PHONESIM_RING"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("PHONESIM_RING must be a duration such as 1s, got %q", v)
		}
		cfg.Ring = d
	}
	if v := os.Getenv("PHONESIM_TALK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("PHONESIM_TALK must be a duration such as 30s, got %q", v)
		}
		cfg.Talk = d
	}
	if v := os.Getenv("PHONESIM_ANSWER"); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil || (code != 200 && (code < 300 || code > 699)) {
			return cfg, fmt.Errorf("PHONESIM_ANSWER must be 200 or a SIP error code 300-699, got %q", v)
		}
		cfg.Answer = code
	}
	return cfg, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(log); err != nil {
		log.Error("phonesim stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
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
