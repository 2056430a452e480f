package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/background"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/logging"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/priority"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
)

// bridgeUp is what the bridge child says once every call it placed is
// answered or failed: "up <json>".
type bridgeUp struct {
	Placed     int    `json:"placed"`
	Answered   int    `json:"answered"`
	Failed     int    `json:"failed"`
	FirstError string `json:"first_error,omitempty"`
	// Ramp is how long placing the calls took (the last Place returned).
	Ramp time.Duration `json:"ramp_ns"`
}

// sessionStats is what the sipbridge.Manager says its calls relayed
// (Manager.Stats), read once every call has ended: whole calls, from the
// answer to the hang-up, not only the measured window.
type sessionStats struct {
	sipbridge.Stats
	// Recorded counts the calls recorded completed or failed after the
	// hang-up.
	Recorded int `json:"recorded"`
}

// callTally is the bench's sipbridge.Notifier: it follows the calls' statuses
// instead of announcing them to API waiters.
type callTally struct {
	mu      sync.Mutex
	status  map[uuid.UUID]dialq.CallStatus
	changed chan struct{}
}

func (t *callTally) CallChanged(_ context.Context, id uuid.UUID, s dialq.CallStatus) error {
	t.mu.Lock()
	t.status[id] = s
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
	return nil
}

// count returns how many calls are in each status.
func (t *callTally) count() map[dialq.CallStatus]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := map[dialq.CallStatus]int{}
	for _, s := range t.status {
		n[s]++
	}
	return n
}

// waitUntil waits until cond holds on the counts, or for timeout.
func (t *callTally) waitUntil(ctx context.Context, timeout time.Duration, cond func(map[dialq.CallStatus]int) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(500 * time.Millisecond)
	defer poll.Stop()
	for !cond(t.count()) {
		select {
		case <-t.changed:
		case <-poll.C:
		case <-deadline.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// serveBridge is the child process of the bridge benchmark and the unit it
// measures: dialq's Exotel bridge as cmd/worker wires it (a sipua.UA, a
// sipbridge.Manager with its heartbeat, the Postgres store with the secret box
// that opens the trunk's SIP password) and the worker's defaults, without
// the asynq server in front of it. For each of -calls rooms, at -rate calls
// per second, it does what the dial task does for an Exotel call once the
// room and dispatch exist (store the call, record the room, mark it
// dialing, Manager.Place). It prints "up <json>" once every call is
// answered or failed. On "measure" it starts its CPU profile (when
// DIALQBENCH_CPUPROFILE is set); on "hangup" it stops it, hangs every call
// up through the Manager and prints "stats <json>" (sessionStats, from
// Manager.Stats).
func serveBridge(args []string) error {
	fs := flag.NewFlagSet("serve-bridge", flag.ExitOnError)
	dsn := fs.String("dsn", "", "Postgres DSN (with the bench schema's search_path)")
	secretKey := fs.String("secret-key", "", "key of the secret box that sealed the trunk's SIP password")
	trunkID := fs.String("trunk", "", "the Exotel trunk")
	tenant := fs.String("tenant", "", "tenant id")
	assistant := fs.String("assistant", "", "assistant id")
	agentName := fs.String("agent-name", "", "agent name stored on the calls")
	lkURL := fs.String("livekit", "", "livekit-server URL")
	prefix := fs.String("room-prefix", "", "rooms are <prefix>000, <prefix>001, ...")
	calls := fs.Int("calls", 1, "calls to place")
	rate := fs.Float64("rate", 20, "calls placed per second")
	nice := fs.Int("nice", 0, "nice value, as the worker's DIALQ_BRIDGE_NICE (0 leaves it)")
	fs.Parse(args)
	if *nice != 0 {
		if err := priority.Set(*nice); err != nil {
			return err
		}
	}

	ctx, cancel, cmds := commandContext()
	defer cancel()
	log := logging.New(stderr, "info").With("service", "worker")

	box, err := secret.BoxFromKey(*secretKey)
	if err != nil {
		return fmt.Errorf("-secret-key: %w", err)
	}
	tenantID, err1 := uuid.Parse(*tenant)
	assistantID, err2 := uuid.Parse(*assistant)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("-tenant and -assistant must be UUIDs")
	}
	db, err := postgres.Open(ctx, *dsn, 20)
	if err != nil {
		return err
	}
	defer db.Close()
	db.UseSecrets(box)
	ua, err := sipua.New(sipua.Config{ListenAddr: "127.0.0.1:0", Log: log})
	if err != nil {
		return err
	}
	defer ua.Close()
	tally := &callTally{status: map[uuid.UUID]dialq.CallStatus{}, changed: make(chan struct{}, 1)}
	m := sipbridge.New(sipbridge.Config{
		Worker:     fmt.Sprintf("dialqbench-%d", os.Getpid()),
		LiveKitURL: *lkURL, APIKey: os.Getenv("LIVEKIT_API_KEY"), APISecret: os.Getenv("LIVEKIT_API_SECRET"),
		BindIP: "127.0.0.1", RingTimeout: 30 * time.Second, NoRTPTimeout: 30 * time.Second,
		MaxDuration: time.Hour,
	}, ua, db, tally, log.With("component", "bridge"))
	// The worker's background services of the bridge, as cmd/worker runs them.
	for _, s := range []background.Service{
		sipbridge.NewHeartbeat(m, sipbridge.HeartbeatConfig{}),
		sipbridge.NewOrphans(sipbridge.OrphansConfig{Store: db, Notify: tally, Log: log.With("component", "bridge")}),
		sipbridge.NewStatsLog(m, sipbridge.StatsLogConfig{}),
	} {
		s.Start()
		defer s.Shutdown()
	}
	announce(ua.LocalAddr("tcp").String())

	// Place the calls, open loop at rate.
	var (
		out      stdoutLines
		mu       sync.Mutex
		ids      []uuid.UUID
		firstErr string
		failed   int
		wg       sync.WaitGroup
	)
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	for i := range *calls {
		if i > 0 {
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := placeBenchCall(ctx, m, db, tenantID, assistantID, *trunkID, *agentName, benchRoom(*prefix, i), i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				if firstErr == "" {
					firstErr = err.Error()
				}
				return
			}
			ids = append(ids, id)
		}()
	}
	tick.Stop()
	wg.Wait()
	ramp := time.Since(start)
	placed := len(ids)
	tally.waitUntil(ctx, time.Minute, func(n map[dialq.CallStatus]int) bool {
		return n[dialq.StatusAnswered]+n[dialq.StatusFailed]+n[dialq.StatusCompleted] >= placed
	})
	n := tally.count()
	up := bridgeUp{Placed: placed, Answered: n[dialq.StatusAnswered], Failed: failed + n[dialq.StatusFailed] + n[dialq.StatusCompleted],
		FirstError: firstErr, Ramp: ramp}
	b, _ := json.Marshal(up)
	out.println("up " + string(b))

	stopProfile := func() {}
	defer func() { stopProfile() }()
	for {
		var c string
		select {
		case <-ctx.Done():
			m.Drain(0)
			return nil
		case c = <-cmds:
		}
		switch c {
		case "measure":
			if stopProfile, err = profileChild(); err != nil {
				return err
			}
		case "hangup":
			stopProfile()
			for _, id := range ids {
				m.Hangup(id, "bench over")
			}
			tally.waitUntil(ctx, time.Minute, func(n map[dialq.CallStatus]int) bool {
				return n[dialq.StatusCompleted]+n[dialq.StatusFailed] >= placed && m.Live() == 0
			})
			n := tally.count()
			b, _ := json.Marshal(sessionStats{Stats: m.Stats(), Recorded: n[dialq.StatusCompleted] + n[dialq.StatusFailed]})
			out.println("stats " + string(b))
		}
	}
}

// placeBenchCall does for call i what the dial task does for an Exotel call
// whose room and agent dispatch exist: store it, record its room, mark it
// dialing and hand it to the bridge.
func placeBenchCall(ctx context.Context, m *sipbridge.Manager, db *postgres.DB, tenant, assistant uuid.UUID,
	trunk, agent, room string, i int) (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, err
	}
	c := &dialq.Call{ID: id, TenantID: tenant, AssistantID: assistant, TrunkID: trunk,
		ToNumber: fmt.Sprintf("+91804431%04d", i), Service: dialq.ServiceExotel,
		Metadata: map[string]any{"bench": i}, AgentName: agent, Status: dialq.StatusQueued, CreatedAt: time.Now()}
	if _, err := db.CreateCall(ctx, c); err != nil {
		return id, err
	}
	if err := db.RecordRoom(ctx, id, room); err != nil {
		return id, err
	}
	c.RoomName = room
	identity := dialq.ParticipantIdentityFor(c.ToNumber)
	if err := db.MarkDialing(ctx, id, identity, time.Now()); err != nil {
		return id, err
	}
	c.Status, c.ParticipantIdentity = dialq.StatusDialing, identity
	if _, err := m.Dial(ctx, c); err != nil {
		return id, fmt.Errorf("place call %d: %w", i, err)
	}
	return id, nil
}
