// Package livekit places calls through LiveKit: rooms, agent dispatches and
// SIP participants, with every error classified for the dialer.
package livekit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dialq/dialq/internal/dialq"
)

// Config says where LiveKit is.
type Config struct {
	URL       string
	APIKey    string
	APISecret string
	// SIPURL is where the SIP API is served; empty means URL. Local stacks
	// point it at the SIP service double (LiveKit's SIP service cannot run
	// here); a LiveKit deployment with SIP leaves it empty.
	SIPURL string
	// RoomEmptyTimeout closes a room nobody joined.
	RoomEmptyTimeout time.Duration
	// RequestTimeout bounds each room and dispatch request.
	RequestTimeout time.Duration
}

// Client implements dialq.LiveKit (rooms, dispatches, SIP participants)
// with the LiveKit server SDK.
type Client struct {
	rooms    *lksdk.RoomServiceClient
	dispatch *lksdk.AgentDispatchClient
	sip      *lksdk.SIPClient
	cfg      Config
}

var _ dialq.LiveKit = (*Client)(nil)

var keepConnections sync.Once

// keepMoreIdleConnections lets http.DefaultTransport keep 256 idle
// connections per host instead of 2. The SDK's API clients send every request
// through http.DefaultTransport and take no client of ours; with 2 idle
// connections, a worker placing calls concurrently opened and closed a TCP
// connection to LiveKit for most requests, which cost both processes CPU and
// every call a connection setup.
func keepMoreIdleConnections() {
	if t, ok := http.DefaultTransport.(*http.Transport); ok && t.MaxIdleConnsPerHost < 256 {
		t.MaxIdleConnsPerHost = 256
	}
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	keepConnections.Do(keepMoreIdleConnections)
	if cfg.SIPURL == "" {
		cfg.SIPURL = cfg.URL
	}
	if cfg.RoomEmptyTimeout == 0 {
		cfg.RoomEmptyTimeout = 5 * time.Minute
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	return &Client{
		rooms:    lksdk.NewRoomServiceClient(cfg.URL, cfg.APIKey, cfg.APISecret),
		dispatch: lksdk.NewAgentDispatchServiceClient(cfg.URL, cfg.APIKey, cfg.APISecret),
		sip:      lksdk.NewSIPClient(cfg.SIPURL, cfg.APIKey, cfg.APISecret),
		cfg:      cfg,
	}
}

// SIP returns the SDK's SIP client, for managing trunks.
func (c *Client) SIP() *lksdk.SIPClient { return c.sip }

// CreateRoom creates the room; LiveKit returns the existing room when one
// of that name exists, which makes the step safe to repeat.
func (c *Client) CreateRoom(ctx context.Context, name, metadata string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	_, err := c.rooms.CreateRoom(ctx, &lkp.CreateRoomRequest{
		Name:         name,
		EmptyTimeout: uint32(c.cfg.RoomEmptyTimeout / time.Second),
		Metadata:     metadata,
	})
	if err != nil {
		return classify(ctx, fmt.Errorf("create room %s: %w", name, err))
	}
	return nil
}

// CreateDispatch dispatches agentName into room.
func (c *Client) CreateDispatch(ctx context.Context, room, agentName, metadata string) (dialq.Dispatch, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	d, err := c.dispatch.CreateDispatch(ctx, &lkp.CreateAgentDispatchRequest{
		AgentName: agentName,
		Room:      room,
		Metadata:  metadata,
	})
	if err != nil {
		return dialq.Dispatch{}, classify(ctx, fmt.Errorf("dispatch agent %q into room %s: %w", agentName, room, err))
	}
	return dialq.Dispatch{ID: d.Id, State: dialq.DispatchJoining}, nil
}

// FindDispatch looks for a dispatch a previous attempt made.
func (c *Client) FindDispatch(ctx context.Context, room, agentName, metadata string) (dialq.Dispatch, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	list, err := c.dispatch.ListDispatch(ctx, &lkp.ListAgentDispatchRequest{Room: room})
	if err != nil {
		return dialq.Dispatch{}, false, classify(ctx, fmt.Errorf("list dispatches of room %s: %w", room, err))
	}
	for _, d := range list.AgentDispatches {
		if d.AgentName == agentName && d.Metadata == metadata {
			return dialq.Dispatch{ID: d.Id, State: dialq.DispatchJoining}, true, nil
		}
	}
	return dialq.Dispatch{}, false, nil
}

// agentNameAttribute is the attribute livekit-server gives the participant
// of an agent it dispatched: the agent's name.
const agentNameAttribute = "lk.agent_name"

// FindAgent looks for the agent agentName among room's participants: a
// participant of kind AGENT that livekit-server dispatched under that name.
// One ListParticipants, which a room of two or three participants answers
// in about a millisecond; ListDispatch would say the same from the job's
// state, but costs livekit-server a round trip to its agent service.
func (c *Client) FindAgent(ctx context.Context, room, agentName string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	list, err := c.rooms.ListParticipants(ctx, &lkp.ListParticipantsRequest{Room: room})
	if err != nil {
		return "", false, classify(ctx, fmt.Errorf("list participants of room %s: %w", room, err))
	}
	for _, p := range list.Participants {
		if p.Kind == lkp.ParticipantInfo_AGENT && p.Attributes[agentNameAttribute] == agentName {
			return p.Identity, true, nil
		}
	}
	return "", false, nil
}

// FindPhone looks for the phone participant in room.
func (c *Client) FindPhone(ctx context.Context, room, identity string) (dialq.PhoneState, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	list, err := c.rooms.ListParticipants(ctx, &lkp.ListParticipantsRequest{Room: room})
	if err != nil {
		return dialq.PhoneState{}, false, classify(ctx, fmt.Errorf("list participants of room %s: %w", room, err))
	}
	for _, p := range list.Participants {
		if p.Identity == identity {
			return dialq.PhoneState{
				Participant: dialq.Participant{SID: p.Sid, Identity: p.Identity, SIPCallID: p.Attributes["sip.callID"]},
				CallStatus:  p.Attributes["sip.callStatus"],
			}, true, nil
		}
	}
	return dialq.PhoneState{}, false, nil
}

// DialSIP dials r.ToNumber through the LiveKit trunk and waits for the
// answer. The SDK stretches the deadline to the ring time plus a margin.
func (c *Client) DialSIP(ctx context.Context, r dialq.DialRequest) (dialq.Participant, error) {
	info, err := c.sip.CreateSIPParticipant(ctx, SIPParticipantRequest(r))
	if err != nil {
		return dialq.Participant{}, classifyDial(ctx, fmt.Errorf("dial %s through trunk %s: %w", r.ToNumber, r.LiveKitTrunkID, err))
	}
	return dialq.Participant{SID: info.ParticipantId, Identity: info.ParticipantIdentity, SIPCallID: info.SipCallId}, nil
}

// SIPParticipantRequest is the CreateSIPParticipant request that dials r:
// waiting for the answer, with the call's dial options as LiveKit's fields
// (caller_id is sip_number, play_ringtone is play_dialtone: the tone the
// room hears while the phone rings).
func SIPParticipantRequest(r dialq.DialRequest) *lkp.CreateSIPParticipantRequest {
	o := r.Options
	req := &lkp.CreateSIPParticipantRequest{
		SipTrunkId:          r.LiveKitTrunkID,
		SipCallTo:           r.ToNumber,
		SipNumber:           o.CallerID,
		RoomName:            r.Room,
		ParticipantIdentity: r.Identity,
		ParticipantName:     r.ToNumber,
		ParticipantAttributes: map[string]string{
			"dialq.callID": r.CallID,
		},
		Dtmf:              o.DTMF,
		Headers:           o.SIPHeaders,
		KrispEnabled:      o.KrispEnabled(),
		WaitUntilAnswered: true,
		RingingTimeout:    durationpb.New(r.RingTimeout),
		DisplayName:       o.DisplayName,
	}
	// Deprecated for the newer dialtone enum; livekit-server v1.13.5 and
	// livekit-sip v1.10.0, as tested here, read play_dialtone.
	//lint:ignore SA1019 the field the tested LiveKit versions read
	req.PlayDialtone = o.Ringtone()
	if r.MaxDuration > 0 {
		req.MaxCallDuration = durationpb.New(r.MaxDuration)
	}
	return req
}

// RemovePhone takes the phone participant identity out of room, which ends
// its SIP call (LiveKit's SIP service sends BYE, or CANCEL while it rings).
// A participant or room already gone is not an error: the call is over.
//
// livekit-server answers a removal in milliseconds, not_found for a
// participant that is not there; but one that leaves while the request is
// on its way (a phone hanging up as the agent leaves) gets no answer until
// livekit-server's routing gives up, 3 s later, as unavailable ("no
// response from servers"). So the first removal has removeProbe; past it,
// a phone no longer in the room is gone, and one still there is removed
// again with the rest of the budget.
func (c *Client) RemovePhone(ctx context.Context, room, identity string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	probe, cancelProbe := context.WithTimeout(ctx, removeProbe)
	err := c.removeParticipant(probe, room, identity)
	cancelProbe()
	if err == nil || ctx.Err() != nil {
		return c.removeError(ctx, room, identity, err)
	}
	if _, there, ferr := c.FindPhone(ctx, room, identity); ferr == nil && !there {
		return nil
	}
	return c.removeError(ctx, room, identity, c.removeParticipant(ctx, room, identity))
}

// removeProbe bounds RemovePhone's first removal (see there): a removal
// takes milliseconds, and the shorter the probe, the sooner a phone that
// left on its own is known gone (the reconciler, checking the room
// meanwhile, would put the end down to the phone).
const removeProbe = 250 * time.Millisecond

// removeParticipant removes identity from room; one not there is no error.
func (c *Client) removeParticipant(ctx context.Context, room, identity string) error {
	_, err := c.rooms.RemoveParticipant(ctx, &lkp.RoomParticipantIdentity{Room: room, Identity: identity})
	var te twirp.Error
	if errors.As(err, &te) && te.Code() == twirp.NotFound {
		return nil
	}
	return err
}

func (c *Client) removeError(ctx context.Context, room, identity string, err error) error {
	if err != nil {
		return classify(ctx, fmt.Errorf("remove %s from room %s: %w", identity, room, err))
	}
	return nil
}
