package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// soakOptions configure the soak: calls in a row, as make run places them.
type soakOptions struct {
	Calls       int
	Concurrency int
	// Talk is how long a phone stays after answering before it hangs up;
	// on the calls the agent ends, it leaves after a quarter of it. The
	// bridge learns that the agent left from livekit-server, which tells
	// the room's other participants a second or two later (and more when
	// the cores are busy): with a 4 s talk, 1 to 9 bridged calls in 250
	// were hung up by the phone first.
	Talk time.Duration
	// Ports is the size of livekit-server's WebRTC port range: make run's
	// server has 100 (57900-57999).
	Ports int
	// Settle bounds the wait, after the last call, for livekit-server to
	// hold no room.
	Settle time.Duration
	// Scenario is make run's sipp Exotel phone; its 30 s talk is set to
	// Talk.
	Scenario string
}

// soakKinds are the four kinds of call the soak places in turn: each path,
// ended by the phone hanging up or by the agent leaving (the demo agent of
// make run leaves after its talk time, before the phones hang up).
var soakKinds = []struct {
	Service dialq.CallService
	EndedBy dialq.EndedBy
}{
	{dialq.ServiceTwilio, dialq.EndedByAgent},
	{dialq.ServiceExotel, dialq.EndedByAgent},
	{dialq.ServiceTwilio, dialq.EndedByPhone},
	{dialq.ServiceExotel, dialq.EndedByPhone},
}

// soakCall is one call's outcome.
type soakCall struct {
	Kind          int    `json:"kind"`
	CallID        string `json:"call_id,omitempty"`
	Status        string `json:"status"`
	EndedBy       string `json:"ended_by,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	// Problem says why a call did not end completed (or could not be
	// followed); Attribution that it completed, but ended by another
	// party than the one that ended it.
	Problem     string        `json:"problem,omitempty"`
	Attribution string        `json:"attribution,omitempty"`
	Place       time.Duration `json:"place_ns"` // POST /call/outbound's answer
	Took        time.Duration `json:"took_ns"`  // to the terminal status seen
	// AgentLeftToEnd is, on a call the agent ended, from the agent
	// leaving the room (the bench telling it to) to the call's ended_at.
	AgentLeftToEnd time.Duration `json:"agent_left_to_end_ns,omitempty"`
}

// soakSample is livekit-server's load at one moment.
type soakSample struct {
	At           time.Duration `json:"at_ns"` // since the first call
	Done         int           `json:"done"`
	Rooms        int           `json:"rooms"`
	Participants int           `json:"participants"`
	UDPPorts     int           `json:"udp_ports"`
}

// soakResult is the soak's outcome.
type soakResult struct {
	Options soakOptions `json:"options"`
	Calls   []soakCall  `json:"calls"`
	// Elapsed is from the first call placed to the last one over.
	Elapsed time.Duration `json:"elapsed_ns"`
	Samples []soakSample  `json:"samples"`
	// Max* are the most rooms, participants and WebRTC UDP ports in use
	// seen at once during the calls.
	MaxRooms, MaxParticipants, MaxUDPPorts int
	// PortRange is livekit-server's WebRTC port range.
	PortRange [2]int
	// After the calls: livekit-server's rooms and participants once it
	// settled (or Settle passed), and how long that took.
	EndRooms, EndParticipants, EndUDPPorts int
	SettledIn                              time.Duration
	// PhonesLeft counts the SIP double's phones still in a room at the end.
	PhonesLeft int
	// SippErrors is the size of sipp's error log.
	SippErrors int64
}

// runSoak is the soak: Calls calls, Concurrency at a time, through both
// paths as make run places them (the SIP double set up as cmd/phonesim,
// sipp playing make run's Exotel phone, the agent leaving once the phone
// has), on a livekit-server with make run's 100 WebRTC ports; every call
// must end completed, and livekit-server hold no room after.
func runSoak(ctx context.Context, e env, o soakOptions, logDir string) (*soakResult, error) {
	if o.Calls <= 0 || o.Concurrency <= 0 || o.Talk < time.Second {
		return nil, fmt.Errorf("soak: -soak-calls and -soak-concurrency must be positive, -soak-talk at least 1s")
	}
	scenario, err := soakScenario(o.Scenario, o.Talk, logDir)
	if err != nil {
		return nil, err
	}
	rig, err := newCallRig(ctx, e, rigOptions{Name: "soak", Exotel: scenario, LiveKitPorts: o.Ports,
		// cmd/phonesim's phones: ring 1 s, hang up after the talk time or
		// once everyone else left.
		Double: doubleConfig{RingFor: time.Second, HangUpAfter: o.Talk, HangUpWhenAlone: true}}, logDir)
	if err != nil {
		return nil, err
	}
	defer rig.close()
	res := &soakResult{Options: o, PortRange: rig.lkOpt.PortRange, Calls: make([]soakCall, o.Calls)}
	logf("soak: %d calls, %d at a time, talk %s; API %s, private livekit-server %s (WebRTC ports %d-%d)",
		o.Calls, o.Concurrency, o.Talk, rig.apiURL, rig.lkURL, res.PortRange[0], res.PortRange[1])

	start := time.Now()
	var done atomic.Int64
	var mu sync.Mutex
	sample := func() soakSample {
		s := soakSample{At: time.Since(start), Done: int(done.Load()), UDPPorts: rig.udpPortsInUse()}
		var err error
		if s.Rooms, s.Participants, err = rig.roomCount(ctx); err != nil {
			logf("soak: list rooms: %v", err)
		}
		return s
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for n := 0; watchCtx.Err() == nil; n++ {
			s := sample()
			mu.Lock()
			res.Samples = append(res.Samples, s)
			res.MaxRooms, res.MaxParticipants = max(res.MaxRooms, s.Rooms), max(res.MaxParticipants, s.Participants)
			res.MaxUDPPorts = max(res.MaxUDPPorts, s.UDPPorts)
			mu.Unlock()
			if n%15 == 0 {
				logf("soak: %s: %d/%d calls over; livekit-server: %d rooms, %d participants, %d of %d UDP ports",
					s.At.Round(time.Second), s.Done, o.Calls, s.Rooms, s.Participants, s.UDPPorts, o.Ports)
			}
			_ = sleep(watchCtx, 2*time.Second)
		}
	}()
	inParallel(o.Calls, o.Concurrency, func(i int) {
		if ctx.Err() != nil {
			return
		}
		res.Calls[i] = soakOne(ctx, rig, o, i)
		done.Add(1)
		if c := res.Calls[i]; c.Problem != "" || c.Attribution != "" {
			logf("soak: call %d (%s): %s", i, c.CallID, cmp.Or(c.Problem, c.Attribution))
		}
	})
	res.Elapsed = time.Since(start)
	stopWatch()
	<-watched
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	// livekit-server closes a room its last participant left after the
	// room's departure timeout (20 s).
	settle := time.Now()
	for {
		s := sample()
		res.EndRooms, res.EndParticipants, res.EndUDPPorts = s.Rooms, s.Participants, s.UDPPorts
		if s.Rooms == 0 && s.Participants == 0 || time.Since(settle) > o.Settle || sleep(ctx, time.Second) != nil {
			break
		}
	}
	res.SettledIn = time.Since(settle)
	if ends, err := rig.phoneEnds(ctx); err == nil {
		for _, p := range ends {
			if !p.Ended {
				res.PhonesLeft++
			}
		}
	}
	if st, err := os.Stat(rig.logPath("sipp-errors")); err == nil {
		res.SippErrors = st.Size()
	}
	bad, misattributed := res.failures()
	logf("soak: %d calls in %s, %d not completed, %d completed but put down to the other party; at most %d rooms, %d participants, %d of %d UDP ports; "+
		"after %s: %d rooms, %d participants, %d UDP ports; %d phones still in a room",
		o.Calls, res.Elapsed.Round(time.Second), bad, misattributed, res.MaxRooms, res.MaxParticipants, res.MaxUDPPorts, o.Ports,
		res.SettledIn.Round(time.Second), res.EndRooms, res.EndParticipants, res.EndUDPPorts, res.PhonesLeft)
	return res, nil
}

// soakOne places call i and follows it to its end.
func soakOne(ctx context.Context, rig *callRig, o soakOptions, i int) soakCall {
	k := soakKinds[i%len(soakKinds)]
	out := soakCall{Kind: i % len(soakKinds)}
	trunk, number := rig.twilio, fmt.Sprintf("+1555030%04d", i%10000)
	if k.Service == dialq.ServiceExotel {
		trunk, number = rig.exotel, fmt.Sprintf("+91804431%04d", i%10000)
	}
	t0 := time.Now()
	c, err := rig.place(ctx, trunk, number, nil)
	out.Place = time.Since(t0)
	if c != nil {
		out.CallID, out.Status = c.CallID, c.Status
	}
	if err != nil && (c == nil || c.CallID == "") {
		out.Problem = "place: " + err.Error()
		return out
	}
	// Answered (a bridged call answers after its INVITE is out).
	c, err = rig.await(ctx, c.CallID, time.Minute, func(c *callView) bool { return c.AnsweredAt != nil || terminal(c) })
	var agentLeft time.Time
	if err == nil && k.EndedBy == dialq.EndedByAgent && !terminal(c) {
		if sleep(ctx, o.Talk/4) == nil {
			agentLeft = time.Now()
			err = rig.agent.send("leave " + c.RoomName)
		}
	}
	if err == nil {
		c, err = rig.await(ctx, c.CallID, o.Talk+time.Minute, terminal)
	}
	out.Took = time.Since(t0)
	if c != nil {
		out.Status, out.EndedBy, out.FailureReason = c.Status, c.EndedBy, c.FailureReason
		if !agentLeft.IsZero() && c.EndedAt != nil && c.EndedBy == string(dialq.EndedByAgent) {
			out.AgentLeftToEnd = c.EndedAt.Sub(agentLeft)
		}
	}
	switch {
	case err != nil:
		out.Problem = err.Error()
	case c.Status != string(dialq.StatusCompleted):
		out.Problem = fmt.Sprintf("ended %s (%s): %s", c.Status, c.FailureReason, cmp.Or(c.LastError, c.EndReason))
	case c.EndedBy != string(k.EndedBy):
		out.Attribution = fmt.Sprintf("completed, ended by %s (%s), not by the %s", c.EndedBy, c.EndReason, k.EndedBy)
	}
	return out
}

// soakScenario writes make run's Exotel phone with its talk time set to
// talk, and returns its path.
func soakScenario(path string, talk time.Duration, dir string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("sipp scenario: %w", err)
	}
	const bye = `<recv request="BYE" timeout="30000"`
	s := string(b)
	if !strings.Contains(s, bye) {
		return "", fmt.Errorf("sipp scenario %s: no %s to set the talk time in", path, bye)
	}
	s = strings.Replace(s, bye, `<recv request="BYE" timeout="`+strconv.FormatInt(talk.Milliseconds(), 10)+`"`, 1)
	out := filepath.Join(dir, "bench-soak-exotel-phone.xml")
	return out, os.WriteFile(out, []byte(s), 0o644)
}

// failures counts the calls that did not complete, and those that did but
// whose end was put down to the other party.
func (r *soakResult) failures() (failed, misattributed int) {
	for _, c := range r.Calls {
		switch {
		case c.Problem != "":
			failed++
		case c.Attribution != "":
			misattributed++
		}
	}
	return failed, misattributed
}

// markdown renders the soak's figures.
func (r *soakResult) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := r.Options
	p("#### Soak: %d calls in a row\n\n", o.Calls)
	p("%d at a time through both paths, in turn: Twilio (the SIP double set up as cmd/phonesim: rings 1 s, hangs up after %s or when alone) "+
		"and Exotel (sipp playing make run's Exotel phone, hanging up after %s), each ended by the agent (the Go test agent leaves %s after the answer) "+
		"or by the phone; the agent leaves once the phone has. dialq's API and a worker with its bridge at cmd/api's and cmd/worker's settings; "+
		"a private livekit-server with make run's %d WebRTC ports (%d-%d), posting its webhooks to the API.\n\n",
		o.Concurrency, o.Talk, o.Talk, o.Talk/4, o.Ports, r.PortRange[0], r.PortRange[1])
	p("| path | ended by | calls | completed | of which ended_by as expected | other outcomes (status/ended_by/failure_reason) |\n|---|---|---:|---:|---:|---|\n")
	for k, kind := range soakKinds {
		n, completed, ok := 0, 0, 0
		other := map[string]int{}
		for _, c := range r.Calls {
			if c.Kind != k {
				continue
			}
			n++
			if c.Problem == "" {
				completed++
			}
			if c.Problem == "" && c.Attribution == "" {
				ok++
			} else {
				other[fmt.Sprintf("%s/%s/%s", cmp.Or(c.Status, "?"), cmp.Or(c.EndedBy, "-"), cmp.Or(c.FailureReason, "-"))]++
			}
		}
		var list []string
		for s, m := range other {
			list = append(list, fmt.Sprintf("%s × %d", s, m))
		}
		slices.Sort(list)
		p("| %s | %s | %d | %d | %d | %s |\n", kind.Service, kind.EndedBy, n, completed, ok, cmp.Or(strings.Join(list, ", "), "–"))
	}
	var places []time.Duration
	agentEnds := map[dialq.CallService][]time.Duration{}
	for _, c := range r.Calls {
		places = append(places, c.Place)
		if c.AgentLeftToEnd > 0 {
			svc := soakKinds[c.Kind].Service
			agentEnds[svc] = append(agentEnds[svc], c.AgentLeftToEnd)
		}
	}
	pl := spreadOf(places)
	bad, misattributed := r.failures()
	p("\n%d calls in %s (%.1f calls/min), **%d not completed**, %d completed but put down to the other party. POST /call/outbound answered in p50 %s ms, p90 %s ms, max %s ms. "+
		"livekit-server at most: %d rooms, %d participants, %d of its %d UDP ports. %s after the last call: %d rooms, %d participants, %d UDP ports; "+
		"SIP double phones still in a room: %d; sipp error log: %d bytes.\n\n",
		len(r.Calls), r.Elapsed.Round(time.Second), float64(len(r.Calls))/r.Elapsed.Minutes(), bad, misattributed, msf(pl.P50), msf(pl.P90), msf(pl.Max),
		r.MaxRooms, r.MaxParticipants, r.MaxUDPPorts, o.Ports, r.SettledIn.Round(time.Second), r.EndRooms, r.EndParticipants, r.EndUDPPorts,
		r.PhonesLeft, r.SippErrors)
	p("From the agent leaving to the call's `ended_at`, on the calls ended by the agent:")
	for _, svc := range []dialq.CallService{dialq.ServiceTwilio, dialq.ServiceExotel} {
		sp := spreadOf(agentEnds[svc])
		p(" %s p50 %s ms, p90 %s ms, max %s ms (%d calls);", svc, msf(sp.P50), msf(sp.P90), msf(sp.Max), sp.N)
	}
	p(" a call whose phone hung up first is not among them.\n\n")
	if bad+misattributed > 0 {
		var list []string
		for i, c := range r.Calls {
			if why := cmp.Or(c.Problem, c.Attribution); why != "" && len(list) < 10 {
				list = append(list, fmt.Sprintf("call %d %s: %s", i, c.CallID, why))
			}
		}
		p("First problems: %s\n\n", strings.Join(list, "; "))
	}
	return b.String()
}
