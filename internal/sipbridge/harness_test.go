package sipbridge_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/sipbridge"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
	"github.com/dialq/dialq/internal/testkit/testenv"
	"github.com/dialq/dialq/internal/testkit/testroom"
)

// waitFor is how long a test waits for something the row or the room
// should show.
const waitFor = 15 * time.Second

const (
	callee   = "+919876543210"
	dialled  = "09876543210" // callee as dialq dials it through Exotel
	callerID = "08044319240"
	// otherCallerID is the Exotel trunk's second number, which a call may
	// ask for as its caller_id.
	otherCallerID = "08044319241"
	// The trunk's digest credentials; the scenarios that challenge check them.
	sipUser     = "exotel-user"
	sipPassword = "s3cret"
)

// harness is one worker's bridge as the worker wires it, against the real
// stack: a store on a fresh Postgres schema with a secret key, livekit-server,
// a SIP user agent and a Manager; calls are dialed through trunks pointing
// at sipp.
type harness struct {
	t      *testing.T
	db     *postgres.DB
	lk     testenv.LiveKit
	rooms  *lksdk.RoomServiceClient
	ua     *sipua.UA
	m      *sipbridge.Manager
	notes  *notifier
	logs   *logRecorder // what the Manager logged
	cfg    sipbridge.Config
	tenant uuid.UUID
}

// newHarness starts a Manager with a test configuration that edit may
// change. When the test ends the Manager is drained, which must leave it
// holding no call, and the UA is closed.
func newHarness(t *testing.T, edit func(*sipbridge.Config)) *harness {
	t.Helper()
	return newHarnessWithStore(t, edit, nil)
}

// newHarnessWithStore is newHarness whose Manager records through
// wrap(store) when wrap is not nil.
func newHarnessWithStore(t *testing.T, edit func(*sipbridge.Config), wrap func(*postgres.DB) sipbridge.Store) *harness {
	t.Helper()
	ctx := context.Background()
	db, _ := testenv.Postgres(t)
	box, err := secret.BoxFromKey(secret.NewKey())
	require.NoError(t, err)
	db.UseSecrets(box)

	h := &harness{t: t, db: db, lk: testenv.LiveKitServer(t), notes: newNotifier(), tenant: uuid.New()}
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: h.tenant, Name: "acme"}))
	h.rooms = lksdk.NewRoomServiceClient(h.lk.URL, h.lk.APIKey, h.lk.APISecret)

	log := testenv.Logger(t)
	h.ua, err = sipua.New(sipua.Config{Log: log.With("component", "sip")})
	require.NoError(t, err)
	h.cfg = sipbridge.Config{
		Worker:     testenv.Name("worker-"),
		LiveKitURL: h.lk.URL, APIKey: h.lk.APIKey, APISecret: h.lk.APISecret,
		BindIP:      "127.0.0.1",
		RingTimeout: 10 * time.Second,
	}
	if edit != nil {
		edit(&h.cfg)
	}
	var store sipbridge.Store = db
	if wrap != nil {
		store = wrap(db)
	}
	bounded := &deadlineStore{Store: store}
	store = bounded
	h.logs = &logRecorder{}
	h.m = sipbridge.New(h.cfg, h.ua, store, h.notes, slog.New(h.logs.wrap(log.Handler())).With("component", "bridge"))
	t.Cleanup(func() {
		h.m.Drain(0)
		require.Zero(t, h.m.Live(), "the manager still holds calls after draining")
		require.NoError(t, h.ua.Close())
		require.Empty(t, bounded.unbounded(), "records made with no deadline")
		h.notes.mu.Lock()
		defer h.notes.mu.Unlock()
		require.Zero(t, h.notes.unbounded, "announcements made with no deadline")
	})
	return h
}

// deadlineStore notes each record the Manager makes with a context that
// has no deadline, or one further off than a record may take: a Postgres
// that stops answering would hold the call for ever.
type deadlineStore struct {
	sipbridge.Store
	mu      sync.Mutex
	without []string
}

func (s *deadlineStore) check(ctx context.Context, what string) {
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > 10*time.Second {
		s.mu.Lock()
		s.without = append(s.without, what)
		s.mu.Unlock()
	}
}

func (s *deadlineStore) unbounded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.without)
}

func (s *deadlineStore) RecordInviteSent(ctx context.Context, id uuid.UUID, worker, sipCallID string) error {
	s.check(ctx, "invite_sent")
	return s.Store.RecordInviteSent(ctx, id, worker, sipCallID)
}

func (s *deadlineStore) RecordRinging(ctx context.Context, id uuid.UUID, code int, reason string) error {
	s.check(ctx, "ringing")
	return s.Store.RecordRinging(ctx, id, code, reason)
}

func (s *deadlineStore) RecordAnswered(ctx context.Context, id uuid.UUID, p dialq.Participant, at time.Time) (bool, error) {
	s.check(ctx, "answered")
	return s.Store.RecordAnswered(ctx, id, p, at)
}

func (s *deadlineStore) RecordBridgeEvent(ctx context.Context, id uuid.UUID, kind, detail string) error {
	s.check(ctx, kind)
	return s.Store.RecordBridgeEvent(ctx, id, kind, detail)
}

func (s *deadlineStore) RecordAgentLeft(ctx context.Context, id uuid.UUID, detail string, at time.Time) error {
	s.check(ctx, "agent_left")
	return s.Store.RecordAgentLeft(ctx, id, detail, at)
}

func (s *deadlineStore) RecordEnded(ctx context.Context, id uuid.UUID, e dialq.End, at time.Time) (bool, error) {
	s.check(ctx, string(e.Status))
	return s.Store.RecordEnded(ctx, id, e, at)
}

func (s *deadlineStore) TouchBridged(ctx context.Context, worker string, ids []uuid.UUID) (int64, map[uuid.UUID]string, error) {
	s.check(ctx, "touch bridged")
	return s.Store.TouchBridged(ctx, worker, ids)
}

// newCall stores a call to callee through a new Exotel trunk that reaches s
// over transport, and takes it where the dialer takes it before the bridge:
// an attempt, the room created in livekit-server and recorded, an agent
// dispatch recorded.
func (h *harness) newCall(s *testenv.SippRun, transport string) *dialq.Call {
	h.t.Helper()
	return h.newCallWith(s, transport, dialq.DialOptions{})
}

// newCallWith is newCall of a call with the dial options opts, as the API
// accepts them: the caller ID put in the form of the trunk's numbers
// (callerID and otherCallerID).
func (h *harness) newCallWith(s *testenv.SippRun, transport string, opts dialq.DialOptions) *dialq.Call {
	h.t.Helper()
	ctx := context.Background()
	rtpMin, rtpMax := testenv.PortBlock(h.t)
	trunk := &dialq.Trunk{ID: testenv.Name("ST_"), TenantID: h.tenant, Name: "exotel", Provider: dialq.ServiceExotel,
		Numbers: []string{callerID, otherCallerID},
		SIP: &dialq.SIPTrunkConfig{
			SIPHost: s.Host, SIPPort: s.Port, Transport: transport,
			CallerID: callerID, Username: sipUser, Password: sipPassword,
			MediaIP: "127.0.0.1", RTPPortMin: rtpMin, RTPPortMax: rtpMax,
		}}
	require.NoError(h.t, h.db.SaveTrunk(ctx, trunk))
	from, err := opts.CallerIDFor(trunk)
	require.NoError(h.t, err)
	opts.CallerID = from

	c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: h.tenant, AssistantID: uuid.New(), TrunkID: trunk.ID,
		ToNumber: callee, Service: dialq.ServiceExotel, AgentName: "test-agent", Status: dialq.StatusQueued,
		Options: opts, CreatedAt: time.Now()}
	_, err = h.db.CreateCall(ctx, c)
	require.NoError(h.t, err)
	c, err = h.db.StartAttempt(ctx, c.ID)
	require.NoError(h.t, err)

	room := dialq.RoomNameFor(c)
	_, err = h.rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room, EmptyTimeout: 60})
	require.NoError(h.t, err)
	h.t.Cleanup(func() {
		_, _ = h.rooms.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: room})
	})
	require.NoError(h.t, h.db.RecordRoom(ctx, c.ID, room))
	require.NoError(h.t, h.db.RecordDispatch(ctx, c.ID, "AD_"+c.ID.String()[24:], "JOINING"))
	c.RoomName = room
	return c
}

// joinAgent joins the test's agent to c's room, watching the phone.
func (h *harness) joinAgent(c *dialq.Call) *testroom.Agent {
	h.t.Helper()
	return testroom.Join(h.t, h.lk, c.RoomName, dialq.ParticipantIdentityFor(c.ToNumber))
}

// place does what the dialer does: mark the call dialing, then dial it
// through the bridge's line.
func (h *harness) place(c *dialq.Call) error {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	identity := dialq.ParticipantIdentityFor(c.ToNumber)
	require.NoError(h.t, h.db.MarkDialing(ctx, c.ID, identity, time.Now()))
	c.Status, c.ParticipantIdentity = dialq.StatusDialing, identity
	_, err := h.m.Dial(ctx, c)
	return err
}

// awaitPhoneLeft waits until livekit-server no longer lists c's phone
// participant in its room. A phone that joins and leaves within a few
// milliseconds (Exotel refused the call at once) may never be shown to the
// agent, so this asks the server, polling: it has no way to push this.
func (h *harness) awaitPhoneLeft(c *dialq.Call) {
	h.t.Helper()
	identity := dialq.ParticipantIdentityFor(c.ToNumber)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(waitFor)
	for {
		res, err := h.rooms.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: c.RoomName})
		require.NoError(h.t, err)
		if !slices.ContainsFunc(res.Participants, func(p *livekit.ParticipantInfo) bool { return p.Identity == identity }) {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			h.t.Fatalf("phone %s still in room %s after %s", identity, c.RoomName, waitFor)
		}
	}
}

// row reads c's row.
func (h *harness) row(c *dialq.Call) *dialq.Call {
	h.t.Helper()
	got, err := h.db.GetCall(context.Background(), c.ID)
	require.NoError(h.t, err)
	return got
}

// timeline returns the kinds of c's events, oldest first, and the events.
func (h *harness) timeline(c *dialq.Call) ([]string, []dialq.CallEvent) {
	h.t.Helper()
	ev, err := h.db.Events(context.Background(), c.ID)
	require.NoError(h.t, err)
	kinds := make([]string, len(ev))
	for i, e := range ev {
		kinds[i] = e.Kind
	}
	return kinds, ev
}

// settle waits until the Manager has let go of every call, each call's
// goroutine having returned: it drains the Manager with a grace longer than
// any call of these tests, which returns as soon as none is left. The
// Manager takes no new calls afterwards.
func (h *harness) settle() {
	h.t.Helper()
	start := time.Now()
	h.m.Drain(waitFor)
	require.Less(h.t, time.Since(start), waitFor, "calls were still live after %s", waitFor)
	require.Zero(h.t, h.m.Live())
}

// notifier records each call change the bridge announces, in order.
type notifier struct {
	mu      sync.Mutex
	changes map[uuid.UUID][]dialq.CallStatus
	wake    chan struct{} // closed and replaced on each change
	// unbounded counts the announcements made with no deadline.
	unbounded int
}

func newNotifier() *notifier {
	return &notifier{changes: map[uuid.UUID][]dialq.CallStatus{}, wake: make(chan struct{})}
}

// CallChanged implements sipbridge.Notifier.
func (n *notifier) CallChanged(ctx context.Context, id uuid.UUID, s dialq.CallStatus) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		n.unbounded++
	}
	n.changes[id] = append(n.changes[id], s)
	close(n.wake)
	n.wake = make(chan struct{})
	return nil
}

// of returns the changes announced for call id so far.
func (n *notifier) of(id uuid.UUID) []dialq.CallStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.changes[id])
}

// await waits until status s was announced for call id. The bridge
// announces a change once it is recorded, so the row shows it by then.
func (n *notifier) await(t *testing.T, id uuid.UUID, s dialq.CallStatus) {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		has, wake := slices.Contains(n.changes[id], s), n.wake
		n.mu.Unlock()
		if has {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("call %s: no %q announced within %s (announced %v)", id, s, waitFor, n.of(id))
		}
	}
}

// slowStore is the real store answering some records late, as a loaded
// Postgres does: it lets a test put the bridge's records after the SIP
// responses that a quick Exotel sends right behind them.
type slowStore struct {
	*postgres.DB
	invite, answer, event time.Duration
	// inviting, when not nil, gets a value as the INVITE's record starts.
	inviting chan<- struct{}
}

func (s slowStore) RecordInviteSent(ctx context.Context, id uuid.UUID, worker, sipCallID string) error {
	if s.inviting != nil {
		s.inviting <- struct{}{}
	}
	time.Sleep(s.invite)
	return s.DB.RecordInviteSent(ctx, id, worker, sipCallID)
}

func (s slowStore) RecordAnswered(ctx context.Context, id uuid.UUID, p dialq.Participant, at time.Time) (bool, error) {
	time.Sleep(s.answer)
	return s.DB.RecordAnswered(ctx, id, p, at)
}

func (s slowStore) RecordBridgeEvent(ctx context.Context, id uuid.UUID, kind, detail string) error {
	time.Sleep(s.event)
	return s.DB.RecordBridgeEvent(ctx, id, kind, detail)
}

// logRecorder keeps the records logged through the handlers it wraps.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) wrap(h slog.Handler) slog.Handler { return recordingHandler{h, r} }

// attrs returns the attributes of the records with message msg, in order.
func (r *logRecorder) attrs(msg string) []map[string]slog.Value {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]slog.Value
	for _, rec := range r.records {
		if rec.Message != msg {
			continue
		}
		m := map[string]slog.Value{}
		rec.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.Resolve()
			return true
		})
		out = append(out, m)
	}
	return out
}

type recordingHandler struct {
	slog.Handler
	r *logRecorder
}

func (h recordingHandler) Handle(ctx context.Context, rec slog.Record) error {
	h.r.mu.Lock()
	h.r.records = append(h.r.records, rec.Clone())
	h.r.mu.Unlock()
	return h.Handler.Handle(ctx, rec)
}

func (h recordingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return recordingHandler{h.Handler.WithAttrs(attrs), h.r}
}

func (h recordingHandler) WithGroup(name string) slog.Handler {
	return recordingHandler{h.Handler.WithGroup(name), h.r}
}
