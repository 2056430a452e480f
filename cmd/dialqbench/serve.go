package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/livekit"
	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/queue"
	"github.com/dialq/dialq/internal/sipbridge"
)

// dialqProcs is what a benchmark runs of dialq: the API, the worker or both,
// built by package app as cmd/api and cmd/worker build them, with their
// defaults but for what a benchmark varies here.
type dialqProcs struct {
	API, Worker bool
	DSN         string // with the bench schema's search_path
	Redis       string
	Queue       string
	Channel     string // the notify channel; hang-ups go on Channel+":hangup"
	LiveKit     string
	SIPURL      string        `json:",omitempty"` // the SIP service of LiveKit calls (the double)
	TCI         time.Duration // the worker's TaskCheckInterval; 0 is cmd/worker's
	// RoomEmptyTimeout is the rooms' (DIALQ_ROOM_EMPTY_TIMEOUT); 0 is
	// cmd/worker's.
	RoomEmptyTimeout time.Duration `json:",omitempty"`
	// SecretKey, when set, runs dialq's SIP bridge in the worker, opening
	// the trunks' SIP passwords with it, at nice Nice.
	SecretKey string `json:",omitempty"`
	Nice      int    `json:",omitempty"`
	// APIAddr is where the API listens; empty picks a port.
	APIAddr string `json:",omitempty"`
	// Calls makes the processes as cmd/api and cmd/worker run whole calls:
	// the API with LiveKit's key (it verifies LiveKit's webhooks, which
	// end LiveKit SIP calls, and hangs up), the worker's reconciler and
	// watchdogs at cmd/worker's defaults and its agents' report URL at
	// the API. Off, the API has no LiveKit and the agent and max-duration
	// watchdogs are off, for benchmarks whose phones never join the rooms.
	Calls bool `json:",omitempty"`
	// WebhookAllowPrivate lets the tenants' webhook endpoints be on
	// loopback, as make run does (DIALQ_WEBHOOK_ALLOW_PRIVATE).
	WebhookAllowPrivate bool `json:",omitempty"`
	// ReconcileInterval, when set, runs the worker's reconciler this often
	// (the campaign benchmark: it ends the calls whose phone never joined).
	ReconcileInterval time.Duration `json:",omitempty"`
}

func (p dialqProcs) channels() app.Channels {
	return app.Channels{Notify: p.Channel, Hangup: p.Channel + ":hangup"}
}

func (p dialqProcs) dialOptions() queue.DialOptions {
	o := queue.DefaultDialOptions()
	o.Queue = p.Queue
	return o
}

// apiConfig is cmd/api's config with its defaults.
func (p dialqProcs) apiConfig() app.APIConfig {
	c := app.APIConfig{
		Addr: cmp.Or(p.APIAddr, "127.0.0.1:0"), DatabaseURL: p.DSN, DBMaxConns: 20, Redis: app.Redis{Addr: p.Redis},
		Channels: p.channels(), Dial: p.dialOptions(),
		HTTP:                httpapi.Config{DefaultWait: 10 * time.Second, MaxWait: 60 * time.Second, CacheTTL: 5 * time.Second},
		Calls:               calls.Config{PollInterval: time.Second, CacheTTL: 5 * time.Second},
		WebhookAllowPrivate: p.WebhookAllowPrivate,
	}
	if p.Calls {
		c.LiveKit = livekit.Config{URL: p.LiveKit, APIKey: os.Getenv("LIVEKIT_API_KEY"), APISecret: os.Getenv("LIVEKIT_API_SECRET")}
	}
	return c
}

// workerConfig is cmd/worker's config with its defaults.
func (p dialqProcs) workerConfig() app.WorkerConfig {
	ring := 30 * time.Second
	server := dialer.DefaultServerOptions(p.Queue)
	if p.TCI > 0 {
		server.TaskCheckInterval = p.TCI
	}
	server.ShutdownTimeout = ring + 15*time.Second
	empty := p.RoomEmptyTimeout
	if empty == 0 {
		empty = 5 * time.Minute
	}
	c := app.WorkerConfig{
		DatabaseURL: p.DSN, DBMaxConns: 20, Redis: app.Redis{Addr: p.Redis}, Channels: p.channels(),
		LiveKit: livekit.Config{URL: p.LiveKit, APIKey: os.Getenv("LIVEKIT_API_KEY"), APISecret: os.Getenv("LIVEKIT_API_SECRET"),
			SIPURL: p.SIPURL, RoomEmptyTimeout: empty},
		Dial: p.dialOptions(), Server: server, RingTimeout: ring, SweepAge: time.Minute,
		Webhooks: app.WebhookConfig{AllowPrivate: p.WebhookAllowPrivate, SweepAge: 30 * time.Second},
	}
	if p.Calls {
		c.Reconcile = app.ReconcileConfig{Interval: 5 * time.Second, MaxDuration: time.Hour, AgentGrace: 30 * time.Second}
		if p.APIAddr != "" {
			c.PublicURL = "http://" + p.APIAddr
		}
	}
	if p.ReconcileInterval > 0 {
		c.Reconcile.Interval = p.ReconcileInterval
	}
	if p.SecretKey != "" {
		c.Bridge = &app.BridgeConfig{SecretKey: p.SecretKey, SIPListen: "127.0.0.1:0", RTPBindIP: "127.0.0.1",
			NoRTPTimeout: 30 * time.Second, MaxCallDuration: time.Hour, DrainTimeout: 2 * time.Minute,
			Heartbeat: 10 * time.Second, Nice: p.Nice}
	}
	return c
}

// serve is the child process of dialq under test: the dialqProcs its
// argument says, in one process (API and worker talk only through Redis
// and Postgres either way). It announces the API's address, or "worker".
// With the SIP bridge, "measure" and "measured" on stdin start and stop its
// CPU profile (DIALQBENCH_CPUPROFILE) and "stats" prints "stats <json>"
// (sipbridge.Stats) once the bridge holds no call; other servers profile
// their whole life.
func serve(ctx context.Context, cmds <-chan string, p dialqProcs) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := logging.New(os.Stderr, cmp.Or(os.Getenv("DIALQBENCH_LOG_LEVEL"), "info"))
	lksdk.SetLogger(logging.LiveKitSDK(log.With("component", "livekit-sdk"))) // as cmd/worker does
	var runs []func(context.Context) error
	addr := "worker"
	var bridge *sipbridge.Manager
	if p.Worker {
		w, err := app.NewWorker(ctx, p.workerConfig(), log.With("service", "worker"))
		if err != nil {
			return err
		}
		defer w.Close()
		runs, bridge = append(runs, w.Run), w.Bridge
	}
	if p.API {
		a, err := app.NewAPI(ctx, p.apiConfig(), log.With("service", "api"))
		if err != nil {
			return err
		}
		defer a.Close()
		runs, addr = append(runs, a.Run), strings.TrimPrefix(a.URL(), "http://")
	}
	stopProfile := func() {}
	defer func() { stopProfile() }()
	var err error
	if bridge == nil {
		if stopProfile, err = profileChild(); err != nil {
			return err
		}
	}
	errc := make(chan error, len(runs))
	for _, run := range runs {
		go func() { errc <- run(ctx) }()
	}
	say("ready", addr)
	for done := 0; done < len(runs); {
		select {
		case e := <-errc:
			err = errors.Join(err, e)
			done++
			cancel()
		case c := <-cmds:
			switch {
			case bridge == nil:
			case c == "measure":
				stop, perr := profileChild()
				if perr != nil {
					return perr
				}
				stopProfile = stop
			case c == "measured":
				stopProfile()
			case c == "stats":
				for deadline := time.Now().Add(time.Minute); bridge.Live() > 0 && time.Now().Before(deadline); {
					time.Sleep(100 * time.Millisecond)
				}
				b, _ := json.Marshal(bridge.Stats())
				say("stats", string(b))
			}
		}
	}
	return err
}
