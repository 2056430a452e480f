package webhooks_test

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/webhooks"
)

// TestDeliveryIsSignedAndSnapshotsTheCall: a status change reaches the
// endpoint as Standard Webhooks' own verifier accepts it, with the call as
// it was at that change, and the request leaves within 100 ms of the
// commit (the median of 20 changes).
func TestDeliveryIsSignedAndSnapshotsTheCall(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true}})
	rc := newReceiver(t, ok)
	ep := r.endpoint(rc.URL+"/hooks", "call.dialing")
	require.True(t, strings.HasPrefix(ep.Secret, "whsec_"))
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	require.NoError(t, err)

	var latencies []time.Duration
	for range 20 {
		call := r.newCall()
		start := time.Now()
		r.move(call, dialq.StatusDialing)
		h := <-rc.got
		latencies = append(latencies, h.At.Sub(start))

		require.NoError(t, wh.Verify(h.Body, h.Header), "the library's verifier")
		require.Equal(t, "application/json", h.Header.Get("Content-Type"))
		require.Contains(t, h.Header.Get("User-Agent"), "dialq")
		require.True(t, strings.HasPrefix(h.Header.Get("webhook-id"), "msg_"))
		require.Equal(t, "call.dialing", h.Event.Type)
		_, err := time.Parse(time.RFC3339, h.Event.Timestamp)
		require.NoError(t, err)
		require.Equal(t, call.String(), h.Event.Data["call_id"])
		require.Equal(t, "dialing", h.Event.Data["status"])
		require.Equal(t, map[string]any{"name": "Jo"}, h.Event.Data["metadata"])
		require.Contains(t, h.Event.Data, "report")
		require.Nil(t, h.Event.Data["report"])
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	p50 := latencies[len(latencies)/2]
	t.Logf("status change to request: p50 %v, max %v", p50, latencies[len(latencies)-1])
	require.LessOrEqual(t, p50, 100*time.Millisecond)

	// A body altered on the way fails the same verifier.
	h := rc.all()[0]
	require.Error(t, wh.Verify(append([]byte(" "), h.Body...), h.Header))
}

// TestFailingReceiverGetsEveryEventInOrder: a receiver that fails its
// first requests still gets every event of the call, in order, each
// retried with the same webhook-id, and never an event before the one
// before it was answered 2xx.
func TestFailingReceiverGetsEveryEventInOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true},
		Backoff: []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond, 80 * time.Millisecond}})
	rc := newReceiver(t, func(n int, _ hit) int {
		if n%3 != 2 { // two failures before each success
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	r.endpoint(rc.URL)
	call := r.newCall() // queued: the first event
	order := []dialq.CallStatus{dialq.StatusQueued, dialq.StatusDialing, dialq.StatusRinging, dialq.StatusAnswered, dialq.StatusCompleted}
	for _, s := range order[1:] {
		r.move(call, s)
	}
	list := r.waitDeliveries(call, len(order))

	hits := rc.all()
	require.Len(t, hits, 3*len(order))
	for i, s := range order {
		tries := hits[3*i : 3*i+3]
		for _, h := range tries {
			require.Equal(t, "call."+string(s), h.Event.Type, "event %d arrives after %d was delivered", i, i-1)
			require.Equal(t, list[i].WebhookID, h.Header.Get("webhook-id"), "the same webhook-id on every retry")
			require.Equal(t, string(s), h.Event.Data["status"], "the call as it was at that change")
		}
		require.Equal(t, dialq.DeliveryDelivered, list[i].Status)
		require.Len(t, list[i].Log, 3)
		require.Equal(t, []int{503, 503, 200}, []int{list[i].Log[0].StatusCode, list[i].Log[1].StatusCode, list[i].Log[2].StatusCode})
		require.Equal(t, "HTTP 503", list[i].Log[0].Error)
	}
}

// TestGivenUpDeliveryIsRedelivered: a delivery whose every attempt failed
// is given up (failed) without holding back the call's next event; a
// redelivery sends it again with the same webhook-id and body.
func TestGivenUpDeliveryIsRedelivered(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true},
		Backoff: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}})
	down := true
	rc := newReceiver(t, func(_ int, h hit) int {
		if down && h.Event.Type == "call.dialing" {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	ep := r.endpoint(rc.URL, "call.dialing", "call.failed")
	call := r.newCall()
	r.move(call, dialq.StatusDialing)
	r.move(call, dialq.StatusFailed)
	list := r.waitDeliveries(call, 2)
	require.Equal(t, dialq.DeliveryFailed, list[0].Status)
	require.Len(t, list[0].Log, 3, "one attempt and two retries")
	require.Equal(t, dialq.DeliveryDelivered, list[1].Status, "the next event went once the first was given up")
	before := rc.all()
	require.Len(t, before, 4)

	rc.mu.Lock()
	down = false
	rc.mu.Unlock()
	ids, err := r.svc.Redeliver(context.Background(), r.tenant, ep.ID, webhooks.Redelivery{CallID: call})
	require.NoError(t, err)
	require.Equal(t, []int64{list[0].ID}, ids)
	list = r.waitDeliveries(call, 2)
	require.Equal(t, dialq.DeliveryDelivered, list[0].Status)
	require.Len(t, list[0].Log, 4, "the log keeps the attempts before the redelivery")
	again := rc.all()[len(before)]
	require.Equal(t, before[0].Header.Get("webhook-id"), again.Header.Get("webhook-id"))
	require.Equal(t, before[0].Body, again.Body)
}

// TestReportEventThroughTheOutbox: an event that is not a status change
// goes to the endpoints that take it, with report null until the report
// feature fills it in.
func TestReportEventThroughTheOutbox(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true}})
	rc := newReceiver(t, ok)
	r.endpoint(rc.URL, dialq.EventCallReport)
	other := newReceiver(t, ok)
	r.endpoint(other.URL, "call.completed")
	call := r.newCall()
	out := &webhooks.Outbox{Store: r.db}
	n, err := out.Add(context.Background(), call, dialq.EventCallReport)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the endpoint that takes call.report")
	h := <-rc.got
	require.Equal(t, dialq.EventCallReport, h.Event.Type)
	require.Equal(t, call.String(), h.Event.Data["call_id"])
	_, err = out.Add(context.Background(), call, "call.nope")
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err))
	require.Empty(t, other.all())
}

// TestSweeperSendsWhatNoNotificationAnnounced: with no dispatcher
// listening, the sweeper finds the overdue delivery and it is sent.
func TestSweeperSendsWhatNoNotificationAnnounced(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true}, NoDispatcher: true})
	rc := newReceiver(t, ok)
	r.endpoint(rc.URL, "call.dialing")
	call := r.newCall()
	r.move(call, dialq.StatusDialing)
	sw := webhooks.NewSweeper(webhooks.SweeperConfig{Store: r.db, Enqueue: r.enqueue, Age: time.Minute,
		Now: func() time.Time { return time.Now().Add(2 * time.Minute) }})
	n, err := sw.Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	h := <-rc.got
	require.Equal(t, "call.dialing", h.Event.Type)
	list := r.waitDeliveries(call, 1)
	require.Equal(t, dialq.DeliveryDelivered, list[0].Status)
	n, err = sw.Sweep(context.Background())
	require.NoError(t, err)
	require.Zero(t, n, "a delivered one is not swept again")
}

// TestRedirectIsNotFollowed: a 3xx is the answer and a failure; the
// target of the redirect gets nothing.
func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true}, Backoff: []time.Duration{time.Hour}})
	target := newReceiver(t, ok)
	rc := newReceiver(t, func(int, hit) int { return http.StatusFound })
	rc.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rc.got <- hit{At: time.Now()}
		http.Redirect(w, req, target.URL, http.StatusFound)
	})
	r.endpoint(rc.URL, "call.dialing")
	call := r.newCall()
	r.move(call, dialq.StatusDialing)
	<-rc.got
	r.waitFirstAttempt(call)
	d := r.deliveries(call)[0]
	require.Equal(t, dialq.DeliveryPending, d.Status, "retried later")
	require.Equal(t, http.StatusFound, d.Log[0].StatusCode)
	require.Contains(t, d.Log[0].Error, "redirect")
	require.Empty(t, target.all())
}

// TestLoopbackRefusedAtDelivery: an endpoint whose address is loopback
// (stored before the rule, or a name that resolves there later) is refused
// when the delivery connects, unless private addresses are allowed.
func TestLoopbackRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{}, Backoff: []time.Duration{time.Hour}})
	rc := newReceiver(t, ok)
	// localhost resolves to 127.0.0.1 only at the dial: the service of the
	// rig allows loopback, so it is stored.
	url := strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)
	r.endpoint(url, "call.dialing")
	call := r.newCall()
	r.move(call, dialq.StatusDialing)
	r.waitFirstAttempt(call)
	d := r.deliveries(call)[0]
	require.Zero(t, d.Log[0].StatusCode)
	require.Contains(t, d.Log[0].Error, "refused")
	require.Empty(t, rc.all(), "no request reached the receiver")
}

// TestLoopbackRefusedAtCreate: by default an endpoint may not point at a
// loopback, private or link-local address, by IP or by a name.
func TestLoopbackRefusedAtCreate(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{NoDispatcher: true})
	strict := webhooks.NewService(r.db, webhooks.Guard{})
	for _, url := range []string{"http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/", "http://10.1.2.3/",
		"http://169.254.169.254/latest", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "https://192.168.1.1/"} {
		_, err := strict.CreateEndpoint(context.Background(), r.tenant, url, nil)
		require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err), url)
		require.Equal(t, "url", dialq.ErrorFields(err)[0].Field, url)
	}
	for _, url := range []string{"ftp://example.com/", "http://user:pw@example.com/", "/relative", "http:///nohost", ""} {
		_, err := strict.CreateEndpoint(context.Background(), r.tenant, url, nil)
		require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err), url)
		require.Equal(t, "url", dialq.ErrorFields(err)[0].Field, url)
	}
	_, err := strict.CreateEndpoint(context.Background(), r.tenant, "https://93.184.215.14/hook", nil)
	require.NoError(t, err, "a public address")
	_, err = strict.CreateEndpoint(context.Background(), r.tenant, "https://93.184.215.14/hook", []string{"call.completed", "call.bogus"})
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err))
	require.Equal(t, "events[1]", dialq.ErrorFields(err)[0].Field)
	list, err := strict.Endpoints(context.Background(), r.tenant)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.True(t, slices.Equal(dialq.WebhookEvents(), list[0].Events), "every event by default")
}

// TestDeletedEndpointGivesUpItsDeliveries: deleting an endpoint gives up
// its pending deliveries, takes no new events, and a redelivery of it is
// not found.
func TestDeletedEndpointGivesUpItsDeliveries(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true}, Backoff: []time.Duration{time.Hour}})
	rc := newReceiver(t, func(int, hit) int { return http.StatusBadGateway })
	ep := r.endpoint(rc.URL, "call.dialing", "call.answered")
	call := r.newCall()
	r.move(call, dialq.StatusDialing)
	<-rc.got
	r.waitFirstAttempt(call)
	require.Equal(t, dialq.DeliveryPending, r.deliveries(call)[0].Status, "a retry in an hour")

	require.NoError(t, r.svc.DeleteEndpoint(context.Background(), r.tenant, ep.ID))
	d := r.deliveries(call)[0]
	require.Equal(t, dialq.DeliveryFailed, d.Status)
	require.Equal(t, "endpoint deleted", d.LastError)
	r.move(call, dialq.StatusAnswered)
	require.Len(t, r.deliveries(call), 1, "no new delivery to a deleted endpoint")
	_, err := r.svc.Redeliver(context.Background(), r.tenant, ep.ID, webhooks.Redelivery{})
	require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(err))
	sent, err := r.deliver.Deliver(context.Background(), d.ID)
	require.NoError(t, err)
	require.False(t, sent)
}

// TestCallQueuedComesFirst: a call's creation is its first status event,
// so every endpoint gets a signed call.queued before call.dialing and the
// rest, in order; the repeat of an idempotent request makes no second one,
// and neither does a request its key refuses.
func TestCallQueuedComesFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true}})
	rc := newReceiver(t, ok)
	ep := r.endpoint(rc.URL)
	wh, err := standardwebhooks.NewWebhook(ep.Secret)
	require.NoError(t, err)

	created := time.Now().UTC().Truncate(time.Microsecond)
	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: r.tenant, AssistantID: uuid.New(), TrunkID: "ST_t",
		ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, CreatedAt: created,
		IdempotencyKey: "order-42", RequestHash: []byte{1}}
	_, err = r.db.CreateCall(ctx, c)
	require.NoError(t, err)
	again := *c
	again.ID = uuid.Must(uuid.NewV7())
	got, err := r.db.CreateCall(ctx, &again)
	require.NoError(t, err)
	require.Equal(t, c.ID, got.ID, "the repeat is the call already made")
	other := again
	other.RequestHash = []byte{2}
	_, err = r.db.CreateCall(ctx, &other)
	require.Equal(t, dialq.ECONFLICT, dialq.ErrorCode(err))

	order := []dialq.CallStatus{dialq.StatusQueued, dialq.StatusDialing, dialq.StatusRinging, dialq.StatusAnswered, dialq.StatusCompleted}
	for _, s := range order[1:] {
		r.move(c.ID, s)
	}
	list := r.waitDeliveries(c.ID, len(order))
	hits := rc.all()
	require.Len(t, hits, len(order), "one request per event: no second call.queued")
	for i, s := range order {
		h := hits[i]
		require.Equal(t, "call."+string(s), h.Event.Type)
		require.Equal(t, string(s), h.Event.Data["status"])
		require.Equal(t, list[i].WebhookID, h.Header.Get("webhook-id"))
		require.NoError(t, wh.Verify(h.Body, h.Header), "call.%s is signed", s)
	}
	q := hits[0].Event
	require.Equal(t, c.ID.String(), q.Data["call_id"])
	require.Equal(t, created.Format("2006-01-02T15:04:05.000000Z"), q.Timestamp, "the event is the creation")
	require.Nil(t, q.Data["answered_at"])
	require.Nil(t, q.Data["ended_at"])

	ev, err := r.db.Events(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "queued", ev[0].Kind)
	require.Equal(t, dialq.StatusQueued, ev[0].Status)
	require.Equal(t, created, ev[0].At.UTC())
	n := 0
	for _, e := range ev {
		if e.Status == dialq.StatusQueued {
			n++
		}
	}
	require.Equal(t, 1, n, "one queued event")
}
