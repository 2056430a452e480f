package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/uuid"
	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/livekit"
)

// syncOptions configure benchmark (b).
type syncOptions struct {
	Rate     float64
	Warmup   time.Duration
	Duration time.Duration
	Rounds   int
	// TCIs are the worker TaskCheckIntervals to measure the dialq arm with.
	TCIs []time.Duration
	// InviteDelay is the double's time to answer, the same in both arms.
	InviteDelay time.Duration
	// RoomEmptyTimeout is set on the rooms of both arms.
	RoomEmptyTimeout time.Duration
}

// syncResult is benchmark (b)'s outcome.
type syncResult struct {
	Options syncOptions `json:"options"`
	Rounds  []syncRound `json:"rounds"`
	// Direct pools the direct arm's rounds; Dialq pools the dialq arm's
	// rounds per TaskCheckInterval, in the order of Options.TCIs.
	Direct stats   `json:"direct"`
	Dialq  []stats `json:"dialq"`
}

type syncRound struct {
	Arm   string        `json:"arm"`
	TCI   time.Duration `json:"tci_ns,omitempty"`
	Round int           `json:"round"`
	stats
}

// syncArm is one arm of benchmark (b).
type syncArm struct {
	name string
	tci  time.Duration // dialq arm only
}

// runSync is benchmark (b): the whole synchronous call through dialq against
// the three LiveKit requests made directly, open loop at a fixed rate.
func runSync(ctx context.Context, e env, o syncOptions, logDir string) (*syncResult, error) {
	lkClient := lksdk.NewSIPClient(e.LiveKitURL, e.LiveKitAPIKey, e.LiveKitAPISecret)
	trunk, err := lkClient.CreateSIPOutboundTrunk(ctx, &lkp.CreateSIPOutboundTrunkRequest{Trunk: &lkp.SIPOutboundTrunkInfo{
		Name: "dialq-bench", Address: "127.0.0.1:5060", Numbers: []string{"+15550100000"}}})
	if err != nil {
		return nil, fmt.Errorf("create LiveKit outbound trunk: %w", err)
	}
	defer lkClient.DeleteSIPTrunk(context.Background(), &lkp.DeleteSIPTrunkRequest{SipTrunkId: trunk.SipTrunkId})
	f, err := newFixture(ctx, e, trunk.SipTrunkId)
	if err != nil {
		return nil, err
	}
	defer f.close()
	rdb := redis.NewClient(&redis.Options{Addr: e.RedisAddr})
	defer rdb.Close()

	logPath := filepath.Join(logDir, "bench-sync.log")
	double, err := startSelf(ctx, "SIP double", logPath, "sipdouble", "-livekit", e.LiveKitURL,
		"-skip-room=true", "-invite-delay", o.InviteDelay.String())
	if err != nil {
		return nil, err
	}
	defer double.stop()

	rooms := &roomJanitor{rooms: lksdk.NewRoomServiceClient(e.LiveKitURL, e.LiveKitAPIKey, e.LiveKitAPISecret)}
	direct := newDirectArm(e, double.Addr, f, o.RoomEmptyTimeout, rooms)
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true, IdleConnTimeout: time.Minute}}
	body := f.body("+15550100001")

	arms := []syncArm{}
	for _, t := range o.TCIs {
		arms = append(arms, syncArm{name: "dialq", tci: t})
	}
	arms = append(arms, syncArm{name: "direct"})

	res := &syncResult{Options: o}
	lkPid := readPidFile(filepath.Join(e.StateDir, "run", "livekit.pid"))
	pgPid := readPidFile(filepath.Join(e.StateDir, "run", "postgres.pid"))
	redisPid := readPidFile(filepath.Join(e.StateDir, "run", "redis.pid"))
	for r := 1; r <= o.Rounds; r++ {
		order := arms
		if r%2 == 0 {
			order = reversed(arms)
		}
		for _, arm := range order {
			pids := map[string]int{"double": double.Pid(), "bench": os.Getpid(), "livekit": lkPid, "postgres": pgPid, "redis": redisPid}
			var do func(ctx context.Context, i int) error
			var srv *child
			queueName := benchName("bench_sync_")
			if arm.name == "dialq" {
				srv, err = dialqProcs{API: true, Worker: true, DSN: f.DSN, Redis: e.RedisAddr, Queue: queueName, Channel: benchName("bench:ch:"),
					LiveKit: e.LiveKitURL, SIPURL: double.Addr, TCI: arm.tci, RoomEmptyTimeout: o.RoomEmptyTimeout}.start(ctx, "dialq API+worker", logPath)
				if err != nil {
					return nil, err
				}
				pids["server"] = srv.Pid()
				url := "http://" + srv.Addr + "/call/outbound"
				do = func(ctx context.Context, _ int) error { return postCall(ctx, httpc, url, f.Key, body) }
			} else {
				do = direct.call
			}
			armStart := time.Now()
			ol := openLoop{Rate: o.Rate, Warmup: o.Warmup, Duration: o.Duration, Timeout: 30 * time.Second, Do: do,
				Watch: func() func() cpuUse { return watchCPU(pids, map[string]bool{"postgres": true}).stop }}
			s, err := ol.run(ctx)
			if srv != nil {
				alive := srv.alive()
				srv.stop()
				deleteQueues(rdb, queueName)
				if err == nil && !alive {
					err = fmt.Errorf("%w (see %s)", errChildGone, logPath)
				}
			}
			if err != nil {
				return nil, fmt.Errorf("sync %s round %d: %w", arm.label(), r, err)
			}
			if arm.name == "dialq" {
				rooms.addFrom(ctx, f, armStart)
				logStages(ctx, f, armStart)
			}
			logf("sync round %d %-12s %5.0f calls/s  p50 %s  p99 %s  errors %d  send lag p99 %s  cpu: machine %.0f%% livekit %.0f%% server %.0f%% bench %.0f%% double %.0f%% postgres %.0f%% redis %.0f%%",
				r, arm.label(), s.RPS, ms(s.P50), ms(s.P99), s.Errors, ms(s.SendLagP99), s.CPU.Machine,
				s.CPU.Procs["livekit"], s.CPU.Procs["server"], s.CPU.Procs["bench"], s.CPU.Procs["double"], s.CPU.Procs["postgres"], s.CPU.Procs["redis"])
			if s.Errors > 0 {
				logf("  first error: %s", s.FirstError)
			}
			res.Rounds = append(res.Rounds, syncRound{Arm: arm.name, TCI: arm.tci, Round: r, stats: s})
			// Rooms are deleted between windows so every window starts with
			// livekit-server in the same state.
			rooms.deleteAll(ctx)
		}
	}
	res.Direct = pooled(res.Rounds, "direct", 0)
	for _, t := range o.TCIs {
		res.Dialq = append(res.Dialq, pooled(res.Rounds, "dialq", t))
	}
	return res, nil
}

func (a syncArm) label() string {
	if a.name == "dialq" {
		return "dialq@" + a.tci.String()
	}
	return a.name
}

func reversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// pooled merges the samples of arm's rounds into one summary.
func pooled(rounds []syncRound, arm string, tci time.Duration) stats {
	var all []time.Duration
	var errs, n int
	var window time.Duration
	var firstErr string
	var lag time.Duration
	for _, r := range rounds {
		if r.Arm != arm || r.TCI != tci {
			continue
		}
		all = append(all, r.samples...)
		errs += r.Errors
		window += r.Window
		n++
		if firstErr == "" {
			firstErr = r.FirstError
		}
		lag = max(lag, r.SendLagP99)
	}
	s := summarize(all, errs, window, firstErr)
	s.SendLagP99 = lag
	return s
}

// postCall places one call through dialq's API with the default wait and
// checks it was answered.
func postCall(ctx context.Context, c *http.Client, url, key string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var out struct {
		Success bool `json:"success"`
		Data    struct {
			Status string `json:"status"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || !out.Success || out.Data.Status != "answered" {
		return fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
	}
	return nil
}

// directArm places calls the way a client of LiveKit would without dialq:
// CreateRoom, CreateDispatch, CreateSIPParticipant (waiting for the answer),
// with the same client code and the same request shapes as dialq's worker.
type directArm struct {
	lk    *livekit.Client
	f     *fixture
	rooms *roomJanitor
}

func newDirectArm(e env, sipURL string, f *fixture, emptyTimeout time.Duration, rooms *roomJanitor) *directArm {
	return &directArm{
		lk: livekit.New(livekit.Config{URL: e.LiveKitURL, APIKey: e.LiveKitAPIKey, APISecret: e.LiveKitAPISecret,
			SIPURL: sipURL, RoomEmptyTimeout: emptyTimeout}),
		f: f, rooms: rooms,
	}
}

func (d *directArm) call(ctx context.Context, _ int) error {
	id, _ := uuid.NewV7()
	c := &dialq.Call{ID: id, TenantID: d.f.Tenant, AssistantID: d.f.Assistant, TrunkID: d.f.TrunkID,
		ToNumber: "+15550100001", Service: dialq.ServiceTwilio,
		Metadata:         map[string]any{"name": "John Doe", "company": "Acme Corp"},
		Prompt:           "Hello John Doe, you're calling from Acme Corp.",
		StartInstruction: "Hi John Doe, this is Sarah speaking.",
		AgentName:        d.f.AgentName, LiveKitTrunkID: d.f.LKTrunkID}
	room := dialq.RoomNameFor(c)
	d.rooms.add(room)
	md, _ := json.Marshal(map[string]string{"call_id": c.ID.String(), "assistant_id": c.AssistantID.String()})
	if err := d.lk.CreateRoom(ctx, room, string(md)); err != nil {
		return err
	}
	if _, err := d.lk.CreateDispatch(ctx, room, c.AgentName, dialq.DispatchMetadataFor(c)); err != nil {
		return err
	}
	_, err := d.lk.DialSIP(ctx, dialq.DialRequest{CallID: c.ID.String(), Room: room, LiveKitTrunkID: c.LiveKitTrunkID,
		ToNumber: c.ToNumber, Identity: dialq.ParticipantIdentityFor(c.ToNumber), RingTimeout: 30 * time.Second})
	return err
}

// roomJanitor deletes the rooms a window made, between windows.
type roomJanitor struct {
	rooms *lksdk.RoomServiceClient
	mu    sync.Mutex
	names []string
}

func (j *roomJanitor) add(name string) {
	j.mu.Lock()
	j.names = append(j.names, name)
	j.mu.Unlock()
}

// addFrom adds the rooms of the calls dialq stored since t, and returns
// them.
func (j *roomJanitor) addFrom(ctx context.Context, f *fixture, t time.Time) []string {
	rows, err := f.admin.QueryContext(ctx, "SELECT room_name FROM "+f.Schema+".calls WHERE room_name <> '' AND created_at >= $1", t)
	if err != nil {
		logf("list rooms: %v", err)
		return nil
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if rows.Scan(&n) == nil {
			j.add(n)
			names = append(names, n)
		}
	}
	return names
}

// deleteAll deletes the rooms added so far, 16 at a time.
func (j *roomJanitor) deleteAll(ctx context.Context) {
	j.mu.Lock()
	names := j.names
	j.names = nil
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	work := make(chan string)
	var wg sync.WaitGroup
	var failed int
	var mu sync.Mutex
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if _, err := j.rooms.DeleteRoom(ctx, &lkp.DeleteRoomRequest{Room: n}); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	if failed > 0 {
		logf("could not delete %d of %d rooms (their empty timeout closes them)", failed, len(names))
	}
}

// logStages prints where the dialq arm's calls since t spent their time,
// from the timestamps of each call's timeline (p50 and p99 in ms): queue
// (created → the worker's attempt), room (→ room recorded: the attempt's
// record and CreateRoom), dispatch (→ dispatch recorded), mark (→ dialing
// recorded) and dial (→ answered recorded).
func logStages(ctx context.Context, f *fixture, t time.Time) {
	q := `
	WITH ev AS (
		SELECT c.id, c.created_at,
			max(e.at) FILTER (WHERE e.kind = 'attempt') AS attempt,
			max(e.at) FILTER (WHERE e.kind = 'room_created') AS room,
			max(e.at) FILTER (WHERE e.kind = 'agent_dispatched') AS dispatch,
			max(e.at) FILTER (WHERE e.kind = 'dialing') AS dialing,
			max(e.at) FILTER (WHERE e.kind = 'answered') AS answered
		FROM ` + f.Schema + `.calls c JOIN ` + f.Schema + `.call_events e ON e.call_id = c.id
		WHERE c.created_at >= $1 GROUP BY c.id, c.created_at
	), d AS (
		SELECT extract(epoch FROM attempt - created_at) * 1000 AS queue,
			extract(epoch FROM room - attempt) * 1000 AS room,
			extract(epoch FROM dispatch - room) * 1000 AS dispatch,
			extract(epoch FROM dialing - dispatch) * 1000 AS mark,
			extract(epoch FROM answered - dialing) * 1000 AS dial
		FROM ev WHERE answered IS NOT NULL
	)
	SELECT count(*),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY queue), percentile_cont(0.99) WITHIN GROUP (ORDER BY queue),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY room), percentile_cont(0.99) WITHIN GROUP (ORDER BY room),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY dispatch), percentile_cont(0.99) WITHIN GROUP (ORDER BY dispatch),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY mark), percentile_cont(0.99) WITHIN GROUP (ORDER BY mark),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY dial), percentile_cont(0.99) WITHIN GROUP (ORDER BY dial)
	FROM d`
	var n int
	v := make([]float64, 10)
	err := f.admin.QueryRowContext(ctx, q, t).Scan(&n, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9])
	if err != nil {
		logf("  stages: %v", err)
		return
	}
	logf("  stages of %d calls, p50/p99 ms: queue %.1f/%.1f  room %.1f/%.1f  dispatch %.1f/%.1f  mark %.1f/%.1f  dial %.1f/%.1f",
		n, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9])
}
