// Package sipbridge runs dialq's Exotel bridge inside a worker process. Exotel
// only takes SIP from allow-listed addresses, so dialq dials it itself: the
// dial task hands the call to the Manager, which joins the call's room as the
// phone participant (relay), sends the INVITE (sipua) and returns; the
// call then lives on in this process, which records its ringing, answer and
// end on the call's row. Background services go with the Manager: the
// Heartbeat vouches for its calls until they end, Orphans closes the calls
// of workers that died, StatsLog logs what the calls relayed.
package sipbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/sipbridge/relay"
	"github.com/dialq/dialq/internal/sipbridge/sipua"
)

// Store is what the bridge reads and records in Postgres.
type Store interface {
	SIPTrunkConfig(ctx context.Context, trunkID string) (*dialq.SIPTrunkConfig, error)
	RecordInviteSent(ctx context.Context, id uuid.UUID, worker, sipCallID string) error
	RecordRinging(ctx context.Context, id uuid.UUID, code int, reason string) error
	RecordAnswered(ctx context.Context, id uuid.UUID, p dialq.Participant, at time.Time) (bool, error)
	RecordBridgeEvent(ctx context.Context, id uuid.UUID, kind, detail string) error
	RecordAgentLeft(ctx context.Context, id uuid.UUID, detail string, at time.Time) error
	RecordEnded(ctx context.Context, id uuid.UUID, e dialq.End, at time.Time) (bool, error)
	TouchBridged(ctx context.Context, worker string, ids []uuid.UUID) (int64, map[uuid.UUID]string, error)
}

// Notifier announces call changes to waiting API requests.
type Notifier interface {
	CallChanged(ctx context.Context, id uuid.UUID, s dialq.CallStatus) error
}

// Config configures a Manager.
type Config struct {
	// Worker names this process on the calls it holds; unique per process.
	Worker string
	// LiveKit, where the phone participant joins.
	LiveKitURL, APIKey, APISecret string
	// BindIP is the local address RTP ports are bound on.
	BindIP string
	// RingTimeout is how long the phone may ring before the call is
	// canceled as no_answer.
	RingTimeout time.Duration
	// NoRTPTimeout ends an answered call whose phone sent no audio for this
	// long; MaxDuration ends any call that lasts this long.
	NoRTPTimeout, MaxDuration time.Duration
	// AgentGrace hangs up an answered call whose assistant keeps calls when
	// the agent leaves (dialq.Call.KeepCallOnAgentLeave) once no agent has
	// been back in its room for this long after the agent left, or after
	// the answer when it left while the phone rang (DIALQ_AGENT_GRACE):
	// failed, agent_left. Zero never does; MaxDuration still ends the call.
	AgentGrace time.Duration
	// Now is the clock the answer and the end of a call are recorded at:
	// the store's. Default time.Now.
	Now func() time.Time
}

// Manager places and follows the bridged calls of one worker process.
type Manager struct {
	cfg    Config
	ua     *sipua.UA
	store  Store
	notify Notifier
	log    *slog.Logger
	now    func() time.Time
	// rooms asks livekit-server whether an agent is back in a call's room.
	rooms *lksdk.RoomServiceClient

	mu      sync.Mutex
	closing bool
	// hangingUp is set once Drain hangs up the calls left: a call whose
	// Place was under way then is hung up as soon as it is registered.
	hangingUp bool
	calls     map[uuid.UUID]*call
	ended     Stats // of the calls no longer held, whole
	live      sync.WaitGroup
}

// New returns a Manager dialing through ua.
func New(cfg Config, ua *sipua.UA, store Store, notify Notifier, log *slog.Logger) *Manager {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, ua: ua, store: store, notify: notify, log: log, now: cfg.Now,
		rooms: lksdk.NewRoomServiceClient(cfg.LiveKitURL, cfg.APIKey, cfg.APISecret),
		calls: map[uuid.UUID]*call{}}
}

// errShuttingDown refuses new calls while the worker drains; the task is
// retried by another worker.
var errShuttingDown = &dialq.StepError{Retry: true, NotPlaced: true, Failure: dialq.Failure{Reason: dialq.ReasonBridge,
	Message: "this worker is shutting down and takes no new bridged calls"}}

// Dial dials c, whose room and agent dispatch exist and whose row says
// dialing, and returns once the INVITE is out and recorded. The call then
// goes on in this process, which records the rest. It implements
// dialq.Line. Errors are *dialq.StepError; Retry is set only when nothing
// reached the carrier.
func (m *Manager) Dial(ctx context.Context, c *dialq.Call) (dialq.Dialed, error) {
	return dialq.Dialed{}, m.place(ctx, c)
}

// Recover reports whether an earlier attempt's INVITE went out: its session
// then follows the call, wherever it runs.
func (m *Manager) Recover(_ context.Context, c *dialq.Call) (dialq.Dialed, bool, error) {
	return dialq.Dialed{}, c.SIPCallID != "", nil
}

func (m *Manager) place(ctx context.Context, c *dialq.Call) error {
	m.mu.Lock()
	if m.closing {
		m.mu.Unlock()
		return errShuttingDown
	}
	m.live.Add(1)
	m.mu.Unlock()
	handedOver := false
	defer func() {
		if !handedOver {
			m.live.Done()
		}
	}()

	log := m.log.With("call_id", c.ID, "room", c.RoomName)
	profile, ok := dialq.SIPProfileFor(c.Service)
	if !ok {
		return &dialq.StepError{Failure: dialq.Failure{Reason: dialq.ReasonInternal,
			Message: fmt.Sprintf("dialq's SIP bridge does not dial %s calls", c.Service)}}
	}
	trunk, err := m.store.SIPTrunkConfig(ctx, c.TrunkID)
	if dialq.ErrorCode(err) == dialq.ENOTFOUND {
		return &dialq.StepError{Err: err, Failure: dialq.Failure{Reason: dialq.ReasonTrunk,
			Message: fmt.Sprintf("the %s trunk %s has no SIP settings", profile.Name, c.TrunkID)}}
	} else if err != nil {
		return &dialq.StepError{Err: err, Retry: true, NotPlaced: true, Failure: dialq.Failure{Reason: dialq.ReasonInternal,
			Message: fmt.Sprintf("could not read the %s trunk's SIP settings", profile.Name)}}
	}
	conn, err := relay.Listen(m.cfg.BindIP, trunk.RTPPortMin, trunk.RTPPortMax)
	if err != nil {
		return &dialq.StepError{Err: err, Retry: true, NotPlaced: true, Failure: dialq.Failure{Reason: dialq.ReasonBridge,
			Message: "no free RTP port for the call"}}
	}
	// The call's own dial options over the deployment's and the trunk's
	// (c.Options.CallerID is already one of the trunk's numbers, in its form).
	if c.Options.CallerID != "" {
		own := *trunk
		own.CallerID = c.Options.CallerID
		trunk = &own
	}
	identity := dialq.ParticipantIdentityFor(c.ToNumber)
	alone := make(chan time.Time, 1)
	var onAlone func()
	if c.KeepCallOnAgentLeave {
		// The session would end the call; follow records the leaving and
		// watches the room instead.
		onAlone = func() {
			select {
			case alone <- m.now():
			default: // follow has one to handle already
			}
		}
	}
	sess, err := relay.New(ctx, relay.Config{
		LiveKitURL: m.cfg.LiveKitURL, APIKey: m.cfg.APIKey, APISecret: m.cfg.APISecret,
		Room: c.RoomName, Identity: identity, PhoneNumber: c.ToNumber, TrunkPhoneNumber: trunk.CallerID,
		TrunkID: c.TrunkID, SIPHost: trunk.SIPHost,
		CallID: c.ID.String(), Log: m.log, NoRTPTimeout: m.cfg.NoRTPTimeout,
		MaxDuration: c.Options.MaxCall(m.cfg.MaxDuration), Ringtone: c.Options.Ringtone(),
		OnAlone: onAlone,
	}, conn)
	if err != nil {
		conn.Close()
		return &dialq.StepError{Err: err, Retry: true, NotPlaced: true, Failure: dialq.Failure{Reason: dialq.ReasonLiveKit,
			Message: "the phone participant could not join the call's room"}}
	}

	b := &call{m: m, c: c, identity: identity, sess: sess, log: log, stop: make(chan string, 1),
		placed: make(chan struct{}), up: make(chan struct{}), alone: alone}
	sc, err := m.ua.Start(ctx, sipua.DialRequest{
		CallID: c.ID.String(), Profile: profile, Trunk: *trunk, ToNumber: c.ToNumber,
		Offer:       sipua.Offer{MediaIP: trunk.MediaIP, RTPPort: conn.LocalAddr().(*net.UDPAddr).Port},
		RingTimeout: c.Options.Ring(m.cfg.RingTimeout),
		Headers:     inviteHeaders(c, log),
		DisplayName: c.Options.Name(),
	}, b)
	if err != nil {
		close(b.placed)
		sess.Close("INVITE not sent")
		if errors.Is(err, sipua.ErrClosed) {
			return &dialq.StepError{Err: err, Retry: true, NotPlaced: true, Failure: dialq.Failure{Reason: dialq.ReasonBridge,
				Message: "this worker's SIP user agent is closed; the call is left to another worker"}}
		}
		return err
	}
	b.sip = sc
	sess.SetDialog(sc.CallID(), "")
	wctx, cancelWrite := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancelWrite()
	if err := m.store.RecordInviteSent(wctx, c.ID, m.cfg.Worker, sc.CallID()); err != nil {
		// Unrecorded, the call would be nobody's: cancel it now. It may have
		// rung, so it is not dialed again. Ringing must not wait for the
		// record any more: it runs on the goroutine that sends the CANCEL.
		// Nor must a hold: follow never runs.
		close(b.placed)
		close(b.up)
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sc.Hangup(hctx)
		sess.Close("INVITE not recorded")
		return &dialq.StepError{Err: err, Failure: dialq.Failure{Reason: dialq.ReasonInternal,
			Message: "the INVITE went out but could not be recorded; the call was canceled and is not dialed again"}}
	}
	b.recorded = true
	close(b.placed)
	m.mu.Lock()
	m.calls[c.ID] = b
	if m.hangingUp {
		// Drain hung up the other calls while this one was being placed.
		b.end(shutdownReason)
	}
	m.mu.Unlock()
	handedOver = true
	log.Info("bridged call: INVITE sent", "sip_call_id", sc.CallID(), "to", c.ToNumber, "from", trunk.CallerID,
		"carrier", profile.Name, "trunk", fmt.Sprintf("%s://%s:%d", trunk.Transport, trunk.SIPHost, trunk.SIPPort))
	go b.follow()
	return nil
}

// callIDHeader carries dialq's call id on every INVITE, for Exotel's logs
// and support to find the call by.
const callIDHeader = "X-Dialq-Call-Id"

// inviteHeaders are the extra headers of c's INVITE: its sip_headers and
// dialq's own call id, which wins over a sip_headers one of that name
// (header names ignore case): support finds a call by it.
func inviteHeaders(c *dialq.Call, log *slog.Logger) map[string]string {
	h := make(map[string]string, len(c.Options.SIPHeaders)+1)
	for name, value := range c.Options.SIPHeaders {
		if strings.EqualFold(name, callIDHeader) {
			log.Warn("sip_headers sets dialq's own call id header; the INVITE carries the call's id instead",
				"header", name, "value", value)
			continue
		}
		h[name] = value
	}
	h[callIDHeader] = c.ID.String()
	return h
}

// held returns the ids of the calls this process holds.
func (m *Manager) held() []uuid.UUID {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]uuid.UUID, 0, len(m.calls))
	for id := range m.calls {
		ids = append(ids, id)
	}
	return ids
}

// Live returns how many bridged calls this process holds.
func (m *Manager) Live() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.calls)
}

// Hangup ends the bridged call id if this process holds it: an answered
// call is recorded as completed with reason, one still ringing is canceled
// and recorded as failed (internal_error). It reports whether it held the
// call.
func (m *Manager) Hangup(id uuid.UUID, reason string) bool {
	m.mu.Lock()
	b := m.calls[id]
	m.mu.Unlock()
	if b == nil {
		return false
	}
	b.end(reason)
	return true
}

// Drain takes no new calls, lets live ones end by themselves for up to
// grace, then hangs up the rest (BYE, or CANCEL while ringing) and records
// them as failed with reason worker_shutdown. It returns once every call is
// recorded or after grace plus a few seconds for the hang-ups.
func (m *Manager) Drain(grace time.Duration) {
	m.mu.Lock()
	m.closing = true
	n := len(m.calls)
	m.mu.Unlock()
	if n > 0 {
		m.log.Info("draining bridged calls", "live", n, "grace", grace)
	}
	if waitGroup(&m.live, grace) {
		return
	}
	m.mu.Lock()
	m.hangingUp = true
	for _, b := range m.calls {
		b.end(shutdownReason)
	}
	m.mu.Unlock()
	if !waitGroup(&m.live, 15*time.Second) {
		m.log.Error("bridged calls still not recorded after hanging up", "live", m.Live())
	}
}

const shutdownReason = "worker shutdown"

// waitGroup waits for wg for up to d and reports whether it finished.
func waitGroup(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// writeTimeout bounds each record the bridge makes of a call (and each
// announcement of it): a call's goroutine must not wait for ever on a
// Postgres or a Redis that does not answer, holding the call (and the
// drain) with it. A record that gives up leaves the row as it was: a call
// whose end could not be recorded is no longer vouched for, and the orphan
// closer ends its row as lost.
const writeTimeout = 5 * time.Second

// writeContext returns the context a record of a call is made with: its own
// deadline, whatever became of the context that placed the call.
func writeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), writeTimeout)
}

func (m *Manager) changed(id uuid.UUID, s dialq.CallStatus) {
	ctx, cancel := writeContext()
	defer cancel()
	if err := m.notify.CallChanged(ctx, id, s); err != nil {
		m.log.Warn("announce call change", "call_id", id, "err", err)
	}
}

// call is one bridged call: its SIP dialog and its media session.
type call struct {
	m        *Manager
	c        *dialq.Call
	identity string
	sess     *relay.Session
	sip      *sipua.Call
	log      *slog.Logger
	// stop carries why dialq ends the call (shutdown, API), once.
	stop chan string
	// alone carries when everyone but the phone left the room of a call
	// kept when its agent leaves (relay.Config.OnAlone); capacity 1.
	alone chan time.Time
	// placed is closed once Place has recorded the INVITE (recorded is then
	// true) or given up on it. The phone may ring before that: the ringing
	// is recorded after the INVITE, whose record needs the row still dialing.
	placed   chan struct{}
	recorded bool
	// up is closed once follow has started the media and recorded the
	// answer, or has ended the call unanswered. A re-INVITE may come right
	// after the ACK: its hold must reach an answered session and follow the
	// answer on the timeline.
	up chan struct{}
	// rec orders a hold or resume with the end of the call: one reported
	// before the BYE is on the timeline before the call's end, which
	// would otherwise race it to the row and find the call over.
	rec sync.Mutex
}

// end asks the call to end for reason; the first reason wins.
func (b *call) end(reason string) {
	select {
	case b.stop <- reason:
	default:
	}
}

// Ringing implements sipua.Events.
func (b *call) Ringing(code int) {
	b.sess.Ringing()
	<-b.placed
	if !b.recorded {
		return
	}
	reason := "Ringing"
	if code == 183 {
		reason = "Session Progress"
	}
	ctx, cancel := writeContext()
	defer cancel()
	if err := b.m.store.RecordRinging(ctx, b.c.ID, code, reason); err != nil {
		b.log.Warn("record ringing", "err", err)
	}
	b.m.changed(b.c.ID, dialq.StatusRinging)
}

// Hold implements sipua.Events.
func (b *call) Hold(a sipua.Answer) {
	<-b.up
	b.rec.Lock()
	defer b.rec.Unlock()
	b.sess.Hold()
	b.event("call_hold", "a="+a.Direction)
}

// Resume implements sipua.Events.
func (b *call) Resume(a sipua.Answer) {
	<-b.up
	b.rec.Lock()
	defer b.rec.Unlock()
	b.sess.Resume()
	b.event("call_resume", "a="+a.Direction)
}

// HungUp implements sipua.Events; follow watches Done instead.
func (b *call) HungUp(by, reason string) {
	b.log.Info("bridged call: SIP dialog ended", "by", by, "reason", reason)
}

func (b *call) event(kind, detail string) {
	ctx, cancel := writeContext()
	defer cancel()
	if err := b.m.store.RecordBridgeEvent(ctx, b.c.ID, kind, detail); err != nil {
		b.log.Warn("record "+kind, "err", err)
	}
}

// follow waits for the answer, then for the end of the call from either
// side, and records each on the call's row.
func (b *call) follow() {
	m := b.m
	defer m.live.Done()
	defer func() {
		m.mu.Lock()
		delete(m.calls, b.c.ID)
		m.ended.Ended++
		m.ended.add(b.sess.Stats())
		m.mu.Unlock()
	}()
	var upOnce sync.Once
	isUp := func() { upOnce.Do(func() { close(b.up) }) }
	defer isUp()
	ctx := context.Background()

	answered := make(chan error, 1)
	go func() { answered <- b.sip.Answered(ctx) }()
	var err error
	leftWhileRinging := false
ringing:
	for {
		select {
		case err = <-answered:
			break ringing
		case at := <-b.alone:
			// Kept: the phone rings on; the grace counts from the answer.
			b.agentLeft(at)
			leftWhileRinging = true
			continue
		case reason := <-b.stop:
			// CANCEL while it rings, or BYE if the answer crossed it.
			b.hangup(reason)
			<-answered
			b.record(endBefore(reason), reason)
			return
		case <-b.sess.Done():
			// The room went away while the phone rang: nobody to talk to. If
			// the answer crossed the hang-up, the BYE ended it all the same.
			why := b.sess.Reason()
			b.hangup(why)
			<-answered
			f := dialq.Failure{Reason: dialq.ReasonInternal, Message: "the call's room closed while the phone rang (" + why + ")"}
			if why == relay.ReasonAgentLeft {
				f = dialq.Failure{Reason: dialq.ReasonAgentUnavailable, Message: "the agent left the room while the phone rang"}
			}
			b.record(dialq.Failed(f), why)
			return
		}
	}
	if err != nil {
		se := dialq.AsStepError(err)
		b.record(dialq.Failed(se.Failure), "call failed")
		return
	}

	a := b.sip.Answer()
	remote := &net.UDPAddr{IP: net.ParseIP(a.RemoteIP), Port: a.RemotePort}
	b.sess.SetDialog(b.sip.CallID(), b.sip.RemoteTag())
	if err := b.sess.Answered(remote, a.PayloadType, a.DTMFPayloadType); err != nil {
		b.hangup("media not started")
		b.record(dialq.Failed(dialq.Failure{Reason: dialq.ReasonInternal, Message: "the call was answered but its media could not start: " + err.Error()}), "media not started")
		return
	}
	p := dialq.Participant{SID: b.sess.ParticipantSID(), Identity: b.identity, SIPCallID: b.sip.CallID()}
	wctx, cancel := writeContext()
	_, err = m.store.RecordAnswered(wctx, b.c.ID, p, m.now())
	cancel()
	if err != nil {
		b.log.Error("record answer", "err", err)
	}
	m.changed(b.c.ID, dialq.StatusAnswered)
	isUp()
	b.log.Info("bridged call answered", "codec", a.Codec, "remote_rtp", remote.String(), "participant_sid", p.SID)
	if digits := b.c.Options.DTMF; digits != "" {
		dtmfDone := make(chan struct{})
		go func() {
			defer close(dtmfDone)
			b.sendDTMF(digits)
		}()
		// Its record must not outlive the call's goroutine: once the
		// session is over, SendDTMF returns at once.
		defer func() { <-dtmfDone }()
	}

	// grace runs while a kept call may have no agent (AgentGrace).
	var grace <-chan time.Time
	var graceTimer *time.Timer
	defer func() {
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()
	watch := func() {
		if m.cfg.AgentGrace <= 0 {
			return
		}
		if graceTimer != nil {
			graceTimer.Stop()
		}
		graceTimer = time.NewTimer(m.cfg.AgentGrace)
		grace = graceTimer.C
	}
	if leftWhileRinging {
		watch()
	}
	for {
		select {
		case <-b.sip.Done():
			b.sess.Close(phoneHungUp)
			b.record(dialq.Completed(dialq.EndedByPhone, phoneHungUp), phoneHungUp)
		case <-b.sess.Done():
			why := b.sess.Reason()
			b.hangup(why)
			switch why {
			case relay.ReasonNoRTP:
				b.record(dialq.Failed(dialq.Failure{Reason: dialq.ReasonMediaTimeout,
					Message: fmt.Sprintf("no audio from the phone for %s after the answer", m.cfg.NoRTPTimeout)}), why)
			case relay.ReasonAgentLeft:
				b.record(dialq.Completed(dialq.EndedByAgent, why), why)
			default: // max duration, room closed
				b.record(dialq.Completed(dialq.EndedByDialq, why), why)
			}
		case reason := <-b.stop:
			b.hangup(reason)
			b.record(endAfter(reason), reason)
		case at := <-b.alone:
			b.agentLeft(at)
			watch()
			continue
		case <-grace:
			grace = nil
			back, err := b.agentInRoom()
			if err != nil {
				b.log.Warn("cannot tell whether an agent is back in the room; asking again after the grace", "err", err)
				watch()
				continue
			}
			if back {
				continue
			}
			b.hangup(agentGone)
			b.record(dialq.Failed(dialq.Failure{Reason: dialq.ReasonAgentLeft,
				Message: fmt.Sprintf("the agent left the room and no agent came back within %s; dialq hung up", m.cfg.AgentGrace)}), agentGone)
		}
		return
	}
}

// agentGone is why dialq hangs up a kept call no agent came back to.
const agentGone = "no agent in the room"

// agentLeft records that everyone but the phone left the room at at, of a
// call kept when its agent leaves.
func (b *call) agentLeft(at time.Time) {
	b.log.Info("the agent left the room; the call goes on (its assistant keeps calls when the agent leaves)",
		"agent_grace", b.m.cfg.AgentGrace)
	ctx, cancel := writeContext()
	defer cancel()
	if err := b.m.store.RecordAgentLeft(ctx, b.c.ID, "everyone but the phone left the room; the call goes on", at); err != nil {
		b.log.Warn("record agent_left", "err", err)
	}
}

// agentInRoom reports whether anyone but phones is in the call's room (an
// agent came back), as the relay counts who is left. A call is not hung up
// on a guess: an error means livekit-server could not say.
func (b *call) agentInRoom() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	res, err := b.m.rooms.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: b.c.RoomName})
	if err != nil {
		return false, fmt.Errorf("list participants of room %s: %w", b.c.RoomName, err)
	}
	for _, p := range res.Participants {
		if p.Kind != livekit.ParticipantInfo_SIP {
			b.log.Info("an agent is back in the room; the call goes on", "participant", p.Identity)
			return true, nil
		}
	}
	return false, nil
}

// sendDTMF sends the call's dtmf option to the phone, which answered, and
// records it on the call's timeline: dtmf_sent once every digit is out, or
// dtmf_not_sent when the phone's answer offered no telephone-event, the
// only way the bridge sends digits (RFC 4733 events; no in-band tones). A
// call that ends first records neither.
func (b *call) sendDTMF(digits string) {
	err := b.sess.SendDTMF(context.Background(), digits)
	switch {
	case err == nil:
		b.orderedEvent("dtmf_sent", digits)
	case errors.Is(err, relay.ErrNoTelephoneEvent):
		b.log.Warn("the phone's answer has no telephone-event; the call's DTMF is not sent", "dtmf", digits)
		b.orderedEvent("dtmf_not_sent", digits+": the phone's answer offered no telephone-event (RFC 4733), "+
			"the only way dialq's bridge sends DTMF")
	case errors.Is(err, relay.ErrClosed):
		b.log.Info("the call ended before its DTMF was sent", "dtmf", digits)
	default:
		b.log.Warn("send DTMF", "dtmf", digits, "err", err)
	}
}

// orderedEvent records an event of the answered call before its end, if
// the end is not recorded yet (a live call's timeline takes no more).
func (b *call) orderedEvent(kind, detail string) {
	b.rec.Lock()
	defer b.rec.Unlock()
	b.event(kind, detail)
}

// phoneHungUp is the end of a call whose phone sent BYE.
const phoneHungUp = "phone hung up"

// endBefore is the end of a call dialq hung up for reason before the
// answer: canceled through the API, failed by a shutdown.
func endBefore(reason string) dialq.End {
	switch reason {
	case shutdownReason:
		return dialq.Failed(dialq.Failure{Reason: dialq.ReasonWorkerShutdown,
			Message: "the worker holding the call shut down while the phone rang; dialq canceled it"})
	case dialq.APIHangupReason:
		return dialq.Canceled(reason + " before the answer")
	}
	return dialq.Failed(dialq.Failure{Reason: dialq.ReasonInternal, Message: "ended by dialq before the answer: " + reason})
}

// endAfter is the end of an answered call dialq hung up for reason.
func endAfter(reason string) dialq.End {
	switch reason {
	case shutdownReason:
		return dialq.Failed(dialq.Failure{Reason: dialq.ReasonWorkerShutdown,
			Message: "the worker holding the call shut down before it ended; dialq hung up"})
	case dialq.APIHangupReason:
		return dialq.Completed(dialq.EndedByAPI, reason)
	}
	return dialq.Completed(dialq.EndedByDialq, reason)
}

// hangup ends both sides: BYE or CANCEL to Exotel, the phone out of the room.
func (b *call) hangup(reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.sip.Hangup(ctx); err != nil {
		b.log.Warn("hang up", "err", err)
	}
	b.sess.Close(reason)
}

// record closes the media session and records the call's end e.
func (b *call) record(e dialq.End, closeReason string) {
	b.sess.Close(closeReason)
	b.rec.Lock()
	ctx, cancel := writeContext()
	_, err := b.m.store.RecordEnded(ctx, b.c.ID, e, b.m.now())
	cancel()
	b.rec.Unlock()
	if err != nil {
		b.log.Error("record end of call", "status", e.Status, "err", err)
	}
	b.m.changed(b.c.ID, e.Status)
	st := b.sess.Stats()
	args := []any{"status", e.Status, "ended_by", e.By, "reason", e.Reason,
		"rtp_in", st.PacketsIn, "rtp_out", st.PacketsOut, "late_frames", st.LateFrames, "dtmf", st.DTMF}
	if e.Failure != nil {
		args = append(args, "failure_reason", e.Failure.Reason, "sip_code", e.Failure.SIPCode)
	}
	b.log.Info("bridged call ended", args...)
}
