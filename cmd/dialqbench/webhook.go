package main

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/dialq/dialq/internal/dialq"
)

// targetHangupToWebhook is issue 8's: from the phone's hang-up to the
// call.completed webhook request leaving, p50, on the local stack.
const targetHangupToWebhook = 100 * time.Millisecond

// webhookOptions configure the hang-up → webhook benchmark.
type webhookOptions struct {
	Calls       int
	Concurrency int
	// Talk is how long each phone stays after answering before it hangs up.
	Talk time.Duration
}

// webhookStages name the parts of a call's hang-up → webhook time, each
// from the end of the one before.
var webhookStages = []string{
	"phone left → LiveKit's participant_left arrives",
	"→ the API records the end (ended_at)",
	"→ Postgres announces the delivery (NOTIFY, at commit)",
	"→ a worker starts the delivery's attempt",
	"→ the webhook request arrives at the receiver",
}

// webhookResult is the benchmark's outcome.
type webhookResult struct {
	Options webhookOptions `json:"options"`
	// Placed counts the calls answered; Measured the ones whose every
	// timestamp is known.
	Placed   int `json:"placed"`
	Measured int `json:"measured"`
	// Statuses counts the calls by status and ended_by ("completed/phone").
	Statuses map[string]int `json:"statuses"`
	// Received counts the webhooks received by type; Bad did not verify,
	// Repeated had a webhook-id seen before.
	Received map[string]int `json:"received"`
	Bad      int            `json:"bad"`
	Repeated int            `json:"repeated"`
	Errors   []string       `json:"errors,omitempty"`
	// Total is hang-up → webhook arrival; Stages split it (webhookStages).
	Total  spread   `json:"total"`
	Stages []spread `json:"stages"`
	// Samples are each measured call's stages, in ms.
	Samples [][]float64 `json:"samples"`
}

// spread is a latency's p50, p90 and max over N samples.
type spread struct {
	N             int
	P50, P90, Max time.Duration
}

func spreadOf(ds []time.Duration) spread {
	slices.Sort(ds)
	if len(ds) == 0 {
		return spread{}
	}
	return spread{N: len(ds), P50: percentile(ds, 50), P90: percentile(ds, 90), Max: ds[len(ds)-1]}
}

// runWebhook is the hang-up → webhook benchmark: calls through the Twilio
// path (the SIP double as LiveKit's SIP service) with the Go test agent in
// each room, each phone hanging up after its talk time; for each, the time
// from the phone leaving the room (the double's clock) to the tenant's
// call.completed webhook arriving at a receiver in this process, split by
// livekit-server's participant_left webhook arriving, the API recording
// the end and the worker starting the delivery's attempt.
func runWebhook(ctx context.Context, e env, o webhookOptions, logDir string) (*webhookResult, error) {
	if o.Calls <= 0 || o.Concurrency <= 0 || o.Talk <= 0 {
		return nil, fmt.Errorf("webhook: -webhook-calls, -webhook-concurrency and -webhook-talk must be positive")
	}
	rig, err := newCallRig(ctx, e, rigOptions{Name: "webhook",
		Double: doubleConfig{InviteDelay: 100 * time.Millisecond, HangUpAfter: o.Talk}}, logDir)
	if err != nil {
		return nil, err
	}
	defer rig.close()
	logf("webhook: API %s, private livekit-server %s, receiver %s", rig.apiURL, rig.lkURL, rig.recv.URL)
	// The bench listens beside the workers for Postgres's announcement of
	// each new delivery, which is sent when its transaction commits.
	notes, err := listenDeliveries(ctx, rig.f)
	if err != nil {
		return nil, err
	}
	defer notes.close()

	res := &webhookResult{Options: o, Statuses: map[string]int{}}
	var mu sync.Mutex
	type placed struct{ id, room, identity string }
	var calls []placed
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(res.Errors) < 20 {
			res.Errors = append(res.Errors, fmt.Sprintf(format, args...))
		}
	}
	inParallel(o.Calls, o.Concurrency, func(i int) {
		if ctx.Err() != nil {
			return
		}
		number := fmt.Sprintf("+1555020%04d", i)
		c, err := rig.place(ctx, rig.twilio, number, nil)
		if err != nil || c.Status != string(dialq.StatusAnswered) {
			fail("call %d: %v", i, err)
			return
		}
		mu.Lock()
		calls = append(calls, placed{c.CallID, c.RoomName, dialq.ParticipantIdentityFor(number)})
		mu.Unlock()
		// The phone hangs up after o.Talk: the next call starts once this
		// one's webhook came.
		if _, ok := rig.recv.wait(ctx, c.CallID, "call.completed", o.Talk+30*time.Second); !ok {
			fail("call %s: no call.completed webhook within %s of the answer", c.CallID, o.Talk+30*time.Second)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.Placed = len(calls)
	res.Received, res.Bad, res.Repeated = rig.recv.counts()

	// The last attempts are recorded just after their answer.
	rig.f.waitDeliveries(ctx, 10*time.Second)
	ends, err := rig.phoneEnds(ctx)
	if err != nil {
		return nil, fmt.Errorf("ask the SIP double: %w", err)
	}
	stored, err := webhookTimes(ctx, rig.f)
	if err != nil {
		return nil, err
	}
	var total []time.Duration
	stages := make([][]time.Duration, len(webhookStages))
	for _, c := range calls {
		s := stored[c.id]
		res.Statuses[s.status+"/"+s.endedBy]++
		end := ends[c.room]
		left, okLeft := rig.recv.phoneLeft(c.room, c.identity)
		arrived, okArrived := rig.recv.wait(ctx, c.id, "call.completed", 0)
		notified, okNotified := notes.at(s.deliveryID)
		if !end.Ended || !okLeft || !okArrived || !s.endedAt.Valid || !s.attemptAt.Valid || !okNotified {
			fail("call %s: not every time is known (phone ended %v, participant_left %v, webhook %v, ended_at %v, NOTIFY %v, attempt %v)",
				c.id, end.Ended, okLeft, okArrived, s.endedAt.Valid, okNotified, s.attemptAt.Valid)
			continue
		}
		ts := []time.Time{end.EndedAt, left, s.endedAt.Time, notified, s.attemptAt.Time, arrived}
		var row []float64
		for k := range webhookStages {
			d := ts[k+1].Sub(ts[k])
			stages[k] = append(stages[k], d)
			row = append(row, float64(d.Microseconds())/1000)
		}
		total = append(total, arrived.Sub(end.EndedAt))
		res.Samples = append(res.Samples, row)
	}
	res.Measured = len(total)
	res.Total = spreadOf(total)
	for _, st := range stages {
		res.Stages = append(res.Stages, spreadOf(st))
	}
	logf("webhook: %d calls placed, %d measured; hang-up → webhook p50 %s p90 %s max %s (target p50 ≤ %s)",
		res.Placed, res.Measured, ms(res.Total.P50), ms(res.Total.P90), ms(res.Total.Max), ms(targetHangupToWebhook))
	for k, name := range webhookStages {
		logf("  %-50s p50 %s p90 %s max %s", name, ms(res.Stages[k].P50), ms(res.Stages[k].P90), ms(res.Stages[k].Max))
	}
	if len(res.Errors) > 0 {
		logf("webhook: %d problems, first: %s", len(res.Errors), res.Errors[0])
	}
	if res.Measured == 0 {
		return res, fmt.Errorf("no call measured (logs: %s)", rig.logPath("*"))
	}
	return res, nil
}

// storedTimes is what Postgres holds of a call's end and its
// call.completed delivery.
type storedTimes struct {
	status, endedBy string
	endedAt         sql.NullTime
	deliveryID      int64        // of the call.completed delivery
	attemptAt       sql.NullTime // the delivery's first attempt
}

func webhookTimes(ctx context.Context, f *fixture) (map[string]storedTimes, error) {
	q := strings.ReplaceAll(`SELECT c.id::text, c.status, c.ended_by, c.ended_at, coalesce(d.id, 0),
		(SELECT min(a.at) FROM S.webhook_attempts a WHERE a.delivery_id = d.id)
		FROM S.calls c LEFT JOIN S.webhook_deliveries d ON d.call_id = c.id AND d.event_type = 'call.completed'`, "S.", f.Schema+".")
	rows, err := f.admin.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read the calls' times: %w", err)
	}
	defer rows.Close()
	m := map[string]storedTimes{}
	for rows.Next() {
		var id string
		var s storedTimes
		if err := rows.Scan(&id, &s.status, &s.endedBy, &s.endedAt, &s.deliveryID, &s.attemptAt); err != nil {
			return nil, err
		}
		m[id] = s
	}
	return m, rows.Err()
}

// markdown renders the benchmark's section of the figures.
func (w *webhookResult) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	o := w.Options
	p("#### Phone hang-up → `call.completed` webhook\n\n")
	p("%d calls through the Twilio path, %d at a time: dialq's API and a worker (child processes, cmd/api's and cmd/worker's settings), "+
		"a private livekit-server posting its webhooks to the API, the SIP double as LiveKit's SIP service (its phones join the rooms), "+
		"the Go test agent in each room, a webhook endpoint for every event on a receiver in the bench. Each phone hangs up %s after answering. "+
		"From the phone leaving the room (the double's clock) to the request of the call's `call.completed` webhook arriving at the receiver; "+
		"the stages are read from livekit-server's `participant_left` webhook arriving at the bench beside the API, the call's `ended_at`, "+
		"Postgres's NOTIFY of the delivery (heard by the bench as by the workers) and the delivery's first attempt.\n\n", o.Calls, o.Concurrency, o.Talk)
	p("| | calls | p50 ms | p90 ms | max ms |\n|---|---:|---:|---:|---:|\n")
	p("| **hang-up → webhook arrives** | %d | **%s** | %s | %s |\n", w.Total.N, msf(w.Total.P50), msf(w.Total.P90), msf(w.Total.Max))
	for k, name := range webhookStages {
		if k < len(w.Stages) {
			s := w.Stages[k]
			p("| %s | %d | %s | %s | %s |\n", name, s.N, msf(s.P50), msf(s.P90), msf(s.Max))
		}
	}
	var statuses []string
	for k, v := range w.Statuses {
		statuses = append(statuses, fmt.Sprintf("%s %d", k, v))
	}
	slices.Sort(statuses)
	p("\n**p50 %s ms** (target ≤ %s ms): **%s**. Calls answered %d of %d; ended: %s; webhooks received: %d (%d not verifying, %d repeated).\n\n",
		msf(w.Total.P50), msf(targetHangupToWebhook), verdict(w.Measured > 0 && w.Measured == o.Calls && w.Total.P50 <= targetHangupToWebhook),
		w.Placed, o.Calls, strings.Join(statuses, ", "), sum(w.Received), w.Bad, w.Repeated)
	if len(w.Errors) > 0 {
		p("Problems (%d): %s\n\n", len(w.Errors), strings.Join(w.Errors, "; "))
	}
	return b.String()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// deliveryNotes hears Postgres announce new webhook deliveries, as the
// workers' dispatchers do, and notes when each announcement arrived.
type deliveryNotes struct {
	l    *pq.Listener
	mu   sync.Mutex
	seen map[int64]time.Time
	done chan struct{}
}

func listenDeliveries(ctx context.Context, f *fixture) (*deliveryNotes, error) {
	channel, err := f.DB.WebhookChannel(ctx)
	if err != nil {
		return nil, err
	}
	n := &deliveryNotes{l: pq.NewListener(f.DSN, 100*time.Millisecond, time.Second, nil), seen: map[int64]time.Time{}, done: make(chan struct{})}
	if err := n.l.Listen(channel); err != nil {
		n.l.Close()
		return nil, fmt.Errorf("listen for deliveries: %w", err)
	}
	go func() {
		defer close(n.done)
		for note := range n.l.Notify {
			at := time.Now()
			if note == nil {
				continue
			}
			idText, _, _ := strings.Cut(note.Extra, ":")
			if id, err := strconv.ParseInt(idText, 10, 64); err == nil {
				n.mu.Lock()
				if _, ok := n.seen[id]; !ok {
					n.seen[id] = at
				}
				n.mu.Unlock()
			}
		}
	}()
	return n, nil
}

func (n *deliveryNotes) at(id int64) (time.Time, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t, ok := n.seen[id]
	return t, ok
}

func (n *deliveryNotes) close() {
	n.l.Close()
	<-n.done
}
