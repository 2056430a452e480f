package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/localport"
	"github.com/dialq/dialq/internal/priority"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/webhooks"
)

// rigOptions say what a callRig runs.
type rigOptions struct {
	// Name names the logs: <log dir>/bench-<Name>-*.log.
	Name string
	// Double is the SIP double of the Twilio path (LiveKit SIP calls).
	Double doubleConfig
	// Exotel, when set, adds an Exotel trunk to a sipp phone playing this
	// scenario, and the SIP bridge to the worker.
	Exotel string
	// LiveKitPorts is the private livekit-server's range of WebRTC ports
	// (privateLiveKit.Ports); 0 is one shared UDP port.
	LiveKitPorts int
	// TCI is the worker's TaskCheckInterval; 0 is cmd/worker's.
	TCI time.Duration
}

// callRig is dialq placing whole calls as make run places them, each piece
// a process of its own: the API and a worker (package app, as cmd/api and
// cmd/worker build them, in child processes), a private livekit-server
// (on a private redis-server) that posts its webhooks to the API and to
// this process, the SIP double as the Twilio path's SIP service, the Go
// test agent under the assistant's agent name and, when asked, a sipp
// phone behind an Exotel trunk. This process receives the tenant's
// webhooks (DIALQ_WEBHOOK_ALLOW_PRIVATE, as make run sets it).
type callRig struct {
	e       env
	o       rigOptions
	logDir  string
	lkURL   string
	lk      *child
	lkOpt   privateLiveKit
	double  *child
	agent   *child
	api     *child
	worker  *child
	sipp    *child
	apiURL  string
	f       *fixture
	twilio  *dialq.Trunk
	exotel  *dialq.Trunk
	recv    *receiver
	rooms   *lksdk.RoomServiceClient
	httpc   *http.Client
	closers []func()
}

// logPath is where the rig's piece part logs.
func (r *callRig) logPath(part string) string {
	return filepath.Join(r.logDir, "bench-"+r.o.Name+"-"+part+".log")
}

func newCallRig(ctx context.Context, e env, o rigOptions, logDir string) (_ *callRig, err error) {
	r := &callRig{e: e, o: o, logDir: logDir, httpc: &http.Client{Timeout: 90 * time.Second}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.recv, err = newReceiver(); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.recv.close)

	// LiveKit: its own Redis (its SIP trunk APIs need one; a livekit-server
	// sharing the stack's Redis database would join the stack's server),
	// its webhooks to the API and to the receiver here.
	rs, redisAddr, err := startRedis(ctx, r.logPath("redis"))
	if err != nil {
		return nil, err
	}
	r.closers = append(r.closers, rs.stop)
	apiPort, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	apiAddr := "127.0.0.1:" + strconv.Itoa(apiPort)
	r.apiURL = "http://" + apiAddr
	r.lkOpt = privateLiveKit{Redis: redisAddr, Ports: o.LiveKitPorts,
		Webhooks: []string{r.apiURL + "/livekit/webhook", r.recv.URL + receiverLiveKitPath}}
	if r.lk, r.lkURL, err = startPrivateLiveKit(ctx, e, r.logPath("livekit"), &r.lkOpt); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.lk.stop)
	r.rooms = lksdk.NewRoomServiceClient(r.lkURL, e.LiveKitAPIKey, e.LiveKitAPISecret)
	sipc := lksdk.NewSIPClient(r.lkURL, e.LiveKitAPIKey, e.LiveKitAPISecret)
	lkTrunk, err := sipc.CreateSIPOutboundTrunk(ctx, &lkp.CreateSIPOutboundTrunkRequest{Trunk: &lkp.SIPOutboundTrunkInfo{
		Name: "dialq-bench " + o.Name, Address: "127.0.0.1:5060", Numbers: []string{"+15550100000"}}})
	if err != nil {
		return nil, fmt.Errorf("create LiveKit outbound trunk: %w", err)
	}

	// The tenant: its assistant waits for the agent to join before the
	// phone rings, as make run's demo assistant does.
	if r.f, err = newFixture(ctx, e, lkTrunk.SipTrunkId); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.f.close)
	r.twilio = r.f.Trunk
	r.f.Assistant.DialWithoutAgent = false
	r.f.Assistant.AgentJoinTimeout = 30 * time.Second
	if err := r.f.DB.SaveAssistant(ctx, r.f.Assistant); err != nil {
		return nil, err
	}

	// The phones and the agent.
	o.Double.LiveKit = r.lkURL
	if r.double, err = startSelf(ctx, "SIP double", r.logPath("double"), "sipdouble", o.Double); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.double.stop)
	if r.agent, err = agentChild(ctx, r.lkURL, r.f.Assistant.AgentName, r.logPath("agent")); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.agent.stop)
	procs := dialqProcs{DSN: r.f.DSN, Redis: e.RedisAddr, Queue: benchName("bench_" + o.Name + "_"), Channel: benchName("bench:ch:"),
		LiveKit: r.lkURL, SIPURL: r.double.Addr, TCI: o.TCI, APIAddr: apiAddr, Calls: true, WebhookAllowPrivate: true}
	rdb := redis.NewClient(&redis.Options{Addr: e.RedisAddr})
	r.closers = append(r.closers, func() { deleteQueues(rdb, procs.Queue); rdb.Close() })
	if o.Exotel != "" {
		key, err := r.startExotel(ctx)
		if err != nil {
			return nil, err
		}
		procs.SecretKey, procs.Nice = key, priority.Bridge
	}

	// dialq: the API, then the worker, each in its own process.
	api, worker := procs, procs
	api.API, worker.Worker = true, true
	if r.api, err = startSelf(ctx, "dialq API", r.logPath("api"), "serve", api); err != nil {
		return nil, err
	}
	r.closers = append(r.closers, r.api.stop)
	if r.worker, err = startSelf(ctx, "dialq worker", r.logPath("worker"), "serve", worker); err != nil {
		return nil, err
	}
	// The worker stops first: its bridged calls hang up while the API and
	// the phones are still there.
	r.closers = append(r.closers, r.worker.stop)

	// The tenant's webhook endpoint, for every event.
	var ep struct {
		Data struct {
			Secret string `json:"secret"`
		} `json:"data"`
	}
	if err := r.do(ctx, http.MethodPost, "/webhooks", map[string]any{"url": r.recv.URL + receiverDialqPath}, http.StatusCreated, &ep); err != nil {
		return nil, fmt.Errorf("create the webhook endpoint: %w", err)
	}
	key, err := dialq.WebhookKey(ep.Data.Secret)
	if err != nil {
		return nil, err
	}
	r.recv.mu.Lock()
	r.recv.key = key
	r.recv.mu.Unlock()
	return r, nil
}

// startExotel starts the sipp phone and makes the tenant's Exotel trunk to
// it, whose SIP password only the returned secret key opens.
func (r *callRig) startExotel(ctx context.Context) (string, error) {
	sipPort, mediaPort := 0, 0
	for range 100 {
		// Ports for sipp as the bridge benchmark picks them (below Linux's
		// ephemeral range), in a region of their own.
		if base := 29920 + 8*rand.IntN(10); localport.Free(base, 8) {
			sipPort, mediaPort = base, base+2
			break
		}
	}
	if sipPort == 0 {
		return "", fmt.Errorf("no free ports for sipp in 29920-29999")
	}
	errs := r.logPath("sipp-errors")
	var err error
	if r.sipp, err = startChild(ctx, "sipp phone", r.logPath("sipp"), false, "sipp",
		"-sf", r.o.Exotel, "-i", "127.0.0.1", "-p", strconv.Itoa(sipPort), "-t", "t1",
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort), "-rtp_echo", "-nostdin",
		"-trace_err", "-error_file", errs); err != nil {
		return "", err
	}
	r.closers = append(r.closers, r.sipp.stop)
	if err := r.sipp.waitReady(ctx, "listening", 10*time.Second, func() bool { return tcpListening(sipPort) }); err != nil {
		return "", err
	}
	key := secret.NewKey()
	box, err := secret.BoxFromKey(key)
	if err != nil {
		return "", err
	}
	r.f.DB.UseSecrets(box)
	// make run's demo Exotel trunk (dialqctl seed-demo), to this phone,
	// with an RTP range of its size of the rig's own.
	sip := &dialq.SIPTrunkConfig{SIPHost: "127.0.0.1", SIPPort: sipPort, Transport: "tcp", FromDomain: "exotel.local",
		CallerID: "08044319240", Username: "exotel-demo", Password: "dialq-demo-sip",
		MediaIP: "127.0.0.1", RTPPortMin: rigRTPMin, RTPPortMax: rigRTPMax}
	if err := sip.Normalize(dialq.Exotel); err != nil {
		return "", err
	}
	r.exotel = &dialq.Trunk{ID: benchName("ST_bench_exotel_"), TenantID: r.f.Tenant, Name: "bench exotel (sipp)", Provider: dialq.ServiceExotel, SIP: sip}
	if err := r.f.DB.SaveTrunk(ctx, r.exotel); err != nil {
		return "", fmt.Errorf("save the Exotel trunk: %w", err)
	}
	return key, nil
}

// The rig's Exotel RTP ports: as many as make run's demo trunk has
// (58100-58299), away from the bridge benchmark's 24000-25999.
const (
	rigRTPMin = 26000
	rigRTPMax = 26199
)

func (r *callRig) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// do sends a request with the tenant's key to the API and decodes the
// answer into out; an error unless it answered want.
func (r *callRig) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.apiURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.f.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return &httpError{Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// httpError is an answer of the API other than the one expected.
type httpError struct {
	Status int
	Body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %.300s", e.Status, e.Body) }

// callView is what the benchmarks read of GET /call/{id}.
type callView struct {
	CallID        string     `json:"call_id"`
	Status        string     `json:"status"`
	FailureReason string     `json:"failure_reason"`
	LastError     string     `json:"last_error"`
	RoomName      string     `json:"room_name"`
	EndReason     string     `json:"end_reason"`
	EndedBy       string     `json:"ended_by"`
	AnsweredAt    *time.Time `json:"answered_at"`
	EndedAt       *time.Time `json:"ended_at"`
}

// place places a call to number through trunk with POST /call/outbound,
// waiting as a client does by default, and returns the call as answered.
// metadata is added to the fixture's.
func (r *callRig) place(ctx context.Context, trunk *dialq.Trunk, number string, metadata map[string]any) (*callView, error) {
	req := r.f.request(number, trunk)
	maps.Copy(req.Metadata, metadata)
	var out struct {
		Data callView `json:"data"`
	}
	err := r.do(ctx, http.MethodPost, "/call/outbound", req, http.StatusOK, &out)
	var he *httpError
	if errors.As(err, &he) && (he.Status == http.StatusAccepted || he.Status >= 400) {
		// 202 (still dialing) and failures carry the call too.
		if json.Unmarshal([]byte(he.Body), &out) == nil && out.Data.CallID != "" {
			return &out.Data, err
		}
	}
	if err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// get reads a call.
func (r *callRig) get(ctx context.Context, id string) (*callView, error) {
	var out struct {
		Data callView `json:"data"`
	}
	if err := r.do(ctx, http.MethodGet, "/call/"+id, nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out.Data, nil
}

// await polls the call every 100 ms until done holds or timeout passes,
// and returns it as last read.
func (r *callRig) await(ctx context.Context, id string, timeout time.Duration, done func(*callView) bool) (*callView, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := r.get(ctx, id)
		if err == nil && done(c) {
			return c, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("call %s still %s after %s", id, c.Status, timeout)
			}
			return c, err
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return c, err
		}
	}
}

// terminal reports whether a call's status is final.
func terminal(c *callView) bool { return dialq.CallStatus(c.Status).Terminal() }

// roomCount is how many rooms livekit-server holds and how many
// participants are in them (ListParticipants of each: a room's
// num_participants leaves agents and SIP participants out).
func (r *callRig) roomCount(ctx context.Context) (rooms, participants int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := r.rooms.ListRooms(ctx, &lkp.ListRoomsRequest{})
	if err != nil {
		return 0, 0, err
	}
	for _, rm := range resp.Rooms {
		ps, err := r.rooms.ListParticipants(ctx, &lkp.ListParticipantsRequest{Room: rm.Name})
		if err != nil {
			continue // closed since
		}
		participants += len(ps.Participants)
	}
	return len(resp.Rooms), participants, nil
}

// udpPortsInUse counts the UDP sockets bound in the private
// livekit-server's WebRTC port range (its own: the range was free when it
// started).
func (r *callRig) udpPortsInUse() int {
	lo, hi := r.lkOpt.PortRange[0], r.lkOpt.PortRange[1]
	if lo == 0 {
		return 0
	}
	n := 0
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			_, portHex, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(portHex, 16, 16); err == nil && int(p) >= lo && int(p) <= hi {
				n++
			}
		}
	}
	return n
}

// phoneEnds asks the SIP double when each room's phone left it.
func (r *callRig) phoneEnds(ctx context.Context) (map[string]phoneEnd, error) {
	if err := r.double.send("calls"); err != nil {
		return nil, err
	}
	line, err := r.double.await(ctx, "calls", 30*time.Second)
	if err != nil {
		return nil, err
	}
	var list []phoneEnd
	if err := json.Unmarshal([]byte(line), &list); err != nil {
		return nil, err
	}
	m := make(map[string]phoneEnd, len(list))
	for _, p := range list {
		m[p.Room] = p
	}
	return m, nil
}

// The receiver's paths: livekit-server's webhooks and the tenant's.
const (
	receiverLiveKitPath = "/livekit/webhook"
	receiverDialqPath   = "/dialq"
)

// receiver is the HTTP server in the bench process that takes the
// tenant's webhooks, as a customer's server would, and livekit-server's
// (beside the API, which gets the same ones), noting when each arrived.
type receiver struct {
	URL string
	key []byte // the endpoint's signing key

	ln  net.Listener
	srv *http.Server

	mu      sync.Mutex
	arrived map[string]time.Time // "<call id> <type>", first arrival
	left    map[string]time.Time // "<room> <identity>": participant_left
	waiters map[string][]chan time.Time
	byType  map[string]int
	bad     int // requests that did not verify
	dup     int // repeated webhook-ids
	ids     map[string]bool
}

func newReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{URL: "http://" + ln.Addr().String(), ln: ln, arrived: map[string]time.Time{}, left: map[string]time.Time{},
		waiters: map[string][]chan time.Time{}, byType: map[string]int{}, ids: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+receiverDialqPath, rc.dialqHook)
	mux.HandleFunc("POST "+receiverLiveKitPath, rc.liveKitHook)
	rc.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (rc *receiver) close() { rc.srv.Close() }

// dialqHook takes one of the tenant's webhooks: the time it arrived (its
// headers read) is noted under its call and type once its signature
// verifies.
func (rc *receiver) dialqHook(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			CallID string `json:"call_id"`
		} `json:"data"`
	}
	id := req.Header.Get("webhook-id")
	ts, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	want := webhooks.Sign(rc.key, id, time.Unix(ts, 0), body)
	if json.Unmarshal(body, &ev) != nil || !hmac.Equal([]byte(want), []byte(req.Header.Get("webhook-signature"))) {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.ids[id] {
		rc.dup++
	}
	rc.ids[id] = true
	rc.byType[ev.Type]++
	k := ev.Data.CallID + " " + ev.Type
	if _, seen := rc.arrived[k]; !seen {
		rc.arrived[k] = at
		for _, ch := range rc.waiters[k] {
			ch <- at
		}
		delete(rc.waiters, k)
	}
	w.WriteHeader(http.StatusNoContent)
}

// liveKitHook notes when livekit-server's participant_left webhooks
// arrived. The API verifies its copy; this one is only timed.
func (rc *receiver) liveKitHook(w http.ResponseWriter, req *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	var ev lkp.WebhookEvent
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &ev); err == nil && ev.Event == "participant_left" {
		k := ev.GetRoom().GetName() + " " + ev.GetParticipant().GetIdentity()
		rc.mu.Lock()
		if _, seen := rc.left[k]; !seen {
			rc.left[k] = at
		}
		rc.mu.Unlock()
	}
	w.WriteHeader(http.StatusOK)
}

// wait returns when the webhook of type about call id arrived, waiting up
// to timeout for it; false if it did not come.
func (rc *receiver) wait(ctx context.Context, id, typ string, timeout time.Duration) (time.Time, bool) {
	k := id + " " + typ
	rc.mu.Lock()
	if at, ok := rc.arrived[k]; ok {
		rc.mu.Unlock()
		return at, true
	}
	ch := make(chan time.Time, 1)
	rc.waiters[k] = append(rc.waiters[k], ch)
	rc.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case at := <-ch:
		return at, true
	case <-t.C:
	case <-ctx.Done():
	}
	return time.Time{}, false
}

// phoneLeft is when livekit-server's participant_left of identity in room
// arrived, if it did.
func (rc *receiver) phoneLeft(room, identity string) (time.Time, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	at, ok := rc.left[room+" "+identity]
	return at, ok
}

// counts returns the webhooks received by type, and the bad and repeated
// ones.
func (rc *receiver) counts() (byType map[string]int, bad, dup int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	byType = make(map[string]int, len(rc.byType))
	for k, v := range rc.byType {
		byType[k] = v
	}
	return byType, rc.bad, rc.dup
}
