package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/limiter"
	"github.com/dialq/dialq/internal/testkit/sipdouble"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestWorkerKilledWhileRingingNeverDialsTwice kills the worker process with
// SIGKILL while the phone rings, lets asynq hand the task to a new worker
// process once the dead one's lease expires, and checks the call got one
// room, one dispatch and one dial: the retry sees the call was mid-dial and
// the phone gone, and fails the call rather than ring the person again.
// Its trunk takes one call at a time: the retry keeps the dead worker's
// slot (never a second), and the call's end frees it.
func TestWorkerKilledWhileRingingNeverDialsTwice(t *testing.T) {
	t.Parallel()
	// The task timeout (the API's) outlasts the workers' 5 minute ring.
	s := newStack(t, stackOptions{noWorker: true, dialTimeout: 6 * time.Minute,
		script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 10 * time.Minute})})
	ctx := context.Background()
	s.limitTrunk(dialq.CallLimits{MaxConcurrentCalls: 1})
	lim := limiter.New(testenv.Redis(t), limiter.Config{Prefix: s.limits.Prefix})
	key := dialq.TrunkLimitKey(s.twilio)

	ring := []string{"DIALQ_RING_TIMEOUT=5m", "DIALQ_DIAL_TIMEOUT=6m"}
	w1 := s.startWorkerProc(t, ring...)
	r := s.do(http.MethodPost, "/call/outbound?wait=0", s.body("+15550200000", "twilio", s.twilio))
	require.Equal(t, http.StatusAccepted, r.Status, r.Raw)
	callID := r.Body["data"].(map[string]any)["call_id"].(string)

	waitFor(t, 30*time.Second, "phone ringing", func() bool {
		calls := s.sip.Calls()
		return len(calls) == 1 && calls[0].CallStatus == sipdouble.CallStatusRinging
	})
	require.Equal(t, dialq.StatusDialing, s.call(callID).Status)
	require.NoError(t, w1.cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	<-w1.exited

	// asynq recovers a task 30 s after its lease (30 s) expired; a new
	// worker looks for such tasks as it starts.
	time.Sleep(time.Until(killed.Add(62 * time.Second)))
	s.startWorkerProc(t, ring...)
	var c *dialq.Call
	waitFor(t, 60*time.Second, "call outcome after recovery", func() bool {
		c = s.call(callID)
		return c.Status.Final()
	})

	require.Equal(t, dialq.StatusFailed, c.Status)
	require.Equal(t, dialq.ReasonInternal, c.FailureReason)
	require.Contains(t, c.LastError, "not dialing again")
	require.Equal(t, 2, c.Attempts)
	require.Equal(t, 1, s.dialsTo("+15550200000"), "dialed exactly once")
	// The room closed when the phone left, so count steps on the timeline.
	events, err := s.db.Events(ctx, c.ID)
	require.NoError(t, err)
	count := map[string]int{}
	for _, e := range events {
		count[e.Kind]++
	}
	require.Equal(t, map[string]int{"queued": 1, "attempt": 2, "room_created": 1, "agent_dispatched": 1, "dialing": 1, "failed": 1}, count)
	peak, err := lim.Peak(ctx, key)
	require.NoError(t, err)
	require.Equal(t, 1, peak, "the retry kept the dead worker's slot")
	waitFor(t, 5*time.Second, "the call's slot freed", func() bool {
		n, err := lim.Holders(ctx, key)
		return err == nil && n == 0
	})
}

// TestRetryAfterCrashBetweenStepsSkipsDoneSteps makes the first attempt die
// right after a side effect and before it is recorded, and checks the retry
// reuses what exists: one room, one dispatch, one dial.
func TestRetryAfterCrashBetweenStepsSkipsDoneSteps(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"room", "dispatch", "dial"} {
		t.Run("crash after "+point, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, stackOptions{noWorker: true,
				script: sipdouble.Always(sipdouble.Outcome{Code: 200, RingFor: 500 * time.Millisecond})})
			s.startWorkerWith(t, func(lk dialq.LiveKit) dialq.LiveKit { return &crashOnce{LiveKit: lk, point: point} })

			r := s.do(http.MethodPost, "/call/outbound", s.body("+15550200000", "twilio", s.twilio))
			require.Equal(t, http.StatusOK, r.Status, r.Raw)
			c := s.call(r.Body["data"].(map[string]any)["call_id"].(string))
			require.Equal(t, dialq.StatusAnswered, c.Status)
			require.Equal(t, 2, c.Attempts)
			require.Equal(t, 1, s.dialsTo("+15550200000"))
			ds := s.agentDispatches(c.RoomName)
			require.Len(t, ds, 1)
			require.Equal(t, ds[0].Id, c.DispatchID)
		})
	}
}

// crashOnce does the real side effect of one step and then fails as if the
// process had died before recording it.
type crashOnce struct {
	dialq.LiveKit
	point string
	once  sync.Once
}

var errCrash = errors.New("simulated crash after the side effect")

func (c *crashOnce) crash(point string) (crashed bool) {
	if point != c.point {
		return false
	}
	c.once.Do(func() { crashed = true })
	return crashed
}

func (c *crashOnce) CreateRoom(ctx context.Context, name, md string) error {
	if err := c.LiveKit.CreateRoom(ctx, name, md); err != nil {
		return err
	}
	if c.crash("room") {
		return errCrash
	}
	return nil
}

func (c *crashOnce) CreateDispatch(ctx context.Context, room, agent, md string) (dialq.Dispatch, error) {
	d, err := c.LiveKit.CreateDispatch(ctx, room, agent, md)
	if err == nil && c.crash("dispatch") {
		return dialq.Dispatch{}, errCrash
	}
	return d, err
}

func (c *crashOnce) DialSIP(ctx context.Context, r dialq.DialRequest) (dialq.Participant, error) {
	if c.crash("dial") {
		// The dial goes out and outlives the attempt that sent it.
		go c.LiveKit.DialSIP(context.WithoutCancel(ctx), r)
		time.Sleep(200 * time.Millisecond) // the INVITE is out and the phone is in the room
		return dialq.Participant{}, errCrash
	}
	return c.LiveKit.DialSIP(ctx, r)
}

// buildWorker builds cmd/worker once per test binary.
func buildWorker(t *testing.T) string { return buildCmd(t, "worker") }

// built holds each command buildCmd built: its *builtCmd.
var built sync.Map

type builtCmd struct {
	once sync.Once
	path string
	err  error
}

// buildCmd builds cmd/<name> once per test binary and returns its path.
func buildCmd(t *testing.T, name string) string {
	t.Helper()
	v, _ := built.LoadOrStore(name, &builtCmd{})
	b := v.(*builtCmd)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "dialq-e2e-")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, name)
		if out, err := exec.Command("go", "build", "-o", b.path, "github.com/dialq/dialq/cmd/"+name).CombinedOutput(); err != nil {
			b.err = errors.New(string(out))
		}
	})
	require.NoError(t, b.err)
	return b.path
}
