package webhooks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/webhooks"
)

// TestRequestCutByTheWorkerIsNotAnAttempt: a delivery whose request the
// worker itself cuts short (its task's context ends: a shutdown past its
// timeout) is not recorded as a failed attempt and is let go at once, so
// the requeued task sends it again, as the first attempt.
func TestRequestCutByTheWorkerIsNotAnAttempt(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigConfig{Guard: webhooks.Guard{AllowPrivate: true}, NoDispatcher: true})
	var requests atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if requests.Add(1) == 1 {
			select { // the first request outlasts the worker's patience
			case <-req.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	r.endpoint(rc.URL)
	call := r.newCall() // queued: its delivery is made, and no dispatcher sends it
	list := r.deliveries(call)
	require.Len(t, list, 1)
	id := list[0].ID

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	sent, err := r.deliver.Deliver(ctx, id)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.False(t, sent)
	d := r.deliveries(call)[0]
	require.Equal(t, dialq.DeliveryPending, d.Status)
	require.Zero(t, d.Attempts, "a request cut by the worker is not an attempt")
	require.Empty(t, d.Log)
	require.Empty(t, d.LastError)

	// Let go: sent again at once, not after the lease.
	sent, err = r.deliver.Deliver(context.Background(), id)
	require.NoError(t, err)
	require.True(t, sent)
	d = r.deliveries(call)[0]
	require.Equal(t, dialq.DeliveryDelivered, d.Status)
	require.Equal(t, 1, d.Attempts)
	require.Len(t, d.Log, 1)
	require.EqualValues(t, 2, requests.Load())
}
