package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/testkit/testclock"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/webhooks"
)

// TestReceiverDownTenMinutesGetsEveryEventInOrder: a receiver refuses
// connections for its first 4 minutes and answers 503 until minute 10,
// while three calls go through their events. On the default schedule (5 s,
// 30 s, 2 min, 10 min, ...) it then gets every event exactly once per
// webhook-id, each call's in order, a call's later events never before its
// first was answered 2xx, and a call made once it was back without waiting
// for the calls before it.
//
// The minutes are simulated: the store, the deliverer and the receiver read
// one test clock, and simQueue stands in for asynq (which schedules in
// whole seconds of the real clock) as the place the retries wait; the
// deliveries, their schedule, their order and the HTTP requests are the
// real ones. The clock moves only between steps, to the next thing due.
func TestReceiverDownTenMinutesGetsEveryEventInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2031, 3, 4, 9, 0, 0, 0, time.UTC)
	clock := testclock.New(start)
	db, dsn := testenv.Postgres(t, postgres.WithClock(clock.Now))
	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "acme"}))
	q := newSimQueue()
	d := webhooks.NewDeliverer(webhooks.DelivererConfig{Store: db, Enqueue: q,
		Client: webhooks.Guard{AllowPrivate: true}.Client(2 * time.Second), Log: testenv.Logger(t), Now: clock.Now})
	ch, err := db.WebhookChannel(ctx)
	require.NoError(t, err)
	disp := webhooks.NewDispatcher(webhooks.DispatcherConfig{DSN: dsn, Channel: ch, Enqueue: q, Log: testenv.Logger(t)})
	disp.Start()
	t.Cleanup(disp.Shutdown)
	<-disp.Listening()

	const refusingUntil, downUntil = 4 * time.Minute, 10 * time.Minute
	rc := newOutageReceiver(t, func() bool { return clock.Now().Sub(start) >= downUntil })
	_, err = webhooks.NewService(db, webhooks.Guard{AllowPrivate: true}).CreateEndpoint(ctx, tenant, rc.url, nil)
	require.NoError(t, err)

	// The calls: A and B while the receiver is down, C once it is back
	// (and before A's next retry, at 12 min 35 s).
	calls := map[string]uuid.UUID{"A": uuid.Must(uuid.NewV7()), "B": uuid.Must(uuid.NewV7()), "C": uuid.Must(uuid.NewV7())}
	want := map[uuid.UUID][]string{}
	type action struct {
		at   time.Duration
		call string
		to   dialq.CallStatus
	}
	script := []action{
		{0, "A", dialq.StatusQueued}, {2 * time.Second, "A", dialq.StatusDialing}, {4 * time.Second, "A", dialq.StatusRinging},
		{10 * time.Second, "A", dialq.StatusAnswered}, {3 * time.Minute, "A", dialq.StatusCompleted},
		{5 * time.Minute, "B", dialq.StatusQueued}, {5*time.Minute + 2*time.Second, "B", dialq.StatusDialing},
		{5*time.Minute + 8*time.Second, "B", dialq.StatusAnswered}, {8 * time.Minute, "B", dialq.StatusCompleted},
		{11 * time.Minute, "C", dialq.StatusQueued}, {11*time.Minute + time.Second, "C", dialq.StatusDialing},
		{11*time.Minute + 30*time.Second, "C", dialq.StatusNoAnswer},
	}
	record := func(a action) {
		t.Helper()
		id, now := calls[a.call], clock.Now()
		var err error
		switch a.to {
		case dialq.StatusQueued:
			_, err = db.CreateCall(ctx, &dialq.Call{ID: id, TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_t",
				ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: now})
		case dialq.StatusDialing:
			err = db.MarkDialing(ctx, id, "phone-+15550100000", now)
		case dialq.StatusRinging:
			err = db.RecordRinging(ctx, id, 180, "Ringing")
		case dialq.StatusAnswered:
			_, err = db.RecordAnswered(ctx, id, dialq.Participant{SID: "PA_" + a.call, Identity: "phone-+15550100000"}, now)
		case dialq.StatusCompleted:
			_, err = db.RecordEnded(ctx, id, dialq.Completed(dialq.EndedByPhone, "phone hung up"), now)
		default:
			_, err = db.RecordFailed(ctx, id, dialq.Failure{Reason: dialq.ReasonNoAnswer, Message: "no answer"}, now)
		}
		require.NoError(t, err)
		want[id] = append(want[id], "call."+string(a.to))
	}

	began := time.Now()
	made := 0
	for len(script) > 0 || q.len() > 0 {
		next, ok := q.earliest()
		if len(script) > 0 && (!ok || start.Add(script[0].at).Before(next)) {
			next = start.Add(script[0].at)
		}
		if now := clock.Now(); next.After(now) {
			clock.Advance(next.Sub(now))
		}
		now := clock.Now()
		if now.Sub(start) >= refusingUntil {
			rc.listen(t) // until then, connections are refused
		}
		for len(script) > 0 && !start.Add(script[0].at).After(now) {
			record(script[0])
			script = script[1:]
			made++ // one endpoint: one delivery per status event
			q.awaitNew(t, made)
		}
		var wg sync.WaitGroup
		for _, id := range q.due(now) {
			wg.Go(func() {
				_, err := d.Deliver(ctx, id)
				require.NoError(t, err)
			})
		}
		wg.Wait()
	}
	t.Logf("%s of deliveries simulated in %s", clock.Now().Sub(start), time.Since(began).Round(time.Millisecond))

	svc := webhooks.NewService(db, webhooks.Guard{AllowPrivate: true})
	logOf := map[uuid.UUID][]dialq.WebhookDelivery{}
	for name, id := range calls {
		list, err := svc.CallDeliveries(ctx, tenant, id)
		require.NoError(t, err)
		require.Len(t, list, len(want[id]), name)
		for i, dl := range list {
			require.Equal(t, dialq.DeliveryDelivered, dl.Status, "%s %s", name, dl.EventType)
			require.Equal(t, want[id][i], dl.EventType, "%s: the deliveries in the order of the events", name)
		}
		logOf[id] = list
	}

	// Exactly once per webhook-id, and per call in order: every request
	// for a call is of the event after the last one answered 2xx.
	hits := rc.all()
	delivered := map[string]int{}
	next := map[string]int{} // per call: the index of the event due next
	for _, h := range hits {
		id := uuid.MustParse(h.event.Data["call_id"].(string))
		i := next[h.event.Data["call_id"].(string)]
		require.Less(t, i, len(want[id]), "a request after the call's last event: %s", h.event.Type)
		require.Equal(t, want[id][i], h.event.Type, "call %s: %s before %s was delivered", id, h.event.Type, want[id][i])
		require.Equal(t, strings.TrimPrefix(h.event.Type, "call."), h.event.Data["status"], "the call as it was then")
		if h.answer/100 == 2 {
			delivered[h.webhookID]++
			next[h.event.Data["call_id"].(string)]++
		}
	}
	for name, id := range calls {
		require.Equal(t, len(want[id]), next[id.String()], "%s: every event delivered", name)
		for _, dl := range logOf[id] {
			require.Equal(t, 1, delivered[dl.WebhookID], "%s %s: delivered once", name, dl.EventType)
		}
	}

	// The first event of A and of B took the schedule: refused connections
	// (A) and 503s (B) until the receiver was back, then a 2xx. The events
	// after them went at once, one attempt each.
	requireAttempts := func(name string, at time.Duration, failures int, failure string) {
		t.Helper()
		list := logOf[calls[name]]
		log := list[0].Log
		require.Len(t, log, failures+1, "%s: attempts of %s", name, list[0].EventType)
		for i, a := range log {
			wantAt := at
			for _, b := range webhooks.DefaultBackoff[:i] {
				wantAt += b
			}
			require.InDelta(t, wantAt.Seconds(), a.At.Sub(start).Seconds(), 1, "%s: attempt %d", name, i+1)
			if i < failures {
				require.Contains(t, a.Error, failure, "%s: attempt %d", name, i+1)
			} else {
				require.Empty(t, a.Error)
				require.Equal(t, http.StatusNoContent, a.StatusCode)
			}
		}
		for _, dl := range list[1:] {
			require.Len(t, dl.Log, 1, "%s %s went once its first event was delivered", name, dl.EventType)
			require.False(t, dl.Log[0].At.Before(log[len(log)-1].At), "%s %s", name, dl.EventType)
		}
	}
	requireAttempts("A", 0, 4, "connection refused")   // 0, 5 s, 35 s, 2 min 35 s; 12 min 35 s
	requireAttempts("B", 5*time.Minute, 4, "HTTP 503") // 5 min ... 7 min 35 s; 17 min 35 s
	cFirst := logOf[calls["C"]][0].Log
	require.Len(t, cFirst, 1)
	require.Equal(t, 11*time.Minute, cFirst[0].At.Sub(start), "C waited for neither A nor B")
	require.Less(t, time.Since(began), 20*time.Second)
}

// simQueue is the queue of a simulated worker: the attempts the deliverer
// and the dispatcher schedule wait here until the test's clock reaches
// them. It implements webhooks.Enqueuer.
type simQueue struct {
	mu    sync.Mutex
	tasks []simTask
	news  int           // "new" enqueues so far: one per delivery made
	woke  chan struct{} // closed and replaced on each enqueue
}

type simTask struct {
	id int64
	at time.Time
}

func newSimQueue() *simQueue { return &simQueue{woke: make(chan struct{})} }

// EnqueueDelivery implements webhooks.Enqueuer.
func (q *simQueue) EnqueueDelivery(_ context.Context, id int64, kind string, _ int64, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.tasks = append(q.tasks, simTask{id, at})
	if kind == "new" {
		q.news++
	}
	close(q.woke)
	q.woke = make(chan struct{})
	return nil
}

func (q *simQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.tasks)
}

// earliest is when the first task is due.
func (q *simQueue) earliest() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.tasks) == 0 {
		return time.Time{}, false
	}
	return slices.MinFunc(q.tasks, func(a, b simTask) int { return a.at.Compare(b.at) }).at, true
}

// due takes the tasks due by now, earliest first.
func (q *simQueue) due(now time.Time) []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	sort.SliceStable(q.tasks, func(i, j int) bool { return q.tasks[i].at.Before(q.tasks[j].at) })
	var ids []int64
	for len(q.tasks) > 0 && !q.tasks[0].at.After(now) {
		ids = append(ids, q.tasks[0].id)
		q.tasks = q.tasks[1:]
	}
	return ids
}

// awaitNew waits until the dispatcher has enqueued n new deliveries: the
// notifications of the events recorded so far have all come.
func (q *simQueue) awaitNew(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		q.mu.Lock()
		got, woke := q.news, q.woke
		q.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-woke:
		case <-deadline:
			t.Fatalf("the dispatcher enqueued %d new deliveries in 5 s, want %d", got, n)
		}
	}
}

// outageReceiver is a webhook endpoint at a fixed loopback address that
// nothing listens on until listen; then it answers 503 until back says it
// is back, and 204 after.
type outageReceiver struct {
	url  string
	addr string
	back func() bool
	srv  *http.Server

	mu   sync.Mutex
	hits []outageHit
}

type outageHit struct {
	webhookID string
	event     event
	answer    int
}

func newOutageReceiver(t *testing.T, back func() bool) *outageReceiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // refused until listen
	rc := &outageReceiver{url: "http://" + addr + "/hooks", addr: addr, back: back}
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 5 * time.Second}
	t.Cleanup(func() { rc.srv.Close() })
	return rc
}

// listen starts answering on the receiver's address, once.
func (rc *outageReceiver) listen(t *testing.T) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.srv.Addr != "" {
		return
	}
	rc.srv.Addr = rc.addr
	l, err := net.Listen("tcp", rc.addr)
	require.NoError(t, err, "the receiver's port was taken meanwhile")
	go func() {
		if err := rc.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("receiver: %v", err)
		}
	}()
}

func (rc *outageReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := outageHit{webhookID: r.Header.Get("webhook-id"), answer: http.StatusServiceUnavailable}
	_ = json.Unmarshal(body, &h.event)
	if rc.back() {
		h.answer = http.StatusNoContent
	}
	rc.mu.Lock()
	rc.hits = append(rc.hits, h)
	rc.mu.Unlock()
	w.WriteHeader(h.answer)
}

func (rc *outageReceiver) all() []outageHit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.hits)
}
