package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

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
	Rounds  []round     `json:"rounds"`
	// Direct pools the direct arm's rounds; Dialq pools the dialq arm's
	// rounds per TaskCheckInterval, in the order of Options.TCIs.
	Direct stats   `json:"direct"`
	Dialq  []stats `json:"dialq"`
}

// runSync is benchmark (b): the whole synchronous call through dialq against
// the three LiveKit requests made directly, open loop at a fixed rate.
func runSync(ctx context.Context, e env, o syncOptions, logDir string) (*syncResult, error) {
	logPath := filepath.Join(logDir, "bench-sync.log")
	d, err := newDirect(ctx, e, logPath, doubleConfig{SkipRoom: true, InviteDelay: o.InviteDelay}, o.RoomEmptyTimeout)
	if err != nil {
		return nil, err
	}
	defer d.close()
	f, err := newFixture(ctx, e, d.trunk)
	if err != nil {
		return nil, err
	}
	defer f.close()
	d.tenant = f
	rdb := redis.NewClient(&redis.Options{Addr: e.RedisAddr})
	defer rdb.Close()
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true, IdleConnTimeout: time.Minute}}
	body := f.body("+15550100001")

	// measureDialq measures ol against dialq's API and worker in a child of their
	// own, with the worker's TaskCheckInterval tci, each request a POST
	// /call/outbound that waits for the answer.
	measureDialq := func(ol openLoop, tci time.Duration) (stats, error) {
		q := benchName("bench_sync_")
		defer deleteQueues(rdb, q)
		srv, err := startSelf(ctx, "dialq API+worker", logPath, "serve", dialqProcs{API: true, Worker: true, DSN: f.DSN, Redis: e.RedisAddr,
			Queue: q, Channel: benchName("bench:ch:"), LiveKit: e.LiveKitURL, SIPURL: d.double.Addr, TCI: tci, RoomEmptyTimeout: o.RoomEmptyTimeout})
		if err != nil {
			return stats{}, err
		}
		defer srv.stop()
		ol.CPU["server"] = srv.Pid()
		url := "http://" + srv.Addr + "/call/outbound"
		ol.Do = func(ctx context.Context, _ int) error { return postCall(ctx, httpc, url, f.Key, body) }
		s, err := ol.run(ctx)
		if err == nil && !srv.alive() {
			err = fmt.Errorf("%w (see %s)", errChildGone, logPath)
		}
		return s, err
	}
	var arms []round
	for _, t := range o.TCIs {
		arms = append(arms, round{Arm: "dialq", TCI: t})
	}
	res := &syncResult{Options: o}
	err = alternate(o.Rounds, append(arms, round{Arm: "direct"}), func(rd round) error {
		ol := openLoop{Rate: o.Rate, Warmup: o.Warmup, Duration: o.Duration, Timeout: 30 * time.Second, Do: d.call,
			CPU: e.pids(map[string]int{"double": d.double.Pid()})}
		start := time.Now()
		var err error
		if rd.Arm == "direct" {
			rd.stats, err = ol.run(ctx)
		} else if rd.stats, err = measureDialq(ol, rd.TCI); err == nil {
			d.rooms.addFrom(ctx, f, start)
			logStages(ctx, f, start)
		}
		if err != nil {
			return err
		}
		logf("sync %s", rd)
		res.Rounds = append(res.Rounds, rd)
		// Rooms are deleted between windows so every window starts with
		// livekit-server in the same state.
		d.rooms.deleteAll(ctx)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sync %w", err)
	}
	res.Direct = pooled(res.Rounds, "direct", 0)
	for _, t := range o.TCIs {
		res.Dialq = append(res.Dialq, pooled(res.Rounds, "dialq", t))
	}
	return res, nil
}

// pooled merges the samples of arm's rounds into one summary.
func pooled(rounds []round, arm string, tci time.Duration) stats {
	var all []time.Duration
	var errs int
	var window, lag time.Duration
	var firstErr string
	for _, r := range rounds {
		if r.Arm == arm && r.TCI == tci {
			all, errs, window, lag = append(all, r.samples...), errs+r.Errors, window+r.Window, max(lag, r.SendLagP99)
			firstErr = cmp.Or(firstErr, r.FirstError)
		}
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

// direct places calls the way a client of LiveKit would without dialq:
// CreateRoom, CreateDispatch, CreateSIPParticipant (waiting for the
// answer), with the same client code and the same request shapes as
// dialq's worker, through a LiveKit outbound trunk of its own and the SIP
// double.
type direct struct {
	lk     *livekit.Client
	sip    *lksdk.SIPClient
	trunk  string // the LiveKit outbound trunk
	double *child
	rooms  *roomJanitor
	tenant *fixture // whose calls these are
}

// newDirect makes the trunk and starts the SIP double, which the dialq arm
// of (b) dials through too.
func newDirect(ctx context.Context, e env, logPath string, double doubleConfig, emptyTimeout time.Duration) (*direct, error) {
	d := &direct{sip: lksdk.NewSIPClient(e.LiveKitURL, e.LiveKitAPIKey, e.LiveKitAPISecret),
		rooms: &roomJanitor{rooms: lksdk.NewRoomServiceClient(e.LiveKitURL, e.LiveKitAPIKey, e.LiveKitAPISecret)}}
	trunk, err := d.sip.CreateSIPOutboundTrunk(ctx, &lkp.CreateSIPOutboundTrunkRequest{Trunk: &lkp.SIPOutboundTrunkInfo{
		Name: "dialq-bench", Address: "127.0.0.1:5060", Numbers: []string{"+15550100000"}}})
	if err != nil {
		return nil, fmt.Errorf("create LiveKit outbound trunk: %w", err)
	}
	d.trunk, d.tenant = trunk.SipTrunkId, newTenant(trunk.SipTrunkId)
	double.LiveKit = e.LiveKitURL
	if d.double, err = startSelf(ctx, "SIP double", logPath, "sipdouble", double); err != nil {
		d.close()
		return nil, err
	}
	d.lk = livekit.New(livekit.Config{URL: e.LiveKitURL, APIKey: e.LiveKitAPIKey, APISecret: e.LiveKitAPISecret,
		SIPURL: d.double.Addr, RoomEmptyTimeout: emptyTimeout})
	return d, nil
}

func (d *direct) close() {
	d.double.stop()
	d.sip.DeleteSIPTrunk(context.Background(), &lkp.DeleteSIPTrunkRequest{SipTrunkId: d.trunk})
}

func (d *direct) call(ctx context.Context, _ int) error {
	f := d.tenant
	c, err := dialq.NewCall(f.Tenant, f.request("+15550100001", f.Trunk), f.Assistant, f.Trunk, time.Now())
	if err != nil {
		return err
	}
	room := dialq.RoomNameFor(c)
	d.rooms.add(room)
	md, _ := json.Marshal(map[string]string{"call_id": c.ID.String(), "assistant_id": c.AssistantID.String()})
	if err := d.lk.CreateRoom(ctx, room, string(md)); err != nil {
		return err
	}
	if _, err := d.lk.CreateDispatch(ctx, room, c.AgentName, dialq.DispatchMetadataFor(c, dialq.ReportAccess{})); err != nil {
		return err
	}
	_, err = d.lk.DialSIP(ctx, dialq.DialRequest{CallID: c.ID.String(), Room: room, LiveKitTrunkID: c.LiveKitTrunkID,
		ToNumber: c.ToNumber, Identity: dialq.ParticipantIdentityFor(c.ToNumber), RingTimeout: 30 * time.Second})
	return err
}

// roomJanitor deletes the rooms a window made, between windows.
type roomJanitor struct {
	rooms *lksdk.RoomServiceClient
	mu    sync.Mutex
	names []string
}

func (j *roomJanitor) add(names ...string) {
	j.mu.Lock()
	j.names = append(j.names, names...)
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
			names = append(names, n)
		}
	}
	j.add(names...)
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
	var failed atomic.Int32
	inParallel(len(names), 16, func(i int) {
		if _, err := j.rooms.DeleteRoom(ctx, &lkp.DeleteRoomRequest{Room: names[i]}); err != nil {
			failed.Add(1)
		}
	})
	if n := failed.Load(); n > 0 {
		logf("could not delete %d of %d rooms (their empty timeout closes them)", n, len(names))
	}
}

// logStages prints where the dialq arm's calls since t spent their time,
// from the timestamps of each call's timeline (p50 and p99 in ms): queue
// (created → the worker's attempt), room (→ room recorded: the attempt's
// record and CreateRoom), dispatch (→ dispatch recorded), mark (→ dialing
// recorded) and dial (→ answered recorded).
func logStages(ctx context.Context, f *fixture, t time.Time) {
	stages := []struct{ name, from, to string }{{"queue", "created_at", "attempt"}, {"room", "attempt", "room"},
		{"dispatch", "room", "dispatch"}, {"mark", "dispatch", "dialing"}, {"dial", "dialing", "answered"}}
	q := `WITH ev AS (
		SELECT c.id, c.created_at,
			max(e.at) FILTER (WHERE e.kind = 'attempt') AS attempt,
			max(e.at) FILTER (WHERE e.kind = 'room_created') AS room,
			max(e.at) FILTER (WHERE e.kind = 'agent_dispatched') AS dispatch,
			max(e.at) FILTER (WHERE e.kind = 'dialing') AS dialing,
			max(e.at) FILTER (WHERE e.kind = 'answered') AS answered
		FROM ` + f.Schema + `.calls c JOIN ` + f.Schema + `.call_events e ON e.call_id = c.id
		WHERE c.created_at >= $1 GROUP BY c.id, c.created_at
	) SELECT count(*)`
	for _, s := range stages {
		for _, p := range []string{"0.5", "0.99"} {
			q += fmt.Sprintf(", percentile_cont(%s) WITHIN GROUP (ORDER BY extract(epoch FROM %s - %s) * 1000)", p, s.to, s.from)
		}
	}
	var n int
	v := make([]float64, 2*len(stages))
	dst := []any{&n}
	for i := range v {
		dst = append(dst, &v[i])
	}
	if err := f.admin.QueryRowContext(ctx, q+" FROM ev WHERE answered IS NOT NULL", t).Scan(dst...); err != nil {
		logf("  stages: %v", err)
		return
	}
	line := fmt.Sprintf("  stages of %d calls, p50/p99 ms:", n)
	for i, s := range stages {
		line += fmt.Sprintf("  %s %.1f/%.1f", s.name, v[2*i], v[2*i+1])
	}
	logf("%s", line)
}
