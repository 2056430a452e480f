package dialer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialer"
	"github.com/dialq/dialq/internal/dialq"
)

// The fakes below stand in at the dialer's interfaces for what cannot be
// made to fail on demand: a carrier's busy, a SIP service that sends nothing,
// a worker killed mid-dial. Each writes what ran into one journal, so a test
// reads the order of every step across them (the call marked dialing before
// the dial, a dispatch looked for before another is made).

// journal is the order in which the fakes were called.
type journal struct{ entries []string }

func (j *journal) add(entry string) { j.entries = append(j.entries, entry) }

// take returns what was journaled since the last take and starts afresh.
func (j *journal) take() []string {
	e := j.entries
	j.entries = nil
	return e
}

// fakeStore is the dialer's Store over one call in memory. As in Postgres, a
// step never changes a call whose outcome is stored, and StartAttempt counts
// the attempt and returns a copy, so what a test reads from row is what was
// recorded, not what the dialer holds.
type fakeStore struct {
	j   *journal
	row dialq.Call
	// fail makes the method of that name return its error.
	fail map[string]error
	// failed is every Failure RecordFailed was given.
	failed []dialq.Failure
	// agentJoined is the identity RecordAgentJoined was last given.
	agentJoined string
	// throttled is every detail RecordThrottled was given.
	throttled []string
	// beforeStart, when set, changes the row as StartAttempt begins: what
	// another process did since the call was read.
	beforeStart func(c *dialq.Call)
}

var _ dialer.Store = (*fakeStore)(nil)

func (s *fakeStore) ran(method string, id uuid.UUID) error {
	s.j.add(method)
	if id != s.row.ID {
		return dialq.Errorf(dialq.ENOTFOUND, "Call %s not found.", id)
	}
	return s.fail[method]
}

// update applies set unless the call already has an outcome.
func (s *fakeStore) update(set func(c *dialq.Call)) bool {
	if s.row.Status.Final() {
		return false
	}
	set(&s.row)
	return true
}

func (s *fakeStore) GetCall(_ context.Context, id uuid.UUID) (*dialq.Call, error) {
	if err := s.ran("GetCall", id); err != nil {
		return nil, err
	}
	c := s.row
	return &c, nil
}

func (s *fakeStore) StartAttempt(_ context.Context, id uuid.UUID) (*dialq.Call, error) {
	if err := s.ran("StartAttempt", id); err != nil {
		return nil, err
	}
	if s.beforeStart != nil {
		s.beforeStart(&s.row)
	}
	s.row.Attempts++
	c := s.row
	return &c, nil
}

func (s *fakeStore) RecordRoom(_ context.Context, id uuid.UUID, room string) error {
	if err := s.ran("RecordRoom", id); err != nil {
		return err
	}
	s.update(func(c *dialq.Call) { c.RoomName = room })
	return nil
}

func (s *fakeStore) RecordDispatch(_ context.Context, id uuid.UUID, dispatchID, state string) error {
	if err := s.ran("RecordDispatch", id); err != nil {
		return err
	}
	s.update(func(c *dialq.Call) { c.DispatchID, c.DispatchState = dispatchID, state })
	return nil
}

func (s *fakeStore) RecordAgentJoined(_ context.Context, id uuid.UUID, identity string, _ time.Duration) error {
	if err := s.ran("RecordAgentJoined", id); err != nil {
		return err
	}
	s.update(func(c *dialq.Call) { c.DispatchState = dialq.DispatchRunning })
	s.agentJoined = identity
	return nil
}

func (s *fakeStore) MarkDialing(_ context.Context, id uuid.UUID, identity string, at time.Time) error {
	if err := s.ran("MarkDialing", id); err != nil {
		return err
	}
	s.update(func(c *dialq.Call) {
		c.Status, c.ParticipantIdentity = dialq.StatusDialing, identity
		if c.DialedAt == nil {
			c.DialedAt = &at
		}
	})
	return nil
}

func (s *fakeStore) RecordAnswered(_ context.Context, id uuid.UUID, p dialq.Participant, at time.Time) (bool, error) {
	if err := s.ran("RecordAnswered", id); err != nil {
		return false, err
	}
	return s.update(func(c *dialq.Call) {
		c.Status, c.ParticipantSID, c.ParticipantIdentity, c.SIPCallID = dialq.StatusAnswered, p.SID, p.Identity, p.SIPCallID
		c.SIPStatusCode, c.SIPStatus, c.AnsweredAt, c.LastError = 200, "OK", &at, ""
	}), nil
}

func (s *fakeStore) RecordFailed(_ context.Context, id uuid.UUID, f dialq.Failure, at time.Time) (bool, error) {
	if err := s.ran("RecordFailed", id); err != nil {
		return false, err
	}
	s.failed = append(s.failed, f)
	return s.update(func(c *dialq.Call) {
		c.Status, c.FailureReason, c.SIPStatusCode, c.SIPStatus = dialq.Failed(f).Status, f.Reason, f.SIPCode, f.SIPStatus
		c.LastError, c.EndedAt = f.Message, &at
	}), nil
}

func (s *fakeStore) HangupReason(_ context.Context, id uuid.UUID) (string, error) {
	var reason string
	s.update(func(c *dialq.Call) { reason = c.HangupReason })
	return reason, nil
}

func (s *fakeStore) RecordAttemptError(_ context.Context, id uuid.UUID, msg string) error {
	if err := s.ran("RecordAttemptError", id); err != nil {
		return err
	}
	s.update(func(c *dialq.Call) { c.LastError = msg })
	return nil
}

func (s *fakeStore) RecordThrottled(_ context.Context, id uuid.UUID, detail string) error {
	if err := s.ran("RecordThrottled", id); err != nil {
		return err
	}
	s.throttled = append(s.throttled, detail)
	return nil
}

func (s *fakeStore) RecordDialNotPlaced(_ context.Context, id uuid.UUID, msg string) error {
	if err := s.ran("RecordDialNotPlaced", id); err != nil {
		return err
	}
	s.update(func(c *dialq.Call) { c.Status, c.LastError = dialq.StatusQueued, msg })
	return nil
}

// dispatchArgs is what a dispatch method was asked for.
type dispatchArgs struct{ Room, Agent, Metadata string }

// fakeRooms makes rooms and dispatches that always exist once made.
type fakeRooms struct {
	j *journal
	// fail makes the method of that name return its error.
	fail map[string]error
	// existing is the dispatch FindDispatch finds; nil finds none.
	existing *dialq.Dispatch
	// asked is what each dispatch method was last asked for.
	asked map[string]dispatchArgs
	made  int
	// agentAt is the FindAgent call (1, 2, ...) from which the agent is in
	// the room; 0 never finds it. agentErr is what FindAgent returns before.
	agentAt, lookups int
	agentErr         error
}

// agentIdentity is the identity the fake agent joins with.
const agentIdentity = "agent-AJ_fake"

func (r *fakeRooms) FindAgent(_ context.Context, _, _ string) (string, bool, error) {
	r.j.add("FindAgent")
	r.lookups++
	if r.agentAt > 0 && r.lookups >= r.agentAt {
		return agentIdentity, true, nil
	}
	return "", false, r.agentErr
}

var _ dialq.Rooms = (*fakeRooms)(nil)

func (r *fakeRooms) CreateRoom(_ context.Context, _, _ string) error {
	r.j.add("CreateRoom")
	return r.fail["CreateRoom"]
}

func (r *fakeRooms) CreateDispatch(_ context.Context, room, agentName, metadata string) (dialq.Dispatch, error) {
	r.j.add("CreateDispatch")
	r.asked["CreateDispatch"] = dispatchArgs{room, agentName, metadata}
	if err := r.fail["CreateDispatch"]; err != nil {
		return dialq.Dispatch{}, err
	}
	r.made++
	return dialq.Dispatch{ID: fmt.Sprintf("AD_made%d", r.made), State: "JOINING"}, nil
}

func (r *fakeRooms) FindDispatch(_ context.Context, room, agentName, metadata string) (dialq.Dispatch, bool, error) {
	r.j.add("FindDispatch")
	r.asked["FindDispatch"] = dispatchArgs{room, agentName, metadata}
	if err := r.fail["FindDispatch"]; err != nil {
		return dialq.Dispatch{}, false, err
	}
	if r.existing == nil {
		return dialq.Dispatch{}, false, nil
	}
	return *r.existing, true, nil
}

// fakeLine answers Dial and Recover with what the test set, and counts the
// calls: a number dialed twice shows as dials == 2.
type fakeLine struct {
	j *journal
	// dialed and dialErr are what Dial returns.
	dialed  dialq.Dialed
	dialErr error
	// recovered, found and recoverErr are what Recover returns.
	recovered  dialq.Dialed
	found      bool
	recoverErr error

	dials, recovers int
	// dialedStatus is the call's status as Dial received it.
	dialedStatus dialq.CallStatus
}

var _ dialq.Line = (*fakeLine)(nil)

func (l *fakeLine) Dial(_ context.Context, c *dialq.Call) (dialq.Dialed, error) {
	l.j.add("Dial")
	l.dials++
	l.dialedStatus = c.Status
	return l.dialed, l.dialErr
}

func (l *fakeLine) Recover(_ context.Context, _ *dialq.Call) (dialq.Dialed, bool, error) {
	l.j.add("Recover")
	l.recovers++
	return l.recovered, l.found, l.recoverErr
}

// fakeNotifier journals each announced status as "notify:<status>".
type fakeNotifier struct{ j *journal }

var _ dialer.Notifier = (*fakeNotifier)(nil)

func (n *fakeNotifier) CallChanged(_ context.Context, _ uuid.UUID, s dialq.CallStatus) error {
	n.j.add("notify:" + string(s))
	return nil
}
