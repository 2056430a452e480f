package dialer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// These tests pin how Dialer.Attempt classifies each answer of the line,
// the rooms and the store into what asynq does next, and what it leaves on
// the call's row. The real LiveKit and Postgres are exercised elsewhere;
// here the fakes produce the answers those cannot be made to give.

// now is the dialer's clock in these tests.
var now = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

const ringTimeout = 30 * time.Second

// outcome is what asynq makes of Attempt's error.
type outcome int

const (
	taskDone  outcome = iota // nil: the task did its job
	taskRetry                // a plain error: asynq runs the task again
	taskSkip                 // wraps asynq.SkipRetry: the task is archived
)

func (o outcome) String() string {
	return [...]string{"done (nil)", "retry (plain error)", "skip (asynq.SkipRetry)"}[o]
}

func requireOutcome(t *testing.T, want outcome, err error) {
	t.Helper()
	switch want {
	case taskDone:
		require.NoError(t, err)
	case taskRetry:
		require.Error(t, err)
		require.False(t, errors.Is(err, asynq.SkipRetry), "want an error asynq retries, got one wrapping SkipRetry: %v", err)
	case taskSkip:
		require.Error(t, err)
		require.True(t, errors.Is(err, asynq.SkipRetry), "want an error wrapping asynq.SkipRetry, got: %v", err)
	}
}

// rig is a Dialer over fakes, with one call on the store, queued and never
// attempted.
type rig struct {
	j      *journal
	store  *fakeStore
	rooms  *fakeRooms
	line   *fakeLine
	dialer *dialer.Dialer
}

func newRig(t *testing.T, service dialq.CallService) *rig {
	j := &journal{}
	r := &rig{
		j: j,
		store: &fakeStore{j: j, fail: map[string]error{}, row: dialq.Call{
			ID: uuid.Must(uuid.NewV7()), TenantID: uuid.New(), AssistantID: uuid.New(),
			TrunkID: "ST_test", ToNumber: "+15550100000", Service: service,
			Prompt: "Say hello.", AgentName: "dialq-agent", LiveKitTrunkID: "ST_lk",
			Status: dialq.StatusQueued, CreatedAt: now.Add(-time.Second),
		}},
		rooms: &fakeRooms{j: j, fail: map[string]error{}, asked: map[string]dispatchArgs{}},
		line:  &fakeLine{j: j},
	}
	r.dialer = &dialer.Dialer{
		Store:       r.store,
		Rooms:       r.rooms,
		Lines:       map[dialq.CallService]dialq.Line{dialq.ServiceTwilio: r.line},
		Notify:      &fakeNotifier{j: j},
		Log:         testenv.Logger(t),
		Now:         func() time.Time { return now },
		RingTimeout: ringTimeout,
	}
	return r
}

func (r *rig) attempt(ctx context.Context, mayRetry bool) (*dialq.Call, error) {
	return r.dialer.Attempt(ctx, r.store.row.ID, mayRetry)
}

// requireRow checks the call as the store holds it and as Attempt returned
// it: both must say the same (HandleDialTask mirrors the returned call into
// Asynqmon).
func requireRow(t *testing.T, r *rig, c *dialq.Call, status dialq.CallStatus, reason dialq.FailureReason, sipCode int) {
	t.Helper()
	require.Equal(t, status, r.store.row.Status, "status on the row")
	require.Equal(t, reason, r.store.row.FailureReason, "failure reason on the row")
	require.Equal(t, sipCode, r.store.row.SIPStatusCode, "SIP code on the row")
	require.NotNil(t, c)
	require.Equal(t, status, c.Status, "status of the returned call")
	require.Equal(t, reason, c.FailureReason, "failure reason of the returned call")
}

func steps(prefix []string, then ...string) []string {
	return append(append([]string{}, prefix...), then...)
}

// firstDial is what a first attempt does up to the dial.
var firstDial = []string{"StartAttempt", "CreateRoom", "RecordRoom", "CreateDispatch", "RecordDispatch",
	"MarkDialing", "notify:dialing", "Dial"}

var (
	phone = dialq.Participant{SID: "PA_phone", Identity: "phone-+15550100000", SIPCallID: "SCL_1"}

	// notPlaced is a dial the SIP service refused before sending anything.
	notPlaced = &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonLiveKit,
		Message: "LiveKit's SIP service is over its CPU limit"}, Retry: true, NotPlaced: true}
	// ambiguous is a dial whose request may have left: the phone may ring.
	ambiguous = &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonLiveKit,
		Message: "the dial request timed out"}, Retry: true, Err: context.DeadlineExceeded}
	// livekitDown is LiveKit's API unreachable, before any dial.
	livekitDown = &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonLiveKit,
		Message: "LiveKit is unreachable"}, Retry: true, Err: errors.New("connection refused")}
)

func sipFailure(code int, status string) error {
	return &dialq.StepError{Failure: dialq.SIPFailure(code, status, "the SIP trunk")}
}

// TestAttemptClassifiesTheDial: each answer of the line to a first dial
// ends the task, retries it or archives it, and leaves the row to match.
func TestAttemptClassifiesTheDial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		dialed   dialq.Dialed
		dialErr  error
		mayRetry bool
		want     outcome
		then     []string // after firstDial
		status   dialq.CallStatus
		reason   dialq.FailureReason
		sipCode  int
	}{
		{name: "answered", dialed: dialq.Dialed{Answered: &phone}, mayRetry: true,
			want: taskDone, then: []string{"RecordAnswered", "notify:answered"}, status: dialq.StatusAnswered, sipCode: 200},
		{name: "the bridge took the call over", dialed: dialq.Dialed{}, mayRetry: true,
			want: taskDone, then: []string{"notify:dialing"}, status: dialq.StatusDialing},

		// The callee's answers: the task did its job.
		{name: "busy 486", dialErr: sipFailure(486, "Busy Here"), mayRetry: true,
			want: taskDone, then: []string{"RecordFailed", "notify:busy"}, status: dialq.StatusBusy, reason: dialq.ReasonBusy, sipCode: 486},
		{name: "no answer 480", dialErr: sipFailure(480, "Temporarily Unavailable"), mayRetry: true,
			want: taskDone, then: []string{"RecordFailed", "notify:no_answer"}, status: dialq.StatusNoAnswer, reason: dialq.ReasonNoAnswer, sipCode: 480},
		{name: "rejected 603", dialErr: sipFailure(603, "Decline"), mayRetry: true,
			want: taskDone, then: []string{"RecordFailed", "notify:rejected"}, status: dialq.StatusRejected, reason: dialq.ReasonRejected, sipCode: 603},
		{name: "unreachable 404", dialErr: sipFailure(404, "Not Found"), mayRetry: true,
			want: taskDone, then: []string{"RecordFailed", "notify:unreachable"}, status: dialq.StatusUnreachable, reason: dialq.ReasonUnreachable, sipCode: 404},

		// Final failures an operator should see: archived, although retries are left.
		{name: "carrier 503", dialErr: sipFailure(503, "Service Unavailable"), mayRetry: true,
			want: taskSkip, then: []string{"RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonCarrier, sipCode: 503},
		{name: "trunk refused 403", dialErr: sipFailure(403, "Forbidden"), mayRetry: true,
			want: taskSkip, then: []string{"RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonTrunk, sipCode: 403},
		{name: "trunk missing", mayRetry: true,
			dialErr: &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonTrunk, Message: "the LiveKit trunk ST_lk does not exist"}},
			want:    taskSkip, then: []string{"RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonTrunk},
		{name: "internal, not retryable", mayRetry: true,
			dialErr: &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonInternal, Message: "LiveKit refused the request"}},
			want:    taskSkip, then: []string{"RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonInternal},

		// Retryable, and provably never sent: back to queued to dial again.
		{name: "not placed, retries left", dialErr: notPlaced, mayRetry: true,
			want: taskRetry, then: []string{"RecordDialNotPlaced", "RecordAttemptError", "notify:queued"}, status: dialq.StatusQueued},
		{name: "not placed, last attempt", dialErr: notPlaced, mayRetry: false,
			want: taskSkip, then: []string{"RecordDialNotPlaced", "RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonLiveKit},

		// Retryable, but the dial may have left: it stays dialing, never queued.
		{name: "ambiguous, retries left", dialErr: ambiguous, mayRetry: true,
			want: taskRetry, then: []string{"RecordAttemptError", "notify:dialing"}, status: dialq.StatusDialing},
		{name: "ambiguous, last attempt", dialErr: ambiguous, mayRetry: false,
			want: taskSkip, then: []string{"RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonLiveKit},
		{name: "unclassified error", dialErr: errors.New("connection reset by peer"), mayRetry: true,
			want: taskRetry, then: []string{"RecordAttemptError", "notify:dialing"}, status: dialq.StatusDialing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, dialq.ServiceTwilio)
			r.line.dialed, r.line.dialErr = tt.dialed, tt.dialErr

			c, err := r.attempt(context.Background(), tt.mayRetry)
			requireOutcome(t, tt.want, err)
			require.Equal(t, steps(firstDial, tt.then...), r.j.take())
			requireRow(t, r, c, tt.status, tt.reason, tt.sipCode)
			require.Equal(t, 1, r.line.dials)
			require.Zero(t, r.line.recovers)
			require.Equal(t, dialq.StatusDialing, r.line.dialedStatus, "the call is marked dialing before the dial")
			require.Equal(t, &now, r.store.row.DialedAt)

			switch tt.status {
			case dialq.StatusAnswered:
				require.Equal(t, phone.SID, r.store.row.ParticipantSID)
				require.Equal(t, phone.SIPCallID, r.store.row.SIPCallID)
				require.Equal(t, &now, r.store.row.AnsweredAt)
			case dialq.StatusFailed:
				require.Len(t, r.store.failed, 1)
				require.Equal(t, r.store.failed[0].Message, r.store.row.LastError)
				require.Equal(t, &now, r.store.row.EndedAt)
			}
		})
	}
}

// TestAttemptFollowsAnInterruptedDial: a dial that may have left keeps the
// call dialing; the next attempt asks the line what became of it and never
// dials a second time, whatever it finds.
func TestAttemptFollowsAnInterruptedDial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		recovered  dialq.Dialed
		found      bool
		recoverErr error
		want       outcome
		then       []string // after StartAttempt
		status     dialq.CallStatus
		reason     dialq.FailureReason
		sipCode    int
		lastError  string // part of the row's last_error
	}{
		{name: "found answered", recovered: dialq.Dialed{Answered: &phone}, found: true,
			want: taskDone, then: []string{"Recover", "RecordAnswered", "notify:answered"}, status: dialq.StatusAnswered, sipCode: 200},
		{name: "found, the line follows it", recovered: dialq.Dialed{}, found: true,
			want: taskDone, then: []string{"Recover", "notify:dialing"}, status: dialq.StatusDialing},
		{name: "found, never answered", found: true,
			recoverErr: &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonNoAnswer, Message: "the phone left the room without answering"}},
			want:       taskDone, then: []string{"Recover", "RecordFailed", "notify:no_answer"}, status: dialq.StatusNoAnswer, reason: dialq.ReasonNoAnswer},
		{name: "no trace", found: false,
			want: taskSkip, then: []string{"Recover", "RecordFailed", "notify:failed"}, status: dialq.StatusFailed,
			reason: dialq.ReasonInternal, lastError: "interrupted"},
		{name: "LiveKit down while looking", recoverErr: livekitDown,
			want: taskRetry, then: []string{"Recover", "RecordAttemptError", "notify:dialing"}, status: dialq.StatusDialing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, dialq.ServiceTwilio)
			r.line.dialErr = ambiguous
			_, err := r.attempt(context.Background(), true)
			requireOutcome(t, taskRetry, err)
			require.Equal(t, steps(firstDial, "RecordAttemptError", "notify:dialing"), r.j.take(),
				"an ambiguous dial is not put back to queued")
			require.Equal(t, dialq.StatusDialing, r.store.row.Status)

			r.line.recovered, r.line.found, r.line.recoverErr = tt.recovered, tt.found, tt.recoverErr
			c, err := r.attempt(context.Background(), true)
			requireOutcome(t, tt.want, err)
			require.Equal(t, 2, c.Attempts)
			require.Equal(t, steps([]string{"StartAttempt"}, tt.then...), r.j.take())
			requireRow(t, r, c, tt.status, tt.reason, tt.sipCode)
			require.Contains(t, r.store.row.LastError, tt.lastError)
			require.Equal(t, 1, r.line.dials, "the number is never dialed twice")
			require.Equal(t, 1, r.line.recovers)
		})
	}
}

// TestAttemptRedialsACallPutBackToQueued: a call whose dial provably never
// left is queued again, and the next attempt dials it without asking the
// line for an earlier dial.
func TestAttemptRedialsACallPutBackToQueued(t *testing.T) {
	t.Parallel()
	r := newRig(t, dialq.ServiceTwilio)
	r.line.dialErr = notPlaced
	_, err := r.attempt(context.Background(), true)
	requireOutcome(t, taskRetry, err)
	r.j.take()
	require.Equal(t, dialq.StatusQueued, r.store.row.Status)

	r.line.dialed, r.line.dialErr = dialq.Dialed{Answered: &phone}, nil
	c, err := r.attempt(context.Background(), true)
	requireOutcome(t, taskDone, err)
	require.Equal(t, 2, c.Attempts)
	require.Equal(t, []string{"StartAttempt", "MarkDialing", "notify:dialing", "Dial", "RecordAnswered", "notify:answered"}, r.j.take(),
		"room and dispatch are reused; the dial is not recovered")
	requireRow(t, r, c, dialq.StatusAnswered, "", 200)
	require.Equal(t, 2, r.line.dials)
	require.Zero(t, r.line.recovers)
}

// TestAttemptWithoutALine: a call whose service has no line on this worker
// fails as bridge_unavailable for good, after its room and dispatch, and is
// never dialed.
func TestAttemptWithoutALine(t *testing.T) {
	t.Parallel()
	r := newRig(t, dialq.ServiceExotel) // the rig's only line is Twilio's
	c, err := r.attempt(context.Background(), true)
	requireOutcome(t, taskSkip, err)
	require.Equal(t, []string{"StartAttempt", "CreateRoom", "RecordRoom", "CreateDispatch", "RecordDispatch",
		"RecordFailed", "notify:failed"}, r.j.take())
	requireRow(t, r, c, dialq.StatusFailed, dialq.ReasonBridge, 0)
	require.Zero(t, r.line.dials)
	require.Zero(t, r.line.recovers)
}

// TestAttemptRingBudget: no dial starts unless the task's deadline leaves
// the ring time plus dialq.DialMargin; one that does not fails the call
// unrung, for good, naming both settings to change.
func TestAttemptRingBudget(t *testing.T) {
	t.Parallel()
	need := ringTimeout + dialq.DialMargin
	tests := []struct {
		name   string
		left   time.Duration // 0: no deadline
		want   outcome
		dials  int
		before int      // how many of firstDial's steps run
		then   []string // after them
		status dialq.CallStatus
		reason dialq.FailureReason
	}{
		{name: "a second short", left: need - time.Second, want: taskSkip, before: 1,
			then: []string{"RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonInternal},
		{name: "far too short", left: 10 * time.Second, want: taskSkip, before: 1,
			then: []string{"RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonInternal},
		{name: "enough", left: need + 10*time.Second, want: taskDone, dials: 1, before: 5,
			then: []string{"MarkDialing", "notify:dialing", "Dial", "RecordAnswered", "notify:answered"}, status: dialq.StatusAnswered},
		{name: "no deadline", want: taskDone, dials: 1, before: 5,
			then: []string{"MarkDialing", "notify:dialing", "Dial", "RecordAnswered", "notify:answered"}, status: dialq.StatusAnswered},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, dialq.ServiceTwilio)
			r.line.dialed = dialq.Dialed{Answered: &phone}
			ctx := context.Background()
			if tt.left > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.left)
				defer cancel()
			}

			c, err := r.attempt(ctx, true)
			requireOutcome(t, tt.want, err)
			require.Equal(t, steps(firstDial[:tt.before], tt.then...), r.j.take())
			require.Equal(t, tt.status, c.Status)
			require.Equal(t, tt.status, r.store.row.Status)
			require.Equal(t, tt.reason, r.store.row.FailureReason)
			require.Equal(t, tt.dials, r.line.dials)
			if tt.status == dialq.StatusFailed {
				require.Contains(t, r.store.row.LastError, "DIALQ_DIAL_TIMEOUT")
				require.Contains(t, r.store.row.LastError, "DIALQ_RING_TIMEOUT")
				require.Nil(t, r.store.row.DialedAt, "never marked dialing")
			}
		})
	}
}

// TestAttemptRoomAndDispatchErrors: a failure before the dial is retried
// while retries are left and fails the call for good after; the number is
// never dialed.
func TestAttemptRoomAndDispatchErrors(t *testing.T) {
	t.Parallel()
	refused := &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonLiveKit, Message: "LiveKit refused the agent name"}}
	tests := []struct {
		name     string
		fail     string // the method that fails
		err      error
		store    bool // the store's method fails, not the rooms'
		mayRetry bool
		want     outcome
		steps    []string
		status   dialq.CallStatus
		reason   dialq.FailureReason
	}{
		{name: "room, LiveKit down", fail: "CreateRoom", err: livekitDown, mayRetry: true, want: taskRetry,
			steps: []string{"StartAttempt", "CreateRoom", "RecordAttemptError", "notify:queued"}, status: dialq.StatusQueued},
		{name: "room, LiveKit down on the last attempt", fail: "CreateRoom", err: livekitDown, mayRetry: false, want: taskSkip,
			steps: []string{"StartAttempt", "CreateRoom", "RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonLiveKit},
		{name: "dispatch, LiveKit down", fail: "CreateDispatch", err: livekitDown, mayRetry: true, want: taskRetry,
			steps: []string{"StartAttempt", "CreateRoom", "RecordRoom", "CreateDispatch", "RecordAttemptError", "notify:queued"}, status: dialq.StatusQueued},
		{name: "dispatch refused", fail: "CreateDispatch", err: refused, mayRetry: true, want: taskSkip,
			steps: []string{"StartAttempt", "CreateRoom", "RecordRoom", "CreateDispatch", "RecordFailed", "notify:failed"}, status: dialq.StatusFailed, reason: dialq.ReasonLiveKit},
		{name: "room not recorded", fail: "RecordRoom", store: true, err: errors.New("connection refused"), mayRetry: true, want: taskRetry,
			steps: []string{"StartAttempt", "CreateRoom", "RecordRoom", "RecordAttemptError", "notify:queued"}, status: dialq.StatusQueued},
		{name: "dialing not recorded", fail: "MarkDialing", store: true, err: errors.New("connection refused"), mayRetry: true, want: taskRetry,
			steps: steps(firstDial[:6], "RecordAttemptError", "notify:queued"), status: dialq.StatusQueued},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, dialq.ServiceTwilio)
			if tt.store {
				r.store.fail[tt.fail] = tt.err
			} else {
				r.rooms.fail[tt.fail] = tt.err
			}
			c, err := r.attempt(context.Background(), tt.mayRetry)
			requireOutcome(t, tt.want, err)
			require.Equal(t, tt.steps, r.j.take())
			requireRow(t, r, c, tt.status, tt.reason, 0)
			require.Zero(t, r.line.dials)
		})
	}
}

// TestAttemptLooksForTheDispatchOfAnEarlierAttempt: a retry whose call has
// no recorded dispatch first looks for one an earlier attempt made, with the
// same room, agent and metadata, and makes one only if there is none; if it
// cannot look, it makes none.
func TestAttemptLooksForTheDispatchOfAnEarlierAttempt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing *dialq.Dispatch
		findErr  error
		want     outcome
		then     []string // after StartAttempt
		dispatch string   // the dispatch on the row
	}{
		{name: "found", existing: &dialq.Dispatch{ID: "AD_earlier", State: "JOINING"}, want: taskDone,
			then:     []string{"FindDispatch", "RecordDispatch", "MarkDialing", "notify:dialing", "Dial", "RecordAnswered", "notify:answered"},
			dispatch: "AD_earlier"},
		{name: "none", want: taskDone,
			then:     []string{"FindDispatch", "CreateDispatch", "RecordDispatch", "MarkDialing", "notify:dialing", "Dial", "RecordAnswered", "notify:answered"},
			dispatch: "AD_made1"},
		{name: "cannot look", findErr: livekitDown, want: taskRetry,
			then: []string{"FindDispatch", "RecordAttemptError", "notify:queued"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, dialq.ServiceTwilio)
			r.rooms.fail["CreateDispatch"] = livekitDown
			_, err := r.attempt(context.Background(), true)
			requireOutcome(t, taskRetry, err)
			require.Equal(t, []string{"StartAttempt", "CreateRoom", "RecordRoom", "CreateDispatch", "RecordAttemptError", "notify:queued"},
				r.j.take(), "a first attempt does not look for a dispatch")
			first := r.rooms.asked["CreateDispatch"]

			delete(r.rooms.fail, "CreateDispatch")
			r.rooms.existing = tt.existing
			r.rooms.fail["FindDispatch"] = tt.findErr
			r.line.dialed = dialq.Dialed{Answered: &phone}
			c, err := r.attempt(context.Background(), true)
			requireOutcome(t, tt.want, err)
			require.Equal(t, 2, c.Attempts)
			require.Equal(t, steps([]string{"StartAttempt"}, tt.then...), r.j.take())
			require.Equal(t, first, r.rooms.asked["FindDispatch"], "looks for what the first attempt asked for")
			require.Equal(t, tt.dispatch, r.store.row.DispatchID)
		})
	}
}

// TestAttemptOnAFinalCall: a call that already has an outcome is left as it
// is: nothing is created, dialed or announced.
func TestAttemptOnAFinalCall(t *testing.T) {
	t.Parallel()
	for _, status := range []dialq.CallStatus{dialq.StatusAnswered, dialq.StatusCompleted, dialq.StatusFailed} {
		t.Run(string(status), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, dialq.ServiceTwilio)
			r.store.row.Status = status
			r.store.row.Attempts = 1
			c, err := r.attempt(context.Background(), true)
			requireOutcome(t, taskDone, err)
			require.Equal(t, status, c.Status)
			require.Equal(t, []string{"StartAttempt"}, r.j.take())
			require.Zero(t, r.line.dials)
			require.Zero(t, r.line.recovers)
		})
	}
}

// TestAttemptStartErrors: a call that does not exist is archived; a store
// that cannot start the attempt is retried.
func TestAttemptStartErrors(t *testing.T) {
	t.Parallel()
	t.Run("unknown call", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		c, err := r.dialer.Attempt(context.Background(), uuid.New(), true)
		requireOutcome(t, taskSkip, err)
		require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(err))
		require.Nil(t, c)
		require.Equal(t, []string{"StartAttempt"}, r.j.take())
	})
	t.Run("unreadable row", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		r.store.fail["StartAttempt"] = fmt.Errorf("decode metadata: %w: number out of range", dialq.ErrUnreadableCall)
		c, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskSkip, err)
		require.Nil(t, c)
		require.Equal(t, []string{"StartAttempt", "RecordFailed", "notify:failed"}, r.j.take())
		require.Equal(t, dialq.StatusFailed, r.store.row.Status)
		require.Equal(t, dialq.ReasonInternal, r.store.row.FailureReason)
		require.Zero(t, r.line.dials)
	})
	t.Run("store down", func(t *testing.T) {
		t.Parallel()
		r := newRig(t, dialq.ServiceTwilio)
		r.store.fail["StartAttempt"] = errors.New("connection refused")
		c, err := r.attempt(context.Background(), true)
		requireOutcome(t, taskRetry, err)
		require.Nil(t, c)
		require.Equal(t, []string{"StartAttempt"}, r.j.take())
	})
}

// TestAttemptOutcomeNotRecorded: an outcome the store could not write is
// not reported as done: the task is retried so the row can get it.
func TestAttemptOutcomeNotRecorded(t *testing.T) {
	t.Parallel()
	r := newRig(t, dialq.ServiceTwilio)
	r.line.dialErr = sipFailure(486, "Busy Here")
	r.store.fail["RecordFailed"] = errors.New("connection refused")
	_, err := r.attempt(context.Background(), true)
	requireOutcome(t, taskRetry, err)
	require.Equal(t, steps(firstDial, "RecordFailed"), r.j.take())
	require.Equal(t, dialq.StatusDialing, r.store.row.Status)
}
